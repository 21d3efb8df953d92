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
from zygote_engine.lib.store import NO, ZERO, items_of, position, sort_order, tangent_for
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
def _update(cx, d: dict, *other: Any, **kwargs: Any):
    source = other[0] if other else {}
    given = None if isinstance(source, dict) else list(source)  # (read once: it may be an iterator)
    pairs = list(source.items()) if given is None else [tuple(p) for p in given]
    dict.update(d, pairs, **kwargs)
    # the position of the pair each key's value in d comes from (the last that names it; a
    # keyword's value, which the engine lets through only when it carries no derivative, wins)
    last = {k: i for i, (k, _) in enumerate(pairs) if k not in kwargs}

    def update_pullback(_):
        taken = {k: cx.take(d, k) for k in (*last, *kwargs)}
        from_source = [taken[k] if last.get(k) == i else ZERO for i, (k, _) in enumerate(pairs)]
        if given is None:
            dsource = _sequence_tangent(cx, source, from_source, [k for k, _ in pairs])
        else:  # an iterable of (key, value) pairs
            dpairs = [tangent_for(cx, p, [NO, dv]) for p, dv in zip(given, from_source)]
            dsource = tangent_for(cx, source, dpairs)
        return (NO, ZERO, dsource) if other else (NO, ZERO)

    return None, MustRun(update_pullback)


@rrule.register(dict.copy, **_config)
def _dict_copy(cx, d: dict):
    y = dict.copy(d)
    snapshot = dict(y)

    def dict_copy_pullback(dy):
        dy = cx.release(y, dy, snapshot)
        fields = dy.backing if isinstance(dy, Tangent) else {}
        keys = list(snapshot)
        return NO, _sequence_tangent(cx, d, [fields.get(k, ZERO) for k in keys], keys)

    return y, MustRun(dict_copy_pullback)


@rrule.register(dict.popitem, **_config)
def _popitem(cx, d: dict):
    key, value = dict.popitem(d)

    def popitem_pullback(dy):
        cx.accumulate(d, key, items_of(dy, 2)[1])  # the value was d[key]'s
        return NO, ZERO

    return (key, value), MustRun(popitem_pullback)


@rrule.register(list.clear, **_config)
@rrule.register(dict.clear, **_config)
def _clear(cx, xs: Any):
    (list.clear if isinstance(xs, list) else dict.clear)(xs)

    def clear_pullback(_):
        # what the container holds now was put there after the clear, by operations whose
        # pullbacks have taken their cotangents; the items cleared away were not read after it
        cx.store.pop(id(xs), None)
        return NO, ZERO

    return None, MustRun(clear_pullback)


@rrule.register(list.reverse, **_config)
def _reverse(cx, xs: list):
    list.reverse(xs)
    n = len(xs)
    return None, MustRun(_permuted_pullback(cx, xs, range(n - 1, -1, -1)))


@rrule.register(list.sort, **_config)
def _sort(cx, xs: list, *, key: Any = None, reverse: bool = False):
    order = sort_order(xs, key, reverse)
    list.__setitem__(xs, slice(None), [xs[i] for i in order])
    return None, MustRun(_permuted_pullback(cx, xs, order))


def _permuted_pullback(cx, xs: list, order: Any):
    """The pullback of rearranging ``xs`` in place so that position ``j`` holds what position
    ``order[j]`` held: each item's store entry goes back to where the item was."""

    def permuted_pullback(_):
        found = cx.store.get(id(xs))
        if found is not None:
            entries = found[1]
            moved = {order[j]: entries.pop(j) for j in range(len(order)) if j in entries}
            entries.update(moved)
        return NO, ZERO

    return permuted_pullback


@rrule.register(list.remove, **_config)
def _remove(cx, xs: list, v: Any):
    _, delitem_pullback = _delitem_list(cx, xs, list.index(xs, v))

    def remove_pullback(dy):
        return NO, ZERO, delitem_pullback(dy)[2]  # (v is compared, not kept: NO)

    return None, MustRun(remove_pullback)


def _sequence_tangent(cx, source: Any, items: list, keys: list | None = None) -> Any:
    """Hand item cotangents back to the container they were copied from."""
    if keys is not None:
        for k, t in zip(keys, items):
            cx.accumulate(source, k, t)
        return ZERO if isinstance(source, dict) else Tangent(dict, dict(zip(keys, items)))
    return tangent_for(cx, source, items)
