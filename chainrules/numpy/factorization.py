"""LU factorizations shared between the linear-algebra rules of one matrix.

A loss such as ``logdet(M) + sum(solve(M, b))`` hands the same ``M`` to two rules. Written with numpy
alone, they factorize it four times: ``slogdet`` and ``solve`` each run an LU factorization, and their
pullbacks run two more (``inv(M)``, which numpy computes as a solve against the identity, and
``solve(Mᴴ, dx)``). One LAPACK ``getrf`` gives all four: ``getrs`` solves with ``M`` or ``Mᴴ`` in
O(n²), ``getri`` inverts, and the sign and log-magnitude of the determinant are read off the
diagonal and the pivots.

:func:`lu_of` keeps the factorizations of the last few matrices it saw, by array identity, so that
rules called on one array in the same forward pass share a factorization, and each pullback keeps the
one its forward pass used. A cached factorization is never stale: the cache holds the array weakly
(the entry goes when the array dies) with a copy of its contents, and reuses the factorization only
while the array still equals that copy (an O(n²) comparison against an O(n³) factorization), since
arrays can be written in place between calls.

The factorization has forward rules (``frule``), for engines that differentiate the rules that
use it (a Hessian-vector product differentiates a backward pass): the tangent of an ``LU`` is the
tangent ``dA`` of the matrix it factorizes, and ``solve``, ``inverse`` and ``slogdet`` derive
their results' tangents from it.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from functools import partial

import numpy as np
from scipy.linalg import lapack

from chainrules_core import AbstractZero, Tangent, ZeroTangent, frule

DTYPES = (np.dtype(np.float64), np.dtype(np.complex128))
"""The dtypes :func:`lu_of` factorizes (LAPACK's ``d`` and ``z`` routines)."""

_PREFIX = {np.dtype(np.float64): "d", np.dtype(np.complex128): "z"}


class LU:
    """The LU factorization ``P A = L U`` of a square matrix (LAPACK ``getrf``), and what follows from it.

    Results are laid out like numpy's (C order). A matrix with an exactly zero pivot is
    ``singular``: :meth:`solve` and :meth:`inverse` raise numpy's ``LinAlgError``, and
    :meth:`slogdet` gives ``(0, -inf)``, as numpy does.

    Example:
        >>> import numpy as np
        >>> lu = LU(np.array([[2.0, 1.0], [1.0, 3.0]]))
        >>> lu.solve(np.array([3.0, 4.0]))
        array([1., 1.])
        >>> lu.slogdet()
        (np.float64(1.0), np.float64(1.6094379124341005))
    """

    __slots__ = ("dtype", "factors", "pivots", "singular")

    def __init__(self, a: np.ndarray):
        self.dtype = a.dtype
        self.factors, self.pivots, info = self._routine("getrf")(a)
        # Factors shared between rules and pullbacks must never be written to.
        self.factors.flags.writeable = self.pivots.flags.writeable = False
        self.singular = info > 0

    @property
    def n(self) -> int:
        """The order of the matrix."""
        return len(self.factors)

    def _routine(self, name: str):
        # Looked up at each call, so that a test can count the calls of scipy's wrappers.
        return getattr(lapack, _PREFIX[self.dtype] + name)

    def _require_invertible(self) -> None:
        if self.singular:
            raise np.linalg.LinAlgError("Singular matrix")

    def solve(self, b: np.ndarray, adjoint: bool = False) -> np.ndarray:
        """``A⁻¹ b`` (``A⁻ᴴ b`` for ``adjoint``) for a vector ``b`` or the columns of a matrix ``b``.

        Example:
            >>> import numpy as np
            >>> LU(np.array([[2.0, 1.0], [0.0, 1.0]])).solve(np.array([2.0, 3.0]), adjoint=True)
            array([1., 2.])
        """
        self._require_invertible()
        if np.iscomplexobj(b) and self.dtype.kind == "f":
            # A real matrix solves the real and imaginary parts apart, with no complex copy of it.
            return self.solve(b.real, adjoint) + 1j * self.solve(b.imag, adjoint)
        # getrs: trans=1 solves with Aᵀ, trans=2 with Aᴴ (the same for a real A).
        x, _ = self._routine("getrs")(
            self.factors,
            self.pivots,
            b,
            trans=(2 if self.dtype.kind == "c" else 1) if adjoint else 0,
        )
        return np.ascontiguousarray(x)

    def inverse(self) -> np.ndarray:
        """``A⁻¹``.

        Example:
            >>> import numpy as np
            >>> LU(np.array([[2.0, 1.0], [1.0, 1.0]])).inverse()
            array([[ 1., -1.],
                   [-1.,  2.]])
        """
        self._require_invertible()
        inverse, _ = self._routine("getri")(self.factors, self.pivots)
        return np.ascontiguousarray(inverse)

    def slogdet(self) -> tuple[np.generic, np.float64]:
        """``(sign, log|det A|)`` like ``np.linalg.slogdet``: ``sign`` is ±1 for a real ``A``, the unit
        complex number ``det A / |det A|`` for a complex one, and ``(0, -inf)`` for a singular ``A``.

        Example:
            >>> import numpy as np
            >>> LU(np.array([[0.0, 2.0], [3.0, 0.0]])).slogdet()
            (np.float64(-1.0), np.float64(1.791759469228055))
        """
        if self.singular:
            return self.dtype.type(0), np.float64(-np.inf)
        diagonal = np.diagonal(self.factors)
        magnitudes = np.abs(diagonal)
        # Each row interchange (a pivot other than the row itself) flips the sign.
        swaps = np.count_nonzero(self.pivots != np.arange(self.n))
        if self.dtype.kind == "c":
            sign = (-1) ** swaps * np.prod(diagonal / magnitudes)
        else:
            sign = np.float64((-1) ** (swaps + np.count_nonzero(diagonal < 0)))
        return sign, np.sum(np.log(magnitudes))


class _Entry:
    __slots__ = ("array", "contents", "lu")

    def __init__(self, array: weakref.ref, contents: np.ndarray, lu: LU):
        self.array, self.contents, self.lu = array, contents, lu


_CAPACITY = 4
# A larger matrix is factorized for each rule that asks, not kept: the copy that validates a
# shared factorization would hold as much memory again as the matrix, for as long as it lives.
SHARED_BYTES = 1 << 25
# by id() of the array, least recently used first
_entries: OrderedDict[int, _Entry] = OrderedDict()
# Reentrant: an array that dies in a garbage collection (any allocation can start one) runs
# _forget in whatever thread allocated, possibly while that thread holds the lock.
_lock = threading.RLock()


def _forget(key: int, array: weakref.ref) -> None:
    """Drop the entry of an array that died (unless the key already holds a newer array's)."""
    with _lock:
        entry = _entries.get(key)
        if entry is not None and entry.array is array:
            del _entries[key]


def _factorizable(a) -> bool:
    return (
        type(a) is np.ndarray
        and a.dtype in DTYPES
        and a.ndim == 2
        and a.shape[0] == a.shape[1]
        and a.size > 0
    )


def lu_of(a) -> LU | None:
    """The LU factorization of ``a``, shared with every rule that asks for it while ``a`` lives unchanged.

    ``None`` where numpy's own routines should run instead: anything but a nonempty square 2-D
    ndarray of float64 or complex128 (stacks, other dtypes, subclasses, duck arrays), and a matrix
    with infinite or NaN entries (numpy's results and warnings for those are its own). A matrix
    of more than :data:`SHARED_BYTES` is factorized afresh on every call (nothing is kept).

    Example:
        >>> import numpy as np
        >>> m = np.array([[4.0, 1.0], [2.0, 3.0]])
        >>> lu_of(m) is lu_of(m)
        True
        >>> m[0, 0] = 5.0  # written in place: factorized again
        >>> np.isclose(lu_of(m).slogdet()[1], np.log(13.0))
        np.True_
        >>> lu_of(np.ones((2, 3))) is None, lu_of(np.eye(2, dtype=np.float32)) is None
        (True, True)
    """
    if not _factorizable(a):
        return None
    key = id(a)
    with _lock:
        entry = _entries.get(key)
        if entry is not None:
            _entries.move_to_end(key)
    if (
        entry is not None
        and entry.array() is a
        and entry.contents.dtype == a.dtype
        and np.array_equal(entry.contents, a)
    ):
        return entry.lu
    if a.nbytes > SHARED_BYTES:
        return LU(a) if np.isfinite(a).all() else None
    # Factorize the copy kept, so that the factorization is of exactly the contents compared.
    contents = a.copy()
    if not np.isfinite(contents).all():
        return None
    entry = _Entry(weakref.ref(a, partial(_forget, key)), contents, LU(contents))
    with _lock:
        _entries[key] = entry
        _entries.move_to_end(key)
        while len(_entries) > _CAPACITY:
            _entries.popitem(last=False)
    return entry.lu


# --- forward rules: an LU's tangent is its matrix's --------------------------------------------


def _zero(d) -> bool:
    return isinstance(d, AbstractZero)


@frule.register(lu_of)
def _lu_of_frule(tangents: tuple, a):
    lu = lu_of(a)
    return lu, ZeroTangent() if lu is None else tangents[1]


@frule.register(LU.solve)
def _solve_frule(tangents: tuple, lu: LU, b: np.ndarray, adjoint: bool = False):
    # x = A⁻¹ b: dx = A⁻¹ (db − dA x); with adjoint, x = A⁻ᴴ b: dx = A⁻ᴴ (db − dAᴴ x)
    _, da, db = tangents[:3]
    x = lu.solve(b, adjoint)
    change = ZeroTangent() if _zero(db) else db
    if not _zero(da):
        change = change - (np.conj(da).T if adjoint else da) @ x
    return x, change if _zero(change) else lu.solve(change, adjoint)


@frule.register(LU.inverse)
def _inverse_frule(tangents: tuple, lu: LU):
    y = lu.inverse()
    da = tangents[1]
    return y, ZeroTangent() if _zero(da) else -(y @ da @ y)


@frule.register(LU.slogdet)
def _slogdet_frule(tangents: tuple, lu: LU):
    # d log|det A| = Re tr(A⁻¹ dA); a complex A's sign turns by i Im tr(A⁻¹ dA) (a singular A
    # has none: lu.solve raises numpy's LinAlgError, as np.linalg.slogdet's rule does)
    sign, logdet = lu.slogdet()
    da = tangents[1]
    if _zero(da):
        return (sign, logdet), ZeroTangent()
    t = np.trace(lu.solve(da))
    dsign = ZeroTangent() if lu.dtype.kind == "f" else sign * 1j * t.imag
    return (sign, logdet), Tangent(tuple, dsign, np.real(t))
