"""Finite-difference tests of the interpolation rules: constructions in the data, evaluation in the
coefficients and the query points, grid interpolation in the values and the query points."""

import numpy as np
import pytest
import scipy.interpolate

import chainrules  # noqa: F401 - registers the rules
import zygote_engine
from chainrules_core import NoTangent, Tangent, ZeroTangent, frule, rrule
from chainrules_core.testing import (
    jacobian_transpose_vector,
    jvp,
    nondiff,
    test_frule,
    test_rrule,
)

X = np.array([0.0, 0.4, 1.0, 1.3, 2.1, 2.5, 3.0])
BSpline = scipy.interpolate.BSpline


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


# --------------------------------------------------------------------------------------------------
# Rules whose inputs or outputs are interpolant objects are checked field by field against finite
# differences (their knots and breakpoints, also float fields, have no tangent).

CubicSpline = scipy.interpolate.CubicSpline
PPoly = scipy.interpolate.PPoly
RegularGridInterpolator = scipy.interpolate.RegularGridInterpolator


def _vjp_by_differences(f, x, dout):
    """``J.T @ dout`` of ``f`` at the array ``x``, by central finite differences."""
    x = np.asarray(x, dtype=float)
    flat = jacobian_transpose_vector(
        lambda v: np.ravel(f(v.reshape(x.shape))), x.ravel(), np.ravel(dout)
    )
    return flat.reshape(x.shape)


def _jvp_by_differences(f, x, dx):
    """``J @ dx`` of ``f`` at the array ``x``, by central finite differences."""
    x = np.asarray(x, dtype=float)
    return jvp(lambda v: np.ravel(f(v.reshape(x.shape))), x.ravel(), np.ravel(dx))


def _spline_tangent(spline, dc):
    field = "_c" if isinstance(getattr(type(spline), "c", None), property) else "c"
    return Tangent(type(spline), **{field: dc})


def _coefficients(dspline):
    (dc,) = dspline.backing.values()  # the one field of a spline's tangent, `c` or `_c`
    return dc


