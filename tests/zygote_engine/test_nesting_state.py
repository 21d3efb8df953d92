"""Nested differentiation of functions that read state by themselves (issue #8).

The inner function reads module globals, attributes of objects reached through them, or items
of containers; the outer differentiation changes that state (``Params``, an assignment of an
attribute or a global) and must see the inner derivative's dependence on it. Expected values are
analytic derivatives or central differences of plain numpy code.
"""

from __future__ import annotations

import numpy as np
import pytest

from zygote_engine import (
    Params,
    derivative,
    gradient,
    hessian,
    jacobian,
    jvp,
    pullback,
    withgradient,
)
from zygote_engine.errors import UnsupportedConstructError

W = np.array([1.0, 2.0])
X0 = np.array([0.5, -1.0])


class Model:
    def __init__(self, W, b):
        self.W = W
        self.b = b


model = Model(np.array([1.0, 2.0]), np.array([0.3, -0.2]))
G = np.array([1.0, 2.0])  # assigned by global_outer


def central(f, x, h=1e-6):
    """The gradient of the plain numpy function ``f`` at the array ``x`` by central differences."""
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def quadratic(x):
    return np.sum(W * x**2)


def test_params_outside_sees_a_global_the_inner_gradient_reads():
    # the example: d/dW sum(2 W x0) = 2 x0
    g = gradient(lambda: np.sum(gradient(quadratic, X0)[0]), Params([W]))
    np.testing.assert_allclose(g[W], 2 * X0)


def attribute_loss(x):
    return np.sum(np.sin(model.W * x))


def attribute_outer(w):
    model.W = w
    return np.sum(gradient(attribute_loss, X0)[0] ** 2)


def plain_attribute_outer(w):
    return np.sum((w * np.cos(w * X0)) ** 2)  # the inner gradient is w cos(w x)


def test_explicit_argument_stored_in_an_attribute_the_inner_gradient_reads():
    w = np.array([0.7, -0.4])
    (dw,) = gradient(attribute_outer, w)
    np.testing.assert_allclose(dw, central(plain_attribute_outer, w), rtol=1e-6)


def test_jvp_outside_perturbs_an_attribute_the_inner_gradient_reads():
    w, v = np.array([0.7, -0.4]), np.array([1.0, 0.5])
    y, dy = jvp(attribute_outer, (w,), (v,))
    np.testing.assert_allclose(y, plain_attribute_outer(w))
    np.testing.assert_allclose(dy, central(plain_attribute_outer, w) @ v, rtol=1e-6)


def global_loss(x):
    return np.sum(G * x**3)


def global_outer(w):
    global G
    G = w
    return np.sum(gradient(global_loss, X0)[0])  # sum(3 w x0²): d/dw = 3 x0²


def test_a_global_assigned_outside_and_read_by_the_inner_gradient():
    w = np.array([0.7, -0.4])
    (dw,) = gradient(global_outer, w)
    np.testing.assert_allclose(dw, 3 * X0**2)
    _, dy = jvp(global_outer, (w,), (np.array([1.0, 2.0]),))
    np.testing.assert_allclose(dy, 3 * X0[0] ** 2 + 2 * 3 * X0[1] ** 2)


def test_first_order_state_cotangents_of_withgradient_and_pullback_and_jvp():
    def outer(w):
        model.W = w
        val, (g,) = withgradient(attribute_loss, X0)
        y, back = pullback(attribute_loss, X0)
        _, dy = jvp(attribute_loss, (X0,), (np.array([1.0, 0.0]),))
        return val + 2 * y + np.sum(g) + np.sum(back(1.5)[0]) + dy

    def plain(w):
        g = w * np.cos(w * X0)
        return 3 * np.sum(np.sin(w * X0)) + 2.5 * np.sum(g) + g[0]

    w = np.array([0.7, -0.4])
    np.testing.assert_allclose(gradient(outer, w)[0], central(plain, w), rtol=1e-6)


def test_derivative_of_a_scalar_function_reading_an_attribute():
    holder = {"a": 2.0}

    def outer(a):
        holder["a"] = a
        return derivative(lambda x: holder["a"] * x**3, 1.5)  # 3 a x²

    assert gradient(outer, 2.0)[0] == pytest.approx(3 * 1.5**2)
    assert jvp(outer, (2.0,), (1.0,))[1] == pytest.approx(3 * 1.5**2)


def cubic_attribute(x):
    return np.sum(model.W * x**3)


def hessian_outer(w):
    model.W = w
    return np.sum(hessian(cubic_attribute, X0) ** 2)  # H = diag(6 w x0)


def test_hessian_inside_reverse_mode_sees_the_attribute():
    w = np.array([0.7, -0.4])
    (dw,) = gradient(hessian_outer, w)
    np.testing.assert_allclose(dw, 2 * (6 * X0) ** 2 * w)


