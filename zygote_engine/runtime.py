"""The call protocol of generated code: ``y, pullback = __call(__cx, f, *args, **kwargs)``.

For each call: (1) a rule, ``rrule(__cx, f, *args, **kwargs)``, if one applies; (2) otherwise, if
``f`` is Python code (a function, a lambda, a bound method, a callable object, a class), its
transform, found by code object in the cache (so recursion works: the lookup happens at call
time); (3) otherwise :class:`~zygote_engine.errors.MissingRuleError`.

A pullback returns the tangent of ``f`` first, then one per positional argument, then one per
keyword argument in the order the call gave them (rules give keywords ``NoTangent()``; transformed
Python functions differentiate them). Pullbacks that may touch the mutation store run even when
their output cotangent is zero (:func:`must_run`): those wrapped in :class:`MustRun`, and the
generated backward passes, which a plain call of a transformed function returns unwrapped.
"""

from __future__ import annotations

import functools
import inspect
import linecache
import operator
import sys
import types
from typing import Any

import numpy as np

import chainrules_core as crc
from chainrules_core import AbstractZero, NoTangent, Tangent, Thunk, ZeroTangent, rrule, unthunk
from chainrules_core.rules import resolve_receiver
from zygote_engine import array_inline, cache, elements, elementwise, float_loops
from zygote_engine import primitives as zy
from zygote_engine.array_writes import is_view, out_argument
from zygote_engine.binding import by_position, direct, parameter_sources, per_call_shape
from zygote_engine.construction import (
    constructible,
    init_fields,
    is_exception_class,
    new_instance,
)
from zygote_engine.dunders import overrides_rule, runs_plainly, special_methods
from zygote_engine.elements import EXCLUSIVE
from zygote_engine.errors import (
    MissingRuleError,
    keyword_not_differentiated,
    missing_rule_message,
    user_location,
)
from zygote_engine.module_state import deposit_global
from zygote_engine.normalize import HELPERS_NAME, OPERATOR_NAME
from zygote_engine.reverse import POSITIONAL_CALL_LIMIT
from zygote_engine.store import ZERO_TYPES, is_tracked

__all__ = [
    "BUILTIN_BOUND",
    "CONTAINERS",
    "MASKED_CALLS",
    "POSITIONAL_CALLS",
    "UNBOUND_OWNERS",
    "MustRun",
    "Reads",
    "Writes",
    "adapted",
    "call",
    "call_masked",
    "differentiate_code",
    "must_run",
    "positional_only",
    "resolve",
    "store_aware",
]

_NO = NoTangent()
_ZERO = ZeroTangent()
CONTAINERS = frozenset({list, dict})
BUILTIN_BOUND = frozenset({types.BuiltinMethodType, types.MethodWrapperType})
# Builtin functions are "methods" of their module: only other receivers make a bound method.
UNBOUND_OWNERS = frozenset({types.ModuleType, type(None)})
resolve = rrule.resolve
_WRITERS = frozenset({list, dict, np.ndarray})
_WRITER_BASES = (*_WRITERS, BaseException)  # their subclasses, tested after the exact types


class MustRun:
    """A pullback that must run even when its output cotangent is zero (it updates the store)."""

    __slots__ = ("pullback",)

    def __init__(self, pullback):
        self.pullback = pullback

    def __call__(self, dy):
        return self.pullback(dy)


class Reads(MustRun):
    """A store-aware pullback of an engine rule that may be skipped when its cotangent is zero."""

    __slots__ = ()


class Writes(MustRun):
    """The pullback of an in-place array write: it hands its array's cotangent over itself."""

    __slots__ = ()


_STORE_AWARE = frozenset({MustRun, Reads, Writes})
_MUST_RUN = frozenset({MustRun, Writes})


def must_run(pullback) -> bool:
    """Whether ``pullback`` must run even when its output cotangent is zero: it may update the store."""
    kind = type(pullback)
    return kind in _MUST_RUN or (
        kind is types.FunctionType and pullback.__code__ in cache.BACKWARD_CODES
    )


def store_aware(pullback) -> bool:
    """Whether ``pullback`` is the engine's own, which keeps container cotangents in the store."""
    return type(pullback) in _STORE_AWARE or must_run(pullback)


def _like(pullback, wrapped):
    """``wrapped``, a function that calls ``pullback``, with the same store behaviour."""
    if type(pullback) is Reads:
        return Reads(wrapped)
    return MustRun(wrapped) if must_run(pullback) else wrapped


