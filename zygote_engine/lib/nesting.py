"""Rules that let forward mode differentiate the engine's own machinery: nested differentiation.

A ``jvp`` of code that calls ``gradient`` (a Hessian-vector product, say) differentiates the
reverse-mode engine as it runs: its call protocol, the code it generated (whose definitions the
transform finds again, see :func:`zygote_engine.transform.source_of`), the rules' pullbacks and
the tangent arithmetic inside them. Most of that is ordinary Python, which forward mode
transforms like any other; what is here is the rest:

* the engine's decisions (which rule applies, which transform to run, whether a pullback must
  run, where an error is): they produce no derivative and are marked non-differentiable, so
  forward mode never looks inside them;
* tangent arithmetic (``add``, projection, ``unbroadcast``): linear, so the tangent of the result
  is the same operation on the arguments' tangents;
* ``Tangent`` values: the tangent of a structural tangent is a structural tangent of the same
  primal type, field by field.
"""

from __future__ import annotations

import inspect
import operator
import types
from typing import Any

import numpy as np

import chainrules_core as crc
from chainrules.numpy.ufuncs import plain_call_only
from chainrules_core import (
    AbstractZero,
    InplaceableThunk,
    Tangent,
    Thunk,
    frule,
    non_differentiable,
    rrule,
    unbroadcast,
    unthunk,
)
from chainrules_core.arrays import is_duck_array
from chainrules_core.projection import Projector, ProjectTo
from chainrules_core.rule_helpers import LINEAR_PULLBACKS, ScalarPullback
from chainrules_core.rules import RuleTable, _slot_of
from zygote_engine import (
    array_inline,
    binding,
    cache,
    construction,
    elements,
    elementwise,
    errors,
    float_loops,
    forward_runtime,
    params,
    runtime,
    store,
)
from zygote_engine.array_writes import base_of, is_view
from zygote_engine.batched import Batched, stacked
from zygote_engine.dunders import overrides_rule, runs_plainly, special_methods
from zygote_engine.forward_runtime import jcall
from zygote_engine.lib.forward import forward_rule
from zygote_engine.lib.store import NO, ZERO
from zygote_engine.public import engine_tangent
from zygote_engine.tangent_table import reaches_tracked

for _decision in (
    RuleTable.resolve,
    _slot_of,  # (the C method a bound method through super() binds)
    RuleTable.has_rules,
    runtime.must_run,
    cache.runs_itself,
    elementwise.on_arrays,
    array_inline.on_matrices,
    array_inline.on_array,
    type(array_inline.REDUCTIONS).get,
    runtime.store_aware,
    runtime._argument_map,
    errors.missing_rule_message,
    forward_runtime._binder,
    forward_runtime._carries_tangent,
    construction.constructible,
    construction.init_fields,
    construction.property_getter,
    construction.property_setter,
    special_methods,
    overrides_rule,
    runs_plainly,
    errors.user_location,
    store.is_tracked,
    store._slot_names,
    is_duck_array,
    binding.by_position,  # how a call's keywords are passed (runtime.call_keywords)
    runtime._may_carry_derivative,
    reaches_tracked,
    base_of,  # (the identity of a written array's memory)
    is_view,
    inspect.getattr_static,
    ProjectTo,
    plain_call_only,  # (a rule's check of the options it was called with)
    frozenset.issuperset,  # the store's "all zero?" tests
    frozenset.issubset,
    frozenset.isdisjoint,
    dict.fromkeys,  # a snapshot of keys (its values are None)
):
    non_differentiable(_decision)


# The generated functions the cache binds to a function share its closure cells: their tangent
# is the function's own (its captured variables').


@forward_rule(cache.jvp_for)
def _jvp_for(fx, tangents, fn: Any):
    return cache.jvp_for(fn), tangents[1]


@forward_rule(cache.forward_for)
def _forward_for(fx, tangents, fn: Any):
    forward = cache.forward_for(fn)
    fx.entry(forward)["run"] = tangents[1]
    return forward, ZERO


