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

What ``f`` reads by itself (a module global, an attribute of an object reached through one, an
item of a container) has a derivative too: ``f``'s backward pass leaves the state's cotangents in
its store, by identity (:func:`~zygote_engine.params.state_cotangents`). The rules hand them to
the store of the differentiation outside (``cx``), where whatever put the state there (an
attribute assignment, a global assigned, a :class:`Params`) takes them: to first order as they
are, to second order their derivative along the cotangent, from the same Hessian-vector product.

Perturbations are not confused: each differentiation has its own context, and a derivative
taken inside is an ordinary value to the one outside, whose own derivative comes from these
rules (``gradient(lambda x: x * gradient(lambda y: x + y, 1.0)[0], 1.0)`` is ``(1.0,)``).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

import chainrules_core as crc
from chainrules_core import AbstractZero, Tangent, frule, rrule, unthunk
from zygote_engine import module_state
from zygote_engine.api import (
    ARGUMENTS_ONLY,
    Pullback,
    WithGradient,
    check_callable,
    check_scalar,
    derivative,
    gradient,
    pullback,
    pulled_back,
    recorded_call,
    tangents_pullback,
    withgradient,
)
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.errors import UnsupportedConstructError, user_location
from zygote_engine.forward_runtime import READS_STATE, jcall, tuple_tangent
from zygote_engine.jacobians import (
    WithJacobian,
    diaghessian,
    hessian,
    hessian_reverse,
    jacobian,
    withjacobian,
)
from zygote_engine.jvp import forward_pass, jvp
from zygote_engine.lib.forward import forward_rule
from zygote_engine.lib.implicit import (
    directions as parameter_directions,
)
from zygote_engine.lib.implicit import (
    first_cotangents,
    grads_items,
    grads_tangent,
    implicit,
    outside_parameters,
    params_jvp,
    params_second_order,
)
from zygote_engine.lib.store import NO, ZERO, items_of
from zygote_engine.params import (
    Params,
    params_pullback,
    params_tangents_pullback,
    state_cotangents,
)
from zygote_engine.public import engine_tangent, public_gradient, public_tangent
from zygote_engine.recursion import room_to_recurse
from zygote_engine.runtime import call, call_masked, must_run
from zygote_engine.store import WHOLE, ZERO_TYPES, is_tracked

_config = {"config": ZygoteRuleConfig}


def _directions(dgrads: Any, n: int) -> tuple:
    """The cotangents of ``n`` gradients as ``jvp`` tangents (``None`` where there is none)."""
    return tuple(
        None if isinstance(d, AbstractZero) else d for d in map(unthunk, items_of(dgrads, n))
    )


class _Outside:
    """The reverse-mode differentiation ``cx`` outside a rule, where the cotangents of the state
    the inner function read go (:meth:`deposit`).

    A module global that ``cx`` assigned before the rule ran is read by the inner function as
    the value assigned, whose cotangent the assignment takes from the global's entry: those
    values are noted at the call (``aliases``, by identity).
    """

    __slots__ = ("aliases", "cx")

    def __init__(self, cx: ZygoteRuleConfig) -> None:
        self.cx, self.aliases = cx, _assigned_values(cx)

    def deposit(self, pairs: tuple, cotangents: Any) -> None:
        """Add the cotangent of each ``(obj, key)`` of ``pairs`` to ``cx``'s store."""
        for (obj, key), dx in zip(pairs, cotangents):
            if key is WHOLE and id(obj) in self.aliases:
                owner, name, _ = self.aliases[id(obj)]
                self.cx.accumulate(owner, name, dx)
            else:
                self.cx.accumulate(obj, key, dx)

    def first_order(self, inner: ZygoteRuleConfig, back_all: Any, dy: Any) -> tuple:
        """``(df, *dargs)`` pulled back from ``dy`` by ``back_all``, which runs in ``inner``;
        the state's cotangents it left go to ``cx``."""
        df, grads = back_all(dy)
        places, *cotangents = state_cotangents(inner)
        self.deposit(places.pairs, cotangents)
        return (df, *map(engine_tangent, grads))


