"""The user-facing functions: ``gradient``, ``pullback``, ``withgradient``, ``derivative``, ..."""

from __future__ import annotations

import functools
import inspect
import numbers
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from chainrules_core import (
    NoTangent,
    non_differentiable,
)
from chainrules_core.arrays import is_duck_array
from zygote_engine import cache
from zygote_engine.activity import GLOBALS
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.errors import NonScalarOutputError, UnsupportedConstructError
from zygote_engine.params import Grads, Params, params_pullback, params_tangents_pullback
from zygote_engine.public import public_gradient
from zygote_engine.recursion import room_to_recurse
from zygote_engine.runtime import call, call_masked, must_run
from zygote_engine.store import ZERO_TYPES, contents_of, is_tracked
from zygote_engine.transform import transform

_NO = NoTangent()

__all__ = [
    "Pullback",
    "WithGradient",
    "derivative",
    "gradient",
    "pullback",
    "refresh",
    "show_adjoint",
    "withgradient",
]


class WithGradient(NamedTuple):
    """The result of :func:`withgradient`: the value and the gradients."""

    val: Any
    grad: tuple | Grads


def pullback(f: Callable, *args: Any) -> tuple[Any, Callable[[Any], Any]]:
    """Run ``f(*args)`` and return ``(y, back)``; ``back(dy)`` gives one gradient per argument.

    ``back`` may be called several times, with different ``dy``. With one :class:`Params`
    argument, ``f`` takes no arguments and ``back(dy)`` gives :class:`Grads` (see
    :func:`~zygote_engine.params.params_pullback`).

    Example:
        >>> from zygote_engine import pullback
        >>> y, back = pullback(lambda a, b: a * b, 2.0, 3.0)
        >>> y, back(1.0), back(2.0)
        (6.0, (3.0, 2.0), (6.0, 4.0))
    """
    check_callable(f, "pullback")
    if len(args) == 1 and isinstance(args[0], Params):
        y, back_all = params_tangents_pullback(f, args[0])
    else:
        y, back_all = tangents_pullback(f, args)
    return y, Pullback(f, args, back_all)


class Pullback:
    """The ``back`` that :func:`pullback` returns: ``back(dy)`` gives one gradient per argument.

    A class rather than a closure so that ``back`` itself has a rule: code that calls it can be
    differentiated again (see :mod:`zygote_engine.lib.modes`).
    """

    __slots__ = ("args", "back_all", "f")

    def __init__(self, f: Callable, args: tuple, back_all: Callable) -> None:
        self.f, self.args, self.back_all = f, args, back_all

    def __call__(self, dy: Any) -> tuple:
        return self.back_all(dy)[1]

    def __repr__(self) -> str:
        name = getattr(self.f, "__qualname__", repr(self.f))
        if len(self.args) == 1 and isinstance(self.args[0], Params):
            return f"<pullback of {name} at {self.args[0]!r}>"
        return f"<pullback of {name} at {len(self.args)} arguments>"


def tangents_pullback(
    f: Callable, args: tuple, closure: bool = True, cx: ZygoteRuleConfig | None = None
) -> tuple[Any, Callable[[Any], tuple]]:
    """``(y, back_all)``: ``back_all(dy)`` is ``(df, grads)``, ``f``'s own tangent as well.

    ``df`` is the tangent of ``f`` itself (its captured variables', for a closure) as the engine
    writes it; ``grads`` are in the user-facing form of :func:`gradient`. Nested differentiation
    needs both; with ``closure=False`` ``df`` is not computed (``NoTangent()``), and neither is
    anything computed only from what ``f`` captures (the data of ``lambda W: loss(W, X)``).
    ``cx`` is the reverse-mode differentiation to run in (a new one when not given); after
    ``back_all`` its store holds the cotangents of the module state ``f`` read
    (:func:`~zygote_engine.params.state_cotangents`).
    """
    cx = ZygoteRuleConfig() if cx is None else cx
    y, pb, held = recorded_call(cx, f, args, closure)
    returns_container = is_tracked(y)

    def back_all(dy: Any) -> tuple:
        return pulled_back(cx, args, held, y, pb, returns_container, dy)

    return y, back_all


