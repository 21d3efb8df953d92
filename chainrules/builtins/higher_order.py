"""Rules for higher-order builtins: map, functools.reduce, sorted, filter.

``map`` and ``functools.reduce`` differentiate the function they are handed, so their reverse
rules are registered with ``config=HasReverseMode`` and call back into the AD engine with
``rrule_via_ad`` (their forward rules, with ``config=HasForwardsMode``, use ``frule_via_ad``).
``map`` returns a LIST in differentiated code; the function's tangent (a closure's captured
state, say) is accumulated over all calls.

``sorted(xs, key=..., reverse=...)`` and ``filter(pred, xs)`` (which also returns a list) only
reorder or select items: the key and the predicate are not differentiated, so they need no engine;
the pullback scatters the cotangent back to the items' original positions (zero for the dropped
ones). Ties in ``sorted`` keep Python's stable order. ``min``/``max`` with ``key=`` are in
:mod:`chainrules.builtins.arithmetic`.
"""

from __future__ import annotations

import builtins
import functools
import operator
from typing import Any

import numpy as np
from multipledispatch.variadic import Variadic

from chainrules.builtins.arithmetic import numeric_items
from chainrules.builtins.containers import ZIPPABLE, readable, register_selection, tangent_of
from chainrules.operator import item_tangents, sequence_tangent
from chainrules_core import (
    AbstractZero,
    HasForwardsMode,
    HasReverseMode,
    NoTangent,
    ZeroTangent,
    add,
    frule,
    frule_via_ad,
    non_differentiable,
    rrule,
    rrule_via_ad,
    unthunk,
)

_SEQUENCES = (list, tuple, np.ndarray)
_ITERABLES = (list, tuple, np.ndarray, range, str)


# --- map ----------------------------------------------------------------------------------------


# (an iterator among the sequences, itertools.repeat(c) say, is read as zip reads it: see ZIPPABLE)


@rrule.register(map, object, Variadic[ZIPPABLE], config=HasReverseMode)
def _(config, f, *seqs):
    if not readable(seqs):
        return None
    calls = [rrule_via_ad(config, f, *items) for items in zip(*seqs)]

    def map_pullback(dy):
        df = ZeroTangent()
        columns = [[ZeroTangent()] * _length(seq, calls) for seq in seqs]
        for i, ((_, pullback), d) in enumerate(
            zip(calls, item_tangents(dy, len(calls)), strict=True)
        ):
            d = unthunk(d)
            if isinstance(d, AbstractZero):
                continue
            tangents = pullback(d)
            df = add(df, tangents[0])
            for column, t in zip(columns, tangents[1:], strict=True):
                column[i] = t
        seq_tangents = (
            tangent_of(seq, column) if isinstance(seq, _ITERABLES) else NoTangent()
            for seq, column in zip(seqs, columns, strict=True)
        )
        return NoTangent(), df, *seq_tangents

    return [y for y, _ in calls], map_pullback


def _length(seq: Any, calls: list) -> int:
    return len(seq) if isinstance(seq, _ITERABLES) else len(calls)


@frule.register(map, object, Variadic[ZIPPABLE], config=HasForwardsMode)
def _(config, tangents, f, *seqs):
    _, df, *dseqs = tangents
    if not readable(seqs, tangents[1:]):
        return None
    rows = list(zip(*seqs))
    columns = [
        item_tangents(d, len(seq)) if isinstance(seq, _ITERABLES) else [d] * len(rows)
        for d, seq in zip(dseqs, seqs, strict=True)
    ]
    results = [
        frule_via_ad(config, (df, *(column[i] for column in columns)), f, *items)
        for i, items in enumerate(rows)
    ]
    y = [y for y, _ in results]
    return y, sequence_tangent(y, [dy for _, dy in results])


# --- functools.reduce ---------------------------------------------------------------------------


def _fold_start(f, seq, initial):
    """``(accumulator, position of the first item folded in)`` of ``reduce(f, seq, *initial)``."""
    if initial:
        return initial[0], 0
    if len(seq) == 0:
        functools.reduce(f, seq)  # raises reduce's own TypeError
    return seq[0], 1


@rrule.register(functools.reduce, object, _SEQUENCES, Variadic[object], config=HasReverseMode)
def _(config, f, seq, *initial):
    acc, first = _fold_start(f, seq, initial)
    pullbacks = []
    for i in range(first, len(seq)):
        acc, pullback = rrule_via_ad(config, f, acc, seq[i])
        pullbacks.append(pullback)

    def reduce_pullback(dy):
        df, dacc = ZeroTangent(), dy
        items = [ZeroTangent()] * len(seq)
        # every step's pullback runs, even for a zero cotangent: an engine may keep the
        # accumulator's cotangent elsewhere (zygote_engine's store, for objects)
        for i in reversed(range(first, len(seq))):
            d_f, dacc, items[i] = pullbacks[i - first](unthunk(dacc))
            df = add(df, d_f)
        if initial:
            return NoTangent(), df, sequence_tangent(seq, items), dacc
        items[0] = dacc
        return NoTangent(), df, sequence_tangent(seq, items)

    return acc, reduce_pullback


@frule.register(functools.reduce, object, _SEQUENCES, Variadic[object], config=HasForwardsMode)
def _(config, tangents, f, seq, *initial):
    _, df, dseq, *dinitial = tangents
    acc, first = _fold_start(f, seq, initial)
    ditems = item_tangents(dseq, len(seq))
    dacc = dinitial[0] if initial else ditems[0]
    for i in range(first, len(seq)):
        acc, dacc = frule_via_ad(config, (df, dacc, ditems[i]), f, acc, seq[i])
    return acc, dacc


# --- sum of items that are not numbers: a fold of + -------------------------------------------


def _sum_arguments(xs, start: tuple, keywords: dict) -> tuple:
    return (*start, *keywords.values()) or (0,)


@rrule.register(builtins.sum, _SEQUENCES, Variadic[object], config=HasReverseMode)
def _(config, xs, *start, **keywords):
    if numeric_items(xs):
        return rrule(builtins.sum, xs, *start, **keywords)
    initial = _sum_arguments(xs, start, keywords)
    y, fold_pullback = rrule(config, functools.reduce, operator.add, xs, *initial)

    def sum_pullback(dy):
        _, _, dxs, dinitial = fold_pullback(dy)
        return (NoTangent(), dxs, *((dinitial,) if start else ()))

    return y, sum_pullback


@frule.register(builtins.sum, _SEQUENCES, Variadic[object], config=HasForwardsMode)
def _(config, tangents, xs, *start, **keywords):
    if numeric_items(xs):
        return frule(tangents, builtins.sum, xs, *start, **keywords)
    initial = _sum_arguments(xs, start, keywords)
    dinitial = tangents[2:3] if start else (ZeroTangent(),)
    fold_tangents = (NoTangent(), NoTangent(), tangents[1], *dinitial)
    return frule(config, fold_tangents, functools.reduce, operator.add, xs, *initial)


# --- sorted, filter -----------------------------------------------------------------------------


def _sorted_positions(xs, key=None, reverse=False):
    by = xs.__getitem__ if key is None else (lambda i: key(xs[i]))
    return sorted(range(len(xs)), key=by, reverse=reverse)


def _filtered_positions(predicate, xs):
    keep = bool if predicate is None else predicate
    return [i for i in range(len(xs)) if keep(xs[i])]


for _positions in (_sorted_positions, _filtered_positions):
    non_differentiable(_positions)  # positions (the rules are differentiated when nested)

register_selection(sorted, list, _sorted_positions, _SEQUENCES)
register_selection(filter, list, _filtered_positions, object, _SEQUENCES)
