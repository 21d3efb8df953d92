"""Rules for lists and dicts: reads accumulate into the mutation store, writes take from it.

The rules are also those of the types' own methods (``dict.__setitem__``, ``list.append``),
which a subclass's Python override reaches through ``super()``; so they call those methods,
never the operator or a method looked up on the object (``d[key] = v`` would run the override
again). The override itself is differentiated as Python code (``dunders.overrides_rule``).
Arrays written in place have their rules in :mod:`zygote_engine.lib.arrays`.
"""

from __future__ import annotations

import operator
from typing import Any

from chainrules_core import Tangent, rrule
from zygote_engine import primitives as zy
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.errors import MutationError, user_location
from zygote_engine.lib.store import NO, ZERO, items_of, position, tangent_for
from zygote_engine.runtime import MustRun, Reads

_config = {"config": ZygoteRuleConfig}


# -- reads --


@rrule.register(operator.getitem, list, object, **_config)
@rrule.register(list.__getitem__, **_config)
def _getitem_list(cx, xs: list, i: Any):
    y = list.__getitem__(xs, i)
    where = range(*i.indices(len(xs))) if isinstance(i, slice) else position(xs, i)

    snapshot = tuple(y) if isinstance(where, range) else None

    def getitem_list_pullback(dy):
        if isinstance(where, range):  # a slice is a fresh list: its cotangent is in the store
            dy = cx.release(y, dy, snapshot)
            for j, d in zip(where, items_of(dy, len(where))):
                cx.accumulate(xs, j, d)
        else:
            cx.accumulate(xs, where, dy)
        return NO, ZERO, NO

    return y, (MustRun if isinstance(where, range) else Reads)(getitem_list_pullback)


@rrule.register(operator.getitem, dict, object, **_config)
@rrule.register(dict.__getitem__, **_config)
def _getitem_dict(cx, d: dict, key: Any):
    def getitem_dict_pullback(dy):
        cx.accumulate(d, key, dy)
        return NO, ZERO, NO

    return dict.__getitem__(d, key), Reads(getitem_dict_pullback)


@rrule.register(dict.get, **_config)
def _dict_get(cx, d: dict, key: Any, *default: Any):
    present = key in d

    def dict_get_pullback(dy):
        if present:
            cx.accumulate(d, key, dy)
            return (NO, ZERO, NO, *([ZERO] * len(default)))
        return (NO, ZERO, NO, *([dy] * len(default)))

    return d.get(key, *default), Reads(dict_get_pullback)


def _view_rule(method, pair: bool, values: bool):
    @rrule.register(method, **_config)
    def _(cx, d: dict):
        keys = list(d)
        y = list(zip(keys, d.values())) if pair else list(d.values()) if values else keys
        snapshot = tuple(y)

        def view_pullback(dy):
            dy = cx.release(y, dy, snapshot)
            for k, t in zip(keys, items_of(dy, len(keys))):
                cx.accumulate(d, k, items_of(t, 2)[1] if pair else t if values else ZERO)
            return NO, ZERO

        return y, MustRun(view_pullback)


_view_rule(dict.items, pair=True, values=False)
_view_rule(dict.values, pair=False, values=True)
_view_rule(dict.keys, pair=False, values=False)


# -- writes --


@rrule.register(operator.setitem, list, object, object, **_config)
@rrule.register(list.__setitem__, **_config)
def _setitem_list(cx, xs: list, i: Any, v: Any):
    where = range(*i.indices(len(xs))) if isinstance(i, slice) else position(xs, i)
    if isinstance(where, range) and len(where) != len(v):
        raise MutationError(
            f"{user_location()}: slice assignment that changes a list's length is "
            "not supported: build a new list instead"
        )
    list.__setitem__(xs, i, v)

    def setitem_list_pullback(_):
        if isinstance(where, range):
            dv = [cx.take(xs, j) for j in where]
            return NO, ZERO, NO, _sequence_tangent(cx, v, dv)
        return NO, ZERO, NO, cx.take(xs, where)

    return None, MustRun(setitem_list_pullback)


@rrule.register(operator.setitem, dict, object, object, **_config)
@rrule.register(dict.__setitem__, **_config)
def _setitem_dict(cx, d: dict, key: Any, v: Any):
    dict.__setitem__(d, key, v)

    def setitem_dict_pullback(_):
        return NO, ZERO, NO, cx.take(d, key)

    return None, MustRun(setitem_dict_pullback)


@rrule.register(operator.iadd, list, object, **_config)
def _iadd_list(cx, xs: list, ys):
    return xs, _extend(cx, xs, ys)[1]  # xs += ys extends xs in place


