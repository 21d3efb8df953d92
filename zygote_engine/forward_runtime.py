"""The call protocol of forward-mode code: ``y, dy = __jcall(__fx, (f, *args), (df, *dargs))``.

For each call: (1) nothing to differentiate when no tangent reaches it (every tangent a zero, no
mutable object among the inputs): ``f`` runs as it is; (2) a rule, ``frule(__fx, tangents, f,
*args, **kwargs)``, if one applies; (3) otherwise, if ``f`` is Python code (a function, a lambda,
a bound method, a callable object, a class), its forward-mode transform, found by code object in
the cache; (4) otherwise :class:`~zygote_engine.errors.MissingRuleError`.

The tangent of a bound method is its receiver's; of a closure, a :class:`ClosureTangent` that
reads the tangents of its captured variables when the closure runs (so a variable rebound after
the closure was made is seen as it is then, like the variable itself). Mutable objects keep their
tangents in the :mod:`~zygote_engine.tangent_table` of ``__fx``; rules of the rule library are
handed, and hand back, their conventional structural tangents.
"""

from __future__ import annotations

import functools
import inspect
import operator
import os
import sysconfig
import types
from typing import Any

import numpy as np

import chainrules
import chainrules_core
from chainrules_core import AbstractZero, NoTangent, Tangent, ZeroTangent, frule, unthunk
from chainrules_core.rule_helpers import LINEAR_PULLBACKS
from chainrules_core.rules import resolve_receiver
from zygote_engine import cache
from zygote_engine import primitives as zy
from zygote_engine.array_writes import base_of, is_view, out_argument
from zygote_engine.batched import Batched, BatchingError, batch_size, column, stacked
from zygote_engine.binding import by_position, direct, parameter_sources, per_call_shape
from zygote_engine.construction import (
    constructible,
    init_fields,
    is_exception_class,
    new_instance,
)
from zygote_engine.dunders import INERT, overrides_rule, runs_plainly, special_methods
from zygote_engine.elementwise import fit
from zygote_engine.errors import (
    ENGINE_DIRECTORY,
    MissingRuleError,
    keyword_not_differentiated,
    missing_rule_message,
    user_location,
)
from zygote_engine.normalize import HELPERS_NAME, OPERATOR_NAME
from zygote_engine.store import ZERO_TYPES, is_tracked
from zygote_engine.tangent_table import reaches_tracked

__all__ = [
    "ClosureTangent",
    "jcall",
    "linear_pullback_jvp",
    "note_view",
    "table_aware",
    "tuple_tangent",
]

_NO = NoTangent()
_ZERO = ZeroTangent()
# Values that are never mutable objects with tangents in the table (checked first: most are).
_PLAIN = frozenset({float, complex, np.ndarray, np.float64, np.float32, *INERT})
# Tangents that need nothing from the table or a batch: the exact types of the commonest.
_PLAIN_TANGENTS = frozenset({float, np.ndarray, np.float64, ZeroTangent, NoTangent})
# Cotangents that elementwise.fit takes as they are, and tangents of them that need nothing more.
_DENSE = frozenset({float, np.ndarray, np.float64})
_DENSE_TANGENTS = _DENSE | ZERO_TYPES
_BOUND_METHODS = frozenset({types.MethodType, types.BuiltinMethodType, types.MethodWrapperType})
# Callables that are never bound methods (a builtin function is one when bound to an object).
_UNBOUND_CALLABLES = frozenset({np.ufunc, types.FunctionType, type(np.sum)})
# Functions whose call is never run plainly while the table holds tangents: the differentiation
# functions, whose function may read state that has them (filled by zygote_engine/lib/modes.py).
READS_STATE: set = set()


def table_aware(impl):
    """Mark a forward rule of the engine's own as reading mutable objects' tangents from the table.

    Such a rule is handed the tangents that travelled beside its arguments as they are, followed
    by the keyword arguments' tangents in the order of the call; any other rule gets the
    structural tangent of each mutable argument instead (and none for keywords), and its
    results' tangents are entered in the table.
    """
    impl.table_aware = True
    return impl


