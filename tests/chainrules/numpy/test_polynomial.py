"""Finite-difference tests of the numpy polynomial rules (chainrules/numpy/polynomial.py)."""

import functools

import array_specs
import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import NoTangent, frule, rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

RNG = np.random.default_rng(20261123)
random = functools.partial(array_specs.random_array, RNG)


def check(f, *args, **fkwargs):
    test_rrule(f, *args, fkwargs=fkwargs)
    test_frule(f, *args, fkwargs=fkwargs)


DTYPES = [np.float64, np.float32, np.complex128]


@pytest.mark.parametrize("f", [np.polyadd, np.polysub, np.polymul])
@pytest.mark.parametrize(("n1", "n2"), [(3, 3), (2, 4), (4, 1)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_polynomial_arithmetic(f, n1, n2, dtype):
    check(f, random(n1, dtype), random(n2, dtype))


@pytest.mark.parametrize("f", [np.polyder, np.polyint])
@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_polyder_and_polyint_are_linear(f, m, dtype):
    check(f, random(4, dtype), nondiff(m))
    check(f, random(4, dtype), m=m)


def test_polyint_constants_of_integration_are_constants():
    check(np.polyint, random(3), nondiff(2), nondiff([1.0, -2.0]))


def test_polyint_of_order_zero_returns_a_0d_coefficient_as_it_is():
    # np.polyint(p, 0) is p itself, 0-d or not: derivative 1
    check(np.polyint, np.array(0.4), nondiff(0))
    _, back = rrule(np.polyint, np.array(0.4), 0)
    assert back(np.array(2.0))[1] == 2.0


@pytest.mark.parametrize(("nu", "nv"), [(5, 2), (5, 3), (4, 4), (6, 1)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_polydiv(nu, nv, dtype):
    check(np.polydiv, random(nu, dtype), random(nv, dtype) + 2.0)


def test_polydiv_float32_keeps_numpys_remainder_length():
    # float32 rounding leaves the cancelled leading remainder entry near 1e-8, which numpy keeps
    # here (float64 trims it): the tangents follow numpy's float32 output, and on the entries both
    # keep they are the float64 rule's
    u = np.array([0.6798491, 0.33142257, 0.4591916], dtype=np.float32)
    v = np.array([0.32285604, 0.6687901, 0.45551467], dtype=np.float32)
    du, dv = np.array([0.3, -0.2, 0.5]), np.array([0.1, 0.4, -0.3])
    (q, r), (dq, dr) = frule(
        (NoTangent(), du.astype(np.float32), dv.astype(np.float32)), np.polydiv, u, v
    )
    _, (dq64, dr64) = frule((NoTangent(), du, dv), np.polydiv, u.astype(float), v.astype(float))
    assert (dq.shape, dr.shape, dq.dtype, dr.dtype) == (q.shape, r.shape, q.dtype, r.dtype)
    assert r.size == dr64.size + 1 and abs(dr[0]) < 1e-6
    np.testing.assert_allclose(dq, dq64, rtol=1e-5)
    np.testing.assert_allclose(dr[1:], dr64, rtol=1e-5)
    _, back = rrule(np.polydiv, u, v)
    _, du_back, dv_back = back((np.ones_like(q), np.ones_like(r)))
    assert du_back.dtype == dv_back.dtype == np.float32


@pytest.mark.parametrize("x_shape", [(), (5,), (2, 3)], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_polyval_in_both(x_shape, dtype):
    check(np.polyval, random(4, dtype), random(x_shape, dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_poly_from_roots(dtype):
    check(np.poly, random(4, dtype))
    check(np.poly, random(1, dtype))


def test_empty_coefficients_and_roots():
    # numpy reads no coefficients as the zero polynomial, and no roots give the number 1.0
    check(np.polymul, np.empty(0), random(3))
    _, back = rrule(np.polymul, np.empty(0), np.array([1.0, 2.0]))
    _, da1, da2 = back(np.ones(2))
    assert da1.shape == (0,) and np.all(da2 == 0)
    check(np.poly, np.empty(0))
    _, back = rrule(np.poly, np.empty(0))
    assert back(1.0)[1].shape == (0,)


def test_poly_of_a_matrix_raises():
    with pytest.raises(NotImplementedError, match="eigvals"):
        rrule(np.poly, np.eye(2))


@pytest.mark.parametrize("p", [[1.0, -3.0, 2.0], [2.0, 0.5, 1.0, -1.0], [1.0, 0.3, 2.0]], ids=str)
def test_roots_by_implicit_differentiation(p):
    # distinct roots: real, mixed, and a complex pair
    check(np.roots, np.array(p))
    check(np.roots, np.array(p, dtype=complex) + 0.1j)


def test_roots_repeated_root_has_the_zero_convention_not_nan():
    _, back = rrule(np.roots, np.array([1.0, -2.0, 1.0]))
    assert np.all(np.isfinite(back(np.ones(2))[1]))


@pytest.mark.parametrize("deg", [1, 2, 3])
@pytest.mark.parametrize("columns", [(), (2,)], ids=str)
def test_polyfit_in_x_and_y(deg, columns):
    x = np.sort(random(7))
    check(np.polyfit, x, random((7, *columns)), nondiff(deg))


def test_polyfit_keyword_options():
    check(np.polyfit, np.linspace(0, 1, 6), random(6), deg=2)
    with pytest.raises(NotImplementedError, match="w="):
        rrule(np.polyfit, np.arange(4.0), np.ones(4), 1, w=np.ones(4))


@pytest.mark.parametrize("kwargs", [{}, {"N": 2}, {"N": 5, "increasing": True}, {"N": 1}], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_vander(kwargs, dtype):
    check(np.vander, random(4, dtype), **kwargs)


def test_vander_at_zero_is_finite():
    _, dy = frule((NoTangent(), np.ones(2), NoTangent()), np.vander, np.array([0.0, 1.0]), 3)
    np.testing.assert_array_equal(dy, [[0.0, 1.0, 0.0], [2.0, 1.0, 0.0]])
