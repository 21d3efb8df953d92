"""Finite-difference checks of the scipy.linalg rules, on well-conditioned random matrices."""

import inspect

import numpy as np
import pytest
import scipy.linalg as sla

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import NoTangent, Tangent, ZeroTangent, frule, rrule
from chainrules_core.testing import jacobian_transpose_vector, nondiff, test_frule, test_rrule
from chainrules_core.testing.flatten import layout_of

DTYPES = [np.float64, np.float32, np.complex128]


def random(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def general(n, dtype, seed=0):
    """A well-conditioned square matrix: n I plus a random perturbation."""
    return (n * np.eye(n) + 0.5 * random((n, n), dtype, seed)).astype(dtype)


def positive_definite(n, dtype, seed=0):
    b = random((n, n), dtype, seed)
    return (b @ b.conj().T + n * np.eye(n)).astype(dtype)


def noise_where_unread(a, lower, seed=9):
    """``a`` plus noise where a routine reading one triangle does not look: the other strict triangle
    and, for complex ``a``, the imaginary part of the diagonal. The result is not Hermitian."""
    noise = random(np.shape(a), a.dtype, seed)
    unread = np.triu(noise, 1) if lower else np.tril(noise, -1)
    if np.iscomplexobj(a):
        unread = unread + 1j * np.real(noise) * np.eye(np.shape(a)[-1], dtype=bool)
    return (a + unread).astype(a.dtype)


def hermitian(n, dtype, seed=0, batch=()):
    """A Hermitian matrix with eigenvalues in [i, i + 1/2), i = 0, ..., n - 1: well separated."""
    rng = np.random.default_rng(seed)
    w = np.arange(n) + 0.5 * rng.uniform(size=(*batch, n))
    q, _ = np.linalg.qr(random((*batch, n, n), np.result_type(dtype, np.float64), seed))
    a = (q * w[..., None, :]) @ np.conj(np.swapaxes(q, -1, -2))
    return ((a + np.conj(np.swapaxes(a, -1, -2))) / 2).astype(dtype)


def dtype_id(dtype):
    return np.dtype(dtype).name


def check_both(f, *args, **kwargs):
    test_rrule(f, *args, **kwargs)
    test_frule(f, *args, **kwargs)


# --- solve_triangular ---------------------------------------------------------------------------

TRIANGULAR_CASES = [
    # (n, right-hand side columns (None: a vector), dtype, keyword options)
    (3, None, np.float64, {}),
    (3, 2, np.float64, {"lower": True}),
    (4, None, np.float32, {"lower": True, "trans": 1}),
    (2, 3, np.float64, {"trans": "T", "unit_diagonal": True}),
    (3, None, np.complex128, {"trans": 2}),
    (3, 2, np.complex128, {"lower": True, "trans": "T"}),
    (3, None, np.complex128, {"trans": "C", "unit_diagonal": True, "lower": True}),
    (4, 2, np.complex128, {"trans": "N", "unit_diagonal": True}),
    (3, None, np.float32, {"trans": "C", "lower": True}),
]


@pytest.mark.parametrize(("n", "k", "dtype", "options"), TRIANGULAR_CASES)
def test_solve_triangular(n, k, dtype, options):
    b = random((n,) if k is None else (n, k), dtype, 1)
    check_both(sla.solve_triangular, general(n, dtype), b, fkwargs=options)


def test_solve_triangular_positional_options():
    a, b = general(3, np.float64), random((3,), np.float64, 1)
    check_both(sla.solve_triangular, a, b, nondiff(1), nondiff(True), nondiff(False))


# --- Cholesky -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("f", [sla.cholesky, sla.cho_factor])
def test_cholesky_reads_one_triangle(f, lower, dtype):
    check_both(f, noise_where_unread(positive_definite(3, dtype), lower), fkwargs={"lower": lower})


def test_cholesky_positional_lower():
    check_both(sla.cholesky, positive_definite(4, np.float64), nondiff(True))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("k", [None, 2])
def test_cho_solve(k, lower, dtype):
    c_and_lower = sla.cho_factor(positive_definite(3, dtype), lower=lower)
    b = random((3,) if k is None else (3, k), dtype, 1)
    check_both(sla.cho_solve, c_and_lower, b)


# --- LU -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("n", [2, 4])
def test_lu_factor(n, dtype):
    a = general(n, dtype)[::-1].copy()  # rows reversed: pivoting is exercised
    check_both(sla.lu_factor, a)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("trans", [0, 1, 2])
@pytest.mark.parametrize("k", [None, 2])
def test_lu_solve(k, trans, dtype):
    lu_and_piv = sla.lu_factor(general(3, dtype)[::-1].copy())
    b = random((3,) if k is None else (3, k), dtype, 1)
    check_both(sla.lu_solve, lu_and_piv, b, fkwargs={"trans": trans})


def pullback_through(factor, solve, a, b, options, dx):
    """The cotangents of ``a`` and ``b`` of ``solve(factor(a), b)``, chaining the two rules."""
    y, factor_pullback = rrule(factor, a)
    _, solve_pullback = rrule(solve, y, b, **options)
    _, dy, db = solve_pullback(dx)
    return factor_pullback(dy)[1], db


@pytest.mark.parametrize(
    ("factor", "solve", "matrix", "options"),
    [
        (sla.cho_factor, sla.cho_solve, positive_definite, {}),
        (sla.lu_factor, sla.lu_solve, general, {"trans": 1}),
        (sla.lu_factor, sla.lu_solve, general, {"trans": 2}),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128], ids=dtype_id)
def test_factor_then_solve_composes_to_the_solve_derivative(factor, solve, matrix, options, dtype):
    a, b, dx = matrix(3, dtype), random((3, 2), dtype, 1), random((3, 2), dtype, 2)
    da, db = pullback_through(factor, solve, a, b, options, dx)
    layout = layout_of(a)

    def solve_in_a(v):
        return layout_of(b).values(solve(factor(layout.rebuild(a, v, True)), b, **options))

    expected = jacobian_transpose_vector(solve_in_a, layout.values(a), layout_of(dx).values(dx))
    np.testing.assert_allclose(layout.tangent_values(da, "da"), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, rrule(solve, factor(a), b, **options)[1](dx)[2])


def test_factor_pullbacks_accept_a_zero_factor_cotangent():
    a = positive_definite(3, np.float64)
    for factor in (sla.cho_factor, sla.lu_factor):
        _, pullback = rrule(factor, a)
        assert pullback(Tangent(tuple, ZeroTangent(), NoTangent()))[1] == ZeroTangent()


# --- solve, inv, det ----------------------------------------------------------------------------

STRUCTURE_CASES = [
    # (assume_a, lower, dtype)
    (None, False, np.float64),
    (None, False, np.complex128),
    ("gen", False, np.float32),
    ("banded", False, np.float64),
    ("sym", False, np.float64),
    ("sym", True, np.complex128),
    ("her", False, np.complex128),
    ("her", True, np.float32),
    ("pos", True, np.complex128),
    ("pos", False, np.float64),
    ("lower triangular", False, np.complex128),
    ("upper triangular", False, np.float64),
    ("diagonal", False, np.complex128),
    ("tridiagonal", False, np.float64),
]


def structured(assume_a, lower, dtype):
    """A test matrix for ``assume_a``; not symmetric, so the triangle a solver ignores is tested."""
    if assume_a == "pos":
        return noise_where_unread(positive_definite(4, dtype), lower)
    return general(4, dtype)


@pytest.mark.parametrize(("assume_a", "lower", "dtype"), STRUCTURE_CASES)
def test_solve(assume_a, lower, dtype):
    a = structured(assume_a, lower, dtype)
    options = {"assume_a": assume_a, "lower": lower}
    check_both(sla.solve, a, random((4,), dtype, 1), fkwargs=options)
    check_both(sla.solve, a, random((4, 2), dtype, 2), fkwargs=options)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=dtype_id)
