"""Helpers shared by the engine rules: index normalisation and handing item tangents back."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core import (
    AbstractZero,
    NoTangent,
    Tangent,
    ZeroTangent,
    non_differentiable,
    unthunk,
)
from zygote_engine.store import is_tracked

NO = NoTangent()
ZERO = ZeroTangent()


def position(xs: list, i: int) -> int:
    """The non-negative position that index ``i`` denotes in ``xs`` now."""
    return i + len(xs) if i < 0 else i


def sort_order(xs: list, key: Any, reverse: bool) -> list[int]:
    """The positions of ``xs``'s items in the order ``xs.sort(key=key, reverse=reverse)`` puts
    them (stably, as sort does).

    Example:
        >>> sort_order([3.0, 1.0, 2.0], None, False), sort_order([3.0, -4.0], abs, True)
        ([1, 2, 0], [1, 0])
    """
    keys = list(xs) if key is None else [key(x) for x in xs]
    return sorted(range(len(xs)), key=keys.__getitem__, reverse=reverse)


non_differentiable(sort_order)  # (positions; also when a rule that uses it is differentiated)


def items_of(dx: Any, n: int) -> list:
    """The per-item cotangents of a sequence cotangent (a list, tuple, ``Tangent`` or zero)."""
    dx = unthunk(dx)
    if isinstance(dx, AbstractZero):
        return [ZERO] * n
    if isinstance(dx, Tangent):
        return list(dx.backing) if isinstance(dx.backing, tuple) else [dx[i] for i in range(n)]
    return list(dx)


def tangent_for(cx, xs: Any, items: list) -> Any:
    """The tangent of the iterable ``xs`` whose items have cotangents ``items``.

    Lists and dicts keep theirs in the store (so ``ZeroTangent()`` is returned); tuples give
    ``Tangent(tuple, ...)``; arrays an array; ranges, strings and other iterables ``NoTangent()``.
    """
    if isinstance(xs, list):
        cx.accumulate_items(xs, items)
        return ZERO
    if all(isinstance(unthunk(t), AbstractZero) for t in items):
        return ZERO
    if isinstance(xs, tuple):
        if hasattr(type(xs), "_fields"):  # a NamedTuple
            return Tangent(type(xs), **dict(zip(xs._fields, items)))
        return Tangent(tuple, *items)
    if isinstance(xs, np.ndarray):
        if xs.dtype.kind not in "fc":
            return NO
        # stacked, not written in place: nested differentiation differentiates this code too
        rows = [unthunk(t) for t in items]
        return np.stack(
            [np.zeros_like(x) if isinstance(t, AbstractZero) else t for x, t in zip(xs, rows)]
        ).astype(xs.dtype, copy=False)
    if is_tracked(xs):
        cx.deposit(xs, items)
        return ZERO
    return NO
