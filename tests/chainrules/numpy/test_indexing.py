"""Finite-difference tests of the indexing, selection, sorting and array-building rules
(chainrules/numpy/indexing.py)."""

import operator

import numpy as np
import pytest
from array_specs import A, realize

import chainrules.numpy.indexing  # noqa: F401 - registers the rules
from chainrules_core import NoTangent, Tangent, ZeroTangent, add, frule, rrule, unthunk
from chainrules_core.testing import test_frule, test_rrule


def check(f, args, kwargs, dtype):
    args = realize(args, dtype, np.random.default_rng(2))
    test_rrule(f, *args, fkwargs=kwargs)
    test_frule(f, *args, fkwargs=kwargs)


@pytest.mark.parametrize("index", [(Ellipsis, None, None), (), (None, Ellipsis), True])
def test_a_numpy_scalar_indexed_hands_the_sum_of_its_copies_back(index):
    # every element of s[index] is s: the derivative of sum(w * s[index]) is sum(w), and the
    # tangent of s[index] is ds in every element (the finite-difference checker rebuilds a numpy
    # scalar as a float, which cannot be indexed: checked by hand)
    s = np.float64(0.7)
    y, back = rrule(operator.getitem, s, index)
    w = np.arange(1.0, np.size(y) + 1.0).reshape(np.shape(y))
    assert np.array_equal(y, np.asarray(s)[index])
    assert unthunk(back(w)[1]) == np.sum(w)
    y, dy = frule((NoTangent(), np.float64(0.5), NoTangent()), operator.getitem, s, index)
    assert np.shape(dy) == np.shape(y) and np.all(dy == 0.5)


MASK = np.array([True, False, True])
MASK_23 = np.array([[True, False, False], [True, True, False]])
REPEATS = np.array([[0, 1], [1, 1]])

GETITEM_INDICES = [
    1,
    slice(1, 3),
    (Ellipsis, 0),
    (None, 1),
    (slice(None), None, slice(None, None, 2)),
    [0, 0, 2],
    REPEATS,
    MASK,
    (1, [0, 0]),
    ([0, 1, 1], Ellipsis, [2, 2, 0]),
    (-1, Ellipsis, None),
    (slice(1, None), MASK),
]

CASES = [
    *[(operator.getitem, (A(3, 3), index), {}) for index in GETITEM_INDICES],
    (operator.getitem, (A(2, 3), MASK_23), {}),
    (operator.getitem, (A(), ()), {}),
    (operator.getitem, (A(), Ellipsis), {}),
    (operator.getitem, (A(3, 3, 3), (0, [1, 1], slice(None), None)), {}),
    (np.take, (A(2, 3), [0, 5, 0]), {}),
    (np.take, (A(2, 3), REPEATS), {"axis": 1}),
    (np.take, (A(3), [5, -1], 0), {"mode": "wrap"}),
    (np.take, (A(3), [5, -7]), {"mode": "clip"}),
    (np.take, (A(3), 1), {}),
    (np.take_along_axis, (A(2, 3), np.array([[0, 0], [2, 1]]), 1), {}),
    (np.take_along_axis, (A(2, 3, 2), np.array([[[1], [0], [1]]]), 0), {}),
    (np.take_along_axis, (A(4), np.array([3, 3, 0])), {"axis": None}),
    (np.compress, (MASK, A(2, 3)), {"axis": 1}),
    (np.compress, ([False, True], A(3)), {}),
    (np.extract, (MASK_23, A(2, 3)), {}),
    (np.where, (MASK, A(3), A(3)), {}),
    (np.where, (MASK_23, A(3), 1.5), {}),
    (np.where, (MASK_23, A(2, 1), A()), {}),
    (np.select, ([MASK, ~MASK], [A(3), A(3)]), {}),
    (np.select, ([MASK_23, MASK_23[::-1]], [A(3), A(2, 3)], A()), {}),
    (np.choose, (np.array([0, 2, 1]), [A(3), A(3), A(3)]), {}),
    (np.choose, (np.array([[0, 3], [-1, 1]]), (A(2), A(2, 2))), {"mode": "wrap"}),
    (np.choose, (np.array([0, 5, -2]), [A(3), A()]), {"mode": "clip"}),
    (np.sort, (A(5),), {}),
    (np.sort, (A(3, 4), 0), {}),
    (np.sort, (A(2, 3, 2),), {"axis": None}),
    (np.sort, (A(2, 3),), {"kind": "stable"}),
    (np.sort, (A(2, 3),), {"stable": True}),
    (np.partition, (A(5), 2), {}),
    (np.partition, (A(4, 3), (0, 2), 0), {}),
    (np.partition, (A(2, 3), 4), {"axis": None}),
    (np.array, ([1.5, -2.0, 3.0],), {}),
    (np.array, ([[1.5, -2.0], (3.0, 0.5)],), {}),
    (np.array, ((A(3), A(3)),), {}),
    (np.array, ([A(2), [0.5, 1.5]],), {}),
    (np.array, (A(2, 3),), {}),
    (np.array, ([1.0, 2.0],), {"ndmin": 3}),
    (np.asarray, (A(2, 3),), {}),
    (np.asarray, ([A(), A()],), {}),
    (np.asarray, (2.5,), {}),
]