def _assigned_values(cx: ZygoteRuleConfig) -> dict:
    """``{id(value): (owner, name, value)}`` of the module globals ``cx`` assigned, as they are."""
    if not cx.assigned:
        return {}
    owners = {id(owner): owner for _, owner in list(module_state._owners.values())}
    values = {}
    for owner_id, name in cx.assigned:
        owner = owners.get(owner_id)
        if owner is None:  # a module assigned as ``othermodule.g = v``
            owner = next((m for m in list(sys.modules.values()) if id(m) == owner_id), None)
        namespace = owner if isinstance(owner, dict) else getattr(owner, "__dict__", {})
        if name in namespace:
            value = namespace[name]
            values[id(value)] = (owner, name, value)
    return values


def _pullback_in(f: Any, args: tuple) -> tuple:
    """``(y, back_all, inner)``: :func:`tangents_pullback` run in a differentiation of its own."""
    inner = ZygoteRuleConfig()
    y, back_all = tangents_pullback(f, args, cx=inner)
    return y, back_all, inner


def _first_order_with_state(f: Any, dy: Any):
    """``a -> (df, grads, state)``: ``f``'s first-order tangents at ``a`` pulled back from ``dy``,
    and the cotangents of the state ``f`` read (:func:`state_cotangents`)."""

    def first_order(*a):
        inner = ZygoteRuleConfig()
        y, pb, held = recorded_call(inner, f, a, True)
        df, grads = pulled_back(inner, a, held, y, pb, is_tracked(y), dy)
        return df, grads, state_cotangents(inner)

    return first_order


def _second_order(outside: _Outside, f: Any, args: tuple, dy: Any, directions: tuple) -> tuple:
    """``(d df, *d args)``: the jvp along ``directions`` of ``a -> (df, *grads)`` at ``args``,
    the tangents of ``f(*a)`` pulled back from ``dy`` (with ``f``'s own tangent first); that of
    the state's cotangents goes to ``outside``."""
    y, dy_all = forward_pass(_first_order_with_state(f, dy), args, directions)
    df, grads, state = y
    ddf, dgrads, dstate = items_of(dy_all, 3)
    ddf, dgrads = public_tangent((df, grads), Tangent(tuple, ddf, dgrads))
    outside.deposit(state[0].pairs, items_of(dstate, len(state))[1:])
    return (_closure(ddf), *map(engine_tangent, dgrads))


def _closure(ddf: Any) -> Any:
    return ZERO if ddf is None or isinstance(ddf, AbstractZero) else ddf


def _sum(a: tuple, b: tuple) -> tuple:
    return tuple(crc.add(x, y) for x, y in zip(a, b))


@rrule.register(gradient, **_config)
def _gradient(cx, f: Any, *args: Any):
    if implicit(args):
        return _params_gradient(cx, f, args[0])
    grads = gradient(f, *args)
    n = len(args)
    outside = _Outside(cx)

    def gradient_pullback(dgrads):
        directions = _directions(dgrads, n)
        if all(d is None for d in directions):
            return (NO, ZERO, *([ZERO] * n))
        return (NO, *_second_order(outside, f, args, 1.0, directions))

    return grads, gradient_pullback


@rrule.register(withgradient, **_config)
def _withgradient(cx, f: Any, *args: Any):
    if implicit(args):
        return _params_withgradient(cx, f, args[0])
    _, back_all, inner = _pullback_in(f, args)
    result = withgradient(f, *args)
    n = len(args)
    outside = _Outside(cx)

    def withgradient_pullback(d):
        dval, dgrads = items_of(d, 2)
        total = (ZERO, *([ZERO] * n))
        dval = unthunk(dval)
        if not isinstance(dval, AbstractZero):
            total = _sum(total, outside.first_order(inner, back_all, dval))
        directions = _directions(dgrads, n)
        if any(d is not None for d in directions):
            total = _sum(total, _second_order(outside, f, args, 1.0, directions))
        return (NO, *total)

    return WithGradient(*result), withgradient_pullback


@rrule.register(derivative, object, object, **_config)
def _derivative(cx, f: Any, x: Any):
    dx = derivative(f, x)
    outside = _Outside(cx)

    def derivative_pullback(ddx):
        ddx = unthunk(ddx)
        if isinstance(ddx, AbstractZero):
            return NO, ZERO, ZERO
        return (NO, *_second_order(outside, f, (x,), 1.0, (ddx,)))

    return dx, derivative_pullback