def _assert_close(got, expected):
    np.testing.assert_allclose(np.ravel(got), np.ravel(expected), rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------------------------
# make_interp_spline: boundary conditions and the frule


@pytest.mark.parametrize("bc_type", [None, "natural", "clamped", "derivative values"])
@pytest.mark.parametrize("shape", [(7,), (7, 2)])
def test_make_interp_spline_boundary_conditions(bc_type, shape):
    y = np.random.default_rng(11).standard_normal(shape)
    if bc_type == "derivative values":  # constants: c is affine in y
        bc_type = ([(1, np.full(shape[1:], 2.0))], [(2, np.full(shape[1:], -1.0))])
    args = (scipy.interpolate.make_interp_spline, nondiff(X), y, nondiff(3))
    test_rrule(*args, fkwargs={"bc_type": bc_type})
    test_frule(*args, fkwargs={"bc_type": bc_type})


@pytest.mark.parametrize("k", [1, 2, 5])
def test_make_interp_spline_frule(k):
    y = np.random.default_rng(k).standard_normal((7, 3))
    test_frule(scipy.interpolate.make_interp_spline, nondiff(X), y, nondiff(k))


PERIODIC = {
    "make_interp_spline": (scipy.interpolate.make_interp_spline, (3,)),
    "CubicSpline": (CubicSpline, ()),
}


@pytest.mark.parametrize("name", PERIODIC)
def test_periodic_ends_share_their_cotangent_evenly(name):
    # Periodic data have y[-1] == y[0]: the free values are y[:-1], and the gradient in y[0]
    # is the sum of the two ends' cotangents, which the rules split evenly.
    construct, options = PERIODIC[name]
    rng = np.random.default_rng(4)
    y = rng.standard_normal(7)
    y[-1] = y[0]

    def coefficients(free):
        return construct(X, np.append(free, free[0]), *options, bc_type="periodic").c

    spline, back = rrule(construct, X, y, *options, bc_type="periodic")
    dc = rng.standard_normal(spline.c.shape)
    dy = back(_spline_tangent(spline, dc))[2]
    assert dy[0] == dy[-1]
    _assert_close(np.r_[dy[0] + dy[-1], dy[1:-1]], _vjp_by_differences(coefficients, y[:-1], dc))

    dy = rng.standard_normal(7)
    dy[-1] = dy[0]
    tangents = (NoTangent(), NoTangent(), dy, *(NoTangent(),) * len(options))
    _, dspline = frule(tangents, construct, X, y, *options, bc_type="periodic")
    _assert_close(_coefficients(dspline), _jvp_by_differences(coefficients, y[:-1], dy[:-1]))


# --------------------------------------------------------------------------------------------------
# CubicSpline construction


@pytest.mark.parametrize(
    "bc_type", ["not-a-knot", "clamped", "natural", ((1, 0.5), (2, -1.0)), ("clamped", (2, 3.0))]
)
@pytest.mark.parametrize("n", [2, 3, 4, 7])  # scipy makes 2 and 3 points a line and a parabola
@pytest.mark.parametrize("trailing", [(), (2,)])
def test_cubic_spline_construction_in_y(bc_type, n, trailing):
    if isinstance(bc_type, tuple):  # derivative values have the trailing shape
        bc_type = tuple(
            side if isinstance(side, str) else (side[0], np.full(trailing, side[1]))
            for side in bc_type
        )
    rng = np.random.default_rng(n)
    x, y = X[:n], rng.standard_normal((n, *trailing))

    def coefficients(values):
        return CubicSpline(x, values, bc_type=bc_type).c

    spline, back = rrule(CubicSpline, x, y, bc_type=bc_type)
    _assert_close(spline.c, coefficients(y))
    dc = rng.standard_normal(spline.c.shape)
    _, dx, dy = back(_spline_tangent(spline, dc))
    assert dx == NoTangent()
    _assert_close(dy, _vjp_by_differences(coefficients, y, dc))

    dy = rng.standard_normal(y.shape)
    _, dspline = frule((NoTangent(), NoTangent(), dy), CubicSpline, x, y, bc_type=bc_type)
    _assert_close(_coefficients(dspline), _jvp_by_differences(coefficients, y, dy))


def test_cubic_spline_along_another_axis_is_refused_with_what_to_do():
    with pytest.raises(NotImplementedError, match="np.moveaxis"):
        rrule(CubicSpline, X, np.ones((2, 7)), axis=1)


# --------------------------------------------------------------------------------------------------
# PPoly.__call__ (CubicSpline's evaluation)

# Two queries outside [0, 3]; none near a breakpoint of X, also after periodic wrapping.
QUERY = np.array([-0.4, 0.2, 1.15, 2.3, 2.95, 3.6])


def _check_ppoly_call(spline, query, nu, extrapolate, rng):
    def evaluate(c, q):
        piecewise = PPoly.construct_fast(c, spline.x, spline.extrapolate, spline.axis)
        return np.nan_to_num(piecewise(q, nu, extrapolate))  # extrapolate=False gives NaN

    values, back = rrule(PPoly.__call__, spline, query, nu, extrapolate)
    np.testing.assert_array_equal(values, spline(query, nu, extrapolate))
    dvalues = rng.standard_normal(values.shape)
    _, dspline, dquery, dnu, dextrapolate = back(dvalues)
    assert dnu == dextrapolate == NoTangent()
    c = spline.c
    _assert_close(
        _coefficients(dspline), _vjp_by_differences(lambda v: evaluate(v, query), c, dvalues)
    )
    _assert_close(dquery, _vjp_by_differences(lambda q: evaluate(c, q), query, dvalues))

    dc, dq = rng.standard_normal(c.shape), rng.standard_normal(query.shape)
    tangents = (NoTangent(), _spline_tangent(spline, dc), dq, NoTangent(), NoTangent())
    _, dvalues = frule(tangents, PPoly.__call__, spline, query, nu, extrapolate)
    expected = _jvp_by_differences(lambda v: evaluate(v, query), c, dc)
    expected += _jvp_by_differences(lambda q: evaluate(c, q), query, dq)
    _assert_close(np.nan_to_num(dvalues), expected)


@pytest.mark.parametrize("extrapolate", [None, False, "periodic"])
@pytest.mark.parametrize("nu", [0, 1, 2, 4])
def test_piecewise_polynomial_evaluation(extrapolate, nu):
    rng = np.random.default_rng(nu)
    spline = CubicSpline(X, rng.standard_normal((7, 2)))
    _check_ppoly_call(spline, QUERY, nu, extrapolate, rng)


def test_piecewise_polynomial_along_another_axis_at_a_grid_of_queries():
    rng = np.random.default_rng(8)
    # scipy reads c of shape (3, 4, 6, 2) as quadratic pieces on the 6 intervals, along axis 1
    spline = PPoly(rng.standard_normal((3, 4, 6, 2)), X, axis=1)
    _check_ppoly_call(spline, np.array([[0.2, 1.15], [2.3, 0.7]]), 1, None, rng)


# --------------------------------------------------------------------------------------------------
# BSpline.__call__: the frule, and NaN outside without extrapolation


@pytest.mark.parametrize("nu, extrapolate", [(0, True), (1, True), (0, False), (2, "periodic")])
def test_bspline_evaluation_both_rules(nu, extrapolate):
    rng = np.random.default_rng(nu)
    spline = scipy.interpolate.make_interp_spline(X, rng.standard_normal((7, 2)), k=3)

    def evaluate(c, q):
        return np.nan_to_num(BSpline(spline.t, c, spline.k)(q, nu, extrapolate))

    values, back = rrule(BSpline.__call__, spline, QUERY, nu, extrapolate)
    dvalues = rng.standard_normal(values.shape)
    _, dspline, dquery, *_ = back(dvalues)
    c = spline.c
    _assert_close(
        _coefficients(dspline), _vjp_by_differences(lambda v: evaluate(v, QUERY), c, dvalues)
    )
    _assert_close(dquery, _vjp_by_differences(lambda q: evaluate(c, q), QUERY, dvalues))

    dc, dq = rng.standard_normal(c.shape), rng.standard_normal(QUERY.shape)
    tangents = (NoTangent(), _spline_tangent(spline, dc), dq, NoTangent(), NoTangent())
    _, dvalues = frule(tangents, BSpline.__call__, spline, QUERY, nu, extrapolate)
    expected = _jvp_by_differences(lambda v: evaluate(v, QUERY), c, dc)
    expected += _jvp_by_differences(lambda q: evaluate(c, q), QUERY, dq)
    _assert_close(np.nan_to_num(dvalues), expected)


# --------------------------------------------------------------------------------------------------
# splrep and splev

X_DENSE = np.linspace(0.0, 3.0, 12) + 0.05 * np.sin(np.arange(12))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_splrep_interpolating_spline_in_y(k):
    y = np.random.default_rng(k).standard_normal(12)
    test_rrule(scipy.interpolate.splrep, nondiff(X_DENSE), y, fkwargs={"k": k})
    test_frule(scipy.interpolate.splrep, nondiff(X_DENSE), y, fkwargs={"k": k})


def test_splrep_weighted_least_squares_on_given_knots():
    rng = np.random.default_rng(2)
    y, w = rng.standard_normal(12), rng.uniform(0.5, 2.0, 12)
    fkwargs = {"task": -1, "t": [0.8, 1.6, 2.2]}
    test_rrule(scipy.interpolate.splrep, nondiff(X_DENSE), y, nondiff(w), fkwargs=fkwargs)
    test_frule(scipy.interpolate.splrep, nondiff(X_DENSE), y, nondiff(w), fkwargs=fkwargs)


@pytest.mark.parametrize("kwargs", [{"s": 0.5}, {"w": np.ones(12)}, {"per": 1}])
def test_splrep_smoothing_is_refused_with_what_to_do(kwargs):
    with pytest.raises(NotImplementedError, match="task=-1"):
        rrule(scipy.interpolate.splrep, X_DENSE, np.sin(X_DENSE), **kwargs)


@pytest.mark.parametrize("der", [0, 1])
@pytest.mark.parametrize("ext", [0, 1, 3])
def test_splev_in_coefficients_and_query_points(der, ext):
    rng = np.random.default_rng(10 * der + ext)
    t, c, k = scipy.interpolate.splrep(X_DENSE, np.sin(X_DENSE))
    query = np.array([-0.5, 0.33, 1.4, 2.71, 3.4])  # two outside [0, 3]

    def evaluate(coefficients, q):
        return scipy.interpolate.splev(q, (t, coefficients, k), der, ext)

    values, back = rrule(scipy.interpolate.splev, query, (t, c, k), der, ext)
    np.testing.assert_array_equal(values, evaluate(c, query))
    dvalues = rng.standard_normal(values.shape)
    _, dquery, dtck, dder, dext = back(dvalues)
    assert dder == dext == NoTangent()
    _assert_close(dtck[1], _vjp_by_differences(lambda v: evaluate(v, query), c, dvalues))
    _assert_close(dquery, _vjp_by_differences(lambda q: evaluate(c, q), query, dvalues))

    dc, dq = rng.standard_normal(c.shape), rng.standard_normal(query.shape)
    dtck = Tangent(tuple, ZeroTangent(), dc, NoTangent())
    tangents = (NoTangent(), dq, dtck, NoTangent(), NoTangent())
    _, dvalues = frule(tangents, scipy.interpolate.splev, query, (t, c, k), der, ext)
    expected = _jvp_by_differences(lambda v: evaluate(v, query), c, dc)
    expected += _jvp_by_differences(lambda q: evaluate(c, q), query, dq)
    _assert_close(dvalues, expected)


# --------------------------------------------------------------------------------------------------
# RegularGridInterpolator and interpn

GRID = (np.array([0.0, 0.5, 1.2, 2.0]), np.array([-1.0, 0.0, 0.7, 1.5, 3.0]))
DESCENDING_GRID = (GRID[0], GRID[1][::-1])
# Queries away from grid lines and cell midpoints; the last two outside the grid.
XI = np.array([[0.3, -0.6], [1.0, 0.2], [1.9, 2.1], [0.7, 1.05], [-0.3, 0.4], [1.65, 3.4]])
XI_INSIDE = XI[:4]


@pytest.mark.parametrize("grid", [GRID, DESCENDING_GRID])
@pytest.mark.parametrize("trailing", [(), (3,)])
def test_regular_grid_interpolator_construction_in_values(grid, trailing):
    values = np.random.default_rng(1).standard_normal((4, 5, *trailing))
    fkwargs = {"bounds_error": False, "fill_value": None}
    test_rrule(RegularGridInterpolator, nondiff(grid), values, fkwargs=fkwargs)
    test_frule(RegularGridInterpolator, nondiff(grid), values, fkwargs=fkwargs)


@pytest.mark.parametrize("method", ["linear", "nearest"])
@pytest.mark.parametrize("fill_value", [None, 0.5])  # None extrapolates
def test_regular_grid_interpolator_call_in_values_and_query_points(method, fill_value):
    rng = np.random.default_rng(3)
    values = rng.standard_normal((4, 5, 3))

    def evaluate(v, xi):
        return RegularGridInterpolator(GRID, v, method, False, fill_value)(xi)

    interpolator = RegularGridInterpolator(GRID, values, method, False, fill_value)
    y, back = rrule(RegularGridInterpolator.__call__, interpolator, XI)
    dy = rng.standard_normal(y.shape)
    _, dinterpolator, dxi = back(dy)
    _assert_close(
        _coefficients(dinterpolator), _vjp_by_differences(lambda v: evaluate(v, XI), values, dy)
    )
    _assert_close(dxi, _vjp_by_differences(lambda xi: evaluate(values, xi), XI, dy))
    if method == "nearest":
        assert not np.any(dxi)

    dvalues, dq = rng.standard_normal(values.shape), rng.standard_normal(XI.shape)
    tangents = (NoTangent(), _spline_tangent_of_grid(interpolator, dvalues), dq)
    _, dy = frule(tangents, RegularGridInterpolator.__call__, interpolator, XI)
    expected = _jvp_by_differences(lambda v: evaluate(v, XI), values, dvalues)
    expected += _jvp_by_differences(lambda xi: evaluate(values, xi), XI, dq)
    _assert_close(dy, expected)


def _spline_tangent_of_grid(interpolator, dvalues):
    cls = type(interpolator)
    field = "_values" if isinstance(getattr(cls, "values", None), property) else "values"
    return Tangent(cls, **{field: dvalues})


def test_regular_grid_interpolator_at_a_tuple_of_coordinate_arrays():
    rng = np.random.default_rng(6)
    values = rng.standard_normal((4, 5))
    interpolator = RegularGridInterpolator(GRID, values)
    first, second = np.array([[0.3], [1.0], [1.9]]), np.array([-0.6, 0.2, 2.1, 1.1])
    y, back = rrule(RegularGridInterpolator.__call__, interpolator, (first, second))
    dy = rng.standard_normal(y.shape)
    dfirst, dsecond = back(dy)[2]
    _assert_close(dfirst, _vjp_by_differences(lambda v: interpolator((v, second)), first, dy))
    _assert_close(dsecond, _vjp_by_differences(lambda v: interpolator((first, v)), second, dy))


@pytest.mark.parametrize("grid", [GRID, DESCENDING_GRID])
@pytest.mark.parametrize("method", ["linear", "nearest"])
@pytest.mark.parametrize("trailing", [(), (2,)])
def test_interpn_in_values_and_query_points(grid, method, trailing):
    values = np.random.default_rng(7).standard_normal((4, 5, *trailing))
    fkwargs = {"bounds_error": False, "fill_value": None}
    test_rrule(scipy.interpolate.interpn, nondiff(grid), values, XI, method, fkwargs=fkwargs)
    test_frule(scipy.interpolate.interpn, nondiff(grid), values, XI, method, fkwargs=fkwargs)


def test_interpn_inside_the_grid_in_one_dimension():
    points, values = (GRID[1],), np.random.default_rng(9).standard_normal(5)
    test_rrule(scipy.interpolate.interpn, nondiff(points), values, np.array([-0.6, 0.2, 2.1]))
    test_frule(scipy.interpolate.interpn, nondiff(points), values, np.array([-0.6, 0.2, 2.1]))


@pytest.mark.parametrize("method", ["cubic", "pchip", "slinear"])
def test_spline_methods_on_grids_are_refused_by_name(method):
    with pytest.raises(NotImplementedError, match=method):
        rrule(scipy.interpolate.interpn, GRID, np.ones((4, 5)), XI_INSIDE, method)


# --------------------------------------------------------------------------------------------------
# End to end through the engine, against finite differences of the whole loss

QUERY_INSIDE = np.array([0.3, 1.1, 1.75, 2.7])


def _check_gradient(loss, *args):
    grads = zygote_engine.gradient(loss, *args)
    for i, (value, grad) in enumerate(zip(args, grads)):

        def partial(v, i=i):
            return np.array(loss(*args[:i], v, *args[i + 1 :]))

        _assert_close(grad, _vjp_by_differences(partial, value, 1.0))


def test_gradient_of_a_cubic_spline_fit_to_data():
    rng = np.random.default_rng(12)
    target = rng.standard_normal(4)

    def loss(y, query):
        fitted = scipy.interpolate.CubicSpline(X, y, bc_type="natural")(query)
        return np.sum((fitted - target) ** 2)

    _check_gradient(loss, rng.standard_normal(7), QUERY_INSIDE)


def test_gradient_through_splrep_and_splev():
    weights = np.random.default_rng(13).standard_normal(4)

    def loss(y, query):
        tck = scipy.interpolate.splrep(X_DENSE, y)
        return np.sum(weights * scipy.interpolate.splev(query, tck, 1))

    _check_gradient(loss, np.cos(X_DENSE), QUERY_INSIDE)


def test_gradient_through_a_grid_interpolator_with_a_descending_axis():
    rng = np.random.default_rng(14)
    weights = rng.standard_normal(len(XI_INSIDE))

    def loss(values, xi):
        interpolator = scipy.interpolate.RegularGridInterpolator(DESCENDING_GRID, values)
        return np.sum(weights * interpolator(xi) ** 2)

    _check_gradient(loss, rng.standard_normal((4, 5)), XI_INSIDE)


def test_forward_mode_through_spline_fits_and_grids():
    rng = np.random.default_rng(15)
    y, dy = rng.standard_normal(7), rng.standard_normal(7)

    def fitted(y):
        bspline = scipy.interpolate.make_interp_spline(X, y, k=3)(QUERY_INSIDE, 1)
        tck = scipy.interpolate.splev(QUERY_INSIDE, scipy.interpolate.splrep(X, y))
        grid = scipy.interpolate.RegularGridInterpolator((X,), y)(QUERY_INSIDE)
        return np.sum(bspline * tck + grid**2)

    _, derivative = zygote_engine.jvp(fitted, (y,), (dy,))
    _assert_close(derivative, _jvp_by_differences(fitted, y, dy))


def test_forward_mode_through_a_cubic_spline():
    rng = np.random.default_rng(16)
    y, dy = rng.standard_normal(7), rng.standard_normal(7)

    def fitted(y):
        return np.sum(scipy.interpolate.CubicSpline(X, y)(QUERY_INSIDE) ** 2)

    _, derivative = zygote_engine.jvp(fitted, (y,), (dy,))
    _assert_close(derivative, _jvp_by_differences(fitted, y, dy))
