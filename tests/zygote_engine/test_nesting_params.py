"""Nested differentiation through implicit Params, and of diaghessian of several arguments.

Expected values are derivatives worked out by hand, or central finite differences of functions
written out by hand (no engine call inside), never the engine's own output.
"""

from __future__ import annotations

import numpy as np
import pytest

from zygote_engine import (
    Grads,
    Params,
    derivative,
    diaghessian,
    gradient,
    hessian,
    hessian_reverse,
    jacobian,
    jvp,
    pullback,
    withgradient,
    withjacobian,
)

X = np.array([1.0, 2.0, -1.0])
TARGET = np.array([0.5, 1.0, 2.0])
W = np.array([0.3, -0.2, 0.8])  # a module global the losses below read as a parameter


def _central(fun, t: float, h: float = 1e-6) -> float:
    return (fun(t + h) - fun(t - h)) / (2 * h)


def _loss():
    return np.sum((W * X - TARGET) ** 4)


def _gradient_by_hand(w):
    return 4 * X * (w * X - TARGET) ** 3


def _after_one_step_by_hand(lr, w=None):
    w = W if w is None else w
    return np.sum(((w - lr * _gradient_by_hand(w)) * X - TARGET) ** 4)


def _after_one_sgd_step(lr):
    gs = gradient(_loss, Params([W]))
    return np.sum(((W - lr * gs[W]) * X - TARGET) ** 4)


# --- meta-learning: the derivative of the loss after an SGD step taken with Params -------------


def test_learning_rate_derivative_of_one_sgd_step_in_both_modes():
    # L1(lr) = L(W - lr g), so dL1/dlr = -∇L(W - lr g) · g
    lr = 0.1
    g = _gradient_by_hand(W)
    by_hand = -np.dot(_gradient_by_hand(W - lr * g), g)
    assert np.isclose(by_hand, _central(_after_one_step_by_hand, lr))
    (dlr,) = gradient(_after_one_sgd_step, lr)
    assert np.isclose(dlr, by_hand, rtol=1e-12)
    _, dlr_forward = jvp(_after_one_sgd_step, (lr,), (1.0,))
    assert np.isclose(dlr_forward, by_hand, rtol=1e-12)
    assert np.isclose(derivative(_after_one_sgd_step, lr), by_hand, rtol=1e-12)


def _maml_loss():
    return _after_one_sgd_step(0.1)


def test_maml_gradient_in_the_parameters_through_the_inner_step():
    # the outer Params gradient sees W directly and through the inner gradient (a Hessian term)
    gs = gradient(_maml_loss, Params([W]))
    expected = np.zeros(3)
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1e-6
        plus, minus = _after_one_step_by_hand(0.1, W + e), _after_one_step_by_hand(0.1, W - e)
        expected[i] = (plus - minus) / 2e-6
    np.testing.assert_allclose(gs[W], expected, rtol=1e-7, atol=1e-8 * np.max(np.abs(expected)))


def test_parameter_computed_from_the_outer_variable_and_captured():
    # W_s = s W, gradient 3 W_s^2: sum of squares 9 s^4 ΣW^4, derivative 36 s^3 ΣW^4
    def squared_gradient(s):
        w = s * W
        gs = gradient(lambda: np.sum(w**3), Params([w]))
        return np.sum(gs[w] ** 2)

    s = 1.3
    by_hand = 36 * s**3 * np.sum(W**4)
    assert np.isclose(gradient(squared_gradient, s)[0], by_hand, rtol=1e-12)
    assert np.isclose(jvp(squared_gradient, (s,), (1.0,))[1], by_hand, rtol=1e-12)


def test_outer_variable_captured_by_the_inner_loss():
    # ∂/∂W [s ΣW^3] = 3 s W^2: its sum is linear in s, slope 3 ΣW^2
    def slope(s):
        gs = gradient(lambda: s * np.sum(W**3), Params([W]))
        return np.sum(gs[W])

    assert np.isclose(gradient(slope, 2.0)[0], 3 * np.sum(W**2))
    assert np.isclose(jvp(slope, (2.0,), (1.0,))[1], 3 * np.sum(W**2))


