"""Finite-difference tests of the convolution and trapezoid rules."""

import numpy as np
import pytest
import scipy.integrate
import scipy.signal

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

MODES = ["full", "same", "valid"]
SHAPE_PAIRS_1D = [((5,), (3,)), ((3,), (5,)), ((4,), (4,)), ((2,), (6,)), ((6,), (1,))]
# In the second pair b is the larger in every dimension (scipy swaps them in `valid` mode).
SHAPE_PAIRS_ND = [((4, 3), (2, 2)), ((2, 3), (3, 4)), ((3, 4, 2), (2, 2, 2))]


def _both(f, *args, **kw):
    test_rrule(f, *args, **kw)
    test_frule(f, *args, **kw)


def _pair(shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s) for s in shapes)
    if dtype is np.complex128:
        a = a + 1j * rng.standard_normal(shapes[0])
        b = b + 1j * rng.standard_normal(shapes[1])
    return a.astype(dtype), b.astype(dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "f",
    [scipy.signal.convolve, scipy.signal.correlate, np.convolve, np.correlate],
    ids=lambda f: f"{f.__module__}.{f.__name__}",
)
def test_1d_convolutions_in_every_mode(f, mode):
    for shapes in SHAPE_PAIRS_1D:
        _both(f, *_pair(shapes), fkwargs={"mode": mode})
    _both(f, *_pair(((5,), (3,)), np.float32), nondiff(mode))
    _both(f, *_pair(((4,), (3,)), np.complex128), fkwargs={"mode": mode})


def test_numpy_convolve_takes_a_0d_input_as_one_entry():
    # (np.correlate refuses 0-d inputs)
    _both(np.convolve, np.array(0.3), np.array(0.7))
    _both(np.convolve, np.array(0.3), np.array([0.7, -0.2, 0.5]))
    # convolve(2, 3) = [6]: the cotangents are 3 and 2, 0-d like their inputs
    _, back = rrule(np.convolve, np.array(2.0), np.array(3.0))
    _, da, db = back(np.array([1.0]))
    assert (da.shape, db.shape, da, db) == ((), (), 3.0, 2.0)


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "f", [scipy.signal.convolve, scipy.signal.correlate], ids=lambda f: f.__name__
)
def test_nd_scipy_convolutions(f, mode, method):
    for shapes in SHAPE_PAIRS_ND:
        _both(f, *_pair(shapes), fkwargs={"mode": mode, "method": method})
    _both(f, *_pair(((3, 3), (2, 2)), np.complex128), nondiff(mode), nondiff(method))


@pytest.mark.parametrize("mode", MODES)
def test_fftconvolve(mode):
    _both(scipy.signal.fftconvolve, *_pair(((4, 3), (2, 2))), fkwargs={"mode": mode})
    _both(scipy.signal.fftconvolve, *_pair(((5,), (3,)), np.float32), nondiff(mode))


def test_fftconvolve_along_some_axes_is_refused():
    with pytest.raises(NotImplementedError, match="axes=None"):
        rrule(scipy.signal.fftconvolve, np.ones((2, 3)), np.ones((2, 2)), axes=1)


TRAPEZOID_CASES = [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("shape", "axis"), TRAPEZOID_CASES)
def test_trapezoid(shape, axis, dtype):
    rng = np.random.default_rng(1)
    y = rng.standard_normal(shape).astype(dtype)
    n = shape[axis]
    x = np.sort(rng.uniform(0, 3, n)).astype(dtype)
    _both(scipy.integrate.trapezoid, y, fkwargs={"axis": axis})
    _both(scipy.integrate.trapezoid, y, x, fkwargs={"axis": axis})
    _both(scipy.integrate.trapezoid, y, None, dtype(0.7), nondiff(axis))
    full_x = np.sort(rng.uniform(0, 3, shape), axis=axis).astype(dtype)
    _both(scipy.integrate.trapezoid, y, full_x, fkwargs={"axis": axis})
