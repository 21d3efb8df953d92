"""Finite-difference tests of the product and numpy.linalg rules (chainrules/numpy/linalg.py).

Matrices are well conditioned by construction: ``Q₁ diag(s) Q₂ᴴ`` with ``s`` in [1, 3] and random
unitary ``Q``s, Hermitian positive definite ``B Bᴴ + n I``, Hermitian with well separated
eigenvalues, so finite differences are accurate even in single precision.

How the decompositions are tested
---------------------------------
``test_rrule``/``test_frule`` compare a rule against finite differences of the function itself, which
only works when the outputs are locally smooth functions of every input entry:

* ``qr`` (numpy's ``R`` has a real diagonal of locally constant sign), ``svd(compute_uv=False)``,
  ``svdvals``, ``eigvals`` and ``eig`` of a real matrix with real eigenvalues (the only freedom left is
  a sign) are tested directly.
* Singular vectors and eigenvectors are defined up to a phase per column (per pair ``(u_i, v_i)`` for
  the SVD). LAPACK fixes it one way and a rule another, so their derivatives differ by a gauge term
  that no gauge-invariant loss sees; a rule is only required to be right for such losses. We test
  each decomposition through a function of its outputs that is invariant under the gauge,
  ``V diag(c) Vᴴ`` for ``eigh``, ``V diag(c) V⁻¹`` for ``eig``, ``U diag(c) Uᴴ``, ``V diag(c) Vᴴ``
  and ``U diag(c) Vh`` for ``svd`` (distinct weights ``c``, so these see every eigenvector direction).
  :func:`_gauge_invariant` registers, for this test only, the rules of such a composite built from
  the library rule under test and the (tiny, hand-written) derivative of the invariant map, so the
  full ``test_rrule``/``test_frule`` machinery applies to the composite and its finite differences
  go through numpy's own decomposition.
* ``eigh``, ``eigvalsh``, ``cholesky`` and ``svd``/``pinv`` with ``hermitian=True`` read one triangle
  of their input. They are tested on Hermitian inputs and on inputs with noise where they do not
  look (the other strict triangle, the imaginary part of the diagonal), for each triangle option:
  finite differences perturb every entry of numpy's own function, so they see a zero derivative
  there and the full weight of both mirrored entries in the triangle read, and the rule must agree.
* ``svd(full_matrices=True)`` of a rectangular matrix and ``qr(mode='complete')`` of a tall one have
  extra columns ``Q₂`` that only the matrix's span determines; they are tested through ``Q₂ Q₂ᴴ``.
"""

from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest

import chainrules.numpy.linalg  # noqa: F401 - registers the rules under test
from chainrules_core import NoTangent, Tangent, ZeroTangent, frule, rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

F64, F32, C128, C64 = np.float64, np.float32, np.complex128, np.complex64


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng([sum(map(ord, str(k))) for k in key] or 0)


def _rand(rng, *shape, dtype=F64):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return np.asarray(x, dtype=dtype)


