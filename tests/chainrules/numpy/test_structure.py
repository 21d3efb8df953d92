"""Finite-difference tests of the conversion, assembling, set, binning and user-function rules
(chainrules/numpy/structure.py)."""

import numpy as np
import pytest
from array_specs import A, realize

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import (
    AbstractZero,
    HasForwardsMode,
    HasReverseMode,
    NoForwardsMode,
    NoReverseMode,
    NoTangent,
    RuleConfig,
    frule,
    rrule,
    unthunk,
)
from chainrules_core.testing import nondiff, test_frule, test_rrule


class _RulesOnly(RuleConfig, HasReverseMode, NoForwardsMode):
    """An engine that differentiates only functions with rules of their own."""

    def rrule_via_ad(self, f, *args, **kwargs):
        return rrule(self, f, *args, **kwargs)


class _ForwardRulesOnly(RuleConfig, HasForwardsMode, NoReverseMode):
    def frule_via_ad(self, tangents, f, *args, **kwargs):
        return frule(self, tangents, f, *args, **kwargs)


def check(f, args, kwargs, dtype):
    args = realize(args, dtype, np.random.default_rng(3))
    test_rrule(f, *args, fkwargs=kwargs)
    test_frule(f, *args, fkwargs=kwargs)


def check_via_ad(f, args, kwargs, dtype):
    args = realize(args, dtype, np.random.default_rng(3))
    test_rrule(f, *args, fkwargs=kwargs, config=_RulesOnly())
    test_frule(f, *args, fkwargs=kwargs, config=_ForwardRulesOnly())


INTS = np.array([0, 2, 2, 1, 4])
# the bins and range set the edges, which are treated as constants
RANGE = nondiff((-3.0, 3.0))
RANGE_2D = nondiff([(-3.0, 3.0), (-3.0, 3.0)])
RANGE_2D_NARROW = nondiff([(-3.0, 3.0), (-1.0, 1.0)])
RANGE_3D = nondiff([(-3.0, 3.0)] * 3)
EDGES = nondiff([-1.0, 0.0, 0.5, 2.0])

CASES = [
    (np.asanyarray, (A(2, 3),), {}),
    (np.asanyarray, ([1.5, -2.0],), {}),
    (np.asarray_chkfinite, (A(3),), {}),
    (np.asfortranarray, (A(2, 3),), {}),
    (np.require, (A(2, 3), None, ["F", "O"]), {}),
    (np.astype, (A(2, 3), np.float64), {}),
    (np.astype, (A(2, 3), np.complex128), {"copy": False}),
    (np.block, ([A(2, 2), A(2, 1)],), {}),
    (np.block, ([[A(2, 2), A(2, 1)], [A(1, 3)]],), {}),
    (np.block, ([A(2), 1.5],), {}),
    (np.broadcast_arrays, (A(2, 1), A(3)), {}),
    (np.broadcast_arrays, (A(2, 3), A()), {}),
    (np.meshgrid, (A(2), A(3)), {}),
    (np.meshgrid, (A(2), A(3), A(2, 2)), {"indexing": "ij"}),
    (np.meshgrid, (A(2), A(3)), {"sparse": True}),
    (np.unstack, (A(2, 3),), {}),
    (np.unstack, (A(2, 3, 2),), {"axis": 1}),
    (np.insert, (A(4), 1, A()), {}),
    (np.insert, (A(5), [1, 1, 3], A(3)), {}),
    (np.insert, (A(2, 3), 1, A(2)), {"axis": 1}),
    (np.insert, (A(2, 3), [0, 2], A(2, 1), 1), {}),
    (np.insert, (A(2, 3), 2, A(3)), {}),
    (np.diagflat, (A(3),), {}),
    (np.diagflat, (A(2, 2), -1), {}),
    (np.delete, (A(5), [0, 2, 2]), {}),
    (np.delete, (A(2, 3), 1, 1), {}),
    (np.delete, (A(4), slice(1, 3)), {}),
    (np.trim_zeros, (np.array([1.5, 0.0, -2.0]),), {}),
    (np.ndarray.compress, (A(2, 3), [True, False, True], 1), {}),
    (np.ndarray.choose, (np.array([0, 2, 1]), [A(3), A(3), A(3)]), {}),
    (np.union1d, (A(4), A(2, 2)), {}),
    (np.setdiff1d, (A(4), A(3)), {}),
    (np.setxor1d, (A(3), A(4)), {}),
    (np.unique_values, (A(2, 3),), {}),
    (np.unique_counts, (A(5),), {}),
    (np.unique_inverse, (A(2, 2),), {}),
    (np.unique_all, (A(5),), {}),
    (np.bincount, (INTS, A(5)), {}),
    (np.bincount, (INTS, A(5), 7), {}),
    (np.histogram, (A(20), 5, RANGE, None, A(20)), {}),
    (np.histogram, (A(20), EDGES, None, True, A(20)), {}),
    (np.histogram2d, (A(12), A(12), 3, RANGE_2D, None, A(12)), {}),
    (np.histogram2d, (A(12), A(12), [2, 3], RANGE_2D_NARROW, True, A(12)), {}),
    (np.histogramdd, (A(10, 3), 2, RANGE_3D, None, A(10)), {}),
    (np.histogramdd, (A(10, 2), (2, 3), RANGE_2D, True, A(10)), {}),
    (np.fromiter, ([1.5, -2.0, 3.0], np.float64), {}),
    (np.fromiter, (A(4), np.float64, 2), {}),
]

