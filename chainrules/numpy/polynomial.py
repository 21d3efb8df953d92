"""Rules for numpy's polynomial functions on coefficient arrays (highest power first):
``poly``, ``polyadd``, ``polysub``, ``polymul``, ``polyder``, ``polyint``, ``polydiv``,
``polyval``, ``polyfit``, ``roots`` and ``vander``.

Conventions:

* Coefficient arrays are 1-d (``poly1d`` objects are not covered). Complex coefficients follow
  the library convention: every function here is holomorphic, so a cotangent is pulled back
  through the conjugate Jacobian.
* ``polyder`` and ``polyint`` are linear in ``p``; their Jacobians are read off numpy itself
  (columns from basis vectors), which is cheap at polynomial sizes. ``polyint``'s constants ``k``
  and the orders ``m`` are constants (no tangent).
* ``polydiv(u, v) = (q, r)`` with ``u = q v + r``: for fixed ``v`` division is linear in ``u``,
  so ``(dq, dr) = polydiv(du - q dv, v)``; numpy drops the remainder's leading (near-)zeros, and
  the tangent keeps the remainder's trailing entries to match.
* ``poly(r)``: 1-d roots only (a square matrix, read as its eigenvalues, raises
  ``NotImplementedError``); ``∂a/∂r_i`` is minus the coefficients of the product of the other
  factors. When numpy returns real coefficients for complex roots (conjugate pairs), the tangent
  keeps the real part.
* ``roots(p)``: implicit differentiation of ``p(r) = 0``, ``dr = -dp(r) / p'(r)``. At a repeated
  root ``p'(r) = 0`` and no derivative exists; the conventional 0 is used. Leading zeros, which
  numpy strips, get no cotangent.
* ``polyfit(x, y, deg)``: the least-squares coefficients ``c`` of ``V c ≈ y`` (``V`` the
  Vandermonde matrix of ``x``), differentiable in ``y`` and ``x`` through the normal equations;
  ``w=``, ``full=True`` and ``cov=True`` raise ``NotImplementedError``.
* ``vander(x, N)``: ``∂ x^p / ∂x = p x^(p-1)``, 0 for the constant column (never ``0 * inf``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules.calls import bound_arguments, no_tangents
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    ZeroTangent,
    frule,
    rrule,
    unbroadcast,
    unthunk,
)


def _coefficients(p: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(p))


def _dense(d: Any, p: Any) -> Any:
    """A tangent as an array of ``p``'s shape (zeros for a zero tangent)."""
    d = unthunk(d)
    return np.zeros(np.shape(p)) if isinstance(d, AbstractZero) else np.asarray(d)


# ----------------------------------------------------------------------------------------------
# polyadd, polysub: the shorter array is padded with leading zeros


def _register_sum(f: Any, sign: float) -> None:
    @rrule.register(f)
    def _(a1, a2):
        y = f(a1, a2)
        project1, project2 = ProjectTo(a1), ProjectTo(a2)

        def polyadd_pullback(dy):
            dy = np.asarray(unthunk(dy))
            da1 = np.reshape(dy[len(dy) - np.size(a1) :], np.shape(a1))
            da2 = np.reshape(sign * dy[len(dy) - np.size(a2) :], np.shape(a2))
            return NoTangent(), project1(da1), project2(da2)

        return y, polyadd_pullback

    @frule.register(f)
    def _(tangents, a1, a2):
        y = f(a1, a2)
        _, da1, da2 = tangents
        return y, ProjectTo(y)(f(_dense(da1, a1), _dense(da2, a2)))


_register_sum(np.polyadd, 1.0)
_register_sum(np.polysub, -1.0)


# ----------------------------------------------------------------------------------------------
# polymul: a convolution


@rrule.register(np.polymul)
def _(a1, a2):
    y = np.polymul(a1, a2)
    c1, c2 = _coefficients(a1), _coefficients(a2)
    project1, project2 = ProjectTo(a1), ProjectTo(a2)

    def polymul_pullback(dy):
        if c1.size == 0 or c2.size == 0:  # numpy reads an empty array as the zero polynomial
            return NoTangent(), project1(np.zeros(np.shape(a1))), project2(np.zeros(np.shape(a2)))
        # the adjoint of a ↦ convolve(a, b) is a correlation with b (np.correlate conjugates b)
        dy = np.asarray(unthunk(dy))
        da1 = np.reshape(np.correlate(dy, c2, "valid"), np.shape(a1))
        da2 = np.reshape(np.correlate(dy, c1, "valid"), np.shape(a2))
        return NoTangent(), project1(da1), project2(da2)

    return y, polymul_pullback


