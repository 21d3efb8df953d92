"""Implicit parameters in nested differentiation: ``Params`` and ``Grads`` as differentiable values.

``gradient(f, params)`` is ``∂L/∂θ`` for the parameters ``θ`` that ``f`` reaches by itself (a
global, a captured variable, an attribute), everything else ``f`` reads (``c``) held. Its
derivative is, as for explicit arguments (see :mod:`zygote_engine.lib.modes`), a Hessian-vector
product computed forward over reverse; what differs is how the direction reaches the
parameters. Forward mode keeps the tangent of an array written in place by the array's identity
(its *shadow*, see :class:`~zygote_engine.array_writes.ForwardWrites`) and the tangent of a list,
dict or object in the tangent table, whatever name the code reaches it by. So :func:`params_jvp`
seeds the parameters there, and the first-order pass of ``f`` then sees them perturbed. A third
derivative differentiates :func:`params_jvp` itself, as code: to the forward mode outside, the
seeded shadows are arrays written in place (see :mod:`zygote_engine.lib.nested_writes`).

The tangent of a ``Params`` and of a ``Grads`` is a structural tangent of that type with one item
per parameter, in the order of the ``Params``: ``Tangent(Grads, dW, db)`` for the gradients of
``Params([W, b])``. A ``Grads`` is keyed by identity, and arrays are not hashable, so the
position in the ``Params`` is the key. User-facing, ``jvp`` and ``gradient`` turn such a tangent
into a ``Grads`` of the same parameters (see :func:`zygote_engine.public.public_tangent`).

A parameter's cotangent goes back through the ``Params`` argument only: when ``f`` also captures
the parameter, its field is left out of ``f``'s tangent (:func:`without_parameters`), so that the
outer level does not count it twice.
"""

from __future__ import annotations

import operator
import types
from typing import Any

import numpy as np

import chainrules_core as crc
from chainrules_core import AbstractZero, Tangent, frule, non_differentiable, rrule, unthunk
from zygote_engine import primitives as zy
from zygote_engine.array_writes import base_of
from zygote_engine.config import ForwardConfig, ZygoteRuleConfig
from zygote_engine.forward_runtime import jcall, tuple_tangent
from zygote_engine.lib.forward import forward_rule
from zygote_engine.lib.store import NO, ZERO, items_of
from zygote_engine.params import Grads, Params, member, params_tangents_pullback
from zygote_engine.public import engine_tangent
from zygote_engine.recursion import room_to_recurse
from zygote_engine.store import WHOLE, contents_of, is_tracked
from zygote_engine.tangent_table import reaches_tracked

__all__ = [
    "directions",
    "first_cotangents",
    "grads_items",
    "grads_tangent",
    "implicit",
    "outside_parameters",
    "params_first_order",
    "params_jvp",
    "params_second_order",
    "without_parameters",
]

_config = {"config": ZygoteRuleConfig}


def implicit(args: tuple) -> bool:
    """Whether the differentiation function was called as ``name(f, params)``."""
    return len(args) == 1 and type(args[0]) is Params


def grads_tangent(items: Any, cls: type = Grads) -> Any:
    """A ``Tangent(Grads, ...)`` (or of ``cls``) of per-parameter tangents; a zero if all are."""
    items = tuple(map(engine_tangent, items))
    if all(isinstance(unthunk(d), AbstractZero) for d in items):
        return ZERO
    return Tangent(cls, *items)


def directions(dgrads: Any, n: int) -> tuple:
    """Per-parameter tangents of a ``Grads`` as seeds (``None`` where there is none)."""
    return tuple(
        None if d is None or isinstance(d, AbstractZero) else d
        for d in map(unthunk, grads_items(dgrads, n))
    )


