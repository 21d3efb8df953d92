"""Reading a rule's call: its arguments by name, and the tangents of its non-differentiable options."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from chainrules_core import NoTangent


@functools.cache
def signature_of(f: Callable) -> inspect.Signature:
    """``inspect.signature(f)``, computed once per function (rules ask on every call)."""
    return inspect.signature(f)


def bound_arguments(f: Callable | inspect.Signature, args: tuple, kwargs: dict) -> dict:
    """Every argument of the call ``f(*args, **kwargs)`` by name, defaults filled in.

    ``f`` may also be an ``inspect.Signature`` describing the call.

    Example:
        >>> import numpy as np
        >>> bound_arguments(np.sort, (np.ones(3),), {})["axis"]
        -1
    """
    signature = f if isinstance(f, inspect.Signature) else signature_of(f)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def argument(f: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    """The value of argument ``name`` in the call ``f(*args, **kwargs)``, defaults applied.

    Example:
        >>> import numpy as np
        >>> argument(np.sort, "kind", (np.ones(3),), {}) is None
        True
    """
    return bound_arguments(f, args, kwargs)[name]


def no_tangents(args: tuple) -> tuple:
    """``NoTangent()`` for each of ``args``, a rule's non-differentiable positional options.

    Example:
        >>> no_tangents((0, "ortho"))
        (NoTangent(), NoTangent())
    """
    return (NoTangent(),) * len(args)
