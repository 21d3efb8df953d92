"""Rules of the engine's own differentiation functions: nested differentiation.

Code that calls ``gradient`` (a loss that uses a gradient, the outer of a Hessian) is
differentiated in reverse mode through these rules. Every second-order quantity they need is a
Hessian-vector product, computed forward-over-reverse: a ``jvp`` of the function that returns
the gradient. For a real ``f`` with gradient ``g(a) = ∇f(a)``, the cotangent ``w`` of ``g``
pulls back to ``∇²f(a) w``, which by the symmetry of second derivatives is the ``jvp`` of ``g``
along ``w``; the cotangent of the variables ``f`` captures (``f``'s own tangent) is that ``jvp``
of ``f``'s own tangent. Forward mode differentiates the reverse-mode engine itself (see
:mod:`zygote_engine.lib.nesting`), so the rules compose to any order.

``jacobian``, ``withjacobian``, ``hessian``, ``hessian_reverse`` and ``diaghessian`` have rules
in both modes, built from the same Hessian-vector products (see their section below); forward
mode differentiates the others by transforming their code.

Perturbations are not confused: each differentiation has its own context, and a derivative
taken inside is an ordinary value to the one outside, whose own derivative comes from these
rules (``gradient(lambda x: x * gradient(lambda y: x + y, 1.0)[0], 1.0)`` is ``(1.0,)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
from zygote_engine.jacobians import (
    WithJacobian,
    diaghessian,
    hessian,
    hessian_reverse,
    jacobian,
    withjacobian,
)
from zygote_engine.jvp import forward_pass, jvp
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


# -- Jacobians and Hessians: every derivative of a Jacobian is a sum of Hessian-vector products --
#
# Reverse: a cotangent J̄ of J(a) (row k: the gradient of y_k) pulls back to
# Σ_k ∇_a <e_k, J(a) J̄_k>, one Hessian-vector product of <e_k, f> per row that has a cotangent.
# Forward: by the symmetry of second derivatives, the derivative of J(a) along (ḟ, ȧ) is the
# Jacobian of the directional derivative a -> ∂f(a)[ḟ, ȧ].


def _jacobian_cotangent(f: Any, args: tuple, y: Any, djacobians: Any) -> tuple:
    """``(df, *dargs)`` from the cotangents of ``jacobian(f, *args)``'s matrices."""
    n = len(args)
    rows = np.size(y)
    dmatrices = [unthunk(d) for d in items_of(djacobians, n)]
    total = (ZERO, *([ZERO] * n))
    for k in range(rows):
        directions = tuple(
            None if isinstance(d, AbstractZero) or d is None else _row(d, k, rows, a)
            for d, a in zip(dmatrices, args)
        )
        if all(d is None or not np.any(d) for d in directions):
            continue
        total = _sum(total, _second_order(f, args, _one_hot(y, k), directions))
    return total


def _row(dmatrix: Any, k: int, rows: int, a: Any) -> Any:
    """Row ``k`` of a Jacobian's cotangent, shaped like the argument ``a``."""
    row = np.reshape(dmatrix, (rows, -1))[k]
    return float(row[0]) if np.ndim(a) == 0 else row.reshape(np.shape(a))


def _one_hot(y: Any, k: int) -> Any:
    if np.ndim(y) == 0:
        return 1.0
    e = np.zeros(np.shape(y))
    e.flat[k] = 1.0
    return e


def _along(f: Any, df: Any, dargs: tuple):
    """``a -> ∂f(a)[df, dargs]``, the derivative of ``f`` at ``a`` along ``f``'s own tangent
    ``df`` (what it captures) and the arguments' tangents ``dargs``."""
    dargs = _seeds(dargs)
    if isinstance(unthunk(df), AbstractZero):
        return lambda *a: jvp(f, a, dargs)[1]
    return lambda *a: forward_pass(f, a, dargs, df)[1]


def _seeds(dargs: tuple) -> tuple:
    """Arguments' tangents as ``jvp`` takes them: ``None`` for none."""
    return tuple(None if isinstance(unthunk(d), AbstractZero) else d for d in dargs)


def _matrices_tangent(dmatrices: tuple) -> Any:
    return Tangent(tuple, *(ZERO if d is None else d for d in dmatrices))


@rrule.register(withjacobian, **_config)
def _withjacobian(cx, f: Any, *args: Any, mode: str | None = None):
    _explicit_arguments("withjacobian", args)
    result = withjacobian(f, *args, mode=mode)
    _, back_all = tangents_pullback(f, args)
    n = len(args)

    def withjacobian_pullback(d):
        dval, djacobians = (unthunk(t) for t in items_of(d, 2))
        total = (ZERO, *([ZERO] * n))
        if not isinstance(dval, AbstractZero):
            total = _sum(total, _first_order(back_all, dval))
        if not isinstance(djacobians, AbstractZero):
            total = _sum(total, _jacobian_cotangent(f, args, result.val, djacobians))
        return (NO, *total)

    return result, withjacobian_pullback


