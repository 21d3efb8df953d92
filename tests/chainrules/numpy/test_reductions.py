"""Finite-difference tests of the numpy reduction rules (chainrules/numpy/reductions.py)."""

import functools

import array_specs
import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import NoTangent, ZeroTangent, frule, rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

RNG = np.random.default_rng(20261122)


random = functools.partial(array_specs.random_array, RNG)
distinct = functools.partial(array_specs.distinct, RNG)


def check(f, *args, **fkwargs):
    test_rrule(f, *args, fkwargs=fkwargs)
    test_frule(f, *args, fkwargs=fkwargs)


# The axis/keepdims combinations every reduction is tested with, per input shape.
AXIS_CASES = [
    ((), {}),
    ((), {"keepdims": True}),
    ((4,), {}),
    ((4,), {"axis": 0, "keepdims": True}),
    ((3, 4), {}),
    ((3, 4), {"axis": 0}),
    ((3, 4), {"axis": -1, "keepdims": True}),
    ((2, 3, 2), {"axis": (0, 2)}),
    ((2, 3, 2), {"axis": (-1, 1), "keepdims": True}),
    ((2, 3, 2), {"axis": None, "keepdims": True}),
]
REDUCTIONS = [
    np.sum,
    np.mean,
    np.prod,
    np.max,
    np.min,
    np.amax,
    np.amin,
    np.nanmax,
    np.nanmin,
    np.ptp,
    np.std,
    np.var,
    np.nansum,
    np.nanmean,
    np.median,
]
COMPLEX_REDUCTIONS = [np.sum, np.mean, np.prod, np.std, np.var, np.nansum]


# A single value has zero spread, where std and ptp are not differentiable.
SMOOTH_AT_ONE_VALUE = [f for f in REDUCTIONS if f not in (np.std, np.ptp)]
REDUCTION_CASES = [
    (f, shape, kwargs)
    for f in REDUCTIONS
    for shape, kwargs in AXIS_CASES
    if f in SMOOTH_AT_ONE_VALUE or shape != ()
]


@pytest.mark.parametrize(
    ("f", "shape", "kwargs"), REDUCTION_CASES, ids=lambda v: getattr(v, "__name__", str(v))
)
def test_reduction_matches_finite_differences(f, shape, kwargs):
    check(f, distinct(shape), **kwargs)


@pytest.mark.parametrize("f", REDUCTIONS, ids=lambda f: f.__name__)
def test_reduction_float32_keeps_float32(f):
    check(f, distinct((3, 4), np.float32), axis=1)


@pytest.mark.parametrize("f", SMOOTH_AT_ONE_VALUE, ids=lambda f: f.__name__)
def test_reduction_of_python_scalar(f):
    check(f, 1.7)


@pytest.mark.parametrize("f", COMPLEX_REDUCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"axis": 0, "keepdims": True}], ids=str)
def test_complex_reduction(f, kwargs):
    check(f, random((3, 2), np.complex128), **kwargs)


@pytest.mark.parametrize(
    "f", [np.sum, np.mean, np.prod, np.max, np.std, np.var, np.nansum], ids=lambda f: f.__name__
)
def test_positional_axis_gets_no_tangent(f):
    check(f, distinct((3, 4)), nondiff(1))


@pytest.mark.parametrize(
    "f",
    [
        np.sum,
        np.mean,
        np.prod,
        np.std,
        np.var,
        np.nansum,
        np.nanmean,
        np.cumsum,
        np.cumprod,
        np.trace,
    ],
    ids=lambda f: f.__name__,
)
def test_dtype_keyword_is_passed_through(f):
    x = distinct((3, 3), np.float32)
    y, _ = rrule(f, x, dtype=np.float64)
    assert y.dtype == np.float64
    check(f, x, dtype=np.float64)


@pytest.mark.parametrize("f", [np.var, np.std], ids=lambda f: f.__name__)
@pytest.mark.parametrize("kwargs", [{"ddof": 1}, {"ddof": 1, "axis": 0, "keepdims": True}], ids=str)
def test_spread_with_ddof(f, kwargs):
    check(f, random((4, 3)), **kwargs)
    check(f, random((4, 3)), nondiff(0), nondiff(None), nondiff(None), nondiff(2))


