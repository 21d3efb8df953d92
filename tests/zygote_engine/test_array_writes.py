"""Numpy arrays written in place: what plain numpy does, with gradients equal to finite differences.

The corpus (engine_corpus.py) checks the constructs in both modes; these tests check what the
corpus cannot: the caller's arrays, repeated pullbacks, writes that cross function boundaries,
and the errors for what cannot be differentiated.
"""

from __future__ import annotations

import numpy as np
import pytest
from fd_check import assert_gradient_matches_fd

from zygote_engine import (
    MutationError,
    gradient,
    hessian,
    hessian_reverse,
    jacobian,
    jvp,
    pullback,
)

HERE = __file__


def _directional_fd(f, x, t, eps=1e-6):
    return (np.asarray(f(x + eps * t)) - np.asarray(f(x - eps * t))) / (2 * eps)


def _check_forward(f, x, seed=0):
    t = np.random.default_rng(seed).normal(size=np.shape(x))
    _, dy = jvp(f, (x.copy(),), (t,))
    np.testing.assert_allclose(dy, _directional_fd(lambda z: f(z.copy()), x, t), atol=1e-6)


def _scale_in_place(x):
    x *= 3.0
    x[0] = x[1] * x[2]
    return np.sum(x**2)


def test_the_callers_array_changes_as_in_plain_python_and_the_gradient_is_for_the_value_passed():
    x = np.array([0.5, -1.0, 2.0])
    plain = x.copy()
    _scale_in_place(plain)
    passed = x.copy()
    (g,) = gradient(_scale_in_place, passed)
    np.testing.assert_array_equal(passed, plain)
    # y = (9 x1 x2)^2 + (3 x1)^2 + (3 x2)^2
    _, x1, x2 = x
    expected = [0.0, 162 * x1 * x2**2 + 18 * x1, 162 * x1**2 * x2 + 18 * x2]
    np.testing.assert_allclose(g, expected)
    passed = x.copy()
    _, dy = jvp(_scale_in_place, (passed,), (np.array([1.0, 1.0, 1.0]),))
    np.testing.assert_array_equal(passed, plain)
    assert np.isclose(dy, sum(expected))


def _copy_then_write(x):
    a = x.copy()
    a[0] = a[1]
    a[1] = 3.0 * a[0]
    return a


def test_a_pullback_runs_twice_and_leaves_the_result_as_the_forward_pass_made_it():
    x = np.array([1.0, 2.0])
    y, back = pullback(_copy_then_write, x)
    np.testing.assert_array_equal(y, [2.0, 6.0])
    for _ in range(2):
        (g,) = back(np.array([1.0, 1.0]))
        np.testing.assert_array_equal(g, [0.0, 4.0])  # y = (x1, 3 x1)
        np.testing.assert_array_equal(y, [2.0, 6.0])


def _writes_into_view(w, s):
    w[0] = s * s
    w *= s


def _caller_of_a_writer(x, s):
    a = x.copy()
    _writes_into_view(a[1:3], s)
    return np.sum(np.sin(a)) + a[2]


def test_a_callee_writes_into_a_view_the_caller_made():
    x, s = np.array([0.3, -0.7, 1.1, 0.4]), 1.3
    assert_gradient_matches_fd(_caller_of_a_writer, x, s)
    _check_forward(lambda z: _caller_of_a_writer(z, s), x)


def _written_view_of_the_argument(x):
    v = x[1:]
    v *= 2.0
    return np.sum(x**2) + v[0]


def test_a_write_through_a_view_of_the_argument_changes_the_argument():
    x = np.array([0.3, -0.7, 1.1])
    assert_gradient_matches_fd(_written_view_of_the_argument, x)
    _check_forward(_written_view_of_the_argument, x)
    passed = x.copy()
    gradient(_written_view_of_the_argument, passed)
    np.testing.assert_array_equal(passed, [0.3, -1.4, 2.2])


