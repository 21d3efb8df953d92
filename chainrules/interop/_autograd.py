"""HIPS autograd: a function with a rule as an ``autograd.extend.primitive``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chainrules.interop._calls import (
    array_cotangents,
    as_array,
    output_cotangent,
    output_parts,
    output_tangent_parts,
    rebuild_output,
    require_rrule,
    run_frule,
    run_rrule,
    split_call,
)
from chainrules_core import ZeroTangent


class _Call:
    """One call of a wrapped function: the primitive's first argument, never boxed.

    The primitive's forward run leaves the pullback here, for the vjp of the same call.
    """

    def __init__(self, skeleton: tuple, kwargs: dict):
        self.skeleton, self.kwargs = skeleton, kwargs
        self.container: type | None = None
        self.pullback: Callable | None = None


def to_autograd(f: Callable) -> Callable:
    """``f`` as a function that autograd's ``grad`` differentiates with ``f``'s ``rrule``, and
    ``make_jvp`` with its ``frule``.

    The boxed arguments autograd is differentiating (at the top level or inside tuple and list
    arguments, as in ``np.concatenate((a, b))``) are the differentiated inputs; everything else,
    keyword arguments included, is a constant passed to the rule unchanged. A Python float that
    autograd differentiates reaches the rule as a float. Tuple outputs (NamedTuples too) come back
    as tuples. Called with nothing boxed, the wrapper calls ``f`` itself.

    The rule runs once per call for all the differentiated arguments (one ``defvjp_argnums``
    maker, not one ``defvjp`` per argument, which would run the pullback once per argument).
    Second derivatives through one rule are not supported: the pullback runs on numpy arrays,
    which autograd does not trace.

    Args:
        f: a function with a registered ``rrule``.

    Raises:
        TypeError: ``f`` has no ``rrule``.

    Example:
        >>> import numpy as np
        >>> from autograd import grad
        >>> from chainrules.interop import to_autograd
        >>> logdet = to_autograd(np.linalg.slogdet)
        >>> a = np.array([[2.0, 1.0], [1.0, 3.0]])
        >>> grad(lambda a: logdet(a).logabsdet)(a)  # the inverse's transpose
        array([[ 0.6, -0.2],
               [-0.2,  0.4]])
    """
    require_rrule(f, "to_autograd")
    from autograd.extend import Box, defjvp_argnums, defvjp_argnums, primitive

    def run(call: _Call, *xs: Any) -> Any:
        y, call.pullback = run_rrule(f, call.skeleton, list(xs), call.kwargs)
        parts, call.container = output_parts(y)
        # a plain tuple, which autograd boxes as a sequence (it has no box for NamedTuples)
        return parts[0] if call.container is None else tuple(parts)

    rule_primitive = primitive(run)

    def make_vjp(argnums: tuple, ans: Any, args: tuple, kwargs: dict) -> Callable:
        call, xs = args[0], args[1:]

        def vjp(dy):
            dys = [dy] if call.container is None else list(dy)
            dargs = call.pullback(output_cotangent(dys, call.container))[1:]  # first: f's own
            dxs = array_cotangents(call.skeleton, dargs)
            return tuple(as_array(dxs[i - 1], xs[i - 1]) for i in argnums)

        return vjp

    def jvp(argnums: tuple, tangents: tuple, ans: Any, args: tuple, kwargs: dict) -> Any:
        call, xs = args[0], list(args[1:])
        dxs: list = [ZeroTangent()] * len(xs)  # the arguments not differentiated in this pass
        for i, dx in zip(argnums, tangents):
            dxs[i - 1] = dx
        y, dy = run_frule(f, call.skeleton, xs, dxs, call.kwargs)
        parts = output_parts(y)[0]
        dys = [as_array(d, part) for d, part in zip(output_tangent_parts(dy, len(parts)), parts)]
        return dys[0] if call.container is None else tuple(dys)

    defvjp_argnums(rule_primitive, make_vjp)
    defjvp_argnums(rule_primitive, jvp)

    @functools.wraps(f)
    def on_boxes(*args: Any, **kwargs: Any) -> Any:
        boxes, skeleton = split_call(args, lambda value: isinstance(value, Box))
        if not boxes:
            return f(*args, **kwargs)
        call = _Call(skeleton, kwargs)
        y = rule_primitive(call, *boxes)
        return rebuild_output([y] if call.container is None else y, call.container)

    return on_boxes