@pytest.mark.parametrize("zeros", [[1], [0, 3], [0, 2, 4]], ids=["one zero", "two zeros", "three"])
@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"axis": 0, "keepdims": True}], ids=str)
def test_prod_with_zero_entries(zeros, kwargs):
    x = random(6)
    x[zeros] = 0.0
    x = x.reshape(2, 3)
    check(np.prod, x, **kwargs)


def test_prod_gradient_with_zeros_is_exact():
    x = np.array([2.0, 0.0, 3.0, 5.0])
    _, back = rrule(np.prod, x)
    np.testing.assert_array_equal(back(1.0)[1], [0.0, 30.0, 0.0, 0.0])
    x[2] = 0.0
    np.testing.assert_array_equal(rrule(np.prod, x)[1](1.0)[1], np.zeros(4))
    _, dy = frule((NoTangent(), np.array([1.0, 1.0, 1.0])), np.prod, np.array([2.0, 0.0, 3.0]))
    assert dy == 6.0


@pytest.mark.parametrize("f", [np.max, np.amax, np.nanmax], ids=lambda f: f.__name__)
def test_max_splits_cotangent_evenly_among_ties(f):
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 0.0, 5.0, 5.0]])
    _, back = rrule(f, x, axis=1)
    np.testing.assert_allclose(back(np.array([1.0, 3.0]))[1], [[0, 0.5, 0.5, 0], [1, 0, 1, 1]])
    dx = np.array([[9.0, 2.0, 4.0, 9.0], [3.0, 9.0, 6.0, 0.0]])
    _, dy = frule((NoTangent(), dx), f, x, axis=1)
    np.testing.assert_allclose(dy, [3.0, 3.0])


@pytest.mark.parametrize("f", [np.min, np.amin, np.nanmin], ids=lambda f: f.__name__)
def test_min_splits_cotangent_evenly_among_ties(f):
    x = np.array([2.0, -1.0, 4.0, -1.0])
    np.testing.assert_allclose(rrule(f, x)[1](2.0)[1], [0.0, 1.0, 0.0, 1.0])


