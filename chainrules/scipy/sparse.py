"""Rules for scipy.sparse: products of a compressed sparse matrix with a dense one, and building one.

A CSR or CSC matrix or array ``A`` is differentiated through its stored values ``A.data`` only:
its sparsity pattern (``indices``, ``indptr``) is structure, not a value, so an entry that is
not stored stays zero and gets no cotangent. A cotangent of ``A`` is the structural
``Tangent(type(A), data=...)``, one entry per stored value, in ``A.data``'s order.

* ``A @ x`` and ``A.dot(x)`` for a dense ``x`` (a vector or a matrix): ``x̄ = Aᴴ ȳ`` (a sparse
  product) and, for the stored entry ``k`` at ``(i, j)``, ``datā[k] = Σ ȳ[i, ...] conj(x[j, ...])``
  (the entries of ``ȳ xᴴ`` that are stored). The tangent is ``ẏ = Ȧ x + A ẋ``, where ``Ȧ`` is
  ``A``'s pattern holding ``data``'s tangent.
* ``csr_matrix((data, indices, indptr), shape=...)`` (and ``csr_array``, ``csc_matrix``,
  ``csc_array``): the stored values are ``data``, so ``datā`` is the cotangent's ``data``. The
  coordinate form ``(data, (row, col))`` sums duplicate entries and reorders them, and is not
  covered.
"""

from __future__ import annotations

import operator

import numpy as np
import scipy.sparse as sp
from multipledispatch.variadic import Variadic

from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    Tangent,
    ZeroTangent,
    add,
    frule,
    rrule,
    unthunk,
)

COMPRESSED = (sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array)

# ``A.dot`` and ``A @`` are ``_spbase``'s, shared by every sparse format: a bound call reaches
# the rules through the class's function object, and the types below keep them to CSR and CSC.
_DOT = sp.csr_matrix.dot


def _positions(a) -> tuple[np.ndarray, np.ndarray]:
    """The row and column of each stored entry of ``a``, in ``a.data``'s order."""
    compressed = np.repeat(np.arange(len(a.indptr) - 1), np.diff(a.indptr))
    if a.format == "csr":
        return compressed, a.indices
    return a.indices, compressed


def _with_values(a, data: np.ndarray):
    """``a``'s sparsity pattern holding ``data`` (shared index arrays: nothing is written to them)."""
    return type(a)((data, a.indices, a.indptr), shape=a.shape)


def _dense(t, like: np.ndarray) -> np.ndarray:
    t = unthunk(t)
    return np.zeros_like(like) if isinstance(t, AbstractZero) else np.asarray(t)


def _product_rrule(a, x: np.ndarray):
    y = a @ x
    project_data, project_x = ProjectTo(a.data), ProjectTo(x)
    rows, cols = _positions(a)

    def sparse_product_pullback(dy):
        dy = unthunk(dy)
        if isinstance(dy, AbstractZero):
            return NoTangent(), ZeroTangent(), ZeroTangent()
        dx = a.conj().T @ dy
        # the stored entries of ȳ xᴴ, summed over the columns of a matrix x
        products = dy[rows] * np.conj(x[cols])
        ddata = products if x.ndim == 1 else products.sum(axis=1)
        return NoTangent(), Tangent(type(a), data=project_data(ddata)), project_x(dx)

    return y, sparse_product_pullback


def _product_frule(tangents, a, x: np.ndarray):
    _, da, dx = tangents
    y = a @ x
    da, dx = unthunk(da), unthunk(dx)
    dy = ZeroTangent()
    if not isinstance(da, AbstractZero):
        dy = add(dy, _with_values(a, _dense(da.data, a.data)) @ x)
    if not isinstance(dx, AbstractZero):
        dy = add(dy, a @ dx)
    return y, dy


for _kind in COMPRESSED:
    for _f in (operator.matmul, _DOT):
        rrule.add(_f, (_kind, np.ndarray), _product_rrule)
        frule.add(_f, (_kind, np.ndarray), _product_frule)


def _pattern_arguments(kind, arg1: tuple) -> None:
    if len(arg1) != 3:
        raise NotImplementedError(
            f"no derivative for scipy.sparse.{kind.__name__} built from a {len(arg1)}-tuple: "
            "only (data, indices, indptr) is differentiated; build the matrix that way, or "
            "wrap the call in ignore_derivatives if its values are constants"
        )


def _construction_rrule(kind):
    def construction_rrule(arg1: tuple, *options, **kwargs):
        _pattern_arguments(kind, arg1)
        y = kind(arg1, *options, **kwargs)
        data = arg1[0]
        project_data = ProjectTo(data)

        def sparse_construction_pullback(dy):
            dy = unthunk(dy)
            if isinstance(dy, AbstractZero):
                return NoTangent(), ZeroTangent(), *(NoTangent(),) * len(options)
            stored = _dense(dy.data, y.data)
            # scipy keeps the first indptr[-1] values; any beyond them are dropped
            ddata = np.zeros(np.shape(data), dtype=stored.dtype)
            ddata[: stored.size] = stored
            darg1 = Tangent(tuple, project_data(ddata), NoTangent(), NoTangent())
            return NoTangent(), darg1, *(NoTangent(),) * len(options)

        return y, sparse_construction_pullback

    return construction_rrule


def _construction_frule(kind):
    def construction_frule(tangents, arg1: tuple, *options, **kwargs):
        _pattern_arguments(kind, arg1)
        y = kind(arg1, *options, **kwargs)
        darg1 = unthunk(tangents[1])
        ddata = darg1 if isinstance(darg1, AbstractZero) else unthunk(darg1[0])
        if isinstance(ddata, AbstractZero):
            return y, ddata
        return y, Tangent(kind, data=np.asarray(ddata, dtype=y.dtype)[: y.data.size])

    return construction_frule


for _kind in COMPRESSED:
    rrule.add(_kind, (tuple, Variadic[object]), _construction_rrule(_kind))
    frule.add(_kind, (tuple, Variadic[object]), _construction_frule(_kind))
