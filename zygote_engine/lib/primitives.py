"""Rules for the helpers normalised code calls (``zygote_engine.primitives``, alias ``zy``).

``zy.append`` shares the rule of ``list.append`` (``containers.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core import (
    AbstractZero,
    Tangent,
    frule,
    non_differentiable,
    rrule,
    unthunk,
)
from zygote_engine import primitives as zy
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.lib.store import NO, ZERO, items_of, tangent_for
from zygote_engine.runtime import MustRun, Reads, call

_config = {"config": ZygoteRuleConfig}

non_differentiable(zy.import_name)
non_differentiable(zy.import_from)


def _fresh(cx, y: Any, dy: Any, snapshot: Any) -> Any:
    """The cotangent of a container made by the rule: the flow plus the store's entries."""
    return cx.release(y, dy, snapshot)


@rrule.register(zy.make_tuple, **_config)
def _make_tuple(cx, *items: Any):
    def make_tuple_pullback(dy):
        return (NO, *items_of(dy, len(items)))

    return items, make_tuple_pullback


@rrule.register(zy.make_list, **_config)
def _make_list(cx, *items: Any):
    y = list(items)

    def make_list_pullback(dy):
        return (NO, *items_of(_fresh(cx, y, dy, items), len(items)))

    return y, MustRun(make_list_pullback)


@rrule.register(zy.make_dict, **_config)
def _make_dict(cx, *keys_and_values: Any):
    y = zy.make_dict(*keys_and_values)
    keys = keys_and_values[::2]
    snapshot = dict(y)

    def make_dict_pullback(dy):
        dy = _fresh(cx, y, dy, snapshot)
        out = [NO] * (len(keys_and_values) + 1)
        for j, k in enumerate(keys):
            out[2 + 2 * j] = ZERO if isinstance(dy, AbstractZero) else dy[k]
        return tuple(out)

    return y, MustRun(make_dict_pullback)


@rrule.register(zy.merge_dicts, **_config)
def _merge_dicts(cx, *dicts: dict):
    y = zy.merge_dicts(*dicts)
    snapshot = dict(y)

    def merge_dicts_pullback(dy):
        dy = _fresh(cx, y, dy, snapshot)
        owner = {k: d for d in dicts for k in d}  # the last dict holding a key provides its value
        if not isinstance(dy, AbstractZero):
            for k, d in owner.items():
                cx.accumulate(d, k, dy[k])
        return (NO, *([ZERO] * len(dicts)))

    return y, MustRun(merge_dicts_pullback)


@rrule.register(zy.as_tuple, **_config)
def _as_tuple(cx, xs: Any):
    y = tuple(xs)

    def as_tuple_pullback(dy):
        return NO, tangent_for(cx, xs, items_of(dy, len(y)))

    return y, MustRun(as_tuple_pullback)


@rrule.register(zy.as_list, **_config)
@rrule.register(list.copy, **_config)
def _as_list(cx, xs: Any):
    y = list(xs)
    snapshot = tuple(y)

    def as_list_pullback(dy):
        return NO, tangent_for(cx, xs, items_of(_fresh(cx, y, dy, snapshot), len(snapshot)))

    return y, MustRun(as_list_pullback)


@rrule.register(zy.collect, **_config)
def _collect(cx, xs: Any):
    y = list(xs)

    def collect_pullback(dy):
        return NO, tangent_for(cx, xs, items_of(dy, len(y)))

    # The loop hands the items' cotangents over as a list; the list ``y`` itself is never seen
    # by user code, so it has no store entries to collect.
    return y, Reads(collect_pullback)


@rrule.register(zy.concat, **_config)
def _concat(cx, *parts: tuple):
    sizes = [len(p) for p in parts]

    def concat_pullback(dy):
        items = items_of(dy, sum(sizes))
        out, start = [NO], 0
        for size in sizes:
            out.append(Tangent(tuple, *items[start : start + size]))
            start += size
        return tuple(out)

    return zy.concat(*parts), concat_pullback


@rrule.register(zy.apply, **_config)
def _apply(cx, f: Any, args: tuple, kwargs: dict):
    y, pullback = call(cx, f, *args, **kwargs)
    names = list(kwargs)

    def apply_pullback(dy):
        tangents = pullback(dy)
        dargs = tangents[1 : 1 + len(args)]
        for k, t in zip(names, tangents[1 + len(args) :]):
            cx.accumulate(kwargs, k, t)
        return NO, tangents[0], Tangent(tuple, *dargs), ZERO

    return y, MustRun(apply_pullback)


# -- Gram matrices: x @ x.T and x.T @ x of one variable (see zygote_engine.normalize) --
# The derivative of x xᵀ along dx is dx xᵀ + x dxᵀ = P + Pᵀ with P = dx xᵀ, and its pullback
# (dy + dyᵀ) x: one matrix product each. Other operands (vectors, stacks, complex or integer
# arrays, objects) decline, and the helper's code, ``x @ x.T``, is differentiated.


def _real_matrix(x: Any) -> bool:
    return type(x) is np.ndarray and x.ndim == 2 and x.dtype.kind == "f"


def _symmetrized(dy: Any, x: np.ndarray) -> Any:
    """``dy + dyᵀ`` of the cotangent ``dy`` of a Gram matrix of ``x`` (as real as ``x``)."""
    if dy.__class__ is not np.ndarray or dy.dtype is not x.dtype:
        dy = np.asarray(np.real(dy), dtype=x.dtype)
    return dy + dy.T


@rrule.register(zy.times_own_transpose, np.ndarray)
def _times_own_transpose(x: np.ndarray):
    if not _real_matrix(x):
        return None

    def times_own_transpose_pullback(dy):
        dy = unthunk(dy)
        if isinstance(dy, AbstractZero):
            return NO, dy
        return NO, _symmetrized(dy, x) @ x

    return x @ x.T, times_own_transpose_pullback


@rrule.register(zy.transpose_times_self, np.ndarray)
def _transpose_times_self(x: np.ndarray):
    if not _real_matrix(x):
        return None

    def transpose_times_self_pullback(dy):
        dy = unthunk(dy)
        if isinstance(dy, AbstractZero):
            return NO, dy
        return NO, x @ _symmetrized(dy, x)

    return x.T @ x, transpose_times_self_pullback


@frule.register(zy.times_own_transpose, np.ndarray)
def _times_own_transpose_frule(tangents: tuple, x: np.ndarray):
    if not _real_matrix(x):
        return None
    dx = unthunk(tangents[1])
    if isinstance(dx, AbstractZero):
        return x @ x.T, ZERO
    p = dx @ x.T
    return x @ x.T, p + p.T


@frule.register(zy.transpose_times_self, np.ndarray)
def _transpose_times_self_frule(tangents: tuple, x: np.ndarray):
    if not _real_matrix(x):
        return None
    dx = unthunk(tangents[1])
    if isinstance(dx, AbstractZero):
        return x.T @ x, ZERO
    q = x.T @ dx
    return x.T @ x, q + q.T
