"""Elements of float64 vectors read and written at an integer in the generated code itself
(``zygote_engine.elements``): gradients against hand-written derivatives and finite differences,
the cases that must take the rules instead, the written arrays ending as plain Python leaves
them, the in-place buffer never shared, and nesting over both paths."""

from __future__ import annotations

import numpy as np
import pytest
from fd_check import assert_gradient_matches_fd

from chainrules_core import ZeroTangent
from zygote_engine import gradient, hessian, hessian_reverse, jvp, show_adjoint, withgradient
from zygote_engine.api import ARGUMENTS_ONLY
from zygote_engine.elements import add_at, appended, element_read, element_unwrite, element_write
from zygote_engine.store import MutationStore
from zygote_engine.transform import transform

RNG = np.random.default_rng(12)


# --- reads: x[i] in a loop adds into one buffer --------------------------------------------------
def weighted_sum_of_elements(x, w):
    total = 0.0
    for i in range(1, len(x)):
        total = total + x[i] * w + x[i - 1] * x[i]
    return total + x[0] ** 2 + x[-1]


def weighted_sum_gradient(x, w):
    dx = np.zeros_like(x)
    dx[1:] += w + x[:-1]
    dx[:-1] += x[1:]
    dx[0] += 2 * x[0]
    dx[-1] += 1.0
    return dx, float(np.sum(x[1:]))


def test_element_reads_are_written_out():
    source = show_adjoint(weighted_sum_of_elements)
    assert "__element_read(__cx, x, i)" in source and "__element_read(__cx, x, 0)" in source
    assert "dx = __add_at(dx, pb" in source


@pytest.mark.parametrize("n", [1, 2, 7])
def test_element_reads_match_their_derivative(n):
    x = RNG.normal(size=n)
    dx, dw = gradient(weighted_sum_of_elements, x, 0.7)
    expected_dx, expected_dw = weighted_sum_gradient(x, 0.7)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12)
    if n == 1:  # the loop never runs: w has no influence, so no gradient
        assert dw is None
    else:
        assert np.isclose(dw, expected_dw, rtol=1e-12)
        assert_gradient_matches_fd(weighted_sum_of_elements, x, 0.7)


def test_element_reads_at_numpy_integers_and_mixed_with_whole_array_operations():
    def f(x):
        total = np.sum(x * 3.0)
        for i in np.arange(len(x)):  # np.int64 indices
            total = total + x[i] * x[i]
        return total + np.sum(np.sin(x))

    x = RNG.normal(size=5)
    np.testing.assert_allclose(gradient(f, x)[0], 3.0 + 2 * x + np.cos(x), rtol=1e-12)


@pytest.mark.parametrize(
    "x",
    [
        RNG.normal(size=(3, 2)),
        RNG.normal(size=4).astype(np.float32),
        RNG.normal(size=4) + 1j * RNG.normal(size=4),
        [0.5, 1.5, -0.5, 2.0],
    ],
    ids=["matrix-rows", "float32", "complex", "list"],
)
def test_other_reads_take_the_rules(x):
    def f(x):
        total = 0.0
        for i in range(len(x)):
            total = total + np.sum(np.real(x[i] * x[i]))
        return total

    (dx,) = gradient(f, x)
    np.testing.assert_allclose(np.asarray(dx), 2 * np.conj(np.asarray(x)), rtol=1e-6)


def test_a_complex_cotangent_of_a_read_is_projected_onto_the_reals():
    def f(x):
        return np.real(x[1] * (2.0 + 3.0j)) + abs(x[0] * (1.0 + 1.0j))

    x = np.array([0.5, -1.5])
    np.testing.assert_allclose(gradient(f, x)[0], [np.sqrt(2.0), 2.0], rtol=1e-12)


def test_reads_after_a_write_in_place_take_the_rules():
    def f(x):
        y = x * 1.0
        y[0] = x[1] * 2.0
        return y[0] * y[1] + y[2]

    x = RNG.normal(size=3)
    np.testing.assert_allclose(gradient(f, x)[0], [0.0, 2 * x[1] + 2 * x[1], 1.0], rtol=1e-12)


def test_add_at_adds_in_place_only_into_a_buffer_nothing_else_holds():
    acc = add_at(ZeroTangent(), (1, (3,)), 2.0)
    same = add_at(acc, (-1, (3,)), 1.0)  # nothing but `acc` holds it: added into
    assert same is acc
    held = acc
    other = add_at(acc, (0, (3,)), 5.0)  # `held` refers to it too: a new array
    assert other is not acc
    np.testing.assert_array_equal(held, [0.0, 2.0, 1.0])
    np.testing.assert_array_equal(other, [5.0, 2.0, 1.0])
    np.testing.assert_array_equal(add_at(acc[:], (0, (3,)), 1.0), [1.0, 2.0, 1.0])  # a view
    np.testing.assert_array_equal(acc, [0.0, 2.0, 1.0])
    assert add_at(ZeroTangent(), (0, (2,)), 1.0 + 2.0j).dtype == np.float64