def test_solve_transposed(dtype):
    a, b = general(3, dtype), random((3, 2), dtype, 1)
    check_both(sla.solve, a, b, fkwargs={"transposed": True})
    check_both(
        sla.solve,
        a,
        b,
        nondiff(False),
        nondiff(False),
        nondiff(False),
        nondiff(True),
        nondiff("gen"),
        nondiff(True),
    )


# scipy.linalg.inv takes ``assume_a`` and ``lower`` from scipy 1.17 on
INV_HAS_STRUCTURE = "assume_a" in inspect.signature(sla.inv).parameters


@pytest.mark.parametrize(
    ("assume_a", "lower", "dtype"),
    [c for c in STRUCTURE_CASES if c[0] not in ("banded", "tridiagonal", "diagonal")]
    if INV_HAS_STRUCTURE
    else [(None, False, dtype) for dtype in DTYPES],
)
def test_inv(assume_a, lower, dtype):
    options = {"assume_a": assume_a, "lower": lower} if INV_HAS_STRUCTURE else {}
    check_both(sla.inv, structured(assume_a, lower, dtype), fkwargs=options)


def test_inv_refuses_assume_a_diagonal_whose_scipy_result_is_not_the_inverse():
    a = general(3, np.float64)
    # before scipy 1.17 the option does not exist, and the rules reject it as scipy does
    error = NotImplementedError if INV_HAS_STRUCTURE else TypeError
    with pytest.raises(error, match="diagonal" if INV_HAS_STRUCTURE else "assume_a"):
        rrule(sla.inv, a, assume_a="diagonal")
    with pytest.raises(error, match="diagonal" if INV_HAS_STRUCTURE else "assume_a"):
        frule((NoTangent(), a), sla.inv, a, assume_a="diagonal")