class ClosureTangent:
    """The tangent of a closure: its captured variables' tangents, read when they are needed.

    ``readers[i]()`` returns the current tangent of the variable ``names[i]``; a variable the
    closure captures but that no path has assigned yet (a branch not taken) has none: zero.
    """

    __slots__ = ("names", "readers")

    def __init__(self, names: tuple[str, ...], *readers):
        self.names, self.readers = names, readers

    def field(self, name: str) -> Any:
        """The current tangent of the captured variable ``name`` (zero if it has none)."""
        if name not in self.names:
            return _ZERO
        try:
            return self.readers[self.names.index(name)]()
        except NameError:  # captured, but not assigned on the path that ran
            return _ZERO

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={self.field(n)!r}" for n in self.names)
        return f"ClosureTangent({fields})"


def jcall(fx, primals: tuple, tangents: tuple, kwargs: dict | None = None, dkwargs=None):
    """Run ``f(*args, **kwargs)`` (``primals = (f, *args)``) and return ``(y, dy)``.

    ``tangents`` holds one tangent per primal, ``f``'s first; ``dkwargs`` the keywords' tangents
    (``None``: all zero). Rules give keyword arguments no tangent; Python code differentiates
    them.
    """
    f, args = primals[0], primals[1:]
    writes = fx.written
    if (
        not kwargs
        and (writes is None or not writes.shadows)
        and (
            type(f) in _UNBOUND_CALLABLES
            or (type(f) is types.BuiltinFunctionType and type(f.__self__) is types.ModuleType)
        )
        and dkwargs is None
        and _PLAIN.issuperset(map(type, args))
        and _PLAIN_TANGENTS.issuperset(map(type, tangents))
    ):
        found = frule.resolve(fx, f, args)
        if found is not None and not found[2]:
            return _call_frule(fx, found, f, args, tangents)
    kwargs = kwargs or {}
    if writes is not None and writes.shadows:  # a written array's tangent is its shadow's
        tangents = (tangents[0], *_current(writes, args, tangents[1:]))
        if "out" in kwargs and type(f) is np.ufunc:
            return _ufunc_out(fx, f, args, kwargs, tangents)
    elif "out" in kwargs and type(f) is np.ufunc:
        return _ufunc_out(fx, f, args, kwargs, tangents)
    if dkwargs is None and not _carries_tangent(fx, f, args, tangents):
        y = f(*args, **kwargs)
        if is_view(y):
            note_view(fx, y, args, tangents)
        return y, _ZERO
    unbound, call_args, bound = resolve_receiver(f, args)
    call_tangents = (_NO, *tangents) if bound else tangents
    found = frule.resolve(fx, unbound, call_args)
    if found is not None and not overrides_rule(f, args):
        impl, takes_config, receiver_first = found
        if receiver_first:  # the rule of type(f).__call__: f's tangent is its receiver's
            call_args, call_tangents = (unbound, *call_args), (_NO, *call_tangents)
        aware = getattr(impl, "table_aware", False)
        if dkwargs and not aware:
            carrying = _keywords_with_tangents(kwargs, dkwargs)
            if carrying:  # a rule differentiates positions only: pass them by position
                moved = by_position(unbound, len(call_args), carrying, kwargs)
                if isinstance(moved, str):
                    raise keyword_not_differentiated(unbound, moved, user_location())
                names = [name for name, _ in moved]
                rest = {k: v for k, v in kwargs.items() if k not in names}
                return jcall(
                    fx,
                    # (an item read, not .get: what forward mode differentiates when nested)
                    (*primals, *(kwargs[k] if k in kwargs else v for k, v in moved)),  # noqa: SIM401
                    (*tangents, *(dkwargs.get(name, _ZERO) for name in names)),
                    rest,
                    {k: d for k, d in dkwargs.items() if k in rest},
                )
        if aware and kwargs:  # the engine's own rules see the keywords' tangents, after the rest
            call_tangents = (*call_tangents, *((dkwargs or {}).get(k, _ZERO) for k in kwargs))
        elif not aware:
            call_tangents = tuple(
                dx if type(x) in _PLAIN else fx.tangent(x, dx)
                for x, dx in zip((None, *call_args), call_tangents)
            )
        k = 0 if aware else batch_size(call_tangents)
        if k:  # a rule sees one tangent at a time: once per column of the batch
            result = _by_columns(fx, impl, takes_config, call_tangents, call_args, kwargs, k)
        elif takes_config:
            result = impl(fx, call_tangents, *call_args, **kwargs)
        else:
            result = impl(call_tangents, *call_args, **kwargs)
        if result is not None:
            return _entered(fx, result, aware, call_args, call_tangents)
    elif type(f) is types.FunctionType:  # the commonest call, written out: one frame less
        if f.__code__ in LINEAR_PULLBACKS and not kwargs:
            return linear_pullback_jvp(f, args, tangents)
        dparams = _binder(f, len(args), tuple(kwargs))(tangents[1:], dkwargs or {})
        return cache.jvp_for(f)(fx, tangents[0], dparams, *args, **kwargs)
    return _differentiate_code(fx, f, args, kwargs, tangents, dkwargs)


