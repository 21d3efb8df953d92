"""Helpers that define whole families of rules: ``scalar_rule``, ``non_differentiable``, ``opt_out``,
``ignore_derivatives``, and the broadcasting helper ``unbroadcast`` that rules use."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrules_core.projection import ProjectTo
from chainrules_core.rules import _opted_out, frule, rrule
from chainrules_core.tangents import AbstractZero, NoTangent, Thunk, ZeroTangent

_REAL_COTANGENTS = frozenset({float, np.float64})
_REAL_NUMBERS = frozenset({float, int, np.float64})


def unbroadcast(x: Any, dx: Any) -> Any:
    """Sum the cotangent ``dx`` down to the shape of ``x``, undoing numpy broadcasting.

    Leading dimensions that ``x`` lacks are summed away, and dimensions where ``x`` has size 1 are
    summed with the dimension kept. Zeros pass through; a ``dx`` already of ``x``'s shape is
    returned as it is.

    Example:
        >>> import numpy as np
        >>> from chainrules_core import unbroadcast
        >>> unbroadcast(np.ones((3, 1)), np.ones((2, 3, 4)))
        array([[8.],
               [8.],
               [8.]])
        >>> float(unbroadcast(2.0, np.ones(5)))
        5.0
    """
    if type(dx) in _REAL_COTANGENTS and type(x) in _REAL_NUMBERS:
        return dx  # the common scalar case, without numpy's shape machinery
    if isinstance(dx, Thunk):
        dx = dx.unthunk()
    if isinstance(dx, AbstractZero):
        return dx
    return summed_to_shape(dx, np.shape(x))


def summed_to_shape(dx: Any, shape: tuple[int, ...]) -> Any:
    """The array ``dx`` summed down to ``shape``, which was broadcast into ``dx``'s shape: the
    core of :func:`unbroadcast`, for callers that hold a shape rather than an array.

    Example:
        >>> import numpy as np
        >>> summed_to_shape(np.ones((2, 3, 4)), (3, 1))[:, 0]
        array([8., 8., 8.])
    """
    dx_shape = np.shape(dx)
    if dx_shape == shape:
        return dx
    extra = len(dx_shape) - len(shape)
    if extra < 0:
        return dx  # fewer dimensions than x: ProjectTo broadcasts it back
    kept = tuple(extra + i for i, n in enumerate(shape) if n == 1 and dx_shape[extra + i] != 1)
    axes = tuple(range(extra)) + kept
    if type(dx) is np.ndarray:  # (the methods: no dispatch, this runs once per operation)
        summed = dx.sum(axis=axes, keepdims=True)
        return summed.reshape(shape) if shape else summed.reshape(())[()]
    summed = np.sum(dx, axis=axes, keepdims=True)
    # (np.reshape, not the method: an array of another library need not have it)
    return np.reshape(summed, shape) if shape else np.reshape(summed, ())[()]


def _conj(p: Any) -> Any:
    if type(p) is float:
        return p
    if isinstance(p, complex):
        return p.conjugate()
    if getattr(getattr(p, "dtype", None), "kind", None) == "c":
        return np.conj(p)  # (a duck array need not have a conjugate method)
    return p


_PYTHON_REALS = frozenset({float, int})
_NO = NoTangent()


def _times_partial(dy: Any, p: Any) -> Any:
    """``dy * conj(p)``, a cotangent times the conjugate of a partial."""
    return _scaled(dy, p if type(p) is int or type(p) is float else _conj(p))


def _scaled(d: Any, p: Any) -> Any:
    """``d * p``; a constant partial of 1 or -1 (``+``, ``-``) costs no array product."""
    if type(p) is int or type(p) is float:
        if p == 1:
            return d
        if p == -1:
            return -d
    return d * p


def _as_tuple(partials: Any) -> tuple:
    return partials if isinstance(partials, tuple) else (partials,)


def _arity(partials: Callable) -> int | None:
    """How many arguments ``partials(*args, out)`` describes, or ``None`` if it takes ``*args``."""
    try:
        params = inspect.signature(partials).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) - 1


def _check_plain_call(f: Callable, args: tuple, kwargs: dict, inputs: int | None) -> None:
    """A scalar rule covers ``f(*args)`` alone: options such as numpy's ``out=`` would be wrong."""
    if kwargs:
        raise TypeError(
            f"the rules of {getattr(f, '__name__', f)} (defined by scalar_rule) cover plain calls "
            f"only, but it got keyword argument(s) {', '.join(sorted(kwargs))}: assign the result "
            "instead of passing out=, and use np.where for masking"
        )
    if inputs is not None and len(args) != inputs:
        raise TypeError(
            f"the rules of {getattr(f, '__name__', f)} cover plain calls only, with {inputs} "
            f"input(s), but it got {len(args)} positional arguments (an out= array or an option "
            "passed positionally?)"
        )