@pytest.mark.parametrize("dtype", [*DTYPES, np.complex64], ids=dtype_id)
@pytest.mark.parametrize("n", [2, 4])
def test_det(n, dtype):
    check_both(sla.det, general(n, dtype))


def test_inv_and_det_positional_options():
    check_both(sla.inv, general(3, np.float64), nondiff(False))
    check_both(sla.det, general(3, np.float64), nondiff(False), nondiff(True))


# --- eigh, eigvalsh -----------------------------------------------------------------------------


def eigenvector_invariant(**options):
    """``(w, V diag(c) Vᴴ)`` of ``sla.eigh(a[, b], **options)``, which no choice of the phase of an
    eigenvector changes, with rules built on the library's rules of ``sla.eigh``."""

    def weights(v):
        return np.arange(1.0, v.shape[-1] + 1)

    def composite(*args):
        w, v = sla.eigh(*args, **options)
        return w, (v * weights(v)) @ np.conj(np.swapaxes(v, -1, -2))

    @rrule.register(composite)
    def _(*args):
        (_, v), back = rrule(sla.eigh, *args, **options)

        def composite_pullback(dy):
            dw, dp = dy
            return back((dw, ((dp + np.conj(np.swapaxes(dp, -1, -2))) @ v) * weights(v)))

        return composite(*args), composite_pullback

    @frule.register(composite)
    def _(tangents, *args):
        (_, v), d = frule((NoTangent(), *tangents[1:]), sla.eigh, *args, **options)
        if isinstance(d, ZeroTangent):
            return composite(*args), d
        dw, dv = d
        dp = (dv * weights(v)) @ np.conj(np.swapaxes(v, -1, -2))
        return composite(*args), Tangent(tuple, dw, dp + np.conj(np.swapaxes(dp, -1, -2)))

    return composite


EIGH_OPTIONS = [
    {},
    {"lower": False},
    {"subset_by_index": [1, 2]},
    {"subset_by_value": (0.75, 2.75), "lower": False},
    {"driver": "evr"},
]
EIGH = [eigenvector_invariant(**options) for options in EIGH_OPTIONS]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("case", range(len(EIGH_OPTIONS)), ids=lambda i: str(EIGH_OPTIONS[i]))
@pytest.mark.parametrize("batch", [(), (2,)], ids=["matrix", "batch"])
def test_eigh_reads_one_triangle(batch, case, dtype):
    options = EIGH_OPTIONS[case]
    a = noise_where_unread(hermitian(4, dtype, batch=batch), options.get("lower", True))
    check_both(EIGH[case], a)
    check_both(sla.eigvalsh, a, fkwargs=options)
    check_both(sla.eigh, a, fkwargs={**options, "eigvals_only": True})


GENERALIZED_EIGH = {lower: eigenvector_invariant(lower=lower) for lower in (True, False)}


@pytest.mark.parametrize("dtype", [np.float64, np.complex128], ids=dtype_id)
@pytest.mark.parametrize("lower", [True, False])
def test_generalized_eigh_reads_one_triangle_of_both(lower, dtype):
    a = noise_where_unread(hermitian(3, dtype, seed=1), lower, seed=2)
    b = np.eye(3) + 0.2 * positive_definite(3, dtype, seed=3) / 3
    b = noise_where_unread(b.astype(dtype), lower, seed=4)
    check_both(GENERALIZED_EIGH[lower], a, b)
    check_both(sla.eigvalsh, a, b, fkwargs={"lower": lower})


def test_eigh_with_b_none_passed_positionally():
    a = hermitian(3, np.float64)
    _, pullback = rrule(sla.eigvalsh, a, None)
    assert len(pullback(np.ones(3))) == 3
    check_both(sla.eigvalsh, a, nondiff(None))


def test_eigh_refuses_what_it_cannot_differentiate():
    a, b = hermitian(3, np.float64), positive_definite(3, np.float64)
    with pytest.raises(TypeError, match="positional"):
        rrule(sla.eigh, a, b=b)
    with pytest.raises(NotImplementedError, match="type=2"):
        rrule(sla.eigh, a, b, type=2)


# --- batched input (scipy >= 1.17 stacks matrices in these functions) ---------------------------