def _call_frule(fx, found: tuple, f: Any, args: tuple, tangents: tuple):
    """The commonest call, with the checks of :func:`jcall` that cannot apply left out: a function
    (an operator, a ufunc) whose rule applies to numbers and arrays, with plain tangents (no batch,
    no structure, nothing in the table)."""
    impl, takes_config, _ = found
    for t in tangents:
        if type(t) not in ZERO_TYPES:
            break
    else:  # no tangent reaches the call
        y = f(*args)
        if is_view(y):
            note_view(fx, y, args, tangents)
        return y, _ZERO
    result = impl(fx, tangents, *args) if takes_config else impl(tangents, *args)
    if result is None:
        return _differentiate_code(fx, f, args, {}, tangents, None)
    return _entered(fx, result, getattr(impl, "table_aware", False), args, tangents)


def _entered(fx, result: tuple, aware: bool, args: tuple, tangents: tuple) -> tuple:
    """A rule's ``(y, dy)``: a new mutable ``y``'s tangent entered in the table (the engine's
    own rules enter theirs), or the view ``y`` noted with the argument it views."""
    y = result[0]
    if not aware and type(y) not in _PLAIN:
        fx.record(*result)
    elif is_view(y):
        note_view(fx, y, args, tangents)
    return result


def linear_pullback_jvp(pullback: types.FunctionType, args: tuple, tangents: tuple):
    """A pullback declared linear (``chainrules_core.linear_pullback``), differentiated again:
    its result's tangent is the pullback of the cotangent's tangent, column by column for a
    batch; none for a zero. (Thunks are evaluated: a thunk's tangent is the thunk's code
    differentiated, which this does not do.)"""
    (dy,), (ddy,) = args, tangents[1:]

    def run(d):
        return tuple(unthunk(g) for g in pullback(d))

    y = run(unthunk(dy))
    ddy = unthunk(ddy)
    if isinstance(ddy, AbstractZero):
        return y, _ZERO
    if type(ddy) is Batched:
        return y, stacked([run(ddy.values[i]) for i in range(len(ddy.values))])
    return y, run(ddy)


def _keywords_with_tangents(kwargs: dict, dkwargs: dict) -> list[str]:
    """The keywords whose tangent a rule would lose: real or complex values with a nonzero
    tangent (an integer's, an axis say, means nothing)."""
    return [
        name
        for name, d in dkwargs.items()
        if not isinstance(unthunk(d), AbstractZero) and _inexact(kwargs.get(name))
    ]


def _inexact(x: Any) -> bool:
    """Whether ``x`` holds real or complex numbers (a float, a float array, a tuple of them)."""
    try:
        return x is not None and np.issubdtype(np.result_type(x), np.inexact)
    except (TypeError, ValueError):  # not array-like: a callable, a ragged list, ...
        return False


def _current(writes, args: tuple, tangents: tuple) -> tuple:
    """``tangents`` with those of arrays written in place read from their shadows."""
    return tuple(
        writes.tangent_of(a) if type(a) is np.ndarray and writes.holds(a) else t
        for a, t in zip(args, tangents)
    )


def note_view(fx, y: np.ndarray, args: tuple, tangents: tuple) -> None:
    """Record which argument (and its tangent) the view ``y`` a rule returned looks into."""
    base = base_of(y)
    for a, t in zip(args, tangents[1:]):
        if type(a) is np.ndarray and base_of(a) is base:
            fx.array_writes().views[id(y)] = (y, a, t)
            return