def params_jvp(
    fn: Any,
    args: tuple,
    dargs: tuple,
    params: Params,
    dparams: tuple,
    fx: Any = None,
    carriers: tuple = (),
) -> tuple[Any, Any]:
    """``(y, dy)``: forward mode of ``fn(*args)`` along ``dargs``, the parameters perturbed by
    ``dparams``.

    Each array parameter's tangent is seeded by identity (as the shadow of an array written in
    place), each container parameter's in the tangent table, so that ``fn`` sees the tangent
    whichever way it reaches the parameter. With ``fx`` the seeds go into that forward
    differentiation (a parameter that already has a tangent there keeps it), else into a new one.

    Forward mode runs a call plainly when none of its inputs carries a tangent; a parameter read
    as a global carries none until it is used. ``carriers`` are objects (the ``Params``, the
    reverse pass's config) given an empty entry in the table, so that the calls that take them,
    down to the code that uses the parameters, are differentiated.
    """
    fx = ForwardConfig() if fx is None else fx
    for obj in carriers:
        fx.entry(obj)
    for p, dp in zip(tuple(params), dparams):
        dp = unthunk(dp)
        if dp is None or isinstance(dp, AbstractZero):
            continue
        if type(p) is np.ndarray:
            writes = fx.array_writes()
            if not writes.holds(p):
                writes.register(p, dp)
        elif reaches_tracked(p):
            fx.record(p, engine_tangent(dp))
    with room_to_recurse():
        y, dy = jcall(fx, (fn, *args), (NO, *dargs))
    if fx.written is not None and fx.written.shadows:
        dy = fx.written.result_tangent(y, dy)
    return y, fx.tangent(y, dy)


def grads_items(dgrads: Any, n: int) -> list:
    """The per-parameter items of a tangent of a ``Grads`` (a ``Tangent``, a zero, a ``Grads``)."""
    dgrads = unthunk(dgrads)
    if isinstance(dgrads, Grads):
        return [engine_tangent(d) for d in dgrads.values()]
    return items_of(dgrads, n)


def params_first_order(f: Any, params: Params, dy: Any, cx: ZygoteRuleConfig) -> tuple:
    """``(df, grads, state)``: ``f``'s own tangent, the :class:`Grads` pulled back from ``dy``, by
    the reverse-mode differentiation ``cx``, and the cotangents of the state ``f`` read
    (:func:`~zygote_engine.params.state_cotangents`)."""
    return params_tangents_pullback(f, params, cx, with_state=True)[1](dy)


def outside_parameters(params: Params, pairs: tuple, cotangents: Any) -> tuple[tuple, list]:
    """The ``(obj, key)`` pairs of the state's cotangents, and those cotangents, that are not the
    parameters' (theirs go back through the :class:`Params`, and count once)."""
    owned = _owned(params)
    kept_pairs, kept = [], []
    for (obj, key), dx in zip(pairs, cotangents):
        held = obj if key is WHOLE else member(obj, key)
        if id(obj) in owned or id(held) in owned:
            continue
        if type(held) is np.ndarray and id(base_of(held)) in owned:
            continue  # a view of an array parameter
        kept_pairs.append((obj, key))
        kept.append(dx)
    return tuple(kept_pairs), kept


def _owned(params: Params) -> set:
    """The ids of the parameters and of everything a container parameter holds."""
    owned, pending = set(), list(params)
    while pending:
        x = pending.pop()
        if id(x) in owned:
            continue
        owned.add(id(x))
        if is_tracked(x) or type(x) is tuple:
            held = contents_of(x)
            pending.extend(held.values() if isinstance(held, dict) else held)
    return owned


def without_parameters(f: Any, df: Any, params: Params) -> Any:
    """``f``'s tangent ``df`` without the fields of captured variables that are parameters
    (their cotangents go back through the ``Params``)."""
    df = unthunk(df)
    closure = getattr(f, "__closure__", None)
    if type(f) is not types.FunctionType or not closure or not isinstance(df, Tangent):
        return df
    if not isinstance(df.backing, dict):
        return df
    held = set()
    for name, cell in zip(f.__code__.co_freevars, closure):
        try:
            if cell.cell_contents in params:
                held.add(name)
        except ValueError:  # an empty cell
            continue
    if not held:
        return df
    fields = {k: d for k, d in df.backing.items() if k not in held}
    return Tangent.from_backing(df.primal_type, fields) if fields else ZERO


def first_cotangents(f: Any, params: Params, df: Any, grads: Grads) -> tuple:
    """``(df, dparams)`` as a rule returns them, from a first-order ``(df, grads)``."""
    return (
        _zero_if_none(without_parameters(f, df, params)),
        grads_tangent(grads.values(), Params),
    )


