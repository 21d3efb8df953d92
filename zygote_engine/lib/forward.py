"""Forward-mode rules of the engine: mutable objects through the tangent table, and the helpers.

Registered with ``config=ForwardConfig`` (found only by this engine's forward mode, before the
rule library's) and marked :func:`~zygote_engine.forward_runtime.table_aware`: they are handed
the tangents that travelled beside their arguments, and read and write the tangents of lists,
dicts and objects in the table (``fx``), mirroring each mutation. Arrays written in place have
their rules in :mod:`zygote_engine.lib.arrays`.
"""

from __future__ import annotations

import operator
import types
from typing import Any

from chainrules_core import NoTangent, Tangent, frule
from zygote_engine import primitives as zy
from zygote_engine.config import ForwardConfig
from zygote_engine.construction import property_getter, property_setter
from zygote_engine.forward_runtime import jcall, table_aware, tuple_tangent
from zygote_engine.lib.store import NO, ZERO, items_of, position, sort_order
from zygote_engine.store import is_tracked
from zygote_engine.tangent_table import reaches_tracked

_METHODS = (types.MethodType, types.BuiltinMethodType, types.MethodWrapperType)


def forward_rule(f: Any, *types_: Any):
    """Register the decorated function as a table-aware forward rule of ``f`` for this engine."""

    def register(impl):
        frule.add(f, types_, table_aware(impl), config=ForwardConfig)
        return impl

    return register


def _whole(fx, x: Any, dx: Any) -> Any:
    """The structural tangent of ``x`` (for a mutable object, from the table)."""
    return fx.tangent(x, dx)


# -- reads --


# The container rules are also those of the types' own methods, and call them (see containers.py).


@forward_rule(operator.getitem, list, object)
@forward_rule(list.__getitem__)
def _getitem_list(fx, tangents, xs: list, i: Any):
    y = list.__getitem__(xs, i)
    if isinstance(i, slice):
        fx.record(y, fx.entry(xs)[i])
        return y, ZERO
    return y, fx.item(xs, position(xs, i))


@forward_rule(operator.getitem, dict, object)
@forward_rule(dict.__getitem__)
def _getitem_dict(fx, tangents, d: dict, key: Any):
    return dict.__getitem__(d, key), fx.item(d, key)


@forward_rule(dict.get)
def _dict_get(fx, tangents, d: dict, key: Any, *default: Any):
    if key in d:
        return d[key], fx.item(d, key)
    return d.get(key, *default), tangents[3] if default else NO


def _view_rule(method, kind: str):
    @forward_rule(method)
    def _(fx, tangents, d: dict):
        y = list(method(d))
        if kind == "items":
            items = [tuple_tangent([NO, fx.item(d, k)]) for k in d]
        else:
            items = [fx.item(d, k) if kind == "values" else NO for k in d]
        fx.record(y, items)
        return y, ZERO


_view_rule(dict.items, "items")
_view_rule(dict.values, "values")
_view_rule(dict.keys, "keys")


@forward_rule(getattr)
def _getattr(fx, tangents, obj: Any, name: str, *default: Any):
    y = getattr(obj, name, *default)
    if isinstance(obj, (types.ModuleType, type)) or isinstance(y, type):
        return y, NO
    getter = property_getter(obj, name)
    if getter is not None:  # the getter is Python code: differentiate it
        return jcall(fx, (getter, obj), (NO, tangents[1]))
    receiver = obj.__self__ if type(obj) is super else obj
    if is_tracked(receiver) or fx.has(receiver):  # its attributes' tangents are in the table
        if isinstance(y, _METHODS) and y.__self__ is receiver:
            return y, ZERO  # a bound method's tangent is its receiver's, in the table
        if default and not hasattr(obj, name):
            return y, tangents[3]
        return y, fx.item(receiver, name)
    dobj = tangents[1]
    if isinstance(y, _METHODS) and y.__self__ is obj:
        return y, dobj
    found = frule(tangents, getattr, obj, name, *default)  # the rule library's: arrays, numbers
    if found is not None:
        return found
    if name == "__self__" and isinstance(obj, _METHODS):  # and back: the receiver's is the method's
        return y, dobj
    if isinstance(dobj, Tangent):  # an immutable object (a NamedTuple, a functools.partial)
        dy = getattr(dobj, name)
        if reaches_tracked(y):  # a list or dict it holds (a partial's keywords): into the table
            fx.record(y, dy)
        return y, dy
    return y, ZERO