def _ufunc_out(fx, ufunc: np.ufunc, args: tuple, kwargs: dict, tangents: tuple):
    """``ufunc(*args, out=w)``: the result computed as a new array, then written over ``w``."""
    w, kwargs = out_argument(ufunc, kwargs)
    y, dy = jcall(fx, (ufunc, *args), tangents, kwargs)
    jcall(fx, (operator.setitem, w, Ellipsis, y), (_NO, _ZERO, _NO, dy))
    return w, fx.written.tangent_of(w)


def _by_columns(fx, impl, takes_config: bool, tangents: tuple, args: tuple, kwargs: dict, k: int):
    """Run a rule once per column of a batch of tangents and stack the tangents it gives.

    An elementwise function's rule (from ``scalar_rule``) takes the whole batch at once: its
    tangent is the partials times the arguments' tangents, each batch column broadcast alike.
    """
    partials = getattr(impl, "scalar_partials", None)
    if partials is not None and not kwargs and not takes_config:
        return _elementwise(impl, partials, tangents[1:], args)
    results = []
    for i in range(k):
        column_tangents = tuple(column(t, i) for t in tangents)
        if takes_config:
            result = impl(fx, column_tangents, *args, **kwargs)
        else:
            result = impl(column_tangents, *args, **kwargs)
        if result is None:
            return None
        results.append(result)
    return results[0][0], stacked([dy for _, dy in results])


def _elementwise(impl, partials, tangents: tuple, args: tuple):
    y, _ = impl((_NO, *(_ZERO for _ in args)), *args)
    ps = partials(*args, y)
    ps = ps if isinstance(ps, tuple) else (ps,)
    dy = _ZERO
    ndim = np.ndim(y)
    for x, p, dx in zip(args, ps, tangents):
        if type(dx) is Batched:  # (k, *x.shape) -> (k, 1, ..., *x.shape): broadcasts like x
            values = dx.values.reshape(len(dx.values), *(1,) * (ndim - np.ndim(x)), *np.shape(x))
            dy = dy + Batched(values * p)
        elif not isinstance(dx, AbstractZero):
            raise BatchingError("an elementwise rule given one batched and one plain tangent")
    if type(dy) is Batched and np.shape(dy.values)[1:] != np.shape(y):
        dy = Batched(np.broadcast_to(dy.values, (len(dy.values), *np.shape(y))).copy())
    return y, dy


def _carries_tangent(fx, f: Any, args: tuple, tangents: tuple) -> bool:
    for t in tangents:
        if type(t) not in ZERO_TYPES:
            return True
    for a in args:
        if type(a) not in _PLAIN and (reaches_tracked(a) or fx.has(a)):
            return True  # a mutable object, or an object with __slots__ that has an entry
        if type(a) in _BOUND_METHODS and _has_entry(fx, a.__self__):
            return True  # a bound method (``map(d.get, keys)``): its tangent is its receiver's
    if type(f) is types.FunctionType:
        if not (fx.tangents or fx.written):
            return False
        # Python code may read state that has a tangent in the table (an attribute this pass
        # set, ``model.W = w``, read through a global): the user's code is differentiated, the
        # libraries' (which read no such state) run plainly
        return f in READS_STATE or _is_user_code(f.__code__)
    if is_tracked(f) or fx.has(f):  # a callable object: its attributes' tangents
        return True
    return _has_entry(fx, getattr(f, "__self__", None))


def _has_entry(fx, obj: Any) -> bool:
    """Whether ``obj`` keeps its tangent in the table (a mutable object, one with an entry)."""
    return is_tracked(obj) or fx.has(obj)


# The installed libraries, the standard library and the ecosystem's own packages.
_LIBRARIES = tuple(
    {sysconfig.get_paths()[kind] for kind in ("stdlib", "platstdlib", "purelib", "platlib")}
    | {os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (chainrules, chainrules_core)}
    | {ENGINE_DIRECTORY}
)


@functools.lru_cache(maxsize=4096)
def _is_user_code(code: types.CodeType) -> bool:
    return not code.co_filename.startswith(_LIBRARIES)


