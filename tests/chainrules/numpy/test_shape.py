"""Finite-difference tests of the rules for numpy's element-moving functions (numpy/shape.py)."""

import operator

import numpy as np
import pytest
from array_specs import A, distinct, realize

import chainrules.numpy.shape  # noqa: F401 - registers the rules
from chainrules_core import NoTangent, Tangent, ZeroTangent, frule, rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule


def check(f, args, kwargs, dtype):
    args = realize(args, dtype, np.random.default_rng(1))
    test_rrule(f, *args, fkwargs=kwargs)
    test_frule(f, *args, fkwargs=kwargs)


CASES = [
    (np.reshape, (A(2, 3), (3, 2)), {}),
    (np.reshape, (A(2, 3, 4), (4, -1)), {"order": "F"}),
    (np.reshape, (A(), (1, 1)), {}),
    (np.ravel, (A(2, 3),), {}),
    (np.ravel, (A(2, 3), "F"), {}),
    (np.ravel, (A(),), {}),
    (np.transpose, (A(2, 3, 4),), {}),
    (np.transpose, (A(2, 3, 4), (2, 0, 1)), {}),
    (np.transpose, (A(2, 3, 4),), {"axes": (-1, 0, 1)}),
    (np.permute_dims, (A(2, 3), (1, 0)), {}),
    (np.moveaxis, (A(2, 3, 4), 0, -1), {}),
    (np.moveaxis, (A(2, 3, 4), (0, 1), (2, 0)), {}),
    (np.swapaxes, (A(2, 3, 4), 0, 2), {}),
    (np.rollaxis, (A(2, 3, 4), 2), {}),
    (np.rollaxis, (A(2, 3, 4), 0, 2), {}),
    (np.rollaxis, (A(2, 3, 4), -1, -2), {}),
    (np.rollaxis, (A(2, 3, 4), 1), {"start": 3}),
    (np.expand_dims, (A(2, 3), 1), {}),
    (np.expand_dims, (A(), (0, 1)), {}),
    (np.squeeze, (A(1, 3, 1),), {}),
    (np.squeeze, (A(1, 3, 1), 2), {}),
    (np.broadcast_to, (A(3, 1), (2, 3, 4)), {}),
    (np.broadcast_to, (A(), (3,)), {}),
    (np.broadcast_to, (1.5, (2, 2)), {}),
    (np.atleast_1d, (A(),), {}),
    (np.atleast_1d, (2.5,), {}),
    (np.atleast_2d, (A(3),), {}),
    (np.atleast_3d, (A(2, 3),), {}),
    (np.atleast_1d, (A(), A(3), A(2, 3)), {}),
    (np.atleast_3d, (A(3), A(2, 2)), {}),
    (np.tile, (A(2, 3), 2), {}),
    (np.resize, (A(2, 3), (4, 4)), {}),
    (np.resize, (A(5), 3), {}),
    (np.resize, (A(), (2, 2)), {}),
    (np.tile, (A(3), (2, 1, 2)), {}),
    (np.tile, (A(), 3), {}),
    (np.repeat, (A(2, 3), 2), {}),
    (np.repeat, (A(2, 3), [1, 0, 3]), {"axis": 1}),
    (np.repeat, (A(2, 3), 3, 0), {}),
    (np.repeat, (A(), 3), {}),
    (np.flip, (A(2, 3, 4),), {}),
    (np.flip, (A(2, 3, 4), (0, 2)), {}),
    (np.fliplr, (A(2, 3),), {}),
    (np.flipud, (A(3),), {}),
    (np.roll, (A(2, 3, 4), 2), {}),
    (np.roll, (A(2, 3, 4), (1, -1), (0, 2)), {}),
    (np.roll, (A(2, 3), 1), {"axis": 1}),
    (np.rot90, (A(2, 3),), {}),
    (np.rot90, (A(2, 3, 4), 3, (1, 2)), {}),
    (np.rot90, (A(2, 3),), {"k": -1}),
    (np.concatenate, ((A(2, 3), A(3, 3)),), {}),
    (np.concatenate, ([A(2, 3), A(2, 1)],), {"axis": 1}),
    (np.concatenate, ((A(2, 3), A(3)), None), {}),
    (np.append, (A(2, 3), A(4)), {}),
    (np.append, (A(2, 3), A(1, 3), 0), {}),
    (np.append, (A(2, 3), A(2, 2)), {"axis": -1}),
    (np.append, (A(), 2.5), {}),
    (np.append, (A(3), [1.5, -0.5]), {}),
    (np.stack, ((A(2, 3), A(2, 3)),), {}),
    (np.stack, ([A(3), A(3), A(3)], -1), {}),
    (np.stack, ((A(), A()),), {}),
    (np.hstack, ((A(3), A(2), A()),), {}),
    (np.hstack, ((A(2, 3), A(2, 1)),), {}),
    (np.vstack, ((A(3), A(2, 3)),), {}),
    (np.dstack, ((A(2, 3), A(2, 3, 2)),), {}),
    (np.dstack, ((A(3), A(3)),), {}),
    (np.column_stack, ((A(3), A(3, 2)),), {}),
    (np.split, (A(6), 3), {}),
    (np.split, (A(6, 2), [1, 4]), {}),
    (np.array_split, (A(7), 3), {}),
    (np.array_split, (A(2, 3), 2), {"axis": 1}),
    (np.hsplit, (A(2, 4), 2), {}),
    (np.hsplit, (A(6), [2]), {}),
    (np.vsplit, (A(4, 2), 2), {}),
    (np.dsplit, (A(2, 2, 4), [1, 3]), {}),
    (np.pad, (A(2, 3), 1), {}),
    (np.pad, (A(2, 3), ((1, 0), (2, 1))), {}),
    (np.pad, (A(2, 3), 1), {"constant_values": 5.0}),
    (np.pad, (A(2, 3),), {"pad_width": (0, 2), "mode": "wrap"}),
    (np.pad, (A(2, 3), 2, "edge"), {}),
    (np.pad, (A(3), 4, "reflect"), {}),
    (np.pad, (A(2, 3), (1, 3)), {"mode": "symmetric"}),
    (np.pad, (A(2, 3), 3, "wrap"), {}),
    (np.pad, (A(4), 2, "linear_ramp"), {}),
    (np.pad, (A(2, 3), ((2, 1), (0, 3)), "linear_ramp"), {"end_values": ((1.5, -2.0), (0.5, 3.0))}),
    (np.pad, (A(2, 3, 2), (1, 2)), {"mode": "linear_ramp", "end_values": 4.0}),
    (np.pad, (A(3, 2), {1: (2, 1)}, "linear_ramp"), {}),
    (np.pad, (A(5), 2, "mean"), {}),
    (np.pad, (A(4, 3), ((1, 2), (3, 0)), "mean"), {"stat_length": 2}),
    (np.pad, (A(2, 3, 4), 1, "mean"), {"stat_length": ((1, 2), (3, 1), (2, 9))}),
    (np.diag, (A(3),), {}),
    (np.diag, (A(3), 1), {}),
    (np.diag, (A(2),), {"k": -2}),
    (np.diag, (A(3, 3),), {}),
    (np.diag, (A(3, 4), 1), {}),
    (np.diag, (A(4, 3), -1), {}),
    (np.diagonal, (A(3, 3),), {}),
    (np.diagonal, (A(2, 3, 4), 1, 2, 0), {}),
    (np.diagonal, (A(3, 4),), {"offset": -1}),
    (np.tril, (A(3, 3),), {}),
    (np.tril, (A(3, 4), -1), {}),
    (np.triu, (A(2, 3, 4), 1), {}),
    (np.tril, (A(3),), {}),
    (np.copy, (A(2, 3),), {}),
    *([(np.matrix_transpose, (A(2, 3, 4),), {})] if hasattr(np, "matrix_transpose") else []),
    (np.copy, (A(),), {}),
    (np.ascontiguousarray, (A(2, 3),), {}),
    (np.ascontiguousarray, (A(),), {}),
]

