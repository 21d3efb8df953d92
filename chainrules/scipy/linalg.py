"""Rules for scipy.linalg: solves, factorisations and matrix functions of square matrices.

Covered: ``solve_triangular``, ``cholesky``, ``cho_factor``/``cho_solve``, ``lu_factor``/
``lu_solve``, ``solve``, ``inv``, ``det``, ``eigh``/``eigvalsh``, ``expm``, ``sqrtm``,
``solve_sylvester`` (right-hand sides may be vectors or matrices), real and complex. Complex
cotangents follow the library convention (``dL/dRe + i dL/dIm``), so pullbacks use conjugate
transposes (written ``^H``).

Stacks ``(..., n, n)``: where scipy batches a function (``solve``, ``solve_triangular``,
``cholesky``, ``cho_solve``, ``inv``, ``det``, ``eigh``, ``eigvalsh``, ``expm``, ``sqrtm``,
``solve_sylvester`` in scipy 1.17) so do the rules, broadcast operands included; a vector
right-hand side of a stack of matrices is one column per matrix. ``cho_factor`` and ``lu_factor``
take one matrix in scipy 1.17, and ``lu_solve``'s pivots are undone for one matrix only.

Each rule is the exact derivative of what scipy computes, including which entries it reads:

* A solver that reads one triangle (``solve_triangular``, ``cholesky``, ``cho_factor``,
  ``solve``/``inv`` with ``assume_a`` in 'sym', 'her', 'pos', 'lower triangular', 'upper
  triangular', 'diagonal', 'tridiagonal') gets cotangents only in the entries it reads; the
  off-diagonal cotangent of a symmetric/Hermitian read counts for both mirrored entries, and the
  imaginary part of a Hermitian diagonal, which LAPACK ignores, gets none. For a matrix built
  symmetric this is the same gradient as the symmetrised one.
* ``cho_factor`` returns ``(c, lower)``: ``c`` holds the factor in one triangle. Outside it,
  scipy before 1.18 leaves a copy of the input's entries (its documentation calls them "random
  data"), so a cotangent there flows straight back to the input; scipy 1.18 writes zeros there,
  which have no derivative. Which of the two the installed scipy does is found out at import.
  ``cho_solve((c, lower), b)`` reads only the factor's triangle of ``c``. The two rules compose
  into the derivative of the solve with ``A``.
* ``lu_factor`` returns ``(lu, piv)``; the pivots are locally constant (no tangent) and ``lu``
  packs the unit lower factor below the diagonal and the upper factor on and above it. The rule
  for ``lu_factor`` is the derivative of the LU factorisation and the rule for ``lu_solve`` the
  derivative with respect to the packed factors, so ``lu_solve(lu_factor(A), b)`` is
  differentiated in ``A`` by composition, and one factorisation can serve several solves.
* ``trans`` (0/'N', 1/'T', 2/'C') solves with ``op(A)``; the adjoint solve for ``T`` is the
  conjugated solve, ``conj(op(A)^{-1} conj(.))``.
* ``eigh``/``eigvalsh`` read the triangle ``lower`` names of ``a`` and of ``b``, as ``cholesky``
  does. With ``b``: ``A V = B V diag(w)``, ``V^H B V = I`` (``type=1``; the other types raise), and
  ``b`` must be positional to get a derivative. Eigenvalues must be distinct; eigenvectors are
  defined up to a phase each, and the cotangent is right for losses blind to it (as for numpy's
  ``eigh``). ``subset_by_index``/``subset_by_value``: a subset's eigenvectors move with every
  other eigenpair, so the rules take the whole decomposition, with scipy's own columns for the
  subset; a bound of ``subset_by_value`` must not sit on an eigenvalue.
* ``expm``: the frule is the Fréchet derivative ``L(A, dA)`` (``expm_frechet``), the pullback
  ``L(A^H, dY)``. ``sqrtm``: ``X dX + dX X = dA`` (``solve_sylvester``), pullback
  ``X^H G + G X^H = dX``.

The ``overwrite_*`` hints are never passed on: a rule must not destroy its inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg as sla

from chainrules.calls import no_tangents, signature_of
from chainrules.numpy.linalg import (
    _H,
    _cotangent_parts,
    _diag,
    _diagonal,
    _hermitian_read,
    _hermitian_read_adjoint,
    _inverse_gaps,
    _lower_half,
)
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    Tangent,
    ZeroTangent,
    add,
    frule,
    non_differentiable,
    rrule,
    unbroadcast,
)

_TRANS = {0: 0, "N": 0, "n": 0, 1: 1, "T": 1, "t": 1, 2: 2, "C": 2, "c": 2}


# ---------------------------------------------------------------------------------------------
# Small matrix helpers


def _columns(x, vector: bool):
    """A right-hand side or solution as a stack of matrices: a vector one is a single column. (A
    batched solve takes ``(..., n)`` as a matrix, so a vector one has to become ``(..., n, 1)``.)"""
    return x[..., None] if vector else x


def _uncolumns(x, vector: bool):
    return x[..., 0] if vector else x


def _solve_cotangents(a, b, x, dx, adjoint_solve: Callable):
    """``(dA, db)`` of ``x = M^{-1} b`` for ``M`` a function of ``a``, before mapping ``dA`` through
    that function: db = M^{-H} dx, dA = -db x^H, each summed down to its operand's shape where a
    batched solve broadcast it. ``adjoint_solve(rhs)`` solves with ``M^H`` for a stack of matrices."""
    vector = np.ndim(b) == 1
    db = adjoint_solve(_columns(dx, vector))
    da = -(db @ _H(_columns(x, vector)))
    return da, unbroadcast(b, _uncolumns(db, vector))


def _solve_tangent(db, dm, x, vector: bool):
    """The right-hand side ``db - dM x`` of the tangent solve, as columns (``dm`` may be ``None``)."""
    rhs = db if _is_zero(db) else _columns(db, vector)
    return rhs if dm is None else add(rhs, -(dm @ _columns(x, vector)))


def _op(m, trans: int):
    """``op(m)`` for LAPACK's ``trans``: ``m``, ``m^T`` or ``m^H``. Being self-adjoint, it also maps
    the cotangent of ``op(m)`` back to ``m``."""
    if trans == 0:
        return m
    return np.swapaxes(m, -1, -2) if trans == 1 else _H(m)


def _adjoint_solve(solve: Callable, trans: int, rhs):
    """``op(M)^{-H} rhs``, given ``solve(rhs, trans)`` = ``op_trans(M)^{-1} rhs``."""
    if trans == 1:
        return np.conj(solve(np.conj(rhs), 0))
    return solve(rhs, 2 if trans == 0 else 0)


class NotAMatrixError(ValueError):
    """A rule of scipy.linalg was called with a scalar, 0-d or 1-d array where it needs a matrix."""


def _require_matrix(fname: str, a, square: bool = False) -> None:
    """Refuse what is not a matrix (or a stack of them): scipy reads a scalar as a 1 x 1 matrix,
    and ``lu_factor`` a vector as a single row or column, but the rules are written for matrices,
    square ones where ``square`` (scipy's ``lu_factor`` also factors rectangular ones)."""
    if np.ndim(a) < 2:
        raise NotAMatrixError(
            f"the rules of {fname} take a matrix (an array with 2 or more dimensions), got "
            f"{'a scalar' if np.ndim(a) == 0 else 'a 1-d array'} of shape {np.shape(a)}; pass "
            "numpy.atleast_2d(a) for a 1 x 1 (or 1 x n) matrix"
        )
    if square and np.shape(a)[-1] != np.shape(a)[-2]:
        raise NotAMatrixError(
            f"the rules of {fname} take a square matrix, got one of shape {np.shape(a)}"
        )


def _is_zero(t) -> bool:
    return isinstance(t, AbstractZero)


@non_differentiable  # (flags: an engine that differentiates a rule's code need not look inside)
def _options(f: Callable, n_args: int, args: tuple, kwargs: dict) -> tuple[dict, dict]:
    """The options of a call ``f(*args, **kwargs)`` after its first ``n_args`` arguments.

    Returns ``(given, settings)``: the options the caller gave, by name (to call ``f`` with,
    minus the ``overwrite_*`` hints), and every option's value, defaults included.
    """
    bound = signature_of(f).bind(*args, **kwargs)
    names = list(bound.signature.parameters)[n_args:]
    given = {
        k: v for k, v in bound.arguments.items() if k in names and not k.startswith("overwrite_")
    }
    bound.apply_defaults()
    return given, {k: bound.arguments[k] for k in names}


# ---------------------------------------------------------------------------------------------
# Which entries of the matrix a solver reads: a linear map R and its adjoint R* (real inner product);
# the Hermitian reads R(A) = T + Tᴴ + Re diag(A) (T the strict triangle read) are shared with numpy's
# eigh and cholesky: R*(G) = tri(G + Gᴴ) + Re diag(G), nothing in the triangle not read.


def _band(a, lowest: int, highest: int):
    return np.triu(np.tril(a, highest), lowest)


def _structure(assume_a: str | None, lower: bool) -> tuple[Callable, Callable]:
    """``(R, R*)`` for ``solve``/``inv``'s ``assume_a``: the matrix the solver actually uses."""
    if assume_a in (None, "gen", "general", "banded"):
        # 'banded' finds the bandwidth from the nonzeros, so every entry counts, as for None.
        return (lambda a: a), (lambda g: g)
    if assume_a in ("sym", "her", "pos"):
        conjugate = assume_a != "sym"
        return (
            lambda a: _hermitian_read(a, lower, conjugate),
            lambda g: _hermitian_read_adjoint(g, lower, conjugate),
        )
    masks = {
        "lower triangular": np.tril,
        "upper triangular": np.triu,
        "diagonal": lambda a: _band(a, 0, 0),
        "tridiagonal": lambda a: _band(a, -1, 1),
    }
    if assume_a not in masks:
        raise NotImplementedError(f"no derivative for scipy.linalg with assume_a={assume_a!r}")
    return masks[assume_a], masks[assume_a]


# ---------------------------------------------------------------------------------------------
# solve_triangular


@rrule.register(sla.solve_triangular)
def _(a, b, *options, **kwargs):
    given, settings = _options(sla.solve_triangular, 2, (a, b, *options), kwargs)
    trans, read = _TRANS[settings["trans"]], _triangle_read(settings)
    x = sla.solve_triangular(a, b, **given)
    project_a, project_b = ProjectTo(a), ProjectTo(b)

    def solve(rhs, t):
        return sla.solve_triangular(a, rhs, **{**given, "trans": t})

    def solve_triangular_pullback(dx):
        da, db = _solve_cotangents(a, b, x, dx, lambda rhs: _adjoint_solve(solve, trans, rhs))
        da = unbroadcast(a, read(_op(da, trans)))
        return NoTangent(), project_a(da), project_b(db), *no_tangents(options)

    return x, solve_triangular_pullback


@frule.register(sla.solve_triangular)
def _(tangents, a, b, *options, **kwargs):
    _, da, db, *_ = tangents
    given, settings = _options(sla.solve_triangular, 2, (a, b, *options), kwargs)
    x = sla.solve_triangular(a, b, **given)
    vector = np.ndim(b) == 1
    dm = None if _is_zero(da) else _op(_triangle_read(settings)(da), _TRANS[settings["trans"]])
    rhs = _solve_tangent(db, dm, x, vector)
    if _is_zero(rhs):
        return x, ZeroTangent()
    return x, ProjectTo(x)(_uncolumns(sla.solve_triangular(a, rhs, **given), vector))


def _triangle_read(settings: dict) -> Callable:
    """The triangle ``solve_triangular`` reads, without the diagonal when it is taken as unit."""
    k = 1 if settings["unit_diagonal"] else 0
    return (lambda a: np.tril(a, -k)) if settings["lower"] else (lambda a: np.triu(a, k))


# ---------------------------------------------------------------------------------------------
# Cholesky: A = L L^H from one triangle of A (cholesky, cho_factor), and solves with it (cho_solve)


def _lower_solve(l, rhs, trans: int = 0):
    return sla.solve_triangular(l, rhs, lower=True, trans=trans)


def _cholesky_pushforward(l, da):
    """``dL`` of the lower factor of ``A`` for a Hermitian ``dA``: ``L Φ(L^{-1} dA L^{-H})``."""
    s = _H(_lower_solve(l, _H(_lower_solve(l, da))))
    return l @ _lower_half(s)


def _cholesky_pullback_math(l, dl):
    """``L^{-H} Φ(L^H dL) L^{-1}``: the cotangent of the Hermitian matrix ``L L^H``."""
    m = _lower_solve(l, _lower_half(_H(l) @ dl), trans=2)
    return _H(_lower_solve(l, _H(m), trans=2))


def _as_lower(factor, lower: bool):
    """The lower factor ``L``, given the factor scipy returns (``L``, or ``U = L^H``)."""
    return np.tril(factor) if lower else _H(np.triu(factor))


def _factor_cotangent_to_input(factor, dfactor, lower: bool):
    """The cotangent of ``A`` for one of its Cholesky factor (in the triangle scipy reads)."""
    l = _as_lower(factor, lower)
    g = _cholesky_pullback_math(l, _as_lower(dfactor, lower))
    return _hermitian_read_adjoint(g, lower, conjugate=True)


def _factor_tangent(factor, da, lower: bool):
    l = _as_lower(factor, lower)
    dl = _cholesky_pushforward(l, _hermitian_read(da, lower, conjugate=True))
    return dl if lower else _H(dl)


@rrule.register(sla.cholesky)
def _(a, *options, **kwargs):
    _require_matrix("scipy.linalg.cholesky", a)
    given, settings = _options(sla.cholesky, 1, (a, *options), kwargs)
    factor, lower = sla.cholesky(a, **given), settings["lower"]
    project_a = ProjectTo(a)

    def cholesky_pullback(dfactor):
        return (
            NoTangent(),
            project_a(_factor_cotangent_to_input(factor, dfactor, lower)),
            *no_tangents(options),
        )

    return factor, cholesky_pullback


@frule.register(sla.cholesky)
def _(tangents, a, *options, **kwargs):
    _require_matrix("scipy.linalg.cholesky", a)
    da = tangents[1]
    given, settings = _options(sla.cholesky, 1, (a, *options), kwargs)
    factor = sla.cholesky(a, **given)
    if _is_zero(da):
        return factor, ZeroTangent()
    return factor, ProjectTo(factor)(_factor_tangent(factor, da, settings["lower"]))


def _outside_factor(c, lower: bool):
    """The entries of ``cho_factor``'s ``c`` outside the factor's triangle."""
    return np.triu(c, 1) if lower else np.tril(c, -1)


# Whether cho_factor copies the input's entries outside the factor (scipy < 1.18) or zeroes them.
_CHO_FACTOR_COPIES_INPUT = bool(sla.cho_factor(np.array([[2.0, 0.5], [0.5, 2.0]]))[0][1, 0])


def _copied_outside_factor(da, lower: bool):
    """The (co)tangent of ``c`` outside the factor's triangle that ``a``'s entries there carry."""
    return _outside_factor(da, lower) if _CHO_FACTOR_COPIES_INPUT else 0


def _inside_factor(c, lower: bool):
    return np.tril(c) if lower else np.triu(c)


@rrule.register(sla.cho_factor)
def _(a, *options, **kwargs):
    _require_matrix("scipy.linalg.cho_factor", a)
    given, _ = _options(sla.cho_factor, 1, (a, *options), kwargs)
    c, lower = y = sla.cho_factor(a, **given)
    factor = _inside_factor(c, lower)
    project_a = ProjectTo(a)

    def cho_factor_pullback(dy):
        dc = dy[0]
        if _is_zero(dc):
            return NoTangent(), dc, *no_tangents(options)
        da = _factor_cotangent_to_input(factor, _inside_factor(dc, lower), lower)
        return (
            NoTangent(),
            project_a(da + _copied_outside_factor(dc, lower)),
            *no_tangents(options),
        )

    return y, cho_factor_pullback


@frule.register(sla.cho_factor)
def _(tangents, a, *options, **kwargs):
    _require_matrix("scipy.linalg.cho_factor", a)
    da = tangents[1]
    given, _ = _options(sla.cho_factor, 1, (a, *options), kwargs)
    c, lower = y = sla.cho_factor(a, **given)
    if _is_zero(da):
        return y, ZeroTangent()
    dc = _factor_tangent(_inside_factor(c, lower), da, lower) + _copied_outside_factor(da, lower)
    return y, ProjectTo(y)((dc, NoTangent()))


def _cholesky_product_tangent(c, dc, lower: bool):
    """``dA`` of ``A = L L^H`` (or ``U^H U``) for a tangent of the factor's triangle of ``c``."""
    factor, dfactor = _inside_factor(c, lower), _inside_factor(dc, lower)
    product = dfactor @ _H(factor) if lower else _H(dfactor) @ factor
    return product + _H(product)


@rrule.register(sla.cho_solve)
def _(c_and_lower, b, *options, **kwargs):
    given, _ = _options(sla.cho_solve, 2, (c_and_lower, b, *options), kwargs)
    x = sla.cho_solve(c_and_lower, b, **given)
    c, lower = c_and_lower
    project_c_and_lower, project_b = ProjectTo(c_and_lower), ProjectTo(b)

    def cho_solve_pullback(dx):
        # A is Hermitian: A^{-H} = A^{-1}
        da, db = _solve_cotangents(
            c, b, x, dx, lambda rhs: sla.cho_solve(c_and_lower, rhs, **given)
        )
        da_sym = da + _H(da)
        factor = _inside_factor(c, lower)
        dc = _inside_factor(da_sym @ factor if lower else factor @ da_sym, lower)
        return (
            NoTangent(),
            project_c_and_lower((unbroadcast(c, dc), NoTangent())),
            project_b(db),
            *no_tangents(options),
        )

    return x, cho_solve_pullback


@frule.register(sla.cho_solve)
def _(tangents, c_and_lower, b, *options, **kwargs):
    _, dc_and_lower, db, *_ = tangents
    given, _ = _options(sla.cho_solve, 2, (c_and_lower, b, *options), kwargs)
    x = sla.cho_solve(c_and_lower, b, **given)
    vector = np.ndim(b) == 1
    dm = None
    if not _is_zero(dc_and_lower) and not _is_zero(dc_and_lower[0]):
        c, lower = c_and_lower
        dm = _cholesky_product_tangent(c, dc_and_lower[0], lower)
    rhs = _solve_tangent(db, dm, x, vector)
    if _is_zero(rhs):
        return x, ZeroTangent()
    return x, ProjectTo(x)(_uncolumns(sla.cho_solve(c_and_lower, rhs, **given), vector))


# ---------------------------------------------------------------------------------------------
# LU: A = P L U, packed as lu = strict lower part of L + upper part of U (lu_factor, lu_solve)


def _lu_parts(lu):
    n = lu.shape[-1]
    return np.tril(lu, -1) + np.eye(n, dtype=lu.dtype), np.triu(lu)


def _row_order(piv) -> np.ndarray:
    """``order`` with ``P^T M = M[order]``, from LAPACK's sequence of row interchanges ``piv``."""
    order = np.arange(len(piv))
    for i, p in enumerate(piv):
        order[[i, p]] = order[[p, i]]
    return order


def _permute(m, order, inverse: bool = False):
    """``P^T m`` (or ``P m`` with ``inverse``)."""
    return m[np.argsort(order)] if inverse else m[order]


@rrule.register(sla.lu_factor)
def _(a, *options, **kwargs):
    _require_matrix("scipy.linalg.lu_factor", a, square=True)
    given, _ = _options(sla.lu_factor, 1, (a, *options), kwargs)
    lu, piv = y = sla.lu_factor(a, **given)
    l, u = _lu_parts(lu)
    order = _row_order(piv)
    project_a = ProjectTo(a)

    def lu_factor_pullback(dy):
        dlu = dy[0]
        if _is_zero(dlu):
            return NoTangent(), dlu, *no_tangents(options)
        m = np.tril(_H(l) @ dlu, -1) + np.triu(np.triu(dlu) @ _H(u))
        # P L^{-H} M U^{-H}
        right = _H(sla.solve_triangular(u, _H(m)))
        da = _permute(
            sla.solve_triangular(l, right, lower=True, unit_diagonal=True, trans=2),
            order,
            inverse=True,
        )
        return NoTangent(), project_a(da), *no_tangents(options)

    return y, lu_factor_pullback


@frule.register(sla.lu_factor)
def _(tangents, a, *options, **kwargs):
    _require_matrix("scipy.linalg.lu_factor", a, square=True)
    da = tangents[1]
    given, _ = _options(sla.lu_factor, 1, (a, *options), kwargs)
    lu, piv = y = sla.lu_factor(a, **given)
    if _is_zero(da):
        return y, ZeroTangent()
    l, u = _lu_parts(lu)
    # X = L^{-1} P^T dA U^{-1};  dL = L tril(X, -1),  dU = triu(X) U
    left = sla.solve_triangular(l, _permute(da, _row_order(piv)), lower=True, unit_diagonal=True)
    x = _H(sla.solve_triangular(u, _H(left), trans=2))
    dlu = np.tril(l @ np.tril(x, -1), -1) + np.triu(x) @ u
    return y, ProjectTo(y)((dlu, NoTangent()))


def _lu_product_tangent(lu_and_piv, dlu):
    """``dA = P (dL U + L dU)`` of ``A = P L U`` for a tangent ``dlu`` of the packed factors."""
    lu, piv = lu_and_piv
    l, u = _lu_parts(lu)
    return _permute(np.tril(dlu, -1) @ u + l @ np.triu(dlu), _row_order(piv), inverse=True)


@rrule.register(sla.lu_solve)
def _(lu_and_piv, b, *options, **kwargs):
    given, settings = _options(sla.lu_solve, 2, (lu_and_piv, b, *options), kwargs)
    trans = _TRANS[settings["trans"]]
    x = sla.lu_solve(lu_and_piv, b, **given)
    project_lu_and_piv, project_b = ProjectTo(lu_and_piv), ProjectTo(b)

    def solve(rhs, t):
        return sla.lu_solve(lu_and_piv, rhs, **{**given, "trans": t})

    def lu_solve_pullback(dx):
        da, db = _solve_cotangents(
            lu_and_piv[0], b, x, dx, lambda r: _adjoint_solve(solve, trans, r)
        )
        da = _op(da, trans)
        # A = P L U:  dL = tril(P^T dA U^H, -1),  dU = triu(L^H P^T dA)
        l, u = _lu_parts(lu_and_piv[0])
        pda = _permute(da, _row_order(lu_and_piv[1]))
        dlu = np.tril(pda @ _H(u), -1) + np.triu(_H(l) @ pda)
        return (
            NoTangent(),
            project_lu_and_piv((dlu, NoTangent())),
            project_b(db),
            *no_tangents(options),
        )

    return x, lu_solve_pullback


@frule.register(sla.lu_solve)
def _(tangents, lu_and_piv, b, *options, **kwargs):
    _, dlu_and_piv, db, *_ = tangents
    given, settings = _options(sla.lu_solve, 2, (lu_and_piv, b, *options), kwargs)
    x = sla.lu_solve(lu_and_piv, b, **given)
    vector = np.ndim(b) == 1
    dm = None
    if not _is_zero(dlu_and_piv) and not _is_zero(dlu_and_piv[0]):
        dm = _op(_lu_product_tangent(lu_and_piv, dlu_and_piv[0]), _TRANS[settings["trans"]])
    rhs = _solve_tangent(db, dm, x, vector)
    if _is_zero(rhs):
        return x, ZeroTangent()
    return x, ProjectTo(x)(_uncolumns(sla.lu_solve(lu_and_piv, rhs, **given), vector))


# ---------------------------------------------------------------------------------------------
# solve, inv, det


@rrule.register(sla.solve)
def _(a, b, *options, **kwargs):
    _require_matrix("scipy.linalg.solve", a)
    given, settings = _options(sla.solve, 2, (a, b, *options), kwargs)
    x = sla.solve(a, b, **given)
    read, read_adjoint = _structure(settings["assume_a"], settings["lower"])
    trans = 1 if settings["transposed"] else 0
    project_a, project_b = ProjectTo(a), ProjectTo(b)

    def solve_pullback(dx):
        # M = op(R(A)); with assume_a=None, scipy finds the structure of M^H by itself.
        adjoint = _H(_op(read(a), trans))
        da, db = _solve_cotangents(a, b, x, dx, lambda rhs: sla.solve(adjoint, rhs))
        da = unbroadcast(a, read_adjoint(_op(da, trans)))
        return NoTangent(), project_a(da), project_b(db), *no_tangents(options)

    return x, solve_pullback


@frule.register(sla.solve)
def _(tangents, a, b, *options, **kwargs):
    _require_matrix("scipy.linalg.solve", a)
    _, da, db, *_ = tangents
    given, settings = _options(sla.solve, 2, (a, b, *options), kwargs)
    x = sla.solve(a, b, **given)
    vector = np.ndim(b) == 1
    dm = None
    if not _is_zero(da):
        read, _ = _structure(settings["assume_a"], settings["lower"])
        dm = _op(read(da), 1 if settings["transposed"] else 0)
    rhs = _solve_tangent(db, dm, x, vector)
    if _is_zero(rhs):
        return x, ZeroTangent()
    return x, ProjectTo(x)(_uncolumns(sla.solve(a, rhs, **given), vector))


def _inv_structure(settings: dict) -> tuple[Callable, Callable]:
    # ``assume_a`` and ``lower`` arrived in scipy 1.17
    if settings.get("assume_a") == "diagonal":
        # scipy 1.17 and 1.18 return the off-diagonal input entries there, not the inverse's zeros
        raise NotImplementedError(
            "no derivative for scipy.linalg.inv with assume_a='diagonal': scipy returns the "
            "input's off-diagonal entries unchanged; use 1 / np.diagonal(a) instead"
        )
    return _structure(settings.get("assume_a"), settings.get("lower", False))


@rrule.register(sla.inv)
def _(a, *options, **kwargs):
    given, settings = _options(sla.inv, 1, (a, *options), kwargs)
    _, read_adjoint = _inv_structure(settings)
    y = sla.inv(a, **given)
    project_a = ProjectTo(a)

    def inv_pullback(dy):
        return NoTangent(), project_a(read_adjoint(-_H(y) @ dy @ _H(y))), *no_tangents(options)

    return y, inv_pullback


@frule.register(sla.inv)
def _(tangents, a, *options, **kwargs):
    da = tangents[1]
    given, settings = _options(sla.inv, 1, (a, *options), kwargs)
    read, _ = _inv_structure(settings)
    y = sla.inv(a, **given)
    if _is_zero(da):
        return y, ZeroTangent()
    return y, ProjectTo(y)(-y @ read(da) @ y)


@rrule.register(sla.det)
def _(a, *options, **kwargs):
    given, _ = _options(sla.det, 1, (a, *options), kwargs)
    d = sla.det(a, **given)
    project_a = ProjectTo(a)

    def det_pullback(dd):
        # d det = det tr(A^{-1} dA), holomorphic in A: the cotangent is conj(det A^{-T}) dd.
        da = (np.conj(d) * dd)[..., None, None] * _H(sla.inv(a))
        return NoTangent(), project_a(da), *no_tangents(options)

    return d, det_pullback


@frule.register(sla.det)
def _(tangents, a, *options, **kwargs):
    da = tangents[1]
    given, _ = _options(sla.det, 1, (a, *options), kwargs)
    d = sla.det(a, **given)
    if _is_zero(da):
        return d, ZeroTangent()
    dd = d * np.trace(sla.solve(a, da), axis1=-2, axis2=-1)
    return d, ProjectTo(d)(dd)


# ---------------------------------------------------------------------------------------------
# eigh, eigvalsh: A V = B V diag(w) with Vᴴ B V = I (B = I when not given), from one triangle of A
# and of B


def _eigh_tangent(w, v, da, db):
    """``(dw, dV)`` for Hermitian ``dA``, ``dB`` (``db`` ``None`` for B = I): with P = Vᴴ dA V,
    Q = Vᴴ dB V and X = P - Q diag(w), dw = diag(X) and dV = V (F ∘ X - diag(Q)/2), where
    F = 1/(w_j - w_i) off the diagonal; the diagonal term keeps Vᴴ B V = I."""
    x = _H(v) @ da @ v
    if db is None:
        return np.real(_diagonal(x)), v @ (_inverse_gaps(w) * x)
    q = _H(v) @ db @ v
    x = x - q * w[..., None, :]
    c = _inverse_gaps(w) * x - _diag(np.real(_diagonal(q))) / 2
    return np.real(_diagonal(x)), v @ c


def _eigh_cotangents(w, v, dw, dv, generalized: bool):
    """The adjoint of :func:`_eigh_tangent`: with J = Vᴴ dV and M = diag(dw) + F ∘ J, the cotangents
    of the Hermitian A and B are V M Vᴴ and -V (M diag(w) + Re diag(J)/2) Vᴴ (up to their
    anti-Hermitian parts, which the read adjoint drops)."""
    m = _diag(np.real(dw)) if not _is_zero(dw) else np.zeros_like(v, dtype=np.real(w).dtype)
    j = None if _is_zero(dv) else _H(v) @ dv
    if j is not None:
        m = m + _inverse_gaps(w) * j
    ga = v @ m @ _H(v)
    if not generalized:
        return ga, None
    n = m * w[..., None, :]
    if j is not None:
        n = n + _diag(np.real(_diagonal(j))) / 2
    return ga, -(v @ n @ _H(v))


def _eigh_call(f, a, rest, kwargs) -> tuple:
    """``(b, settings)`` of an ``eigh``/``eigvalsh`` call; ``b`` (or ``None``) comes positionally."""
    if "b" in kwargs:
        raise TypeError(
            f"scipy.linalg.{f.__name__}'s rule gives b a derivative only when b is positional: "
            f"call {f.__name__}(a, b, ...) instead of {f.__name__}(a, b=...)"
        )
    b = rest[0] if rest else None
    _, settings = _options(f, 2, (a, b), kwargs)
    if b is not None and settings["type"] != 1:
        raise NotImplementedError(
            f"no derivative for scipy.linalg.{f.__name__} with type={settings['type']}: only the "
            "problem A v = w B v (type=1) has one; for type=2 (A B v = w v) or 3 (B A v = w v) "
            "factor B = L Lᴴ and take the standard problem of Lᴴ A L"
        )
    return b, settings


def _eigh_selection(full_w, settings, k: int):
    """Where in the full, ascending spectrum the ``k`` eigenpairs of a ``subset_by_*`` call sit."""
    if settings["subset_by_index"] is not None:
        start = settings["subset_by_index"][0]
    else:
        # (lo, hi] of an ascending spectrum: the first selected one follows every w <= lo.
        start = np.sum(full_w <= settings["subset_by_value"][0], axis=-1, keepdims=True)
    return start + np.arange(k)


def _selected_to_full(x, index, n: int):
    """The cotangent ``x`` of the selected eigenpairs (last axis) put at ``index`` among ``n``."""
    if _is_zero(x):
        return x
    full = np.zeros((*np.shape(x)[:-1], n), dtype=np.result_type(x))
    np.put_along_axis(full, np.broadcast_to(index, np.shape(x)), x, axis=-1)
    return full


def _full_eigh(a, b, settings, w, v):
    """``(w, V, index)``: the whole eigendecomposition the derivative needs (a subset's eigenvectors
    couple to all others), with scipy's own columns where it returned them, so that the derivative
    refers to their phase; ``index`` locates a subset in it (``None``: everything was returned)."""
    subset = settings["subset_by_index"] is not None or settings["subset_by_value"] is not None
    if v is not None and not subset:
        return w, v, None
    full_w, full_v = sla.eigh(a, b, lower=settings["lower"], check_finite=settings["check_finite"])
    if not subset:
        return full_w, full_v, None
    index = _eigh_selection(full_w, settings, np.shape(w)[-1])
    if v is not None:
        np.put_along_axis(full_v, np.broadcast_to(index[..., None, :], np.shape(v)), v, axis=-1)
    return full_w, full_v, index


def _register_eigh(f: Callable, returns_vectors: Callable) -> None:
    """The rules of ``f(a[, b], **options)``, ``scipy.linalg.eigh`` or ``eigvalsh``.

    ``returns_vectors(settings)`` says whether ``f`` returns ``(w, V)`` rather than ``w``.
    """

    def eigh_rrule(a, *rest, **kwargs):
        b, settings = _eigh_call(f, a, rest, kwargs)
        y = f(a, *rest, **kwargs)
        vectors, lower = returns_vectors(settings), settings["lower"]
        full_w, full_v, index = _full_eigh(a, b, settings, *(y if vectors else (y, None)))
        project_a = ProjectTo(a)
        project_b = None if b is None else ProjectTo(b)

        def eigh_pullback(dy):
            dw, dv = _cotangent_parts(dy, 2) if vectors else (dy, ZeroTangent())
            if index is not None:
                n = np.shape(full_w)[-1]
                dw, dv = (
                    _selected_to_full(dw, index, n),
                    _selected_to_full(dv, index[..., None, :], n),
                )
            ga, gb = _eigh_cotangents(full_w, full_v, dw, dv, b is not None)
            da = project_a(_hermitian_read_adjoint(ga, lower))
            if not rest:
                return NoTangent(), da
            db = NoTangent() if b is None else project_b(_hermitian_read_adjoint(gb, lower))
            return NoTangent(), da, db

        return y, eigh_pullback

    def eigh_frule(tangents, a, *rest, **kwargs):
        b, settings = _eigh_call(f, a, rest, kwargs)
        y = f(a, *rest, **kwargs)
        da, db = tangents[1], tangents[2] if b is not None else None
        if _is_zero(da) and (db is None or _is_zero(db)):
            return y, ZeroTangent()
        vectors, lower = returns_vectors(settings), settings["lower"]
        full_w, full_v, index = _full_eigh(a, b, settings, *(y if vectors else (y, None)))
        da = np.zeros_like(a) if _is_zero(da) else da
        db = np.zeros_like(b) if db is not None and _is_zero(db) else db
        dw, dv = _eigh_tangent(
            full_w,
            full_v,
            _hermitian_read(da, lower),
            None if db is None else _hermitian_read(db, lower),
        )
        if index is not None:
            w = y[0] if vectors else y
            dw = np.take_along_axis(dw, np.broadcast_to(index, np.shape(w)), axis=-1)
            columns = np.broadcast_to(index[..., None, :], (*np.shape(dv)[:-1], np.shape(w)[-1]))
            dv = np.take_along_axis(dv, columns, axis=-1)
        return y, ProjectTo(y)((dw, dv) if vectors else dw)

    rrule.add(f, (), eigh_rrule)
    frule.add(f, (), eigh_frule)


_register_eigh(sla.eigh, lambda settings: not settings["eigvals_only"])
_register_eigh(sla.eigvalsh, lambda settings: False)


# ---------------------------------------------------------------------------------------------
# Matrix functions and the Sylvester equation


@rrule.register(sla.expm)
def _(a):
    _require_matrix("scipy.linalg.expm", a)
    y = sla.expm(a)
    project_a = ProjectTo(a)

    def expm_pullback(dy):
        # The adjoint of the Fréchet derivative L(A, .) is L(A^H, .).
        return NoTangent(), project_a(sla.expm_frechet(_H(a), dy, compute_expm=False))

    return y, expm_pullback


@frule.register(sla.expm)
def _(tangents, a):
    _require_matrix("scipy.linalg.expm", a)
    da = tangents[1]
    y = sla.expm(a)
    if _is_zero(da):
        return y, ZeroTangent()
    return y, ProjectTo(y)(sla.expm_frechet(a, da, compute_expm=False))


# The Fréchet derivative L(A, E) is the upper right block of expm([[A, E], [0, A]]) (Higham,
# Functions of Matrices, 3.16): differentiated (expm's rules differentiated again), it is that
# block of the Fréchet derivative of the block matrix, itself a block of a matrix twice the size.


def _frechet_block(a, e):
    """``[[A, E], [0, A]]``, whose exponential holds ``L(A, E)`` in its upper right block."""
    return np.block([[a, e], [np.zeros_like(a), a]])


@rrule.register(sla.expm_frechet)
def _(a, e, *options, **kwargs):
    given, settings = _options(sla.expm_frechet, 2, (a, e, *options), kwargs)
    y = sla.expm_frechet(a, e, **given)
    n = np.shape(a)[-1]
    project_a, project_e = ProjectTo(a), ProjectTo(e)

    def expm_frechet_pullback(dy):
        dexp, dl = dy if settings["compute_expm"] else (ZeroTangent(), dy)
        x = _frechet_block(a, e)
        g = np.zeros_like(x, dtype=np.result_type(x, dl))
        g[:n, n:] = dl
        g = sla.expm_frechet(_H(x), g, compute_expm=False)
        da, de = g[:n, :n] + g[n:, n:], g[:n, n:]
        if not _is_zero(dexp):
            da = da + sla.expm_frechet(_H(a), dexp, compute_expm=False)
        return NoTangent(), project_a(da), project_e(de), *no_tangents(options)

    return y, expm_frechet_pullback


@frule.register(sla.expm_frechet)
def _(tangents, a, e, *options, **kwargs):
    _, da, de = tangents[:3]
    given, settings = _options(sla.expm_frechet, 2, (a, e, *options), kwargs)
    y = sla.expm_frechet(a, e, **given)
    if _is_zero(da) and _is_zero(de):
        return y, ZeroTangent()
    n = np.shape(a)[-1]
    da = np.zeros_like(a) if _is_zero(da) else da
    de = np.zeros_like(e) if _is_zero(de) else de
    big = sla.expm_frechet(_frechet_block(a, e), _frechet_block(da, de), compute_expm=False)
    dl = big[:n, n:]
    if settings["compute_expm"]:
        return y, Tangent(tuple, sla.expm_frechet(a, da, compute_expm=False), dl)
    return y, dl


@rrule.register(sla.sqrtm)
def _(a):
    _require_matrix("scipy.linalg.sqrtm", a)
    x = sla.sqrtm(a)
    project_a = ProjectTo(a)

    def sqrtm_pullback(dx):
        # X dX + dX X = dA, so dA's cotangent G solves X^H G + G X^H = dX's cotangent.
        return NoTangent(), project_a(sla.solve_sylvester(_H(x), _H(x), dx))

    return x, sqrtm_pullback


@frule.register(sla.sqrtm)
def _(tangents, a):
    _require_matrix("scipy.linalg.sqrtm", a)
    da = tangents[1]
    x = sla.sqrtm(a)
    if _is_zero(da):
        return x, ZeroTangent()
    return x, ProjectTo(x)(sla.solve_sylvester(x, x, da))


@rrule.register(sla.solve_sylvester)
def _(a, b, q):
    _require_matrix("scipy.linalg.solve_sylvester", a)
    x = sla.solve_sylvester(a, b, q)
    project_a, project_b, project_q = ProjectTo(a), ProjectTo(b), ProjectTo(q)

    def solve_sylvester_pullback(dx):
        # A dX + dX B = dQ - dA X - X dB; the adjoint of Y -> A Y + Y B is Y -> A^H Y + Y B^H.
        dq = sla.solve_sylvester(_H(a), _H(b), dx)
        return (
            NoTangent(),
            project_a(unbroadcast(a, -dq @ _H(x))),
            project_b(unbroadcast(b, -_H(x) @ dq)),
            project_q(unbroadcast(q, dq)),
        )

    return x, solve_sylvester_pullback


@frule.register(sla.solve_sylvester)
def _(tangents, a, b, q):
    _require_matrix("scipy.linalg.solve_sylvester", a)
    _, da, db, dq = tangents
    x = sla.solve_sylvester(a, b, q)
    rhs = dq
    if not _is_zero(da):
        rhs = add(rhs, -(da @ x))
    if not _is_zero(db):
        rhs = add(rhs, -(x @ db))
    if _is_zero(rhs):
        return x, ZeroTangent()
    return x, ProjectTo(x)(sla.solve_sylvester(a, b, rhs))