@rrule.register(pullback, **_config)
def _pullback(cx, f: Any, *args: Any):
    check_callable(f, "pullback")
    if implicit(args):
        y, back_all = params_tangents_pullback(f, args[0], with_state=True)
    else:
        y, back_all, inner = _pullback_in(f, args)
    back = Pullback(f, args, back_all)
    n = len(args)
    outside = _Outside(cx)

    def first_order(dy):
        if implicit(args):
            return _params_first_order(outside, f, args[0], back_all, dy)
        return outside.first_order(inner, back_all, dy)

    def pullback_pullback(d):
        dy, dback = items_of(d, 2)
        total = (ZERO, *([ZERO] * n))
        dy = unthunk(dy)
        if not isinstance(dy, AbstractZero):
            total = _sum(total, first_order(dy))
        dback = unthunk(dback)
        if isinstance(dback, Tangent):  # what calls of back(...) handed back to f and args
            total = _sum(total, (dback.f, *items_of(dback.args, n)))
        return (NO, *total)

    return (y, back), pullback_pullback


@rrule.register(Pullback.__call__, **_config)
def _call_pullback(cx, back: Pullback, dy: Any):
    grads = back(dy)
    f, args, n = back.f, back.args, len(back.args)
    outside = _Outside(cx)

    def back_pullback(dgrads):
        # grads = J(a)^T dy: linear in dy (its cotangent is J w), and J(a)^T dy's derivative
        # in a (and in what f captures) along w is the Hessian of <dy, f> times w
        if implicit(args):
            along = parameter_directions(dgrads, len(args[0]))
            if all(d is None for d in along):
                return NO, ZERO, ZERO
            _, ddy = params_jvp(f, (), (), args[0], along)
            second = _params_second_order(outside, f, args[0], dy, along)
        else:
            along = _directions(dgrads, n)
            if all(d is None for d in along):
                return NO, ZERO, ZERO
            _, ddy = jvp(f, args, along)
            ddy, second = engine_tangent(ddy), _second_order(outside, f, args, dy, along)
        dback = Tangent(Pullback, f=second[0], args=Tangent(tuple, *second[1:]))
        return NO, dback, ddy

    return grads, back_pullback


@rrule.register(jvp, **_config)
def _jvp(cx, f: Any, primals: Any, tangents: Any):
    primals, tangents = tuple(primals), tuple(tangents)
    y, dy = jvp(f, primals, tangents)
    _, back_all, inner = _pullback_in(f, primals)
    n = len(primals)
    outside = _Outside(cx)

    def jvp_pullback(d):
        dy_bar, ddy_bar = (unthunk(t) for t in items_of(d, 2))
        dprimals = (ZERO, *([ZERO] * n))
        dtangents = [ZERO] * n
        if not isinstance(dy_bar, AbstractZero):  # y = f(a): J^T ȳ
            dprimals = _sum(dprimals, outside.first_order(inner, back_all, dy_bar))
        if not isinstance(ddy_bar, AbstractZero):
            # dy = J(a) v: linear in v (J^T ẏ̄; the state's tangent is zero in the jvp, so what
            # this pass leaves for it is no cotangent), and in a and in the state the Hessian
            # of <ẏ̄, f> times v
            dtangents = list(map(engine_tangent, back_all(ddy_bar)[1]))
            dprimals = _sum(dprimals, _second_order(outside, f, primals, ddy_bar, tangents))
        df, *dargs = dprimals
        return NO, df, Tangent(tuple, *dargs), Tangent(tuple, *dtangents)

    return (y, dy), jvp_pullback


# -- implicit Params: the same Hessian-vector products, the direction put on the parameters --
#
# ``gradient(f, params)`` is ∂L/∂θ for the parameters θ that f reaches by itself, everything
# else f reads held. A cotangent w of the Grads pulls back to ∇²_θθ L w (to the Params, whence to
# the parameters) and ∇²_cθ L w (to what f captures), both from one jvp along w on θ of the
# first-order pass (see zygote_engine.lib.implicit). Forward mode runs that first-order pass with
# the tangents the parameters and f have.


def _params_second_order(outside: _Outside, f: Any, params: Params, dy: Any, along: tuple):
    """``(d f, d params)`` of :func:`params_second_order`; the state's go to ``outside``."""
    ddf, dparams, (pairs, dcotangents) = params_second_order(f, params, dy, along)
    outside.deposit(pairs, dcotangents)
    return ddf, dparams