def _H(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _unitary(rng, n, batch=(), dtype=F64):
    q, _ = np.linalg.qr(_rand(rng, *batch, n, n, dtype=np.result_type(dtype, F64)))
    return q


def _well_conditioned(rng, n, batch=(), dtype=F64, m=None):
    """A ``(m, n)`` matrix ``Q₁ diag(s) Q₂ᴴ`` with distinct singular values ``s`` in [1, 3]."""
    m = n if m is None else m
    k = min(m, n)
    s = 3 - 2 * (np.arange(k) + rng.uniform(0, 0.5, (*batch, k))) / k
    u = _unitary(rng, m, batch, dtype)[..., :k]
    v = _unitary(rng, n, batch, dtype)[..., :k]
    return ((u * s[..., None, :]) @ _H(v)).astype(dtype)


def _hermitian(rng, n, batch=(), dtype=F64, positive=False):
    """An exactly Hermitian matrix; eigenvalues at least 1/2 apart, in [1, 2n] if ``positive``."""
    w = np.arange(n) + 0.5 * rng.uniform(0, 1, (*batch, n)) + (1 if positive else -n / 2)
    q = _unitary(rng, n, batch, dtype)
    a = (q * w[..., None, :]) @ _H(q)
    return ((a + _H(a)) / 2).astype(dtype)


def _positive_definite(rng, n, batch=(), dtype=F64):
    b = _rand(rng, *batch, n, n, dtype=np.result_type(dtype, F64))
    a = b @ _H(b) + n * np.eye(n)
    return ((a + _H(a)) / 2).astype(dtype)


def _noise_where_unread(rng, a, lower=True):
    """``a`` plus noise where a routine reading one triangle does not look: the other strict triangle
    and, for complex ``a``, the imaginary part of the diagonal. The result is not Hermitian."""
    noise = _rand(rng, *np.shape(a), dtype=a.dtype)
    unread = np.triu(noise, 1) if lower else np.tril(noise, -1)
    if np.iscomplexobj(a):
        unread = unread + 1j * np.real(noise) * np.eye(np.shape(a)[-1], dtype=bool)
    return (a + unread).astype(a.dtype)


def _real_spectrum(rng, n):
    """A real non-symmetric matrix with real, well separated eigenvalues."""
    p = np.eye(n) + 0.3 * rng.standard_normal((n, n))
    return p @ np.diag(np.arange(1.0, n + 1) + 0.3 * rng.uniform(size=n)) @ np.linalg.inv(p)


def _check(f, *args, **kwargs):
    test_rrule(f, *args, **kwargs)
    test_frule(f, *args, **kwargs)


# ----------------------------------------------------------------------------------------------------
# Products
# ----------------------------------------------------------------------------------------------------

# (name, function, argument shapes or non-differentiable values, keyword arguments)
PRODUCTS = [
    ("dot-vector-vector", np.dot, [(3,), (3,)], {}),
    ("dot-matrix-vector", np.dot, [(2, 3), (3,)], {}),
    ("dot-vector-matrix", np.dot, [(3,), (3, 2)], {}),
    ("dot-nd", np.dot, [(2, 3, 4), (2, 4, 2)], {}),
    ("dot-scalar", np.dot, [(), (2, 3)], {}),
    ("vdot", np.vdot, [(2, 2), (4,)], {}),
    ("inner-vectors", np.inner, [(3,), (3,)], {}),
    ("inner-nd", np.inner, [(2, 3), (4, 3)], {}),
    ("outer", np.outer, [(2, 2), (3,)], {}),
    ("linalg.outer", np.linalg.outer, [(2,), (3,)], {}),
    ("matmul", np.matmul, [(2, 3), (3, 2)], {}),
    ("matmul-vector-right", np.matmul, [(2, 3), (3,)], {}),
    ("matmul-vector-left", np.matmul, [(3,), (2, 3, 2)], {}),
    ("matmul-vectors", np.matmul, [(3,), (3,)], {}),
    ("matmul-broadcast", np.matmul, [(2, 1, 2, 3), (3, 3, 2)], {}),
    ("operator.matmul", operator.matmul, [(2, 2, 3), (1, 3, 2)], {}),
    ("linalg.matmul", np.linalg.matmul, [(2, 3), (3,)], {}),
    ("tensordot-int", np.tensordot, [(2, 3, 4), (3, 4, 2)], {}),
    ("tensordot-pairs", np.tensordot, [(2, 3, 4), (4, 3), ([1, 2], [1, 0])], {}),
    ("tensordot-zero", np.tensordot, [(2,), (3,), 0], {}),
    ("linalg.tensordot", np.linalg.tensordot, [(2, 3), (3, 2)], {"axes": 1}),
    ("kron", np.kron, [(2, 3), (2, 2)], {}),
    ("kron-ranks", np.kron, [(2,), (2, 3)], {}),
    ("cross", np.cross, [(2, 3), (3,)], {}),
    ("cross-axis", np.cross, [(3, 2), (3, 1)], {"axis": 0}),
    ("cross-axes", np.cross, [(3, 2), (2, 3)], {"axisa": 0, "axisb": 1, "axisc": 0}),
    ("linalg.cross", np.linalg.cross, [(2, 3), (2, 3)], {}),
    ("vecdot", np.vecdot, [(2, 3), (3,)], {}),
    ("linalg.vecdot", np.linalg.vecdot, [(3, 2), (3, 1)], {"axis": 0}),
    ("matrix_transpose", np.linalg.matrix_transpose, [(2, 3, 2)], {}),
]


def _arguments(rng, specs, dtype):
    return [
        _rand(rng, *s, dtype=dtype)
        if isinstance(s, tuple) and all(isinstance(n, int) for n in s)
        else nondiff(s)
        for s in specs
    ]


@pytest.mark.parametrize("dtype", [F64, F32, C128])
@pytest.mark.parametrize(("name", "f", "specs", "kwargs"), PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products(name, f, specs, kwargs, dtype):
    _check(f, *_arguments(_rng(name, dtype.__name__), specs, dtype), fkwargs=kwargs)


def test_products_mixed_precision():
    rng = _rng("mixed")
    _check(np.matmul, _rand(rng, 2, 3, dtype=F32), _rand(rng, 3, 2))
    _check(np.dot, _rand(rng, 2, 3), _rand(rng, 3, dtype=C128))


def test_operator_matmul_is_typed_for_arrays():
    assert rrule(operator.matmul, [1.0], [2.0]) is None


def test_multi_dot():
    for dtype in (F64, F32, C128):
        rng = _rng("multi_dot", dtype.__name__)
        _check(
            np.linalg.multi_dot,
            [
                _rand(rng, 3, dtype=dtype),
                _rand(rng, 3, 2, dtype=dtype),
                _rand(rng, 2, 4, dtype=dtype),
                _rand(rng, 4, dtype=dtype),
            ],
        )
        _check(np.linalg.multi_dot, (_rand(rng, 2, 3, dtype=dtype), _rand(rng, 3, 2, dtype=dtype)))


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 2)]),
    ("ij,jk", [(2, 3), (3, 2)]),
    ("ba", [(2, 3)]),
    ("bA,Ab", [(2, 3), (3, 2)]),
    ("ii->", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("iij->ji", [(2, 2, 3)]),
    ("ij->", [(3, 2)]),
    ("ij->j", [(3, 2)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    (",i->i", [(), (3,)]),
    ("ij,ij,i->j", [(1, 3), (2, 3), (2,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (1, 3, 2)]),
    ("...ij,jk", [(2, 2, 3), (3, 2)]),
    ("i...->...", [(2, 3, 2)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("a...,...->a...", [(2, 3), (1,)]),
]


@pytest.mark.parametrize("dtype", [F64, F32, C128])
@pytest.mark.parametrize(("subscripts", "shapes"), EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum(subscripts, shapes, dtype):
    rng = _rng(subscripts, dtype.__name__)
    _check(np.einsum, nondiff(subscripts), *(_rand(rng, *s, dtype=dtype) for s in shapes))


def test_einsum_interleaved_sublists():
    rng = _rng("sublists")
    a, b = _rand(rng, 2, 3), _rand(rng, 3)
    _check(np.einsum, a, nondiff([0, 1]), b, nondiff([1]), nondiff([0]))
    _check(np.einsum, a, nondiff([Ellipsis, 1]), b, nondiff([1]))


def test_einsum_passes_optimize_through():
    rng = _rng("optimize")
    _check(
        np.einsum,
        nondiff("ij,jk,kl->il"),
        *(_rand(rng, 2, 2) for _ in range(3)),
        fkwargs={"optimize": "greedy"},
    )


# ----------------------------------------------------------------------------------------------------
# Inverses, solves, determinants, powers
# ----------------------------------------------------------------------------------------------------

SQUARE_DTYPES = [F64, F32, C128, C64]
SIZES = [((), 2), ((), 4), ((2,), 3)]


@pytest.mark.parametrize("dtype", SQUARE_DTYPES)
@pytest.mark.parametrize(("batch", "n"), SIZES)
@pytest.mark.parametrize(
    "f", [np.linalg.inv, np.linalg.det, np.linalg.slogdet, np.linalg.pinv], ids=lambda f: f.__name__
)
def test_square(f, batch, n, dtype):
    _check(f, _well_conditioned(_rng(f.__name__, n, dtype.__name__), n, batch, dtype))


def test_slogdet_ignores_the_sign_cotangent_of_a_real_matrix():
    a = _well_conditioned(_rng("slogdet"), 3)
    _, back = rrule(np.linalg.slogdet, a)
    _, da = back(Tangent(type(np.linalg.slogdet(a)), sign=1.0, logabsdet=0.0))
    np.testing.assert_array_equal(da, np.zeros((3, 3)))


@pytest.mark.parametrize("dtype", [F64, F32, C128])
@pytest.mark.parametrize("shape", [(3, 2), (2, 4), (2, 3, 2)])
def test_pinv_full_rank(shape, dtype):
    *batch, m, n = shape
    _check(np.linalg.pinv, _well_conditioned(_rng("pinv", shape), n, tuple(batch), dtype, m=m))


@pytest.mark.parametrize("dtype", SQUARE_DTYPES)
@pytest.mark.parametrize(
    ("a_batch", "b_shape"),
    [((), (3,)), ((), (3, 2)), ((2,), (3,)), ((2,), (2, 3, 2)), ((), (2, 3, 1)), ((2,), (3, 2))],
)
def test_solve(a_batch, b_shape, dtype):
    rng = _rng("solve", a_batch, b_shape, dtype.__name__)
    _check(
        np.linalg.solve,
        _well_conditioned(rng, 3, a_batch, dtype),
        _rand(rng, *b_shape, dtype=dtype),
    )


@pytest.mark.parametrize("dtype", [F64, F32, C128])
@pytest.mark.parametrize("power", [3, 2, 1, 0, -1, -2])
def test_matrix_power(power, dtype):
    a = _well_conditioned(_rng("matrix_power", dtype.__name__), 3, (), dtype) / 2
    _check(np.linalg.matrix_power, a, nondiff(power))
    _check(
        np.linalg.matrix_power,
        _well_conditioned(_rng("power", power), 2, (2,), dtype) / 2,
        nondiff(power),
    )


@pytest.mark.parametrize("dtype", [F64, F32, C128])
@pytest.mark.parametrize(
    ("m", "n", "b_shape"),
    [(4, 2, (4,)), (4, 3, (4, 2)), (3, 3, (3,)), (2, 3, (2,)), (2, 4, (2, 2))],
)
def test_lstsq(m, n, b_shape, dtype):
    rng = _rng("lstsq", m, n, b_shape, dtype.__name__)
    a, b = _well_conditioned(rng, n, (), dtype, m=m), _rand(rng, *b_shape, dtype=dtype)
    y = np.linalg.lstsq(a, b)
    # rand_tangent draws an empty array for empty residuals (M <= N), which the checks reject as a
    # tangent of something with no entries: give those an explicit output tangent.
    output_tangent = (
        None
        if y[1].size
        else Tangent(
            tuple,
            _rand(rng, *y[0].shape, dtype=dtype),
            NoTangent(),
            NoTangent(),
            _rand(rng, *y[3].shape, dtype=y[3].dtype),
        )
    )
    test_rrule(np.linalg.lstsq, a, b, output_tangent=output_tangent)
    test_frule(np.linalg.lstsq, a, b)
    test_rrule(np.linalg.lstsq, a, b, output_tangent=output_tangent, fkwargs={"rcond": None})


def test_matrix_rank_is_non_differentiable():
    a = _well_conditioned(_rng("rank"), 3)
    rank, back = rrule(np.linalg.matrix_rank, a)
    assert rank == 3
    assert back(1.0) == (NoTangent(), NoTangent())
    assert frule((NoTangent(), a), np.linalg.matrix_rank, a) == (3, NoTangent())


# Shared LU factorizations ----------------------------------------------------------------------------
# inv, solve, det and slogdet of a square float64 or complex128 matrix go through one cached LU
# factorization (chainrules/numpy/factorization.py); their results must stay numpy's.

LU_DTYPES = [F64, C128]
LU_FUNCTIONS = [np.linalg.inv, np.linalg.det, np.linalg.slogdet]


@pytest.mark.parametrize("dtype", LU_DTYPES)
@pytest.mark.parametrize("n", [1, 3, 50])
@pytest.mark.parametrize("f", LU_FUNCTIONS, ids=lambda f: f.__name__)
def test_square_through_the_shared_factorization(f, n, dtype):
    _check(f, _well_conditioned(_rng("lu", f.__name__, n, dtype.__name__), n, (), dtype))


@pytest.mark.parametrize("dtype", LU_DTYPES)
@pytest.mark.parametrize("n", [1, 3, 50])
@pytest.mark.parametrize("b_shape", [(), (2,)], ids=["vector", "matrix"])
def test_solve_through_the_shared_factorization(b_shape, n, dtype):
    rng = _rng("lu solve", n, b_shape, dtype.__name__)
    _check(
        np.linalg.solve, _well_conditioned(rng, n, (), dtype), _rand(rng, n, *b_shape, dtype=dtype)
    )


def test_solve_of_a_complex_right_hand_side_with_a_real_matrix():
    rng = _rng("lu solve mixed")
    _check(np.linalg.solve, _well_conditioned(rng, 3), _rand(rng, 3, 2, dtype=C128))


def _calls(a, b):
    """``{what: (call, (f, *args))}``: ``call()`` is the primal output of the reverse or forward rule
    (with zero tangents) of ``f(*args)``, for inv, det, slogdet and solve (``b`` and ``b`` as one
    column) of ``a``."""

    def primal(kind, f, *args):
        if kind == "rrule":
            return rrule(f, *args)[0]
        return frule((NoTangent(), *(ZeroTangent() for _ in args)), f, *args)[0]

    cases = {f.__name__: (f, a) for f in LU_FUNCTIONS}
    cases |= {"solve": (np.linalg.solve, a, b), "solve matrix": (np.linalg.solve, a, b[:, None])}
    return {
        f"{kind} of {name}": (lambda kind=kind, case=case: primal(kind, *case), case)
        for name, case in cases.items()
        for kind in ("rrule", "frule")
    }


def _assert_numpys(got, expected, rtol, what):
    """``got`` is numpy's ``expected`` (a tuple for slogdet): same types, dtypes, shapes, and values
    to ``rtol`` relative to the largest entry."""
    for g, e in zip(*(x if isinstance(x, tuple) else (x,) for x in (got, expected))):
        assert type(g) is type(e), what
        assert (np.shape(g), np.result_type(g)) == (np.shape(e), np.result_type(e)), what
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * np.max(np.abs(e)), err_msg=what)
    assert type(got) is type(expected), what


@pytest.mark.parametrize("dtype", LU_DTYPES)
@pytest.mark.parametrize("n", [1, 3, 50, 100])
def test_shared_factorization_primals_are_numpys(n, dtype):
    rng = _rng("lu primals", n, dtype.__name__)
    a, b = _well_conditioned(rng, n, (), dtype), _rand(rng, n, dtype=dtype)
    for what, (call, (f, *args)) in _calls(a, b).items():
        _assert_numpys(call(), f(*args), 1e-12, what)


@pytest.mark.parametrize("dtype", LU_DTYPES)
@pytest.mark.parametrize("n", [3, 50])
def test_shared_factorization_of_an_ill_conditioned_matrix(n, dtype):
    # numpy and scipy link different LAPACK builds, so the results may differ as much as two
    # backward-stable solutions can: relative to the largest entry, about n · cond · eps.
    condition = 1e8
    rng = _rng("lu ill", n, dtype.__name__)
    u, v = _unitary(rng, n, (), dtype), _unitary(rng, n, (), dtype)
    a = (u * np.logspace(0, -np.log10(condition), n)) @ _H(v)
    b = _rand(rng, n, dtype=dtype)
    assert np.linalg.cond(a) == pytest.approx(condition, rel=1e-3)
    for what, (call, (f, *args)) in _calls(a, b).items():
        _assert_numpys(call(), f(*args), n * condition * np.finfo(F64).eps, what)
    # and the solve is as backward stable as numpy's: a residual of rounding size
    x = rrule(np.linalg.solve, a, b)[0]
    residual = np.linalg.norm(a @ x - b) / (np.linalg.norm(a, 2) * np.linalg.norm(x))
    assert residual < 10 * n * np.finfo(F64).eps


@pytest.mark.parametrize("dtype", LU_DTYPES)
@pytest.mark.parametrize("n", [1, 3, 50])
def test_an_exactly_singular_matrix_fails_like_numpy(n, dtype):
    rng = _rng("lu singular", n, dtype.__name__)
    a = _rand(rng, n, n, dtype=dtype)
    a[:, n // 2] = 0  # a zero column: every LU factorization meets an exactly zero pivot
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for what, (call, (f, *args)) in _calls(a, _rand(rng, n, dtype=dtype)).items():
            if f in (np.linalg.inv, np.linalg.solve):
                for attempt in (call, lambda f=f, args=args: f(*args)):
                    with pytest.raises(np.linalg.LinAlgError, match="^Singular matrix$"):
                        attempt()
            else:
                assert f(*args) == (0 if f is np.linalg.det else (0, -np.inf))
                assert repr(call()) == repr(f(*args)), what  # types and values


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("dtype", LU_DTYPES)
def test_a_non_finite_matrix_gives_numpys_results_and_warnings(dtype, value):
    rng = _rng("lu non-finite", dtype.__name__)
    a = _well_conditioned(rng, 3, (), dtype)
    a[1, 2] = value
    for what, (call, (f, *args)) in _calls(a, _rand(rng, 3, dtype=dtype)).items():
        outcomes = []
        for attempt in (call, lambda f=f, args=args: f(*args)):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                outcomes.append((attempt(), [str(w.message) for w in caught]))
        (got, got_warnings), (expected, expected_warnings) = outcomes
        np.testing.assert_array_equal(got, expected, err_msg=what)
        assert got_warnings == expected_warnings, what


@pytest.mark.parametrize("dtype", LU_DTYPES)
def test_slogdet_and_solve_of_one_matrix_factorize_it_once(getrf_calls, dtype):
    rng = _rng("lu shared", dtype.__name__)
    a, b = _well_conditioned(rng, 4, (), dtype), _rand(rng, 4, dtype=dtype)
    (_, logabsdet), slogdet_back = rrule(np.linalg.slogdet, a)
    x, solve_back = rrule(np.linalg.solve, a, b)
    assert len(getrf_calls) == 1
    dx = _rand(rng, 4, dtype=dtype)
    _, da_logdet = slogdet_back(Tangent(tuple, ZeroTangent(), 1.0))
    _, da_solve, db = solve_back(dx)
    assert len(getrf_calls) == 1
    np.testing.assert_allclose(logabsdet, np.linalg.slogdet(a).logabsdet, rtol=1e-12)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-12)
    # d log|det A| = Re tr(A⁻¹ dA): the cotangent is A⁻ᴴ; x = A⁻¹b: b̄ = A⁻ᴴx̄, Ā = -b̄ xᴴ
    np.testing.assert_allclose(da_logdet, _H(np.linalg.inv(a)), rtol=1e-12)
    np.testing.assert_allclose(db, np.linalg.solve(_H(a), dx), rtol=1e-12)
    np.testing.assert_allclose(da_solve, -np.outer(db, np.conj(x)), rtol=1e-12)


def test_forward_rules_of_one_matrix_factorize_it_once(getrf_calls):
    rng = _rng("lu shared forward")
    a, b, da = _well_conditioned(rng, 4), _rand(rng, 4), _rand(rng, 4, 4)
    _, dy = frule((NoTangent(), da), np.linalg.slogdet, a)
    _, ddet = frule((NoTangent(), da), np.linalg.det, a)
    _, dx = frule((NoTangent(), da, ZeroTangent()), np.linalg.solve, a, b)
    _, dinv = frule((NoTangent(), da), np.linalg.inv, a)
    assert len(getrf_calls) == 1
    inverse = np.linalg.inv(a)
    np.testing.assert_allclose(dy.logabsdet, np.trace(inverse @ da), rtol=1e-12)
    np.testing.assert_allclose(ddet, np.linalg.det(a) * np.trace(inverse @ da), rtol=1e-12)
    np.testing.assert_allclose(dx, -inverse @ da @ inverse @ b, rtol=1e-12)
    np.testing.assert_allclose(dinv, -inverse @ da @ inverse, rtol=1e-12)


def test_a_matrix_written_between_two_rules_is_factorized_again(getrf_calls):
    rng = _rng("lu written")
    a, b = _well_conditioned(rng, 4), _rand(rng, 4)
    before = a.copy()
    _, slogdet_back = rrule(np.linalg.slogdet, a)
    a[1, 2] += 0.5
    x, _ = rrule(np.linalg.solve, a, b)
    assert len(getrf_calls) == 2
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-12)
    # The pullback belongs to the matrix its forward pass saw.
    _, da = slogdet_back(Tangent(tuple, ZeroTangent(), 1.0))
    np.testing.assert_allclose(da, np.linalg.inv(before).T, rtol=1e-12)


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (np.linalg.slogdet, (np.eye(3, dtype=F32) * 2,)),
        (np.linalg.inv, (_well_conditioned(_rng("lu stack"), 3, (2,)),)),
        (np.linalg.det, (np.eye(3, dtype=C64) * 2,)),
        (np.linalg.solve, (np.eye(3) * 2, np.ones((2, 3, 1)))),
        (np.linalg.solve, (np.eye(3) * 2, np.arange(3))),
        (np.linalg.solve, (np.eye(3, dtype=F32) * 2, np.ones(3))),
    ],
    ids=["float32", "stack", "complex64", "stacked right-hand side", "integer b", "float32 a"],
)
def test_other_inputs_keep_numpys_own_routines(f, args, getrf_calls):
    np.testing.assert_array_equal(rrule(f, *args)[0], f(*args))
    np.testing.assert_array_equal(
        frule((NoTangent(), *map(np.ones_like, args)), f, *args)[0], f(*args)
    )
    assert getrf_calls == []


# ----------------------------------------------------------------------------------------------------
# Decompositions
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", SQUARE_DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (4, 2), (4, 3), (2, 4), (2, 2, 3)])
def test_qr(shape, dtype):
    *batch, m, n = shape
    a = _well_conditioned(_rng("qr", shape, dtype.__name__), n, tuple(batch), dtype, m=m)
    _check(np.linalg.qr, a)
    _check(np.linalg.qr, a, fkwargs={"mode": "r"})


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (2, 2, 3)])
def test_qr_complete_mode_of_a_square_or_wide_matrix_is_the_reduced_one(shape):
    *batch, m, n = shape
    a = _well_conditioned(_rng("qr complete", shape), n, tuple(batch), F64, m=m)
    _check(np.linalg.qr, a, fkwargs={"mode": "complete"})
    _check(np.linalg.qr, a, nondiff("complete"))