def call(cx, f: Any, *args: Any, **kwargs: Any):
    """Run ``f(*args, **kwargs)`` and return ``(y, pullback)``."""
    tf = type(f)
    if tf is types.FunctionType:
        found = resolve(cx, f, args)  # cached in chainrules_core; registration empties the cache
        if found is None:
            forward = cache.forward_for(f)
            if forward.arity == len(args) and not kwargs:
                if not rrule.has_rules(f):  # for no argument types: calls may skip the lookup
                    forward.ruleless_at = rrule.generation
                return forward.run(cx, *args)
            y, backward = forward.run(cx, *args, **kwargs)
            return y, MustRun(_argument_map(f, len(args), tuple(kwargs))(backward))
    elif tf is types.MethodType or (tf in BUILTIN_BOUND and type(f.__self__) not in UNBOUND_OWNERS):
        return _call_bound(cx, f, args, kwargs)
    else:
        found = resolve(cx, f, args)
        if found is None or overrides_rule(f, args):
            return differentiate_code(cx, f, args, kwargs)
    impl, takes_config, receiver_first = found
    if receiver_first or kwargs:
        return _call_rule(cx, f, impl, takes_config, receiver_first, args, kwargs)
    result = impl(cx, *args) if takes_config else impl(*args)
    if result is None:
        return differentiate_code(cx, f, args, kwargs)
    if cx.written is not None or type(result[0]) is np.ndarray:
        result = through_arrays(cx, result, (f, *args))
    # the common case, numbers and arrays in and out of a rule: nothing to adapt
    if store_aware(result[1]):
        return result
    if is_tracked(result[0]):
        return adapted(cx, result[0], result[1], args, kwargs)
    for a in args:
        if type(a) in CONTAINERS:
            return adapted(cx, result[0], result[1], args, kwargs)
    return result


# ``call0``, ``call1``, ...: ``call`` for exactly that many positional arguments and no keywords,
# which is how generated code calls. The commonest call, which deep recursion makes many of, is
# of a Python function with no rule whose arguments are its parameters one for one: its generated
# forward returns ``(y, backward)`` as the protocol wants, so it is called at once (see
# ``cache.Forward``). Written out per arity, with no ``*args``, that call is an ordinary Python
# call, which CPython runs without a C-level frame; through ``*args`` it is not and costs about a
# third more. Generated from one template, like ``collections.namedtuple``'s methods.
_CALL_TEMPLATE = """
def call{n}(cx, f{params}):
    forward = FORWARDS.get(id(f))
    if (
        forward is not None
        and forward.ruleless_at == rules.generation
        and forward.arity == {n}
        and forward.function() is f
    ):
        return forward.run(cx{params})
    return call(cx, f{params})
"""


def _from_template(template: str, name: str, n: int, namespace: dict):
    source = template.format(n=n, params="".join(f", a{i}" for i in range(n)))
    filename = f"<zygote_engine {name}{n}>"
    # its source where inspect finds it: nested differentiation transforms the entry points too
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace[f"{name}{n}"]


POSITIONAL_CALLS = tuple(
    _from_template(
        _CALL_TEMPLATE, "call", n, {"FORWARDS": cache.FORWARDS, "rules": rrule, "call": call}
    )
    for n in range(POSITIONAL_CALL_LIMIT)
)


def call_masked(cx, inactive: tuple[int, ...], f: Any, *args: Any):
    """``call(cx, f, *args)`` where the caller knows that the values at the positions
    ``inactive`` (0: ``f`` itself, 1, 2, ...: the arguments) carry no derivative.

    A Python function without a rule then runs the forward generated for exactly that (see
    ``cache.variant_for``): what it computes only from those values gets no pullback, and
    their cotangents are never computed, such as the data's in ``lambda W: loss(W, X)``. Rules,
    methods and every other callable take the plain protocol.
    """
    if type(f) is types.FunctionType:
        variant = cache.VARIANTS.get((id(f), inactive))
        if (
            variant is None
            or variant.ruleless_at != rrule.generation
            or variant.function() is not f
        ):
            if resolve(cx, f, args) is not None:
                return call(cx, f, *args)
            variant = cache.variant_for(f, inactive)
            if not rrule.has_rules(f):
                variant.ruleless_at = rrule.generation
        if variant.arity == len(args):
            return variant.run(cx, *args)
    return call(cx, f, *args)


