"""Reverse rules of the engine's own differentiation functions: nested differentiation.

Code that calls ``gradient`` (a loss that uses a gradient, the outer of a Hessian) is
differentiated in reverse mode through these rules. Every second-order quantity they need is a
Hessian-vector product, computed forward-over-reverse: a ``jvp`` of the function that returns
the gradient. For a real ``f`` with gradient ``g(a) = ∇f(a)``, the cotangent ``w`` of ``g``
pulls back to ``∇²f(a) w``, which by the symmetry of second derivatives is the ``jvp`` of ``g``
along ``w``; the cotangent of the variables ``f`` captures (``f``'s own tangent) is that ``jvp``
of ``f``'s own tangent. Forward mode differentiates the reverse-mode engine itself (see
:mod:`zygote_engine.lib.nesting`), so the rules compose to any order.

Perturbations are not confused: each differentiation has its own context, and a derivative
taken inside is an ordinary value to the one outside, whose own derivative comes from these
rules (``gradient(lambda x: x * gradient(lambda y: x + y, 1.0)[0], 1.0)`` is ``(1.0,)``).
"""

from __future__ import annotations

from typing import Any

import chainrules_core as crc
from chainrules_core import AbstractZero, Tangent, frule, rrule, unthunk
from zygote_engine.api import (
    Pullback,
    WithGradient,
    derivative,
    gradient,
    pullback,
    tangents_pullback,
    withgradient,
)
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.errors import UnsupportedConstructError, user_location
from zygote_engine.jacobians import diaghessian, hessian, hessian_reverse, jacobian, withjacobian
from zygote_engine.jvp import jvp
from zygote_engine.lib.store import NO, ZERO, items_of
from zygote_engine.params import Params
from zygote_engine.public import engine_tangent

_config = {"config": ZygoteRuleConfig}


def _explicit_arguments(name: str, args: tuple) -> None:
    """Nested differentiation takes explicit arguments: a ``Params`` would silently be lost."""
    if any(isinstance(a, Params) for a in args):
        raise UnsupportedConstructError(
            f"{user_location()}: {name}(f, params) with implicit Params inside differentiated code "
            f"cannot be differentiated again yet: pass the parameters as arguments, "
            f"{name}(lambda W, b: loss(W, b), W, b)"
        )


def _directions(dgrads: Any, n: int) -> tuple:
    """The cotangents of ``n`` gradients as ``jvp`` tangents (``None`` where there is none)."""
    return tuple(
        None if isinstance(d, AbstractZero) else d for d in map(unthunk, items_of(dgrads, n))
    )


def _second_order(f: Any, args: tuple, dy: Any, directions: tuple) -> tuple:
    """``(d df, *d args)``: the jvp along ``directions`` of ``a -> (df, *grads)`` at ``args``,
    the tangents of ``f(*a)`` pulled back from ``dy`` (with ``f``'s own tangent first)."""
    _, (ddf, dgrads) = jvp(lambda *a: tangents_pullback(f, a)[1](dy), args, directions)
    return (_closure(ddf), *map(engine_tangent, dgrads))


def _closure(ddf: Any) -> Any:
    return ZERO if ddf is None or isinstance(ddf, AbstractZero) else ddf


def _sum(a: tuple, b: tuple) -> tuple:
    return tuple(crc.add(x, y) for x, y in zip(a, b))


def _first_order(back_all: Any, dy: Any) -> tuple:
    """``(df, *dargs)`` pulled back from ``dy`` by the first-order pullback ``back_all``."""
    df, grads = back_all(dy)
    return (df, *map(engine_tangent, grads))


@rrule.register(gradient, **_config)
def _gradient(cx, f: Any, *args: Any):
    _explicit_arguments("gradient", args)
    grads = gradient(f, *args)
    n = len(args)

    def gradient_pullback(dgrads):
        directions = _directions(dgrads, n)
        if all(d is None for d in directions):
            return (NO, ZERO, *([ZERO] * n))
        return (NO, *_second_order(f, args, 1.0, directions))

    return grads, gradient_pullback


