"""Rules for scipy.optimize: derivatives of a solution with respect to the problem's parameters.

A solver's iterations are not differentiated: at a solution ``x*`` the problem's defining
equation holds, and the implicit-function theorem gives the derivative of ``x*`` from the
derivatives of that equation alone (as JAX's ``custom_root`` does). The parameters ``θ`` are the
solver's ``args`` and whatever ``fun`` captures (a closure's variables, a callable object's
state): both get cotangents.

* ``root(fun, x0, args)`` and ``fsolve(func, x0, args)``: ``F(x*, θ) = 0``, so
  ``dx* = -J⁻¹ (∂F/∂θ dθ)`` with ``J = ∂F/∂x`` at ``x*``. The pullback solves ``Jᵀ λ = x̄`` and
  returns ``θ̄ = -(∂F/∂θ)ᵀ λ``, one vector-Jacobian product of ``F`` through the engine.
* ``minimize(fun, x0, args)`` (unconstrained): the gradient ``G = ∇ₓ f`` vanishes at the
  minimiser, so the same theorem applies to ``G``, with the Hessian ``H = ∂G/∂x`` for ``J``.

``J`` (or ``H``) is built dense, one engine call per unknown, and factorised: meant for the small
systems these solvers are used for. ``x0`` only chooses which solution is found, so its cotangent
is zero. Of ``root``'s and ``minimize``'s ``OptimizeResult`` only the field ``x`` is
differentiated (a cotangent arrives as ``Tangent(OptimizeResult, x=...)`` or a dict with ``x``);
``fsolve`` with ``full_output`` differentiates the solution, the first item.

Second derivatives of ``minimize`` are exact: the forward rule differentiates ``G`` (itself
computed in forward mode) through the engine again; the reverse rule takes ``G`` from the
engine's reverse mode and its derivatives (Hessian columns, and the mixed ``θ`` derivative along
the multiplier) forward over reverse, so its config must offer both modes (``zygote_engine``'s
does).

Inside ``zygote_engine`` the parameters must reach the solver positionally (``root(fun, x0,
(θ,))``) or be captured by ``fun``: a rule differentiates positional arguments only, so
``args=(θ,)`` given by keyword gets no cotangent. A solver that did not converge has no
meaningful derivative: the pullback (and the forward rule) raise :class:`NotConvergedError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize as so

from chainrules.calls import bound_arguments, check_callback_rule
from chainrules.operator import item_tangents, sequence_tangent
from chainrules_core import (
    AbstractZero,
    HasForwardsMode,
    HasReverseMode,
    NoTangent,
    Tangent,
    ZeroTangent,
    frule,
    frule_via_ad,
    rrule,
    rrule_via_ad,
    unthunk,
)

__all__ = ["NotConvergedError"]


class NotConvergedError(RuntimeError):
    """A solver that did not converge was differentiated: its result solves nothing, so the
    implicit-function theorem gives no derivative. Tighten the tolerances, raise the iteration
    limit or start closer to a solution.

    Example:
        >>> issubclass(NotConvergedError, RuntimeError)
        True
    """


# ---------------------------------------------------------------------------------------------
# The call: the parameters, where they came in, and whether the solver converged


class _Call:
    """A solver call ``solver(fun, x0, *rest, **kwargs)`` read by argument name."""

    def __init__(self, solver: Callable, fun: Any, x0: Any, rest: tuple, kwargs: dict):
        check_callback_rule(solver, fun, kwargs)
        self.solver, self.rest = solver, rest
        self.arguments = bound_arguments(solver, (fun, x0, *rest), kwargs)
        args = self.arguments["args"]
        # scipy wraps a single non-tuple argument into a tuple, and so do we
        self.packed = isinstance(args, tuple)
        self.args = args if self.packed else (args,)

    def argument_tangents(self, dargs: list) -> tuple:
        """The tangents of ``rest``: the parameters' for ``args`` when given positionally."""
        if not self.rest:
            return ()
        dargs_value = sequence_tangent(self.args, dargs) if self.packed else dargs[0]
        return (dargs_value, *(NoTangent(),) * (len(self.rest) - 1))

    def parameter_tangents(self, drest: list) -> tuple:
        """The tangents of each of ``args`` from the tangents of ``rest`` (zeros by keyword)."""
        if not drest:
            return (ZeroTangent(),) * len(self.args)
        return item_tangents(drest[0], len(self.args)) if self.packed else (drest[0],)