CASES_VIA_AD = [
    (np.apply_along_axis, (np.sum, 1, A(2, 3)), {}),
    (np.apply_along_axis, (np.cumsum, 0, A(3, 2)), {}),
    (np.apply_along_axis, (np.outer, -1, A(2, 2), A(3)), {}),
    (np.apply_over_axes, (np.sum, A(2, 3, 2), [0, 2]), {}),
    (np.apply_over_axes, (np.cumsum, A(2, 3), 1), {}),
    (np.piecewise, (A(5), [np.array([1, 0, 1, 0, 0], bool)], [np.sin, np.cos]), {}),
    (
        np.piecewise,
        (A(4), [np.array([1, 1, 0, 0], bool), np.array([0, 1, 1, 0], bool)], [np.sin, 2.0]),
        {},
    ),
    (np.piecewise, (A(3), [np.array([1, 0, 1], bool)], [np.multiply, 0.5], A()), {}),
]


def case_id(case):
    f, args, kwargs = case
    return f"{getattr(f, '__qualname__', f)}{args}{kwargs or ''}".replace(" ", "")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rules_match_finite_differences(case, dtype):
    check(*case, dtype)


@pytest.mark.parametrize("case", CASES_VIA_AD, ids=case_id)
def test_user_function_rules_match_finite_differences(case):
    check_via_ad(*case, np.float64)


@pytest.mark.parametrize(
    "case",
    [
        (np.asanyarray, (A(3),), {}),
        (np.block, ([A(2), A(1)],), {}),
        (np.meshgrid, (A(2), A(3)), {}),
        (np.insert, (A(3), 1, A()), {}),
        (np.union1d, (A(2), A(3)), {}),
    ],
    ids=case_id,
)
def test_complex_inputs(case):
    check(*case, np.complex128)


def test_trim_zeros_reads_the_tangent_where_the_primal_is_kept():
    x = np.array([0.0, 0.0, 1.5, 0.0, -2.0, 0.0])
    _, dy = frule((NoTangent(), np.arange(6.0)), np.trim_zeros, x)
    np.testing.assert_array_equal(dy, [2.0, 3.0, 4.0])
    _, back = rrule(np.trim_zeros, x, "f")
    np.testing.assert_array_equal(back(np.ones(4))[1], [0.0, 0.0, 1.0, 1.0, 1.0, 1.0])