COMPLEX_CASES = [
    (np.reshape, (A(2, 3), (6,)), {}),
    (np.transpose, (A(2, 3, 4), (1, 2, 0)), {}),
    (np.roll, (A(4), 1), {}),
    (np.concatenate, ((A(2), A(3)),), {}),
    (np.append, (A(2, 2), A(3)), {}),
    (np.split, (A(4), 2), {}),
    (np.pad, (A(3), 2, "reflect"), {}),
    (np.pad, (A(2, 3), (1, 2), "linear_ramp"), {"end_values": 1.0}),
    (np.pad, (A(4), (2, 3), "mean"), {"stat_length": (1, 3)}),
    (np.pad, (A(2, 3), 2, "maximum"), {}),
    (np.pad, (A(5), (2, 1), "median"), {"stat_length": 4}),
    (np.diag, (A(2, 2),), {}),
    (np.repeat, (A(3), [2, 0, 1]), {}),
]


def case_id(case):
    f, args, kwargs = case
    return f"{f.__name__}{args}{kwargs or ''}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rules_match_finite_differences(case, dtype):
    check(*case, dtype)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("case", COMPLEX_CASES, ids=case_id)
def test_complex_inputs(case, dtype):
    check(*case, dtype)


def test_split_pullback_fills_zero_pieces():
    x = np.arange(6.0)
    _, back = rrule(np.split, x, 3)
    dx = back(Tangent(list, ZeroTangent(), np.ones(2), ZeroTangent()))[1]
    np.testing.assert_array_equal(dx, [0, 0, 1, 1, 0, 0])