def _partials_for(f: Callable, partials: Callable, args: tuple, y: Any) -> tuple:
    ps = _as_tuple(partials(*args, y))
    if len(ps) != len(args):
        raise TypeError(
            f"the partials of {getattr(f, '__name__', f)} gave {len(ps)} derivative(s) for "
            f"{len(args)} argument(s); scalar_rule needs one partial per argument"
        )
    return ps


def scalar_cotangents(
    partials: Callable, args: tuple, out: Any, dy: float, f: Callable | None = None
) -> tuple:
    """The cotangents of the Python-number arguments of a scalar function, from its partials.

    ``partials(*args, out)`` is what :func:`scalar_rule` was given (see
    :attr:`RuleTable.scalar_partials <chainrules_core.rules.RuleTable>`); each cotangent is
    ``dy * conj(∂f/∂x)`` projected onto the argument (a real argument keeps the real part of a
    complex product). For engines that differentiate scalar calls themselves, and for
    ``scalar_rule``'s own pullback on numbers. ``f`` only names the function in errors.

    Example:
        >>> from chainrules_core import scalar_cotangents
        >>> scalar_cotangents(lambda x, y, out: (y, x), (2.0, 3.0), 6.0, 0.5)
        (1.5, 1.0)
    """
    ps = _partials_for(f or partials, partials, args, out)
    grads = tuple([dy * p for p in ps])
    for g in grads:
        if type(g) is not float:  # a complex partial, a numpy scalar: conjugate and project
            return tuple(ProjectTo(x)(dy * _conj(p)) for x, p in zip(args, ps))
    return grads


class ScalarPullback:
    """The pullback of a :func:`scalar_rule`'s ``rrule``: ``dy`` times the conjugate partials,
    broadcasting undone and projected onto each argument.

    An object rather than a closure, so that an engine differentiating pullbacks (nested
    derivatives) can give its one ``__call__`` a forward rule instead of transforming it.

    Example:
        >>> back = ScalarPullback(None, lambda x, out: 2 * x, (3.0,), 9.0)
        >>> back(1.0)
        (NoTangent(), 6.0)
    """

    __slots__ = ("args", "f", "partials", "y")

    def __init__(self, f: Callable, partials: Callable, args: tuple, y: Any):
        self.f, self.partials, self.args, self.y = f, partials, args, y

    def __call__(self, dy: Any) -> tuple:
        args = self.args
        # Python numbers need no broadcasting undone (and scalar_cotangents projects them)
        if type(dy) is float and all(type(x) in _PYTHON_REALS for x in args):
            return (_NO, *scalar_cotangents(self.partials, args, self.y, dy, self.f))
        ps = _partials_for(self.f, self.partials, args, self.y)
        return (
            _NO,
            *(ProjectTo(x)(unbroadcast(x, _times_partial(dy, p))) for x, p in zip(args, ps)),
        )


def scalar_rule(f: Callable, partials: Callable, *types: type) -> Callable:
    """Define ``rrule`` and ``frule`` of the elementwise function ``f`` from its partial derivatives.

    ``partials(*args, out)`` returns one partial derivative per argument (a tuple; a single value for
    one argument), where ``out = f(*args)``. On numpy inputs the rule works elementwise with
    broadcasting: each cotangent is summed back to its input's shape and projected onto its dtype.
    For complex inputs the cotangent is ``conj(∂f/∂x) * dy`` (holomorphic ``f``). The rules
    cover plain calls ``f(*args)``: keyword arguments (numpy's ``out=``, ``where=``) and extra
    positional arguments raise ``TypeError`` rather than give a wrong derivative.

    Returns ``f``, so it can follow a definition directly.

    Example:
        >>> import numpy as np
        >>> from chainrules_core import scalar_rule, rrule, frule, NoTangent
        >>> def cube(x):
        ...     return x ** 3
        >>> _ = scalar_rule(cube, lambda x, out: 3 * x ** 2)
        >>> y, back = rrule(cube, 2.0)
        >>> back(1.0)
        (NoTangent(), 12.0)
        >>> frule((NoTangent(), 0.5), cube, 2.0)
        (8.0, 6.0)
    """

    inputs = getattr(f, "nin", None) or _arity(partials)

    def scalar_rrule(*args, **kwargs):
        _check_plain_call(f, args, kwargs, inputs)
        y = f(*args)
        return y, ScalarPullback(f, partials, args, y)

    def scalar_frule(tangents, *args, **kwargs):
        if kwargs or (inputs is not None and len(args) != inputs):
            _check_plain_call(f, args, kwargs, inputs)
        y = f(*args)
        ps = _partials_for(f, partials, args, y)
        dy = None
        for dx, p in zip(tangents[1:], ps):
            if not isinstance(dx, AbstractZero):
                term = _scaled(dx, p)
                dy = term if dy is None else dy + term
        if dy is None:
            return y, ZeroTangent()
        ty = type(y)
        if type(dy) is ty and (
            ty is float or (ty is np.ndarray and dy.shape == y.shape and dy.dtype is y.dtype)
        ):
            return y, dy  # nothing to broadcast or project
        if np.shape(dy) != np.shape(y):
            dy = np.broadcast_to(dy, np.shape(y)).copy()
        return y, ProjectTo(y)(dy)

    # engines may differentiate calls on Python numbers from the partials alone (see RuleTable)
    scalar_rrule.scalar_partials = scalar_frule.scalar_partials = partials
    rrule.add(f, types, scalar_rrule)
    frule.add(f, types, scalar_frule)
    return f