def _held_in_a_list(x):
    a = np.zeros(2)
    rows = [a, x]
    a[0] = x[1] * 2.0
    return np.sum(np.stack(rows) ** 2)


def _returns_written_arrays(x):
    a = np.zeros(2)
    a[1] = x[0]
    return a, x * 2.0


def test_a_written_array_read_through_a_list_and_returned_in_a_tuple():
    x = np.array([0.3, -0.7])
    assert_gradient_matches_fd(_held_in_a_list, x)
    _check_forward(_held_in_a_list, x)
    (g,) = pullback(_returns_written_arrays, x)[1]((np.array([1.0, 5.0]), np.array([1.0, 1.0])))
    np.testing.assert_array_equal(g, [7.0, 2.0])
    _, (da, dx) = jvp(_returns_written_arrays, (x,), (np.array([1.0, 0.0]),))
    np.testing.assert_array_equal(da, [0.0, 1.0])
    np.testing.assert_array_equal(dx, [2.0, 0.0])


def _out_given_as_a_tuple_and_integer_counters(x):
    a = np.empty(2)
    np.sin(x, out=(a,))
    steps = np.zeros(2, dtype=int)
    steps += 1
    return np.sum(a * x[steps])


def test_ufunc_out_tuple_and_integer_arrays_written_in_place():
    x = np.array([0.3, -0.7])
    assert_gradient_matches_fd(_out_given_as_a_tuple_and_integer_counters, x)
    _check_forward(_out_given_as_a_tuple_and_integer_counters, x)


def _single_precision(x):
    a = np.zeros(3, dtype=np.float32)
    a[1:] = x
    a *= np.float32(2.0)
    return np.sum(a * a)


def test_float32_arrays_keep_their_dtype():
    (g,) = gradient(_single_precision, np.array([1.0, 2.0], dtype=np.float32))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [8.0, 16.0])


def _jacobian_target(x):
    x[1] = x[0] * x[2]
    x += 1.0
    return x**2


def test_jacobians_of_a_function_that_writes_its_argument_agree_and_write_it_once():
    x = np.array([0.3, -0.7, 1.1])
    plain = x.copy()
    _jacobian_target(plain)
    x0, _, x2 = x
    expected = np.diag(2 * (x + 1.0))
    expected[1] = [2 * (x0 * x2 + 1) * x2, 0.0, 2 * (x0 * x2 + 1) * x0]
    for mode in ("forward", "reverse"):
        passed = x.copy()
        (j,) = jacobian(_jacobian_target, passed, mode=mode)
        np.testing.assert_allclose(j, expected)
        np.testing.assert_array_equal(passed, plain)


# --- what cannot be differentiated: located errors, never a wrong gradient ------------------------


def _repeated_indices(x):
    a = np.zeros(3)
    a[[0, 0]] = x
    return np.sum(a)


def _multiply_at(x):
    a = np.ones(3)
    np.multiply.at(a, [0, 1], x)
    return np.sum(a)


@pytest.mark.parametrize(
    ("f", "message"),
    [(_repeated_indices, "more than once"), (_multiply_at, "np.multiply.at is not supported")],
)
def test_writes_with_no_single_derivative_are_located_errors_in_both_modes(f, message):
    line = f.__code__.co_firstlineno + 2
    x = np.array([0.5, 1.5])
    for run in (lambda: gradient(f, x), lambda: jvp(f, (x,), (x,))):
        with pytest.raises(MutationError, match=message) as error:
            run()
        assert str(error.value).startswith(f"{HERE}:{line}:")


def _written_twice_differentiated(x):
    a = np.zeros(2)
    a[0] = x[0] * x[1]
    return np.sum(a * x)  # x0² x1: Hessian [[2 x1, 2 x0], [2 x0, 0]]


def test_a_write_differentiated_twice_has_the_analytic_hessian():
    np.testing.assert_allclose(
        hessian(_written_twice_differentiated, np.array([0.5, 1.5])), [[3.0, 1.0], [1.0, 0.0]]
    )