@rrule.register(withgradient, **_config)
def _withgradient(cx, f: Any, *args: Any):
    _explicit_arguments("withgradient", args)
    _, back_all = tangents_pullback(f, args)
    result = withgradient(f, *args)
    n = len(args)

    def withgradient_pullback(d):
        dval, dgrads = items_of(d, 2)
        total = (ZERO, *([ZERO] * n))
        dval = unthunk(dval)
        if not isinstance(dval, AbstractZero):
            total = _sum(total, _first_order(back_all, dval))
        directions = _directions(dgrads, n)
        if any(d is not None for d in directions):
            total = _sum(total, _second_order(f, args, 1.0, directions))
        return (NO, *total)

    return WithGradient(*result), withgradient_pullback


@rrule.register(derivative, object, object, **_config)
def _derivative(cx, f: Any, x: Any):
    dx = derivative(f, x)

    def derivative_pullback(ddx):
        ddx = unthunk(ddx)
        if isinstance(ddx, AbstractZero):
            return NO, ZERO, ZERO
        return (NO, *_second_order(f, (x,), 1.0, (ddx,)))

    return dx, derivative_pullback


@rrule.register(pullback, **_config)
def _pullback(cx, f: Any, *args: Any):
    _explicit_arguments("pullback", args)
    y, back = pullback(f, *args)
    n = len(args)

    def pullback_pullback(d):
        dy, dback = items_of(d, 2)
        total = (ZERO, *([ZERO] * n))
        dy = unthunk(dy)
        if not isinstance(dy, AbstractZero):
            total = _sum(total, _first_order(back.back_all, dy))
        dback = unthunk(dback)
        if isinstance(dback, Tangent):  # what calls of back(...) handed back to f and args
            total = _sum(total, (dback.f, *items_of(dback.args, n)))
        return (NO, *total)

    return (y, back), pullback_pullback


@rrule.register(Pullback.__call__, **_config)
def _call_pullback(cx, back: Pullback, dy: Any):
    grads = back(dy)
    f, args, n = back.f, back.args, len(back.args)

    def back_pullback(dgrads):
        directions = _directions(dgrads, n)
        if all(d is None for d in directions):
            return NO, ZERO, ZERO
        # grads = J(a)^T dy: linear in dy (its cotangent is J w), and J(a)^T dy's derivative
        # in a (and in what f captures) along w is the Hessian of <dy, f> times w
        _, ddy = jvp(f, args, directions)
        ddf, *dargs = _second_order(f, args, dy, directions)
        dback = Tangent(Pullback, f=ddf, args=Tangent(tuple, *dargs))
        return NO, dback, engine_tangent(ddy)

    return grads, back_pullback


@rrule.register(jvp, **_config)
def _jvp(cx, f: Any, primals: Any, tangents: Any):
    primals, tangents = tuple(primals), tuple(tangents)
    y, dy = jvp(f, primals, tangents)
    _, back_all = tangents_pullback(f, primals)
    n = len(primals)

    def jvp_pullback(d):
        dy_bar, ddy_bar = (unthunk(t) for t in items_of(d, 2))
        dprimals = (ZERO, *([ZERO] * n))
        dtangents = [ZERO] * n
        if not isinstance(dy_bar, AbstractZero):  # y = f(a): J^T ȳ
            dprimals = _sum(dprimals, _first_order(back_all, dy_bar))
        if not isinstance(ddy_bar, AbstractZero):
            # dy = J(a) v: linear in v (J^T ẏ̄), and in a the Hessian of <ẏ̄, f> times v
            dtangents = list(_first_order(back_all, ddy_bar)[1:])
            dprimals = _sum(dprimals, _second_order(f, primals, ddy_bar, tangents))
        df, *dargs = dprimals
        return NO, df, Tangent(tuple, *dargs), Tangent(tuple, *dtangents)

    return (y, dy), jvp_pullback


def _not_differentiable_yet(f: Any) -> None:
    name = f.__name__

    def refuse(*args: Any, **kwargs: Any):
        raise UnsupportedConstructError(
            f"{user_location()}: {name} inside differentiated code cannot be differentiated "
            f"yet (it fills its matrix in place): write what you need with gradient, jvp or "
            f"pullback, which nest to any order (a Hessian-vector product is "
            f"jvp(lambda x: gradient(f, x)[0], (x,), (v,)))"
        )

    rrule.add(f, (), refuse)
    frule.add(f, (), refuse)


for _matrix in (jacobian, withjacobian, hessian, hessian_reverse, diaghessian):
    _not_differentiable_yet(_matrix)
