"""Matrix products and the reductions of float64 arrays, differentiated in the generated code
itself, as :mod:`zygote_engine.elementwise` does for arithmetic.

Through the call protocol ``h @ W`` costs a rule lookup, a projector per operand, a pullback
closure and a thunk per cotangent, and in the backward pass a conjugate-transpose helper and a
projection per cotangent: about 5 µs forward and 8 µs backward around numpy's own 4 µs and 8 µs
for a 16×64 by 64×64 product. The generated code (``reverse._Reverse.inline``) asks
:func:`on_matrices` whether both operands are float64 arrays of one or two dimensions; if so it
computes ``h @ W`` itself, and the backward pass computes the cotangents of the operands that
carry a derivative only (``dy @ W.T`` for ``h``, ``h.T @ dy`` for ``W``): a product with
constant data (``X @ W``) never computes the data's cotangent. ``np.sum``, ``np.mean``,
``np.max`` and ``np.min`` of a name, of the whole array or over a literal ``axis`` (with a literal
``keepdims``), are computed by the array's methods (``reverse._Reverse.inline_reduction``): a sum
or mean keeps only ``x``'s shape, an extremum ``x`` and its result (the cotangent goes to the
entries equal to it, split evenly among ties). The sums and means of squares that normalisation
makes of ``np.sum(x * x)`` and the like keep ``x``, and their cotangent, ``2 dy x``, is one array
operation. And a function with scalar partials that read only its result (``tanh``'s
``1 - out**2``) keeps its argument's shape rather than the argument (:data:`READS_INPUT`): a loop
does not hold on to every step's input.

Like the elementwise arithmetic, these are built in: a rule registered later for
``operator.matmul`` on float64 arrays is not consulted; one registered for a reduction is
(:data:`REDUCTIONS` follows the rule table). Anything else (other dtypes, more dimensions, an
axis given by position or computed, arrays written in place in this call) takes the call
protocol.
"""

from __future__ import annotations

import dis
import math
import types
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from chainrules.numpy.reductions import extremum_cotangent
from chainrules_core import rrule
from zygote_engine import primitives as zy
from zygote_engine.elementwise import fit

__all__ = [
    "EXTREMA",
    "READS_INPUT",
    "REDUCTIONS",
    "filled",
    "matmul_left",
    "matmul_right",
    "on_array",
    "on_matrices",
]

_F64 = np.dtype(np.float64)
# the reductions that keep their input and result, which their cotangent reads, by method name
EXTREMA = {np.max: "max", np.amax: "max", np.min: "min", np.amin: "min"}


def on_matrices(cx, *operands: Any) -> bool:
    """Whether a matrix product of ``operands`` may be differentiated inline: each is a float64
    array of one or two dimensions, and no array has been written in place during this call.

    Example:
        >>> import numpy as np
        >>> from zygote_engine.store import MutationStore
        >>> cx = MutationStore()
        >>> on_matrices(cx, np.ones((2, 3)), np.ones(3)), on_matrices(cx, np.ones((2, 2, 2)), 1.0)
        (True, False)
    """
    if cx.written is not None:
        return False
    for x in operands:
        if x.__class__ is not np.ndarray or x.dtype is not _F64:
            return False
        if not 0 < x.ndim <= 2:  # (a batch of matrices takes the rule)
            return False
    return True


def on_array(cx, x: Any) -> bool:
    """Whether a reduction of ``x`` may be differentiated inline: a float64 array of at least one
    dimension, and no array written in place during this call.

    Example:
        >>> import numpy as np
        >>> from zygote_engine.store import MutationStore
        >>> on_array(MutationStore(), np.ones(3)), on_array(MutationStore(), 3.0)
        (True, False)
    """
    return cx.written is None and x.__class__ is np.ndarray and x.dtype is _F64 and x.ndim > 0