# ``call_masked0``, ``call_masked1``, ...: ``call_masked`` per arity, as ``call<n>`` is ``call``.
_MASKED_CALL_TEMPLATE = """
def call_masked{n}(cx, inactive, f{params}):
    variant = VARIANTS.get((id(f), inactive))
    if (
        variant is not None
        and variant.ruleless_at == rules.generation
        and variant.arity == {n}
        and variant.function() is f
    ):
        return variant.run(cx{params})
    return call_masked(cx, inactive, f{params})
"""

MASKED_CALLS = tuple(
    _from_template(
        _MASKED_CALL_TEMPLATE,
        "call_masked",
        n,
        {"VARIANTS": cache.VARIANTS, "rules": rrule, "call_masked": call_masked},
    )
    for n in range(POSITIONAL_CALL_LIMIT)
)


def call_keywords(cx, active: tuple[str, ...], f: Any, *args: Any, **kwargs: Any):
    """``call(cx, f, *args, **kwargs)`` where the caller's keyword arguments named in ``active``
    may carry a derivative (the generated code knows which values may).

    Rules differentiate positional arguments only (the ChainRules convention), so a keyword
    argument of a rule would silently get no cotangent. Where such a keyword's value can carry
    a derivative, it is passed by position instead (with the defaults of the parameters before
    it), and its cotangent is handed back as the keyword's. Where ``f``'s signature does not
    take it by position, its cotangent is a thunk that raises a located
    ``UnsupportedConstructError`` when read: a value that is constant after all (the analysis
    is conservative) drops it unread. Python code takes its keywords as they are.
    """
    # (out= is written, not read: the ufunc protocol handles it)
    carrying = [k for k in active if k != "out" and _may_carry_derivative(kwargs[k])]
    if carrying:
        unbound, call_args, _ = resolve_receiver(f, args)
        if resolve(cx, unbound, call_args) is not None:
            n = len(call_args)
            refused = [k for k in carrying if isinstance(by_position(unbound, n, [k], kwargs), str)]
            moved = by_position(unbound, n, [k for k in carrying if k not in refused], kwargs)
            names = [name for name, _ in moved]
            rest = {k: v for k, v in kwargs.items() if k not in names}
            # (an item read, not .get: what forward mode differentiates when nested)
            by_name = (kwargs[k] if k in kwargs else default for k, default in moved)  # noqa: SIM401
            y, pullback = call(cx, f, *args, *by_name, **rest)
            lost = {k: _lost(unbound, k, user_location()) for k in refused}
            return y, _keywords_back(pullback, len(args), names, list(rest), list(kwargs), lost)
    return call(cx, f, *args, **kwargs)


def _lost(f: Any, name: str, location: str) -> Thunk:
    """The cotangent of a keyword argument that a rule cannot differentiate: an error if read."""

    def refuse():
        raise keyword_not_differentiated(f, name, location)

    return Thunk(refuse)


def _may_carry_derivative(value: Any) -> bool:
    """Whether a value can carry a derivative: inexact numbers and arrays, and containers of them
    (not flags, counts, axes, dtypes, functions or strings)."""
    kind = type(value)
    if kind is float or kind is complex:
        return True
    if kind in (list, tuple):
        return any(map(_may_carry_derivative, value))
    if kind is dict:
        return any(map(_may_carry_derivative, value.values()))
    dtype = getattr(value, "dtype", None)
    return isinstance(dtype, np.dtype) and dtype.kind in "fc"


def _keywords_back(pullback, n: int, moved: list, rest: list, order: list, lost: dict):
    """The pullback of the call with ``moved`` keywords passed by position, in the caller's
    order: ``f``, the ``n`` positional arguments, then the keywords as they were given (those in
    ``lost`` with their refusing thunks)."""
    places = {name: 1 + n + i for i, name in enumerate(moved)}
    places.update((name, 1 + n + len(moved) + i) for i, name in enumerate(rest))
    picks = [places[k] for k in order]

    def keywords_pullback(dy):
        tangents = pullback(dy)
        keywords = (tangents[i] for i in picks)
        if lost:
            keywords = (lost.get(k, d) for k, d in zip(order, keywords))
        return (*tangents[: 1 + n], *keywords)

    return _like(pullback, keywords_pullback)