@rrule.register(list.append, **_config)
@rrule.register(zy.append, **_config)  # what lowered comprehensions call
def _append(cx, xs: list, v: Any):
    n = len(xs)
    list.append(xs, v)  # (a subclass's own append is differentiated, never run from here)

    def append_pullback(_):
        return NO, ZERO, cx.take(xs, n)

    return None, MustRun(append_pullback)


@rrule.register(list.extend, **_config)
def _extend(cx, xs: list, ys: Any):
    n = len(xs)
    items = list(ys)
    list.extend(xs, items)

    def extend_pullback(_):
        return NO, ZERO, _sequence_tangent(cx, ys, [cx.take(xs, n + j) for j in range(len(items))])

    return None, MustRun(extend_pullback)


@rrule.register(list.insert, **_config)
def _insert(cx, xs: list, i: int, v: Any):
    n = len(xs)
    at = min(max(position(xs, i), 0), n)
    list.insert(xs, i, v)

    def insert_pullback(_):
        dv = cx.take(xs, at)
        _shift(cx, xs, at + 1, n + 1, -1)
        return NO, ZERO, NO, dv

    return None, MustRun(insert_pullback)


@rrule.register(list.pop, **_config)
def _pop(cx, xs: list, *i: int):
    at = position(xs, i[0]) if i else len(xs) - 1
    n = len(xs)
    y = list.pop(xs, *i)

    def pop_pullback(dy):
        _shift(cx, xs, at, n - 1, +1)
        cx.accumulate(xs, at, dy)
        return (NO, ZERO, *([NO] * len(i)))

    return y, MustRun(pop_pullback)


@rrule.register(operator.delitem, list, object, **_config)
@rrule.register(list.__delitem__, **_config)
def _delitem_list(cx, xs: list, i: Any):
    where = (
        range(*i.indices(len(xs)))
        if isinstance(i, slice)
        else range(position(xs, i), position(xs, i) + 1)
    )
    if where.step != 1:
        raise MutationError(
            f"{user_location()}: deleting an extended slice of a list (del xs[a:b:k]) is not "
            "supported: build a new list instead"
        )
    n = len(xs)
    list.__delitem__(xs, i)

    def delitem_list_pullback(_):
        _shift(cx, xs, where.start, n - len(where), len(where))
        return NO, ZERO, NO

    return None, MustRun(delitem_list_pullback)


@rrule.register(operator.delitem, dict, object, **_config)
@rrule.register(dict.__delitem__, **_config)
def _delitem_dict(cx, d: dict, key: Any):
    dict.__delitem__(d, key)

    def delitem_dict_pullback(_):
        cx.take(d, key)  # the deleted value's cotangent was complete when it was deleted
        return NO, ZERO, NO

    return None, MustRun(delitem_dict_pullback)


def _shift(cx, xs: list, start: int, stop: int, by: int) -> None:
    """Move store entries ``start..stop-1`` of ``xs`` by ``by`` positions (undoing pop/insert)."""
    found = cx.store.get(id(xs))
    if found is None:
        return
    entries = found[1]
    order = range(stop - 1, start - 1, -1) if by > 0 else range(start, stop)
    for j in order:
        if j in entries:
            entries[j + by] = entries.pop(j)


@rrule.register(dict.pop, **_config)
def _dict_pop(cx, d: dict, key: Any, *default: Any):
    present = key in d
    y = dict.pop(d, key, *default)

    def dict_pop_pullback(dy):
        if present:  # the popped value was d[key]'s
            cx.accumulate(d, key, dy)
            return (NO, ZERO, NO, *([ZERO] * len(default)))
        return (NO, ZERO, NO, *([dy] * len(default)))

    return y, MustRun(dict_pop_pullback)


@rrule.register(dict.setdefault, **_config)
def _setdefault(cx, d: dict, key: Any, *default: Any):
    present = key in d
    y = dict.setdefault(d, key, *default)

    def setdefault_pullback(dy):
        cx.accumulate(d, key, dy)  # y is d[key], read
        if present:
            return (NO, ZERO, NO, *([ZERO] * len(default)))
        return (NO, ZERO, NO, *([cx.take(d, key)] * len(default)))  # ... after default was stored

    return y, MustRun(setdefault_pullback)


@rrule.register(dict.update, **_config)
def _update(cx, d: dict, other: dict):
    keys = list(other)
    dict.update(d, other)

    def update_pullback(_):
        return NO, ZERO, _sequence_tangent(cx, other, [cx.take(d, k) for k in keys], keys)

    return None, MustRun(update_pullback)


def _sequence_tangent(cx, source: Any, items: list, keys: list | None = None) -> Any:
    """Hand item cotangents back to the container they were copied from."""
    if keys is not None:
        for k, t in zip(keys, items):
            cx.accumulate(source, k, t)
        return ZERO if isinstance(source, dict) else Tangent(dict, dict(zip(keys, items)))
    return tangent_for(cx, source, items)
