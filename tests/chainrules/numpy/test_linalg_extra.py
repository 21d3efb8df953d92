"""Finite-difference tests of chainrules/numpy/linalg_extra.py."""

import functools

import array_specs
import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

RNG = np.random.default_rng(20261124)
random = functools.partial(array_specs.random_array, RNG)
DTYPES = [np.float64, np.float32, np.complex128]


def check(f, *args, **fkwargs):
    test_rrule(f, *args, fkwargs=fkwargs)
    test_frule(f, *args, fkwargs=fkwargs)


@pytest.mark.parametrize("f", [np.linalg.trace, np.linalg.diagonal])
@pytest.mark.parametrize(("shape", "kwargs"), [((3, 3), {}), ((2, 3, 4), {"offset": 1})], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_trace_and_diagonal_over_last_axes(f, shape, kwargs, dtype):
    check(f, random(shape, dtype), **kwargs)


@pytest.mark.parametrize(
    ("a_shape", "v_shape"), [((3, 4), (4,)), ((2, 3, 4), (4,)), ((3, 4), (2, 4))], ids=str
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matvec(a_shape, v_shape, dtype):
    check(np.matvec, random(a_shape, dtype), random(v_shape, dtype))


@pytest.mark.parametrize(
    ("v_shape", "a_shape"), [((3,), (3, 4)), ((3,), (2, 3, 4)), ((2, 3), (3, 4))], ids=str
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_vecmat_conjugates_the_vector(v_shape, a_shape, dtype):
    check(np.vecmat, random(v_shape, dtype), random(a_shape, dtype))


def test_matvec_options_raise():
    with pytest.raises(TypeError, match="options"):
        rrule(np.matvec, np.eye(2), np.ones(2), axes=[(0, 1), 0, 0])


@pytest.mark.parametrize("p", [None, 2, -2])
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 3, 3)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cond(p, shape, dtype):
    x = random(shape, dtype)
    if p is None:
        check(np.linalg.cond, x)
    else:
        check(np.linalg.cond, x, nondiff(p))


def test_cond_other_norms_raise():
    with pytest.raises(NotImplementedError, match="p='fro'"):
        rrule(np.linalg.cond, np.eye(2), "fro")


@pytest.mark.parametrize(("shape", "ind"), [((4, 6, 8, 3), 2), ((6, 2, 3), 1)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_tensorinv(shape, ind, dtype):
    a = random(shape, dtype) + 3 * np.reshape(np.eye(int(np.prod(shape[:ind]))), shape)
    check(np.linalg.tensorinv, a, nondiff(ind))


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "axes"),
    [((6, 2, 3), (6,), None), ((2, 3, 6), (6,), (0, 1)), ((2, 3, 2, 3), (2, 3), None)],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_tensorsolve(a_shape, b_shape, axes, dtype):
    a, b = random(a_shape, dtype), random(b_shape, dtype)
    if axes is None:
        check(np.linalg.tensorsolve, a, b)
    else:
        check(np.linalg.tensorsolve, a, b, nondiff(axes))


def test_tensorsolve_of_empty_arrays():
    # numpy solves the 0 x 0 system; its cotangents are empty too
    check(np.linalg.tensorsolve, np.empty(0), np.empty(0))
    _, back = rrule(np.linalg.tensorsolve, np.empty(0), np.empty(0))
    _, da, db = back(np.empty(0))
    assert da.shape == db.shape == (0,)
