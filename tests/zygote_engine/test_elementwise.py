"""Elementwise arithmetic on float64 arrays differentiated in the generated code itself
(``zygote_engine.elementwise``), and the cheaper argument binding of the rules.

Every gradient is checked against finite differences, for operands that take the array path
(float64 arrays of any shape, broadcast against each other and against Python and numpy
numbers) and for operands that must take the rules instead (float32, complex, integer and 0-d
arrays, arrays written in place).
"""

from __future__ import annotations

import numpy as np
import pytest
from fd_check import assert_gradient_matches_fd

from chainrules.calls import bound_arguments, signature_of
from zygote_engine import gradient, jvp, show_adjoint
from zygote_engine.elementwise import fit, fit_partial, on_arrays, partial_cotangents
from zygote_engine.store import MutationStore

RNG = np.random.default_rng(7)


def layer(x, W, b, scale):
    h = np.tanh(x @ W + b)
    return np.sum(h * h / scale - h * 0.5) + np.mean(np.logaddexp(0.0, -h))


@pytest.mark.parametrize(
    "b, scale",
    [
        (RNG.normal(size=3), 2.0),  # a bias broadcast over the rows, a Python float
        (RNG.normal(size=(4, 3)), 3),  # no broadcasting, a Python int
        (RNG.normal(size=(1, 3)), np.float64(1.5)),  # a size-1 axis, a numpy scalar
        (0.3, RNG.normal(size=(4, 1)) + 2.0),  # a number bias, a column scale
    ],
)
def test_array_arithmetic_matches_finite_differences(b, scale):
    x, W = RNG.normal(size=(4, 5)), RNG.normal(size=(5, 3)) * 0.5
    assert_gradient_matches_fd(layer, x, W, b, scale)


def squared_modulus(a):
    y = a * a - a / 2.0
    return np.sum(np.real(y * np.conj(y)))


@pytest.mark.parametrize(
    "a",
    [RNG.normal(size=3) + 1j * RNG.normal(size=3), np.array(0.7)],
    ids=["complex", "0-d"],
)
def test_other_arrays_take_the_rules_and_keep_their_type(a):
    (da,) = gradient(squared_modulus, a)
    assert type(da) is np.ndarray and da.dtype == a.dtype and da.shape == a.shape
    assert_gradient_matches_fd(squared_modulus, a)


def test_float32_arrays_take_the_rules_and_get_float32_gradients():
    a = RNG.normal(size=3)
    (da32,) = gradient(squared_modulus, a.astype(np.float32))
    (da64,) = gradient(squared_modulus, a)
    assert da32.dtype == np.float32
    np.testing.assert_allclose(da32, da64, rtol=1e-4)  # float64's is checked above


def test_integer_arrays_get_no_gradient():
    assert gradient(lambda n, x: np.sum(n * x), np.arange(3), np.ones(3))[0] is None


def test_operands_written_in_place_take_the_rules():
    def f(x, w):
        a = x * w  # before any write: the array path
        a[0] = a[1] * w  # a write: from here on the rules, through the write log
        return np.sum(a * x)

    assert_gradient_matches_fd(f, RNG.normal(size=4), 0.7)


def test_forward_mode_over_the_array_path():
    # a Hessian-vector product differentiates the generated backward pass, array path included
    x, v = RNG.normal(size=3), RNG.normal(size=3)

    def loss(x):
        return np.sum(np.tanh(x * 2.0 + 1.0) * x)

    _, hv = jvp(lambda x: gradient(loss, x)[0], (x,), (v,))
    h = 1e-6
    expected = (gradient(loss, x + h * v)[0] - gradient(loss, x - h * v)[0]) / (2 * h)
    np.testing.assert_allclose(hv, expected, rtol=1e-6, atol=1e-8)


def test_generated_code_computes_the_cotangents_of_active_operands_only():
    def scaled(x, data):
        return np.sum(x * 3.0 + data)

    source = show_adjoint(scaled)
    assert "elif __on_array(__cx, x):" in source  # a literal is a number: not checked
    # x's cotangent, and none for the literal; fitted to x's shape where it is not that already
    assert "__g1 = dt1 * 3.0\n" in source and "else __fit(__g1, x_1)" in source
    assert "__g2 = dt2 if data_1.__class__ is tuple" in source
    assert "else __fit(dt2, data_1)" in source