def matmul_left(dy: Any, b: np.ndarray, a: Any) -> Any:
    """The cotangent of ``a`` in ``a @ b`` (real arrays of one or two dimensions), from the
    cotangent ``dy`` of the product, fitted to ``a`` (the array, or its shape: see
    :func:`~zygote_engine.elementwise.like`).

    Example:
        >>> import numpy as np
        >>> matmul_left(np.ones((2, 2)), np.array([[1.0, 2.0], [3.0, 4.0]]), (2, 2))
        array([[3., 7.],
               [3., 7.]])
    """
    if b.ndim == 2:
        g = dy @ b.T
    elif np.ndim(dy):  # a matrix times a vector: dy a vector
        g = np.outer(dy, b)
    else:  # a dot product: dy a number
        g = dy * b
    # (the usual case, a float64 cotangent of a's shape, tested here: a call of fit costs more)
    shape = a if a.__class__ is tuple else a.shape
    if g.__class__ is np.ndarray and g.dtype is _F64 and g.shape == shape:
        return g
    return fit(g, a)


def matmul_right(a: np.ndarray, dy: Any, b: Any) -> Any:
    """The cotangent of ``b`` in ``a @ b`` (real arrays of one or two dimensions), from the
    cotangent ``dy`` of the product, fitted to ``b`` (the array, or its shape).

    Example:
        >>> import numpy as np
        >>> matmul_right(np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2)), (2, 2))
        array([[4., 4.],
               [6., 6.]])
    """
    if a.ndim == 2:
        g = a.T @ dy
    elif np.ndim(dy):  # a vector times a matrix: dy a vector
        g = np.outer(a, dy)
    else:  # a dot product: dy a number
        g = a * dy
    shape = b if b.__class__ is tuple else b.shape
    if g.__class__ is np.ndarray and g.dtype is _F64 and g.shape == shape:
        return g
    return fit(g, b)


def filled(shape: tuple, value: Any) -> Any:
    """A float64 array of ``shape`` holding ``value`` (faster than ``np.full`` for a number); a
    complex or array ``value`` is projected onto the real arrays.

    Example:
        >>> filled((2,), 1.5), filled((2,), 1.5 + 2j)
        (array([1.5, 1.5]), array([1.5, 1.5]))
    """
    if value.__class__ is float or value.__class__ is np.float64:
        array = np.empty(shape)
        array.fill(value)
        return array
    if value.__class__ is np.ndarray and value.dtype is _F64:  # (broadcast against shape)
        array = np.empty(shape)
        array[...] = value
        return array
    return fit(np.full(shape, value), shape)  # a complex or 0-d cotangent: projected


# The cotangents of the reductions, from that of the result: over every axis (``axis=None``), or
# over the literal ``axis`` of the call, with its literal ``keepdims``.


def _spread(dy: Any, shape: tuple, axis: Any, keepdims: bool) -> Any:
    """``dy``, the cotangent of a sum over ``axis`` of an array of ``shape``, over that array."""
    if axis is not None and not keepdims:
        dy = np.expand_dims(dy, axis)  # (the reduced axes back, as length 1)
    return filled(shape, dy)


def _reduced_count(shape: tuple, axis: Any) -> int:
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in normalize_axis_tuple(axis, len(shape)))


def _sum_cotangent(dy: Any, shape: tuple, axis: Any = None, keepdims: bool = False) -> Any:
    if axis is None:  # (the commonest, of every entry, without the general path's calls)
        return filled(shape, dy)
    return _spread(dy, shape, axis, keepdims)


def _mean_cotangent(dy: Any, shape: tuple, axis: Any = None, keepdims: bool = False) -> Any:
    if axis is None:
        return filled(shape, dy / math.prod(shape))
    return _spread(dy / _reduced_count(shape, axis), shape, axis, keepdims)


