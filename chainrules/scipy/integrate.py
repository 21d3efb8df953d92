"""Rules for scipy.integrate's ODE solvers: ``odeint`` and ``solve_ivp`` (with ``t_eval``).

The reverse rules use the continuous adjoint method. For ``y' = f(y, s; θ)`` observed at times
``t_0 < … < t_N`` with output cotangents ``ȳ_i``, the adjoint ``a(s)`` solves, backwards in time,

    a' = -(∂f/∂y)ᵀ a,   a(t_N) = ȳ_N,   and a jumps by ȳ_i at each t_i,

and the cotangents are ``ȳ0 = a(t_0)``, ``θ̄ = ∫ (∂f/∂θ)ᵀ a ds`` over ``[t_0, t_N]``,
``t̄_i = ȳ_i · f(y_i, t_i)`` for ``i ≥ 1`` and ``t̄_0 = -a(t_0⁺) · f(y_0, t_0)``. The
vector-Jacobian products ``(∂f/∂y)ᵀ a`` and ``(∂f/∂θ)ᵀ a`` come from the AD engine
(``rrule_via_ad`` of the user's function), so θ is anything the function is differentiated in: the
``args`` passed positionally, and the state a closure or callable object captures (the
function's own tangent). The rules are registered with ``config=HasReverseMode``.

The frules of ``odeint`` and ``solve_ivp`` (``config=HasForwardsMode``) solve the forward
sensitivity equations ``δy' = (∂f/∂y) δy + (∂f/∂θ) δθ`` alongside ``y``, with ``frule_via_ad``
giving the right-hand side: one solve of twice the state's size, whatever the number of
parameters. Moving the start ``t_0`` starts the sensitivities from ``δy0 - f(y0, t0) δt0``, and
moving an output time ``t_i`` adds ``f(y_i, t_i) δt_i``. ``solve_ivp``'s tangent is a
``Tangent`` of its result with the fields ``y`` and ``t`` (``t_eval``'s tangent); both of its
rules need ``t_eval``.

Only real states are supported. The auxiliary solves use DOP853 at ``rtol=1e-10``, so the
derivatives match finite differences of a solve at similar tolerance.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.integrate

from chainrules.calls import bound_arguments, check_callback_rule
from chainrules.operator import sequence_tangent
from chainrules_core import (
    AbstractZero,
    HasForwardsMode,
    HasReverseMode,
    NoTangent,
    ProjectTo,
    Tangent,
    ZeroTangent,
    add,
    frule,
    frule_via_ad,
    rrule,
    rrule_via_ad,
    unthunk,
)

_NO = NoTangent()

# Tolerances of the solves inside the rules: tight, since their error goes straight into the
# derivative (the user's own tolerances only govern the primal).
_RTOL = 1e-10
_ATOL = 1e-12

# Gauss–Legendre with 5 nodes is exact for degree 9, above the order of DOP853's dense output
# (7), so integrating over each solver step loses nothing to the quadrature.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(5)


def _solve(rhs: Callable, start: float, stop: float, y0: np.ndarray) -> Any:
    """The dense solution of ``y' = rhs(s, y)`` from ``start`` to ``stop`` (an OdeSolution)."""
    solution = scipy.integrate.solve_ivp(
        rhs, (start, stop), y0, method="DOP853", dense_output=True, rtol=_RTOL, atol=_ATOL
    )
    if not solution.success:
        raise RuntimeError(f"the adjoint ODE solve failed: {solution.message}")
    return solution


def _scaled(w: float, tangents: tuple) -> tuple:
    return tuple(t if isinstance(t, AbstractZero) else w * t for t in tangents)


def _summed(total: tuple, tangents: tuple) -> tuple:
    return tuple(add(a, b) for a, b in zip(total, tangents, strict=True))


def _integral(g: Callable, steps: np.ndarray, total: tuple) -> tuple:
    """``total + ∫ g(s) ds`` from ``steps[0]`` to ``steps[-1]`` for a tuple of tangents ``g(s)``,
    by Gauss–Legendre quadrature on each solver step (where the dense output is one polynomial)."""
    for start, stop in itertools.pairwise(steps):
        middle, half = (start + stop) / 2, (stop - start) / 2
        for node, weight in zip(_NODES, _WEIGHTS, strict=True):
            total = _summed(total, _scaled(half * weight, g(middle + half * node)))
    return total