# The reverse call protocol: differentiating what a call runs (a rule, or a generated forward),
# not the protocol's own dispatch. This mirrors the first branch of ``runtime.call``, which
# nearly every call takes; for anything else the rule declines and the protocol's own code is
# transformed.


def _call_rule(fx, tangents, cx, f: Any, *args: Any, **kwargs: Any):
    tf = type(f)
    if kwargs or tf is types.MethodType or cx.written is not None:
        return None  # (after an array write, the protocol routes arrays' cotangents itself)
    if tf in runtime.BUILTIN_BOUND and type(f.__self__) not in runtime.UNBOUND_OWNERS:
        return None
    df, dargs = tangents[2], tangents[3:]
    found = runtime.resolve(cx, f, args)
    if found is not None and overrides_rule(f, args):
        return None
    if found is None:
        if tf is not types.FunctionType:
            return None
        forward = cache.forward_for(f)
        if forward.arity != len(args):
            return None
        return jcall(fx, (forward.run, cx, *args), (df, NO, *dargs))
    impl, takes_config, receiver_first = found
    if receiver_first:
        return None
    if impl in _LINEAR_RULES:
        plain = _linear_rule(fx, impl, takes_config, cx, f, args, dargs)
        if plain is not None:
            return plain
    if takes_config:
        result, dresult = jcall(fx, (impl, cx, *args), (NO, NO, *dargs))
    else:
        result, dresult = jcall(fx, (impl, *args), (NO, *dargs))
    if result is not None and _is_linear_pullback(result[1]):
        _LINEAR_RULES.add(impl)
    if result is None:  # the rule declined: the protocol differentiates the code
        rest = (cx, f, args, {}), (NO, NO, df, Tangent(tuple, *dargs), ZERO)
        return jcall(fx, (runtime.differentiate_code, *rest[0]), rest[1])
    y, pullback = result
    if is_view(y):  # (as runtime.call: the pullback hands on what writes through it leave)
        return jcall(fx, (runtime.through_arrays, cx, result, (f, *args)), (NO, NO, dresult, ZERO))
    if runtime.store_aware(pullback) or not any(type(x) in runtime.CONTAINERS for x in (y, *args)):
        return result, dresult
    dy, dpullback = dresult if isinstance(dresult, Tangent) else (ZERO, ZERO)
    primals = (runtime.adapted, cx, y, pullback, args, {})
    return jcall(fx, primals, (NO, NO, dy, dpullback, Tangent(tuple, *dargs), ZERO))


for _entry in (runtime.call, *runtime.POSITIONAL_CALLS):
    forward_rule(_entry)(_call_rule)


# Rules that have returned a pullback declared linear (``chainrules_core.linear_pullback``:
# ``x[i]``'s, a reshape's), which reads only shapes: such a pullback has no tangent, and the
# tangent of the rule's result is its function's forward rule's. The rule runs as it is instead
# of differentiated; a pullback that is not linear after all (rules are pure) sends the call
# the long way.
_LINEAR_RULES: set = set()


def _is_linear_pullback(pullback: Any) -> bool:
    return type(pullback) is types.FunctionType and pullback.__code__ in LINEAR_PULLBACKS


def _linear_rule(fx, impl, takes_config: bool, cx, f: Any, args: tuple, dargs: tuple):
    """``((y, pullback), tangent)`` of the call of a rule in :data:`_LINEAR_RULES`, or ``None``."""
    if frule.resolve(fx, f, args) is None or any(type(x) in runtime.CONTAINERS for x in args):
        return None
    result = impl(cx, *args) if takes_config else impl(*args)
    if (
        result is None
        or not _is_linear_pullback(result[1])
        or type(result[0]) in runtime.CONTAINERS
    ):
        _LINEAR_RULES.discard(impl)
        return None
    y = result[0]
    _, dy = jcall(fx, (f, *args), (NO, *dargs))
    if is_view(y):  # (as for any view a rule makes)
        forward_runtime.note_view(fx, y, args, (NO, *dargs))
        # the pullback hands on what writes through the view leave, as runtime.call makes it
        result = (y, runtime.ViewPullback(cx, (f, *args), result[1]))
    return result, ZERO if _is_zero(dy) else Tangent(tuple, dy, ZERO)