def _call_rule(cx, f, impl, takes_config, receiver_first, args: tuple, kwargs: dict):
    if "out" in kwargs and type(f) is np.ufunc:
        return _ufunc_out(cx, f, args, kwargs)
    rule_args = (f, *args) if receiver_first else args
    result = impl(cx, *rule_args, **kwargs) if takes_config else impl(*rule_args, **kwargs)
    if result is None:
        return differentiate_code(cx, f, args, kwargs)
    if cx.written is not None or type(result[0]) is np.ndarray:
        result = through_arrays(cx, result, rule_args if receiver_first else (f, *args))
    y, pullback = result
    if receiver_first:  # the rule of type(f).__call__: f's tangent is its receiver's
        pullback = _drop_first(pullback)
    return adapted(cx, y, pullback, args, kwargs)


def _ufunc_out(cx, ufunc: np.ufunc, args: tuple, kwargs: dict):
    """``ufunc(*args, out=w)``: the result computed as a new array, then written over ``w``."""
    keys, given_as_tuple = list(kwargs), type(kwargs["out"]) is tuple
    w, kwargs = out_argument(ufunc, kwargs)
    y, pullback = call(cx, ufunc, *args, **kwargs)
    _, write_pullback = call(cx, operator.setitem, w, Ellipsis, y)
    n = 1 + len(args)

    def ufunc_out_pullback(dw):
        cx.written.deposit(w, dw)  # the result is w itself
        _, dw_before, _, dy = write_pullback(_ZERO)
        zero = isinstance(dy, AbstractZero)
        tangents = (_NO,) * (n + len(kwargs)) if zero else pullback(dy)
        dout = Tangent(tuple, dw_before) if given_as_tuple else dw_before
        by_name, i = {"out": dout}, n
        for k in kwargs:  # (a plain loop: forward mode differentiates it again, when nested)
            by_name[k] = tangents[i]
            i += 1
        return (*tangents[:n], *(by_name[k] for k in keys))

    return w, Writes(ufunc_out_pullback)


def _call_bound(cx, f: Any, args: tuple, kwargs: dict):
    receiver = f.__self__
    # Methods that may write into their receiver (list.append, ndarray.fill, np.add.at, an
    # exception's __init__): the unbound rule is looked up here so that a MustRun pullback stays
    # one. A subclass's method may be its base class's reached through super().
    if type(receiver) in _WRITERS or (type(receiver) is np.ufunc and f.__name__ == "at"):
        unbound = getattr(type(receiver), f.__name__)
    elif isinstance(receiver, _WRITER_BASES):
        unbound = resolve_receiver(f, args)[0]
    else:
        unbound = None
    if unbound is not None:
        result = rrule(cx, unbound, receiver, *args, **kwargs)
        if result is not None:
            if cx.written is not None:
                result = through_arrays(cx, result, (None, receiver, *args))
            y, pullback = result
            pullback = _drop_first(pullback)
            return y, _with_kwargs(pullback, kwargs) if kwargs else pullback
    else:
        result = rrule(cx, f, *args, **kwargs)
        if result is not None:
            if cx.written is not None or type(result[0]) is np.ndarray:
                result = through_arrays(cx, result, (receiver, *args))
            return adapted(cx, result[0], result[1], args, kwargs)
    return differentiate_code(cx, f, args, kwargs)


def through_arrays(cx, result: tuple, inputs: tuple) -> tuple:
    """A rule's ``(y, pullback)`` once arrays written in place may be among its ``inputs``.

    ``inputs`` are the values whose tangents the pullback returns, in its order (the callable or
    a method's receiver first). The pullback's cotangents of written arrays go to their shadow
    (see :mod:`zygote_engine.array_writes`), also for written arrays held in a list or tuple; and
    a rule that made a view hands on what a write through that view left for its input.
    """
    y, pullback = result
    if type(pullback) is Writes:
        return result
    writes = cx.written
    routed = () if writes is None else tuple(_written_inputs(writes, inputs))
    if routed and inputs[0] is operator.getitem and routed[0] == (1, None):
        return y, _like(pullback, _written_read(writes, inputs[1], inputs[2], len(inputs)))
    makes_view = is_view(y)
    if not routed and not makes_view:
        return result

    def through_arrays_pullback(dy):
        tangents = pullback(dy)
        pending = cx.written.pending if cx.written is not None else None
        if not routed and not pending:
            return tangents
        # a thunk evaluated later would read the written arrays after the writes are undone
        tangents = [unthunk(t) for t in tangents] if routed else list(tangents)
        for i, item in routed:
            a = inputs[i]
            if item is None:
                writes.deposit(a, tangents[i])
                tangents[i] = _ZERO
            else:
                tangents[i] = _routed_item(writes, a, item, tangents[i])
        return claimed(cx, inputs, tangents) if pending else tuple(tangents)

    return y, _like(pullback, through_arrays_pullback)