COMPLEX_CASES = [
    (operator.getitem, (A(3, 3), ([0, 0], slice(None))), {}),
    (operator.getitem, (A(3), MASK), {}),
    (np.take, (A(4), [1, 1, 3]), {}),
    (np.where, (MASK, A(3), A(3)), {}),
    (np.array, ([A(2), A(2)],), {}),
]


def case_id(case):
    f, args, kwargs = case
    return f"{getattr(f, '__name__', f)}{args}{kwargs or ''}".replace(" ", "")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rules_match_finite_differences(case, dtype):
    check(*case, dtype)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("case", COMPLEX_CASES, ids=case_id)
def test_complex_inputs(case, dtype):
    check(*case, dtype)


def test_repeated_integer_indices_accumulate():
    _, back = rrule(operator.getitem, np.zeros(3, np.float32), [0, 2, 0, 0])
    dx = unthunk(back(np.array([1.0, 2.0, 3.0, 4.0]))[1])
    np.testing.assert_array_equal(dx, [8.0, 0.0, 2.0])
    assert dx.dtype == np.float32


def test_reads_of_one_array_add_into_one_buffer():
    # the cotangents of x[t], t = 0..n-1, are thunks that add into one buffer: summed in any
    # order, in place where the sum owns it, they give the dense scatter of every read
    x = np.zeros((4, 2))
    reads = [rrule(operator.getitem, x, t)[1](np.full(2, t + 1.0))[1] for t in range(4)]
    reads.append(rrule(operator.getitem, x, (slice(None), 0))[1](np.ones(4))[1])
    total = ZeroTangent()
    for dx in reads:
        total = add(total, dx)
    expected = np.array([[2.0, 1.0], [3.0, 2.0], [4.0, 3.0], [5.0, 4.0]])
    np.testing.assert_array_equal(unthunk(total), expected)
    np.testing.assert_array_equal(unthunk(add(np.ones((4, 2)), total)), expected + 1.0)
    assert np.all(x == 0.0)  # the primal is never written


def test_one_argument_where_is_not_differentiable():
    y, back = rrule(np.where, np.array([1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(y[0], [0, 2])
    assert back(None) == (NoTangent(), NoTangent())
    assert frule((NoTangent(), np.ones(3)), np.where, np.ones(3))[1] == NoTangent()


def test_sort_ties_follow_argsort():
    x = np.array([1.0, 1.0, 0.0])
    _, back = rrule(np.sort, x, kind="stable")
    np.testing.assert_array_equal(back(np.array([10.0, 20.0, 30.0]))[1], [20.0, 30.0, 10.0])


def test_array_of_a_list_gives_a_list_tangent_of_projected_items():
    _, back = rrule(np.array, [1.0, np.float32(2.0)])
    dx = back(np.array([0.5, 0.25]))[1]
    assert dx.primal_type is list
    assert type(dx[0]) is float and type(dx[1]) is np.float32


def test_array_of_a_tuple_of_arrays_gives_a_tuple_tangent():
    x = (np.ones(2), np.zeros(2, np.float32))
    _, back = rrule(np.asarray, x)
    dx = back(np.array([[1.0, 2.0], [3.0, 4.0]]))[1]
    assert dx == Tangent(tuple, np.array([1.0, 2.0]), np.array([3.0, 4.0], np.float32))
    assert dx[1].dtype == np.float32


def test_take_into_out_keeps_the_primal():
    out = np.empty(2)
    y, back = rrule(np.take, np.array([1.0, 2.0, 3.0]), [2, 2], out=out)
    assert y is out
    np.testing.assert_array_equal(back(np.ones(2))[1], [0, 0, 2])
    np.testing.assert_array_equal(out, [3, 3])
    _, dy = frule((NoTangent(), np.ones(3), NoTangent()), np.take, np.zeros(3), [0, 0], out=out)
    np.testing.assert_array_equal(out, [0, 0])
    np.testing.assert_array_equal(dy, [1, 1])


@pytest.mark.parametrize(
    ("x", "kwargs"),
    [
        (np.array([0.3, 0.9, 0.1, 0.5]), {}),
        (np.array([[0.3, 0.9], [0.1, 0.5]]), {"return_counts": True, "return_index": True}),
        (np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 2.0]]), {"axis": 0}),
        (np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 2.0]]), {"axis": 1, "return_inverse": True}),
    ],
)
def test_unique_gathers_its_values(x, kwargs):
    test_rrule(np.unique, x, fkwargs=kwargs)
    test_frule(np.unique, x, fkwargs=kwargs)


def test_a_value_seen_twice_gets_its_cotangent_at_its_first_occurrence():
    _, back = rrule(np.unique, np.array([0.3, 0.9, 0.3]))
    np.testing.assert_array_equal(back(np.array([1.0, 2.0]))[1], [1.0, 2.0, 0.0])