def test_ptp_of_constant_slice_has_zero_gradient():
    x = np.array([[1.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(rrule(np.ptp, x, axis=1)[1](np.ones(2))[1], [[0, 0], [-1, 1]])


def test_max_with_nan_sends_cotangent_to_the_nan():
    x = np.array([1.0, np.nan, 3.0])
    np.testing.assert_array_equal(rrule(np.max, x)[1](1.0)[1], [0.0, 1.0, 0.0])
    rows = np.array([[1.0, np.nan, 3.0], [4.0, 6.0, 5.0]])  # one slice with a NaN, one without
    dx = rrule(np.max, rows, axis=1)[1](np.array([1.0, 2.0]))[1]
    np.testing.assert_array_equal(dx, [[0.0, 1.0, 0.0], [0.0, 2.0, 0.0]])
    np.testing.assert_array_equal(rrule(np.nanmax, x)[1](1.0)[1], [0.0, 0.0, 1.0])
    all_nan = np.full((1, 2), np.nan)
    with pytest.warns(RuntimeWarning, match="All-NaN"):
        _, back = rrule(np.nanmin, all_nan, axis=1)
    np.testing.assert_array_equal(back(np.ones(1))[1], [[0, 0]])


@pytest.mark.parametrize("kwargs", [{}, {"axis": 0}, {"axis": 1, "keepdims": True}], ids=str)
def test_nan_reductions_ignore_nan_entries(kwargs):
    x = random((3, 4))
    x[1, 2] = x[0, 0] = np.nan
    present = ~np.isnan(x)
    filled = np.where(present, x, 0.0)
    dx = random((3, 4))
    dy = random(np.shape(np.nansum(x, **kwargs)))

    _, sum_back = rrule(np.sum, filled, **kwargs)
    np.testing.assert_allclose(rrule(np.nansum, x, **kwargs)[1](dy)[1], sum_back(dy)[1] * present)
    _, d_sum = frule((NoTangent(), dx), np.nansum, x, **kwargs)
    np.testing.assert_allclose(d_sum, np.sum(dx * present, **kwargs))

    count = np.sum(present, **kwargs)
    _, d_mean = frule((NoTangent(), dx), np.nanmean, x, **kwargs)
    np.testing.assert_allclose(d_mean, np.sum(dx * present, **kwargs) / count)
    d_x = rrule(np.nanmean, x, **kwargs)[1](dy)[1]
    np.testing.assert_allclose(np.sum(d_x * dx), np.sum(dy * d_mean))  # the adjoint of the frule
    assert np.all(d_x[~present] == 0)


CUMULATIVE_CASES = [
    ((), {}),
    ((5,), {}),
    ((5,), {"axis": -1}),
    ((3, 4), {}),
    ((3, 4), {"axis": 0}),
    ((2, 3, 2), {"axis": 1}),
]


@pytest.mark.parametrize("f", [np.cumsum, np.cumprod], ids=lambda f: f.__name__)
@pytest.mark.parametrize(("shape", "kwargs"), CUMULATIVE_CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_cumulative(f, shape, kwargs, dtype):
    check(f, random(shape, dtype), **kwargs)


@pytest.mark.parametrize("zeros", [[2], [1, 4], [0, 3, 5]], ids=["one zero", "two zeros", "three"])
@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"axis": 0}], ids=str)
def test_cumprod_with_zero_entries(zeros, kwargs):
    x = random(6)
    x[zeros] = 0.0
    check(np.cumprod, x.reshape(2, 3), **kwargs)


def test_cumprod_gradient_with_zero_is_exact():
    x = np.array([2.0, 0.0, 3.0])
    # y = [2, 0, 0]; dy = 1 gives dx0 = 1 + 0 + 0, dx1 = 2 + 2*3, dx2 = 0.
    np.testing.assert_array_equal(rrule(np.cumprod, x)[1](np.ones(3))[1], [1.0, 8.0, 0.0])


def test_cumulative_positional_axis():
    check(np.cumsum, random((3, 2)), nondiff(0))
    check(np.cumprod, random((3, 2)), nondiff(-1))


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((5,), {}),
        ((5,), {"n": 2}),
        ((5,), {"n": 0}),
        ((3, 4), {"axis": 0}),
        ((3, 4), {"n": 2, "axis": -1}),
        ((5,), {"prepend": 1.5}),
        ((3, 4), {"axis": 0, "prepend": np.ones((2, 4)), "append": 0.0}),
        ((3, 4), {"n": 3, "append": np.arange(3.0).reshape(3, 1)}),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_diff(shape, kwargs, dtype):
    check(np.diff, random(shape, dtype), **kwargs)


def test_diff_positional_arguments():
    check(np.diff, random((3, 4)), nondiff(2), nondiff(0))


@pytest.mark.parametrize(
    ("shape", "spacings", "kwargs"),
    [
        ((2,), (), {}),
        ((3,), (), {"edge_order": 2}),
        ((7,), (0.5,), {}),
        ((7,), (0.5,), {"edge_order": 2}),
        ((3, 4), (), {}),
        ((3, 5), (2.0,), {"edge_order": 2}),
        ((3, 5), (2.0, 0.25), {}),
        ((4, 3, 5), (1.5,), {"axis": (0, 2), "edge_order": 2}),
        ((4, 6), (), {"axis": -1}),
        ((4, 6), (3,), {"axis": 0}),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_gradient(shape, spacings, kwargs, dtype):
    check(np.gradient, random(shape, dtype), *spacings, **kwargs)


def test_gradient_stencil_transpose_is_exact_at_every_length():
    # the pullback against the dense matrix of np.gradient, built from basis vectors
    for n in range(2, 9):
        for edge_order in (1, 2) if n > 2 else (1,):
            matrix = np.stack(
                [np.gradient(e, 0.5, edge_order=edge_order) for e in np.eye(n)], axis=1
            )
            dy = RNG.standard_normal(n)
            _, back = rrule(np.gradient, np.zeros(n), 0.5, edge_order=edge_order)
            np.testing.assert_allclose(back(dy)[1], matrix.T @ dy, atol=1e-12)


def test_gradient_pullback_passes_a_zero_cotangent_of_one_axis():
    _, back = rrule(np.gradient, np.arange(6.0).reshape(2, 3) ** 2)
    _, df = back((ZeroTangent(), np.ones((2, 3))))
    np.testing.assert_allclose(df, [[-1.5, 0, 1.5], [-1.5, 0, 1.5]])


def test_gradient_of_a_0d_array_has_no_axes():
    # np.gradient returns no derivatives, so nothing flows back
    check(np.gradient, np.array(0.5))
    _, back = rrule(np.gradient, np.array(0.5))
    df = back(())[1]
    assert np.shape(df) == () and df == 0


def test_gradient_refuses_coordinate_arrays():
    with pytest.raises(NotImplementedError, match="coordinate arrays"):
        rrule(np.gradient, np.ones(4), np.array([0.0, 1.0, 3.0, 4.0]))
    with pytest.raises(NotImplementedError, match="coordinate arrays"):
        frule((NoTangent(), np.ones(4), NoTangent()), np.gradient, np.ones(4), np.arange(4.0))


@pytest.mark.parametrize(
    ("shape", "args", "kwargs"),
    [
        ((3, 3), (), {}),
        ((3, 4), (1,), {}),
        ((4, 3), (-2,), {}),
        ((2, 3, 4), (0, 1, 2), {}),
        ((2, 3, 4), (), {"offset": 1, "axis1": 2, "axis2": 0}),
        ((2, 3, 4), (), {"axis1": -1, "axis2": -2}),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_trace(shape, args, kwargs, dtype):
    check(np.trace, random(shape, dtype), *map(nondiff, args), **kwargs)


AVERAGE_CASES = [
    ((4,), None),
    ((3, 4), None),
    ((3, 4), 1),
    ((3, 4), -2),
    ((2, 3, 2), (0, 2)),
    ((2, 3, 2), (2, 0)),
]


@pytest.mark.parametrize(("shape", "axis"), AVERAGE_CASES, ids=str)
@pytest.mark.parametrize("weights_shape", ["full", "along axis"])
def test_average_differentiable_in_both(shape, axis, weights_shape):
    x = random(shape)
    if weights_shape == "full" or axis is None:
        w = RNG.uniform(0.5, 2.0, shape)
    else:
        axes = (axis,) if isinstance(axis, int) else axis
        w = RNG.uniform(0.5, 2.0, [shape[a] for a in axes])
    check(np.average, x, nondiff(axis), w)
    check(np.average, x, nondiff(axis), w, nondiff(True))
    check(np.average, x, nondiff(axis), w, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_average_dtypes(dtype):
    check(np.average, random((3, 4), dtype), nondiff(0), RNG.uniform(0.5, 2.0, (3, 4)))


def test_average_without_weights_and_with_keyword_weights():
    x = random((3, 4))
    check(np.average, x)
    check(np.average, x, axis=0, keepdims=True)
    check(np.average, x, nondiff(1), nondiff(None), nondiff(True))
    check(np.average, x, axis=1, weights=RNG.uniform(0.5, 2.0, 4))


def test_average_returned_total_only():
    x, w = random((2, 3)), RNG.uniform(0.5, 2.0, (2, 3))
    _, back = rrule(np.average, x, 1, w, True)
    _, dx, _, dw, _ = back((ZeroTangent(), np.array([1.0, 2.0])))
    assert isinstance(dx, ZeroTangent)
    np.testing.assert_allclose(dw, [[1.0] * 3, [2.0] * 3])


@pytest.mark.parametrize(
    ("shape", "q", "kwargs"),
    [
        ((5,), 0.3, {}),
        ((4,), 1.0, {}),
        ((4,), 0.0, {}),
        ((3, 4), [0.1, 0.5, 0.75], {"axis": 1}),
        ((3, 4), np.array([[0.2], [0.9]]), {"axis": 0, "keepdims": True}),
        ((2, 3, 2), 0.4, {"axis": (0, 2)}),
        ((2, 3, 2), 0.6, {"keepdims": True}),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_quantile(shape, q, kwargs, dtype):
    x = distinct(shape, dtype)
    # q by keyword is a constant (q = 0 and q = 1 sit at the ends of its range)
    check(np.quantile, x, q=q, **kwargs)
    check(np.percentile, x, q=np.multiply(q, 100), **kwargs)


def test_median_gradient_is_split_between_middle_values():
    x = np.array([4.0, 1.0, 3.0, 2.0])
    np.testing.assert_allclose(rrule(np.median, x)[1](1.0)[1], [0.0, 0.0, 0.5, 0.5])
    check(np.median, distinct((3, 4)), nondiff(0))


def test_quantile_positional_axis():
    check(np.quantile, distinct((3, 4)), 0.25, nondiff(0))


@pytest.mark.parametrize(
    ("f", "kwargs"),
    [
        (np.sum, {"out": np.empty(())}),
        (np.max, {"initial": 0.0}),
        (np.mean, {"where": np.array([True, False, True])}),
        (np.quantile, {"q": 0.5, "method": "nearest"}),
        (np.median, {"overwrite_input": True}),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_unsupported_options_raise_clearly(f, kwargs):
    with pytest.raises(NotImplementedError, match=f.__name__):
        rrule(f, np.ones(3), **kwargs)
    with pytest.raises(NotImplementedError, match=f.__name__):
        frule((NoTangent(), np.ones(3)), f, np.ones(3), **kwargs)


@pytest.mark.parametrize(
    ("shape", "q", "kwargs"),
    [
        ((5,), 0.3, {}),
        ((3, 4), np.array([0.1, 0.5, 0.75]), {"axis": 1}),
        ((3, 4), np.array([[0.2], [0.9]]), {"axis": 0, "keepdims": True}),
        ((2, 3, 2), 0.4, {"axis": (0, 2)}),
    ],
    ids=str,
)
def test_quantile_is_differentiable_in_q_between_order_statistics(shape, q, kwargs):
    # the audit of the registry found q treated as a constant: (n - 1) (s[hi] - s[lo]) was lost
    x = distinct(shape)
    check(np.quantile, x, q, **kwargs)
    check(np.percentile, x, np.multiply(q, 100.0), **kwargs)


def with_nans(shape):
    """Distinct entries with two of them NaN (NaN entries get no cotangent)."""
    x = distinct(shape)
    x.flat[[0, x.size - 2]] = np.nan
    return x


def check_skipping_nans(f, x, step=1e-6, **kwargs):
    """Both rules against central differences in the non-NaN entries of ``x`` (finite differences
    cannot step a NaN), and a zero cotangent at the NaN entries."""
    present = ~np.isnan(x)
    y, back = rrule(f, x, **kwargs)
    dy = random(np.shape(y))
    dx = back(dy)[1]
    assert np.all(dx[~present] == 0)
    direction = np.where(present, random(x.shape), 0.0)
    slope = (f(x + step * direction, **kwargs) - f(x - step * direction, **kwargs)) / (2 * step)
    _, forward = frule((NoTangent(), direction), f, x, **kwargs)
    np.testing.assert_allclose(forward, slope, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sum(dx * direction), np.sum(dy * slope), rtol=1e-5, atol=1e-6)


# (function, its constant options)
NAN_SKIPPING = [
    (np.nanprod, {}),
    (np.nancumsum, {}),
    (np.nancumprod, {}),
    (np.nanvar, {}),
    (np.nanstd, {}),
    (np.nanmedian, {}),
    (np.nanquantile, {"q": 0.3}),
    (np.nanpercentile, {"q": [20.0, 70.0]}),
]


@pytest.mark.parametrize(("f", "options"), NAN_SKIPPING, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("kwargs", [{}, {"axis": 0}, {"axis": 1, "keepdims": True}], ids=str)
def test_nan_functions_skip_nan_entries(f, options, kwargs):
    if f in (np.nancumsum, np.nancumprod) and "keepdims" in kwargs:
        kwargs = {"axis": 1}
    check_skipping_nans(f, with_nans((3, 4)), **options, **kwargs)


@pytest.mark.parametrize(("f", "options"), NAN_SKIPPING, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_functions_without_nans_match_finite_differences(f, options, dtype):
    check(f, distinct((3, 4), dtype), axis=1, **options)


@pytest.mark.parametrize("f", [np.nanvar, np.nanstd])
def test_nan_spread_with_ddof(f):
    check_skipping_nans(f, with_nans((3, 4)), axis=1, ddof=1)
    check(f, distinct((3, 4)), axis=0, ddof=1, keepdims=True)


def test_nan_function_cotangent_is_zero_at_nan():
    x = np.array([2.0, np.nan, 3.0])
    np.testing.assert_array_equal(rrule(np.nanprod, x)[1](1.0)[1], [3.0, 0.0, 2.0])
    np.testing.assert_array_equal(rrule(np.nancumsum, x)[1](np.ones(3))[1], [3.0, 0.0, 1.0])


def test_nan_quantile_differentiable_in_q():
    check(np.nanquantile, distinct((3, 4)), np.array([0.2, 0.6]), nondiff(1))
    check(np.nanpercentile, distinct(5), 35.0)
    x = np.array([4.0, np.nan, 1.0, 3.0, 2.0])
    _, back = rrule(np.nanquantile, x, 0.5)
    assert back(1.0)[2] == 3.0  # (count - 1) (s[hi] - s[lo]) between the middle values 2 and 3


def test_nanmedian_splits_between_middle_non_nan_values():
    x = np.array([4.0, np.nan, 1.0, 3.0, 2.0])
    np.testing.assert_allclose(rrule(np.nanmedian, x)[1](1.0)[1], [0, 0, 0, 0.5, 0.5])


@pytest.mark.parametrize("f", [np.cumulative_sum, np.cumulative_prod])
@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((5,), {}),
        ((5,), {"include_initial": True}),
        ((3, 4), {"axis": 1}),
        ((3, 4), {"axis": 0, "include_initial": True}),
        ((), {}),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_cumulative_numpy2(f, shape, kwargs, dtype):
    check(f, random(shape, dtype), **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((), {"to_end": 2.0, "to_begin": np.array([1.0, -1.0])}),
        ((np.array([0.5, 1.5]),), {}),
        ((np.array([0.5, 1.5]), np.array([[2.0]])), {}),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ediff1d(args, kwargs, dtype):
    check(np.ediff1d, random((2, 3), dtype), *(a.astype(dtype) for a in args), **kwargs)


@pytest.mark.parametrize(
    ("shape", "args", "kwargs"),
    [
        ((5,), (), {}),
        ((5,), (), {"dx": 0.5}),
        ((5,), (None, 0.3), {}),
        ((5,), "x", {}),
        ((3, 4), "x", {}),
        ((3, 4), (), {"axis": 0}),
        ((3, 4), "x2", {"axis": 0}),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_trapezoid(shape, args, kwargs, dtype):
    y = random(shape, dtype)
    axis = kwargs.get("axis", -1)
    if args == "x":
        args = (np.sort(random(shape[axis], dtype)),)
    elif args == "x2":
        args = (np.sort(random(shape, dtype), axis=axis),)
    elif args and args[0] is None:
        args = (nondiff(None), np.asarray(args[1], dtype))
    check(np.trapezoid, y, *args, **kwargs)


@pytest.mark.parametrize("f", [np.cov, np.corrcoef])
@pytest.mark.parametrize(
    ("shapes", "kwargs"),
    [
        (((3, 5),), {}),
        (((5,),), {}),
        (((5, 3),), {"rowvar": False}),
        (((2, 5), (5,)), {}),
        (((3, 5),), {"ddof": 0}),
    ],
    ids=str,
)
def test_cov_and_corrcoef(f, shapes, kwargs):
    if f is np.corrcoef and (shapes == ((5,),) or "ddof" in kwargs):
        return  # the constant 1 (one variable); corrcoef's ddof is deprecated and cancels out
    check(f, *(random(s) for s in shapes), **kwargs)


def test_cov_bias_and_complex():
    check(np.cov, random((2, 4)), bias=True)
    check(np.cov, random((2, 4)), y=random((1, 4)))
    check(np.corrcoef, random((2, 4)), y=random(4))
    check(np.cov, random((2, 4), np.complex128))
    check(np.cov, random((2, 4), np.float32))


def test_cov_weights_raise():
    with pytest.raises(NotImplementedError, match="aweights"):
        rrule(np.cov, np.ones((2, 3)), aweights=np.ones(3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unwrap_is_the_identity_away_from_jumps(dtype):
    p = np.array([0.0, 3.0, 6.5, 1.0, -2.0], dtype)
    check(np.unwrap, p)
    check(np.unwrap, np.stack([p, -p]), axis=1, period=5.0)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_sort_complex_permutes(dtype):
    check(
        np.sort_complex,
        distinct(5).astype(dtype) + (1j * distinct(5) if dtype == np.complex128 else 0),
    )
    check(np.sort_complex, distinct((2, 3)).astype(dtype))