def claimed(cx, inputs: tuple, tangents: list) -> tuple:
    """``tangents`` of ``inputs`` (a view's maker's) with what writes through the view left for
    its input arrays (``ArrayWrites.claim``)."""
    for i, a in enumerate(inputs):
        if type(a) is np.ndarray:
            tangents[i] = cx.written.claim(a, tangents[i])
    return tuple(tangents)


class ViewPullback:
    """``through_arrays``'s pullback of a rule that made a view, for a ``pullback`` declared
    linear (``chainrules_core.linear_pullback``): nested differentiation gives it a forward rule
    (see ``lib/nested_writes.py``) instead of differentiating its code."""

    __slots__ = ("cx", "inputs", "pullback")

    def __init__(self, cx, inputs: tuple, pullback) -> None:
        self.cx, self.inputs, self.pullback = cx, inputs, pullback

    def __call__(self, dy: Any) -> tuple:
        tangents = self.pullback(dy)
        written = self.cx.written
        if written is None or not written.pending:
            return tangents
        return claimed(self.cx, self.inputs, list(tangents))


def _written_read(writes, a: np.ndarray, index: Any, size: int):
    """The pullback of ``a[index]`` for a written ``a``: straight into the shadow of what it read."""

    def written_read_pullback(dy):
        writes.deposit_at(a, index, dy)
        return (_NO,) * size

    return written_read_pullback


def _written_inputs(writes, inputs: tuple):
    """``(position, None)`` of written arrays among ``inputs``, ``(position, item)`` of those in a
    list or tuple."""
    for i, a in enumerate(inputs):
        ta = type(a)
        if ta is np.ndarray:
            if writes.holds(a):
                yield i, None
        elif ta is list or ta is tuple:
            for k, x in enumerate(a):
                if type(x) is np.ndarray and writes.holds(x):
                    yield i, k


def _routed_item(writes, sequence, k: int, dseq: Any) -> Any:
    """The cotangent of ``sequence`` with its item ``k``'s, a written array's, sent to the shadow."""
    dseq = unthunk(dseq)
    if isinstance(dseq, AbstractZero):
        return dseq
    items = list(dseq.backing if isinstance(dseq, Tangent) else dseq)
    writes.deposit(sequence[k], items[k])
    items[k] = _ZERO
    if isinstance(dseq, Tangent):
        return Tangent.from_backing(dseq.primal_type, tuple(items))
    return type(dseq)(items)


def adapted(cx, y: Any, pullback, args: tuple, kwargs: dict):
    """A rule's result in the call protocol: store handling for foreign rules, keyword tangents."""
    if not store_aware(pullback):
        pullback = _foreign(cx, y, pullback, args)
    return y, _with_kwargs(pullback, kwargs) if kwargs else pullback


def differentiate_code(cx, f: Any, args: tuple, kwargs: dict):
    tf = type(f)
    if tf is types.FunctionType:
        return _transformed(cx, f, args, kwargs)
    if tf is types.MethodType:
        y, pullback = _transformed(cx, f.__func__, (f.__self__, *args), kwargs)
        return y, MustRun(_drop_first(pullback))
    if isinstance(f, type) and constructible(f):
        return _construct(cx, f, args, kwargs)
    if f is functools.partial:
        return make_partial(args, kwargs)
    if tf is functools.partial:
        return call_partial(cx, f, args, kwargs)
    method = inspect.getattr_static(tf, "__call__", None)
    if type(method) is types.FunctionType:
        y, pullback = _transformed(cx, method, (f, *args), kwargs)
        return y, MustRun(_drop_first(pullback))
    if not kwargs:
        for method, order in special_methods(f, args):  # an operator on a user class
            y, pullback = call(cx, method, *(args[i] for i in order))
            if y is not NotImplemented:
                return y, MustRun(_reordered(pullback, order, len(args)))
    if runs_plainly(f, args, kwargs):
        size = 1 + len(args) + len(kwargs)
        return f(*args, **kwargs), lambda dy: (_NO,) * size
    raise MissingRuleError(missing_rule_message(f, "rrule"))


# functools.partial: its tangent is Tangent(partial, func=..., args=Tangent(tuple, ...),
# keywords=Tangent(dict, ...)), which flows beside it (partial objects are not tracked in the store).


