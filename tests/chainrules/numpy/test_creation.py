"""Finite-difference tests of the rules for numpy's array-creating functions (numpy/creation.py)."""

import numpy as np
import pytest
import scipy.special

import chainrules.numpy.creation  # noqa: F401 - registers the rules
from chainrules_core import NoTangent, rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

CASES = [
    ((0.3, 1.7, 5), {}),
    ((0.3, 1.7, 5), {"endpoint": False}),
    ((0.3, 1.7, 1), {}),
    ((0.3, 1.7, 4), {"retstep": True}),
    ((np.array([0.1, 0.2]), np.array([1.0, 2.0]), 4), {}),
    ((np.array([0.1, 0.2]), np.array([1.0, 2.0]), 4), {"axis": 1}),
    ((np.array([[0.1], [0.2]]), np.array([1.0, 2.0, 3.0]), 3), {"axis": -1}),
    ((np.float32(0.5), np.float32(2.0), 3), {"dtype": np.float32}),
]


@pytest.mark.parametrize(("args", "kwargs"), CASES)
def test_linspace_against_finite_differences(args, kwargs):
    test_rrule(np.linspace, *args, fkwargs=kwargs)
    if not kwargs.get("retstep"):
        test_frule(np.linspace, *args, fkwargs=kwargs)


def test_linspace_gradient_is_analytic():
    # y = a + (b - a) t, t = [0, 1/4, ..., 1]: d/da sum(y) = sum(1 - t), d/db = sum(t)
    _, back = rrule(np.linspace, 2.0, 3.0, 5)
    _, da, db, dnum = back(np.ones(5))
    assert (da, db, dnum) == (2.5, 2.5, NoTangent())


def test_linspace_with_an_integer_dtype_has_no_tangent():
    _, back = rrule(np.linspace, 0.0, 10.0, 5, dtype=int)
    assert back(np.ones(5))[1:3] == (NoTangent(), NoTangent())


def test_std_of_constant_data_has_the_zero_subgradient_not_nan():
    x = np.full(4, 3.0)
    _, back = rrule(np.std, x)
    np.testing.assert_array_equal(back(1.0)[1], np.zeros(4))
    _, back = rrule(np.std, np.array([[1.0, 1.0], [1.0, 2.0]]), axis=1)
    np.testing.assert_allclose(back(np.ones(2))[1], [[0.0, 0.0], [-0.5, 0.5]])


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (np.full, ((2, 3), 2.5)),
        (np.full, ((2, 3), np.array([1.0, -2.0, 0.5]))),
        (np.full_like, (np.zeros((3, 2)), 1.5)),
        (np.full_like, (np.zeros((2, 2), np.float32), np.float32(0.5))),
    ],
)
def test_full_is_differentiable_in_its_fill_value(f, args):
    test_rrule(f, *args)
    test_frule(f, *args)


@pytest.mark.parametrize("f", [np.fft.fftfreq, np.fft.rfftfreq])
@pytest.mark.parametrize("n", [1, 5, 8])
def test_frequencies_are_differentiable_in_the_spacing(f, n):
    test_rrule(f, n, 0.25)
    test_frule(f, n, 0.25)
    test_rrule(f, n)
    test_frule(f, n)


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (np.geomspace, (1.5, 4.0, nondiff(5))),
        (np.geomspace, (np.array([1.5, 2.0]), 4.0, nondiff(4), nondiff(False))),
        (np.logspace, (0.5, 1.5, nondiff(5), nondiff(True), 3.0)),
        (np.logspace, (0.5, np.array([1.0, 2.0]), nondiff(4))),
        (np.kaiser, (nondiff(7), 2.5)),
    ],
)
def test_spaced_samples_and_the_kaiser_window(f, args):
    test_rrule(f, *args)
    test_frule(f, *args)


def test_kaiser_takes_a_window_length_below_one_as_numpy_does():
    # numpy samples n = 0 < M: the one entry i0(0) / i0(beta), of slope -i1(beta) / i0(beta)^2
    test_rrule(np.kaiser, np.array(0.5), 2.5)
    test_frule(np.kaiser, np.array(0.5), 2.5)
    _, back = rrule(np.kaiser, np.array(0.5), 2.5)
    i0, i1 = scipy.special.i0(2.5), scipy.special.i1(2.5)
    np.testing.assert_allclose(back(np.ones(1))[2], -i1 / i0**2)
