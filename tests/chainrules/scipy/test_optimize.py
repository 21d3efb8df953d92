"""The scipy.optimize rules against finite differences of the whole solver call, re-solved with
tight tolerances at every step (so the reference is only as accurate as the solver)."""

import numpy as np
import pytest
import scipy.optimize as so

import chainrules  # noqa: F401 - registers the rules
import zygote_engine
from chainrules.scipy.optimize import NotConvergedError
from chainrules_core import NoTangent, Tangent, ZeroTangent, frule, rrule
from chainrules_core.testing import jvp, nondiff, test_rrule


def system(x, a, b):
    """A nonlinear 3×3 system, solvable for any ``a`` (its Jacobian stays near the identity)."""
    return x + 0.2 * x**3 + 0.1 * np.sin(b @ x) - a


def objective(x, a, b):
    """Quadratic plus quartic: strictly convex, one minimiser."""
    return 0.5 * np.sum((b @ x) ** 2) + 0.5 * np.sum(x**2) - a @ x + 0.25 * np.sum(x**4)


def objective_gradient(x, a, b):
    # given to the solver so that it converges tightly; the rules differentiate `objective` itself
    return b.T @ (b @ x) + x - a + x**3


ROOT = {"tol": 1e-13}
FSOLVE = {"xtol": 1e-13}
MINIMIZE = {"method": "BFGS", "jac": objective_gradient, "options": {"gtol": 1e-12}}
# the solver's own error limits the finite-difference reference of minimize to about 1e-6
MINIMIZE_RTOL = 1e-5

SOLVERS = [
    # (solver, function, options, the solution in its output, rtol)
    (so.root, system, ROOT, lambda result: result.x, None),
    (so.fsolve, system, FSOLVE, lambda result: result, None),
    (so.minimize, objective, MINIMIZE, lambda result: result.x, MINIMIZE_RTOL),
]
IDS = ["root", "fsolve", "minimize"]


