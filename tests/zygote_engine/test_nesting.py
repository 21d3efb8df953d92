"""Nested differentiation: every mode inside every other, to third order, against analytic values.

Expected values are derivatives worked out by hand (or central finite differences of a gradient
worked out by hand), never the engine's own output.
"""

# The functions under test are written in the style being differentiated (if/else blocks).
# ruff: noqa: SIM108

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrules_core import NoTangent, frule, ignore_derivatives, linear_pullback, rrule
from zygote_engine import (
    Params,
    adjoint,
    checkpointed,
    derivative,
    diaghessian,
    gradient,
    hessian,
    hessian_reverse,
    hook,
    jacobian,
    jvp,
    pullback,
    withgradient,
    withjacobian,
)

# --- the examples -------------------------------------------------------------------


def test_gradient_of_a_gradient():
    assert gradient(lambda x: gradient(lambda y: y**3, x)[0], 2.0) == (12.0,)


def test_derivative_of_a_derivative():
    assert derivative(derivative(lambda x: x**3))(2.0) == 12.0


def test_siskind_pearlmutter_perturbations_are_not_confused():
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1; confusing the perturbations gives 2
    assert gradient(lambda x: x * gradient(lambda y: x + y, 1.0)[0], 1.0) == (1.0,)


def test_siskind_pearlmutter_with_jvp_inside_gradient_and_inside_jvp():
    assert gradient(lambda x: x * jvp(lambda y: x + y, (1.0,), (1.0,))[1], 1.0) == (1.0,)
    assert jvp(lambda x: x * jvp(lambda y: x + y, (1.0,), (1.0,))[1], (1.0,), (1.0,)) == (1.0, 1.0)


def test_inner_gradient_is_differentiated_not_held_constant():
    def inner_slope(x):
        return gradient(lambda y: y**3, x)[0]  # 3 x^2

    assert gradient(lambda x: x * inner_slope(x), 2.0) == (36.0,)  # d/dx 3 x^3 = 9 x^2


@pytest.mark.parametrize("x", [0.3, -1.2])
def test_third_derivative_of_sin_in_every_mix_of_modes(x):
    expected = -math.cos(x)
    d3 = derivative(derivative(derivative(math.sin)))
    assert math.isclose(d3(x), expected, rel_tol=1e-12)

    def second(z):  # -sin z, by forward over forward
        return jvp(lambda y: jvp(math.sin, (y,), (1.0,))[1], (z,), (1.0,))[1]

    assert math.isclose(jvp(second, (x,), (1.0,))[1], expected, rel_tol=1e-12)
    assert math.isclose(gradient(second, x)[0], expected, rel_tol=1e-12)
    slope = lambda z: gradient(math.sin, z)[0]  # noqa: E731
    assert math.isclose(
        jvp(lambda z: jvp(slope, (z,), (1.0,))[1], (x,), (1.0,))[1], expected, rel_tol=1e-12
    )


def test_third_derivative_of_a_power():
    d3 = derivative(derivative(derivative(lambda x: x**5)))
    assert math.isclose(d3(1.5), 60 * 1.5**2, rel_tol=1e-12)


# --- pullback, withgradient and jvp inside gradient -------------------------------------------


def test_pullback_inside_gradient():
    def f(x):
        _, back = pullback(lambda z: z**3 * x, x)
        return back(2.0)[0]  # 2 * 3 x^2 * x = 6 x^3

    assert math.isclose(gradient(f, 1.5)[0], 18 * 1.5**2)


def test_withgradient_inside_gradient_uses_value_and_gradient():
    def f(x):
        val, (g,) = withgradient(lambda y: y**3, x)  # x^3, 3 x^2
        return val * g  # 3 x^5

    assert math.isclose(gradient(f, 1.2)[0], 15 * 1.2**4)


def test_jvp_inside_gradient_differentiates_primal_and_tangent():
    def f(x, v):
        y, dy = jvp(lambda a: np.sin(a) * a, (x,), (v,))
        return y + dy  # sin x * x + (cos x * x + sin x) v

    x, v = 0.7, 1.3
    dx, dv = gradient(f, x, v)
    assert math.isclose(dx, math.cos(x) * x + math.sin(x) + (2 * math.cos(x) - math.sin(x) * x) * v)
    assert math.isclose(dv, math.cos(x) * x + math.sin(x))


