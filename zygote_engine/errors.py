"""Exception classes of the engine; every message says where (file:line) and what to do."""

from __future__ import annotations

import os
import sys
import types
from typing import Any

__all__ = [
    "ENGINE_DIRECTORY",
    "MissingRuleError",
    "MutationError",
    "NonScalarOutputError",
    "UnsupportedConstructError",
    "ZygoteError",
    "keyword_not_differentiated",
    "missing_rule_message",
    "user_location",
]

# Generated functions carry these suffixes; frames running them point at user source lines.
GENERATED_SUFFIXES = ("__forward", "__backward", "__jvp")


class ZygoteError(Exception):
    """Base class of every error raised by zygote_engine."""


class UnsupportedConstructError(ZygoteError, SyntaxError):
    """The function uses Python syntax the engine cannot differentiate."""


class MissingRuleError(ZygoteError, TypeError):
    """A compiled (non-Python) callable was reached that has no ``rrule``."""


class NonScalarOutputError(ZygoteError, TypeError):
    """``gradient`` was given a function whose result is not a real scalar."""


def keyword_not_differentiated(f: Any, name: str, location: str) -> UnsupportedConstructError:
    """The error for a keyword argument of a rule's call that carries a derivative: rules
    differentiate positional arguments only, so its derivative would silently be lost.

    Example:
        >>> import numpy as np
        >>> print(keyword_not_differentiated(np.sum, "where", "f.py:3"))  # doctest: +ELLIPSIS
        f.py:3: the keyword argument where= of numpy.sum carries a derivative, but ...
    """
    qualname = getattr(f, "__qualname__", getattr(f, "__name__", repr(f)))
    module = getattr(f, "__module__", None) or type(f).__module__
    return UnsupportedConstructError(
        f"{location}: the keyword argument {name}= of {module}.{qualname} carries a derivative, "
        "but rules differentiate positional arguments only: pass it positionally, or wrap the "
        "call in a function of your own that takes it positionally"
    )


class MutationError(ZygoteError, TypeError):
    """A write into an array or list in differentiated code has no derivative the engine can give
    (an integer-array index naming an element twice, ``np.multiply.at``, a list slice assignment
    that changes the length)."""


# The engine's own code, which nested differentiation transforms too: never the user's line.
ENGINE_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_location(skip_file: str | None = None) -> str:
    """``file:line`` of the innermost user statement being differentiated, or ``"<unknown>"``.

    Generated code is compiled with the user's filename and line numbers, so the innermost
    frame that runs generated code is positioned on the user's own line. Frames of the engine's
    own code (which nested differentiation transforms too) and of ``skip_file`` (a library the
    engine differentiated on the user's behalf) are passed over.
    """
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if (
            code.co_name.endswith(GENERATED_SUFFIXES)
            and code.co_filename != skip_file
            and not code.co_filename.startswith(ENGINE_DIRECTORY)
        ):
            return f"{code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def missing_rule_message(f: Any, kind: str) -> str:
    """What to say when the compiled callable ``f`` has no ``kind`` (``"rrule"``/``"frule"``).

    Example:
        >>> import math
        >>> print(missing_rule_message(math.gamma, "frule").splitlines()[0])  # doctest: +ELLIPSIS
        <unknown>: no frule for math.gamma, which is compiled code (not Python source), ...
    """
    receiver = getattr(f, "__self__", None)
    if receiver is not None and not isinstance(receiver, (types.ModuleType, type)):
        # a method of an object: the rule is registered for the method of its class
        owner = type(receiver)
        module, qualname = owner.__module__, f"{owner.__qualname__}.{f.__name__}"
        short = qualname
    else:
        module = getattr(f, "__module__", None) or type(f).__module__
        qualname = (
            getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or type(f).__qualname__
        )
        short = getattr(f, "__name__", "f")
    mode = "in forward mode" if kind == "frule" else "in reverse mode"
    if kind == "frule":
        example = (
            "    def _(tangents, x):\n"
            "        _, dx = tangents\n"
            f"        return {module}.{short}(x), <derivative at x> * dx\n"
        )
    else:
        example = (
            "    def _(x):\n"
            f"        y = {module}.{short}(x)\n"
            "        def pullback(dy):\n"
            "            return NoTangent(), dy * <derivative at x>\n"
            "        return y, pullback\n"
        )
    imports = "frule" if kind == "frule" else "rrule, NoTangent"
    return (
        f"{user_location()}: no {kind} for {module}.{qualname}, which is compiled code (not Python "
        f"source), so zygote_engine cannot differentiate it {mode}. Add a rule:\n\n"
        f"    from chainrules_core import {imports}\n\n"
        f"    @{kind}.register({module}.{short})\n" + example
    )
