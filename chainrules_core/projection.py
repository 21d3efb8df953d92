"""``ProjectTo``: map a raw tangent onto the tangent space of a primal value.

A rule builds the projector of each input in the forward pass (cheap: a small object holding the
input's dtype and shape) and applies it in the pullback, so that a real input gets a real cotangent,
a float32 array a float32 cotangent, an integer array ``NoTangent()``, and a broadcast scalar the
input's shape.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from chainrules_core.arrays import is_duck_array
from chainrules_core.tangents import AbstractZero, NoTangent, Tangent, Thunk


class ProjectionError(ValueError):
    """A tangent cannot be projected onto the primal's tangent space (for example, a shape mismatch)."""


class Projector:
    """Base class of projectors: ``p(dx)`` projects ``dx``; zeros pass through, thunks stay lazy."""

    __slots__ = ()

    def __call__(self, dx: Any) -> Any:
        if isinstance(dx, AbstractZero):
            return dx
        if isinstance(dx, Thunk):
            return Thunk(lambda: self(dx.unthunk()))
        return self.project(dx)

    def project(self, dx: Any) -> Any:
        raise NotImplementedError


class _ToNoTangent(Projector):
    __slots__ = ()

    def __call__(self, dx: Any) -> Any:
        return NoTangent()

    def __repr__(self) -> str:
        return "ProjectTo(NoTangent)"


class _Identity(Projector):
    __slots__ = ()

    def __call__(self, dx: Any) -> Any:
        return dx

    def __repr__(self) -> str:
        return "ProjectTo(identity)"


def _one_element(dx: Any, kind: str) -> Any:
    """``dx``, a scalar's tangent: 0-d if it is a duck array, which is kept as it is (lazy)."""
    shape = np.shape(dx)
    if math.prod(shape) != 1:
        raise ProjectionError(
            f"{kind} scalar's tangent must be a scalar, got an array of shape {shape}"
        )
    return np.reshape(dx, ()) if shape and is_duck_array(dx) else dx


class _ToReal(Projector):
    """Real scalars: take the real part; a size-1 array becomes a scalar of the primal's type."""

    __slots__ = ("scalar_type",)

    def __init__(self, scalar_type: type):
        self.scalar_type = scalar_type

    def project(self, dx: Any) -> Any:
        if type(dx) is self.scalar_type:
            return dx
        if type(dx) is np.float64 or type(dx) is float:
            return self.scalar_type(dx)
        value = np.real(_one_element(dx, "a real"))
        if is_duck_array(value):
            return value  # computed from a duck array: kept lazy, as a 0-d array of its type
        return self.scalar_type(value.item() if isinstance(value, np.ndarray) else value)

    def __repr__(self) -> str:
        return f"ProjectTo({self.scalar_type.__name__})"


class _ToComplex(Projector):
    __slots__ = ("scalar_type",)

    def __init__(self, scalar_type: type):
        self.scalar_type = scalar_type

    def project(self, dx: Any) -> Any:
        dx = _one_element(dx, "a complex")
        if is_duck_array(dx):
            return dx
        return self.scalar_type(dx.item() if isinstance(dx, np.ndarray) else dx)

    def __repr__(self) -> str:
        return f"ProjectTo({self.scalar_type.__name__})"


