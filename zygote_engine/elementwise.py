"""Elementwise arithmetic on float64 arrays, differentiated in the generated code itself.

Through the call protocol, ``t = x * w`` on arrays costs a rule lookup, a rule call, a pullback
object, and in the backward pass a cotangent for *every* operand, each with its broadcasting
summed away and projected: about 20 µs, where numpy's own work on a small array takes one. The
generated code (``reverse._Reverse.inline``, ``inline_partials``) therefore asks :func:`on_arrays`
whether every operand is a float64 array or a real number; if so it computes ``t`` itself and
keeps in a list the operands the adjoint reads (of the others only their shape, :func:`like`),
and the backward pass writes out the adjoint of the operands that carry a derivative only, each
through :func:`fit`. Anything else (other dtypes, subclasses, 0-d
arrays, arrays written in place in this call) takes the call protocol, whose rules give the same
cotangents.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core import ProjectTo, scalar_cotangents, unbroadcast
from chainrules_core.rule_helpers import summed_to_shape

__all__ = ["fit", "fit_partial", "like", "on_arrays", "partial_cotangents"]

_F64 = np.dtype(np.float64)
_ZERO = np.float64(0.0)
# Real numbers an array operation may take beside its arrays; a bool is not one (no tangent).
_REALS = frozenset({float, int, np.float64})


def on_arrays(cx, *operands: Any) -> bool:
    """Whether an elementwise operation on ``operands`` may be differentiated inline: each is a
    float64 array of at least one dimension or a real number. Once an array has been written in
    place during this call, only numbers qualify: reads of written arrays route their cotangents
    through the write log (see :mod:`zygote_engine.array_writes`), and a number (an element read
    out of such an array, say) is never written.

    Example:
        >>> import numpy as np
        >>> from zygote_engine.store import MutationStore
        >>> cx = MutationStore()
        >>> on_arrays(cx, np.ones(3), 2.0), on_arrays(cx, np.ones(3, np.float32), 2.0)
        (True, False)
        >>> _ = cx.array_writes()
        >>> on_arrays(cx, np.ones(3), 2.0), on_arrays(cx, np.float64(1.5), 2.0)
        (False, True)
    """
    if cx.written is not None:
        return all(x.__class__ in _REALS for x in operands)
    for x in operands:
        kind = x.__class__
        if kind is np.ndarray:
            if x.dtype is not _F64 or not x.ndim:
                return False
        elif kind not in _REALS:
            return False
    return True


def like(x: Any) -> Any:
    """What :func:`fit` needs of an operand whose value the adjoint does not read: an array's
    shape (so that the backward pass does not keep the array alive), a number itself.

    Example:
        >>> import numpy as np
        >>> like(np.ones((2, 3))), like(1.5)
        ((2, 3), 1.5)
    """
    return x.shape if x.__class__ is np.ndarray else x


def fit(g: Any, x: Any) -> Any:
    """The cotangent ``g`` of an elementwise result, as the cotangent of its operand ``x``:
    broadcast dimensions summed away and projected onto ``x`` (a float for a Python number).
    ``x`` may also be a float64 array's shape, as :func:`like` gives it.

    Example:
        >>> import numpy as np
        >>> fit(np.ones((2, 3)), np.zeros(3))
        array([2., 2., 2.])
        >>> fit(np.ones((2, 3)), (1, 3))
        array([[2., 2., 2.]])
        >>> fit(np.ones((2, 3)), 1.5)
        6.0
    """
    kind = x.__class__
    if kind is np.ndarray:
        if g.__class__ is np.ndarray and g.dtype is _F64 and x.dtype is _F64:
            if g.shape == x.shape:
                return g
            if g.ndim >= x.ndim:  # (x was broadcast into the result)
                return summed_to_shape(g, x.shape)
    elif kind is tuple:  # the shape of a float64 array, as :func:`like` keeps it
        if g.__class__ is np.ndarray and g.dtype is _F64:
            if g.shape == x:
                return g
            if g.ndim >= len(x):
                return summed_to_shape(g, x)
        x = np.broadcast_to(_ZERO, x)  # stands for the array: its dtype and shape, no memory
    elif kind is float or kind is int:
        if g.__class__ is float:
            return g
        if g.__class__ is np.ndarray and g.dtype is _F64:  # a number broadcast over an array
            return float(g.sum())
    elif kind is np.float64 and (g.__class__ is float or g.__class__ is np.float64):
        return np.float64(g)
    return ProjectTo(x)(unbroadcast(x, g))


def fit_partial(dy: Any, p: Any, x: Any) -> Any:
    """The cotangent of ``x`` from the partial derivative ``p`` of a one-argument function at
    ``x``: ``dy * conj(p)`` fitted to ``x``.

    Example:
        >>> import numpy as np
        >>> fit_partial(np.ones(2), np.array([2.0, 3.0]), np.zeros(2))
        array([2., 3.])
    """
    if p.__class__ is np.ndarray and p.dtype is _F64:  # (the usual partial: no conjugate)
        g = dy * p
        # (the usual cotangent, of x's float64 array or its shape, tested here: a call of fit
        # costs more than the test)
        if g.__class__ is np.ndarray and g.dtype is _F64:
            kind = x.__class__
            if (kind is tuple and g.shape == x) or (
                kind is np.ndarray and x.dtype is _F64 and g.shape == x.shape
            ):
                return g
        return fit(g, x)
    return fit(dy * _conjugate(p), x)


def partial_cotangents(
    partials: Any, args: tuple, out: Any, dy: Any, active: tuple[bool, ...]
) -> tuple:
    """The cotangents of the ``active`` arguments of a call of a function with scalar partials
    (``scalar_rule``'s), on numbers or float64 arrays; ``None`` for the others.

    ``partials(*args, out)`` gives one partial per argument; each cotangent is ``dy`` times the
    conjugate partial, fitted to its argument.

    Example:
        >>> import numpy as np
        >>> partial_cotangents(lambda x, y, out: (y, x), (np.ones(2), 3.0), None, np.ones(2),
        ...                    (True, False))
        (array([3., 3.]), None)
    """
    for a in args:  # (loops, not generator expressions: this runs per call, on small arrays)
        if a.__class__ is not float and a.__class__ is not int:
            break
    else:
        return scalar_cotangents(partials, args, out, dy)
    ps = partials(*args, out)
    if ps.__class__ is not tuple:
        ps = (ps,)
    if len(ps) != len(args):
        scalar_cotangents(partials, args, out, dy)  # raises, saying what the partials gave
    cotangents = []
    for x, p, wanted in zip(args, ps, active):
        cotangents.append(fit_partial(dy, p, x) if wanted else None)
    return tuple(cotangents)


def _conjugate(p: Any) -> Any:
    if p.__class__ is float or getattr(p, "dtype", _F64).kind != "c":
        return p
    return np.conjugate(p)