def _differentiate_code(fx, f: Any, args: tuple, kwargs: dict, tangents: tuple, dkwargs):
    tf = type(f)
    if tf is types.FunctionType:
        return _transformed(fx, f, args, kwargs, tangents, dkwargs)
    if tf is types.MethodType:  # a bound method's tangent is its receiver's
        method_tangents = (_NO, tangents[0], *tangents[1:])
        return _transformed(fx, f.__func__, (f.__self__, *args), kwargs, method_tangents, dkwargs)
    if isinstance(f, type) and constructible(f):
        return _construct(fx, f, args, kwargs, tangents, dkwargs)
    if f is functools.partial:  # its tangent: Tangent(partial, func=, args=, keywords=)
        keywords = {k: (dkwargs or {}).get(k, _ZERO) for k in kwargs}
        dp = Tangent(
            functools.partial,
            func=tangents[1],
            args=Tangent(tuple, *tangents[2:]),
            keywords=keywords,
        )
        return functools.partial(*args, **kwargs), dp
    if tf is functools.partial:
        dp = tangents[0]
        fields = dp.backing if isinstance(dp, Tangent) else {}
        dbound = fields.get("args", _ZERO)
        dbound = [_ZERO] * len(f.args) if isinstance(dbound, AbstractZero) else list(dbound)
        bound_keywords = fields.get("keywords", _ZERO)
        if isinstance(bound_keywords, Tangent):
            bound_keywords = bound_keywords.backing
        bound_keywords = bound_keywords if isinstance(bound_keywords, dict) else {}
        merged_tangents = {k: bound_keywords.get(k, _ZERO) for k in f.keywords}
        merged_tangents.update({k: (dkwargs or {}).get(k, _ZERO) for k in kwargs})
        primals = (f.func, *f.args, *args)
        call_tangents = (fields.get("func", _ZERO), *dbound, *tangents[1:])
        return jcall(fx, primals, call_tangents, {**f.keywords, **kwargs}, merged_tangents)
    method = inspect.getattr_static(tf, "__call__", None)
    if type(method) is types.FunctionType:
        return _transformed(fx, method, (f, *args), kwargs, (_NO, *tangents), dkwargs)
    if not kwargs:
        for method, order in special_methods(f, args):  # an operator on a user class
            primals = (method, *(args[i] for i in order))
            y, dy = jcall(fx, primals, (_NO, *(tangents[1 + i] for i in order)))
            if y is not NotImplemented:
                return y, dy
    if runs_plainly(f, args, kwargs):
        return f(*args, **kwargs), _NO
    raise MissingRuleError(missing_rule_message(f, "frule"))


def _transformed(fx, fn: types.FunctionType, args: tuple, kwargs: dict, tangents: tuple, dkwargs):
    run = cache.jvp_for(fn)
    dparams = _binder(fn, len(args), tuple(kwargs))(tangents[1:], dkwargs or {})
    return run(fx, tangents[0], dparams, *args, **kwargs)


def _construct(fx, cls: type, args: tuple, kwargs: dict, tangents: tuple, dkwargs):
    """``cls(*args, **kwargs)`` for a Python class with no rule (see ``runtime._construct``)."""
    if is_exception_class(cls):  # what it carries is read back from e.args
        error = cls(*args, **kwargs)
        fx.record(error, {"args": Tangent(tuple, *tangents[1:])})
        return error, _ZERO
    fields = init_fields(cls)
    if fields is not None:
        obj = cls(*args, **kwargs)
        given = {**dict(zip(fields, tangents[1:])), **(dkwargs or {})}
        given = {k: d for k, d in given.items() if type(d) not in ZERO_TYPES}
        if isinstance(obj, tuple):  # a NamedTuple: immutable, its tangent travels beside it
            return obj, Tangent.from_backing(cls, given) if given else _ZERO
        fx.record(obj, given)
        return obj, _ZERO
    if isinstance(cls.__init__, types.FunctionType):
        obj = new_instance(cls, args, kwargs)
        init_tangents = (_NO, _ZERO, *tangents[1:])
        _transformed(fx, cls.__init__, (obj, *args), kwargs, init_tangents, dkwargs)
        return obj, _ZERO
    return cls(*args, **kwargs), _NO  # object.__init__ takes nothing


