"""Finite-difference tests of the B-spline rules: construction in the data, evaluation."""

import numpy as np
import pytest
import scipy.interpolate

import chainrules  # noqa: F401 - registers the rules
import zygote_engine
from chainrules_core import NoTangent, rrule
from chainrules_core.testing import nondiff, test_rrule

X = np.array([0.0, 0.4, 1.0, 1.3, 2.1, 2.5, 3.0])


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("shape", [(7,), (7, 2)])
def test_make_interp_spline_in_y(k, shape):
    y = np.random.default_rng(k).standard_normal(shape)
    test_rrule(scipy.interpolate.make_interp_spline, nondiff(X), y, nondiff(k))


@pytest.mark.parametrize("nu", [0, 1])
def test_spline_evaluation_in_coefficients_and_query_points(nu):
    # By hand rather than with test_rrule: finite differences there would also move the knots,
    # which have no tangent.
    rng = np.random.default_rng(nu)
    spline = scipy.interpolate.make_interp_spline(X, np.sin(X), k=3)
    query, dvalues = np.array([0.1, 0.9, 1.7, 2.9]), rng.standard_normal(4)
    values, pullback = rrule(scipy.interpolate.BSpline.__call__, spline, query, nu)
    np.testing.assert_allclose(values, spline(query, nu))
    _, dspline, dquery, dnu = pullback(dvalues)
    assert dnu == NoTangent()

    def in_coefficients(c):
        return dvalues @ scipy.interpolate.BSpline(spline.t, c, spline.k)(query, nu)

    def in_query(q):
        return dvalues @ spline(q, nu)

    (dc,) = dspline.backing.values()  # the coefficients' field, `c` or `_c` by scipy version
    for f, at, got in ((in_coefficients, spline.c, dc), (in_query, query, dquery)):
        np.testing.assert_allclose(got, _central_differences(f, at), rtol=1e-6, atol=1e-8)


def _central_differences(f, x, step=1e-5):
    return np.array([(f(x + step * e) - f(x - step * e)) / (2 * step) for e in np.eye(x.size)])


def fit_and_evaluate(y, query):
    return scipy.interpolate.make_interp_spline(X, y, k=3)(query)


def test_gradient_through_spline_construction_and_evaluation():
    rng = np.random.default_rng(5)
    y, query, weights = rng.standard_normal(7), np.array([0.3, 1.1, 2.7]), rng.standard_normal(3)

    def loss(y, query):
        return np.sum(weights * fit_and_evaluate(y, query))

    dy, dquery = zygote_engine.gradient(loss, y, query)
    step = 1e-6
    for value, grad, other in ((y, dy, 0), (query, dquery, 1)):
        for i in range(value.size):
            e = np.zeros(value.size)
            e[i] = step
            args_plus = [y, query]
            args_minus = [y, query]
            args_plus[other], args_minus[other] = value + e, value - e
            fd = (loss(*args_plus) - loss(*args_minus)) / (2 * step)
            np.testing.assert_allclose(grad[i], fd, rtol=1e-6, atol=1e-8)