def make_partial(args: tuple, kwargs: dict):
    """``functools.partial(f, *bound, **keywords)``, every bound value differentiated."""
    y = functools.partial(*args, **kwargs)

    def partial_pullback(dy):
        dy = unthunk(dy)
        if not isinstance(dy, Tangent):
            return (_NO, *([_ZERO] * (len(args) + len(kwargs))))
        fields = dy.backing
        dargs = _items_or_zeros(fields.get("args", _ZERO), len(args) - 1)
        keywords = unthunk(fields.get("keywords", _ZERO))
        if isinstance(keywords, Tangent):
            keywords = keywords.backing
        keywords = keywords if isinstance(keywords, dict) else {}
        dkw = [keywords.get(k, _ZERO) for k in kwargs]
        return (_NO, fields.get("func", _ZERO), *dargs, *dkw)

    return y, partial_pullback


def call_partial(cx, p: functools.partial, args: tuple, kwargs: dict):
    """``p(*args, **kwargs)``: ``p.func`` with the bound arguments first."""
    merged = {**p.keywords, **kwargs}
    y, pullback = call(cx, p.func, *p.args, *args, **merged)
    nbound = len(p.args)

    def call_partial_pullback(dy):
        tangents = pullback(dy)
        dkw = dict(zip(list(merged.keys()), tangents[1 + nbound + len(args) :]))
        dp = Tangent(
            functools.partial,
            func=tangents[0],
            args=Tangent(tuple, *tangents[1 : 1 + nbound]),
            keywords=Tangent.from_backing(dict, {k: d for k, d in dkw.items() if k not in kwargs}),
        )
        dcall = tangents[1 + nbound : 1 + nbound + len(args)]
        return (dp, *dcall, *(dkw[k] for k in kwargs))

    return y, MustRun(call_partial_pullback)


def _items_or_zeros(dx: Any, n: int) -> list:
    dx = unthunk(dx)
    return [_ZERO] * n if isinstance(dx, AbstractZero) else list(dx)


def _reordered(pullback, order: tuple, n: int):
    """The pullback of ``f(*args)`` from that of ``method(*(args[i] for i in order))``."""

    def special_method_pullback(dy):
        tangents = pullback(dy)
        out = [_NO, *([_ZERO] * n)]
        for k, i in enumerate(order):
            out[1 + i] = tangents[1 + k]
        return tuple(out)

    return special_method_pullback


def _construct(cx, cls: type, args: tuple, kwargs: dict):
    """``cls(*args, **kwargs)`` for a Python class with no rule, with its pullback.

    Dataclasses and NamedTuples map the new object's field cotangents back onto the arguments;
    other classes are created with ``__new__`` and their ``__init__`` is differentiated like any
    Python method (see :mod:`zygote_engine.construction`).
    """
    fields = init_fields(cls)
    if fields is not None:
        return _construct_from_fields(cx, cls, fields, args, kwargs)
    if is_exception_class(cls):  # what it carries is read back from e.args
        error = cls(*args, **kwargs)

        def exception_pullback(_):
            dargs = cx.take(error, "args")
            return (_NO, *_items_or_zeros(dargs, len(args)))

        return error, MustRun(exception_pullback)
    if isinstance(cls.__init__, types.FunctionType):
        obj = new_instance(cls, args, kwargs)
        _, init_pullback = call(cx, cls.__init__, obj, *args, **kwargs)

        def construct_pullback(dy):
            cx.deposit(obj, dy)
            return (_NO, *init_pullback(_ZERO)[2:])

        return obj, MustRun(construct_pullback)
    size = 1 + len(args) + len(kwargs)
    return cls(*args, **kwargs), lambda dy: (_NO,) * size  # object.__init__ takes nothing


def _construct_from_fields(cx, cls: type, fields: list[str], args: tuple, kwargs: dict):
    obj = cls(*args, **kwargs)
    names = [*fields[: len(args)], *kwargs]
    snapshot = dict.fromkeys(fields)

    def fields_pullback(dy):
        dobj = cx.release(obj, dy, snapshot)
        if isinstance(dobj, AbstractZero):
            return (_NO, *([_ZERO] * len(names)))
        backing = dobj.backing
        by_name = dict(zip(fields, backing)) if isinstance(backing, tuple) else backing
        return (_NO, *(by_name.get(name, _ZERO) for name in names))

    return obj, MustRun(fields_pullback)


