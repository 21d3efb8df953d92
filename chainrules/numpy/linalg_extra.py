"""Rules for numpy's array-API linear algebra additions and the tensor solvers:
``linalg.trace``, ``linalg.diagonal``, ``matvec``, ``vecmat``, ``linalg.cond``,
``linalg.tensorinv`` and ``linalg.tensorsolve``.

Conventions:

* ``linalg.trace``/``linalg.diagonal`` are ``np.trace``/``np.diagonal`` over the last two axes,
  and use their rules.
* ``matvec(A, v) = A v`` and ``vecmat(v, A) = v^H A`` (numpy conjugates the vector): bilinear,
  broadcast over leading axes (cotangents are summed back to each input's shape); ``axes=`` and
  other gufunc options raise ``TypeError``.
* ``linalg.cond(A, p)`` for ``p`` in ``None, 2, -2``: the ratio of extreme singular values, whose
  gradients are ``u v^H`` of the singular pair. Other norms raise ``NotImplementedError``.
* ``tensorinv`` and ``tensorsolve`` are ``inv`` and ``solve`` of the matricised tensor:
  ``dA = -X^H G X^H`` and, for ``x = A^{-1} b``, ``db = A^{-H} G``, ``dA = -db x^H``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules.calls import no_tangents
from chainrules.numpy.ufuncs import plain_call_only
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

# ----------------------------------------------------------------------------------------------
# linalg.trace, linalg.diagonal: the np.trace and np.diagonal rules over the last two axes


@rrule.register(np.linalg.trace)
def _(x, *, offset=0, dtype=None):
    return rrule(np.trace, x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


@frule.register(np.linalg.trace)
def _(tangents, x, *, offset=0, dtype=None):
    return frule(tangents, np.trace, x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


@rrule.register(np.linalg.diagonal)
def _(x, *, offset=0):
    return rrule(np.diagonal, x, offset=offset, axis1=-2, axis2=-1)


@frule.register(np.linalg.diagonal)
def _(tangents, x, *, offset=0):
    return frule(tangents, np.diagonal, x, offset=offset, axis1=-2, axis2=-1)


# ----------------------------------------------------------------------------------------------
# matvec, vecmat


@rrule.register(np.matvec)
def _(a, v, **kwargs):
    plain_call_only(np.matvec, (a, v), kwargs, 2)
    y = np.matvec(a, v)
    project_a, project_v = ProjectTo(a), ProjectTo(v)

    def matvec_pullback(dy):
        dy = np.asarray(unthunk(dy))
        da = dy[..., :, None] * np.conj(np.asarray(v))[..., None, :]
        dv = np.matvec(np.conj(np.swapaxes(a, -1, -2)), dy)
        return NoTangent(), project_a(unbroadcast(a, da)), project_v(unbroadcast(v, dv))

    return y, matvec_pullback


@frule.register(np.matvec)
def _(tangents, a, v, **kwargs):
    plain_call_only(np.matvec, (a, v), kwargs, 2)
    y = np.matvec(a, v)
    _, da, dv = map(unthunk, tangents)
    dy = ZeroTangent()
    if not isinstance(da, AbstractZero):
        dy = dy + np.matvec(da, v)
    if not isinstance(dv, AbstractZero):
        dy = dy + np.matvec(a, dv)
    return y, dy if isinstance(dy, AbstractZero) else ProjectTo(y)(dy)


@rrule.register(np.vecmat)
def _(v, a, **kwargs):
    plain_call_only(np.vecmat, (v, a), kwargs, 2)
    y = np.vecmat(v, a)
    project_v, project_a = ProjectTo(v), ProjectTo(a)

    def vecmat_pullback(dy):
        # y_j = sum_i conj(v_i) a_ij: holomorphic in a, antiholomorphic in v
        dy = np.asarray(unthunk(dy))
        da = np.asarray(v)[..., :, None] * dy[..., None, :]
        dv = np.matvec(np.asarray(a), np.conj(dy))
        return NoTangent(), project_v(unbroadcast(v, dv)), project_a(unbroadcast(a, da))

    return y, vecmat_pullback


@frule.register(np.vecmat)
def _(tangents, v, a, **kwargs):
    plain_call_only(np.vecmat, (v, a), kwargs, 2)
    y = np.vecmat(v, a)
    _, dv, da = map(unthunk, tangents)
    dy = ZeroTangent()
    if not isinstance(dv, AbstractZero):
        dy = dy + np.vecmat(dv, a)
    if not isinstance(da, AbstractZero):
        dy = dy + np.vecmat(v, da)
    return y, dy if isinstance(dy, AbstractZero) else ProjectTo(y)(dy)


# ----------------------------------------------------------------------------------------------
# linalg.cond (2-norm): sigma_max / sigma_min


def _cond_norm(args: tuple, kwargs: dict) -> Any:
    p = args[0] if args else kwargs.get("p")
    if p not in (None, 2, -2):
        raise NotImplementedError(
            f"the derivative rules of numpy.linalg.cond support p=None, 2 and -2, not p={p!r}"
        )
    return p


def _cond_parts(x: Any, p: Any) -> tuple:
    """``(top, bottom, d top / dA, d bottom / dA)`` with ``cond = top / bottom``."""
    u, s, vh = np.linalg.svd(x)
    k = s.shape[-1] - 1
    # d sigma_i = Re(u_i^H dA v_i): the cotangent of sigma_i is u_i v_i^H (v_i^H is a row of vh)
    pairs = [u[..., :, i, None] * vh[..., i, None, :] for i in (0, k)]
    top, bottom = s[..., 0], s[..., k]
    if p == -2:
        return bottom, top, pairs[1], pairs[0]
    return top, bottom, pairs[0], pairs[1]


def _cond_gradient(x: Any, p: Any) -> np.ndarray:
    """``d cond / dA`` as a cotangent (``u v^H`` per singular value): the quotient rule."""
    top, bottom, dtop, dbottom = _cond_parts(x, p)
    top, bottom = top[..., None, None], bottom[..., None, None]
    return dtop / bottom - top / bottom**2 * dbottom


@rrule.register(np.linalg.cond)
def _(x, *args, **kwargs):
    p = _cond_norm(args, kwargs)
    y = np.linalg.cond(x, *args, **kwargs)
    project_x = ProjectTo(x)

    def cond_pullback(dy):
        dx = _cond_gradient(x, p) * np.asarray(unthunk(dy))[..., None, None]
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return y, cond_pullback


@frule.register(np.linalg.cond)
def _(tangents, x, *args, **kwargs):
    p = _cond_norm(args, kwargs)
    y = np.linalg.cond(x, *args, **kwargs)
    dx = unthunk(tangents[1])
    if isinstance(dx, AbstractZero):
        return y, dx
    dy = np.sum(np.real(np.conj(_cond_gradient(x, p)) * dx), axis=(-2, -1))
    return y, ProjectTo(y)(dy)


# ----------------------------------------------------------------------------------------------
# tensorinv, tensorsolve: inv and solve of the matricised tensor


def _tensorinv_shapes(a: Any, ind: int) -> tuple[tuple, tuple]:
    shape = np.shape(a)
    return shape[:ind], shape[ind:]


@rrule.register(np.linalg.tensorinv)
def _(a, *args, **kwargs):
    ind = args[0] if args else kwargs.get("ind", 2)
    y = np.linalg.tensorinv(a, *args, **kwargs)
    rows, cols = _tensorinv_shapes(a, ind)
    inverse = np.reshape(y, (int(np.prod(cols)), int(np.prod(rows))))
    project_a = ProjectTo(a)

    def tensorinv_pullback(dy):
        g = np.reshape(unthunk(dy), inverse.shape)
        inverse_h = np.conj(inverse.T)
        return (
            NoTangent(),
            project_a(np.reshape(-inverse_h @ g @ inverse_h, np.shape(a))),
            *no_tangents(args),
        )

    return y, tensorinv_pullback


@frule.register(np.linalg.tensorinv)
def _(tangents, a, *args, **kwargs):
    ind = args[0] if args else kwargs.get("ind", 2)
    y = np.linalg.tensorinv(a, *args, **kwargs)
    da = unthunk(tangents[1])
    if isinstance(da, AbstractZero):
        return y, da
    rows, cols = _tensorinv_shapes(a, ind)
    inverse = np.reshape(y, (int(np.prod(cols)), int(np.prod(rows))))
    dmatrix = np.reshape(da, (int(np.prod(rows)), int(np.prod(cols))))
    return y, ProjectTo(y)(np.reshape(-inverse @ dmatrix @ inverse, np.shape(y)))


def _tensorsolve_layout(a: Any, b: Any, axes: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(order, A)``: numpy moves ``axes`` of ``a`` last, then reads a matrix with ``b.size``
    rows."""
    order = list(range(np.ndim(a)))
    for k in axes or ():
        order.remove(k)
        order.insert(np.ndim(a), k)
    moved = np.transpose(a, order)
    # numpy solves a square system, b.size equations in as many unknowns: not (rows, -1), which
    # an empty b leaves undetermined, nor a's shape after b's, which numpy does not read when
    # a.ndim == b.ndim (it takes all of a's shape as x's then)
    rows = int(np.size(b))
    return np.array(order), np.reshape(moved, (rows, rows))