def _call_masked(fx, tangents, cx, inactive: tuple, f: Any, *args: Any):
    # Differentiated again, a call runs the forward of every derivative (a second derivative
    # needs what the first one left out), which returns the same tangents.
    plain = (NO, tangents[1], *tangents[3:])
    result = _call_rule(fx, plain, cx, f, *args)
    return jcall(fx, (runtime.call, cx, f, *args), plain) if result is None else result


for _entry in (runtime.call_masked, *runtime.MASKED_CALLS):
    forward_rule(_entry)(_call_masked)


@forward_rule(vars)
def _vars(fx, tangents, obj: Any):
    # the attribute dict is the object's own: it shares the object's entry in the table
    y = vars(obj)
    entry = fx.entry(obj)
    fx.tangents[id(y)] = (y, entry)
    return y, ZERO


# Gathering the gradients of implicit parameters (``params._collect``) is linear in the
# cotangents the backward pass left in the store and in ``f``'s own tangent: the tangent of the
# Grads is the same gathering of their tangents (the table's entries of the store's dicts), which
# is cheaper and simpler than differentiating the search by identity.


@forward_rule(params._collect)
def _collect(fx, tangents, cx, f: Any, df: Any, ps: Any, held: dict):
    tangent_store = {}
    for key, (obj, entries) in cx.store.items():
        found = fx.tangents.get(id(entries))
        dentries = found[1] if found is not None else {}
        tangent_store[key] = (obj, {k: dentries.get(k, ZERO) for k in entries})
    grads = params._collect(cx, f, df, ps, held)
    tcx = type(cx)()
    tcx.store = tangent_store
    dgrads = params._collect(tcx, f, tangents[3], ps, held).values()
    if all(d is None for d in dgrads):
        return grads, ZERO
    return grads, Tangent(params.Grads, *map(engine_tangent, dgrads))


# The state's cotangents a backward pass left in its store (``params.state_cotangents``): their
# tangents are the table's entries of the store's dicts, as for ``_collect``.


@forward_rule(params.state_cotangents)
def _state_cotangents(fx, tangents, cx):
    y = params.state_cotangents(cx)
    dcotangents = []
    for _, entries in cx.store.values():
        found = fx.tangents.get(id(entries))
        dentries = found[1] if found is not None else {}
        dcotangents.extend(dentries.get(k, ZERO) for k in entries)
    if all(isinstance(d, AbstractZero) for d in dcotangents):
        return y, ZERO
    return y, Tangent(tuple, NO, *dcotangents)


# Under nesting a thunk is computed when it is made: its laziness saves work at first order only,
# and differentiating its construction (and later its evaluation) costs more than the work.


@forward_rule(Thunk)
def _thunk(fx, tangents, compute: Any):
    return _computed(fx, compute, tangents[1])


@forward_rule(InplaceableThunk)
def _inplaceable_thunk(fx, tangents, add_into: Any, value: Any):
    return _computed(fx, value, tangents[2])


def _computed(fx, compute: Any, dcompute: Any) -> tuple[Any, Any]:
    if isinstance(compute, Thunk):
        return jcall(fx, (unthunk, compute), (NO, dcompute))
    return jcall(fx, (compute,), (dcompute,))


# The pullback of a scalar_rule: made and called through forward rules, not transformed. Its
# tangent is Tangent(ScalarPullback, args=..., y=...) (so a further derivative reads its fields);
# the derivative of dy * conj(p) is ddy * conj(p) + dy * conj(dp), dp the partials' derivative.


@forward_rule(ScalarPullback)
def _scalar_pullback(fx, tangents, f: Any, partials: Any, args: tuple, y: Any):
    fields = {"args": tangents[3], "y": tangents[4]}
    return ScalarPullback(f, partials, args, y), Tangent.from_backing(ScalarPullback, fields)