def _transformed(cx, f: types.FunctionType, args: tuple, kwargs: dict):
    y, backward = cache.forward_for(f).run(cx, *args, **kwargs)
    return y, MustRun(_argument_map(f, len(args), tuple(kwargs))(backward))


# -- mapping a transformed function's parameter tangents back onto the call's arguments --


@per_call_shape
def _argument_map(f: types.FunctionType, nargs: int, kwnames: tuple):
    """A function ``backward -> pullback`` returning call-ordered tangents."""
    code = f.__code__
    simple = not (code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS))
    if simple and not kwnames:
        if direct(f, nargs, kwnames):
            return lambda backward: backward
        return lambda backward: lambda dy: backward(dy)[: nargs + 1]
    sources = []  # (call slot, parameter index, item key or None)
    for i, source in enumerate(parameter_sources(f, nargs, kwnames)):
        if source is None:
            continue
        kind, where = source
        if kind == "args":  # *args: call positions
            sources += [(1 + pos, i, j) for j, pos in enumerate(where)]
        elif kind == "kwargs":  # **kwargs: call keywords
            sources += [(1 + nargs + kwnames.index(k), i, k) for k in where]
        elif kind == "at":
            sources.append((1 + where, i, None))
        else:
            sources.append((1 + nargs + kwnames.index(where), i, None))
    size = 1 + nargs + len(kwnames)

    def mapping(backward):
        def pullback(dy):
            dparams = backward(dy)
            out = [dparams[0], *([_ZERO] * (size - 1))]
            for slot, i, key in sources:
                d = dparams[1 + i]
                out[slot] = d if key is None else _item(d, key)
            return tuple(out)

        return pullback

    return mapping


def _item(d: Any, key: Any) -> Any:
    if isinstance(d, AbstractZero):
        return d
    return d[key]


def _drop_first(pullback):
    """A bound method's tangent is its receiver's: drop the underlying function's own tangent."""

    def method_pullback(dy):
        return pullback(dy)[1:]

    return _like(pullback, method_pullback)


def _with_kwargs(pullback, kwargs: dict):
    """Rules differentiate positional arguments only: keywords get ``NoTangent()``."""
    extra = (_NO,) * len(kwargs)

    def keyword_pullback(dy):
        return (*pullback(dy), *extra)

    return _like(pullback, keyword_pullback)


def positional_only(pullback, nargs: int):
    """Drop keyword tangents: ChainRules pullbacks cover positional inputs only."""
    return lambda dy: pullback(dy)[: nargs + 1]


def _foreign(cx, y: Any, pullback, args: tuple):
    """Adapt a rule that knows nothing of the store when lists or dicts go in or come out.

    The cotangent of a list, dict or object lives in the store: the rule's result's is read from
    there before the rule's pullback runs, and the rule's tangents for list/dict arguments are put
    there instead of being returned.
    """
    fresh = is_tracked(y)
    if fresh and any(isinstance(a, tuple) and any(v is y for v in a) for a in args):
        # not made by the rule: an item of a tuple argument (``state[0]``), whose cotangent
        # joins its entry in the store, where the operations that filled it find it
        return _deposited(cx, y, len(args) + 1)
    if not fresh:
        for a in args:
            if type(a) in CONTAINERS:
                break
        else:
            return pullback
    snapshot = (dict(y) if type(y) is dict else tuple(y)) if type(y) in CONTAINERS else None
    takes = [i for i, a in enumerate(args, start=1) if type(a) in CONTAINERS]
    size = len(args) + 1

    def store_pullback(dy):
        if fresh:
            dy = cx.resolve(y, dy) if snapshot is None else cx.release(y, dy, snapshot)
            if isinstance(dy, AbstractZero):
                return (_ZERO,) * size
        elif isinstance(dy, AbstractZero):
            return (_ZERO,) * size
        out = list(pullback(dy))
        for i in takes:
            cx.deposit(args[i - 1], out[i])
            out[i] = _ZERO
        return tuple(out)

    return MustRun(store_pullback) if fresh else store_pullback


def _deposited(cx, y: Any, size: int):
    def deposit_pullback(dy):
        cx.deposit(y, dy)
        return (_ZERO,) * size

    return deposit_pullback


# An accumulator's array that nothing else refers to is added into in place, so that a loop
# accumulating a parameter's cotangent allocates it once. ``sys.getrefcount`` tells
# (``elements.EXCLUSIVE``); a cotangent shared with anything else (``a + a``'s, a pullback's, the
# caller's seed) has more. (A view, or an array of another shape or dtype, is never added into.)
# numbers added as they are (numpy's float64 scalars: what an element of an array is)
_REALS = frozenset({float, np.float64})