def _recorded(cx: ZygoteRuleConfig, f: Callable, args: tuple, closure: bool) -> tuple:
    """``(y, pb, held)``: the forward half of :func:`tangents_pullback`, ``y = f(*args)`` run in
    ``cx`` with its pullback ``pb``; ``held`` what the arguments that are containers held at the
    call (differentiated code may mutate them: gradients refer to what they held), one entry per
    argument, or None where no argument is a container."""
    held = None
    for a in args:
        if type(a) not in _LEAVES and _structured(a):  # (one container: record them all)
            held = [
                None if type(b) in _LEAVES or not _structured(b) else contents_of(b) for b in args
            ]
            break
    y, pb = call(cx, f, *args) if closure else call_masked(cx, ARGUMENTS_ONLY, f, *args)
    return y, pb, held


def _pulled_back(
    cx: ZygoteRuleConfig,
    args: tuple,
    held: list | None,
    y: Any,
    pb: Callable,
    returns_container: bool,
    dy: Any,
) -> tuple:
    """``(df, grads)`` of :func:`tangents_pullback`'s ``back_all``: the pullback ``pb`` of the call
    ``y = f(*args)`` run from ``dy`` in ``cx``, the gradients in their user-facing forms."""
    dy = cx.start_backward(y, dy, returns_container)
    writes = cx.written  # arrays written in place (see zygote_engine.array_writes)
    if type(dy) in ZERO_TYPES and not must_run(pb) and writes is None:
        return _NO, (None,) * len(args)
    if writes is None and held is None:  # (the usual case: no container, nothing written)
        tangents = pb(dy)
        grads = []
        for a, t in zip(args, tangents[1:]):
            grads.append(t if type(a) is float and type(t) is float else public_gradient(a, t))
        return tangents[0], tuple(grads)
    try:
        tangents = pb(dy)
        grads = []
        for a, t, h in zip(args, tangents[1:], held or [None] * len(args)):
            if writes is not None and type(a) is np.ndarray:
                t = writes.claim(a, t)
            if type(a) is not float or type(t) is not float:
                t = public_gradient(a, t if h is None else cx.resolve(a, t, h), h)
            grads.append(t)
    finally:
        if writes is not None:  # the arrays end as the forward pass left them
            writes.finish()
    return tangents[0], tuple(grads)


def _in_a_room(half: Callable) -> Callable:
    """``half`` run in a room to recurse (see ``recursion.py``); a caller that made one for both
    halves (``gradient``) calls ``half`` itself."""

    @functools.wraps(half)
    def in_a_room(*arguments: Any) -> tuple:
        with room_to_recurse():
            return half(*arguments)

    return in_a_room


recorded_call = _in_a_room(_recorded)
pulled_back = _in_a_room(_pulled_back)


# what a gradient does not ask for: the function's captured variables and the module state it
# reads (their positions for call_masked)
ARGUMENTS_ONLY = (GLOBALS, 0)

# Argument types that are never containers (checked first: most arguments are numbers or arrays).
_LEAVES = frozenset({float, int, complex, bool, np.ndarray})


def _structured(x: Any) -> bool:
    return is_tracked(x) or isinstance(x, tuple)


def check_callable(f: Any, name: str) -> None:
    """A ``TypeError`` saying what was wrong when ``f``, to be differentiated, is not callable.

    Example:
        >>> check_callable(3, "gradient")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: gradient differentiates a function, but it was given int 3: pass the ...
    """
    if not callable(f):
        raise TypeError(
            f"{name} differentiates a function, but it was given {type(f).__name__} {f!r}: pass "
            f"the function first, then its arguments: {name}(f, x)"
        )
    code = getattr(f, "__code__", None)
    if code is not None and code.co_flags & inspect.CO_GENERATOR:
        raise UnsupportedConstructError(
            f"{name} was given the generator function {f.__qualname__}, whose result (a "
            "generator) has no derivative: differentiate a function that consumes what it "
            f"yields, e.g. {name}(lambda x: sum({f.__name__}(x)), x)"
        )


