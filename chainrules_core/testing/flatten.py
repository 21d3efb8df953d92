"""Flatten primals and tangents to real vectors and back, so finite differences can treat any input.

A :class:`Layout` is built once from a primal value. It maps the primal's differentiable content
(real numbers, float/complex arrays, and those inside tuples, lists, dicts, NamedTuples, dataclasses
and plain objects) to a flat float64 vector, and maps tangent vectors back to natural tangents
(arrays of the primal's dtype, ``Tangent`` for composites). Complex numbers take two entries
(real, imaginary), so the real inner product of two flattened tangents is ``Re <a, b>``.
Non-differentiable parts (integers, booleans, integer arrays, strings, functions) take none;
an integer may still be given a real cotangent (``ProjectTo`` gives ints float cotangents), which
is accepted unchecked.
"""

from __future__ import annotations

import copy
import dataclasses
import numbers
from typing import Any

import numpy as np

from chainrules_core.accumulation import callable_has_state
from chainrules_core.tangents import AbstractZero, NoTangent, Tangent, Thunk, ZeroTangent

# Finite differences are evaluated in double precision even for single-precision inputs, so the
# reference derivative is accurate and only the rule under test carries float32 rounding.
_PROMOTED = {
    np.dtype(np.float16): np.float64,
    np.dtype(np.float32): np.float64,
    np.dtype(np.complex64): np.complex128,
}


class Layout:
    """How one primal value maps to a flat real vector (see the module docstring)."""

    size: int

    def values(self, x: Any) -> np.ndarray:
        """The primal's differentiable content as a flat float64 vector."""
        raise NotImplementedError

    def rebuild(self, x: Any, v: np.ndarray, promote: bool) -> Any:
        """A copy of primal ``x`` whose differentiable content is ``v`` (in double precision if ``promote``)."""
        raise NotImplementedError

    def tangent_values(self, dx: Any, where: str) -> np.ndarray:
        """A tangent of this primal as a flat vector (zeros for zero tangents)."""
        raise NotImplementedError

    def tangent(self, v: np.ndarray) -> Any:
        """The natural tangent whose flat vector is ``v``."""
        raise NotImplementedError


class _Constant(Layout):
    size = 0

    def values(self, x):
        return np.empty(0)

    def rebuild(self, x, v, promote):
        return x

    def tangent_values(self, dx, where):
        return np.empty(0)

    def tangent(self, v):
        return NoTangent()


class _Integer(_Constant):
    """Integers: finite differences cannot step them, but ``ProjectTo`` gives them real cotangents.

    So a zero or a real number is accepted as an integer's tangent, and not checked.
    """

    def tangent_values(self, dx, where):
        if np.iscomplexobj(dx) or np.ndim(dx) != 0:
            raise TypeError(f"{where}: an integer input got the tangent {dx!r}")
        return np.empty(0)


class _Real(Layout):
    size = 1

    def __init__(self, scalar_type: type):
        self.scalar_type = scalar_type

    def values(self, x):
        return np.array([float(x)])

    def rebuild(self, x, v, promote):
        return float(v[0]) if promote or self.scalar_type is int else self.scalar_type(v[0])

    def tangent_values(self, dx, where):
        if np.iscomplexobj(dx):
            raise TypeError(f"{where}: a real input got a complex tangent {dx!r}")
        if np.ndim(dx) != 0:
            raise TypeError(f"{where}: a real scalar input got a tangent of shape {np.shape(dx)}")
        return np.array([float(dx)])

    def tangent(self, v):
        return float(v[0]) if self.scalar_type in (int, float) else self.scalar_type(v[0])


class _Complex(Layout):
    size = 2

    def __init__(self, scalar_type: type):
        self.scalar_type = scalar_type

    def values(self, x):
        return np.array([x.real, x.imag], dtype=float)

    def rebuild(self, x, v, promote):
        z = complex(v[0], v[1])
        return z if promote else self.scalar_type(z)

    def tangent_values(self, dx, where):
        if np.ndim(dx) != 0:
            raise TypeError(
                f"{where}: a complex scalar input got a tangent of shape {np.shape(dx)}"
            )
        dx = complex(dx)
        return np.array([dx.real, dx.imag])

    def tangent(self, v):
        return self.scalar_type(complex(v[0], v[1]))


class _Array(Layout):
    def __init__(self, dtype: np.dtype, shape: tuple[int, ...]):
        self.dtype, self.shape = dtype, shape
        self.complex = dtype.kind == "c"
        self.count = int(np.prod(shape))
        self.size = self.count * (2 if self.complex else 1)

    def _flat(self, a: np.ndarray) -> np.ndarray:
        a = np.asarray(a).reshape(-1)
        if self.complex:
            return np.stack([a.real, a.imag], axis=-1).reshape(-1).astype(float)
        return a.astype(float)

    def _unflat(self, v: np.ndarray, dtype) -> np.ndarray:
        if self.complex:
            v = v[0::2] + 1j * v[1::2]
        return np.asarray(v, dtype=dtype).reshape(self.shape)

    def values(self, x):
        return self._flat(x)

    def rebuild(self, x, v, promote):
        dtype = _PROMOTED.get(self.dtype, self.dtype) if promote else self.dtype
        return self._unflat(v, dtype)

    def tangent_values(self, dx, where):
        if not self.complex and np.iscomplexobj(dx):
            raise TypeError(f"{where}: a real array got a complex tangent")
        if np.shape(dx) != self.shape:
            raise TypeError(
                f"{where}: tangent has shape {np.shape(dx)}, but the primal has shape {self.shape}"
            )
        return self._flat(dx)

    def tangent(self, v):
        return self._unflat(v, self.dtype)


