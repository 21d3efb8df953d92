"""Forward mode for users: ``jvp`` (value and directional derivative) and ``pushforward``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrules_core import NoTangent, Tangent
from zygote_engine.api import check_callable
from zygote_engine.batched import Batched
from zygote_engine.config import ForwardConfig
from zygote_engine.forward_runtime import jcall
from zygote_engine.public import public_tangent
from zygote_engine.recursion import room_to_recurse
from zygote_engine.tangent_table import reaches_tracked

__all__ = ["forward_pass", "jvp", "pushforward"]

_NO = NoTangent()


def jvp(f: Callable, primals: tuple, tangents: tuple) -> tuple[Any, Any]:
    """``(y, dy)``: the value of ``f(*primals)`` and its derivative along ``tangents``.

    Forward mode: the function runs once, each value beside its tangent, through ``frule`` s
    and the forward-mode transform of Python code. ``tangents`` has one tangent per primal, of
    the same structure (a float for a number, an array of the same shape for an array, a list
    for a list, ...; ``None`` for no tangent). ``dy`` has the structure of ``y``: a float for a
    number, an array for an array (zeros where no tangent reached it), lists, tuples and dicts
    item by item, ``Tangent`` s for other objects.

    Example:
        >>> import numpy as np
        >>> from zygote_engine import jvp
        >>> jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0))
        (6.0, 3.0)
        >>> y, dy = jvp(np.sin, (np.array([0.0, np.pi]),), (np.array([1.0, 2.0]),))
        >>> dy
        array([ 1., -2.])
    """
    check_callable(f, "jvp")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp got {len(primals)} primals and {len(tangents)} tangents: pass one tangent per "
            "primal (None where an argument has no tangent)"
        )
    y, dy = forward_pass(f, primals, tangents)
    return y, public_tangent(y, dy)


def forward_pass(f: Callable, primals: tuple, tangents: tuple, df: Any = _NO) -> tuple[Any, Any]:
    """``(y, dy)`` as :func:`jvp` computes them, ``dy`` in the engine's form (a ``Tangent``, a
    zero, a :class:`~zygote_engine.batched.Batched` for a batch of tangents, ...); ``df`` is the
    tangent of ``f`` itself (of what it captures)."""
    fx = ForwardConfig()
    dargs = []
    for x, dx in zip(primals, tangents):
        dx = _seed(x, dx)
        if reaches_tracked(x):
            fx.record(x, dx)
        dargs.append(dx)
    with room_to_recurse():
        y, dy = jcall(fx, (f, *primals), (df, *dargs))
    if fx.written is not None and fx.written.shadows:  # arrays written in place
        dy = fx.written.result_tangent(y, dy)
    return y, fx.tangent(y, dy)


def pushforward(f: Callable, *primals: Any) -> Callable[..., Any]:
    """The function ``(*tangents) -> dy`` of the derivative of ``f`` at ``primals``.

    Each call runs ``f`` again in forward mode along the tangents it is given.

    Example:
        >>> from zygote_engine import pushforward
        >>> df = pushforward(lambda x, y: x**2 * y, 3.0, 2.0)
        >>> df(1.0, 0.0), df(0.0, 1.0)
        (12.0, 9.0)
    """

    def pushforward_at(*tangents: Any) -> Any:
        return jvp(f, primals, tangents)[1]

    return pushforward_at


def _seed(x: Any, dx: Any) -> Any:
    """A user's tangent of ``x`` in the engine's form (structures become ``Tangent`` s)."""
    if dx is None:
        return _NO
    if type(dx) is Batched:
        return dx
    if isinstance(x, (list, tuple)) and isinstance(dx, (list, tuple)):
        items = tuple(_seed(a, d) for a, d in zip(x, dx))
        if hasattr(type(x), "_fields"):
            return Tangent.from_backing(type(x), dict(zip(type(x)._fields, items)))
        return Tangent.from_backing(type(x), items)
    if isinstance(x, dict) and isinstance(dx, dict):
        return Tangent.from_backing(dict, {k: _seed(x[k], d) for k, d in dx.items()})
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        dx = np.asarray(dx, dtype=np.result_type(x.dtype, np.asarray(dx).dtype))
        if dx.shape != x.shape:
            raise ValueError(
                f"the tangent of an array of shape {x.shape} has shape {dx.shape}: give it the "
                "array's shape"
            )
    return dx
