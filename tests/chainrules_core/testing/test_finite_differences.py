import numpy as np
import pytest

from chainrules_core.testing.finite_differences import jacobian_transpose_vector, jvp


@pytest.mark.parametrize("x0", [0.03, 0.3, 1.0, 25.0, 1e3])
def test_jvp_is_accurate_across_input_scales(x0):
    x = np.array([x0, 2 * x0, x0])
    dx = np.array([1.0, -0.5, 2.0])
    expected = np.array([np.cos(x[0]) * dx[0], 3 * x[1] ** 2 * dx[1], dx[2] / x[2]])
    got = jvp(lambda v: np.array([np.sin(v[0]), v[1] ** 3, np.log(v[2])]), x, dx)
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)


def test_jvp_of_a_zero_direction_is_zero_without_evaluating_steps():
    calls = []

    def f(v):
        calls.append(v)
        return v * 2

    np.testing.assert_array_equal(jvp(f, np.ones(2), np.zeros(2)), np.zeros(2))
    assert len(calls) == 1


def test_jacobian_transpose_vector_matches_the_analytic_gradient():
    a = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]])
    x = np.array([0.2, -0.7])
    dy = np.array([1.0, -2.0, 0.5])
    got = jacobian_transpose_vector(lambda v: np.tanh(a @ v), x, dy)
    expected = a.T @ ((1 - np.tanh(a @ x) ** 2) * dy)
    np.testing.assert_allclose(got, expected, rtol=1e-9)
