"""Tests of the shared LU factorizations (chainrules/numpy/factorization.py): what they compute,
against numpy, and when the cache reuses, refactorizes or forgets one.

Calls of LAPACK's ``getrf`` are counted by the ``getrf_calls`` fixture (conftest.py)."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest
from duck_array import Wrapped

from chainrules.numpy import factorization
from chainrules.numpy.factorization import LU, lu_of
from chainrules_core import NoTangent, frule

F64, C128 = np.float64, np.complex128


def _matrix(rng, n, dtype=F64):
    a = rng.standard_normal((n, n)) + n * np.eye(n)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal((n, n))
    return a.astype(dtype)


def _rhs(rng, *shape, dtype=F64):
    b = rng.standard_normal(shape)
    return b + 1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else b


@pytest.mark.parametrize("dtype", [F64, C128])
@pytest.mark.parametrize("n", [1, 3, 50])
def test_lu_computes_what_numpy_does(n, dtype):
    rng = np.random.default_rng(n)
    a = _matrix(rng, n, dtype)
    lu = LU(a)
    for b in (_rhs(rng, n, dtype=dtype), _rhs(rng, n, 2, dtype=dtype)):
        np.testing.assert_allclose(lu.solve(b), np.linalg.solve(a, b), rtol=1e-12)
        np.testing.assert_allclose(
            lu.solve(b, adjoint=True), np.linalg.solve(np.conj(a.T), b), rtol=1e-12
        )
    np.testing.assert_allclose(lu.inverse(), np.linalg.inv(a), rtol=1e-12, atol=1e-15)
    sign, logabsdet = lu.slogdet()
    expected = np.linalg.slogdet(a)
    assert type(sign) is type(expected.sign) and type(logabsdet) is type(expected.logabsdet)
    np.testing.assert_allclose(sign, expected.sign, rtol=1e-12)
    np.testing.assert_allclose(logabsdet, expected.logabsdet, rtol=1e-12)


def test_a_real_factorization_solves_a_complex_right_hand_side():
    rng = np.random.default_rng(1)
    a, b = _matrix(rng, 4), _rhs(rng, 4, 3, dtype=C128)
    np.testing.assert_allclose(LU(a).solve(b), np.linalg.solve(a, b), rtol=1e-12)
    np.testing.assert_allclose(LU(a).solve(b, adjoint=True), np.linalg.solve(a.T, b), rtol=1e-12)


def test_slogdet_sign_follows_the_pivots_and_the_diagonal():
    # det [[0, 1, 0], [0, 0, 2], [-3, 0, 0]] = -6: a cyclic permutation (two swaps) and one -3.
    a = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [-3.0, 0.0, 0.0]])
    sign, logabsdet = LU(a).slogdet()
    assert sign == -1.0
    assert np.isclose(logabsdet, np.log(6.0))
    sign, _ = LU(a * np.exp(0.25j)).slogdet()
    assert np.isclose(sign, -np.exp(0.75j))  # det(e^{iθ} A) = e^{3iθ} det A


@pytest.mark.parametrize("dtype", [F64, C128])
def test_a_singular_matrix_is_refused_like_numpy(dtype):
    a = np.ones((3, 3), dtype)
    lu = LU(a)
    assert lu.singular
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        lu.solve(np.ones(3))
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix"):
        lu.inverse()
    assert lu.slogdet() == (0, -np.inf)
    assert type(lu.slogdet()[0]) is type(np.linalg.slogdet(a).sign)


def test_the_factors_are_read_only():
    lu = LU(np.eye(2))
    with pytest.raises(ValueError, match="read-only"):
        lu.factors[0, 0] = 2.0


def test_lu_of_factorizes_a_matrix_once(getrf_calls):
    a = _matrix(np.random.default_rng(2), 5)
    assert lu_of(a) is lu_of(a)
    assert len(getrf_calls) == 1


def test_lu_of_refactorizes_a_matrix_written_in_place(getrf_calls):
    a = _matrix(np.random.default_rng(3), 5)
    before = lu_of(a)
    a[2, 1] += 1.0
    after = lu_of(a)
    assert after is not before
    assert len(getrf_calls) == 2
    np.testing.assert_allclose(after.slogdet()[1], np.linalg.slogdet(a).logabsdet, rtol=1e-12)


def test_lu_of_sees_a_write_through_another_view(getrf_calls):
    a = _matrix(np.random.default_rng(4), 4)
    view = a[:, :]
    lu = lu_of(view)
    a[0, 0] = 100.0
    assert lu_of(view) is not lu
    assert len(getrf_calls) == 2


def test_a_large_matrix_is_factorized_afresh_and_not_kept(getrf_calls, monkeypatch):
    monkeypatch.setattr(factorization, "SHARED_BYTES", 8 * 4 * 4 - 1)  # below one 4×4 matrix
    a = _matrix(np.random.default_rng(9), 4)
    first, second = lu_of(a), lu_of(a)
    assert first is not second and len(getrf_calls) == 2
    assert id(a) not in factorization._entries
    np.testing.assert_allclose(first.solve(np.ones(4)), np.linalg.solve(a, np.ones(4)), rtol=1e-12)


def test_lu_of_holds_the_matrix_weakly():
    a = _matrix(np.random.default_rng(5), 4)
    key = id(a)
    lu_of(a)
    assert factorization._entries[key].array() is a
    del a
    gc.collect()
    assert key not in factorization._entries


def test_lu_of_keeps_the_few_most_recent_matrices(getrf_calls):
    rng = np.random.default_rng(6)
    matrices = [_matrix(rng, 3) for _ in range(factorization._CAPACITY + 1)]
    for a in matrices:
        lu_of(a)
    assert len(factorization._entries) <= factorization._CAPACITY
    lu_of(matrices[-1])
    assert len(getrf_calls) == len(matrices)
    lu_of(matrices[0])  # the least recently used: gone
    assert len(getrf_calls) == len(matrices) + 1


@pytest.mark.parametrize(
    "a",
    [
        np.eye(3, dtype=np.float32),
        np.eye(3, dtype=np.complex64),
        np.eye(3, dtype=int),
        np.eye(3, dtype=object),
        np.ones((2, 3, 3)),
        np.ones((2, 3)),
        np.ones((0, 0)),
        np.eye(3).tolist(),
        np.asmatrix(np.eye(3)),
        Wrapped(np.eye(3)),
        np.diag([1.0, np.nan, 2.0]),
        np.diag([1.0, np.inf, 2.0]),
    ],
    ids=[
        "float32",
        "complex64",
        "int",
        "object",
        "stack",
        "rectangular",
        "empty",
        "list",
        "matrix subclass",
        "duck array",
        "nan",
        "inf",
    ],
)
def test_lu_of_leaves_everything_else_to_numpy(a, getrf_calls):
    assert lu_of(a) is None
    assert getrf_calls == []


def test_lu_of_gives_up_on_a_matrix_that_became_non_finite():
    a = _matrix(np.random.default_rng(7), 3)
    assert lu_of(a) is not None
    a[1, 1] = np.nan
    assert lu_of(a) is None


def test_lu_of_from_many_threads():
    rng = np.random.default_rng(8)
    matrices = [_matrix(rng, 6, dtype) for dtype in (F64, C128) for _ in range(4)]
    expected = [np.linalg.slogdet(a).logabsdet for a in matrices]
    failures = []

    def work(offset):
        for i in range(200):
            k = (i + offset) % len(matrices)
            if not np.isclose(lu_of(matrices[k]).slogdet()[1], expected[k], rtol=1e-12):
                failures.append(k)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(factorization._entries) <= factorization._CAPACITY


# --- forward rules: an LU's tangent is its matrix's ----------------------------------------------


def _along(fun, a, da, h=1e-6):
    return (np.asarray(fun(a + h * da)) - np.asarray(fun(a - h * da))) / (2 * h)


@pytest.mark.parametrize("dtype", [F64, C128])
def test_the_forward_rules_of_a_factorization_match_finite_differences(dtype):
    rng = np.random.default_rng(7)
    a, da = _matrix(rng, 3, dtype), _matrix(rng, 3, dtype) - 3 * np.eye(3)
    b, db = _rhs(rng, 3, 2, dtype=dtype), _rhs(rng, 3, 2, dtype=dtype)
    lu, dlu = frule((NoTangent(), da), lu_of, a)
    for adjoint in (False, True):
        _, dx = frule((NoTangent(), dlu, db), LU.solve, lu, b, adjoint=adjoint)
        np.testing.assert_allclose(
            dx, _along(lambda m, t=adjoint: LU(m).solve(b, t), a, da) + LU(a).solve(db, adjoint)
        )
    _, dinv = frule((NoTangent(), dlu), LU.inverse, lu)
    np.testing.assert_allclose(dinv, _along(lambda m: LU(m).inverse(), a, da), rtol=1e-6)
    _, (dsign, dlogdet) = frule((NoTangent(), dlu), LU.slogdet, lu)
    np.testing.assert_allclose(dlogdet, _along(lambda m: LU(m).slogdet()[1], a, da), rtol=1e-6)
    if dtype is C128:
        np.testing.assert_allclose(dsign, _along(lambda m: LU(m).slogdet()[0], a, da), atol=1e-8)


def test_a_singular_factorization_has_no_logdet_tangent():
    singular = LU(np.array([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(np.linalg.LinAlgError):
        frule((NoTangent(), np.eye(2)), LU.slogdet, singular)