def gradient(f: Callable, *args: Any) -> tuple:
    """The gradient of the real-scalar function ``f`` at ``args``: one entry per argument.

    Numbers give floats, arrays arrays of the same shape, lists lists, tuples tuples, dicts dicts
    and other objects ``Tangent`` s; an argument with no gradient gives ``None``.
    ``gradient(f, params)`` with a :class:`Params` differentiates the argument-free ``f`` with
    respect to the parameters it reaches (globals, closures, attributes, items): a :class:`Grads`.

    Example:
        >>> import numpy as np
        >>> from zygote_engine import Params, gradient
        >>> gradient(lambda x: 3 * x**2 + 2 * x + 1, 5.0)
        (32.0,)
        >>> w = np.array([1.0, 2.0])
        >>> gradient(lambda: np.sum(w**2), Params([w]))[w]
        array([2., 4.])
    """
    check_callable(f, "gradient")
    return _value_and_gradient(f, args)[1]


def withgradient(f: Callable, *args: Any) -> WithGradient:
    """``(val, grad)``: the value of ``f(*args)`` and its gradient (:class:`Grads` for ``Params``).

    Example:
        >>> import operator
        >>> from zygote_engine import withgradient
        >>> withgradient(operator.truediv, 1, 2)
        WithGradient(val=0.5, grad=(0.5, -0.25))
    """
    check_callable(f, "withgradient")
    return WithGradient(*_value_and_gradient(f, args))


def _value_and_gradient(f: Callable, args: tuple) -> tuple[Any, Any]:
    """``(y, gradient)`` of the real-scalar ``f`` at ``args``: the arguments' gradients only (not
    those of what ``f`` captures, which :class:`Pullback` keeps for nested differentiation),
    both passes run at once, without ``pullback``'s closures."""
    if len(args) == 1 and isinstance(args[0], Params):
        y, back = params_pullback(f, args[0])
        check_scalar(f, y)
        return y, back(1.0)
    cx = ZygoteRuleConfig()
    with room_to_recurse():  # (once for both passes)
        y, pb, held = _recorded(cx, f, args, closure=False)
        check_scalar(f, y)
        return y, _pulled_back(cx, args, held, y, pb, is_tracked(y), 1.0)[1]


def derivative(f: Callable, *x: Any) -> Any:
    """``f'(x)`` for a scalar ``x``; ``derivative(f)`` returns the function ``x -> f'(x)``.

    Example:
        >>> from zygote_engine import derivative
        >>> derivative(lambda x: x**3, 2.0)
        12.0
        >>> derivative(lambda x: 5 * x + 3)(1.0)
        5.0
    """
    if not x:
        return lambda x: derivative(f, x)
    (dx,) = gradient(f, *x)
    return 0.0 if dx is None else dx


def show_adjoint(f: Callable, *args: Any) -> str:
    """The Python source zygote_engine generated for ``f`` (its forward and nested backward).

    ``args`` are accepted for symmetry with ``gradient`` and are not needed.

    Example:
        >>> from zygote_engine import show_adjoint
        >>> def square(x):
        ...     return x * x
        >>> print(show_adjoint(square))  # doctest: +ELLIPSIS
        # generated by zygote_engine from square (...)
        # forward pass: runs the function, keeping each operation's pullback
        def square__forward(__cx, x):
            if x.__class__ in __SCALARS:
                pb1 = None
                t1 = x * x
            elif __on_array(__cx, x):
                pb1 = [x]
                t1 = x * x
            else:
        ...
    """
    fn = f.__func__ if isinstance(f, types.MethodType) else f
    if not isinstance(fn, types.FunctionType):
        fn = type(f).__call__
    return transform(fn).source


def refresh() -> None:
    """Forget every cached transform.

    Example:
        >>> from zygote_engine import refresh
        >>> refresh()
    """
    cache.refresh()


def check_scalar(f: Callable, y: Any) -> None:
    """A ``NonScalarOutputError`` naming ``jacobian`` unless ``y`` is a real scalar."""
    if type(y) is float or type(y) is np.float64:  # (the usual results, before the ABC tests)
        return
    real = isinstance(y, numbers.Real) and not isinstance(y, bool)
    array = isinstance(y, np.ndarray) or is_duck_array(y)  # a dask array: a lazy scalar
    if not (real or (array and y.ndim == 0 and y.dtype.kind in "fiu")):
        name = getattr(f, "__qualname__", repr(f))
        shape = f" of shape {y.shape}" if array else ""
        raise NonScalarOutputError(
            f"gradient needs {name} to return a real scalar, but it returned a "
            f"{type(y).__name__}{shape}: use jacobian(f, *args) for non-scalar outputs, or "
            "reduce the output to a scalar (e.g. with sum)"
        )


non_differentiable(show_adjoint)