def test_split_frule_returns_a_list_tangent():
    _, dpieces = frule((NoTangent(), np.arange(4.0), NoTangent()), np.split, np.zeros(4), 2)
    assert dpieces.primal_type is list
    np.testing.assert_array_equal(dpieces[1], [2.0, 3.0])


def test_atleast_with_several_arguments_passes_zero_cotangents_through():
    _, back = rrule(np.atleast_2d, np.ones(3), 2.0)
    _, da, db = back(Tangent(tuple, np.full((1, 3), 2.0), ZeroTangent()))
    np.testing.assert_array_equal(da, [2.0, 2.0, 2.0])
    assert db == ZeroTangent()


def test_join_of_a_list_gives_a_list_tangent_with_projected_items():
    xs = [np.ones(2, np.float32), [1.0, 2.0]]
    _, back = rrule(np.concatenate, xs)
    dxs = back(np.arange(4.0))[1]
    assert dxs.primal_type is list
    assert dxs[0].dtype == np.float32
    assert dxs[1] == Tangent(list, 2.0, 3.0)


def test_join_of_the_rows_of_an_array_gives_an_array_cotangent():
    x = np.arange(6.0).reshape(2, 3)
    _, back = rrule(np.stack, x, 1)
    np.testing.assert_array_equal(back(np.ones((3, 2)) * [1.0, 2.0])[1], [[1, 1, 1], [2, 2, 2]])


@pytest.mark.parametrize("order", ["K", "A"])
def test_memory_order_reshapes_follow_the_layout(order):
    # FD rebuilds inputs C-contiguous, so orders that read memory order are checked by hand.
    a = np.arange(6.0).reshape(2, 3)
    x = a.T  # F-contiguous: 'K' and 'A' read a's entries in a's C order
    y, back = rrule(np.ravel, x, order)
    np.testing.assert_array_equal(y, a.ravel())
    dy = np.arange(6.0) * 10
    np.testing.assert_array_equal(back(dy)[1], dy.reshape(2, 3).T)
    if order == "A":  # reshape knows no 'K'
        y, back = rrule(np.reshape, x, (6,), order)
        np.testing.assert_array_equal(back(dy)[1], dy.reshape(2, 3).T)