def test_qr_raw_mode_is_refused():
    with pytest.raises(NotImplementedError, match="mode='reduced'"):
        rrule(np.linalg.qr, np.ones((3, 2)), mode="raw")


@pytest.mark.parametrize("dtype", SQUARE_DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (4, 2), (2, 4)])
def test_singular_values(shape, dtype):
    *batch, m, n = shape
    a = _well_conditioned(_rng("svdvals", shape, dtype.__name__), n, tuple(batch), dtype, m=m)
    _check(np.linalg.svd, a, fkwargs={"compute_uv": False})
    _check(np.linalg.svdvals, a)


@pytest.mark.parametrize("dtype", [F64, C128])
def test_singular_values_of_a_rectangular_matrix_with_full_matrices(dtype):
    a = _well_conditioned(_rng("svdvals full", dtype.__name__), 2, (), dtype, m=3)
    _check(np.linalg.svd, a, nondiff(True), nondiff(False))


@pytest.mark.parametrize("n", [2, 3, 4])
def test_eig_of_a_real_spectrum_directly(n):
    # Real eigenvectors of unit norm are unique up to sign, so numpy's output is differentiable as
    # it is, and this checks the rule's normalisation term.
    a = _real_spectrum(_rng("eig", n), n)
    _check(np.linalg.eig, a)
    _check(np.linalg.eigvals, a)