def test_element_reads_differentiate_in_every_mode():
    x, v = RNG.normal(size=4), RNG.normal(size=4)

    def f(x):
        return weighted_sum_of_elements(x, 0.7)

    # the Hessian: 2 at (0, 0) from x[0]², and 1 at (i - 1, i) and (i, i - 1)
    expected = np.diag(np.ones(3), 1) + np.diag(np.ones(3), -1)
    expected[0, 0] += 2.0
    np.testing.assert_allclose(hessian(f, x), expected, atol=1e-12)
    np.testing.assert_allclose(hessian_reverse(f, x), expected, atol=1e-12)
    _, hv = jvp(lambda x: gradient(f, x)[0], (x,), (v,))
    np.testing.assert_allclose(hv, expected @ v, atol=1e-12)


# --- writes: a[i] = v, and reads of the vector written ---------------------------------------------


def recurrence(x, w):
    a = np.zeros(len(x))
    a[0] = x[0]
    for i in range(1, len(x)):
        a[i] = a[i - 1] * w + x[i]
    return np.sum(a * a)


def recurrence_gradient(x, w):
    a = np.zeros(len(x))
    a[0] = x[0]
    for i in range(1, len(x)):
        a[i] = a[i - 1] * w + x[i]
    da, dx, dw = 2.0 * a, np.zeros(len(x)), 0.0
    for i in range(len(x) - 1, 0, -1):
        dx[i] = da[i]
        da[i - 1] += da[i] * w
        dw += da[i] * a[i - 1]
    dx[0] = da[0]
    return dx, dw


def test_element_writes_are_written_out():
    source = show_adjoint(recurrence)
    assert "__element_write(__cx, a, i, t9)" in source
    assert "__element_unwrite(pb" in source and "__element_read(__cx, a, t5)" in source


@pytest.mark.parametrize("n", [1, 2, 9])
def test_a_recurrence_written_in_place_matches_its_derivative(n):
    x = RNG.normal(size=n)
    dx, dw = gradient(recurrence, x, 0.8)
    expected_dx, expected_dw = recurrence_gradient(x, 0.8)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12)
    if n == 1:
        assert dw is None
    else:
        assert np.isclose(dw, expected_dw, rtol=1e-12)
        assert_gradient_matches_fd(recurrence, x, 0.8)
    assert withgradient(recurrence, x, 0.8).val == recurrence(x, 0.8)


def test_a_vector_argument_written_in_place_ends_as_plain_python_leaves_it():
    def f(a, v):
        a[0] = a[1] * v
        a[2] = v
        a[0] = a[0] * 3.0  # the element written twice: the first value only through the second
        return np.sum(a * a)

    a, v = np.array([0.5, -1.5, 2.0, 1.0]), 0.7
    plain = a.copy()
    f(plain, v)
    da, dv = gradient(f, a, v)
    np.testing.assert_array_equal(a, plain)  # the writes happened, once, as without AD
    # a ends as [3 a1 v, a1, v, a3]; its inputs a1, a3 and v
    a1, a3 = -1.5, 1.0
    np.testing.assert_allclose(da, [0.0, 2 * 9 * a1 * v**2 + 2 * a1, 0.0, 2 * a3], rtol=1e-12)
    assert np.isclose(dv, 2 * 9 * a1**2 * v + 2 * v, rtol=1e-12)
    assert type(dv) is float


def test_writes_the_rules_take():
    def f(x):
        a = np.zeros((2, 3))
        a[1, 2] = x[0]  # a matrix, a tuple index
        b = np.zeros(3)
        view = b[1:]
        view[0] = x[1]  # through a view
        c = np.zeros(3, complex)
        c[0] = x[2]  # another dtype
        d = np.zeros(3)
        d[1] = 2  # an integer value: no derivative
        d[0:2] = x[:2]  # a slice
        return np.sum(a * a) + np.sum(b * x) + np.real(c[0]) * x[0] + np.sum(d * d)

    x = RNG.normal(size=3)
    assert_gradient_matches_fd(f, x)


def test_reads_of_a_written_vector_through_a_view():
    def f(x):
        a = np.zeros(4)
        a[1] = x[0] * 2.0
        tail = a[1:]
        return tail[0] * x[1] + a[1]

    x = np.array([0.3, -0.4])
    np.testing.assert_allclose(gradient(f, x)[0], [2.0 * x[1] + 2.0, 2.0 * x[0]], rtol=1e-12)


def test_element_write_declines_what_it_does_not_write():
    cx = MutationStore()
    for a, index, v in [
        (np.zeros((2, 2)), 0, 1.0),
        (np.zeros(3, np.float32), 0, 1.0),
        (np.zeros(4)[1:], 0, 1.0),
        (np.zeros(3), True, 1.0),
        (np.zeros(3), 0, np.ones(1)),
        (np.zeros(3), 0, 1),
    ]:
        before = a.copy()
        assert element_write(cx, a, index, v) is None
        np.testing.assert_array_equal(a, before)
    assert cx.written is None


