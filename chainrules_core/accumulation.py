"""Accumulating tangents (``add``) and building structural zeros (``zero_tangent``)."""

from __future__ import annotations

import dataclasses
import numbers
import types
from typing import Any

import numpy as np

from chainrules_core.arithmetic import tangent_add
from chainrules_core.tangents import (
    AbstractZero,
    InplaceableThunk,
    NoTangent,
    Tangent,
    Thunk,
    ZeroTangent,
    unthunk,
)


def add(a: Any, b: Any, *, inplace: bool = False) -> Any:
    """Accumulate tangent ``b`` into tangent ``a`` (Julia's ``add!!``).

    Zeros are identities, thunks are unthunked, ``Tangent`` s add fieldwise, plain lists add
    elementwise, numbers and arrays add as usual.

    Args:
        a: the accumulator.
        b: the tangent to add.
        inplace: the caller owns ``a`` (nothing else refers to it), so when ``a`` is a writeable
            array whose dtype and shape can hold the sum, the sum is written into ``a`` and ``a``
            is returned; an :class:`~chainrules_core.InplaceableThunk` then adds without allocating.

    Example:
        >>> import numpy as np
        >>> from chainrules_core import add, ZeroTangent, thunk
        >>> add(ZeroTangent(), 2.0)
        2.0
        >>> add(1.0, thunk(lambda: 2.0))
        3.0
        >>> acc = np.zeros(2)
        >>> add(acc, np.ones(2), inplace=True) is acc
        True
        >>> add([1.0, 2.0], [10.0, 20.0])
        [11.0, 22.0]
    """
    ta, tb = type(a), type(b)
    if ta is float and tb is float:  # the commonest case in scalar code
        return a + b
    if ta is ZeroTangent:  # the identity, and the accumulator's usual first value
        return b
    if tb is ZeroTangent:
        return a
    if not inplace:  # the commonest case in array code: two arrays, or a rule's plain thunks
        if ta is Thunk:
            a = a.unthunk()
            ta = type(a)
        if tb is Thunk:
            b = b.unthunk()
            tb = type(b)
        if ta is np.ndarray and tb is np.ndarray:
            return a + b
    if ta is LazySum:
        return a.plus(b)
    lazy = isinstance(b, InplaceableThunk) and (ta is np.ndarray or isinstance(a, InplaceableThunk))
    if lazy and not (inplace and ta is np.ndarray and _can_hold_sum(a, b)):
        return LazySum([a, b], 2)  # adding in place waits until the sum is needed
    if inplace and isinstance(a, np.ndarray) and _can_hold_sum(a, b):
        if isinstance(b, InplaceableThunk):
            return b.add_into(a)
        if isinstance(b, Thunk):
            b = b.unthunk()
        if isinstance(b, AbstractZero):
            return a
        np.add(a, b, out=a)
        return a
    if type(a) is list and type(b) is list:
        if len(a) != len(b):
            raise ValueError(f"cannot add list tangents of lengths {len(a)} and {len(b)}")
        return [add(x, y) for x, y in zip(a, b)]
    return tangent_add(a, b)