def _require_converged(converged: bool, solver: Callable, message: str) -> None:
    if not converged:
        raise NotConvergedError(
            f"scipy.optimize.{solver.__name__} did not converge ({message}), so its result has no "
            "derivative: tighten its tolerances, raise its iteration limit or start closer to a "
            "solution"
        )


def _no_jacobian_flag(call: _Call, name: str) -> None:
    """``jac=True`` makes ``fun`` return ``(value, derivative)``, which these rules do not read."""
    if call.arguments.get(name) is True:
        raise NotImplementedError(
            f"no derivative for scipy.optimize.{call.solver.__name__} with {name}=True: pass "
            f"{name} as a callable (or leave it out) so that fun returns the value alone"
        )


# ---------------------------------------------------------------------------------------------
# Linear algebra of the implicit-function theorem


def _residual(fun: Callable, x: np.ndarray, *args: Any) -> np.ndarray:
    """``F(x, θ)`` as a flat vector (``fun`` may return any array-like)."""
    return np.ravel(fun(x, *args))


def _dense(t: Any, like: np.ndarray) -> np.ndarray:
    t = unthunk(t)
    return np.zeros_like(like) if isinstance(t, AbstractZero) else np.asarray(t)


def _square_system(n_equations: int, n_unknowns: int, solver: Callable) -> None:
    if n_equations != n_unknowns:
        raise NotImplementedError(
            f"no derivative for scipy.optimize.{solver.__name__} with {n_equations} equations in "
            f"{n_unknowns} unknowns: the implicit-function theorem needs a square system"
        )


def _solution_cotangent(dresult: Any) -> Any:
    """The cotangent of the field ``x`` of an ``OptimizeResult``'s cotangent."""
    dresult = unthunk(dresult)
    if isinstance(dresult, AbstractZero):
        return dresult
    fields = dresult.backing if isinstance(dresult, Tangent) else dresult
    return unthunk(fields.get("x", ZeroTangent()))


# ---------------------------------------------------------------------------------------------
# root and fsolve: F(x*, θ) = 0


def _root_pullback_math(config, call: _Call, fun: Any, x: np.ndarray, dx: Any) -> tuple:
    """``(fun̄, args̄)``: solve ``Jᵀ λ = x̄``, then ``θ̄ = -(∂F/∂θ)ᵀ λ`` (``θ`` is ``fun``'s state and
    ``args``). ``J`` is dense: its rows are the vector-Jacobian products of the basis vectors."""
    y, back = rrule_via_ad(config, _residual, fun, x, *call.args)
    _square_system(y.size, x.size, call.solver)
    basis = np.eye(y.size, dtype=y.dtype)
    jacobian = np.stack([_dense(back(e)[2], x) for e in basis])
    multiplier = np.linalg.solve(jacobian.T, np.ravel(dx))
    _, dfun, _, *dargs = back(-multiplier)
    return dfun, list(dargs)


def _root_tangent(config, call: _Call, tangents: tuple, fun: Any, x: np.ndarray) -> Any:
    """``ẋ* = -J⁻¹ (∂F/∂θ θ̇)``, with ``J``'s columns the Jacobian-vector products of the basis."""
    _, dfun, _, *drest = tangents

    def derivative_of_residual(dfun, dx, dargs):
        arguments = (NoTangent(), dfun, dx, *dargs)
        return unthunk(frule_via_ad(config, arguments, _residual, fun, x, *call.args)[1])

    rhs = derivative_of_residual(dfun, ZeroTangent(), call.parameter_tangents(drest))
    if isinstance(rhs, AbstractZero):
        return rhs
    zeros = (ZeroTangent(),) * len(call.args)
    columns = [
        _dense(derivative_of_residual(ZeroTangent(), e, zeros), rhs)
        for e in np.eye(x.size, dtype=x.dtype)
    ]
    jacobian = np.stack(columns, axis=1)
    _square_system(jacobian.shape[0], x.size, call.solver)
    return -np.linalg.solve(jacobian, rhs)