class _ToArray(Projector):
    """Float or complex arrays: keep the dtype (real part for a real dtype) and the shape."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype: np.dtype, shape: tuple[int, ...]):
        self.dtype = dtype
        self.shape = shape

    def __call__(self, dx: Any) -> Any:
        if type(dx) is np.ndarray and dx.dtype is self.dtype and dx.shape == self.shape:
            return dx  # already in the tangent space: the commonest case, checked first
        return Projector.__call__(self, dx)

    def project(self, dx: Any) -> Any:
        if self.dtype.kind == "f" and np.iscomplexobj(dx):
            dx = np.real(dx)
        if not isinstance(dx, np.ndarray) or dx.shape != self.shape:
            dx = self._reshape(dx)
        return dx if dx.dtype == self.dtype else dx.astype(self.dtype)

    def _reshape(self, dx: Any) -> np.ndarray:
        shape = np.shape(dx)
        if shape == self.shape:
            # a duck array's cotangent (data in dask) stays lazy: converting it here would compute
            # it in the middle of the backward pass
            return dx if is_duck_array(dx) else np.asarray(dx)
        size = math.prod(shape)
        if size == 1:
            if is_duck_array(dx):
                return np.broadcast_to(np.reshape(dx, ()), self.shape)
            return np.full(self.shape, np.asarray(dx).reshape(()), dtype=self.dtype)
        if size == math.prod(self.shape):
            return np.reshape(dx, self.shape)
        raise ProjectionError(
            f"cannot project a tangent of shape {shape} onto an array of shape {self.shape}; "
            "a rule returned a cotangent of the wrong shape (sum broadcast dimensions with "
            "`unbroadcast`)"
        )

    def __repr__(self) -> str:
        return f"ProjectTo(ndarray[{self.dtype}, {self.shape}])"


class _ToDuckArray(Projector):
    """Duck arrays (dask, CuPy): keep the real part for a real dtype, and the primal's array type.

    A number or a numpy array is turned into the primal's array type (``np.asarray(dx, like=x)``),
    so the cotangents of a dask array are dask arrays. Shapes are compared only where both are
    known (dask may not know the length of a chunked axis).
    """

    __slots__ = ("dtype", "like", "shape")

    def __init__(self, like: Any):
        self.like = like
        self.dtype = like.dtype
        self.shape = tuple(like.shape)

    def project(self, dx: Any) -> Any:
        if self.dtype.kind == "f" and np.iscomplexobj(dx):
            dx = np.real(dx)
        if not is_duck_array(dx):
            dx = np.asarray(dx, like=self.like)
        shape = tuple(dx.shape)
        if shape != self.shape:
            if shape == ():
                dx = np.broadcast_to(dx, self.shape)
            elif _known(shape) and _known(self.shape):
                raise ProjectionError(
                    f"cannot project a tangent of shape {shape} onto an array of shape "
                    f"{self.shape}; a rule returned a cotangent of the wrong shape"
                )
        return dx if dx.dtype == self.dtype else dx.astype(self.dtype)

    def __repr__(self) -> str:
        return f"ProjectTo({type(self.like).__name__}[{self.dtype}, {self.shape}])"


def _known(shape: tuple) -> bool:
    return all(n == n for n in shape)  # dask writes an unknown length as nan


class _ToSequence(Projector):
    """Tuples and lists: project item by item into a ``Tangent`` of the same type."""

    __slots__ = ("items", "primal_type")

    def __init__(self, primal_type: type, items: tuple[Projector, ...]):
        self.primal_type = primal_type
        self.items = items

    def project(self, dx: Any) -> Any:
        values = dx.backing if isinstance(dx, Tangent) else tuple(dx)
        if len(values) != len(self.items):
            raise ProjectionError(
                f"cannot project {len(values)} tangents onto a {self.primal_type.__name__} "
                f"of length {len(self.items)}"
            )
        return Tangent.from_backing(
            self.primal_type, tuple(p(v) for p, v in zip(self.items, values))
        )

    def __repr__(self) -> str:
        return f"ProjectTo({self.primal_type.__name__} of {len(self.items)})"


_NO_TANGENT = _ToNoTangent()
_IDENTITY = _Identity()
_FLOAT = _ToReal(float)
_COMPLEX = _ToComplex(complex)

_BY_TYPE = {
    float: lambda x: _FLOAT,
    int: lambda x: _FLOAT,
    complex: lambda x: _COMPLEX,
    bool: lambda x: _NO_TANGENT,
    np.ndarray: lambda x: _ToArray(x.dtype, x.shape) if x.dtype.kind in "fc" else _NO_TANGENT,
}


def ProjectTo(x: Any) -> Projector:
    """Return a projector ``p`` such that ``p(dx)`` lies in the tangent space of ``x``.

    * real numbers: a real scalar (Python ``int`` and ``float`` project to ``float``; numpy scalars
      keep their type);
    * float and complex arrays: an array of ``x``'s dtype and shape (a scalar or size-1 tangent is
      broadcast back; the real part is kept for a real array);
    * integer and boolean arrays, booleans: ``NoTangent()``;
    * tuples and lists: item by item;
    * arrays of other libraries that follow numpy's dispatch protocols (dask, CuPy; see
      :mod:`chainrules_core.arrays`): as numpy arrays, in the primal's array type;
    * anything else: unchanged. Zeros pass through; a thunk is projected lazily.

    Example:
        >>> import numpy as np
        >>> from chainrules_core import ProjectTo
        >>> ProjectTo(1.0)(2 + 3j)
        2.0
        >>> ProjectTo(np.ones(3, np.float32))(1.5)
        array([1.5, 1.5, 1.5], dtype=float32)
        >>> ProjectTo(np.arange(3))(np.ones(3))
        NoTangent()
    """
    make = _BY_TYPE.get(type(x))
    if make is not None:
        return make(x)
    if isinstance(x, np.ndarray):
        return _BY_TYPE[np.ndarray](x)
    if isinstance(x, (bool, np.bool_)):
        return _NO_TANGENT
    if isinstance(x, np.integer):
        return _FLOAT
    if isinstance(x, (np.floating, np.complexfloating)):
        return _ToComplex(type(x)) if isinstance(x, np.complexfloating) else _ToReal(type(x))
    if isinstance(x, numbers.Real):
        return _FLOAT
    if isinstance(x, numbers.Complex):
        return _COMPLEX
    if isinstance(x, (tuple, list)) and not hasattr(type(x), "_fields"):
        return _ToSequence(type(x), tuple(map(ProjectTo, x)))
    if is_duck_array(x):
        return _ToDuckArray(x) if x.dtype.kind in "fc" else _NO_TANGENT
    return _IDENTITY
