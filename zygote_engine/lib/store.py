"""Helpers shared by the engine rules: index normalisation and handing item tangents back."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core import AbstractZero, NoTangent, Tangent, ZeroTangent, unthunk
from zygote_engine.store import is_tracked

NO = NoTangent()
ZERO = ZeroTangent()


def position(xs: list, i: int) -> int:
    """The non-negative position that index ``i`` denotes in ``xs`` now."""
    return i + len(xs) if i < 0 else i


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
        dxs = np.zeros_like(xs)
        for i, t in enumerate(items):
            t = unthunk(t)
            if not isinstance(t, AbstractZero):
                dxs[i] = t
        return dxs
    if is_tracked(xs):
        cx.deposit(xs, items)
        return ZERO
    return NO