@pytest.mark.parametrize("dtype", [F64, C128])
def test_eigvals(dtype):
    # Eigenvalues are gauge-invariant; a real matrix with complex eigenvalues has complex output.
    _check(np.linalg.eigvals, _rand(_rng("eigvals", dtype.__name__), 3, 3, dtype=dtype))


# Gauge-invariant composites --------------------------------------------------------------------------


def _weights(n):
    return np.arange(1.0, n + 1)


def _scaled(x, c):
    """``x @ diag(c)``."""
    return x * c


def _zero_or(t, fn):
    return ZeroTangent() if isinstance(t, ZeroTangent) else fn(t)


class _Projector:
    """``V diag(c) Vᴴ`` of an orthonormal ``V``: invariant under a phase per column of ``V``."""

    @staticmethod
    def forward(v):
        return _scaled(v, _weights(v.shape[-1])) @ _H(v)

    @staticmethod
    def tangent(v, dv):
        c = _weights(v.shape[-1])
        return _scaled(dv, c) @ _H(v) + _scaled(v, c) @ _H(dv)

    @staticmethod
    def cotangent(v, dp):
        return _scaled((dp + _H(dp)) @ v, _weights(v.shape[-1]))


class _Similarity:
    """``V diag(c) V⁻¹``: invariant under any nonzero scale per column of ``V``."""

    @staticmethod
    def forward(v):
        return _scaled(v, _weights(v.shape[-1])) @ np.linalg.inv(v)

    @staticmethod
    def tangent(v, dv):
        w, c = np.linalg.inv(v), _weights(v.shape[-1])
        return _scaled(dv, c) @ w - _Similarity.forward(v) @ dv @ w

    @staticmethod
    def cotangent(v, dp):
        w, c = np.linalg.inv(v), _weights(v.shape[-1])
        return _scaled(dp @ _H(w), c) - _H(_Similarity.forward(v)) @ dp @ _H(w)