def test_gradient_penalty_loss_against_finite_differences():
    # a loss using the gradient of a model with respect to its input (WGAN-GP style)
    x = np.array([0.3, -0.8])

    def model(w, x):
        return np.tanh(w @ x)

    def loss(w):
        (gx,) = gradient(lambda x: model(w, x), x)
        return model(w, x) + np.sum(gx**2)

    def grad_x(w):  # the input gradient by hand: (1 - tanh^2) w
        return (1 - np.tanh(w @ x) ** 2) * w

    def loss_by_hand(w):
        return np.tanh(w @ x) + np.sum(grad_x(w) ** 2)

    w = np.array([0.5, 1.1])
    eps = 1e-6
    expected = [
        (loss_by_hand(w + eps * e) - loss_by_hand(w - eps * e)) / (2 * eps) for e in np.eye(2)
    ]
    np.testing.assert_allclose(gradient(loss, w)[0], expected, rtol=1e-6)


# --- Hessians -----------------------------------------------------------------------------------


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    n = x.size
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
    return h


@pytest.mark.parametrize("n", [5, 100])
def test_hessian_of_rosenbrock_is_the_analytic_hessian(n):
    x = np.random.default_rng(n).uniform(-1.5, 1.5, n)
    expected = rosenbrock_hessian(x)
    np.testing.assert_allclose(hessian(rosenbrock, x), expected, rtol=1e-12, atol=1e-9)
    if n == 5:  # reverse over reverse: one Hessian-vector product per column, slower
        np.testing.assert_allclose(hessian_reverse(rosenbrock, x), expected, rtol=1e-12)


def test_hessian_of_a_function_with_loops_and_branches():
    def f(x):
        total = 0.0
        for i in range(x.size):
            if x[i] > 0:
                total = total + x[i] ** 3
            else:
                total = total + x[i] * x[(i + 1) % x.size]
        return total

    x = np.array([1.5, -0.5, 2.0])
    # 1.5^3 + (-0.5)(2.0) + 2.0^3: d2/dx0^2 = 6 x0, d2/dx2^2 = 6 x2, d2/dx1dx2 = 1
    expected = np.array([[9.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 12.0]])
    np.testing.assert_allclose(hessian(f, x), expected)
    np.testing.assert_allclose(hessian_reverse(f, x), expected)


def test_hessian_of_a_number_is_a_number_and_bad_input_is_named():
    assert hessian(lambda x: math.exp(2 * x), 0.0) == 4.0
    with pytest.raises(TypeError, match="hessian needs a real number or a real float array"):
        hessian(lambda xs: xs[0] ** 2, [1.0, 2.0])


def test_diaghessian_per_argument():
    def f(x, y, label):
        return np.sum(x**2) * y**3 + np.sum(np.exp(x))

    x, y = np.array([1.0, -2.0]), 2.0
    dx, dy, dlabel = diaghessian(f, x, y, "a string")
    np.testing.assert_allclose(dx, 2 * y**3 + np.exp(x))
    assert math.isclose(dy, 6 * y * np.sum(x**2))
    assert dlabel is None


def test_hessian_vector_product_by_jvp_of_gradient():
    x = np.array([0.4, -0.3, 1.2])
    v = np.array([1.0, 2.0, -1.0])
    _, hv = jvp(lambda x: gradient(rosenbrock, x)[0], (x,), (v,))
    np.testing.assert_allclose(hv, rosenbrock_hessian(x) @ v, rtol=1e-12)