@rrule.register(np.linalg.tensorsolve)
def _(a, b, *args, **kwargs):
    axes = args[0] if args else kwargs.get("axes")
    x = np.linalg.tensorsolve(a, b, *args, **kwargs)
    order, matrix = _tensorsolve_layout(a, b, axes)
    project_a, project_b = ProjectTo(a), ProjectTo(b)

    def tensorsolve_pullback(dx):
        db = np.linalg.solve(np.conj(matrix.T), np.ravel(unthunk(dx)))
        dmatrix = -np.outer(db, np.conj(np.ravel(x)))
        moved_shape = tuple(np.shape(a)[i] for i in order)
        da = np.transpose(np.reshape(dmatrix, moved_shape), np.argsort(order))
        return (
            NoTangent(),
            project_a(da),
            project_b(np.reshape(db, np.shape(b))),
            *no_tangents(args),
        )

    return x, tensorsolve_pullback


@frule.register(np.linalg.tensorsolve)
def _(tangents, a, b, *args, **kwargs):
    axes = args[0] if args else kwargs.get("axes")
    x = np.linalg.tensorsolve(a, b, *args, **kwargs)
    _, matrix = _tensorsolve_layout(a, b, axes)
    _, da, db = map(unthunk, tangents[:3])
    # A dx = db - dA x
    rhs = np.zeros(matrix.shape[0], dtype=np.result_type(matrix, x))
    if not isinstance(db, AbstractZero):
        rhs = rhs + np.ravel(db)
    if not isinstance(da, AbstractZero):
        rhs = rhs - _tensorsolve_layout(da, b, axes)[1] @ np.ravel(x)
    return x, ProjectTo(x)(np.reshape(np.linalg.solve(matrix, rhs), np.shape(x)))