BATCHED = [
    (
        "solve",
        sla.solve,
        lambda: (
            general(3, np.float64) + random((2, 3, 3), np.float64, 1) / 4,
            random((2, 3, 2), np.float64, 2),
        ),
        {},
    ),
    (
        "solve-vector-b",
        sla.solve,
        lambda: (
            general(3, np.complex128) + random((2, 3, 3), np.complex128, 1) / 4,
            random((3,), np.complex128, 2),
        ),
        {},
    ),
    (
        "solve-broadcast-a",
        sla.solve,
        lambda: (general(3, np.float64)[None], random((2, 3, 2), np.float64, 2)),
        {"assume_a": "pos"},
    ),
    (
        "solve-broadcast-b",
        sla.solve,
        lambda: (
            general(3, np.float64) + random((2, 3, 3), np.float64, 1) / 4,
            random((3, 2), np.float64, 2),
        ),
        {"assume_a": "sym", "lower": True},
    ),
    (
        "solve_triangular",
        sla.solve_triangular,
        lambda: (
            general(3, np.float64) + random((2, 3, 3), np.float64, 1) / 4,
            random((3,), np.float64, 2),
        ),
        {"lower": True, "trans": 1},
    ),
    (
        "cholesky",
        sla.cholesky,
        lambda: (
            noise_where_unread(
                np.stack([positive_definite(3, np.complex128, s) for s in (1, 2)]), False
            ),
        ),
        {},
    ),
    ("inv", sla.inv, lambda: (general(3, np.float64) + random((2, 3, 3), np.float64, 1) / 4,), {}),
    (
        "det",
        sla.det,
        lambda: (general(3, np.complex128) + random((2, 3, 3), np.complex128, 1) / 4,),
        {},
    ),
    ("expm", sla.expm, lambda: (random((2, 3, 3), np.float64, 1) / 2,), {}),
    (
        "sqrtm",
        sla.sqrtm,
        lambda: (general(3, np.float64) + random((2, 3, 3), np.float64, 1) / 4,),
        {},
    ),
    (
        "solve_sylvester",
        sla.solve_sylvester,
        lambda: (
            general(3, np.float64) + random((2, 3, 3), np.float64, 1) / 4,
            general(2, np.float64),
            random((2, 3, 2), np.float64, 3),
        ),
        {},
    ),
    (
        "cho_solve",
        sla.cho_solve,
        lambda: (
            (np.stack([sla.cholesky(positive_definite(3, np.float64, s)) for s in (1, 2)]), False),
            random((3,), np.float64, 3),
        ),
        {},
    ),
]


@pytest.mark.parametrize(
    ("name", "f", "arguments", "options"), BATCHED, ids=[c[0] for c in BATCHED]
)
def test_batched(name, f, arguments, options):
    check_both(f, *arguments(), fkwargs=options)


# --- matrix functions and the Sylvester equation ------------------------------------------------


@pytest.mark.parametrize("dtype", [*DTYPES, np.complex64], ids=dtype_id)
@pytest.mark.parametrize("n", [2, 3])
def test_expm(n, dtype):
    check_both(sla.expm, random((n, n), dtype, 3))


@pytest.mark.parametrize("compute_expm", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_expm_frechet(dtype, compute_expm):
    # (expm's rules differentiated again call it: a Hessian through expm)
    a, e = random((3, 3), dtype, 5) / 2, random((3, 3), dtype, 6)
    check_both(sla.expm_frechet, a, e, fkwargs={"compute_expm": compute_expm})


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("n", [2, 3])
def test_sqrtm(n, dtype):
    check_both(sla.sqrtm, general(n, dtype, seed=4))


def test_sqrtm_of_a_real_matrix_with_a_complex_root():
    a = np.array([[-2.0, 0.3], [0.1, 1.5]])  # a negative eigenvalue: the principal root is complex
    assert np.iscomplexobj(sla.sqrtm(a))
    check_both(sla.sqrtm, a)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize(("m", "n"), [(2, 2), (3, 2)])
def test_solve_sylvester(m, n, dtype):
    a, b = general(m, dtype, 5), general(n, dtype, 6)
    check_both(sla.solve_sylvester, a, b, random((m, n), dtype, 7))


def test_frules_of_solves_with_a_zero_matrix_tangent():
    a, b = general(3, np.float64), random((3,), np.float64, 1)
    db = random((3,), np.float64, 2)
    _, dx = frule((NoTangent(), ZeroTangent(), db), sla.solve, a, b)
    np.testing.assert_allclose(dx, sla.solve(a, db))
    assert (
        frule((NoTangent(), ZeroTangent(), ZeroTangent()), sla.lu_solve, sla.lu_factor(a), b)[1]
        == ZeroTangent()
    )