def test_hessian_vector_product_of_several_arguments_and_of_what_the_function_captures():
    # g = gradient in (a, s) of sum(w a^2) s^2, with w captured and varied along with a:
    # g_a = 2 w a s^2, g_s = 2 s sum(w a^2)
    a0, s0 = np.array([0.5, -1.0, 2.0]), 1.5
    va, vw, vs = np.array([1.0, 0.5, -1.0]), np.array([0.2, -0.3, 0.1]), 0.7

    def grads(a, w, s):
        return gradient(lambda a, s: np.sum(w * a**2) * s**2, a, s)

    w0 = np.array([1.0, 2.0, 3.0])
    (g_a, g_s), (dg_a, dg_s) = jvp(grads, (a0, w0, s0), (va, vw, vs))
    np.testing.assert_allclose(g_a, 2 * w0 * a0 * s0**2)
    assert math.isclose(g_s, 2 * s0 * np.sum(w0 * a0**2))
    np.testing.assert_allclose(
        dg_a, 2 * vw * a0 * s0**2 + 2 * w0 * va * s0**2 + 4 * w0 * a0 * s0 * vs
    )
    expected_s = 2 * vs * np.sum(w0 * a0**2) + 2 * s0 * np.sum(vw * a0**2 + 2 * w0 * a0 * va)
    assert math.isclose(dg_s, expected_s)


def test_hessian_vector_product_with_an_argument_that_does_not_reach_the_loss():
    a0, v = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    (g_a, g_b), (dg_a, dg_b) = jvp(
        lambda a: gradient(lambda a, b: np.sum(a**3), a, 4.0), (a0,), (v,)
    )
    np.testing.assert_allclose(g_a, 3 * a0**2)
    np.testing.assert_allclose(dg_a, 6 * a0 * v)
    assert g_b is None
    assert dg_b is None  # (None has no tangent either)


def test_hessian_vector_product_of_a_number_whose_gradient_is_a_numpy_scalar():
    # d/ds (s sum(w))^2 = 2 s sum(w)^2 (np.sum gives a numpy scalar, the gradient a float)
    w = np.array([1.0, 2.0, -0.5])
    y, dy = jvp(lambda s: gradient(lambda s: np.sum(s * w) ** 2, s)[0], (2.0,), (1.0,))
    assert type(y) is float
    assert math.isclose(y, 2 * 2.0 * np.sum(w) ** 2)
    assert math.isclose(dy, 2 * np.sum(w) ** 2)


# --- rules' own code differentiated again: methods, contractions, reductions --------------------

_X4 = np.array([0.3, -0.7, 1.1, 0.5])
_A4 = np.arange(16.0).reshape(4, 4) / 10


def _cube_of_reshape(a):
    return np.sum(a.reshape(2, 2) ** 3)


def _cube_of_copy(a):
    return np.sum(a.copy() ** 3)


def _cube_of_cast(a):
    return np.sum(a.astype(np.float64) ** 3)


def _cube_of_clipped(a):
    return np.sum(a.clip(-5.0, 5.0) ** 3)


def _quadratic_by_dot_method(a):
    return a.dot(_A4 @ a)


def _quadratic_by_dot(a):
    return np.dot(a, _A4 @ a)


def _quadratic_by_einsum(a):
    return np.einsum("i,ij,j->", a, _A4, a)


def _quadratic_by_tensordot(a):
    return np.tensordot(a, _A4 @ a, 1)


_CUBE_HESSIAN = np.diag(6 * _X4)
_QUADRATIC_HESSIAN = _A4 + _A4.T


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        # bound methods: their receiver's tangent was lost (a silently zero second derivative)
        (_cube_of_reshape, _CUBE_HESSIAN),
        (_cube_of_copy, _CUBE_HESSIAN),
        (_cube_of_cast, _CUBE_HESSIAN),
        # rules whose pullbacks build einsum subscripts from lists of letters, or check options
        (_cube_of_clipped, _CUBE_HESSIAN),
        (_quadratic_by_dot_method, _QUADRATIC_HESSIAN),
        (_quadratic_by_dot, _QUADRATIC_HESSIAN),
        (_quadratic_by_einsum, _QUADRATIC_HESSIAN),
        (_quadratic_by_tensordot, _QUADRATIC_HESSIAN),
    ],
    ids=lambda case: getattr(case, "__name__", ""),
)
def test_hessians_through_methods_and_contractions(f, expected):
    v = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(hessian(f, _X4), expected, atol=1e-12)
    np.testing.assert_allclose(hessian_reverse(f, _X4), expected, atol=1e-12)
    _, hv = jvp(lambda x: gradient(f, x)[0], (_X4,), (v,))
    np.testing.assert_allclose(hv, expected @ v, atol=1e-12)