def parameters(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(3), rng.standard_normal((3, 3))


def solution_cotangent(solver, dx):
    return dx if solver is so.fsolve else Tangent(so.OptimizeResult, x=dx)


@pytest.mark.parametrize(("solver", "f", "options", "solution", "rtol"), SOLVERS, ids=IDS)
def test_reverse_rule_matches_finite_differences_of_the_solver(solver, f, options, solution, rtol):
    a, b = parameters()
    dx = np.random.default_rng(1).standard_normal(3)
    test_rrule(
        solver,
        nondiff(f),
        nondiff(np.zeros(3)),
        (a, b),
        fkwargs=options,
        config=zygote_engine.ZygoteRuleConfig(),
        output_tangent=solution_cotangent(solver, dx),
        rtol=rtol,
    )


@pytest.mark.parametrize(("solver", "f", "options", "solution", "rtol"), SOLVERS, ids=IDS)
def test_forward_rule_matches_finite_differences_of_the_solver(solver, f, options, solution, rtol):
    # test_frule would compare every field of an OptimizeResult; only the solution has a tangent
    a, b = parameters()
    rng = np.random.default_rng(2)
    da, db = rng.standard_normal(3), rng.standard_normal((3, 3))
    tangents = (NoTangent(), NoTangent(), ZeroTangent(), Tangent(tuple, da, db))
    config = zygote_engine.ForwardConfig()
    _, dy = frule(config, tangents, solver, f, np.zeros(3), (a, b), **options)

    def solve(v):
        return solution(solver(f, np.zeros(3), (v[:3], v[3:].reshape(3, 3)), **options))

    expected = jvp(solve, np.concatenate([a, b.ravel()]), np.concatenate([da, db.ravel()]))
    np.testing.assert_allclose(solution(dy), expected, rtol=rtol or 1e-6)


@pytest.mark.parametrize(("solver", "f", "options", "solution", "rtol"), SOLVERS, ids=IDS)
def test_start_gets_a_zero_cotangent(solver, f, options, solution, rtol):
    config = zygote_engine.ZygoteRuleConfig()
    _, back = rrule(config, solver, f, np.zeros(3), parameters(), **options)
    assert isinstance(back(solution_cotangent(solver, np.ones(3)))[2], ZeroTangent)


def test_parameters_captured_by_the_function_get_the_cotangent():
    a, b = parameters()

    def loss(a, b):
        x = so.fsolve(lambda x: system(x, a, b), np.zeros(3), **FSOLVE)
        return np.sum(np.sin(x))

    check_gradient(loss, a, b)


def check_gradient(loss, a, b, rtol=1e-6):
    """``zygote_engine.gradient`` of ``loss`` against finite differences of the whole call."""
    da, db = zygote_engine.gradient(loss, a, b)
    rng = np.random.default_rng(3)
    direction_a, direction_b = rng.standard_normal(3), rng.standard_normal((3, 3))
    expected = jvp(
        lambda v: np.atleast_1d(loss(v[:3], v[3:].reshape(3, 3))),
        np.concatenate([a, b.ravel()]),
        np.concatenate([direction_a, direction_b.ravel()]),
    )
    got = da @ direction_a + np.sum(db * direction_b)
    np.testing.assert_allclose(got, expected[0], rtol=rtol)


def test_gradient_of_a_loss_through_root():
    def loss(a, b):
        result = so.root(system, np.zeros(3), (a, b), **ROOT)
        return np.sum(result.x**2) + result.x[0]

    check_gradient(loss, *parameters())


def test_gradient_of_a_loss_through_minimize():
    def loss(a, b):
        return np.sum(so.minimize(objective, np.zeros(3), (a, b), **MINIMIZE).x ** 3)

    check_gradient(loss, *parameters(), rtol=MINIMIZE_RTOL)


def quadratic(x, A, b):
    return 0.5 * x @ A @ x - b @ x


def test_reverse_rule_of_minimize_is_exact_on_a_quadratic():
    # ∇ₓ f = (A + Aᵀ) x / 2 - b vanishes at x* = A⁻¹ b (A symmetric), so for L = sum(x*³):
    # b̄ = λ = A⁻¹ 3x*², and Ā = -(λ x*ᵀ + x* λᵀ) / 2 (the mixed term of ∇ₓ f in A), exactly
    rng = np.random.default_rng(3)
    M = rng.standard_normal((3, 3))
    A, b = M @ M.T + 3 * np.eye(3), rng.standard_normal(3)
    options = {"method": "BFGS", "jac": lambda x, A, b: A @ x - b, "options": {"gtol": 1e-12}}
    config = zygote_engine.ZygoteRuleConfig()
    result, back = rrule(config, so.minimize, quadratic, np.zeros(3), (A, b), **options)
    x = result.x
    _, _, _, dargs = back(Tangent(so.OptimizeResult, x=3 * x**2))  # (solver, fun, x0, args)
    dA, db = dargs
    expected_db = np.linalg.solve(A, 3 * x**2)
    np.testing.assert_allclose(db, expected_db, rtol=1e-12)
    expected_dA = -(np.outer(expected_db, x) + np.outer(x, expected_db)) / 2
    np.testing.assert_allclose(dA, expected_dA, rtol=1e-12)


def test_unconverged_solution_has_no_derivative():
    config = zygote_engine.ZygoteRuleConfig()
    options = {"method": "hybr", "options": {"maxfev": 2}}
    result, back = rrule(config, so.root, system, np.full(3, 5.0), parameters(), **options)
    assert not result.success
    with pytest.raises(NotConvergedError, match="did not converge"):
        back(Tangent(so.OptimizeResult, x=np.ones(3)))


def test_constrained_minimize_is_not_differentiated():
    config = zygote_engine.ZygoteRuleConfig()
    with pytest.raises(NotImplementedError, match="bounds= or constraints="):
        rrule(config, so.minimize, objective, np.zeros(3), parameters(), bounds=[(0, 1)] * 3)


def test_parameters_by_keyword_are_refused_not_silently_zero():
    with pytest.raises(TypeError, match="pass args positionally"):
        rrule(
            zygote_engine.ZygoteRuleConfig(),
            so.root,
            lambda x, a: x - a,
            np.zeros(2),
            args=(np.ones(2),),
        )