def test_on_arrays_accepts_float64_arrays_and_real_numbers_only():
    cx = MutationStore()
    assert on_arrays(cx, np.ones(3), 2.0, 3, np.float64(1.0))
    assert not on_arrays(cx, np.ones(3), True)
    assert not on_arrays(cx, np.ones(3), 1j)
    assert not on_arrays(cx, np.array(1.0))
    assert not on_arrays(cx, [1.0, 2.0])
    assert not on_arrays(cx, np.ones((1, 2)).view(np.matrix))
    cx.array_writes()
    assert not on_arrays(cx, np.ones(3))


def test_fit_sums_broadcast_axes_and_projects():
    np.testing.assert_array_equal(fit(np.ones((2, 3)), np.zeros((1, 3))), [[2.0, 2.0, 2.0]])
    assert fit(np.full((2, 2), 0.5), 3) == 2.0 and type(fit(np.ones(2), 3)) is float
    assert type(fit(np.ones(2), np.float64(1.0))) is np.float64
    assert fit(np.ones(2, np.complex128), np.zeros(2)).dtype == np.float64


@pytest.mark.parametrize("shape", [(3, 1), (4,), (1, 1, 4), (2, 1, 1), (1,), (2, 3, 4)], ids=str)
def test_fit_of_a_broadcast_operand_sums_each_entrys_copies(shape):
    g = np.random.default_rng(0).normal(size=(2, 3, 4))
    # each entry of the operand, broadcast into g's shape, gets the sum of g over its copies
    entry = np.broadcast_to(np.arange(np.prod(shape)).reshape(shape), g.shape)
    expected = np.bincount(entry.ravel(), weights=g.ravel()).reshape(shape)
    for operand in (np.zeros(shape), shape):  # the array, or its shape as like() keeps it
        found = fit(g, operand)
        assert found.shape == shape and found.dtype == np.float64
        np.testing.assert_allclose(found, expected, rtol=1e-14)


@pytest.mark.parametrize(
    "x",
    [np.zeros((2, 3)), (2, 3), np.zeros(3), (1, 3), np.zeros((2, 3), np.float32), 1.5],
    ids=["array", "shape", "broadcast", "broadcast shape", "float32", "number"],
)
def test_fit_partial_is_the_partial_times_the_cotangent_fitted(x):
    dy, p = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    found, expected = fit_partial(dy, p, x), fit(dy * p, x)  # by the definition
    assert type(found) is type(expected)
    np.testing.assert_allclose(found, expected, rtol=1e-15)
    if isinstance(x, np.ndarray) and x.shape == (3,):  # each column summed over the rows
        np.testing.assert_allclose(found, (dy * p).sum(axis=0), rtol=1e-14)
    # a complex partial is conjugated, then projected onto the real operand
    np.testing.assert_allclose(fit_partial(dy, p + 1j, x), expected, rtol=1e-15)


def test_partial_cotangents_of_inactive_arguments_are_not_computed():
    calls = []

    def partials(x, y, out):
        calls.append(1)
        return y, x

    dx, dy = partial_cotangents(partials, (np.ones(2), 2.0), None, np.ones(2), (True, False))
    np.testing.assert_array_equal(dx, [2.0, 2.0])
    assert dy is None and len(calls) == 1


def test_binding_one_argument_gives_what_inspect_gives():
    x = np.ones(3)
    for f in (np.sum, np.mean, np.sort, np.cumsum, np.linalg.norm):
        bound = signature_of(f).bind(x)
        bound.apply_defaults()
        assert bound_arguments(f, (x,), {}) == dict(bound.arguments)
    assert bound_arguments(np.sum, (x,), {}) is not bound_arguments(np.sum, (x,), {})


def test_numbers_read_out_of_written_arrays_take_the_inline_path():
    # after the first write only numbers qualify (the arrays go through the write log): the
    # elements' arithmetic and tanh are differentiated inline, the writes and reads by the log
    def filtered(x, w):
        a = np.zeros(len(x))
        a[0] = x[0]
        for i in range(1, len(x)):
            a[i] = np.tanh(a[i - 1] * w) + x[i] * 0.5
        return np.sum(a * a)

    assert_gradient_matches_fd(filtered, RNG.normal(size=6), 0.8)
