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

    ``f`` may also be an ``inspect.Signature`` describing the call. What ``inspect`` binds is
    worked out once per function and call shape (rules ask on every call, and binding costs
    several microseconds).

    Example:
        >>> import numpy as np
        >>> bound_arguments(np.sort, (np.ones(3),), {})["axis"]
        -1
        >>> bound_arguments(np.sum, (np.ones(3),), {"axis": 0, "keepdims": True})["keepdims"]
        True
    """
    if not isinstance(f, inspect.Signature):
        try:
            plan = _binding(f, len(args), tuple(kwargs))
        except TypeError:  # a call that does not bind: binding it below says why
            plan = None
        if plan is not None:
            bound = {}
            for name, kind, source in plan:
                if kind is _AT:
                    bound[name] = args[source]
                elif kind is _KEY:
                    bound[name] = kwargs[source]
                elif kind is _DEFAULT:
                    bound[name] = source
                elif kind is _ARGS:
                    bound[name] = args[source:]
                else:  # (each call gets a **kwargs dict of its own, as binding gives it)
                    bound[name] = {k: kwargs[k] for k in source}
            return bound
    signature = f if isinstance(f, inspect.Signature) else signature_of(f)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


_AT, _KEY, _DEFAULT, _ARGS, _KWARGS = "at", "key", "default", "args", "kwargs"


class _Slot:
    """Where a bound argument came from: positional argument ``i`` or keyword ``name``."""

    __slots__ = ("source",)

    def __init__(self, source: int | str) -> None:
        self.source = source


@functools.cache
def _binding(f: Callable, nargs: int, kwnames: tuple[str, ...]) -> tuple:
    """How a call of ``f`` with ``nargs`` positional arguments and the keywords ``kwnames`` binds,
    one ``(name, kind, source)`` per parameter in order: ``_AT`` (positional argument
    ``source``), ``_KEY`` (keyword ``source``), ``_DEFAULT`` (the default ``source``), ``_ARGS``
    (``*args``: the positional arguments from ``source`` on) or ``_KWARGS`` (``**kwargs``: the
    keywords ``source``). Raises bind's ``TypeError`` for a call that does not bind."""
    signature = signature_of(f)
    bound = signature.bind(*map(_Slot, range(nargs)), **{k: _Slot(k) for k in kwnames})
    bound.apply_defaults()
    plan = []
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            plan.append((name, _ARGS, value[0].source if value else nargs))
        elif kind is inspect.Parameter.VAR_KEYWORD:
            plan.append((name, _KWARGS, tuple(value)))
        elif type(value) is _Slot:
            plan.append((name, _AT if type(value.source) is int else _KEY, value.source))
        else:
            plan.append((name, _DEFAULT, value))
    return tuple(plan)


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