def _writes_into_what_it_was_given(v):
    v[0] = v[1] * 2.0
    return np.sum(v)


def test_forward_mode_cannot_follow_a_view_made_outside_differentiated_code():
    base = np.array([1.0, 2.0, 3.0])
    with pytest.raises(MutationError, match="write to the array itself, or differentiate in"):
        jvp(_writes_into_what_it_was_given, (base[1:],), (np.ones(2),))
    # reverse mode can: the base outside the view is nobody's input
    (g,) = gradient(_writes_into_what_it_was_given, np.array([1.0, 2.0, 3.0])[1:])
    np.testing.assert_array_equal(g, [0.0, 3.0])


_W = np.array([1.0, 2.0])
_FIRST_OF_W = _W[0:1]  # a view made outside differentiated code


def _loss_writing_a_parameter_through_a_view():
    _FIRST_OF_W[...] *= 3.0
    return np.sum(_W**2)


def test_params_written_in_place_through_a_view_made_outside():
    from zygote_engine import Params

    _W[:] = [1.0, 2.0]
    g = gradient(_loss_writing_a_parameter_through_a_view, Params([_W]))
    np.testing.assert_allclose(g[_W], [18.0, 4.0])  # 9 w0^2 + w1^2
    np.testing.assert_array_equal(_W, [3.0, 2.0])  # written once, as plain Python would
    # read through the view only: the parameter still gets the view's part
    g = gradient(lambda: np.sum(np.sin(_FIRST_OF_W)), Params([_W]))
    np.testing.assert_allclose(g[_W], [np.cos(3.0), 0.0])


# --- differentiated twice: forward mode over the reverse pass's record of writes --------------


def _written_quartic(x):
    a = np.zeros(3)
    a[0] = x[0] * x[1]
    a[1:] = x**2
    a *= 2.0
    return np.sum(a * a)  # 4 (x0² x1² + x0⁴ + x1⁴)


def _written_quartic_hessian(x):
    x0, x1 = x
    return 4.0 * np.array(
        [[2 * x1**2 + 12 * x0**2, 4 * x0 * x1], [4 * x0 * x1, 2 * x0**2 + 12 * x1**2]]
    )


@pytest.mark.parametrize("hessian_of", [hessian, hessian_reverse], ids=["forward", "reverse"])
def test_the_hessian_of_code_that_writes_arrays_in_place_is_the_analytic_one(hessian_of):
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(hessian_of(_written_quartic, x), _written_quartic_hessian(x))
    _, hvp = jvp(lambda x: gradient(_written_quartic, x)[0], (x,), (np.array([0.5, -1.0]),))
    np.testing.assert_allclose(hvp, _written_quartic_hessian(x) @ [0.5, -1.0])


def _written_through_a_view(x):
    a = x * 1.0
    b = a[1:3]  # a view of a
    b[0] = 2.0 * x[0]  # a[1] = 2 x0
    row = a[None][0]  # a view of a view
    row[2:] *= 3.0  # a[2:] = 3 x[2:]
    return np.sum(np.sin(a))  # sin(x0) + sin(2 x0) + sin(3 x2) + sin(3 x3)


@pytest.mark.parametrize("hessian_of", [hessian, hessian_reverse], ids=["forward", "reverse"])
def test_the_hessian_of_code_that_writes_through_views_is_the_analytic_one(hessian_of):
    # (the reads of the rest of a reached the Hessian only through the rule that made the view;
    # it lost them, and then raised a MutationError)
    x = np.array([0.3, -0.7, 1.1, 0.5])
    expected = np.diag([-np.sin(x[0]) - 4 * np.sin(2 * x[0]), 0.0, *(-9 * np.sin(3 * x[2:]))])
    np.testing.assert_allclose(hessian_of(_written_through_a_view, x), expected, atol=1e-12)
    v = np.array([1.0, 2.0, -1.0, 0.5])
    grad, hvp = jvp(lambda x: gradient(_written_through_a_view, x)[0], (x,), (v,))
    np.testing.assert_allclose(
        grad, [np.cos(x[0]) + 2 * np.cos(2 * x[0]), 0.0, *(3 * np.cos(3 * x[2:]))]
    )
    np.testing.assert_allclose(hvp, expected @ v, atol=1e-12)