def _params_first_order(outside: _Outside, f: Any, params: Params, back_all: Any, dy: Any):
    """``(df, dparams)`` pulled back from ``dy``; the state's cotangents go to ``outside``."""
    df, grads, (places, *cotangents) = back_all(dy)
    outside.deposit(*outside_parameters(params, places.pairs, cotangents))
    return first_cotangents(f, params, df, grads)


def _params_gradient(cx, f: Any, params: Params):
    grads = gradient(f, params)
    n = len(params)
    outside = _Outside(cx)

    def params_gradient_pullback(dgrads):
        along = parameter_directions(dgrads, n)
        if all(d is None for d in along):
            return NO, ZERO, ZERO
        return (NO, *_params_second_order(outside, f, params, 1.0, along))

    return grads, params_gradient_pullback


def _params_withgradient(cx, f: Any, params: Params):
    _, back_all = params_tangents_pullback(f, params, with_state=True)
    result = withgradient(f, params)
    n = len(params)
    outside = _Outside(cx)

    def params_withgradient_pullback(d):
        dval, dgrads = items_of(d, 2)
        total = (ZERO, ZERO)
        dval = unthunk(dval)
        if not isinstance(dval, AbstractZero):
            total = _sum(total, _params_first_order(outside, f, params, back_all, dval))
        along = parameter_directions(dgrads, n)
        if any(d is not None for d in along):
            total = _sum(total, _params_second_order(outside, f, params, 1.0, along))
        return (NO, *total)

    return WithGradient(*result), params_withgradient_pullback


def _params_withjacobian(cx, f: Any, params: Params, mode: str | None):
    result = withjacobian(f, params, mode=mode)
    _, back_all = params_tangents_pullback(f, params, with_state=True)
    n = len(params)
    outside = _Outside(cx)

    def params_withjacobian_pullback(d):
        dval, djacobians = (unthunk(t) for t in items_of(d, 2))
        total = (ZERO, ZERO)
        if not isinstance(dval, AbstractZero):
            total = _sum(total, _params_first_order(outside, f, params, back_all, dval))
        if isinstance(djacobians, AbstractZero):
            return (NO, *total)
        y = result.val
        dmatrices = [unthunk(d) for d in grads_items(djacobians, n)]
        for k, along in _rows_of(dmatrices, params, y):
            total = _sum(total, _params_second_order(outside, f, params, _one_hot(y, k), along))
        return (NO, *total)

    return result, params_withjacobian_pullback


def params_value_and_gradient(f: Any, params: Params) -> tuple:
    """``(y, grads)`` of ``gradient(f, params)``, written out for forward mode to differentiate."""
    y, back = params_pullback(f, params)
    return y, back(1.0)


def params_jacobian_rows(f: Any, params: Params) -> tuple:
    """``(y, rows)``: row ``k`` is the :class:`Grads` of ``y.ravel()[k]`` (for forward mode)."""
    y, back = params_pullback(f, params)
    return y, [back(_one_hot(y, k)) for k in range(np.size(y))]


def _params_forward(fx, tangents: tuple, compute: Any, f: Any, params: Params) -> tuple:
    """``(result, dresult)`` of ``compute(f, params)`` along ``f``'s and the parameters' tangents."""
    _, df, dparams = tangents
    along = parameter_directions(dparams, len(params))
    return params_jvp(compute, (f, params), (df, NO), params, along, fx)


def _params_withgradient_frule(fx, tangents: tuple, f: Any, params: Params):
    (y, grads), dresult = _params_forward(fx, tangents, params_value_and_gradient, f, params)
    check_scalar(f, y)
    dy, dgrads = items_of(dresult, 2)
    return (y, grads), (dy, grads_tangent(grads_items(dgrads, len(params))))


@forward_rule(gradient)
def _gradient_frule(fx, tangents: tuple, f: Any, *args: Any):
    if not implicit(args):
        if not state_perturbed(fx):
            if args and _NUMBERS_AND_ARRAYS.issuperset(map(type, args)):
                return _gradient_of_numbers(fx, tangents, f, args)
            return None  # forward mode differentiates gradient's code
        (_, grads), (_, dgrads) = _carried(fx, _value_and_gradient, tangents, f, *args)
        return grads, dgrads
    (_, grads), (_, dgrads) = _params_withgradient_frule(fx, tangents, f, args[0])
    return grads, dgrads