def test_element_unwrite_restores_and_hands_the_shadow_back():
    cx, a = MutationStore(), np.zeros(3)
    first = element_write(cx, a, 0, 1.0)
    second = element_write(cx, a, 2, np.float64(2.0))
    assert element_read(cx, a, 1)[2] is cx.written  # a read of the written vector
    cx.written.deposit_at(a, 2, 5.0)
    cx.written.deposit_at(a, 1, 7.0)
    _, da, _, dv = element_unwrite(second)
    assert type(dv) is np.float64 and dv == 5.0 and isinstance(da, ZeroTangent)
    np.testing.assert_array_equal(a, [1.0, 0.0, 0.0])  # what it overwrote, put back
    _, da, _, dv = element_unwrite(first)
    assert dv == 0.0 and type(dv) is float  # nothing read the element it wrote
    np.testing.assert_array_equal(da, [0.0, 7.0, 0.0])  # the first write hands the reads back
    cx.written.finish()
    np.testing.assert_array_equal(a, [1.0, 0.0, 2.0])  # and the end writes them again


def test_an_index_out_of_range_is_the_users_error():
    def f(x):
        a = np.zeros(2)
        a[5] = x
        return a[0]

    with pytest.raises(IndexError):
        gradient(f, 1.0)


def test_written_vectors_differentiate_in_every_mode():
    x, v = RNG.normal(size=4), RNG.normal(size=4)

    def f(x):
        return recurrence(x, 0.8)

    def grad(x):
        return gradient(f, x)[0]

    h = 1e-6
    expected = np.array([(grad(x + h * e) - grad(x - h * e)) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(hessian(f, x), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hessian_reverse(f, x), expected, rtol=1e-6, atol=1e-8)
    _, hv = jvp(grad, (x,), (v,))
    np.testing.assert_allclose(hv, expected @ v, rtol=1e-6, atol=1e-8)


# --- items a comprehension appends ------------------------------------------------------------------


def squares_of_elements(w):
    return sum(w[i] ** 2 for i in range(len(w))) + sum([np.sin(v) * v for v in w])


def test_comprehension_appends_are_written_out():
    source = show_adjoint(squares_of_elements)
    assert "__appended(__cx, t" in source and "__cx.take(t" in source


def test_comprehension_appends_match_their_derivative():
    w = RNG.normal(size=6)
    (dw,) = gradient(squares_of_elements, w)
    np.testing.assert_allclose(dw, 2 * w + np.cos(w) * w + np.sin(w), rtol=1e-12)
    assert_gradient_matches_fd(squares_of_elements, w)
    (dx,) = gradient(lambda x: sum([x * 2.0, x * x]), 1.5)  # Python numbers
    assert dx == 2.0 + 3.0


def test_appends_after_a_write_in_place_take_the_rule():
    def f(x):
        a = x * 1.0
        a[0] = 2.0 * x[1]
        return sum([a[i] * x[i] for i in range(len(x))])

    x = RNG.normal(size=3)
    assert_gradient_matches_fd(f, x)


def test_appended_declines_once_arrays_are_written():
    cx, xs = MutationStore(), [1.0]
    assert appended(cx, xs, 2.0) == 1
    cx.array_writes()
    assert appended(cx, xs, 3.0) is None and xs == [1.0, 2.0]


def test_comprehension_appends_differentiate_in_every_mode():
    w, v = RNG.normal(size=3), RNG.normal(size=3)
    # the Hessian of sum(w_i²) + sum(sin(w_i) w_i) is diagonal: 2 + 2 cos(w) - sin(w) w
    expected = np.diag(2 + 2 * np.cos(w) - np.sin(w) * w)
    np.testing.assert_allclose(hessian(squares_of_elements, w), expected, rtol=1e-10)
    np.testing.assert_allclose(hessian_reverse(squares_of_elements, w), expected, rtol=1e-10)
    _, hv = jvp(lambda w: gradient(squares_of_elements, w)[0], (w,), (v,))
    np.testing.assert_allclose(hv, expected @ v, rtol=1e-10)


# --- what a comprehension fills is its own list: the data it reads stays constant ---------------

DATA = np.linspace(-1.0, 1.0, 5)


def comprehension_over_data(w):
    values = [np.tanh(row * w) for row in DATA]
    return np.sum(np.array(values))


def test_a_comprehension_over_module_data_computes_no_cotangent_for_the_data():
    source = transform(comprehension_over_data, ARGUMENTS_ONLY).source
    assert "items1 = __zy.collect(DATA)" in source  # no pullback: the data is constant
    (dw,) = gradient(comprehension_over_data, 0.7)
    assert np.isclose(dw, np.sum(DATA * (1 - np.tanh(DATA * 0.7) ** 2)), rtol=1e-12)


def test_a_comprehension_list_filled_further_and_nested_comprehensions():
    def f(w):
        values = [w * x for x in DATA]
        alias = values
        alias.append(w * 3.0)  # a mutation of the list by another name: the general rule
        grid = [[w * x * y for x in DATA] for y in DATA]
        return sum(values) + sum(sum(row) for row in grid)

    (dw,) = gradient(f, 0.5)
    assert np.isclose(dw, np.sum(DATA) + 3.0 + np.sum(DATA) ** 2, rtol=1e-12)
    assert_gradient_matches_fd(f, 0.5)