@rrule.register(jacobian, **_config)
def _jacobian(cx, f: Any, *args: Any, mode: str | None = None):
    _explicit_arguments("jacobian", args)
    y, matrices = withjacobian(f, *args, mode=mode)

    def jacobian_pullback(djacobians):
        djacobians = unthunk(djacobians)
        if isinstance(djacobians, AbstractZero):
            return (NO, ZERO, *([ZERO] * len(args)))
        return (NO, *_jacobian_cotangent(f, args, y, djacobians))

    return matrices, jacobian_pullback


def _jacobian_frule(tangents: tuple, f: Any, *args: Any, mode: str | None = None):
    _explicit_arguments("jacobian", args)
    _, df, *dargs = tangents
    matrices = jacobian(f, *args, mode=mode)
    along = _along(f, df, tuple(dargs))
    dmatrices = jacobian(
        along, *args, mode=mode if isinstance(unthunk(df), AbstractZero) else "forward"
    )
    return matrices, _matrices_tangent(dmatrices)


def _withjacobian_frule(tangents: tuple, f: Any, *args: Any, mode: str | None = None):
    _, df, *dargs = tangents
    result = withjacobian(f, *args, mode=mode)
    _, dmatrices = _jacobian_frule(tangents, f, *args, mode=mode)
    _, dval = forward_pass(f, args, _seeds(tuple(dargs)), df)
    return result, Tangent(WithJacobian, val=dval, grad=dmatrices)


frule.add(jacobian, (), _jacobian_frule)
frule.add(withjacobian, (), _withjacobian_frule)


# A Hessian is the Jacobian of the gradient: its rules are the Jacobian's, of ``_gradient_of``
# bound to ``f``; ``f``'s own tangent is that function's captured ``f``'s.


def _gradient_of(f: Any):
    def gradient_of(a):
        g = gradient(f, a)[0]
        return np.zeros_like(a, dtype=float) if g is None else g

    return gradient_of


def _captured_f(dg: Any) -> Any:
    dg = unthunk(dg)
    return getattr(dg, "f", ZERO) if isinstance(dg, Tangent) else ZERO


def _hessian_rrule(compute: Any):
    def hessian_rrule(cx, f: Any, x: Any):
        h = compute(f, x)
        g = _gradient_of(f)

        def hessian_pullback(dh):
            dh = unthunk(dh)
            if isinstance(dh, AbstractZero):
                return NO, ZERO, ZERO
            dg, dx = _jacobian_cotangent(g, (x,), x, (dh,))
            return NO, _captured_f(dg), dx

        return h, hessian_pullback

    return hessian_rrule


def _hessian_frule(compute: Any):
    def hessian_frule(tangents: tuple, f: Any, x: Any):
        _, df, dx = tangents
        dg = ZERO if isinstance(unthunk(df), AbstractZero) else Tangent(type(f), f=df)
        h = compute(f, x)
        (dh,) = jacobian(_along(_gradient_of(f), dg, (dx,)), x, mode="forward")
        return h, float(dh[0]) if np.ndim(x) == 0 else dh

    return hessian_frule


def _hessian_rules(compute: Any) -> None:
    rrule.register(compute, object, object, **_config)(_hessian_rrule(compute))
    frule.add(compute, (), _hessian_frule(compute))


_hessian_rules(hessian)
_hessian_rules(hessian_reverse)


def _one_argument(args: tuple) -> Any:
    if len(args) != 1:
        raise UnsupportedConstructError(
            f"{user_location()}: diaghessian of several arguments inside differentiated code "
            "cannot be differentiated yet: take each argument's diagonal on its own, "
            "diaghessian(lambda x: f(x, y), x)"
        )
    return args[0]


@rrule.register(diaghessian, **_config)
def _diaghessian(cx, f: Any, *args: Any):
    x = _one_argument(args)
    diagonal = diaghessian(f, x)
    g = _gradient_of(f)

    def diaghessian_pullback(d):
        (dd,) = (unthunk(t) for t in items_of(d, 1))
        if isinstance(dd, AbstractZero) or dd is None:
            return NO, ZERO, ZERO
        dg, dx = _jacobian_cotangent(g, (x,), x, (np.diag(np.ravel(dd)),))
        return NO, _captured_f(dg), dx

    return diagonal, diaghessian_pullback


def _diaghessian_frule(tangents: tuple, f: Any, *args: Any):
    x = _one_argument(args)
    _, dh = _hessian_frule(hessian)(tangents, f, x)
    dd = (
        float(dh)
        if np.ndim(x) == 0
        else np.diag(np.reshape(dh, (np.size(x), -1))).reshape(np.shape(x))
    )
    return diaghessian(f, x), Tangent(tuple, dd)


frule.add(diaghessian, (), _diaghessian_frule)