class LazySum(InplaceableThunk):
    """A sum of array tangents that some of its terms can add in place, evaluated when needed.

    Cotangents that touch a small part of an array (the reads ``x[t]`` of a loop, each an
    :class:`~chainrules_core.InplaceableThunk`) are collected, and evaluating the sum copies the
    first term once and adds the others into that copy in place: ``n`` reads of slices cost what
    the slices cost, not ``n`` arrays of the whole size. ``plus`` is amortised constant time
    (sums that share a prefix share one list of terms).

    Example:
        >>> import numpy as np
        >>> from chainrules_core import InplaceableThunk, add, unthunk
        >>> def row(i, v):
        ...     def into(buf):
        ...         buf[i] += v
        ...         return buf
        ...     return InplaceableThunk(into, lambda: into(np.zeros(3)))
        >>> total = add(add(row(0, 1.0), row(2, 5.0)), row(0, 1.0))
        >>> unthunk(total)
        array([2., 0., 5.])
    """

    __slots__ = ("count", "terms")

    def __init__(self, terms: list, count: int):
        self.terms, self.count = terms, count
        super().__init__(self._add_terms_into, self._evaluate)

    def plus(self, b: Any) -> LazySum:
        """This sum plus ``b``, sharing the list of terms when no other sum extended it."""
        if self.count == len(self.terms):
            self.terms.append(b)
            return LazySum(self.terms, self.count + 1)
        return LazySum([*self.terms[: self.count], b], self.count + 1)

    def _evaluate(self) -> Any:
        first = unthunk(self.terms[0])
        # a copy: the first term may be shared, and the others are added into the result
        total = np.array(first) if isinstance(first, np.ndarray) else first
        for term in self.terms[1 : self.count]:
            total = add(total, term, inplace=isinstance(total, np.ndarray))
        return total

    def _add_terms_into(self, buffer: np.ndarray) -> Any:
        for term in self.terms[: self.count]:
            buffer = add(buffer, term, inplace=True)
        return buffer


def _can_hold_sum(a: np.ndarray, b: Any) -> bool:
    if not a.flags.writeable:
        return False
    if isinstance(b, (InplaceableThunk, AbstractZero)):
        return True
    b = b.unthunk() if isinstance(b, Thunk) else b
    if isinstance(b, (Tangent, AbstractZero)):
        return isinstance(b, AbstractZero)
    return np.result_type(a, b) == a.dtype and np.broadcast_shapes(a.shape, np.shape(b)) == a.shape


def zero_tangent(x: Any) -> Any:
    """A structural zero tangent for the primal ``x``.

    Real numbers give ``0.0``, complex numbers ``0j``, float and complex arrays zero arrays of the
    same shape and dtype; tuples, lists, dicts, NamedTuples and dataclasses give a ``Tangent`` of
    zeros; booleans, integer arrays, strings, ``None`` and functions give ``NoTangent()``.

    Example:
        >>> import numpy as np
        >>> from chainrules_core import zero_tangent
        >>> zero_tangent((1.0, np.ones(2, np.float32)))
        Tangent[tuple](0.0, array([0., 0.], dtype=float32))
        >>> zero_tangent({"n": 3, "s": "x"})
        Tangent[dict]({'n': 0.0, 's': NoTangent()})
    """
    if isinstance(x, (bool, np.bool_, str, bytes, type(None))) or (
        callable(x) and not callable_has_state(x)
    ):
        return NoTangent()
    if isinstance(x, np.ndarray):
        return np.zeros_like(x) if x.dtype.kind in "fc" else NoTangent()
    if isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real):
        return 0j
    if isinstance(x, numbers.Real):
        return type(x)(0) if isinstance(x, np.floating) else 0.0
    if isinstance(x, dict):
        return Tangent.from_backing(type(x), {k: zero_tangent(v) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return Tangent.from_backing(type(x), {k: zero_tangent(v) for k, v in zip(x._fields, x)})
    if isinstance(x, (tuple, list)):
        return Tangent.from_backing(type(x), tuple(map(zero_tangent, x)))
    if dataclasses.is_dataclass(x):
        fields = {f.name: zero_tangent(getattr(x, f.name)) for f in dataclasses.fields(x)}
        return Tangent.from_backing(type(x), fields)
    if hasattr(x, "__dict__"):
        return Tangent.from_backing(type(x), {k: zero_tangent(v) for k, v in vars(x).items()})
    return ZeroTangent()


_STATELESS_CALLABLES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    type,
    np.ufunc,
)


def callable_has_state(f: Any) -> bool:
    """Whether a callable carries differentiable state: a dataclass or an object with attributes."""
    if isinstance(f, _STATELESS_CALLABLES):
        return False
    return dataclasses.is_dataclass(f) or bool(getattr(f, "__dict__", None))