@forward_rule(ScalarPullback.__call__)
def _call_scalar_pullback(fx, tangents, pullback: ScalarPullback, dy: Any):
    _, dpullback, ddy = tangents
    args, y = pullback.args, pullback.y
    fields = dpullback.backing if isinstance(dpullback, Tangent) else {}
    dargs, dout = fields.get("args", ZERO), fields.get("y", ZERO)
    dargs = [ZERO] * len(args) if isinstance(dargs, AbstractZero) else list(_items(dargs))
    ps, dps = jcall(fx, (pullback.partials, *args, y), (NO, *dargs, dout))
    several = isinstance(ps, tuple)  # partials give a tuple, or one value for one argument
    ps = ps if several else (ps,)
    dps = _partial_tangents(dps, len(ps), several)
    dy, ddy = evaluated(fx, dy, ddy)
    cotangents, dcotangents = [], []
    for x, p, dp in zip(args, ps, dps):
        cotangents.append(ProjectTo(x)(unbroadcast(x, dy * _conjugate(p))))
        change = ZERO if isinstance(ddy, AbstractZero) else ddy * _conjugate(p)
        if not isinstance(dp, AbstractZero):
            change = crc.add(change, dy * _conjugate(dp))
        dcotangents.append(
            ZERO
            if isinstance(change, AbstractZero)
            else _linear(lambda d, x=x: ProjectTo(x)(unbroadcast(x, d)), change)
        )
    return (NO, *cotangents), (NO, *dcotangents)


def _partial_tangents(dps: Any, n: int, several: bool) -> list:
    """The tangents of ``n`` partials (of a tuple of them when ``several``), zeros spelt out."""
    if isinstance(dps, AbstractZero):
        return [ZERO] * n
    return list(_items(dps)) if several else [dps]


def _conjugate(p: Any) -> Any:
    if type(p) is Batched:  # a batch of partials' tangents (a Hessian's columns)
        return Batched(np.conj(p.values)) if np.iscomplexobj(p.values) else p
    return p.conjugate() if np.iscomplexobj(p) else p


def _items(d: Any) -> tuple:
    return d.backing if isinstance(d, Tangent) else tuple(d)


def evaluated(fx, x: Any, dx: Any) -> tuple[Any, Any]:
    """``(unthunk(x), its tangent)``: a thunk's computation is differentiated like any code."""
    if isinstance(x, Thunk):
        return jcall(fx, (unthunk, x), (NO, dx))
    return x, dx


# -- tangent arithmetic: linear --


@forward_rule(crc.add)
def _add(fx, tangents, a: Any, b: Any, **kwargs: Any):
    a, da = evaluated(fx, a, tangents[1])
    b, db = evaluated(fx, b, tangents[2])
    return crc.add(a, b), crc.add(da, db)


@forward_rule(runtime.accumulate)
@forward_rule(runtime.accumulate_lazy)  # (differentiated, the sum need not stay lazy)
def _accumulate(fx, tangents, a: Any, b: Any):
    a, da = evaluated(fx, a, tangents[1])
    b, db = evaluated(fx, b, tangents[2])
    return runtime.accumulate(a, b), runtime.accumulate(da, db)


def _linear(f, d: Any) -> Any:
    """``f(d)`` for a linear ``f``, column by column for a batch of tangents."""
    if type(d) is Batched:
        return stacked([f(d.values[i]) for i in range(len(d.values))])
    return f(d)


# The helpers of the inline adjoints (see elementwise.py and array_inline.py): linear in the
# cotangent, bilinear in the cotangent and an operand; rules here spare forward mode their shape
# and dtype tests, which would each be a differentiated call.


def _is_zero(d: Any) -> bool:
    return isinstance(d, AbstractZero)


@forward_rule(elementwise.like)
def _like(fx, tangents, x: Any):
    y = elementwise.like(x)
    return y, tangents[1] if y is x else NO  # a number is kept, an array's shape has no tangent


@forward_rule(elementwise.fit)
def _fit(fx, tangents, g: Any, x: Any):
    g, dg = evaluated(fx, g, tangents[1])
    y = elementwise.fit(g, x)
    return y, dg if _is_zero(dg) else _linear(lambda d: elementwise.fit(d, x), dg)