def test_hessian_inside_forward_mode_with_perturbed_state_is_refused():
    with pytest.raises(UnsupportedConstructError, match="test_nesting_state.py"):
        jvp(hessian_outer, (np.array([0.7, -0.4]),), (np.array([1.0, 0.0]),))


def square_attribute(x):
    return model.W * x**2


def jacobian_outer(w):
    model.W = w
    (J,) = jacobian(square_attribute, X0)  # diag(2 w x0)
    return np.sum(J * np.array([[1.0, 3.0], [5.0, 7.0]]))  # 2 w0 x0 + 14 w1 x1


def test_jacobian_inside_sees_the_attribute_in_both_modes():
    w, v = np.array([0.7, -0.4]), np.array([1.0, 0.5])
    expected = np.array([2 * X0[0], 14 * X0[1]])
    np.testing.assert_allclose(gradient(jacobian_outer, w)[0], expected)
    np.testing.assert_allclose(jvp(jacobian_outer, (w,), (v,))[1], expected @ v)


# -- MAML: one step of gradient descent on a training loss, then the loss on test data; the
# bias is read by the losses as an attribute of a global model --

X_TRAIN = np.array([[1.0, 0.5], [-0.3, 2.0], [0.7, -1.2]])
Y_TRAIN = np.array([0.4, -0.1, 1.0])
X_TEST = np.array([[0.2, -0.7], [1.5, 0.3]])
Y_TEST = np.array([-0.5, 0.8])
LR = 0.05


def task_loss(w, X, Y):
    return np.sum((X @ w + model.b[0] - Y) ** 2)


def meta_loss(w, b):
    model.b = b
    (g,) = gradient(lambda v: task_loss(v, X_TRAIN, Y_TRAIN), w)
    return task_loss(w - LR * g, X_TEST, Y_TEST)


def plain_meta_loss(w, b):
    g = 2 * X_TRAIN.T @ (X_TRAIN @ w + b[0] - Y_TRAIN)
    w1 = w - LR * g
    return np.sum((X_TEST @ w1 + b[0] - Y_TEST) ** 2)


def test_maml_with_explicit_arguments_outside():
    w, b = np.array([0.3, -0.6]), np.array([0.2])
    dw, db = gradient(meta_loss, w, b)
    np.testing.assert_allclose(dw, central(lambda v: plain_meta_loss(v, b), w), rtol=1e-6)
    np.testing.assert_allclose(db, central(lambda c: plain_meta_loss(w, c), b), rtol=1e-6)


def test_maml_with_params_outside():
    model.W, model.b = np.array([0.3, -0.6]), np.array([0.2])

    def meta():
        (g,) = gradient(lambda v: task_loss(v, X_TRAIN, Y_TRAIN), model.W)
        return task_loss(model.W - LR * g, X_TEST, Y_TEST)

    w, b = model.W, model.b
    gs = gradient(meta, Params([w, b]))
    np.testing.assert_allclose(gs[w], central(lambda v: plain_meta_loss(v, b), w), rtol=1e-6)
    np.testing.assert_allclose(gs[b], central(lambda c: plain_meta_loss(w, c), b), rtol=1e-6)


def test_inner_params_gradient_reads_other_state_outside_its_params():
    # the inner gradient is in Params([w]); the bias it reads besides is the outer argument
    w = np.array([0.3, -0.6])

    def outer(b):
        model.b = b
        gs = gradient(lambda: task_loss(w, X_TRAIN, Y_TRAIN), Params([w]))
        return np.sum(gs[w] ** 2)

    def plain(b):
        return np.sum((2 * X_TRAIN.T @ (X_TRAIN @ w + b[0] - Y_TRAIN)) ** 2)

    b = np.array([0.2])
    np.testing.assert_allclose(gradient(outer, b)[0], central(plain, b), rtol=1e-6)


def _weighted_squares(x):
    return np.sum(model.W * x**2)


def test_jvp_and_pullback_inside_a_jvp_that_sets_the_state_they_read():
    # jvp(f, x0, v) and the pullback's gradient dotted with v are both sum(2 W x0 v); along
    # e0 in W that is 2 x0[0] v[0] = 1.0 (both were 0.0: the inner call ran plainly)
    x0, v = np.array([0.5, -1.0]), np.array([1.0, 1.0])

    def through_jvp(w):
        model.W = w
        return jvp(_weighted_squares, (x0,), (v,))[1]

    def through_pullback(w):
        model.W = w
        _, back = pullback(_weighted_squares, x0)
        return np.sum(back(1.0)[0] * v)

    w, e0 = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    for outer in (through_jvp, through_pullback):
        assert jvp(outer, (w,), (e0,))[1] == pytest.approx(1.0)
        np.testing.assert_allclose(gradient(outer, w)[0], 2 * x0 * v)
