"""Several tangents through one forward pass: the columns of a Jacobian or a Hessian together.

A :class:`Batched` tangent holds ``k`` tangents of one value, stacked along a leading axis. The
engine's own machinery moves it like any tangent, and linear arithmetic on it (sums, scaling by
primal values, as in the engine's inline code and tangent arithmetic) acts on all ``k`` at
once. A rule of the rule library sees one tangent at a time: the forward call protocol calls it
once per column and stacks the results (:func:`columns`, :func:`stacked`), so no rule has to know
about batches. Anything that would look inside a batch as if it were one array (``np.asarray``,
indexing) raises :class:`BatchingError`, and the caller falls back to one pass per column:
batching may be slow somewhere, never wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core import AbstractZero, Tangent, ZeroTangent, unthunk
from zygote_engine.errors import ZygoteError

__all__ = ["Batched", "BatchingError", "column", "stacked"]

_ZERO = ZeroTangent()


class BatchingError(ZygoteError):
    """Something looked inside a batch of tangents: take the columns one pass at a time."""


class Batched:
    """``k`` tangents of one value, ``values[i]`` the ``i``-th.

    Example:
        >>> import numpy as np
        >>> b = Batched(np.eye(2))
        >>> (b * np.array([3.0, 4.0]) + b).values
        array([[4., 0.],
               [0., 5.]])
    """

    __slots__ = ("values",)
    __array_ufunc__ = None  # numpy must not treat a batch as one array

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __len__(self) -> int:
        raise BatchingError("a batch of tangents has no length of its own")

    def __array__(self, *args: Any, **kwargs: Any):
        raise BatchingError("a batch of tangents is not one array")

    def __getitem__(self, key: Any):
        raise BatchingError("a batch of tangents cannot be indexed as one array")

    def _scale(self, other: Any) -> Batched:
        if isinstance(other, Batched):
            raise BatchingError("a product of two tangents is not a tangent")
        if isinstance(other, AbstractZero):
            return _ZERO
        other = np.asarray(other)
        if other.ndim > self.values.ndim - 1:  # it would broadcast into the batch axis
            raise BatchingError("a factor with more axes than the batch's tangents")
        return Batched(self.values * other)

    def __mul__(self, other: Any) -> Any:
        return self._scale(other)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Any:
        return self._scale(1.0 / np.asarray(other))

    def __neg__(self) -> Batched:
        return Batched(-self.values)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, AbstractZero):
            return self
        if isinstance(other, Batched):
            return Batched(self.values + other.values)
        raise BatchingError("a batch of tangents plus a single tangent")

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:
        return self + (-other if isinstance(other, Batched) else other)

    def __rsub__(self, other: Any) -> Any:
        return -self + other

    def __repr__(self) -> str:
        return f"Batched({len(self.values)} x {self.values.shape[1:]})"


def batch_size(tangents: tuple) -> int:
    """The batch size of the first batch among ``tangents`` (nested in structures), or 0."""
    for t in tangents:
        if type(t) is Batched:
            return len(t.values)
        if isinstance(t, Tangent):
            inner = t.backing.values() if isinstance(t.backing, dict) else t.backing
            size = batch_size(tuple(inner))
            if size:
                return size
        elif type(t) in (tuple, list):
            size = batch_size(tuple(t))
            if size:
                return size
    return 0


def column(t: Any, i: int) -> Any:
    """The ``i``-th tangent of a batch (structures are taken apart and put back together)."""
    if type(t) is Batched:
        return t.values[i]
    if isinstance(t, Tangent):
        backing = t.backing
        if isinstance(backing, dict):
            return Tangent.from_backing(
                t.primal_type, {k: column(v, i) for k, v in backing.items()}
            )
        return Tangent.from_backing(t.primal_type, tuple(column(v, i) for v in backing))
    if type(t) in (tuple, list):
        return type(t)(column(v, i) for v in t)
    return t


def stacked(columns: list) -> Any:
    """The batch of the tangents ``columns`` (zeros become zeros of the others' shape)."""
    columns = [unthunk(c) for c in columns]
    present = next((c for c in columns if not isinstance(c, AbstractZero)), None)
    if present is None:
        return columns[0]
    if isinstance(present, Tangent):
        backing = present.backing

        def part(c: Any, key: Any) -> Any:
            return _ZERO if isinstance(c, AbstractZero) else c.backing[key]

        keys = backing.keys() if isinstance(backing, dict) else range(len(backing))
        parts = {k: stacked([part(c, k) for c in columns]) for k in keys}
        if isinstance(backing, dict):
            return Tangent.from_backing(present.primal_type, parts)
        return Tangent.from_backing(present.primal_type, tuple(parts[k] for k in keys))
    if type(present) in (tuple, list):
        return type(present)(
            stacked([_ZERO if isinstance(c, AbstractZero) else c[k] for c in columns])
            for k in range(len(present))
        )
    if not isinstance(present, (float, int, complex, np.ndarray, np.generic)):
        raise BatchingError(f"cannot stack tangents of type {type(present).__name__}")
    zero = np.zeros_like(np.asarray(present))
    return Batched(np.stack([zero if isinstance(c, AbstractZero) else c for c in columns]))