@forward_rule(elementwise.fit_partial)
def _fit_partial(fx, tangents, dy: Any, p: Any, x: Any):
    dy, ddy = evaluated(fx, dy, tangents[1])
    dp = tangents[2]
    change = ZERO if _is_zero(ddy) else ddy * _conjugate(p)
    if not _is_zero(dp):
        change = crc.add(change, dy * _conjugate(dp))
    y = elementwise.fit_partial(dy, p, x)
    return y, change if _is_zero(change) else _linear(lambda d: elementwise.fit(d, x), change)


def _bilinear(product, a: Any, da: Any, b: Any, db: Any) -> Any:
    """The tangent of ``product(a, b)``, linear in each argument."""
    change = ZERO if _is_zero(da) else _linear(lambda d: product(d, b), da)
    if not _is_zero(db):
        change = crc.add(change, _linear(lambda d: product(a, d), db))
    return change


@forward_rule(array_inline.matmul_left)
def _matmul_left(fx, tangents, dy: Any, b: Any, a: Any):
    dy, ddy = evaluated(fx, dy, tangents[1])

    def product(d: Any, e: Any) -> Any:  # (fitted to a: linear too)
        return array_inline.matmul_left(d, e, a)

    return product(dy, b), _bilinear(product, dy, ddy, b, tangents[2])


@forward_rule(array_inline.matmul_right)
def _matmul_right(fx, tangents, a: Any, dy: Any, b: Any):
    dy, ddy = evaluated(fx, dy, tangents[2])

    def product(d: Any, e: Any) -> Any:
        return array_inline.matmul_right(d, e, b)

    return product(a, dy), _bilinear(product, a, tangents[1], dy, ddy)


# Elements read and written in the generated code (zygote_engine.elements): nested, a read of a
# vector written in place, every write and every append take the rules (which follow the writes
# of the inner differentiation), so the records of those are None here; a read of a vector never
# written keeps its record, and its add_at is linear.


def _unwritten(read: tuple | None) -> tuple | None:
    return None if read is None or len(read) == 3 else read


@forward_rule(elements.element_read)
def _element_read(fx, tangents, cx: Any, x: Any, index: Any):
    return _unwritten(elements.element_read(cx, x, index)), NO


@rrule.register(elements.element_read)
def _element_read_rrule(cx: Any, x: Any, index: Any):
    return _unwritten(elements.element_read(cx, x, index)), lambda _: (NO, NO, NO, NO)


@forward_rule(elements.element_write)
def _element_write(fx, tangents, cx: Any, a: Any, index: Any, v: Any):
    return None, NO


@rrule.register(elements.element_write)
def _element_write_rrule(cx: Any, a: Any, index: Any, v: Any):
    return None, lambda _: (NO, NO, NO, NO, NO)


@forward_rule(elements.appended)
def _appended(fx, tangents, cx: Any, xs: list, item: Any):
    return None, NO


@rrule.register(elements.appended)
def _appended_rrule(cx: Any, xs: list, item: Any):
    return None, lambda _: (NO, NO, NO, NO)


# Loops of number arithmetic (zygote_engine.float_loops): nested, the general loops run, which
# the rules of every operation (and the tangent table) follow.


@forward_rule(float_loops.numbers)
def _numbers(fx, tangents, items: Any, *values: Any):
    return False, NO


@rrule.register(float_loops.numbers)
def _numbers_rrule(items: Any, *values: Any):
    return False, lambda _: (NO, NO, *(NO for _ in values))


@forward_rule(elements.add_at)
def _add_at(fx, tangents, acc: Any, read: tuple, dy: Any):
    acc, dacc = evaluated(fx, acc, tangents[1])
    dy, ddy = evaluated(fx, dy, tangents[3])
    change = dacc
    if not _is_zero(ddy):  # the read's tangent: ddy at its index
        element = _linear(lambda d: elements.add_at(ZERO, read, d), ddy)
        change = element if _is_zero(dacc) else crc.add(dacc, element)
    return elements.add_at(acc, read, dy), change


@forward_rule(array_inline.filled)
def _filled(fx, tangents, shape: tuple, value: Any):
    # (its code writes into the array it makes, which forward mode would have to follow)
    y, dvalue = array_inline.filled(shape, value), tangents[2]
    if _is_zero(dvalue):
        return y, ZERO
    return y, _linear(lambda d: array_inline.filled(shape, d), dvalue)