# Order statistics (maximum, minimum, median) on entries far apart, so that no finite-difference
# step reorders them.
ORDER_STATISTIC_PADS = [
    ((5,), 2, {}),
    ((2, 3), 1, {}),
    ((3, 4), ((1, 0), (2, 1)), {"stat_length": 2}),
    ((4, 3), (2, 3), {"stat_length": ((1, 3), (2, 2))}),
    ((4, 5), {1: (0, 2)}, {"stat_length": 4}),
    ((2, 3, 4), ((0, 1), (2, 0), (1, 1)), {"stat_length": None}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, pad_width, kwargs", ORDER_STATISTIC_PADS)
@pytest.mark.parametrize("mode", ["maximum", "minimum", "median"])
def test_pad_order_statistic_modes_match_finite_differences(mode, shape, pad_width, kwargs, dtype):
    x = distinct(np.random.default_rng(3), shape, dtype)
    test_rrule(np.pad, x, pad_width, mode, fkwargs=kwargs)
    test_frule(np.pad, x, pad_width, mode, fkwargs=kwargs)


def test_pad_maximum_of_tied_entries_splits_the_cotangent_evenly_as_np_max_does():
    x = np.array([3.0, 1.0, 3.0, 2.0])  # the maximum 3 is held by entries 0 and 2
    _, back = rrule(np.pad, x, (1, 2), "maximum")
    # the three padded entries carry 1 + 10 + 20 = 31, half to each tied entry
    np.testing.assert_array_equal(
        back(np.array([1.0, 0, 0, 0, 0, 10.0, 20.0]))[1], [15.5, 0, 15.5, 0]
    )
    tangents = (NoTangent(), np.array([1.0, 0.0, 5.0, 0.0]), NoTangent(), NoTangent())
    _, dy = frule(tangents, np.pad, x, (1, 0), "maximum")
    np.testing.assert_array_equal(dy, [3.0, 1.0, 0.0, 5.0, 0.0])  # the mean of 1 and 5


@pytest.mark.parametrize("mode, extremum", [("maximum", np.max), ("minimum", np.min)])
def test_pad_extremum_ties_follow_the_np_max_rule(mode, extremum):
    # each row's first three entries hold ties; one padded entry per row reads those three
    x = np.array([[2.0, 2.0, 2.0, 5.0], [1.0, 4.0, 1.0, -3.0], [0.0, 0.0, 7.0, 0.0]])
    dy = np.zeros((3, 5))
    dy[:, 0] = [1.0, -2.0, 3.0]
    _, back = rrule(np.pad, x, ((0, 0), (1, 0)), mode, stat_length=3)
    _, back_extremum = rrule(extremum, x[:, :3], 1)
    expected = np.zeros_like(x)
    expected[:, :3] = back_extremum(dy[:, 0])[1]
    np.testing.assert_allclose(back(dy)[1], dy[:, 1:] + expected)


def test_pad_median_of_an_even_count_splits_between_the_middle_entries():
    x = np.array([4.0, 1.0, 3.0, 2.0, 9.0])
    _, back = rrule(np.pad, x, (2, 0), "median", stat_length=4)  # median of 4, 1, 3, 2: (2 + 3) / 2
    np.testing.assert_array_equal(back(np.array([1.0, 3.0, 0, 0, 0, 0, 0]))[1], [0, 0, 2, 2, 0])


def test_pad_linear_ramp_end_values_are_not_differentiated():
    tangents = (NoTangent(), np.ones(2), NoTangent(), NoTangent())
    _, dy = frule(tangents, np.pad, np.zeros(2), 2, "linear_ramp", end_values=7.0)
    np.testing.assert_array_equal(dy, [0, 0.5, 1, 1, 0.5, 0])


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
def test_pad_odd_reflections_are_refused_by_name(mode):
    with pytest.raises(NotImplementedError, match="reflect_type='odd'"):
        rrule(np.pad, np.ones(3), 1, mode, reflect_type="odd")
    with pytest.raises(NotImplementedError, match="reflect_type='odd'"):
        tangents = (NoTangent(), np.ones(3), NoTangent(), NoTangent())
        frule(tangents, np.pad, np.ones(3), 1, mode, reflect_type="odd")


def test_pad_constant_values_are_not_differentiated():
    tangents = (NoTangent(), np.ones(2), NoTangent())
    _, dy = frule(tangents, np.pad, np.ones(2), 1, constant_values=7.0)
    np.testing.assert_array_equal(dy, [0, 1, 1, 0])


def test_out_argument_keeps_the_primal():
    out = np.empty(4)
    y, dy = frule(
        (NoTangent(), Tangent(tuple, np.ones(2), np.ones(2))),
        np.concatenate,
        (np.zeros(2), np.full(2, 3.0)),
        out=out,
    )
    assert y is out
    np.testing.assert_array_equal(out, [0, 0, 3, 3])
    np.testing.assert_array_equal(dy, np.ones(4))


INDEX_EXPRESSIONS = [
    (np.r_, (A(2), A(3))),
    (np.r_, (A(2), 1.5, A(), A(1))),
    (np.r_, (A(2, 3), A(1, 3))),
    (np.r_, A(3)),
    (np.r_, ([0.5, 2.0], A(2))),
    (np.c_, (A(3), A(3))),
    (np.c_, (A(3, 2), A(3))),
    (np.c_, (1.5, A(), A(1, 2))),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize(
    "concatenator, key", INDEX_EXPRESSIONS, ids=lambda c: getattr(c, "__name__", repr(c))
)
def test_index_expression_concatenators(concatenator, key, dtype):
    key = realize(key, dtype, np.random.default_rng(2))
    test_rrule(operator.getitem, nondiff(concatenator), key)
    test_frule(operator.getitem, nondiff(concatenator), key)


def test_index_expression_of_a_tuple_gives_a_tuple_cotangent():
    _, back = rrule(operator.getitem, np.r_, (np.zeros(2), 3.0))
    _, _, dkey = back(np.array([1.0, 2.0, 4.0]))
    assert dkey.primal_type is tuple
    np.testing.assert_array_equal(dkey[0], [1.0, 2.0])
    assert dkey[1] == 4.0


@pytest.mark.parametrize("key", [(slice(0, 3), np.ones(2)), ("0,2", np.ones(2), np.ones(2))])
@pytest.mark.parametrize("concatenator", [np.r_, np.c_])
def test_index_expression_ranges_and_directives_are_refused_naming_concatenate(concatenator, key):
    with pytest.raises(NotImplementedError, match="np.concatenate"):
        rrule(operator.getitem, concatenator, key)
    with pytest.raises(NotImplementedError, match="np.concatenate"):
        frule((NoTangent(), NoTangent(), ZeroTangent()), operator.getitem, concatenator, key)


def test_append_frule_with_one_constant_argument():
    _, dy = frule((NoTangent(), ZeroTangent(), np.ones(2)), np.append, np.zeros(3), np.zeros(2))
    np.testing.assert_array_equal(dy, [0, 0, 0, 1, 1])
