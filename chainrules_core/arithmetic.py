"""Tangent arithmetic, with the precedence of the kinds of tangent written down in one place.

When two tangents meet in ``+``, ``-``, ``*``, ``/`` or ``@``, the operand of higher kind decides:

====================  ==========================================================================
kind (high to low)    behaviour
====================  ==========================================================================
``NoTangent``         absorbs ``*``, ``/``, ``@``; is the identity of ``+`` except with a zero
``ZeroTangent``       absorbs ``*``, ``/``, ``@``; is the identity of ``+``
``Thunk``             is unthunked, then the operation is retried on the value
``Tangent``           fieldwise ``+`` with a ``Tangent`` of the same primal type; scaled by a number
plain values          numbers and arrays use their own operators
====================  ==========================================================================

Between the two zeros the higher kind wins: ``NoTangent() + ZeroTangent()`` is ``NoTangent()``.
The operators of the tangent classes are installed here, rather than in each class's module, so the
whole table reads in one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core.tangents import AbstractZero, NoTangent, Tangent, Thunk

VALUE, STRUCTURAL, THUNK, ZERO, NO_TANGENT = range(5)


def kind(x: Any) -> int:
    """The precedence kind of a tangent: higher kinds decide the result of arithmetic."""
    if isinstance(x, AbstractZero):
        return NO_TANGENT if isinstance(x, NoTangent) else ZERO
    if isinstance(x, Thunk):
        return THUNK
    if isinstance(x, Tangent):
        return STRUCTURAL
    return VALUE


def tangent_add(a: Any, b: Any) -> Any:
    """``a + b`` under the precedence rules (never modifies either operand)."""
    ka, kb = kind(a), kind(b)
    if ka == VALUE and kb == VALUE:
        return a + b
    if ka >= ZERO and kb >= ZERO:
        return a if ka >= kb else b
    if ka >= ZERO:
        return b
    if kb >= ZERO:
        return a
    if ka == THUNK or kb == THUNK:
        return tangent_add(a.unthunk() if ka == THUNK else a, b.unthunk() if kb == THUNK else b)
    return _add_structural(a, b)


def tangent_neg(a: Any) -> Any:
    """``-a`` under the precedence rules."""
    k = kind(a)
    if k >= ZERO:
        return a
    if k == THUNK:
        return tangent_neg(a.unthunk())
    if k == STRUCTURAL:
        return _map_structural(tangent_neg, a)
    return -a


def tangent_sub(a: Any, b: Any) -> Any:
    """``a - b`` under the precedence rules."""
    return tangent_add(a, tangent_neg(b))


def tangent_mul(a: Any, b: Any) -> Any:
    """``a * b`` under the precedence rules: zeros absorb, structural tangents scale by numbers."""
    ka, kb = kind(a), kind(b)
    if ka == VALUE and kb == VALUE:
        return a * b
    if ka >= ZERO or kb >= ZERO:
        return a if ka >= kb else b
    if ka == THUNK or kb == THUNK:
        return tangent_mul(a.unthunk() if ka == THUNK else a, b.unthunk() if kb == THUNK else b)
    if ka == STRUCTURAL and kb == STRUCTURAL:
        raise TypeError(
            f"cannot multiply two structural tangents ({a.primal_type.__name__} and "
            f"{b.primal_type.__name__}); only scaling by a number is defined"
        )
    tangent, scale = (a, b) if ka == STRUCTURAL else (b, a)
    _check_scalar(scale, tangent)
    return _map_structural(lambda v: tangent_mul(v, scale), tangent)


def tangent_truediv(a: Any, b: Any) -> Any:
    """``a / b``: a zero numerator stays zero; a structural tangent divides fieldwise by a number."""
    ka, kb = kind(a), kind(b)
    if ka >= ZERO:
        return a
    if kb >= ZERO:
        raise ZeroDivisionError(f"cannot divide a tangent by {b!r}")
    if ka == THUNK or kb == THUNK:
        return tangent_truediv(a.unthunk() if ka == THUNK else a, b.unthunk() if kb == THUNK else b)
    if kb == STRUCTURAL:
        raise TypeError("cannot divide by a structural tangent")
    if ka == STRUCTURAL:
        _check_scalar(b, a)
        return _map_structural(lambda v: tangent_truediv(v, b), a)
    return a / b


def tangent_matmul(a: Any, b: Any) -> Any:
    """``a @ b``: zeros absorb, thunks are unthunked; structural tangents have no matrix product."""
    ka, kb = kind(a), kind(b)
    if ka >= ZERO or kb >= ZERO:
        return a if ka >= kb else b
    if ka == THUNK or kb == THUNK:
        return tangent_matmul(a.unthunk() if ka == THUNK else a, b.unthunk() if kb == THUNK else b)
    if ka == STRUCTURAL or kb == STRUCTURAL:
        raise TypeError("structural tangents have no matrix product")
    return a @ b


def _check_scalar(scale: Any, tangent: Tangent) -> None:
    if isinstance(scale, (dict, list, tuple, Tangent)) or np.ndim(scale) != 0:
        raise TypeError(
            f"a Tangent[{tangent.primal_type.__name__}] can only be scaled by a number, "
            f"not by a {type(scale).__name__}"
        )


def _map_structural(fn, t: Tangent) -> Tangent:
    backing = t.backing
    if isinstance(backing, tuple):
        return Tangent.from_backing(t.primal_type, tuple(map(fn, backing)))
    return Tangent.from_backing(t.primal_type, {k: fn(v) for k, v in backing.items()})


def _add_structural(a: Any, b: Any) -> Tangent:
    if not (isinstance(a, Tangent) and isinstance(b, Tangent)):
        other, t = (b, a) if isinstance(a, Tangent) else (a, b)
        raise TypeError(
            f"cannot add a Tangent[{t.primal_type.__name__}] and a {type(other).__name__}: "
            "the tangent of a composite value must itself be a Tangent of the same type"
        )
    if a.primal_type is not b.primal_type:
        raise TypeError(
            f"cannot add tangents of different types: Tangent[{a.primal_type.__name__}] and "
            f"Tangent[{b.primal_type.__name__}]"
        )
    x, y = a.backing, b.backing
    if isinstance(x, tuple) and isinstance(y, tuple):
        if len(x) != len(y):
            raise ValueError(
                f"cannot add Tangent[{a.primal_type.__name__}]s of lengths {len(x)} and {len(y)}"
            )
        return Tangent.from_backing(a.primal_type, tuple(map(tangent_add, x, y)))
    if isinstance(x, tuple) or isinstance(y, tuple):
        raise TypeError(f"cannot add a positional and a named Tangent[{a.primal_type.__name__}]")
    merged = dict(x)
    for key, value in y.items():
        merged[key] = tangent_add(merged[key], value) if key in merged else value
    return Tangent.from_backing(a.primal_type, merged)


def _install_operators(cls: type) -> None:
    cls.__add__ = lambda self, other: tangent_add(self, other)
    cls.__radd__ = lambda self, other: tangent_add(other, self)
    cls.__sub__ = lambda self, other: tangent_sub(self, other)
    cls.__rsub__ = lambda self, other: tangent_sub(other, self)
    cls.__mul__ = lambda self, other: tangent_mul(self, other)
    cls.__rmul__ = lambda self, other: tangent_mul(other, self)
    cls.__truediv__ = lambda self, other: tangent_truediv(self, other)
    cls.__rtruediv__ = lambda self, other: tangent_truediv(other, self)
    cls.__matmul__ = lambda self, other: tangent_matmul(self, other)
    cls.__rmatmul__ = lambda self, other: tangent_matmul(other, self)
    cls.__neg__ = tangent_neg
    cls.__pos__ = lambda self: self


for _cls in (AbstractZero, Thunk, Tangent):
    _install_operators(_cls)