class _Coupling:
    """``U diag(c) Vh``: invariant under the joint phase of each singular pair ``(u_i, v_i)``."""

    @staticmethod
    def forward(u, vh):
        return _scaled(u, _weights(u.shape[-1])) @ vh

    @staticmethod
    def tangent(u, vh, du, dvh):
        c = _weights(u.shape[-1])
        return _scaled(du, c) @ vh + _scaled(u, c) @ dvh

    @staticmethod
    def cotangent(u, vh, dq):
        c = _weights(u.shape[-1])
        return _scaled(dq @ _H(vh), c), c[:, None] * (_H(u) @ dq)


class _EighInvariant:
    forward = staticmethod(lambda out: (out[0], _Projector.forward(out[1])))
    cotangent = staticmethod(
        lambda out, dy: (dy[0], _zero_or(dy[1], lambda dp: _Projector.cotangent(out[1], dp)))
    )
    tangent = staticmethod(lambda out, d: Tangent(tuple, d[0], _Projector.tangent(out[1], d[1])))


class _EigInvariant:
    forward = staticmethod(lambda out: (out[0], _Similarity.forward(out[1])))
    cotangent = staticmethod(lambda out, dy: (dy[0], _Similarity.cotangent(out[1], dy[1])))
    tangent = staticmethod(lambda out, d: Tangent(tuple, d[0], _Similarity.tangent(out[1], d[1])))