def non_differentiable(f: Callable, *types: type) -> Callable:
    """Declare that ``f`` has no derivative: every tangent of its output and inputs is ``NoTangent()``.

    Usable as a call, ``non_differentiable(np.argmax)``, optionally restricted to argument
    ``types``, and as a decorator on a function definition. Returns ``f``.

    Example:
        >>> from chainrules_core import non_differentiable, rrule, frule, NoTangent
        >>> @non_differentiable
        ... def count_positive(xs):
        ...     return sum(1 for x in xs if x > 0)
        >>> y, back = rrule(count_positive, [1.0, -2.0, 3.0])
        >>> y, back(1.0)
        (2, (NoTangent(), NoTangent()))
        >>> frule((NoTangent(), [1.0, 1.0, 1.0]), count_positive, [1.0, -2.0, 3.0])
        (2, NoTangent())
    """

    def non_differentiable_rrule(*args, **kwargs):
        y = f(*args, **kwargs)
        tangents = (NoTangent(),) * (len(args) + 1)

        def non_differentiable_pullback(dy):
            return tangents

        return y, non_differentiable_pullback

    def non_differentiable_frule(tangents, *args, **kwargs):
        return f(*args, **kwargs), NoTangent()

    # Marked so that tools (the coverage table of ``chainrules``) can tell these registrations apart.
    non_differentiable_rrule.non_differentiable = True
    non_differentiable_frule.non_differentiable = True
    rrule.add(f, types, non_differentiable_rrule)
    frule.add(f, types, non_differentiable_frule)
    return f


def opt_out(f: Callable, *types: type) -> None:
    """Make the rules of ``f`` not apply for arguments of ``types``, so the engine differentiates the code.

    Use it when a generic rule (say, one for any array) would be wrong or slow for your type, and
    your type's code is differentiable by the engine.

    Example:
        >>> from chainrules_core import scalar_rule, opt_out, rrule
        >>> def double(x):
        ...     return 2 * x
        >>> _ = scalar_rule(double, lambda x, out: 2)
        >>> class Special(float):
        ...     pass
        >>> opt_out(double, Special)
        >>> rrule(double, Special(1.0)) is None, rrule(double, 1.0) is None
        (True, False)
    """
    if not types:
        raise TypeError("opt_out needs the argument types to opt out for, e.g. opt_out(f, MyArray)")
    rrule.add(f, types, _opted_out)
    frule.add(f, types, _opted_out)


# The code of the pullbacks declared with linear_pullback (see there).
LINEAR_PULLBACKS: set[types.CodeType] = set()


def linear_pullback(pullback: Callable) -> Callable:
    """Declare that ``pullback`` (a rule's inner function) is linear in its cotangent and reads
    nothing else that a derivative could change: only shapes, dtypes and indices of the primal
    values (``x[index]``'s pullback, a reshape's, a transpose's).

    An engine that differentiates a backward pass again (forward mode over reverse mode, for a
    Hessian-vector product) may then take the tangent of ``pullback(dy)`` as ``pullback(ddy)``
    instead of differentiating its code. Returns ``pullback``, so it is a decorator.

    Example:
        >>> from chainrules_core import linear_pullback
        >>> from chainrules_core.rule_helpers import LINEAR_PULLBACKS
        >>> def rrule_of_double(x):
        ...     @linear_pullback
        ...     def double_pullback(dy):
        ...         return 2.0 * dy
        ...     return 2.0 * x, double_pullback
        >>> _, back = rrule_of_double(1.5)
        >>> back.__code__ in LINEAR_PULLBACKS, back(3.0)
        (True, 6.0)
    """
    LINEAR_PULLBACKS.add(pullback.__code__)
    return pullback


def ignore_derivatives(fn_or_value: Any) -> Any:
    """Stop gradients: run a zero-argument function (or take a value) with no derivative through it.

    Called on a plain function or lambda, it calls it and returns the result; called on any other
    object it returns that object. Either way an AD engine propagates no tangent through it.

    Example:
        >>> from chainrules_core import ignore_derivatives, rrule, NoTangent
        >>> ignore_derivatives(lambda: 2.0 + 3.0)
        5.0
        >>> y, back = rrule(ignore_derivatives, 4.0)
        >>> y, back(1.0)
        (4.0, (NoTangent(), NoTangent()))
    """
    if isinstance(fn_or_value, types.FunctionType):
        return fn_or_value()
    return fn_or_value


non_differentiable(ignore_derivatives)