# A differentiation of numbers and arrays, differentiated (a Hessian-vector product): only what
# carries derivatives is differentiated, the call of f's generated forward and then of its
# backward; the rest (checks, the gradients' user-facing forms) runs as it is. With arrays
# written in place or containers, the rules decline and the code is differentiated.
_NUMBERS_AND_ARRAYS = frozenset({float, np.ndarray})


def _gradient_of_numbers(fx, tangents: tuple, f: Any, args: tuple):
    check_callable(f, "gradient")
    cx = ZygoteRuleConfig()
    dargs = tuple_tangent(tangents[2:])
    forward_tangents = (NO, NO, tangents[1], dargs, NO)
    (y, pb, held), dresult = _recorded_call_frule(fx, forward_tangents, cx, f, args, False)
    check_scalar(f, y)
    dy, dpb, _ = items_of(dresult, 3)
    backward = (cx, args, held, y, pb, False, 1.0)
    backward_tangents = (NO, NO, dargs, NO, dy, dpb, NO, ZERO)
    result = _pulled_back_frule(fx, backward_tangents, *backward)
    if result is None:  # (arrays written in place: pulled_back's code is differentiated)
        result = jcall(fx, (pulled_back, *backward), backward_tangents)
    (_, grads), dback = result
    return grads, items_of(dback, 2)[1]


@forward_rule(recorded_call)
def _recorded_call_frule(fx, tangents: tuple, cx, f: Any, args: tuple, closure: bool):
    # The forward half of every differentiation (tangents_pullback's), the same way.
    if not _NUMBERS_AND_ARRAYS.issuperset(map(type, args)):
        return None
    call_args = (call, cx, f, *args) if closure else (call_masked, cx, ARGUMENTS_ONLY, f, *args)
    call_tangents = (NO, NO, tangents[2], *items_of(tangents[3], len(args)))
    if not closure:
        call_tangents = (NO, *call_tangents)
    with room_to_recurse():
        (y, pb), dresult = jcall(fx, call_args, call_tangents)
    dy, dpb = items_of(dresult, 2)
    return (y, pb, None), tuple_tangent((dy, dpb, ZERO))


@forward_rule(pulled_back)
def _pulled_back_frule(fx, tangents: tuple, cx, args, held, y, pb, returns_container, dy):
    # The backward half of every differentiation (tangents_pullback's back_all), the same way:
    # arrays written in place or containers returned, its code is differentiated instead.
    if (
        cx.written is not None
        or returns_container
        or not _NUMBERS_AND_ARRAYS.issuperset(map(type, args))
    ):
        return None
    n = len(args)
    dy = cx.start_backward(y, dy, returns_container)
    if type(dy) in ZERO_TYPES and type(tangents[7]) in ZERO_TYPES and not must_run(pb):
        return (NO, (None,) * n), ZERO
    with room_to_recurse():
        cotangents, dcotangents = jcall(fx, (pb, dy), (tangents[5], tangents[7]))
    dcotangents = items_of(dcotangents, n + 1)
    grads, dgrads = [], []
    for a, t, dt in zip(args, cotangents[1:], dcotangents[1:]):
        g = public_gradient(a, t)
        if g is None:
            dg = ZERO
        elif g is t:
            dg = dt
        else:
            g, dg = jcall(fx, (public_gradient, a, t), (NO, ZERO, dt))
        grads.append(g)
        dgrads.append(dg)
    return (cotangents[0], tuple(grads)), tuple_tangent((dcotangents[0], tuple_tangent(dgrads)))


@forward_rule(withgradient)
def _withgradient_frule(fx, tangents: tuple, f: Any, *args: Any):
    if not implicit(args):
        if not state_perturbed(fx):
            return None
        (y, grads), dresult = _carried(fx, _value_and_gradient, tangents, f, *args)
        dy, dgrads = items_of(dresult, 2)
    else:
        (y, grads), (dy, dgrads) = _params_withgradient_frule(fx, tangents, f, args[0])
    return WithGradient(y, grads), Tangent(WithGradient, val=dy, grad=dgrads)


# -- forward mode, the state the function reads perturbed --
#
# Forward mode runs a call plainly when none of its inputs carries a tangent, so a function that
# reads a global (or an attribute of an object reached through one) whose tangent is in the
# table would be run plainly inside ``gradient(f, x0)``. The differentiation functions are
# therefore never run plainly while the table holds tangents (``forward_runtime.READS_STATE``);
# where a tangent is not zero, their rules run the first-order pass in a reverse-mode
# differentiation that has an entry in the table (a *carrier*, as for Params): every call that
# takes it is differentiated, down to the reads of the state.


