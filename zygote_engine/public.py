"""The user-facing forms of derivatives: what ``gradient`` and ``jvp`` return for each value.

A number's derivative is a float, an array's an array of its shape, a list's a list, a tuple's a
tuple, a dict's a dict with the same keys, another object's a ``Tangent``. Where no derivative
reached a part, ``gradient`` gives ``None`` (there is no gradient to give) and ``jvp`` a zero of
the part's kind (the directional derivative is zero).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from chainrules_core import AbstractZero, NoTangent, ProjectTo, Tangent, ZeroTangent, unthunk
from zygote_engine.store import contents_of

__all__ = ["engine_tangent", "public_gradient", "public_tangent"]

_NO = NoTangent()
_FLOAT = frozenset({float})


def public_gradient(x: Any, dx: Any, held: Any = None) -> Any:
    """The user-facing form of the gradient ``dx`` of the argument ``x`` (see ``gradient``).

    ``held`` is what the container ``x`` held when it was passed in (it may have been mutated).

    Example:
        >>> from chainrules_core import Tangent, ZeroTangent
        >>> public_gradient([1.0, 2.0], Tangent(list, 3.0, ZeroTangent()))
        [3.0, None]
    """
    if type(x) is float and type(dx) is float:
        return dx
    if (
        type(x) is np.ndarray
        and type(dx) is np.ndarray
        and dx.dtype is x.dtype
        and dx.shape == x.shape
        and dx.dtype.kind == "f"
    ):
        return dx
    dx = unthunk(dx)
    if isinstance(dx, AbstractZero) or dx is None:
        return None
    if isinstance(x, (bool, np.bool_)) or (isinstance(x, np.ndarray) and x.dtype.kind in "biu"):
        return None
    if isinstance(x, numbers.Number) and not isinstance(x, np.ndarray):
        dx = ProjectTo(x)(dx)
        return (
            None
            if isinstance(dx, AbstractZero)
            else (complex(dx) if isinstance(dx, complex) else float(dx))
        )
    if isinstance(x, np.ndarray):
        dx = ProjectTo(x)(dx)
        return None if isinstance(dx, AbstractZero) else dx
    if type(x) is _grads_type():  # one gradient per parameter, as a Grads of the same Params
        items = _grads_items(dx, len(x))
        return type(x)(x.params, (public_gradient(g, d) for g, d in zip(x.values(), items)))
    held = contents_of(x) if held is None else held
    if type(x) in (list, tuple):
        items = dx.backing if isinstance(dx, Tangent) else dx
        if _FLOAT.issuperset(map(type, held)) and _FLOAT.issuperset(map(type, items)):
            return type(x)(items)  # (a list of numbers, the common case: no item to convert)
        return type(x)(
            d if type(a) is float and type(d) is float else public_gradient(a, d)
            for a, d in zip(held, items)
        )
    if type(x) is dict:
        return {k: public_gradient(v, dx[k]) for k, v in held.items()}
    if isinstance(dx, Tangent) and isinstance(dx.backing, dict) and isinstance(held, dict):
        # an object's fields: a float's gradient is a float, as for an argument (scalar code
        # with numpy scalars in it computes numpy ones)
        fields = {
            k: float(d) if type(d) is np.float64 and type(held.get(k)) is float else d
            for k, d in dx.backing.items()
        }
        return Tangent.from_backing(dx.primal_type, fields)
    return dx


def public_tangent(y: Any, dy: Any) -> Any:
    """The user-facing form of the tangent ``dy`` of ``y`` (see ``jvp``).

    Example:
        >>> import numpy as np
        >>> from chainrules_core import ZeroTangent
        >>> public_tangent((np.ones(2), 1.0), ZeroTangent())
        (array([0., 0.]), 0.0)
    """
    dy = unthunk(dy)
    if type(y) is _grads_type():  # one tangent per parameter, as a Grads of the same Params
        items = _grads_items(dy, len(y))
        return type(y)(y.params, (public_tangent(g, d) for g, d in zip(y.values(), items)))
    if isinstance(y, np.ndarray):
        if y.dtype.kind not in "fc":
            return None
        if isinstance(dy, AbstractZero):
            return np.zeros(y.shape, dtype=y.dtype)
        return np.asarray(dy, dtype=np.result_type(y.dtype, np.asarray(dy).dtype)).reshape(y.shape)
    if isinstance(y, (bool, np.bool_)) or not isinstance(y, (numbers.Number, list, tuple, dict)):
        return None if isinstance(dy, AbstractZero) else dy
    if isinstance(y, numbers.Number):
        if isinstance(y, numbers.Integral) and isinstance(dy, AbstractZero):
            return None
        if isinstance(dy, AbstractZero):
            return 0.0
        return complex(dy) if isinstance(y, complex) or np.iscomplexobj(dy) else float(dy)
    if isinstance(y, dict):
        backing = dy.backing if isinstance(dy, Tangent) else {}
        return {k: public_tangent(v, backing.get(k, _NO)) for k, v in y.items()}
    if isinstance(dy, Tangent):
        items = dy.backing
        if isinstance(items, dict):
            items = tuple(items.get(k, _NO) for k in getattr(type(y), "_fields", ()))
    elif isinstance(dy, AbstractZero):
        items = (_NO,) * len(y)
    else:
        items = tuple(dy)
    parts = [public_tangent(a, d) for a, d in zip(y, items)]
    if hasattr(type(y), "_fields"):
        return type(y)(*parts)
    return type(y)(parts)


def engine_tangent(dx: Any) -> Any:
    """A tangent the engine accumulates, from a user's: ``None`` (also nested) is a zero.

    Example:
        >>> engine_tangent((1.0, None, [None, 2.0]))
        (1.0, ZeroTangent(), [ZeroTangent(), 2.0])
    """
    if dx is None:
        return ZeroTangent()
    if type(dx) is _grads_type():
        return Tangent(type(dx), *map(engine_tangent, dx.values()))
    if type(dx) in (tuple, list):
        return type(dx)(map(engine_tangent, dx))
    if type(dx) is dict:
        return {k: engine_tangent(v) for k, v in dx.items()}
    return dx


def _grads_type() -> type:
    from zygote_engine.params import Grads  # params builds on this module

    return Grads


def _grads_items(d: Any, n: int) -> tuple:
    """The per-parameter items of the engine's tangent of a ``Grads``: ``Tangent(Grads, ...)``,
    one item per parameter in the order of its ``Params`` (see :mod:`zygote_engine.lib.implicit`)."""
    if isinstance(d, Tangent) and isinstance(d.backing, tuple):
        return d.backing
    return (_NO,) * n