class _SvdInvariant:
    @staticmethod
    def forward(out):
        u, s, vh = out
        return s, _Projector.forward(u), _Projector.forward(_H(vh)), _Coupling.forward(u, vh)

    @staticmethod
    def cotangent(out, dy):
        u, _, vh = out
        ds, dpu, dpv, dq = dy
        du, dvh = _Coupling.cotangent(u, vh, dq)
        return du + _Projector.cotangent(u, dpu), ds, dvh + _H(_Projector.cotangent(_H(vh), dpv))

    @staticmethod
    def tangent(out, d):
        u, _, vh = out
        du, ds, dvh = d
        return Tangent(
            tuple,
            ds,
            _Projector.tangent(u, du),
            _Projector.tangent(_H(vh), _H(dvh)),
            _Coupling.tangent(u, vh, du, dvh),
        )


class _Span:
    """``Q Qᴴ`` of orthonormal columns ``Q``: invariant under ``Q W`` for any unitary ``W``."""

    forward = staticmethod(lambda q: q @ _H(q))
    tangent = staticmethod(lambda q, dq: dq @ _H(q) + q @ _H(dq))
    cotangent = staticmethod(lambda q, dp: (dp + _H(dp)) @ q)


def _split_columns(x, k):
    return x[..., :k], x[..., k:]