@forward_rule(super)
def _super(fx, tangents, cls: type, obj: Any):
    return super(cls, obj), tangents[2]


# -- writes: mirrored into the table --


@forward_rule(operator.setitem, list, object, object)
@forward_rule(list.__setitem__)
def _setitem_list(fx, tangents, xs: list, i: Any, v: Any):
    entry = fx.entry(xs)
    if isinstance(i, slice):
        entry[i] = items_of(_whole(fx, v, tangents[3]), len(v))
    else:
        entry[position(xs, i)] = tangents[3]
    list.__setitem__(xs, i, v)
    return None, NO


@forward_rule(operator.setitem, dict, object, object)
@forward_rule(dict.__setitem__)
def _setitem_dict(fx, tangents, d: dict, key: Any, v: Any):
    dict.__setitem__(d, key, v)
    fx.entry(d)[key] = tangents[3]
    return None, NO


@forward_rule(setattr)
def _setattr(fx, tangents, obj: Any, name: str, v: Any):
    setter = property_setter(obj, name)
    if setter is not None:  # the setter is Python code: differentiate it
        jcall(fx, (setter, obj, v), (NO, tangents[1], tangents[3]))
        return None, NO
    setattr(obj, name, v)
    fx.entry(obj)[name] = tangents[3]
    return None, NO


@forward_rule(operator.delitem, list, object)
@forward_rule(operator.delitem, dict, object)
@forward_rule(list.__delitem__)
@forward_rule(dict.__delitem__)
def _delitem(fx, tangents, xs: Any, i: Any):
    entry = fx.entry(xs)
    if isinstance(xs, dict):
        entry.pop(i, None)
        dict.__delitem__(xs, i)
    else:
        del entry[i]
        list.__delitem__(xs, i)
    return None, NO


@forward_rule(delattr)
def _delattr(fx, tangents, obj: Any, name: str):
    fx.entry(obj).pop(name, None)
    delattr(obj, name)
    return None, NO


@forward_rule(list.append)
@forward_rule(zy.append)
def _append(fx, tangents, xs: list, v: Any):
    fx.entry(xs).append(tangents[2])
    list.append(xs, v)  # (a subclass's own append is differentiated, never run from here)
    return None, NO


@forward_rule(list.copy)
def _copy(fx, tangents, xs: list):
    y = xs.copy()
    fx.record(y, list(fx.entry(xs)))
    return y, ZERO


@forward_rule(dict.copy)
def _dict_copy(fx, tangents, d: dict):
    y = dict.copy(d)
    fx.record(y, dict(fx.entry(d)))
    return y, ZERO


@forward_rule(operator.mul, list, int)
def _repeat(fx, tangents, xs: list, n: int):
    y = xs * n
    fx.record(y, fx.entry(xs) * n)
    return y, ZERO


@forward_rule(list.extend)
def _extend(fx, tangents, xs: list, ys: Any):
    items = list(ys)
    fx.entry(xs).extend(items_of(_whole(fx, ys, tangents[2]), len(items)))
    list.extend(xs, items)
    return None, NO


@forward_rule(operator.iadd, list, object)
def _iadd_list(fx, tangents, xs: list, ys: Any):
    _extend(fx, tangents, xs, ys)
    return xs, ZERO


@forward_rule(list.insert)
def _insert(fx, tangents, xs: list, i: int, v: Any):
    fx.entry(xs).insert(i, tangents[3])
    list.insert(xs, i, v)
    return None, NO


@forward_rule(list.pop)
def _pop(fx, tangents, xs: list, *i: int):
    entry = fx.entry(xs)
    return list.pop(xs, *i), entry.pop(*i)


@forward_rule(dict.pop)
def _dict_pop(fx, tangents, d: dict, key: Any, *default: Any):
    if key in d:
        dy = fx.entry(d).pop(key, ZERO)
        return dict.pop(d, key), dy
    return dict.pop(d, key, *default), tangents[3] if default else NO


@forward_rule(dict.setdefault)
def _setdefault(fx, tangents, d: dict, key: Any, *default: Any):
    if key not in d:
        dict.__setitem__(d, key, *(default or (None,)))
        fx.entry(d)[key] = tangents[3] if default else NO
    return d[key], fx.item(d, key)


