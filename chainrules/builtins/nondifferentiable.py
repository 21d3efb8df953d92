"""Builtins with no derivative: sizes, types, identity, text (``str`` and its methods), truth,
positions and counts in sequences (``list.index``, ``tuple.count``...), printing and logging.

Every tangent of these calls is ``NoTangent()``: gradients stop there, without an error.
(``round``, ``int`` and three-argument ``pow`` are in :mod:`chainrules.builtins.arithmetic`.)
"""

from __future__ import annotations

import builtins
import logging
import warnings

from chainrules_core import non_differentiable

_BUILTINS = (
    builtins.len,
    builtins.range,
    builtins.isinstance,
    builtins.issubclass,
    builtins.type,
    builtins.id,
    builtins.hash,
    builtins.print,
    builtins.repr,
    builtins.str,
    builtins.ascii,
    builtins.format,
    builtins.bool,
    builtins.callable,
    builtins.hasattr,
    builtins.ord,
    builtins.chr,
    builtins.bin,
    builtins.hex,
    builtins.oct,
    builtins.all,
    builtins.any,
)
_LOGGING = (
    logging.debug,
    logging.info,
    logging.warning,
    logging.error,
    logging.critical,
    logging.exception,
    logging.log,
    logging.Logger.debug,
    logging.Logger.info,
    logging.Logger.warning,
    logging.Logger.error,
    logging.Logger.critical,
    logging.Logger.exception,
    logging.Logger.log,
    warnings.warn,
)

# Text in, text (or a count, a position, a truth value) out: every public method of str.
_TEXT = tuple(getattr(str, name) for name in dir(str) if not name.startswith("_"))

# Where a value is in a sequence, how often: integers.
_SEARCHES = (list.index, list.count, tuple.index, tuple.count)

for _f in _BUILTINS + _LOGGING + _TEXT + _SEARCHES:
    non_differentiable(_f)
