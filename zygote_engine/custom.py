"""Control over differentiation from user code: ``adjoint``, ``checkpointed`` and ``hook``.

Each is an ordinary function whose behaviour under differentiation is given by an ``rrule``:
called outside ``gradient`` they cost nothing beyond the call itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chainrules_core import (
    AbstractZero,
    HasReverseMode,
    NoTangent,
    RuleConfig,
    ZeroTangent,
    frule,
    rrule,
    unthunk,
)
from zygote_engine.errors import MissingRuleError, user_location
from zygote_engine.public import engine_tangent, public_gradient
from zygote_engine.runtime import MustRun, Reads
from zygote_engine.store import MutationStore, is_tracked

__all__ = ["adjoint", "checkpointed", "hook"]

_NO = NoTangent()
_ZERO = ZeroTangent()


def adjoint(f: Callable) -> Callable:
    """Give a function a custom gradient, Zygote's ``@adjoint``: ``f`` returns ``(y, back)``.

    ``back(dy)`` returns a tuple with one tangent per positional argument of the call (no tangent
    for the function itself); ``None`` means "no gradient" for that argument. ``dy`` arrives in
    the form ``gradient`` returns (a float, an array of ``y``'s shape, a tuple with ``None`` for
    parts without a cotangent, ...); ``back`` is not called when ``dy`` is zero.

    Calling the decorated function returns ``y`` only; differentiating code that calls it uses
    ``back`` instead of looking inside ``f``. Keyword arguments are passed through to ``f`` and
    get no gradient. The custom gradient is for reverse mode only: forward mode (``jvp``) raises
    :class:`~zygote_engine.errors.MissingRuleError` unless an ``frule`` is registered too.

    Example:
        >>> import numpy as np
        >>> from zygote_engine import adjoint, gradient
        >>> @adjoint
        ... def clipped_identity(x):
        ...     # the identity whose gradient is clipped to [-1, 1]
        ...     return x, lambda dy: (np.clip(dy, -1.0, 1.0),)
        >>> clipped_identity(3.0)
        3.0
        >>> gradient(lambda x: 5.0 * clipped_identity(x), 3.0)
        (1.0,)
    """
    name = getattr(f, "__qualname__", repr(f))

    @functools.wraps(f)
    def with_adjoint(*args: Any, **kwargs: Any) -> Any:
        return _split(name, f(*args, **kwargs))[0]

    def adjoint_rrule(*args: Any, **kwargs: Any):
        y, back = _split(name, f(*args, **kwargs))
        n = len(args)

        def adjoint_pullback(dy: Any) -> tuple:
            dy = unthunk(dy)
            if isinstance(dy, AbstractZero):
                return (_NO, *([_ZERO] * n))
            dargs = back(public_gradient(y, dy))
            if not isinstance(dargs, tuple) or len(dargs) != n:
                got = (
                    _count(len(dargs), "tangent")
                    if isinstance(dargs, tuple)
                    else f"a {type(dargs).__name__}, not a tuple"
                )
                raise ValueError(
                    f"the pullback of {name} (an @adjoint function) returned {got} for "
                    f"{_count(n, 'argument')}: it must return a tuple with one tangent per "
                    f"positional argument, e.g. (dx,) for one argument, and None for no gradient"
                )
            return (_NO, *map(engine_tangent, dargs))

        return y, adjoint_pullback

    def adjoint_frule(tangents: tuple, *args: Any, **kwargs: Any):
        # back gives J^T dy, not J dx; differentiating f's own code instead would silently give
        # another derivative than the one declared whenever the two differ (clipping, say)
        raise MissingRuleError(
            f"{user_location()}: {name} has a custom gradient (@adjoint), which is reverse mode "
            f"only; use reverse mode (gradient, pullback, jacobian(..., mode='reverse')) or "
            f"register an frule for {name}"
        )

    rrule.add(with_adjoint, (), adjoint_rrule)
    frule.add(with_adjoint, (), adjoint_frule)
    return with_adjoint


def _split(name: str, result: Any) -> tuple[Any, Callable]:
    """``(y, back)`` from what an ``@adjoint`` function returned, or a clear error."""
    if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
        raise TypeError(
            f"{name} is decorated with @adjoint, so it must return a pair (y, back) with back a "
            f"function of the output's cotangent; it returned a {type(result).__name__}"
        )
    return result


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def checkpointed(f: Callable, *args: Any) -> Any:
    """``f(*args)``, whose forward pass is run again in the backward pass instead of being stored.

    Under differentiation the forward pass runs ``f`` plainly, recording nothing; the backward
    pass runs ``f`` again, recording, and applies the cotangent. Memory for the intermediate
    values of ``f`` is thus only needed while its own backward pass runs, at the price of running
    ``f`` twice. ``f`` must be pure: it must not mutate its arguments or anything it reaches
    (the second run would see, and make, the changes again). The gradient flows to ``args`` and
    to the variables ``f`` captures.

    Example:
        >>> import numpy as np
        >>> from zygote_engine import checkpointed, gradient
        >>> W = np.array([[0.5, 0.0], [0.0, 2.0]])
        >>> def loss(h):
        ...     def block(h):
        ...         for _ in range(3):
        ...             h = W @ h
        ...         return h
        ...     return np.sum(checkpointed(block, h))
        >>> gradient(loss, np.array([1.0, 1.0]))
        (array([0.125, 8.   ]),)
    """
    return f(*args)


@rrule.register(checkpointed, config=HasReverseMode)
def _checkpointed_rrule(config: RuleConfig, f: Callable, *args: Any):
    y = f(*args)
    # zygote_engine keeps the cotangents of lists, dicts and objects in its store, keyed by
    # identity: those of the first run's y must be moved to the second run's
    tracked = is_tracked(y) and isinstance(config, MutationStore)

    def checkpointed_pullback(dy: Any) -> tuple:
        y_again, back = config.rrule_via_ad(f, *args)
        if tracked:
            config.deposit(y_again, config.resolve(y, dy))
            dy = _ZERO
        df, *dargs = back(dy)
        return (_NO, df, *dargs)

    # The pullback works with the store itself (through the recorded run). A pure function's may
    # be skipped when dy is zero (Reads), unless y's cotangent is in the store, not in dy.
    return y, (MustRun if tracked else Reads)(checkpointed_pullback)


def hook(fn: Callable[[Any], Any], x: Any) -> Any:
    """``x``; in the backward pass, ``fn`` is called on ``x``'s cotangent and its result used.

    ``fn`` gets the cotangent in the form ``gradient`` returns (a float, an array of ``x``'s
    shape, a list, ...) and must return the cotangent to use: ``hook(lambda dx: -dx, x)``
    reverses the sign of the gradient, and observing it is ``hook(lambda dx: print(dx) or dx, x)``
    (``print`` alone returns ``None``, which means no gradient). ``fn`` is called only when a
    nonzero cotangent reaches the result, and gets what flows back through the result only, not
    through other uses of ``x``; a list or dict, whose cotangent is kept with the object, is the
    exception: there the hook sees the cotangents of the uses after it of that same object.
    Forward mode (``jvp``) has no cotangents: there ``hook`` is the identity and ``fn`` unused.

    Example:
        >>> from zygote_engine import gradient, hook
        >>> gradient(lambda x: x * hook(lambda dx: 2 * dx, x), 3.0)
        (9.0,)
        >>> seen = []
        >>> gradient(lambda x: 5 * hook(lambda dx: seen.append(dx) or dx, x), 1.0), seen
        ((5.0,), [5.0])
    """
    return x


@rrule.register(hook)
def _hook_rrule(fn: Callable[[Any], Any], x: Any):
    def hook_pullback(dx: Any) -> tuple:
        dx_public = public_gradient(x, dx)
        if dx_public is None:
            return _NO, _NO, _ZERO
        return _NO, _NO, engine_tangent(fn(dx_public))

    return x, hook_pullback