def state_perturbed(fx) -> bool:
    """Whether some object's or array's tangent in the forward differentiation ``fx`` is not zero."""
    if fx.written is not None and fx.written.shadows:
        return True
    for _, entry in list(fx.tangents.values()):
        for d in entry if type(entry) is list else entry.values():
            if not isinstance(d, AbstractZero):
                return True
    return False


def _carried(fx, compute: Any, tangents: tuple, f: Any, *args: Any) -> tuple:
    """``(result, dresult)`` of ``compute(cx, f, *args)`` in the forward differentiation ``fx``,
    along the tangents of ``f`` and ``args`` (``tangents``, the rule's), ``cx`` a carrier."""
    cx = ZygoteRuleConfig()
    fx.entry(cx)
    result, dresult = jcall(fx, (compute, cx, f, *args), (NO, NO, *tangents[1:]))
    return result, fx.tangent(result, dresult)


def _value_and_gradient(cx: ZygoteRuleConfig, f: Any, *args: Any) -> tuple:
    """``(y, grads)`` of ``withgradient(f, *args)``, run in the reverse differentiation ``cx``."""
    y, back_all = tangents_pullback(f, args, closure=False, cx=cx)
    check_scalar(f, y)
    return y, back_all(1.0)[1]


def _jacobian_rows(cx: ZygoteRuleConfig, f: Any, *args: Any) -> tuple:
    """``(y, rows)``: row ``k`` the gradients of ``y.ravel()[k]``, run in ``cx``."""
    y, back_all = tangents_pullback(f, args, closure=False, cx=cx)
    return y, [back_all(_one_hot(y, k))[1] for k in range(np.size(y))]


def _withjacobian_carried(fx, tangents: tuple, f: Any, *args: Any, mode: str | None = None):
    result = withjacobian(f, *args, mode=mode)
    (_, rows), dresult = _carried(fx, _jacobian_rows, tangents, f, *args)
    dy, drows = items_of(dresult, 2)
    drows = [items_of(d, len(args)) for d in items_of(drows, len(rows))]
    dmatrices = tuple(
        None if matrix is None else _stacked_rows(matrix, drows, i)
        for i, matrix in enumerate(result.grad)
    )
    return result, Tangent(WithJacobian, val=dy, grad=_matrices_tangent(dmatrices))


def _stacked_rows(matrix: np.ndarray, drows: list, i: int) -> np.ndarray:
    """The tangent of the Jacobian ``matrix`` of argument ``i``, from the tangents of the
    differentiated Jacobian's rows: row ``k``'s is ``drows[k][i]`` (a zero or ``None`` for none)."""
    dmatrix = np.zeros(matrix.shape, dtype=matrix.dtype)
    for k, drow in enumerate(drows):
        d = unthunk(drow[i])
        if d is not None and not isinstance(d, AbstractZero):
            dmatrix.reshape(len(drows), -1)[k] = np.ravel(d)
    return dmatrix


def _state_not_yet(fx, tangents: tuple, f: Any, *args: Any, **kwargs: Any):
    raise UnsupportedConstructError(
        f"{user_location()}: a Hessian inside forward-mode differentiation that changes what "
        "the function reads by itself (a global, an attribute of an object) is not supported "
        "yet: differentiate it in reverse mode (gradient outside), or pass what changes to the "
        "function as an argument"
    )


def _state_aware(f: Any, structural: Any, carried: Any) -> None:
    """Register the forward rule of ``f``: ``structural`` (the rule without the table) unless
    the state has tangents or ``f`` was given :class:`Params`, then ``carried``, with the table."""

    def rule(fx, tangents: tuple, *args: Any, **kwargs: Any):
        tangents = tangents[: 1 + len(args)]  # the keywords' (mode=) last: an option, no tangent
        if implicit(args[1:]) or state_perturbed(fx):
            return carried(fx, tangents, *args, **kwargs)
        return structural(tangents, *args, **kwargs)

    forward_rule(f)(rule)
    READS_STATE.add(f)