def _adjoint_interval(rhs, vjp, start: float, stop: float, y_start, a_stop, dparams: tuple):
    """The adjoint at ``start`` from its value at ``stop``, and ``dparams`` plus the parameter
    integral over ``[start, stop]``."""
    # The trajectory is recomputed forwards from the stored output rather than integrated
    # backwards with the adjoint: backwards integration of a dissipative system is unstable.
    trajectory = _solve(rhs, start, stop, y_start).sol
    adjoint = _solve(lambda s, a: -vjp(s, trajectory(s), a)[0], stop, start, a_stop)
    # adjoint.t runs from stop back to start; the parameter integral runs forwards.
    dparams = _integral(
        lambda s: vjp(s, trajectory(s), adjoint.sol(s))[1], adjoint.t[::-1], dparams
    )
    return adjoint.y[:, -1], dparams


def _adjoint(rhs: Callable, vjp: Callable, times, ys: np.ndarray, dys: np.ndarray, nparams: int):
    """Pull the output cotangents ``dys[i]`` (of the states ``ys[i]`` at ``times[i]``) back
    through ``y' = rhs(s, y)``.

    ``vjp(s, y, a)`` returns ``((∂f/∂y)ᵀ a, tangents of the parameters)`` at ``(s, y)``.
    Returns ``(ȳ0, parameter tangents, t̄)``.
    """
    a = np.zeros_like(ys[0])
    dparams = (ZeroTangent(),) * nparams
    dtimes = np.zeros(len(times))
    for i in range(len(times) - 1, 0, -1):
        a = a + dys[i]
        dtimes[i] = dys[i] @ rhs(times[i], ys[i])
        if times[i] == times[i - 1]:
            continue
        a, dparams = _adjoint_interval(rhs, vjp, times[i - 1], times[i], ys[i - 1], a, dparams)
    dtimes[0] = -a @ rhs(times[0], ys[0])  # moving t_0 moves the whole trajectory, not y_0
    return a + dys[0], dparams, dtimes


def _output_cotangent(out: Any, a: np.ndarray) -> Any:
    """``a`` shaped as the cotangent of the user function's output ``out``."""
    if isinstance(out, np.ndarray):
        return a.reshape(out.shape).astype(out.dtype, copy=False)
    if isinstance(out, (list, tuple)):
        return sequence_tangent(out, [float(v) for v in a])
    return float(a[0])


def _dense(d: Any, like: np.ndarray) -> np.ndarray:
    d = unthunk(d)
    if isinstance(d, AbstractZero):
        return np.zeros_like(like)
    return np.asarray(d, dtype=float).reshape(like.shape)


def _sequence_cotangent(xs: Any, dxs: np.ndarray) -> Any:
    """The cotangent of ``xs`` (an array, or a tuple or list of numbers) with entries ``dxs``."""
    if isinstance(xs, np.ndarray):
        return ProjectTo(xs)(dxs.reshape(xs.shape))
    return sequence_tangent(xs, [float(d) for d in dxs])


def _parameters(args: Any) -> tuple:
    """The extra arguments of the user function as a tuple (both solvers accept one bare value)."""
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)


def _args_cotangent(args: Any, dparams: tuple) -> Any:
    if args is None:
        return _NO
    projected = [ProjectTo(p)(unthunk(d)) for p, d in zip(_parameters(args), dparams, strict=True)]
    return sequence_tangent(args, projected) if isinstance(args, tuple) else projected[0]


# --- odeint -------------------------------------------------------------------------------------


def _odeint_call(args: tuple, kwargs: dict) -> dict:
    params = bound_arguments(scipy.integrate.odeint, args, kwargs)
    if params["full_output"]:
        raise NotImplementedError(
            "the rules for scipy.integrate.odeint do not support full_output=True; call it "
            "without full_output inside differentiated code"
        )
    return params


def _odeint_rhs(func: Callable, args: tuple) -> Callable:
    return lambda s, y: np.asarray(func(y, s, *args), dtype=float).ravel()