def _extremum_cotangent(
    dy: Any, x: np.ndarray, y: Any, axis: Any = None, keepdims: bool = False
) -> Any:
    axes = tuple(range(x.ndim)) if axis is None else normalize_axis_tuple(axis, x.ndim)
    return fit(extremum_cotangent(x, y, dy, axes, keepdims), x)


# The sums and means of squares (see zygote_engine.primitives) keep ``x`` itself, not its shape.


def _sum_of_squares_cotangent(dy: Any, x: np.ndarray) -> Any:
    return fit((2.0 * dy) * x, x)


def _mean_of_squares_cotangent(dy: Any, x: np.ndarray) -> Any:
    return fit((2.0 * dy / x.size) * x, x)


class _Reductions:
    """The reductions differentiated inline, while the rule that a differentiation would use for
    them on float64 arrays is still the one registered when this module was imported (a rule
    registered later, for the engine's config too, takes over): ``get(f)`` gives the function
    ``(dy, shape) -> cotangent`` (``(dy, x) -> cotangent`` for a sum or mean of squares), or
    ``None``. A sum or mean of squares follows the rule of ``np.sum`` or ``np.mean`` (``via``):
    it stands for that call."""

    def __init__(self, cotangents: dict, via: dict | None = None):
        self._cotangents = cotangents
        self._via = via or {}
        self._rules = {f: self._rule(None, self._via.get(f, f)) for f in cotangents}
        self._live: dict = {}
        self._generation = -1

    @staticmethod
    def _rule(config: Any, f: Any) -> Any:
        found = rrule.resolve(config, f, (np.ones(1),))
        return None if found is None else found[0]

    def get(self, f: Any) -> Any:
        if self._generation != rrule.generation:
            # (imported here: the config's module imports the runtime, which imports this one)
            from zygote_engine.config import ZygoteRuleConfig

            config = ZygoteRuleConfig()
            self._live = {
                g: back
                for g, back in self._cotangents.items()
                if self._rule(config, self._via.get(g, g)) is self._rules[g]
            }
            self._generation = rrule.generation
        return self._live.get(f)


_SQUARES_COTANGENTS = {np.sum: _sum_of_squares_cotangent, np.mean: _mean_of_squares_cotangent}
REDUCTIONS = _Reductions(
    {
        np.sum: _sum_cotangent,
        np.mean: _mean_cotangent,
        **dict.fromkeys(EXTREMA, _extremum_cotangent),
        **{f: _SQUARES_COTANGENTS[reduction] for f, (reduction, _) in zy.SQUARE_REDUCTIONS.items()},
    },
    via={f: reduction for f, (reduction, _) in zy.SQUARE_REDUCTIONS.items()},
)


class _ReadsInput(dict):
    """``READS_INPUT[partials]``: whether a one-argument function's scalar partials
    ``partials(x, out)`` read ``x``. Those that read only ``out`` (``tanh``'s ``1 - out**2``)
    let the forward pass keep an array input's shape instead of the input.

    Example:
        >>> import numpy as np
        >>> READS_INPUT[lambda x, out: 1 - out**2], READS_INPUT[lambda x, out: np.cos(x)]
        (False, True)
    """

    def __missing__(self, partials: Any) -> bool:
        reads = self[partials] = _reads_first_argument(partials)
        return reads


def _reads_first_argument(fn: Any) -> bool:
    code = getattr(fn, "__code__", None)
    if type(fn) is not types.FunctionType or code.co_argcount < 2:
        return True  # a builtin, a callable object, ``*args``: assume it does
    name = code.co_varnames[0]
    if name in code.co_cellvars:  # read by a nested function
        return True
    return any(
        i.opname.startswith("LOAD_FAST") and name in _names(i.argval)
        for i in dis.get_instructions(code)
    )


def _names(argval: Any) -> tuple:
    # (LOAD_FAST_LOAD_FAST, from Python 3.13, loads two names at once)
    return argval if type(argval) is tuple else (argval,)


READS_INPUT = _ReadsInput()