# -- the tangent of each parameter of a transformed function, from the call's tangents --


@per_call_shape
def _binder(fn: types.FunctionType, nargs: int, kwnames: tuple):
    """A function ``(dargs, dkwargs) -> one tangent per parameter of fn``."""
    if direct(fn, nargs, kwnames):
        return lambda dargs, dkwargs: dargs
    sources = parameter_sources(fn, nargs, kwnames)

    def bind(dargs: tuple, dkwargs: dict) -> tuple:
        out = []
        for source in sources:
            if source is None:
                out.append(_ZERO)
            elif source[0] == "at":
                out.append(dargs[source[1]])
            elif source[0] == "key":
                out.append(dkwargs.get(source[1], _ZERO))
            elif source[0] == "args":
                out.append(Tangent(tuple, *(dargs[i] for i in source[1])))
            else:
                out.append({k: dkwargs.get(k, _ZERO) for k in source[1]})
        return tuple(out)

    return bind


# -- helpers of the generated code --


def _captured(df: Any, name: str) -> Any:
    """The tangent of the captured variable ``name`` from the closure's tangent ``df``."""
    if type(df) is ClosureTangent:
        return df.field(name)
    if isinstance(df, Tangent):
        return getattr(df, name)
    return _ZERO


def tuple_tangent(items: tuple | list) -> Any:
    """The tangent of a tuple from its items' tangents (zero if they all are)."""
    for d in items:
        if type(d) not in ZERO_TYPES:
            return Tangent(tuple, *items)
    return _ZERO


def _list(fx, items: list, tangents: tuple) -> list:
    """The list display ``items`` (new), its items' tangents entered in the table."""
    if _PLAIN.issuperset(map(type, items)):  # (what generated code keeps: arrays, numbers)
        fx.tangents[id(items)] = (items, list(tangents))
    else:
        fx.record(items, list(tangents))
    return items


def _item(fx, xs: list, i: int) -> Any:
    """The tangent of ``xs[i]`` (``0 <= i < len(xs)``), from the table."""
    return fx.item(xs, i)


def _fit(fx, g: Any, dg: Any, x: Any) -> tuple:
    """``(fit(g, x), its tangent)``: ``fit`` is linear in ``g`` (see ``elementwise.fit``)."""
    if type(g) in _DENSE and type(dg) in _DENSE_TANGENTS:
        return fit(g, x), dg if type(dg) in ZERO_TYPES else fit(dg, x)
    return jcall(fx, (fit, g, x), (_NO, dg, _ZERO))


def _on_array(fx, x: Any, dx: Any) -> bool:
    """Whether an inline adjoint's templates give the tangent of an operation on ``x`` (see
    ``forward.py``): an array whose tangent is an array of its dtype (nothing to project), while
    no array written in place has its tangent elsewhere (in its shadow: see :func:`jcall`)."""
    return (
        type(x) is np.ndarray
        and type(dx) is np.ndarray
        and dx.dtype is x.dtype
        and (fx.written is None or not fx.written.shadows)
    )


def _pairs(fx, items: list):
    """``(item, tangent)`` for the items of a ``for`` loop (a list made by ``zy.collect``)."""
    return zip(items, fx.entry(items))


def _record_kwargs(fx, kwargs: dict, dkwargs: Any) -> None:
    """Enter the tangents of a function's ``**kwargs`` dict, which the call made afresh."""
    if isinstance(dkwargs, dict):
        fx.record(kwargs, {k: d for k, d in dkwargs.items() if not isinstance(d, AbstractZero)})


# The objects forward-mode code reads through closure cells (names from forward.RUNTIME_NAMES).
cache.RUNTIME_OBJECTS.update(
    {
        "__jcall": jcall,
        "__jclosure": ClosureTangent,
        "__jcaptured": _captured,
        "__jpairs": _pairs,
        "__jrecord_kwargs": _record_kwargs,
        "__jtuple": tuple_tangent,
        "__jlist": _list,
        "__jitem": _item,
        "__jfit": _fit,
        "__jarray": _on_array,
        "__zero": _ZERO,
        "__no": _NO,
        OPERATOR_NAME: operator,
        HELPERS_NAME: zy,
    }
)