def test_parameter_reached_as_an_attribute_and_an_object_parameter():
    class Layer:
        def __init__(self, w):
            self.w = w

    layer = Layer(W.copy())

    def loss():
        return np.sum((layer.w * X - TARGET) ** 4)

    def after_step_of_the_array(lr):
        gs = gradient(loss, Params([layer.w]))
        return np.sum(((layer.w - lr * gs[layer.w]) * X - TARGET) ** 4)

    def after_step_of_the_object(lr):
        gs = gradient(loss, Params([layer]))
        return np.sum(((layer.w - lr * gs[layer].w) * X - TARGET) ** 4)

    expected = _central(_after_one_step_by_hand, 0.1)
    for after_step in (after_step_of_the_array, after_step_of_the_object):
        assert np.isclose(gradient(after_step, 0.1)[0], expected, rtol=1e-7)
        assert np.isclose(jvp(after_step, (0.1,), (1.0,))[1], expected, rtol=1e-7)


def test_withgradient_with_params_inside_gradient_and_jvp():
    # val + Σ grad with W_s = s W: derivative Σ 4 (W_s X - T)^3 W X + Σ 12 X (W_s X - T)^2 W X
    def value_and_slope(s):
        w = s * W
        val, gs = withgradient(lambda: np.sum((w * X - TARGET) ** 4), Params([w]))
        return val + np.sum(gs[w])

    s = 1.3
    r = s * W * X - TARGET
    by_hand = np.sum(4 * r**3 * W * X) + np.sum(12 * X * r**2 * W * X)
    assert np.isclose(gradient(value_and_slope, s)[0], by_hand, rtol=1e-12)
    assert np.isclose(jvp(value_and_slope, (s,), (1.0,))[1], by_hand, rtol=1e-12)


def test_jacobian_with_params_inside_gradient_and_jvp():
    # J = diag(3 W_s^2 X) for y = W_s^3 X: ΣJ² = 9 s^4 Σ W^4 X^2, derivative 36 s^3 Σ W^4 X^2
    def squared_jacobian(s):
        w = s * W
        return np.sum(jacobian(lambda: w**3 * X, Params([w]))[w] ** 2)

    s = 1.3
    by_hand = 36 * s**3 * np.sum(W**4 * X**2)
    assert np.isclose(gradient(squared_jacobian, s)[0], by_hand, rtol=1e-12)
    assert np.isclose(jvp(squared_jacobian, (s,), (1.0,))[1], by_hand, rtol=1e-12)
    _, d = jvp(lambda s: withjacobian(lambda: (s * W) ** 2, Params([W])), (2.0,), (1.0,))
    (matrix,) = d.grad.values()  # J = diag(2 s^2 W): its derivative diag(4 s W)
    np.testing.assert_allclose(matrix, np.diag(8 * W))


def test_grads_arithmetic_values_items_and_vector_are_differentiated():
    def combined(s):
        w, b = s * W, s * np.ones(1)
        gs = gradient(lambda: np.sum(w**3) * b[0], Params([w, b]))
        scaled = gs + 0.5 * gs
        pairs = sum(np.sum(g) for _, g in gs.items())
        return np.sum(scaled.to_vector() ** 2) + sum(np.sum(g) for g in gs.values()) + pairs

    def by_hand(s):  # ∂/∂w = 3 w^2 b, ∂/∂b = Σ w^3, with w = s W and b = s
        gw, gb = 3 * (s * W) ** 2 * s, np.sum((s * W) ** 3)
        return 2.25 * (np.sum(gw**2) + gb**2) + 2 * (np.sum(gw) + gb)

    expected = _central(by_hand, 1.3)
    assert np.isclose(gradient(combined, 1.3)[0], expected, rtol=1e-7)
    assert np.isclose(jvp(combined, (1.3,), (1.0,))[1], expected, rtol=1e-7)


def test_jvp_of_grads_is_a_grads_of_the_same_params():
    b = np.array([0.5])

    def grads_of(s):
        w = s * W
        return gradient(lambda: np.sum(w**3) + np.sum(b), Params([w, b]))

    gs, dgs = jvp(grads_of, (1.0,), (1.0,))
    assert isinstance(dgs, Grads) and list(map(id, dgs)) == list(map(id, gs))
    dw, db = dgs.values()
    np.testing.assert_allclose(dw, 6 * W**2)  # d/ds 3 s^2 W^2 at s = 1
    np.testing.assert_allclose(db, [0.0])