@rrule.register(scipy.integrate.odeint, config=HasReverseMode)
def _(config, *args, **kwargs):
    params = _odeint_call(args, kwargs)
    func, y0, t = params["func"], params["y0"], params["t"]
    check_callback_rule(scipy.integrate.odeint, func, kwargs)
    extra = _parameters(params["args"])
    ys = scipy.integrate.odeint(*args, **kwargs)
    project_y0 = ProjectTo(y0)

    def vjp(s, y, a):
        out, pullback = rrule_via_ad(config, func, y, s, *extra)
        dfunc, dy, _, *dextra = pullback(_output_cotangent(out, a))
        return _dense(dy, y), (unthunk(dfunc), *map(unthunk, dextra))

    def odeint_pullback(dys):
        dys = unthunk(dys)
        if isinstance(dys, AbstractZero):
            return (_NO, *(ZeroTangent(),) * len(args))
        times = np.asarray(t, dtype=float)
        rhs = _odeint_rhs(func, extra)
        dy0, (dfunc, *dextra), dtimes = _adjoint(
            rhs, vjp, times, ys, np.asarray(dys, dtype=float), 1 + len(extra)
        )
        tangents = [
            dfunc,
            project_y0(dy0.reshape(np.shape(y0))),
            _sequence_cotangent(t, dtimes),
            _args_cotangent(params["args"], dextra),
        ]
        return (_NO, *tangents[: len(args)], *(_NO,) * (len(args) - len(tangents)))

    return ys, odeint_pullback


@frule.register(scipy.integrate.odeint, config=HasForwardsMode)
def _(config, tangents, *args, **kwargs):
    params = _odeint_call(args, kwargs)
    func, t = params["func"], params["t"]
    check_callback_rule(scipy.integrate.odeint, func, kwargs)
    extra = _parameters(params["args"])
    ys = scipy.integrate.odeint(*args, **kwargs)
    dfunc, dy0, dt, dargs = (*tangents[1:5], *(ZeroTangent(),) * (5 - len(tangents)))
    dextra = _extra_tangents(params["args"], dargs)
    times = np.asarray(t, dtype=float)

    def tangent_rhs(s, y, dy):
        # s is held fixed (its tangent is zero)
        return frule_via_ad(config, (dfunc, dy, ZeroTangent(), *dextra), func, y, s, *extra)

    dtimes = _dense(dt, times)
    # the first output time is the start: moving it moves the whole trajectory
    start = (times[0], ys[0], dy0, dtimes[0])
    dys = _sensitivities(_odeint_rhs(func, extra), tangent_rhs, start, times, dtimes, ys)
    return ys, dys.reshape(ys.shape)


def _sensitivities(rhs, tangent_rhs, start: tuple, times, dtimes, ys) -> np.ndarray:
    """The tangents of the states ``ys[i]`` at ``times[i]`` of ``y' = rhs(s, y)``, by the forward
    sensitivity equations ``δy' = (∂f/∂y) δy + (∂f/∂θ) δθ`` solved alongside ``y``.

    ``start`` is ``(t0, y0, δy0, δt0)``, the initial time and state and their tangents;
    ``tangent_rhs(s, y, δy)`` returns ``(f, δf)`` (from ``frule_via_ad``), ``dtimes`` the tangents
    of the output times. Returns an array of shape ``(len(times), y0.size)``.
    """
    n = ys.shape[1]

    def sensitivity_rhs(s, state):
        # [y, δy]' = [f, (∂f/∂y) δy + (∂f/∂θ) δθ]
        y, dy = state[:n], state[n:]
        out, dout = tangent_rhs(s, y, dy)
        return np.concatenate([np.ravel(out), _dense(dout, y)])

    # Moving t_0 shifts the whole trajectory: the later states start from δy0 - f(y0, t0) δt0.
    t0, y0, dy0, dt0 = start
    dy0 = _dense(dy0, y0).ravel()
    solution = scipy.integrate.solve_ivp(
        sensitivity_rhs,
        (t0, times[-1]),
        np.concatenate([y0, dy0 - rhs(t0, y0) * dt0]),
        method="DOP853",
        t_eval=times,
        rtol=_RTOL,
        atol=_ATOL,
    )
    if not solution.success:
        raise RuntimeError(f"the forward sensitivity ODE solve failed: {solution.message}")
    dys = solution.y[n:].T.copy()
    for i in range(len(times)):  # an output time that moves reads the state further along
        dys[i] += rhs(times[i], ys[i]) * dtimes[i]
    return dys


def _extra_tangents(args: Any, dargs: Any) -> tuple:
    """The tangents of the items of ``args`` (a tuple, or one bare value) from its tangent."""
    count = len(_parameters(args))
    dargs = unthunk(dargs)
    if isinstance(dargs, AbstractZero):
        return (ZeroTangent(),) * count
    return tuple(dargs) if isinstance(args, tuple) else (dargs,)


# --- solve_ivp ----------------------------------------------------------------------------------