@rrule.register(so.root, config=HasReverseMode)
def _(config, fun, x0, *rest, **kwargs):
    call = _Call(so.root, fun, x0, rest, kwargs)
    _no_jacobian_flag(call, "jac")
    result = so.root(fun, x0, *rest, **kwargs)

    def root_pullback(dresult):
        dx = _solution_cotangent(dresult)
        if isinstance(dx, AbstractZero):
            return NoTangent(), ZeroTangent(), ZeroTangent(), *(NoTangent(),) * len(rest)
        _require_converged(result.success, so.root, result.message)
        dfun, dargs = _root_pullback_math(config, call, fun, result.x, dx)
        return NoTangent(), dfun, ZeroTangent(), *call.argument_tangents(dargs)

    return result, root_pullback


@frule.register(so.root, config=HasForwardsMode)
def _(config, tangents, fun, x0, *rest, **kwargs):
    call = _Call(so.root, fun, x0, rest, kwargs)
    _no_jacobian_flag(call, "jac")
    result = so.root(fun, x0, *rest, **kwargs)
    _require_converged(result.success, so.root, result.message)
    dx = _root_tangent(config, call, tangents, fun, result.x)
    if isinstance(dx, AbstractZero):
        return result, dx
    return result, Tangent(so.OptimizeResult, x=dx)


def _fsolve(call: _Call) -> tuple:
    """``(what the caller asked for, the solution, whether it converged, scipy's message)``."""
    x, info, status, message = so.fsolve(**{**call.arguments, "full_output": True})
    asked = (x, info, status, message) if call.arguments["full_output"] else x
    return asked, x, status == 1, message


@rrule.register(so.fsolve, config=HasReverseMode)
def _(config, func, x0, *rest, **kwargs):
    call = _Call(so.fsolve, func, x0, rest, kwargs)
    y, x, converged, message = _fsolve(call)

    def fsolve_pullback(dy):
        dy = unthunk(dy)
        dx = item_tangents(dy, 4)[0] if isinstance(y, tuple) else dy
        if isinstance(unthunk(dx), AbstractZero):
            return NoTangent(), ZeroTangent(), ZeroTangent(), *(NoTangent(),) * len(rest)
        _require_converged(converged, so.fsolve, message)
        dfunc, dargs = _root_pullback_math(config, call, func, x, unthunk(dx))
        return NoTangent(), dfunc, ZeroTangent(), *call.argument_tangents(dargs)

    return y, fsolve_pullback


@frule.register(so.fsolve, config=HasForwardsMode)
def _(config, tangents, func, x0, *rest, **kwargs):
    call = _Call(so.fsolve, func, x0, rest, kwargs)
    y, x, converged, message = _fsolve(call)
    _require_converged(converged, so.fsolve, message)
    dx = _root_tangent(config, call, tangents, func, x)
    if isinstance(y, tuple) and not isinstance(dx, AbstractZero):
        dx = Tangent(tuple, dx, NoTangent(), NoTangent(), NoTangent())
    return y, dx


# ---------------------------------------------------------------------------------------------
# minimize: ∇ₓ f(x*, θ) = 0


def _unconstrained(call: _Call) -> None:
    if call.arguments["bounds"] is not None or call.arguments["constraints"] not in ((), [], None):
        raise NotImplementedError(
            "no derivative for scipy.optimize.minimize with bounds= or constraints=: only "
            "unconstrained minimisers are differentiated (a constraint that is active at the "
            "solution changes the optimality conditions)"
        )


def _reverse_gradients(config, fun: Any, x: np.ndarray, *args: Any) -> tuple:
    """``(fun̄, x̄, *args̄)`` of ``f(x, θ)`` by reverse mode: ``∇ f``, whose derivatives forward mode
    takes (forward over reverse)."""
    _, back = rrule_via_ad(config, fun, x, *args)
    return tuple(back(1.0))