def _derivative_of_a_params_gradient(x):
    w = np.array([x])
    return gradient(lambda: np.sum(w**3), Params([w]))[w][0]  # 3x²


def _second_central(fun, t: float, h: float = 1e-4) -> float:
    return (fun(t + h) - 2 * fun(t) + fun(t - h)) / h**2


def test_third_derivatives_through_params_in_every_mix_of_modes():
    # d²/dlr² of the loss after one SGD step, the step's gradient taken with Params
    lr = 0.1
    expected = _second_central(_after_one_step_by_hand, lr)
    assert np.isclose(jvp(derivative(_after_one_sgd_step), (lr,), (1.0,))[1], expected, rtol=1e-6)
    assert np.isclose(gradient(derivative(_after_one_sgd_step), lr)[0], expected, rtol=1e-6)
    assert np.isclose(derivative(derivative(_after_one_sgd_step))(lr), expected, rtol=1e-6)
    # the parameter built from the outer variable: d/dx 3x² = 6x, then 6
    assert gradient(_derivative_of_a_params_gradient, 1.5) == (9.0,)
    assert gradient(derivative(_derivative_of_a_params_gradient), 1.5) == (6.0,)
    assert jvp(derivative(_derivative_of_a_params_gradient), (1.5,), (1.0,))[1] == 6.0


# sin(w) w² elementwise, and its derivatives by hand
def _f(v):
    return np.sin(v) * v**2


def _f1(v):
    return np.cos(v) * v**2 + 2 * v * np.sin(v)


def _f2(v):
    return -np.sin(v) * v**2 + 4 * v * np.cos(v) + 2 * np.sin(v)


def _f3(v):
    return -np.cos(v) * v**2 - 6 * v * np.sin(v) + 6 * np.cos(v)


V = np.array([0.3, -0.7])
U = np.array([1.0, 2.0])
PS = Params([V])  # built outside the differentiated code, read as a global


def _sum_f():
    return np.sum(_f(V))


def _directional_gradient():
    return np.sum(gradient(_sum_f, PS)[V] * U)


def test_a_params_built_outside_hands_its_parameters_their_cotangents():
    # the inner gradient's cotangent reaches V through the global PS: a Hessian-vector product,
    # then a third derivative (these were None, the cotangent of PS lost)
    np.testing.assert_allclose(gradient(_directional_gradient, PS)[V], _f2(V) * U, rtol=1e-12)
    np.testing.assert_allclose(jacobian(lambda: gradient(_sum_f, PS)[V], PS)[V], np.diag(_f2(V)))
    third = gradient(lambda: np.sum(gradient(_directional_gradient, PS)[V] * U), PS)[V]
    np.testing.assert_allclose(third, _f3(V) * U * U, rtol=1e-12)

    def captured(ps):  # the same Params captured by a closure instead
        return lambda: np.sum(gradient(_sum_f, ps)[V] * U)

    np.testing.assert_allclose(gradient(captured(PS), PS)[V], _f2(V) * U, rtol=1e-12)


def _pullback_of_params(s):
    y, back = pullback(lambda: s * _sum_f(), PS)
    return y + np.sum(back(s)[V] ** 2)  # s Σf + s⁴ Σf'²


def test_pullback_with_params_differentiated_to_third_order():
    s = 1.3
    first = np.sum(_f(V)) + 4 * s**3 * np.sum(_f1(V) ** 2)
    second = 12 * s**2 * np.sum(_f1(V) ** 2)
    assert np.isclose(gradient(_pullback_of_params, s)[0], first, rtol=1e-12)
    assert np.isclose(jvp(_pullback_of_params, (s,), (1.0,))[1], first, rtol=1e-12)
    assert np.isclose(derivative(derivative(_pullback_of_params))(s), second, rtol=1e-12)
    assert np.isclose(jvp(derivative(_pullback_of_params), (s,), (1.0,))[1], second, rtol=1e-12)

    def squared_gradient():  # Σ (f')², differentiated in V: 2 f' f''
        _, back = pullback(_sum_f, PS)
        return np.sum(back(1.0)[V] ** 2)

    np.testing.assert_allclose(gradient(squared_gradient, PS)[V], 2 * _f1(V) * _f2(V))
    assert "pullback of _sum_f at Params([ndarray" in repr(pullback(_sum_f, PS)[1])