class _Composite(Layout):
    """Tuples, lists, dicts, NamedTuples, dataclasses and plain objects: one child layout per part."""

    def __init__(self, x: Any, keys: tuple, parts: tuple, positional: bool):
        self.primal_type = type(x)
        self.keys = keys
        self.children = tuple(layout_of(p) for p in parts)
        self.positional = positional
        self.size = sum(c.size for c in self.children)

    def _parts(self, x):
        if isinstance(x, dict):
            return [x[k] for k in self.keys]
        if isinstance(x, (tuple, list)):
            return list(x)
        return [getattr(x, k) for k in self.keys]

    def _split(self, v):
        out, start = [], 0
        for child in self.children:
            out.append(v[start : start + child.size])
            start += child.size
        return out

    def values(self, x):
        parts = [c.values(p) for c, p in zip(self.children, self._parts(x))]
        return np.concatenate(parts) if parts else np.empty(0)

    def rebuild(self, x, v, promote):
        parts = [
            c.rebuild(p, w, promote)
            for c, p, w in zip(self.children, self._parts(x), self._split(v))
        ]
        if isinstance(x, dict):
            return type(x)(zip(self.keys, parts))
        if isinstance(x, tuple):
            return type(x)(*parts) if hasattr(type(x), "_fields") else type(x)(parts)
        if isinstance(x, list):
            return type(x)(parts)
        new = copy.copy(x)
        for key, part in zip(self.keys, parts):
            object.__setattr__(new, key, part)
        return new

    def _tangent_parts(self, dx, where):
        if isinstance(dx, Tangent):
            if dx.primal_type is not self.primal_type:
                raise TypeError(
                    f"{where}: got a Tangent[{dx.primal_type.__name__}] for a "
                    f"{self.primal_type.__name__}"
                )
            if isinstance(dx.backing, tuple):
                if len(dx.backing) != len(self.children):
                    raise TypeError(
                        f"{where}: tangent has {len(dx.backing)} items, primal has "
                        f"{len(self.children)}"
                    )
                return list(dx.backing)
            unknown = set(dx.backing) - set(self.keys)
            if unknown:
                raise TypeError(
                    f"{where}: tangent has fields {sorted(map(str, unknown))} that the primal lacks"
                )
            return [dx.backing.get(k, ZeroTangent()) for k in self.keys]
        if isinstance(dx, dict) and issubclass(self.primal_type, dict):
            return [dx.get(k, ZeroTangent()) for k in self.keys]
        if isinstance(dx, (tuple, list)) and self.positional and len(dx) == len(self.children):
            return list(dx)
        raise TypeError(
            f"{where}: the tangent of a {self.primal_type.__name__} must be a Tangent, got "
            f"{type(dx).__name__}"
        )

    def tangent_values(self, dx, where):
        parts = self._tangent_parts(dx, where)
        by_item = self.positional or issubclass(self.primal_type, dict)
        vecs = [
            tangent_vector(c, d, f"{where}[{k!r}]" if by_item else f"{where}.{k}")
            for c, d, k in zip(self.children, parts, self.keys)
        ]
        return np.concatenate(vecs) if vecs else np.empty(0)

    def tangent(self, v):
        parts = [c.tangent(w) for c, w in zip(self.children, self._split(v))]
        if self.positional and not hasattr(self.primal_type, "_fields"):
            return Tangent.from_backing(self.primal_type, tuple(parts))
        return Tangent.from_backing(self.primal_type, dict(zip(self.keys, parts)))


def tangent_vector(layout: Layout, dx: Any, where: str) -> np.ndarray:
    """Flatten tangent ``dx`` of a primal with ``layout``; zeros become zero vectors, thunks are unthunked."""
    if isinstance(dx, Thunk):
        dx = dx.unthunk()
    if isinstance(dx, AbstractZero):
        return np.zeros(layout.size)
    if type(layout) is _Constant:
        raise TypeError(f"{where}: a non-differentiable input must get NoTangent(), got {dx!r}")
    return layout.tangent_values(dx, where)


def layout_of(x: Any) -> Layout:
    """The :class:`Layout` of primal ``x``."""
    if isinstance(x, (bool, np.bool_, str, bytes, type(None))):
        return _Constant()
    if isinstance(x, (int, np.integer)):
        return _Integer()
    if isinstance(x, np.ndarray):
        return _Array(x.dtype, x.shape) if x.dtype.kind in "fc" else _Constant()
    if isinstance(x, numbers.Real):
        return _Real(type(x))
    if isinstance(x, numbers.Complex):
        return _Complex(type(x))
    if isinstance(x, dict):
        keys = tuple(x)
        return _Composite(x, keys, tuple(x[k] for k in keys), positional=False)
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return _Composite(x, tuple(x._fields), tuple(x), positional=False)
    if isinstance(x, (tuple, list)):
        return _Composite(x, tuple(range(len(x))), tuple(x), positional=True)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        names = tuple(f.name for f in dataclasses.fields(x))
        return _Composite(x, names, tuple(getattr(x, n) for n in names), positional=False)
    if (hasattr(x, "__dict__") and not callable(x)) or (callable(x) and callable_has_state(x)):
        state = vars(x)
        return _Composite(x, tuple(state), tuple(state.values()), positional=False)
    return _Constant()