@forward_rule(dict.update)
def _update(fx, tangents, d: dict, *other: Any, **kwargs: Any):
    pairs = []
    if other:
        source = other[0]
        dsource = _whole(fx, source, tangents[2])
        if isinstance(source, dict):
            fields = dsource.backing if isinstance(dsource, Tangent) else {}
            pairs = [(k, fields.get(k, ZERO)) for k in source]
        else:  # an iterable of (key, value) pairs
            source = list(source)
            dpairs = items_of(dsource, len(source))
            pairs = [(k, items_of(dp, 2)[1]) for (k, _), dp in zip(source, dpairs)]
        other = (source,)
    if kwargs:  # (their tangents follow the arguments', in the order of the call)
        first = 2 + len(other)
        pairs += [(k, tangents[first + i]) for i, k in enumerate(list(kwargs))]
    dict.update(d, *other, **kwargs)
    fx.entry(d).update(pairs)
    return None, NO


@forward_rule(dict.popitem)
def _popitem(fx, tangents, d: dict):
    key, value = dict.popitem(d)
    return (key, value), tuple_tangent([NO, fx.entry(d).pop(key, ZERO)])


@forward_rule(list.clear)
@forward_rule(dict.clear)
def _clear(fx, tangents, xs: Any):
    fx.entry(xs).clear()
    (list.clear if isinstance(xs, list) else dict.clear)(xs)
    return None, NO


@forward_rule(list.reverse)
def _reverse(fx, tangents, xs: list):
    fx.entry(xs).reverse()
    list.reverse(xs)
    return None, NO


@forward_rule(list.sort)
def _sort(fx, tangents, xs: list, *, key: Any = None, reverse: bool = False):
    order = sort_order(xs, key, reverse)
    entry = fx.entry(xs)
    entry[:] = [entry[i] for i in order]
    list.__setitem__(xs, slice(None), [xs[i] for i in order])
    return None, NO


@forward_rule(list.remove)
def _remove(fx, tangents, xs: list, v: Any):
    i = list.index(xs, v)
    del fx.entry(xs)[i]
    list.__delitem__(xs, i)
    return None, NO


# -- the helpers of normalised code (zygote_engine.primitives) --


@forward_rule(zy.make_tuple)
def _make_tuple(fx, tangents, *items: Any):
    return items, tuple_tangent(list(tangents[1:]))


@forward_rule(zy.make_list)
def _make_list(fx, tangents, *items: Any):
    y = list(items)
    fx.record(y, list(tangents[1:]))
    return y, ZERO


@forward_rule(zy.make_dict)
def _make_dict(fx, tangents, *keys_and_values: Any):
    y = zy.make_dict(*keys_and_values)
    fx.record(y, dict(zip(keys_and_values[::2], tangents[2::2])))
    return y, ZERO


@forward_rule(zy.merge_dicts)
def _merge_dicts(fx, tangents, *dicts: dict):
    y = zy.merge_dicts(*dicts)
    fields = {}
    for d, dd in zip(dicts, tangents[1:]):
        whole = _whole(fx, d, dd)
        fields.update(
            {k: whole.backing.get(k, ZERO) if isinstance(whole, Tangent) else ZERO for k in d}
        )
    fx.record(y, fields)
    return y, ZERO


@forward_rule(zy.as_tuple)
def _as_tuple(fx, tangents, xs: Any):
    y = tuple(xs)
    return y, tuple_tangent(items_of(_whole(fx, xs, tangents[1]), len(y)))


@forward_rule(zy.as_list)
@forward_rule(zy.collect)
def _as_list(fx, tangents, xs: Any):
    y = list(xs)
    dxs = _whole(fx, xs, tangents[1])
    items = [ZERO] * len(y) if isinstance(dxs, NoTangent) else items_of(dxs, len(y))
    if type(xs) is dict:  # iterating a dict visits its keys
        items = [ZERO] * len(y)
    fx.record(y, items)
    return y, ZERO


@forward_rule(zy.concat)
def _concat(fx, tangents, *parts: tuple):
    items = [d for part, dpart in zip(parts, tangents[1:]) for d in items_of(dpart, len(part))]
    return zy.concat(*parts), tuple_tangent(items)


@forward_rule(zy.apply)
def _apply(fx, tangents, f: Any, args: tuple, kwargs: dict):
    dargs = items_of(tangents[2], len(args))
    dkwargs = _whole(fx, kwargs, tangents[3])
    by_key = dkwargs.backing if isinstance(dkwargs, Tangent) else None
    return jcall(fx, (f, *args), (tangents[1], *dargs), kwargs, by_key)