def test_hessian_of_a_standard_deviation():
    # s = sqrt(var), var = mean((x - m)^2): H = H_var / (2 s) - g_var g_var^T / (4 s^3), with
    # g_var = 2 (x - m) / n and H_var = 2 (I - 1 1^T / n) / n
    x, n = _X4, _X4.size
    s, centred = np.std(x), x - np.mean(x)
    g_var = 2 * centred / n
    h_var = 2 * (np.eye(n) - np.ones((n, n)) / n) / n
    expected = h_var / (2 * s) - np.outer(g_var, g_var) / (4 * s**3)
    np.testing.assert_allclose(hessian(lambda a: a.std(), x), expected, atol=1e-12)
    np.testing.assert_allclose(hessian_reverse(lambda a: np.std(a), x), expected, atol=1e-12)


def _power(x, p):
    return x**p


@rrule.register(_power)
def _power_rrule(x, p):
    if p == 1:

        @linear_pullback  # linear for p = 1 only
        def identity_pullback(dy):
            return NoTangent(), dy * 1.0, NoTangent()

        return x * 1.0, identity_pullback

    def power_pullback(dy):
        return NoTangent(), dy * p * x ** (p - 1), NoTangent()

    return x**p, power_pullback


@frule.register(_power)
def _power_frule(tangents, x, p):
    return x**p, p * x ** (p - 1) * tangents[1]


def test_a_rule_whose_pullback_is_linear_for_some_calls_only():
    # Differentiated again, a rule that returned a linear pullback runs as it is the next time;
    # when its pullback is not linear after all, the call is differentiated. f = sum(w x) +
    # sum(x^3): H = diag(6 x), in either order of the calls.
    w, x, v = np.array([1.0, -2.0, 0.5]), np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, -1.0])

    def linear_first(x):
        return np.sum(_power(x, 1) * w) + np.sum(_power(x, 3))

    def cubic_first(x):
        return np.sum(_power(x, 3)) + np.sum(_power(x, 1) * w)

    for f in (linear_first, cubic_first, linear_first):
        _, hv = jvp(lambda x, f=f: gradient(f, x)[0], (x,), (v,))
        np.testing.assert_allclose(hv, 6 * x * v)


# --- custom gradients and control inside nested differentiation ----------------------------------


def test_adjoint_hook_checkpointed_and_ignore_derivatives_inside_a_hessian():
    @adjoint
    def cube(x):
        return x**3, lambda dy: (3 * x**2 * dy,)

    def f(x):
        a = cube(x[0])
        b = checkpointed(lambda z: z[1] ** 4, x)
        c = hook(lambda d: d, x[2]) ** 2
        d = ignore_derivatives(lambda: 100.0 * x[0] ** 2)  # a leak would add 200 to H[0, 0]
        return a + b + c + d

    x = np.array([1.5, 0.5, 2.0])
    expected = np.diag([6 * 1.5, 12 * 0.5**2, 2.0])
    np.testing.assert_allclose(hessian(f, x), expected)
    np.testing.assert_allclose(hessian_reverse(f, x), expected)


# --- pullback with implicit Params inside differentiated code --------------------------------------


def _loss_with_implicit_pullback(x):
    w = np.ones(2)
    _, back = pullback(lambda: np.sum(w * x**2), Params([w]))
    return np.sum(back(1.0)[w])  # the gradient in w is x²: the loss is Σ x², its gradient 2x


def test_pullback_with_params_inside_gradient_and_jvp():
    x = np.array([0.5, -2.0])
    np.testing.assert_allclose(gradient(_loss_with_implicit_pullback, x)[0], 2 * x)
    _, d = jvp(_loss_with_implicit_pullback, (x,), (np.array([1.0, 3.0]),))
    assert np.isclose(d, 2 * x @ [1.0, 3.0])


# --- Jacobians and Hessians inside differentiated code, against analytic derivatives --------------