def params_second_order(f: Any, params: Params, dy: Any, directions: tuple) -> tuple:
    """``(d f, d params, (pairs, d state))``: the derivative, along ``directions`` of the
    parameters, of the first-order tangents of ``f`` pulled back from ``dy`` (a Hessian-vector
    product), and that of the cotangents of the state ``f`` read besides the parameters, one per
    ``(obj, key)`` of ``pairs`` (see :func:`outside_parameters`)."""
    cx = ZygoteRuleConfig()
    args = (f, params, dy, cx)
    (_, _, state), dresult = params_jvp(
        params_first_order, args, (NO,) * 4, params, directions, carriers=(params, cx)
    )
    ddf, dgrads, dstate = items_of(dresult, 3)
    dcotangents = items_of(dstate, len(state))[1:]
    return (
        _zero_if_none(without_parameters(f, ddf, params)),
        grads_tangent(items_of(dgrads, len(params)), Params),
        outside_parameters(params, state[0].pairs, dcotangents),
    )


def _zero_if_none(d: Any) -> Any:
    return ZERO if d is None or isinstance(d, AbstractZero) else d


# -- Params: built from an iterable of parameters, its tangent one item per parameter --


@rrule.register(Params, **_config)
def _params(cx, items: Any = ()):
    ps = Params(items)
    listed = list(items) if type(items) in (list, tuple) else None

    def params_pullback(dps):
        dps = unthunk(dps)
        if listed is None or isinstance(dps, AbstractZero):
            return NO, NO if listed is None else ZERO
        by_id = {id(p): dp for p, dp in zip(tuple(ps), items_of(dps, len(ps)))}
        ditems = [by_id.pop(id(x), ZERO) for x in listed]  # a repeated parameter counts once
        return NO, Tangent(type(items), *ditems)

    return ps, params_pullback


@frule.register(Params)
def _params_frule(tangents, items: Any = ()):
    ps = Params(items)
    if type(items) not in (list, tuple) or len(tangents) < 2:
        return ps, ZERO
    dseq = unthunk(tangents[1])
    if isinstance(dseq, AbstractZero):
        return ps, ZERO
    by_id: dict[int, Any] = {}
    for x, dx in zip(items, items_of(dseq, len(items))):
        by_id.setdefault(id(x), dx)
    return ps, grads_tangent((by_id.get(id(p), ZERO) for p in ps), Params)


# A Params iterated: each parameter's tangent is the one it has here (an array's shadow where
# it was seeded by identity, see params_jvp), else what travelled with the Params.


def _parameter_tangents(fx, ps: Params, dps: Any) -> list:
    return [fx.tangent(p, d) for p, d in zip(tuple(ps), items_of(dps, len(ps)))]


@forward_rule(tuple, Params)
@forward_rule(zy.as_tuple, Params)
def _params_as_tuple(fx, tangents, ps: Params):
    return tuple(ps), tuple_tangent(_parameter_tangents(fx, ps, tangents[1]))


@forward_rule(list, Params)
@forward_rule(zy.as_list, Params)
@forward_rule(zy.collect, Params)
def _params_as_list(fx, tangents, ps: Params):
    y = list(ps)
    fx.record(y, _parameter_tangents(fx, ps, tangents[1]))
    return y, ZERO


# -- Grads: reading it, adding, scaling, flattening --


def _position(gs: Grads, p: Any) -> int:
    for i, q in enumerate(gs.params):
        if q is p:
            return i
    return -1


non_differentiable(_position)  # (a search by identity, also when the rule is differentiated)


def _one_item(n: int, i: int, d: Any) -> Any:
    items = [ZERO] * n
    if i >= 0:
        items[i] = d
    return grads_tangent(items)


def _grads_getitem(cx, gs: Grads, p: Any):
    n, i = len(gs), _position(gs, p)

    def grads_getitem_pullback(dy):
        return NO, _one_item(n, i, unthunk(dy)), NO

    return gs[p], grads_getitem_pullback


def _grads_getitem_frule(tangents: tuple, gs: Grads, p: Any):
    i = _position(gs, p)
    dgs = unthunk(tangents[1])
    return gs[p], ZERO if i < 0 or isinstance(dgs, AbstractZero) else dgs[i]