def test_set_values_take_their_cotangent_from_the_first_occurrence():
    ar1, ar2 = np.array([0.5, 2.0, 0.5]), np.array([2.0, 3.0, 2.0])
    _, back = rrule(np.union1d, ar1, ar2)  # [0.5, 2.0, 3.0]
    _, dar1, dar2 = back(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(dar1, [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(dar2, [0.0, 3.0, 0.0])
    # a common value is credited to ar1
    y, back = rrule(np.intersect1d, ar1, ar2, False, True)
    np.testing.assert_array_equal(y[0], [2.0])
    _, dar1, dar2, *_ = back((np.array([4.0]), NoTangent(), NoTangent()))
    np.testing.assert_array_equal(dar1, [0.0, 4.0, 0.0])
    np.testing.assert_array_equal(dar2, [0.0, 0.0, 0.0])
    _, dy = frule((NoTangent(), np.ones(3), np.full(3, 5.0)), np.intersect1d, ar1, ar2)
    np.testing.assert_array_equal(dy, [1.0])


def test_unique_all_gathers_first_occurrences_and_leaves_the_integers():
    x = np.array([0.3, 0.9, 0.3])
    _, back = rrule(np.unique_all, x)
    dx = back((np.array([1.0, 2.0]), NoTangent(), NoTangent(), NoTangent()))[1]
    np.testing.assert_array_equal(dx, [1.0, 2.0, 0.0])
    _, dy = frule((NoTangent(), np.array([1.0, 2.0, 3.0])), np.unique_all, x)
    np.testing.assert_array_equal(dy[0], [1.0, 2.0])  # values
    assert dy[3] is NoTangent()  # counts


def test_histogram_data_gets_no_tangent_and_unweighted_counts_none():
    a = np.array([0.1, 0.5, 0.9])
    _, back = rrule(np.histogram, a, 2, (0.0, 1.0))
    assert all(t is NoTangent() for t in back((np.ones(2), np.ones(3))))
    _, dy = frule(
        (NoTangent(), np.ones(3), NoTangent(), NoTangent()), np.histogram, a, 2, (0.0, 1.0)
    )
    assert isinstance(dy, AbstractZero)


def test_edges_that_follow_the_data_are_refused_not_silently_constant():
    a = np.array([0.1, 0.5, 0.9])
    _, back = rrule(np.histogram, a, 2)
    back((np.ones(2), NoTangent()))  # the counts alone: fine
    with pytest.raises(NotImplementedError, match="pass range="):
        back((np.ones(2), np.ones(3)))
    with pytest.raises(NotImplementedError, match="pass range="):
        frule((NoTangent(), np.ones(3), NoTangent()), np.histogram, a, 2)


def test_bin_edges_follow_the_data_extremes_and_ix_reshapes():
    test_rrule(np.histogram_bin_edges, np.array([0.3, 0.9, 0.1, 0.5]), 3)
    test_frule(np.histogram_bin_edges, np.array([0.3, 0.9, 0.1, 0.5]), 3)
    test_rrule(np.ix_, np.array([0.3, 0.9]), np.array([0.1, 0.5, 0.7]))
    test_frule(np.ix_, np.array([0.3, 0.9]), np.array([0.1, 0.5, 0.7]))


@pytest.mark.parametrize(
    "a",
    [
        np.array([0.3, 0.9, 0.1, 0.5], dtype=np.float32),
        np.array([0.3 + 0.8j, 0.9 + 0.2j, 0.1 + 0.6j, 0.5 + 0.4j]),  # min, max: by real part
        np.array(0.5),  # the edges 0.5 -+ 0.5 move with the value
    ],
    ids=["float32", "complex128", "0-d"],
)
def test_bin_edges_in_every_dtype_and_of_one_value(a):
    test_rrule(np.histogram_bin_edges, a, 3)
    test_frule(np.histogram_bin_edges, a, 3)


def test_bin_edges_of_one_value_move_with_it():
    _, back = rrule(np.histogram_bin_edges, np.array(0.5), 3)
    assert back(np.ones(4))[1] == 4.0


def test_histogram_counts_each_weight_in_numpys_bin():
    # 1.0 is the last edge: in the last bin; -1.0 is outside the range: in none
    a, weights = np.array([0.0, 0.5, 1.0, -1.0]), np.array([1.0, 2.0, 3.0, 4.0])
    _, back = rrule(np.histogram, a, 2, (0.0, 1.0), None, weights)
    dweights = back((np.array([10.0, 20.0]), NoTangent()))[5]
    np.testing.assert_array_equal(dweights, [10.0, 20.0, 20.0, 0.0])


def test_bincount_without_weights_is_not_differentiable():
    _, back = rrule(np.bincount, INTS)
    assert back(np.ones(5)) == (NoTangent(), NoTangent())


def test_piecewise_overwritten_entries_get_no_cotangent_from_the_earlier_piece():
    x = np.array([0.5, 1.0])
    conditions = [np.array([True, True]), np.array([False, True])]
    y, back = rrule(_RulesOnly(), np.piecewise, x, conditions, [np.sin, np.cos])
    np.testing.assert_allclose(y, [np.sin(0.5), np.cos(1.0)])
    dx = unthunk(back(np.ones(2))[1])
    np.testing.assert_allclose(dx, [np.cos(0.5), -np.sin(1.0)])


def _fromfunction_of(s):
    return np.sum(np.fromfunction(lambda i, j: s * i + s**2 * j, (2, 3)))


def test_fromfunction_differentiates_what_its_function_captures():
    # sum over i < 2, j < 3 of s i + s^2 j = 3 s + 6 s^2: derivative 3 + 12 s
    import zygote_engine

    assert np.isclose(zygote_engine.gradient(_fromfunction_of, 0.5)[0], 9.0)
    assert np.isclose(zygote_engine.jvp(_fromfunction_of, (0.5,), (1.0,))[1], 9.0)
