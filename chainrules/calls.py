"""Reading a rule's call: its arguments by name, and the tangents of its non-differentiable options."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from chainrules_core import AbstractZero, NoTangent, Tangent, ZeroTangent, frule, non_differentiable


@functools.cache
def signature_of(f: Callable) -> inspect.Signature:
    """``inspect.signature(f)``, computed once per function (rules ask on every call)."""
    return inspect.signature(f)


# a description of a call, no value of it (a third derivative differentiates the rules that ask)
non_differentiable(signature_of)


def bound_arguments(f: Callable | inspect.Signature, args: tuple, kwargs: dict) -> dict:
    """Every argument of the call ``f(*args, **kwargs)`` by name, defaults filled in.

    ``f`` may also be an ``inspect.Signature`` describing the call.

    Example:
        >>> import numpy as np
        >>> bound_arguments(np.sort, (np.ones(3),), {})["axis"]
        -1
    """
    signature = f if isinstance(f, inspect.Signature) else signature_of(f)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def argument(f: Callable, name: str, args: tuple, kwargs: dict) -> Any:
    """The value of argument ``name`` in the call ``f(*args, **kwargs)``, defaults applied.

    Example:
        >>> import numpy as np
        >>> argument(np.sort, "kind", (np.ones(3),), {}) is None
        True
    """
    return bound_arguments(f, args, kwargs)[name]


# Rules run inside differentiated code when derivatives are nested (a Hessian differentiates the
# rules of the gradient): reading a call's arguments by name passes their tangents along.


@frule.register(bound_arguments)
def _bound_arguments_frule(tangents, f, args, kwargs):
    _, _, dargs, dkwargs = tangents
    signature = f if isinstance(f, inspect.Signature) else signature_of(f)
    y = bound_arguments(signature, args, kwargs)
    dargs = _items(dargs, len(args))
    dkwargs = {} if isinstance(dkwargs, AbstractZero) else dict(dkwargs.backing)
    sources = signature.bind(*range(len(args)), **{k: k for k in kwargs}).arguments
    fields = {}
    for name, source in sources.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            fields[name] = Tangent(tuple, *(dargs[i] for i in source))
        elif kind is inspect.Parameter.VAR_KEYWORD:
            fields[name] = Tangent.from_backing(
                dict, {k: dkwargs.get(k, ZeroTangent()) for k in source}
            )
        elif isinstance(source, int):
            fields[name] = dargs[source]
        else:
            fields[name] = dkwargs.get(source, ZeroTangent())
    return y, Tangent.from_backing(dict, fields)


@frule.register(argument)
def _argument_frule(tangents, f, name, args, kwargs):
    bound, dbound = _bound_arguments_frule(
        (NoTangent(), NoTangent(), *tangents[3:]), f, args, kwargs
    )
    return bound[name], dbound.backing.get(name, ZeroTangent())


def _items(dargs, n: int) -> tuple:
    if isinstance(dargs, AbstractZero):
        return (ZeroTangent(),) * n
    return tuple(dargs.backing) if isinstance(dargs, Tangent) else tuple(dargs)


def no_tangents(args: tuple) -> tuple:
    """``NoTangent()`` for each of ``args``, a rule's non-differentiable positional options.

    Example:
        >>> no_tangents((0, "ortho"))
        (NoTangent(), NoTangent())
    """
    return (NoTangent(),) * len(args)