def _solve_ivp_rhs(fun: Callable, args: tuple) -> Callable:
    return lambda s, y: np.asarray(fun(s, y, *args), dtype=float).ravel()


def _solve_ivp_call(args: tuple, kwargs: dict) -> dict:
    params = bound_arguments(scipy.integrate.solve_ivp, args, kwargs)
    if params["t_eval"] is None:
        raise NotImplementedError(
            "the rules of scipy.integrate.solve_ivp need t_eval: without it the output times "
            "are chosen by the step-size controller and have no derivative; pass the times at "
            "which you need the solution as t_eval=..."
        )
    return params


@rrule.register(scipy.integrate.solve_ivp, config=HasReverseMode)
def _(config, *args, **kwargs):
    params = _solve_ivp_call(args, kwargs)
    fun, t_span, y0 = params["fun"], params["t_span"], params["y0"]
    check_callback_rule(scipy.integrate.solve_ivp, fun, kwargs)
    extra = _parameters(params["args"])
    result = scipy.integrate.solve_ivp(*args, **kwargs)
    project_y0 = ProjectTo(y0)
    start = np.asarray(np.ravel(y0), dtype=float)

    def vjp(s, y, a):
        out, pullback = rrule_via_ad(config, fun, s, y, *extra)
        dfun, _, dy, *dextra = pullback(_output_cotangent(out, a))
        return _dense(dy, y), (unthunk(dfun), *map(unthunk, dextra))

    def solve_ivp_pullback(dresult):
        dresult = unthunk(dresult)
        if isinstance(dresult, AbstractZero):
            return (_NO, *(ZeroTangent(),) * len(args))
        # The start is an output time whose state y0 has no cotangent of its own.
        times = np.concatenate([[float(t_span[0])], result.t])
        ys = np.concatenate([start[None], result.y.T])
        dys = np.concatenate([np.zeros((1, start.size)), _dense(dresult["y"], result.y).T])
        rhs = _solve_ivp_rhs(fun, extra)
        dy0, (dfun, *dextra), dtimes = _adjoint(rhs, vjp, times, ys, dys, 1 + len(extra))
        dt_span = np.zeros(len(t_span))
        dt_span[0] = dtimes[0]  # the end of the span does not move the outputs at t_eval
        by_name = {
            "fun": dfun,
            "t_span": _sequence_cotangent(t_span, dt_span),
            "y0": project_y0(dy0.reshape(np.shape(y0))),
            # the field t is t_eval itself
            "t_eval": _sequence_cotangent(
                params["t_eval"], dtimes[1:] + _dense(dresult["t"], result.t)
            ),
            "args": _args_cotangent(params["args"], dextra),
        }
        names = list(params)[: len(args)]
        return (_NO, *(by_name.get(name, _NO) for name in names))

    return result, solve_ivp_pullback


@frule.register(scipy.integrate.solve_ivp, config=HasForwardsMode)
def _(config, tangents, *args, **kwargs):
    params = _solve_ivp_call(args, kwargs)
    fun, t_span, y0 = params["fun"], params["t_span"], params["y0"]
    check_callback_rule(scipy.integrate.solve_ivp, fun, kwargs)
    extra = _parameters(params["args"])
    result = scipy.integrate.solve_ivp(*args, **kwargs)
    names = list(params)[: len(args)]
    given = dict(zip(names, tangents[1:], strict=True))
    if all(isinstance(unthunk(d), AbstractZero) for d in given.values()):
        return result, ZeroTangent()
    dfun = given.get("fun", ZeroTangent())
    dextra = _extra_tangents(params["args"], given.get("args", ZeroTangent()))
    dt_span = _dense(given.get("t_span", ZeroTangent()), np.asarray(t_span, dtype=float))
    dt_eval = _dense(given.get("t_eval", ZeroTangent()), result.t)

    def tangent_rhs(s, y, dy):
        # s is held fixed (its tangent is zero)
        return frule_via_ad(config, (dfun, ZeroTangent(), dy, *dextra), fun, s, y, *extra)

    # the end of the span does not move the outputs at t_eval
    start = (
        float(t_span[0]),
        np.asarray(np.ravel(y0), dtype=float),
        given.get("y0", ZeroTangent()),
        dt_span[0],
    )
    dys = _sensitivities(
        _solve_ivp_rhs(fun, extra), tangent_rhs, start, result.t, dt_eval, result.y.T
    )
    # the field t is t_eval itself
    return result, Tangent.from_backing(type(result), {"t": dt_eval, "y": dys.T.copy()})