@forward_rule(unbroadcast)
def _unbroadcast(fx, tangents, x: Any, dx: Any):
    dx, ddx = evaluated(fx, dx, tangents[2])
    return unbroadcast(x, dx), _linear(lambda d: unbroadcast(x, d), ddx)


def _projection_rule(call):
    @forward_rule(call)
    def _(fx, tangents, project: Projector, dx: Any):
        dx, ddx = evaluated(fx, dx, tangents[2])
        ddx = fx.tangent(dx, ddx)  # (a list's or a dict's is in the table)
        return project(dx), _linear(project, ddx)


for _projector in (Projector, *Projector.__subclasses__()):
    if "__call__" in vars(_projector):
        _projection_rule(_projector.__call__)


# -- structural tangents as values --


@forward_rule(Tangent.from_backing.__func__)
def _from_backing(fx, tangents, cls: type, primal_type: type, backing: Any):
    y = Tangent.from_backing(primal_type, backing)
    dbacking = fx.tangent(backing, tangents[3])
    if isinstance(dbacking, AbstractZero):
        return y, ZERO
    items = dbacking.backing
    if isinstance(backing, dict):
        items = {k: items.get(k, ZERO) for k in backing}
    return y, Tangent.from_backing(primal_type, items)


@forward_rule(Tangent)
def _tangent(fx, tangents, primal_type: type, *items: Any, **fields: Any):
    y = Tangent(primal_type, *items, **fields)
    ditems = tangents[2 : 2 + len(items)]
    dfields = dict(zip(fields, tangents[2 + len(items) :]))
    if all(isinstance(d, AbstractZero) for d in (*ditems, *dfields.values())):
        return y, ZERO
    return y, Tangent(primal_type, *ditems, **dfields)


@forward_rule(getattr, Tangent, str)
def _tangent_field(fx, tangents, t: Tangent, name: str):
    dt = tangents[1]
    y, dy = getattr(t, name), getattr(dt, name) if isinstance(dt, Tangent) else ZERO
    fx.record(y, dy)  # a dict backing is a mutable object: its tangent belongs in the table
    return y, dy


def _items_of(dt: Any, n: int) -> list:
    return list(dt) if isinstance(dt, Tangent) else [ZERO] * n


@forward_rule(tuple, Tangent)
def _tangent_as_tuple(fx, tangents, t: Tangent):
    y = tuple(t)
    dt = tangents[1]
    return y, Tangent(tuple, *dt) if isinstance(dt, Tangent) else ZERO


@forward_rule(list, Tangent)
def _tangent_as_list(fx, tangents, t: Tangent):
    y = list(t)
    fx.record(y, _items_of(tangents[1], len(y)))
    return y, ZERO


@forward_rule(operator.getitem, Tangent, object)
def _tangent_item(fx, tangents, t: Tangent, key: Any):
    dt = tangents[1]
    return t[key], dt[key] if isinstance(dt, Tangent) else ZERO


# -- arithmetic on tangent values (``dy = ZeroTangent(); dy = dy + p * dx`` in a rule) --

_LINEAR = {operator.add: operator.add, operator.sub: operator.sub}


def _tangent_arithmetic_rule(op):
    def tangent_arithmetic(fx, tangents, a: Any, b: Any):
        _, da, db = tangents
        if op in _LINEAR:
            return op(a, b), op(da, db)
        if op is operator.mul:
            return a * b, da * b + a * db
        return a / b, da / b - (a / b) * db / b  # truediv

    _kinds = (AbstractZero, Tangent, object)
    for left in _kinds:
        for right in _kinds:
            if left is not object or right is not object:
                forward_rule(op, left, right)(tangent_arithmetic)


for _op in (operator.add, operator.sub, operator.mul, operator.truediv):
    _tangent_arithmetic_rule(_op)


@forward_rule(operator.neg, AbstractZero)
@forward_rule(operator.neg, Tangent)
def _negated(fx, tangents, a: Any):
    return -a, -tangents[1]