class _FullSvdInvariant:
    """:class:`_SvdInvariant` of the thin factors, and the spans of the extra columns of ``U`` and
    ``V``, which are all a full SVD's extra columns have that the matrix determines."""

    @staticmethod
    def forward(out):
        u, s, vh = out
        (u1, u2), (v1, v2) = _split_columns(u, s.shape[-1]), _split_columns(_H(vh), s.shape[-1])
        return (*_SvdInvariant.forward((u1, s, _H(v1))), _Span.forward(u2), _Span.forward(v2))

    @staticmethod
    def cotangent(out, dy):
        u, s, vh = out
        (u1, u2), (v1, v2) = _split_columns(u, s.shape[-1]), _split_columns(_H(vh), s.shape[-1])
        du1, ds, dvh1 = _SvdInvariant.cotangent((u1, s, _H(v1)), dy[:4])
        du = np.concatenate([du1, _Span.cotangent(u2, dy[4])], axis=-1)
        dvh = np.concatenate([dvh1, _H(_Span.cotangent(v2, dy[5]))], axis=-2)
        return du, ds, dvh

    @staticmethod
    def tangent(out, d):
        u, s, vh = out
        du, ds, dvh = d
        k = s.shape[-1]
        (u1, u2), (v1, v2) = _split_columns(u, k), _split_columns(_H(vh), k)
        (du1, du2), (dv1, dv2) = _split_columns(du, k), _split_columns(_H(dvh), k)
        return Tangent(
            tuple,
            *_SvdInvariant.tangent((u1, s, _H(v1)), (du1, ds, _H(dv1))),
            _Span.tangent(u2, du2),
            _Span.tangent(v2, dv2),
        )


class _CompleteQrInvariant:
    """``(Q₁, Q₂ Q₂ᴴ, R)`` of a complete QR: ``Q₁`` and ``R`` are unique, ``Q₂`` only up to ``Q₂ W``."""

    @staticmethod
    def forward(out):
        q, r = out
        q1, q2 = _split_columns(q, r.shape[-1])
        return q1, _Span.forward(q2), r

    @staticmethod
    def cotangent(out, dy):
        q, r = out
        q2 = _split_columns(q, r.shape[-1])[1]
        return np.concatenate([dy[0], _Span.cotangent(q2, dy[1])], axis=-1), dy[2]

    @staticmethod
    def tangent(out, d):
        q, r = out
        dq1, dq2 = _split_columns(d[0], r.shape[-1])
        return Tangent(tuple, dq1, _Span.tangent(_split_columns(q, r.shape[-1])[1], dq2), d[1])


def _gauge_invariant(decomposition, invariant, **kwargs):
    """``A ↦ invariant(decomposition(A))``, with rules registered for this test from the library's
    rule of ``decomposition``; see the module docstring."""

    def composite(a):
        return invariant.forward(decomposition(a, **kwargs))

    composite.__qualname__ = f"{decomposition.__name__}-composite"

    @rrule.register(composite)
    def _(a):
        out, back = rrule(decomposition, a, **kwargs)

        def composite_pullback(dy):
            return NoTangent(), back(invariant.cotangent(out, dy))[1]

        return composite(a), composite_pullback

    @frule.register(composite)
    def _(tangents, a):
        out, dout = frule((NoTangent(), tangents[1]), decomposition, a, **kwargs)
        return composite(a), _zero_or(dout, lambda d: invariant.tangent(out, d))

    return composite


EIGH = {uplo: _gauge_invariant(np.linalg.eigh, _EighInvariant, UPLO=uplo) for uplo in "LU"}
SVD_HERMITIAN = _gauge_invariant(np.linalg.svd, _SvdInvariant, hermitian=True)
EIG = _gauge_invariant(np.linalg.eig, _EigInvariant)
SVD = _gauge_invariant(np.linalg.svd, _SvdInvariant, full_matrices=False)
SVD_FULL = _gauge_invariant(np.linalg.svd, _FullSvdInvariant)
QR_COMPLETE = _gauge_invariant(np.linalg.qr, _CompleteQrInvariant, mode="complete")


@pytest.mark.parametrize("dtype", SQUARE_DTYPES)
@pytest.mark.parametrize(("batch", "n"), SIZES)
@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("noise", [False, True], ids=["hermitian", "noise-where-unread"])
def test_eigh(noise, uplo, batch, n, dtype):
    rng = _rng("eigh", n, dtype.__name__)
    a = _hermitian(rng, n, batch, dtype)
    a = _noise_where_unread(rng, a, lower=uplo == "L") if noise else a
    _check(EIGH[uplo], a)
    _check(np.linalg.eigvalsh, a, fkwargs={"UPLO": uplo})
    test_rrule(
        EIGH[uplo],
        a,
        output_tangent=Tangent(tuple, np.ones(np.shape(a)[:-1], np.real(a).dtype), ZeroTangent()),
    )


def test_eigh_with_a_positional_uplo():
    rng = _rng("eigh positional")
    a = _noise_where_unread(rng, _hermitian(rng, 3, (), C128), lower=False)
    _check(np.linalg.eigvalsh, a, nondiff("U"))
    _check(np.linalg.eigvalsh, a, nondiff("u"))


def test_eigh_pullback_leaves_the_unread_triangle_alone():
    rng = _rng("eigh unread")
    a = _noise_where_unread(rng, _hermitian(rng, 3, (), F64), lower=False)
    _, back = rrule(np.linalg.eigh, a, UPLO="U")
    _, da = back((np.arange(3.0), _rand(rng, 3, 3)))
    np.testing.assert_array_equal(np.tril(da, -1), 0)