for _getitem in (Grads.__getitem__, operator.getitem):
    _types = () if _getitem is Grads.__getitem__ else (Grads, object)
    rrule.register(_getitem, *_types, **_config)(_grads_getitem)
    frule.add(_getitem, _types, _grads_getitem_frule)


@rrule.register(Grads.values, **_config)
def _grads_values(cx, gs: Grads):
    n = len(gs)

    def grads_values_pullback(dvalues):
        return NO, grads_tangent(items_of(dvalues, n))

    return gs.values(), grads_values_pullback


@frule.register(Grads.values)
def _grads_values_frule(tangents: tuple, gs: Grads):
    return gs.values(), Tangent(list, *grads_items(tangents[1], len(gs)))


@rrule.register(Grads.items, **_config)
def _grads_items(cx, gs: Grads):
    n = len(gs)

    def grads_items_pullback(ditems):
        pairs = items_of(ditems, n)
        return NO, grads_tangent(items_of(d, 2)[1] for d in pairs)

    return gs.items(), grads_items_pullback


@frule.register(Grads.items)
def _grads_items_frule(tangents: tuple, gs: Grads):
    dgs = grads_items(tangents[1], len(gs))
    return gs.items(), Tangent(list, *(Tangent(tuple, NO, d) for d in dgs))


@rrule.register(Grads.__add__, Grads, Grads, **_config)
def _grads_add(cx, a: Grads, b: Grads):
    def grads_add_pullback(d):
        return NO, d, d

    return a + b, grads_add_pullback


@frule.register(Grads.__add__, Grads, Grads)
def _grads_add_frule(tangents: tuple, a: Grads, b: Grads):
    return a + b, crc.add(tangents[1], tangents[2])


def _inner(dgs: Any, gs: Grads) -> float:
    """``Σ ⟨dgs_p, gs_p⟩`` over the parameters (``None`` and zeros count nothing)."""
    total = 0.0
    for d, g in zip(grads_items(dgs, len(gs)), gs.values()):
        d = unthunk(d)
        if g is not None and not isinstance(d, AbstractZero):
            total += float(np.sum(np.real(np.multiply(d, g))))
    return total


def _scaled(dgs: Any, scale: Any, n: int) -> Any:
    return grads_tangent(
        ZERO if isinstance(d, AbstractZero) else d * scale
        for d in map(unthunk, grads_items(dgs, n))
    )


@rrule.register(Grads.__mul__, Grads, object, **_config)
def _grads_scale(cx, gs: Grads, scale: Any):
    def grads_scale_pullback(d):
        d = unthunk(d)
        if isinstance(d, AbstractZero):
            return NO, ZERO, ZERO
        return NO, _scaled(d, scale, len(gs)), _inner(d, gs)

    return gs * scale, grads_scale_pullback


@frule.register(Grads.__mul__, Grads, object)
def _grads_scale_frule(tangents: tuple, gs: Grads, scale: Any):
    _, dgs, dscale = (unthunk(t) for t in tangents)
    dy = ZERO if isinstance(dgs, AbstractZero) else _scaled(dgs, scale, len(gs))
    if not isinstance(dscale, AbstractZero):
        dy = crc.add(dy, _scaled(Tangent(Grads, *_public_items(gs)), dscale, len(gs)))
    return gs * scale, dy


def _public_items(gs: Grads) -> tuple:
    return tuple(map(engine_tangent, gs.values()))


def _to_vector(cx, gs: Grads):
    def grads_to_vector_pullback(dv):
        dv = unthunk(dv)
        if isinstance(dv, AbstractZero):
            return NO, ZERO
        spread = Grads(gs.params, [None] * len(gs))
        spread.copy_from(dv)
        return NO, grads_tangent(spread.values())

    return gs.to_vector(), grads_to_vector_pullback


rrule.register(Grads.to_vector, **_config)(_to_vector)


@frule.register(Grads.to_vector)
def _to_vector_frule(tangents: tuple, gs: Grads):
    dgs = unthunk(tangents[1])
    if isinstance(dgs, AbstractZero):
        return gs.to_vector(), ZERO
    return gs.to_vector(), Grads(gs.params, grads_items(dgs, len(gs))).to_vector()