def _params_withjacobian_frule(
    tangents: tuple, f: Any, params: Params, mode: str | None, fx: Any = None
):
    result = withjacobian(f, params, mode=mode)
    (_, rows), dresult = _params_forward(fx, tangents, params_jacobian_rows, f, params)
    dy, drows = items_of(dresult, 2)
    n = len(params)
    drows = [grads_items(d, n) for d in items_of(drows, len(rows))]
    dmatrices = [
        ZERO if matrix is None else _stacked_rows(matrix, drows, i)
        for i, matrix in enumerate(result.grad.values())
    ]
    return result, Tangent(WithJacobian, val=dy, grad=grads_tangent(dmatrices))


# -- Jacobians and Hessians: every derivative of a Jacobian is a sum of Hessian-vector products --
#
# Reverse: a cotangent J̄ of J(a) (row k: the gradient of y_k) pulls back to
# Σ_k ∇_a <e_k, J(a) J̄_k>, one Hessian-vector product of <e_k, f> per row that has a cotangent.
# Forward: by the symmetry of second derivatives, the derivative of J(a) along (ḟ, ȧ) is the
# Jacobian of the directional derivative a -> ∂f(a)[ḟ, ȧ].


def _jacobian_cotangent(outside: _Outside, f: Any, args: tuple, y: Any, djacobians: Any) -> tuple:
    """``(df, *dargs)`` from the cotangents of ``jacobian(f, *args)``'s matrices (the state's
    go to ``outside``)."""
    n = len(args)
    dmatrices = [unthunk(d) for d in items_of(djacobians, n)]
    total = (ZERO, *([ZERO] * n))
    for k, directions in _rows_of(dmatrices, args, y):
        total = _sum(total, _second_order(outside, f, args, _one_hot(y, k), directions))
    return total


def _rows_of(dmatrices: list, values: tuple, y: Any):
    """``(k, directions)`` for each row ``k`` of the Jacobians' cotangents ``dmatrices`` that is
    not all zero: the row's part for each of ``values``, shaped like it (``None`` for none)."""
    rows = np.size(y)
    for k in range(rows):
        directions = tuple(
            None if isinstance(d, AbstractZero) or d is None else _row(d, k, rows, a)
            for d, a in zip(dmatrices, values)
        )
        if not all(d is None or not np.any(d) for d in directions):
            yield k, directions


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
    if implicit(args):
        return _params_withjacobian(cx, f, args[0], mode)
    result = withjacobian(f, *args, mode=mode)
    _, back_all, inner = _pullback_in(f, args)
    n = len(args)
    outside = _Outside(cx)

    def withjacobian_pullback(d):
        dval, djacobians = (unthunk(t) for t in items_of(d, 2))
        total = (ZERO, *([ZERO] * n))
        if not isinstance(dval, AbstractZero):
            total = _sum(total, outside.first_order(inner, back_all, dval))
        if not isinstance(djacobians, AbstractZero):
            total = _sum(total, _jacobian_cotangent(outside, f, args, result.val, djacobians))
        return (NO, *total)

    return result, withjacobian_pullback


@rrule.register(jacobian, **_config)
def _jacobian(cx, f: Any, *args: Any, mode: str | None = None):
    if implicit(args):
        result, pullback_ = _params_withjacobian(cx, f, args[0], mode)

        def params_jacobian_pullback(djacobians):
            return pullback_(Tangent(WithJacobian, val=ZERO, grad=djacobians))

        return result.grad, params_jacobian_pullback
    y, matrices = withjacobian(f, *args, mode=mode)
    outside = _Outside(cx)

    def jacobian_pullback(djacobians):
        djacobians = unthunk(djacobians)
        if isinstance(djacobians, AbstractZero):
            return (NO, ZERO, *([ZERO] * len(args)))
        return (NO, *_jacobian_cotangent(outside, f, args, y, djacobians))

    return matrices, jacobian_pullback


def _jacobian_frule(tangents: tuple, f: Any, *args: Any, mode: str | None = None):
    if implicit(args):
        result, dresult = _params_withjacobian_frule(tangents, f, args[0], mode)
        return result.grad, dresult.grad
    _, df, *dargs = tangents
    matrices = jacobian(f, *args, mode=mode)
    along = _along(f, df, tuple(dargs))
    dmatrices = jacobian(
        along, *args, mode=mode if isinstance(unthunk(df), AbstractZero) else "forward"
    )
    return matrices, _matrices_tangent(dmatrices)