@pytest.mark.parametrize("dtype", SQUARE_DTYPES)
@pytest.mark.parametrize(("batch", "n"), SIZES)
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("noise", [False, True], ids=["hermitian", "noise-where-unread"])
def test_cholesky(noise, upper, batch, n, dtype):
    # The factor with a positive real diagonal is unique: numpy's own function is tested directly.
    rng = _rng("cholesky", n, dtype.__name__)
    a = _positive_definite(rng, n, batch, dtype)
    a = _noise_where_unread(rng, a, lower=not upper) if noise else a
    _check(np.linalg.cholesky, a, fkwargs={"upper": upper})


@pytest.mark.parametrize("dtype", [F64, F32, C128])
@pytest.mark.parametrize(("batch", "n"), SIZES)
def test_eig(batch, n, dtype):
    _check(EIG, _rand(_rng("eig", n, dtype.__name__), *batch, n, n, dtype=dtype) + 2 * np.eye(n))


@pytest.mark.parametrize("dtype", SQUARE_DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (4, 2), (2, 4), (2, 3, 2)])
def test_svd(shape, dtype):
    *batch, m, n = shape
    _check(SVD, _well_conditioned(_rng("svd", shape, dtype.__name__), n, tuple(batch), dtype, m=m))


@pytest.mark.parametrize("dtype", SQUARE_DTYPES)
@pytest.mark.parametrize("shape", [(3, 2), (2, 3, 2), (2, 4), (1, 3)])
def test_svd_full_matrices_through_the_span_of_the_extra_columns(shape, dtype):
    *batch, m, n = shape
    a = _well_conditioned(_rng("svd full", shape, dtype.__name__), n, tuple(batch), dtype, m=m)
    _check(SVD_FULL, a)


@pytest.mark.parametrize("dtype", SQUARE_DTYPES)
@pytest.mark.parametrize("shape", [(3, 2), (2, 4, 3), (4, 1)])
def test_qr_complete_mode_of_a_tall_matrix_through_the_span_of_the_extra_columns(shape, dtype):
    *batch, m, n = shape
    a = _well_conditioned(_rng("qr complete", shape, dtype.__name__), n, tuple(batch), dtype, m=m)
    _check(QR_COMPLETE, a)


@pytest.mark.parametrize("dtype", [F64, F32, C128])
@pytest.mark.parametrize("noise", [False, True], ids=["hermitian", "noise-where-unread"])
def test_hermitian_svd_and_pinv_read_the_lower_triangle(noise, dtype):
    rng = _rng("svd hermitian", dtype.__name__)
    a = _hermitian(rng, 3, (), dtype, positive=True)
    a = _noise_where_unread(rng, a) if noise else a
    _check(np.linalg.svd, a, fkwargs={"compute_uv": False, "hermitian": True})
    _check(SVD_HERMITIAN, a)
    _check(np.linalg.pinv, a, fkwargs={"hermitian": True})
    _check(np.linalg.pinv, a, nondiff(None), nondiff(True))


def test_eigh_with_an_exactly_repeated_eigenvalue_stays_finite():
    a = np.diag([1.0, 1.0, 3.0])
    _, back = rrule(np.linalg.eigh, a)
    _, da = back((np.ones(3), np.ones((3, 3))))
    assert np.all(np.isfinite(da))


# ----------------------------------------------------------------------------------------------------
# Norms
# ----------------------------------------------------------------------------------------------------

VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -1]
MATRIX_ORDS = ["fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf, None]


@pytest.mark.parametrize("dtype", [F64, F32, C128])
@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_vector_norms(ord, dtype):
    rng = _rng("vector norm", ord, dtype.__name__)
    _check(np.linalg.norm, _rand(rng, 4, dtype=dtype), nondiff(ord))
    _check(np.linalg.norm, _rand(rng, 3, 4, dtype=dtype), fkwargs={"ord": ord, "axis": 1})
    _check(
        np.linalg.norm,
        _rand(rng, 3, 2, dtype=dtype),
        fkwargs={"ord": ord, "axis": 0, "keepdims": True},
    )
    _check(
        np.linalg.vector_norm,
        _rand(rng, 2, 3, 2, dtype=dtype),
        fkwargs={"ord": 2 if ord is None else ord, "axis": (0, 2)},
    )


@pytest.mark.parametrize("dtype", [F64, F32, C128])
@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norms(ord, dtype):
    rng = _rng("matrix norm", ord, dtype.__name__)
    _check(np.linalg.norm, _rand(rng, 3, 4, dtype=dtype), nondiff(ord))
    _check(
        np.linalg.norm,
        _rand(rng, 3, 2, 4, dtype=dtype),
        fkwargs={"ord": ord, "axis": (2, 0), "keepdims": True},
    )
    _check(np.linalg.matrix_norm, _rand(rng, 2, 3, 2, dtype=dtype), fkwargs={"ord": ord or "fro"})


def test_norm_of_everything_with_no_ord():
    rng = _rng("flat norm")
    _check(np.linalg.norm, _rand(rng, 2, 3, 2))
    _check(np.linalg.vector_norm, _rand(rng, 2, 3, dtype=C128), fkwargs={"keepdims": True})


def test_norm_ties_share_the_cotangent():
    _, back = rrule(np.linalg.norm, np.array([3.0, -3.0, 1.0]), np.inf)
    np.testing.assert_allclose(back(1.0)[1], [0.5, -0.5, 0.0])