def _minimize_pullback_math(config, call: _Call, fun: Any, x: np.ndarray, dx: Any) -> tuple:
    """``(fun̄, args̄)``: solve ``H λ = x̄``, then ``θ̄ = -(∂G/∂θ)ᵀ λ`` for ``G = ∇ₓ f``.

    ``(∂G/∂θ)ᵀ λ = ∇_θ (λ · ∇ₓ f)`` is the derivative of ``∇_θ f`` along ``λ`` in ``x`` (second
    derivatives commute), and ``H``'s columns the derivatives of ``∇ₓ f`` along the basis: each a
    forward-mode derivative of the reverse-mode gradient.
    """
    if not isinstance(config, HasForwardsMode):
        raise NotImplementedError(
            "the reverse rule of scipy.optimize.minimize takes Hessian-vector products forward "
            f"over reverse; {type(config).__name__} offers no forward mode (frule_via_ad)"
        )
    zeros = (ZeroTangent(),) * len(call.args)

    def along(direction: np.ndarray) -> tuple:
        """The derivative of ``(fun̄, x̄, *args̄)`` as ``x`` moves along ``direction``."""
        arguments = (NoTangent(), NoTangent(), ZeroTangent(), direction, *zeros)
        derivative = frule_via_ad(config, arguments, _reverse_gradients, config, fun, x, *call.args)
        return item_tangents(unthunk(derivative[1]), 2 + len(call.args))

    columns = [_dense(along(e)[1], x) for e in np.eye(x.size, dtype=x.dtype)]
    hessian = np.stack(columns, axis=1)
    multiplier = np.linalg.solve((hessian + hessian.T) / 2, np.ravel(dx))
    dfun, _, *dargs = along(-multiplier.reshape(x.shape))
    return dfun, list(dargs)


def _gradient_forward(config, fun: Any, x: np.ndarray, *args: Any) -> np.ndarray:
    """``∇ₓ f(x, θ)`` in forward mode, one Jacobian-vector product per unknown (so that forward
    mode can differentiate it again)."""
    zeros = (ZeroTangent(),) * len(args)
    return np.array(
        [
            frule_via_ad(config, (NoTangent(), e, *zeros), fun, x, *args)[1]
            for e in np.eye(x.size, dtype=x.dtype)
        ]
    )


@rrule.register(so.minimize, config=HasReverseMode)
def _(config, fun, x0, *rest, **kwargs):
    call = _Call(so.minimize, fun, x0, rest, kwargs)
    _unconstrained(call)
    _no_jacobian_flag(call, "jac")
    result = so.minimize(fun, x0, *rest, **kwargs)

    def minimize_pullback(dresult):
        dx = _solution_cotangent(dresult)
        if isinstance(dx, AbstractZero):
            return NoTangent(), ZeroTangent(), ZeroTangent(), *(NoTangent(),) * len(rest)
        _require_converged(result.success, so.minimize, result.message)
        dfun, dargs = _minimize_pullback_math(config, call, fun, result.x, dx)
        return NoTangent(), dfun, ZeroTangent(), *call.argument_tangents(dargs)

    return result, minimize_pullback


@frule.register(so.minimize, config=HasForwardsMode)
def _(config, tangents, fun, x0, *rest, **kwargs):
    call = _Call(so.minimize, fun, x0, rest, kwargs)
    _unconstrained(call)
    _no_jacobian_flag(call, "jac")
    result = so.minimize(fun, x0, *rest, **kwargs)
    _require_converged(result.success, so.minimize, result.message)
    x, args = result.x, call.args
    _, dfun, _, *drest = tangents
    dargs = call.parameter_tangents(drest)

    def derivative_of_gradient(dfun, dx, dargs):
        # forward over forward: the engine differentiates _gradient_forward's own frule_via_ad
        arguments = (NoTangent(), NoTangent(), dfun, dx, *dargs)
        return frule_via_ad(config, arguments, _gradient_forward, config, fun, x, *args)[1]

    rhs = unthunk(derivative_of_gradient(dfun, ZeroTangent(), dargs))
    if isinstance(rhs, AbstractZero):
        return result, rhs
    zeros = (ZeroTangent(),) * len(args)
    columns = [
        _dense(derivative_of_gradient(ZeroTangent(), e, zeros), x)
        for e in np.eye(x.size, dtype=x.dtype)
    ]
    hessian = np.stack(columns, axis=1)
    return result, Tangent(so.OptimizeResult, x=-np.linalg.solve(hessian, rhs))