def _withjacobian_frule(tangents: tuple, f: Any, *args: Any, mode: str | None = None):
    if implicit(args):
        return _params_withjacobian_frule(tangents, f, args[0], mode)
    _, df, *dargs = tangents
    result = withjacobian(f, *args, mode=mode)
    _, dmatrices = _jacobian_frule(tangents, f, *args, mode=mode)
    _, dval = forward_pass(f, args, _seeds(tuple(dargs)), df)
    return result, Tangent(WithJacobian, val=dval, grad=dmatrices)


frule.add(jacobian, (), _jacobian_frule)
frule.add(withjacobian, (), _withjacobian_frule)


def _withjacobian_in(fx, tangents: tuple, f: Any, *args: Any, mode: str | None = None):
    """``withjacobian``'s forward rule in ``fx`` (where the state has tangents: carried)."""
    if implicit(args):  # the parameters' tangents and the state's are in fx
        return _params_withjacobian_frule(tangents, f, args[0], mode, fx)
    return _withjacobian_carried(fx, tangents, f, *args, mode=mode)


def _jacobian_in(fx, tangents: tuple, f: Any, *args: Any, mode: str | None = None):
    result, dresult = _withjacobian_in(fx, tangents, f, *args, mode=mode)
    return result.grad, dresult.grad


_state_aware(jacobian, _jacobian_frule, _jacobian_in)
_state_aware(withjacobian, _withjacobian_frule, _withjacobian_in)


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
        outside = _Outside(cx)

        def hessian_pullback(dh):
            dh = unthunk(dh)
            if isinstance(dh, AbstractZero):
                return NO, ZERO, ZERO
            dg, dx = _jacobian_cotangent(outside, g, (x,), x, (dh,))
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
    _state_aware(compute, _hessian_frule(compute), _state_not_yet)


_hessian_rules(hessian)
_hessian_rules(hessian_reverse)


def _partial_gradient_of(f: Any, position: int):
    """The gradient of ``f`` in its argument ``position``, as a function of all the arguments."""

    def partial_gradient(*a):
        g = gradient(f, *a)[position]
        return np.zeros_like(a[position], dtype=float) if g is None else g

    return partial_gradient


@rrule.register(diaghessian, **_config)
def _diaghessian(cx, f: Any, *args: Any):
    diagonals = diaghessian(f, *args)
    n = len(args)
    outside = _Outside(cx)

    def diaghessian_pullback(d):
        # the diagonal of argument j is that of the block ∂g_j/∂a_j of the Jacobian of the
        # partial gradient g_j = ∇_{a_j} f: its cotangent is diag(d_j) on that block
        total = (ZERO, *([ZERO] * n))
        for j, dd in enumerate(map(unthunk, items_of(d, n))):
            if diagonals[j] is None or dd is None or isinstance(dd, AbstractZero):
                continue
            blocks = tuple(np.diag(np.ravel(dd)) if i == j else ZERO for i in range(n))
            g = _partial_gradient_of(f, j)
            dg, *dargs = _jacobian_cotangent(outside, g, args, args[j], blocks)
            total = _sum(total, (_captured_f(dg), *dargs))
        return (NO, *total)

    return diagonals, diaghessian_pullback


def _diaghessian_frule(tangents: tuple, f: Any, *args: Any):
    _, df, *dargs = tangents
    diagonals = diaghessian(f, *args)
    ddiagonals = []
    for j, (x, diagonal) in enumerate(zip(args, diagonals)):
        if diagonal is None:
            ddiagonals.append(ZERO)
            continue
        g = _partial_gradient_of(f, j)
        dg = ZERO if isinstance(unthunk(df), AbstractZero) else Tangent(type(g), f=df)
        along = _along(g, dg, tuple(dargs))

        def along_j(a, j=j, along=along):
            return along(*args[:j], a, *args[j + 1 :])

        (dh,) = jacobian(along_j, x, mode="forward")
        size = np.size(x)
        dd = np.diag(np.reshape(dh, (size, size)))
        ddiagonals.append(float(dd[0]) if np.ndim(x) == 0 else dd.reshape(np.shape(x)))
    return diagonals, Tangent(tuple, *ddiagonals)


frule.add(diaghessian, (), _diaghessian_frule)
_state_aware(diaghessian, _diaghessian_frule, _state_not_yet)
# (forward mode transforms jvp and pullback, whose code reaches the function through
# forward_pass and the reverse protocol: none of them may run plainly either)
READS_STATE.update((gradient, withgradient, derivative, jvp, pullback, forward_pass))