def test_jacobian_inside_gradient_and_jvp():
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, -1.0])

    def sum_of_squares_of_the_jacobian(x):  # J = diag(3 x^2): sum of J^2 is 9 sum(x^4)
        return np.sum(jacobian(lambda z: z**3, x)[0] ** 2)

    np.testing.assert_allclose(gradient(sum_of_squares_of_the_jacobian, x)[0], 36 * x**3)
    for mode in ("forward", "reverse"):
        _, dj = jvp(lambda z, m=mode: jacobian(lambda w: w**3, z, mode=m)[0], (x,), (v,))
        np.testing.assert_allclose(dj, np.diag(6 * x * v))


def test_jacobian_of_two_arguments_and_of_what_the_function_captures():
    a, b = np.array([0.5, 2.0]), np.array([-1.0, 3.0])

    def trace_product(a, b):  # J_a = diag(b), J_b = diag(a): the sum is a . b
        ja, jb = jacobian(lambda p, q: p * q, a, b)
        return np.sum(ja * jb)

    ga, gb = gradient(trace_product, a, b)
    np.testing.assert_allclose(ga, b)
    np.testing.assert_allclose(gb, a)

    def scaled(s):  # J = s diag(cos x)
        return np.sum(jacobian(lambda w: s * np.sin(w), a)[0])

    assert np.isclose(gradient(scaled, 2.0)[0], np.sum(np.cos(a)))
    _, ds = jvp(lambda s: withjacobian(lambda w: s * np.sin(w), a), (2.0,), (1.0,))
    np.testing.assert_allclose(ds.val, np.sin(a))
    np.testing.assert_allclose(ds.grad[0], np.diag(np.cos(a)))


@pytest.mark.parametrize("second", [hessian, hessian_reverse])
def test_hessian_inside_gradient_and_jvp(second):
    x, v = np.array([0.3, 0.7]), np.array([1.0, -2.0])

    def cubic(s):
        return lambda w: s * np.sum(w**3)  # H = 6 s diag(w)

    assert np.isclose(gradient(lambda s: np.sum(second(cubic(s), x)), 2.0)[0], np.sum(6 * x))
    _, ds = jvp(lambda s: second(cubic(s), x), (2.0,), (1.0,))
    np.testing.assert_allclose(ds, np.diag(6 * x))
    np.testing.assert_allclose(gradient(lambda z: np.sum(second(cubic(2.0), z)), x)[0], [12, 12])
    _, dz = jvp(lambda z: second(cubic(2.0), z), (x,), (v,))
    np.testing.assert_allclose(dz, np.diag(12 * v))


def test_diaghessian_of_one_argument_inside_gradient_and_jvp():
    x = np.array([0.3, 0.7])
    quartic = lambda w: np.sum(w**4)  # noqa: E731 - diagonal 12 w^2
    np.testing.assert_allclose(gradient(lambda z: np.sum(diaghessian(quartic, z)[0]), x)[0], 24 * x)
    _, dd = jvp(lambda z: diaghessian(quartic, z)[0], (x,), (np.ones(2),))
    np.testing.assert_allclose(dd, 24 * x)


# --- a pullback declared linear is not differentiated again --------------------------------------


# ``v[::-1]`` by code that has no source to transform (made by eval) and no rule
_reversed_in_c = eval("lambda v: v[::-1].copy()")


def _flipped(x):
    return x[::-1] * 1.0


@rrule.register(_flipped)
def _flipped_rrule(x):
    @linear_pullback  # linear in dy, reads nothing of x
    def flipped_pullback(dy):
        return NoTangent(), _reversed_in_c(np.asarray(dy))

    return _flipped(x), flipped_pullback


def test_a_linear_pullback_is_applied_to_the_tangent_not_differentiated():
    # f(x) = sum(flip(x) * w * x): its Hessian is (P W + W P) with P the reversal, W = diag(w)
    w = np.array([1.0, 2.0, 3.0])

    def f(x):
        return np.sum(_flipped(x) * w * x)

    x = np.array([0.5, -1.0, 2.0])
    flip = np.eye(3)[::-1]
    expected = flip @ np.diag(w) + np.diag(w) @ flip
    np.testing.assert_allclose(hessian(f, x), expected)
    _, hvp = jvp(lambda x: gradient(f, x)[0], (x,), (np.ones(3),))
    np.testing.assert_allclose(hvp, expected @ np.ones(3))
