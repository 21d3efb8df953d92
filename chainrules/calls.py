"""Reading a rule's call: its arguments by name, and the tangents of its non-differentiable options."""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable
from typing import Any

import numpy as np

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
    if len(args) == 1 and not kwargs and not isinstance(f, inspect.Signature):
        # the commonest call, ``np.sum(x)``: no binding to do
        defaults = _defaults_after_first(f)
        if defaults is not None:
            name, rest = defaults
            return {name: args[0], **rest}
    signature = f if isinstance(f, inspect.Signature) else signature_of(f)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


@functools.cache
def _defaults_after_first(f: Callable) -> tuple[str, dict] | None:
    """The name of ``f``'s first parameter and the defaults of the others, as binding one
    positional argument gives them; ``None`` where one argument is not a complete call."""
    parameters = list(signature_of(f).parameters.values())
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return None
    rest = {}
    for p in parameters[1:]:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            rest[p.name] = ()
        elif p.kind is inspect.Parameter.VAR_KEYWORD or p.default is inspect.Parameter.empty:
            return None  # (binding gives each call a dict of its own for **kwargs)
        else:
            rest[p.name] = p.default
    return parameters[0].name, rest


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


def check_callback_rule(solver: Callable, fun: Any, kwargs: dict) -> None:
    """Refuse, in a rule that calls the user's function ``fun`` many times through the AD engine
    (an ODE solver, an implicit-function rule), what its gradient would silently miss.

    * ``args=(...)`` given by keyword holding numbers: an engine differentiates the positional
      arguments of a rule only, so the parameters would get no gradient;
    * a callable object or a bound method of one that holds state: the engine keeps the
      cotangents of its attributes beside the object, summed over every call, not weighted as
      the rule weighs each call.

    Example:
        >>> import scipy.integrate
        >>> check_callback_rule(scipy.integrate.odeint, lambda y, t, k: -k * y, {"args": (2.0,)})
        Traceback (most recent call last):
        ...
        TypeError: odeint(..., args=...) by keyword: pass args positionally ...
    """
    name = getattr(solver, "__name__", repr(solver))
    held = kwargs.get("args", ())
    values = held if isinstance(held, tuple) else (held,)
    if any(_carries_numbers(v) for v in values):
        raise TypeError(
            f"{name}(..., args=...) by keyword: pass args positionally (or capture the parameters "
            "in the function), because keyword arguments of a rule are not differentiated and "
            "the parameters would silently get no gradient"
        )
    owner = fun.__self__ if inspect.ismethod(fun) else fun
    plain = isinstance(owner, (types.FunctionType, types.BuiltinFunctionType, types.ModuleType))
    if not plain and getattr(owner, "__dict__", None):
        raise NotImplementedError(
            f"{name} of a callable object or method with attributes: its parameters' "
            "gradients would be summed over the solver's calls without their weights; pass "
            "the parameters through args, or use a function (a closure) instead"
        )


def _carries_numbers(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return any(_carries_numbers(v) for v in x)
    return isinstance(x, (float, complex, np.floating, np.complexfloating)) or (
        isinstance(x, np.ndarray) and x.dtype.kind in "fc"
    )