@frule.register(np.polymul)
def _(tangents, a1, a2):
    y = np.polymul(a1, a2)
    _, da1, da2 = tangents
    c1, c2 = _coefficients(a1), _coefficients(a2)
    # numpy reads an empty array as the zero polynomial, so the product stays zero
    no_coefficients = c1.size == 0 or c2.size == 0
    if no_coefficients or (isinstance(da1, AbstractZero) and isinstance(da2, AbstractZero)):
        return y, ZeroTangent()
    # np.convolve, not np.polymul, which would trim a zero tangent's leading zeros
    dy = np.convolve(np.ravel(_dense(da1, a1)), c2) + np.convolve(c1, np.ravel(_dense(da2, a2)))
    return y, ProjectTo(y)(dy)


# ----------------------------------------------------------------------------------------------
# polyder, polyint: linear in p


def _linear_map(f: Any, p: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    """The matrix of the linear map ``p ↦ f(p, ...) - f(0, ...)`` between flattened arrays, one
    column per coefficient (a 0-d ``p`` is one coefficient; order 0 returns it as it is)."""
    n = np.size(p)
    offset = np.ravel(f(np.zeros(np.shape(p)), *args, **kwargs))
    if n == 0:  # no coefficients: the map from an empty space has no columns
        return np.zeros((offset.size, 0))
    columns = [np.ravel(f(np.reshape(e, np.shape(p)), *args, **kwargs)) for e in np.eye(n)]
    return np.stack(columns, axis=-1) - offset[:, None]


def _register_linear(f: Any) -> None:
    @rrule.register(f)
    def _(p, *args, **kwargs):
        y = f(p, *args, **kwargs)
        project_p = ProjectTo(p)

        def linear_pullback(dy):
            matrix = _linear_map(f, p, *args, **kwargs)
            dp = np.conj(matrix.T) @ np.ravel(unthunk(dy))
            return (NoTangent(), project_p(np.reshape(dp, np.shape(p))), *no_tangents(args))

        return y, linear_pullback

    @frule.register(f)
    def _(tangents, p, *args, **kwargs):
        y = f(p, *args, **kwargs)
        dp = unthunk(tangents[1])
        if isinstance(dp, AbstractZero):
            return y, dp
        dy = _linear_map(f, p, *args, **kwargs) @ np.ravel(dp)
        return y, ProjectTo(y)(np.reshape(dy, np.shape(y)))


_register_linear(np.polyder)
_register_linear(np.polyint)


# ----------------------------------------------------------------------------------------------
# polydiv: (q, r) with u = q v + r


def _division_map(u: Any, v: Any, q_size: int, r_size: int) -> np.ndarray:
    """The matrix of ``du ↦ (dq, dr)`` for fixed ``v``: ``polydiv(du, v)``, the remainder cut to
    numpy's ``r_size`` trailing entries and the quotient padded to ``q_size`` at the front."""
    columns = []
    for e in np.eye(np.size(u)):
        q, r = np.polydiv(e, v)
        q = np.concatenate([np.zeros(q_size - q.size), q])[-q_size:] if q_size else q[:0]
        r = np.concatenate([np.zeros(r_size), r])[-r_size:]
        columns.append(np.concatenate([q, r]))
    return np.stack(columns, axis=-1)


@rrule.register(np.polydiv)
def _(u, v):
    q, r = np.polydiv(u, v)
    project_u, project_v = ProjectTo(u), ProjectTo(v)

    def polydiv_pullback(dresult):
        dq, dr = (_dense(d, like) for d, like in zip(dresult, (q, r), strict=True))
        matrix = _division_map(u, v, q.size, r.size)
        du = np.conj(matrix.T) @ np.concatenate([dq, dr]).astype(matrix.dtype)
        # dv enters as du' = -q dv: the adjoint of dv ↦ convolve(q, dv) is a correlation
        dv = -np.correlate(du, q, "valid")
        return (
            NoTangent(),
            project_u(np.reshape(du, np.shape(u))),
            project_v(np.reshape(dv, np.shape(v))),
        )

    return (q, r), polydiv_pullback


@frule.register(np.polydiv)
def _(tangents, u, v):
    q, r = np.polydiv(u, v)
    _, du, dv = tangents
    d = np.ravel(_dense(du, u)) - np.convolve(q, np.ravel(_dense(dv, v)))[-np.size(u) :]
    dqr = _division_map(u, v, q.size, r.size) @ d
    return (q, r), (ProjectTo(q)(dqr[: q.size]), ProjectTo(r)(dqr[q.size :]))


# ----------------------------------------------------------------------------------------------
# polyval


def _slope_coefficients(p: Any) -> np.ndarray:
    """The coefficients of the derivative in ``x``, along the first axis as numpy's Horner scheme
    reads them (``p`` may hold arrays of coefficients that broadcast against ``x``)."""
    p = np.asarray(p)
    if len(p) < 2:
        return np.zeros_like(p[:1])
    degrees = np.arange(len(p) - 1, 0, -1).reshape((-1,) + (1,) * (p.ndim - 1))
    return p[:-1] * degrees


@rrule.register(np.polyval)
def _(p, x):
    y = np.polyval(p, x)
    project_p, project_x = ProjectTo(p), ProjectTo(x)

    def polyval_pullback(dy):
        dy = np.asarray(unthunk(dy))
        n = len(p)
        # y = sum_i p[i] x^(n-1-i), each term broadcast to y's shape
        dp = [
            unbroadcast(np.asarray(p)[i], np.conj(np.asarray(x) ** (n - 1 - i)) * dy)
            for i in range(n)
        ]
        dx = unbroadcast(x, np.conj(np.polyval(_slope_coefficients(p), x)) * dy)
        dp = np.stack(dp) if dp else np.zeros(np.shape(p))  # no coefficients, no cotangents
        return NoTangent(), project_p(np.reshape(dp, np.shape(p))), project_x(dx)

    return y, polyval_pullback


@frule.register(np.polyval)
def _(tangents, p, x):
    y = np.polyval(p, x)
    _, dp, dx = map(unthunk, tangents)
    dy = np.zeros(np.shape(y), dtype=np.result_type(y, float))
    if not isinstance(dp, AbstractZero):
        dy = dy + np.polyval(np.reshape(dp, np.shape(p)), x)
    if not isinstance(dx, AbstractZero):
        dy = dy + np.polyval(_slope_coefficients(p), x) * dx
    return y, ProjectTo(y)(dy)


# ----------------------------------------------------------------------------------------------
# poly: roots to coefficients


def _poly_jacobian(r: np.ndarray) -> np.ndarray:
    """``∂ poly(r) / ∂r_i = -[0, poly(r without r_i)]``: one column per root."""
    n = r.size
    columns = [-np.concatenate([[0], np.atleast_1d(np.poly(np.delete(r, i)))]) for i in range(n)]
    return np.stack(columns, axis=-1) if n else np.zeros((1, 0))


def _roots_only(seq_of_zeros: Any) -> np.ndarray:
    r = np.asarray(seq_of_zeros)
    if r.ndim != 1:
        raise NotImplementedError(
            "the derivative rules of numpy.poly take a 1-d array of roots; for a matrix, "
            "differentiate numpy.poly(numpy.linalg.eigvals(a))"
        )
    return r


@rrule.register(np.poly)
def _(seq_of_zeros):
    r = _roots_only(seq_of_zeros)
    y = np.poly(r)
    project_r = ProjectTo(seq_of_zeros)

    def poly_pullback(dy):
        # ravel: no roots give the number 1.0, whose cotangent is one number too
        dr = np.conj(_poly_jacobian(r).T) @ np.ravel(unthunk(dy))
        return NoTangent(), project_r(dr)

    return y, poly_pullback


@frule.register(np.poly)
def _(tangents, seq_of_zeros):
    r = _roots_only(seq_of_zeros)
    y = np.poly(r)
    dr = unthunk(tangents[1])
    if isinstance(dr, AbstractZero):
        return y, dr
    dy = np.reshape(_poly_jacobian(r) @ np.asarray(dr), np.shape(y))  # no roots: y is 1.0
    return y, ProjectTo(y)(np.real(dy) if np.result_type(y).kind != "c" else dy)


# ----------------------------------------------------------------------------------------------
# roots: implicit differentiation of p(r) = 0


def _roots_jacobian(p: Any, r: np.ndarray) -> np.ndarray:
    """``∂r_k / ∂p_i = -r_k^(N-1-i) / p'(r_k)`` for the coefficients numpy keeps (0 for the
    stripped leading zeros, and at repeated roots, where ``p'(r) = 0``)."""
    p = _coefficients(p)
    slope = np.polyval(np.polyder(np.trim_zeros(p, "f")), r) if r.size else r
    powers = r[:, None] ** np.arange(p.size - 1, -1, -1)
    slope = np.asarray(slope, dtype=complex)
    scale = np.divide(-1, slope, out=np.zeros_like(slope), where=slope != 0)
    return scale[:, None] * powers


@rrule.register(np.roots)
def _(p):
    r = np.roots(p)
    project_p = ProjectTo(p)

    def roots_pullback(dr):
        dp = np.conj(_roots_jacobian(p, r).T) @ np.asarray(unthunk(dr))
        if not np.iscomplexobj(p):  # real coefficients: the cotangent is the real part
            dp = np.real(dp)
        return NoTangent(), project_p(np.reshape(dp, np.shape(p)))

    return r, roots_pullback


@frule.register(np.roots)
def _(tangents, p):
    r = np.roots(p)
    dp = unthunk(tangents[1])
    if isinstance(dp, AbstractZero):
        return r, dp
    dr = _roots_jacobian(p, r) @ np.ravel(dp)
    return r, ProjectTo(r)(dr)


# ----------------------------------------------------------------------------------------------
# polyfit: least squares through the normal equations (V^T V) c = V^T y


def _polyfit_parts(args: tuple, kwargs: dict) -> tuple:
    options = bound_arguments(np.polyfit, args, kwargs)
    for name in ("w", "cov"):
        if options[name] is not None and options[name] is not False:
            raise NotImplementedError(
                f"the derivative rule of numpy.polyfit does not support {name}=; call it without"
            )
    if options["full"]:
        raise NotImplementedError("the derivative rule of numpy.polyfit does not support full=True")
    x, y = np.asarray(options["x"], dtype=float), np.asarray(options["y"], dtype=float)
    vander = np.vander(x, options["deg"] + 1)
    return x, y, vander


def _columns(c: Any) -> np.ndarray:
    """Coefficients (or data) as a matrix with one column per fitted data set."""
    return np.reshape(c, (np.shape(c)[0], -1))


@rrule.register(np.polyfit)
def _(*args, **kwargs):
    coefficients = np.polyfit(*args, **kwargs)
    x, y, vander = _polyfit_parts(args, kwargs)
    project_x, project_y = ProjectTo(args[0]), ProjectTo(args[1])

    def polyfit_pullback(dc):
        c = _columns(coefficients)
        z = np.linalg.solve(vander.T @ vander, _columns(unthunk(dc)))
        residual = _columns(y) - vander @ c
        dvander = _vander_derivative(x, vander.shape[1])
        slope = np.stack([np.polyval(np.polyder(col), x) for col in c.T], axis=-1)
        # dc = G⁻¹ (dVᵀ r - Vᵀ dV c), with dV = diag(dx) ∂V/∂x
        dx = np.sum(residual * (dvander @ z) - (vander @ z) * slope, axis=-1)
        dy = np.reshape(vander @ z, np.shape(y))
        tangents = (project_x(dx), project_y(dy))
        return (NoTangent(), *tangents[: len(args)], *no_tangents(args[2:]))

    return coefficients, polyfit_pullback


@frule.register(np.polyfit)
def _(tangents, *args, **kwargs):
    coefficients = np.polyfit(*args, **kwargs)
    x, y, vander = _polyfit_parts(args, kwargs)
    dx, dy = (_dense(d, v) for d, v in zip(tangents[1:3], (x, y), strict=True))
    c = _columns(coefficients)
    residual = _columns(y) - vander @ c
    dvander = _vander_derivative(x, vander.shape[1]) * np.reshape(dx, (-1, 1))
    rhs = vander.T @ _columns(dy) + dvander.T @ residual - vander.T @ dvander @ c
    dc = np.linalg.solve(vander.T @ vander, rhs)
    return coefficients, ProjectTo(coefficients)(np.reshape(dc, np.shape(coefficients)))


# ----------------------------------------------------------------------------------------------
# vander


def _vander_derivative(x: Any, n: int, increasing: bool = False) -> np.ndarray:
    """``∂ vander(x, n) / ∂x``, entry by entry: ``p x^(p-1)``, 0 in the constant column."""
    x = np.asarray(x)
    lower = (
        np.vander(x, n - 1, increasing=True) * np.arange(1, n) if n > 1 else np.zeros((x.size, 0))
    )
    d = np.concatenate([np.zeros((x.size, min(n, 1)), dtype=lower.dtype), lower], axis=1)
    return d if increasing else np.flip(d, axis=1)


@rrule.register(np.vander)
def _(x, *args, **kwargs):
    options = bound_arguments(np.vander, (x, *args), kwargs)
    y = np.vander(x, *args, **kwargs)
    project_x = ProjectTo(x)

    def vander_pullback(dy):
        derivative = _vander_derivative(x, y.shape[1], options["increasing"])
        dx = np.sum(np.conj(derivative) * unthunk(dy), axis=1)
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return y, vander_pullback


@frule.register(np.vander)
def _(tangents, x, *args, **kwargs):
    options = bound_arguments(np.vander, (x, *args), kwargs)
    y = np.vander(x, *args, **kwargs)
    dx = unthunk(tangents[1])
    if isinstance(dx, AbstractZero):
        return y, ZeroTangent()
    derivative = _vander_derivative(x, y.shape[1], options["increasing"])
    return y, ProjectTo(y)(derivative * np.asarray(dx)[:, None])