def _filtered(x, w):
    a = np.zeros(len(x))
    a[0] = x[0]
    for i in range(1, len(x)):
        a[i] = a[i - 1] * w + x[i]
    return np.sum(a * a)


def test_the_hessian_of_a_recurrence_written_in_place_is_the_analytic_one():
    # a = L x with L lower triangular, L[i, j] = w^(i-j): the loss is |L x|², its Hessian 2 LᵀL
    x, w = np.array([0.3, -0.2, 0.5, 0.1]), 0.7
    i, j = np.indices((4, 4))
    lower = np.where(i >= j, w ** (i - j), 0.0)
    np.testing.assert_allclose(hessian(lambda x: _filtered(x, w), x), 2 * lower.T @ lower)


def _written_several_ways(x):
    a = x * 1.0
    b = a[1:3]  # a view, written first
    b[0] = b[0] * x[0] ** 2
    a[2] += np.sin(a[0])
    np.add.at(a, [0, 0], x[1])
    return np.sum(a**3)


def _directional(s, x, u, v):
    return jvp(_written_several_ways, (x + s * u,), (v,))[1]


def test_forward_mode_over_forward_mode_through_writes_and_views():
    # the inner differentiation's shadows are arrays written in place for the outer one (these
    # raised a MutationError); checked against central differences of the inner jvp
    x = np.array([1.0, 2.0, 3.0, 0.5])
    u, v = np.array([1.0, 0.5, -0.2, 0.4]), np.array([0.3, -1.0, 0.7, 0.2])
    h = 1e-5
    expected = (_directional(h, x, u, v) - _directional(-h, x, u, v)) / (2 * h)
    got = jvp(lambda s: _directional(s, x, u, v), (0.0,), (1.0,))[1]
    assert np.isclose(got, expected, rtol=1e-8)
    assert np.isclose(gradient(lambda s: _directional(s, x, u, v), 0.0)[0], expected, rtol=1e-8)

    def second(t):  # a third derivative, forward three times
        return jvp(lambda s: _directional(s, x, u, v), (t,), (1.0,))[1]

    expected = (second(h) - second(-h)) / (2 * h)
    assert np.isclose(jvp(second, (0.0,), (1.0,))[1], expected, rtol=1e-6)


def _squares_after_a_write(x):
    a = x * 1.0
    a[0] = a[0] * a[1]
    return np.sum(a**2)  # x0² x1² + x1² + x2²


def test_the_hessian_of_a_directional_derivative_through_a_write():
    # g = <∇f, v>; its Hessian is the third derivative of f along v: f's only third
    # derivatives are ∂³/∂x0²∂x1 = 4 x1 and ∂³/∂x0∂x1² = 4 x0
    v = np.array([1.0, 0.5, -1.0])

    def g(x):
        return jvp(_squares_after_a_write, (x,), (v,))[1]

    x = np.array([1.0, 2.0, 3.0])
    x0, x1 = x[:2]
    expected = np.zeros((3, 3))
    expected[0, 0] = 4 * x1 * v[1]  # Σ_i ∂³f/∂x0∂x0∂x_i v_i
    expected[0, 1] = expected[1, 0] = 4 * x1 * v[0] + 4 * x0 * v[1]
    expected[1, 1] = 4 * x0 * v[0]
    np.testing.assert_allclose(hessian(g, x), expected)
    np.testing.assert_allclose(jacobian(lambda x: gradient(g, x)[0], x)[0], expected)