def accumulate_lazy(a: Any, b: Any) -> Any:
    """``chainrules_core.add``, which leaves thunks unevaluated, with fast paths for numbers and
    arrays (the cotangents of arguments that are only handed back: see ``__add_lazy`` in
    generated code)."""
    ta = type(a)
    if ta in _REALS and type(b) in _REALS:
        return a + b
    if (
        ta is np.ndarray
        and type(b) is np.ndarray
        and a.shape == b.shape
        and a.dtype is b.dtype
        and a.base is None
        and sys.getrefcount(a) == EXCLUSIVE
    ):
        a += b
        return a
    return crc.add(a, b)


def accumulate(a: Any, b: Any) -> Any:
    """``chainrules_core.add`` whose result is never a thunk, with fast paths for scalar code."""
    tb = type(b)
    if tb in _REALS:
        ta = type(a)
        if ta in _REALS:
            return a + b
        if ta is ZeroTangent:
            return b
    elif tb is ZeroTangent:  # ``a`` is an accumulator: already evaluated
        return a
    elif tb is NoTangent:  # from an argument that carries none (an int: a recursion's depth)
        return b if type(a) in ZERO_TYPES else a
    elif tb is np.ndarray:
        ta = type(a)
        if ta is ZeroTangent:  # an array operation's first cotangent
            return b
        if ta is np.ndarray and a.shape == b.shape:
            if a.dtype is b.dtype and a.base is None and sys.getrefcount(a) == EXCLUSIVE:
                a += b  # (see accumulate_lazy)
                return a
            return a + b
    return unthunk(crc.add(a, b))


def _closure_tangent(**captured: Any) -> Tangent:
    """The tangent of a closure: one field per captured variable."""
    return Tangent.from_backing(types.FunctionType, captured)


# The objects generated code reads through closure cells (names from reverse.RUNTIME_NAMES).
cache.RUNTIME_OBJECTS.update(
    {
        "__call": call,
        "__callm": call_masked,
        "__callk": call_keywords,
        **{f"__call{n}": fn for n, fn in enumerate(POSITIONAL_CALLS)},
        **{f"__callm{n}": fn for n, fn in enumerate(MASKED_CALLS)},
        "__add": accumulate,
        "__add_lazy": accumulate_lazy,
        "__zero": _ZERO,
        "__no": _NO,
        "__ZEROS": ZERO_TYPES,
        "__SCALARS": float_loops.NUMBERS,
        # what a zero accumulator takes as it is: values, never thunks, and the zeros (``__add``
        # would give the same: a NoTangent wins over a ZeroTangent)
        "__FIRST": frozenset({float, np.float64, np.ndarray, ZeroTangent, NoTangent}),
        # the kinds of pullback that ``must_run`` may find must run
        "__STATEFUL": _MUST_RUN | {types.FunctionType},
        "__ATOMS": frozenset(  # immutable values (see activity.ATOM)
            {int, float, complex, bool, str, bytes, type(None), np.int64, np.float64, np.bool_}
        ),
        "__PARTIALS": rrule.scalar_partials,
        "__partial_cotangents": elementwise.partial_cotangents,
        "__on_arrays": elementwise.on_arrays,
        "__on_matrices": array_inline.on_matrices,
        "__on_array": array_inline.on_array,
        "__matmul_left": array_inline.matmul_left,
        "__matmul_right": array_inline.matmul_right,
        "__element_read": elements.element_read,
        "__add_at": elements.add_at,
        "__element_write": elements.element_write,
        "__element_unwrite": elements.element_unwrite,
        "__appended": elements.appended,
        "__numbers": float_loops.numbers,
        "__REDUCTIONS": array_inline.REDUCTIONS,
        "__READS_INPUT": array_inline.READS_INPUT,
        "__fit": elementwise.fit,
        "__ndarray": np.ndarray,
        "__F64": np.dtype(np.float64),
        "__fit_partial": elementwise.fit_partial,
        "__like": elementwise.like,
        "__must_run": must_run,
        "__itself": cache.runs_itself,
        "__closure_tangent": _closure_tangent,
        "__deposit": deposit_global,
        "__resolve": lambda cx, obj, dx: cx.resolve(obj, dx),
        OPERATOR_NAME: operator,
        HELPERS_NAME: zy,
    }
)