# --- diaghessian of several arguments inside differentiated code ---------------------------------


def _two_argument_function(a, b, label):
    return np.sum(a**3) * b**2 + np.sum(np.sin(a)) * b


A, B = np.array([0.3, -0.7]), 1.5


def test_diaghessian_of_several_arguments_inside_gradient():
    # diagonals 6 a b^2 - sin(a) b and 2 Σa^3; their sum's gradient by hand
    def total(a, b):
        da, db, dlabel = diaghessian(_two_argument_function, a, b, "label")
        assert dlabel is None
        return np.sum(da) + db

    ga, gb = gradient(total, A, B)
    np.testing.assert_allclose(ga, 6 * B**2 - np.cos(A) * B + 6 * A**2, rtol=1e-12)
    assert np.isclose(gb, 12 * np.sum(A) * B - np.sum(np.sin(A)), rtol=1e-12)


def test_diaghessian_of_several_arguments_inside_jvp():
    va, vb = np.array([1.0, -2.0]), 0.5
    (da, db), (dda, ddb) = jvp(
        lambda a, b: diaghessian(_two_argument_function, a, b, "label")[:2], (A, B), (va, vb)
    )
    np.testing.assert_allclose(da, 6 * A * B**2 - np.sin(A) * B)
    assert np.isclose(db, 2 * np.sum(A**3))
    np.testing.assert_allclose(dda, (6 * B**2 - np.cos(A) * B) * va + (12 * A * B - np.sin(A)) * vb)
    assert np.isclose(ddb, np.sum(6 * A**2 * va))


def test_diaghessian_of_several_arguments_of_a_function_that_captures():
    def first_diagonal(s):  # diagonal in a of s Σa^4 b: 12 s a^2 b, linear in s
        return np.sum(diaghessian(lambda a, b: s * np.sum(a**4) * b, A, B)[0])

    expected = np.sum(12 * A**2 * B)
    assert np.isclose(gradient(first_diagonal, 2.0)[0], expected)
    assert np.isclose(jvp(first_diagonal, (2.0,), (1.0,))[1], expected)


def _squared_params_gradient(x):
    w = x * 1.0
    gs = gradient(lambda: np.sum(w**3), Params([w]))
    return np.sum(gs[w] ** 2)  # Σ (3 x²)² = 9 Σ x⁴


def test_hessians_of_a_loss_that_takes_a_params_gradient():
    # third derivatives: 9 Σ x⁴ has the Hessian diag(108 x²)
    x = np.array([0.5, -1.2, 2.0])
    expected = np.diag(108 * x**2)
    np.testing.assert_allclose(hessian(_squared_params_gradient, x), expected)
    np.testing.assert_allclose(hessian_reverse(_squared_params_gradient, x), expected)
    np.testing.assert_allclose(diaghessian(_squared_params_gradient, x)[0], 108 * x**2)


class _Holder:
    def __init__(self, w):
        self.w = w


def _dict_parameter_slope(s):
    d = {"a": s * 1.0}
    return gradient(lambda: d["a"] ** 3, Params([d]))[d]["a"]  # 3 s²


def _object_parameter_slope(s):
    m = _Holder(np.array([s, 2 * s]))
    return np.sum(gradient(lambda: np.sum(m.w**3), Params([m]))[m].w)  # 15 s²


def _list_parameter_slope(s):
    xs = [X * s]
    return np.sum(gradient(lambda: np.sum(xs[0] ** 3), Params([xs]))[xs][0])  # 3 s² Σ X²


@pytest.mark.parametrize(
    "slope, c",
    [
        (_dict_parameter_slope, 3.0),
        (_object_parameter_slope, 15.0),
        (_list_parameter_slope, 3 * np.sum(X**2)),
    ],
    ids=["dict", "object", "list"],
)
def test_third_derivatives_through_container_parameters(slope, c):
    # slope(s) = c s²: its first derivative 2 c s, its second 2 c, in every mix of modes
    s = 1.5
    assert np.isclose(derivative(slope)(s), 2 * c * s)
    assert np.isclose(derivative(derivative(slope))(s), 2 * c)
    assert np.isclose(jvp(derivative(slope), (s,), (1.0,))[1], 2 * c)
    assert np.isclose(gradient(lambda s: jvp(slope, (s,), (1.0,))[1], s)[0], 2 * c)
