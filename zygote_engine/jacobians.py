"""Jacobians and Hessians.

``jacobian``/``withjacobian`` by reverse mode (one pullback, a ``back`` per output element) or
forward mode (a ``jvp`` per input element), in the arguments or in :class:`Params` (reverse mode
only); ``hessian`` (forward over reverse), ``hessian_reverse`` (reverse over reverse) and
``diaghessian``, all as derivatives of ``gradient``, which nested differentiation makes
differentiable in either mode.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from zygote_engine.api import gradient, pullback
from zygote_engine.batched import Batched, BatchingError
from zygote_engine.jvp import forward_pass, jvp
from zygote_engine.params import Grads, Params, params_pullback

__all__ = [
    "WithJacobian",
    "diaghessian",
    "hessian",
    "hessian_reverse",
    "jacobian",
    "withjacobian",
]

_MODES = (None, "forward", "reverse")


class WithJacobian(NamedTuple):
    """The result of :func:`withjacobian`: the value and the Jacobians."""

    val: Any
    grad: tuple | Grads


class _Input:
    """An argument the Jacobian is taken in: a real number or a real float array.

    ``jacobian`` stores the matrix it builds for the argument here, in the shape
    ``(y.size, size)``; :meth:`result` gives the user-facing form.
    """

    __slots__ = ("dtype", "matrix", "scalar", "shape", "size")

    def __init__(self, x: Any) -> None:
        self.scalar = not isinstance(x, np.ndarray)
        self.shape = () if self.scalar else x.shape
        self.size = 1 if self.scalar else x.size
        self.dtype = np.dtype(float) if self.scalar else x.dtype
        self.matrix: np.ndarray | None = None

    def one_hot(self, i: int) -> Any:
        """The tangent of this argument that is 1 in its ``i``-th element (C order), else 0."""
        if self.scalar:
            return 1.0
        dx = np.zeros(self.shape, self.dtype)
        dx.flat[i] = 1
        return dx

    def result(self) -> np.ndarray:
        """A vector for a number (``∂y[k]/∂x``), else the matrix ``(y.size, x.size)``."""
        return self.matrix[:, 0] if self.scalar else self.matrix


def _input(x: Any, where: str) -> _Input | None:
    """The argument or parameter ``x`` (``where`` names it) as an input, or ``None`` if it has none.

    This is the one place that decides what an argument or a parameter contributes.
    """
    if isinstance(x, (complex, np.complexfloating)) or (
        isinstance(x, np.ndarray) and x.dtype.kind == "c"
    ):
        raise TypeError(
            f"jacobian does not support complex values yet: {where} is "
            f"{_describe(x)}; split it into real and imaginary parts"
        )
    if isinstance(x, np.ndarray):
        return _Input(x) if x.dtype.kind == "f" else None
    if isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)):
        return _Input(x)
    return None


def _parameter(p: Any, index: int) -> _Input | None:
    """The parameter ``p`` as an input: a float array; ``None`` for an integer or boolean array."""
    if not isinstance(p, np.ndarray):
        raise TypeError(
            f"jacobian with Params needs array parameters, but parameter {index} is "
            f"{_describe(p)}: pass the arrays it holds to Params instead"
        )
    return _input(p, f"parameter {index}")


def _output_size(f: Callable, y: Any) -> int:
    """``y.size`` for a real number or real array ``y``; a ``TypeError`` for anything else."""
    if isinstance(y, np.ndarray) and y.dtype.kind in "fiu":
        return y.size
    if isinstance(y, numbers.Real) and not isinstance(y, (bool, np.bool_)):
        return 1
    name = getattr(f, "__qualname__", repr(f))
    complex_note = (
        " (complex values are not supported yet)"
        if isinstance(y, (complex, np.complexfloating))
        or (isinstance(y, np.ndarray) and y.dtype.kind == "c")
        else ""
    )
    raise TypeError(
        f"jacobian needs {name} to return a real number or a real numpy array, but it returned "
        f"{_describe(y)}{complex_note}; convert a list or tuple of numbers with np.array"
    )


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of dtype {x.dtype} and shape {x.shape}"
    return f"a {type(x).__name__}"


def _dtype(y: Any, inp: _Input) -> np.dtype:
    """The Jacobian's dtype: float64 unless both sides are narrower floats."""
    y_dtype = y.dtype if isinstance(y, np.ndarray) and y.dtype.kind == "f" else np.dtype(float)
    return np.result_type(y_dtype, inp.dtype)


def _one_hot_output(y: Any, k: int) -> Any:
    """The cotangent of ``y`` that is 1 in its ``k``-th element (C order), else 0."""
    if not isinstance(y, np.ndarray):
        return 1.0
    dy = np.zeros(y.shape, y.dtype if y.dtype.kind == "f" else float)
    dy.flat[k] = 1
    return dy


def jacobian(f: Callable, *args: Any, mode: str | None = None) -> tuple | Grads:
    """The Jacobian of ``f`` at ``args``: one entry per argument.

    For an array argument ``a``, the matrix ``J`` of shape ``(y.size, a.size)`` with
    ``J[k, i] = ∂y.ravel()[k] / ∂a.ravel()[i]`` (both flattened in C order); for a number, the
    vector of the ``y.size`` derivatives; for any other argument (integer or boolean arrays,
    lists, strings, objects), ``None``. A number ``y`` counts as one element: an array argument
    gets one row, ``(1, a.size)``. ``f`` must return a real number or a real array. Complex
    values are not supported yet (a ``TypeError``).

    ``jacobian(f, params)`` with a :class:`Params` of arrays differentiates the argument-free
    ``f`` in the parameters it reaches itself (Flux style), in reverse mode: a :class:`Grads`
    that maps each float array ``p`` to its ``(y.size, p.size)`` matrix, or to ``None`` when no
    gradient reaches it (``y`` does not depend on it, or it is an integer array).

    Args:
        f: the function.
        args: where to take the Jacobian, or one :class:`Params`.
        mode: ``"reverse"`` (one ``back`` per output element), ``"forward"`` (one ``jvp`` per
            input element; not with :class:`Params`), or ``None``: ``f(*args)`` runs once
            plainly to learn the output's size, then forward mode when the arguments have fewer
            elements in all than the output, reverse mode otherwise (always with Params).

    Example:
        >>> import numpy as np
        >>> from zygote_engine import Params, jacobian
        >>> ja, jx = jacobian(lambda a, x: 100 * a[:3] ** 2 + x**2, np.array([1.0, 2, 3, 4]), 5.0)
        >>> ja
        array([[200.,   0.,   0.,   0.],
               [  0., 400.,   0.,   0.],
               [  0.,   0., 600.,   0.]])
        >>> jx
        array([10., 10., 10.])
        >>> jacobian(lambda x, label: 2 * x, np.array([1.0, 2.0]), "doubled")
        (array([[2., 0.],
               [0., 2.]]), None)
        >>> xs, ys = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
        >>> J = jacobian(lambda: ys[:2] + np.sum(xs**2), Params([xs, ys]))
        >>> J[xs]
        array([[2., 4., 6.],
               [2., 4., 6.]])
        >>> J[ys]
        array([[1., 0., 0.],
               [0., 1., 0.]])
    """
    return withjacobian(f, *args, mode=mode).grad


def withjacobian(f: Callable, *args: Any, mode: str | None = None) -> WithJacobian:
    """``(val, grad)``: the value of ``f(*args)`` and its Jacobian (see :func:`jacobian`).

    Example:
        >>> import numpy as np
        >>> from zygote_engine import Params, withjacobian
        >>> val, (J,) = withjacobian(lambda x: np.cumsum(x), np.array([1.0, 2.0]))
        >>> val, J
        (array([1., 3.]), array([[1., 0.],
               [1., 1.]]))
        >>> w = np.array([1.0, 2.0])
        >>> val, J = withjacobian(lambda: w**2, Params([w]))
        >>> val, J[w]
        (array([1., 4.]), array([[2., 0.],
               [0., 4.]]))
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'forward', 'reverse' or None, got {mode!r}")
    if len(args) == 1 and isinstance(args[0], Params):
        return _params_jacobian(f, args[0], mode)
    if any(isinstance(x, Params) for x in args):
        raise TypeError(
            "jacobian takes a Params as its only argument after the function (which then takes "
            "no arguments and reaches its parameters itself), not beside other arguments"
        )
    inputs = [_input(x, f"argument {position}") for position, x in enumerate(args)]
    active = [inp for inp in inputs if inp is not None]
    if not active:  # nothing to differentiate in: only the value, checked
        y = f(*args)
        _output_size(f, y)
        return WithJacobian(y, (None,) * len(args))
    passes = _Passes(args)
    if mode is None:  # a plain run (cheap next to either mode) tells which mode is cheaper
        size = _output_size(f, f(*passes.arguments()))
        mode = "forward" if sum(inp.size for inp in active) < size else "reverse"
    if mode == "forward":
        y = _forward(f, passes, inputs)
    else:
        y, back = pullback(f, *passes.arguments())
        _reverse(y, _output_size(f, y), back, inputs)
    passes.settle()
    return WithJacobian(y, tuple(None if inp is None else inp.result() for inp in inputs))


def _params_jacobian(f: Callable, params: Params, mode: str | None) -> WithJacobian:
    """``withjacobian(f, params)``: reverse mode, one matrix (or ``None``) per parameter."""
    if mode == "forward":
        raise ValueError(
            "jacobian with Params runs in reverse mode only: forward mode has no tangents for the "
            "parameters a function reaches itself. Use mode='reverse' or None, or pass the arrays "
            "to the function as arguments"
        )
    inputs = [_parameter(p, index) for index, p in enumerate(params)]
    y, back = params_pullback(f, params)
    reached = _reverse(y, _output_size(f, y), lambda dy: back(dy).values(), inputs)
    matrices = (inp.matrix if index in reached else None for index, inp in enumerate(inputs))
    return WithJacobian(y, Grads(params, matrices))


def _allocate(y: Any, size: int, inputs: list[_Input | None]) -> None:
    """Give each input a zero matrix ``(size, input size)`` to fill."""
    for inp in inputs:
        if inp is not None:
            inp.matrix = np.zeros((size, inp.size), _dtype(y, inp))


def _reverse(y: Any, size: int, back: Callable, inputs: list[_Input | None]) -> set[int]:
    """Fill the inputs' matrices row by row: row ``k`` is the gradient of ``y.ravel()[k]``.

    Returns the positions of the inputs that some row's gradient reached.
    """
    _allocate(y, size, inputs)
    reached = set()
    for k in range(size):
        # a fresh cotangent each time: the engine may accumulate into the one it is given
        grads = back(_one_hot_output(y, k))
        for position, (inp, dx) in enumerate(zip(inputs, grads)):
            if inp is not None and dx is not None:
                inp.matrix[k] = np.ravel(dx)
                reached.add(position)
    return reached


def _forward(f: Callable, passes: _Passes, inputs: list[_Input | None]) -> Any:
    """Fill the inputs' matrices with one batched forward pass per input (all its columns
    together), or one ``jvp`` per column where the batch cannot pass; returns ``y``."""
    rest = (None,) * len(inputs)  # jvp's "no tangent", for every argument but the seeded one
    y = _NOT_YET = object()
    for position, inp in enumerate(inputs):
        if inp is None:
            continue
        if inp.size > 1:
            seeds = Batched(np.eye(inp.size, dtype=inp.dtype).reshape(inp.size, *inp.shape))
            try:
                y_all, dy = forward_pass(
                    f, passes.arguments(), (*rest[:position], seeds, *rest[position + 1 :])
                )
            except BatchingError:
                pass  # somewhere a batch cannot pass: one column at a time below
            else:
                if y is _NOT_YET:
                    _allocate(y_all, _output_size(f, y_all), inputs)
                y = y_all
                if type(dy) is Batched:
                    inp.matrix[:] = dy.values.reshape(inp.size, -1).T
                continue
        for i in range(inp.size):
            tangents = (*rest[:position], inp.one_hot(i), *rest[position + 1 :])
            y_i, dy = jvp(f, passes.arguments(), tangents)
            if y is _NOT_YET:
                _allocate(y_i, _output_size(f, y_i), inputs)
            y = y_i
            if dy is not None:  # None: no tangent reached y (an integer y, say)
                inp.matrix[:, i] = np.ravel(dy)
    if y is _NOT_YET:  # every input is an empty array: no jvp ran
        y = f(*passes.arguments())
        _allocate(y, _output_size(f, y), inputs)
    return y


class _Passes:
    """The arguments of each of several runs of one function: fresh copies of the arrays every
    time (the function may write into them), and, in the end, the arrays as one run left them.
    """

    def __init__(self, args: tuple) -> None:
        self.args = args
        self.last: tuple = ()

    def arguments(self) -> tuple:
        self.last = tuple(a.copy() if type(a) is np.ndarray else a for a in self.args)
        return self.last

    def settle(self) -> None:
        for original, copied in zip(self.args, self.last):
            if type(original) is np.ndarray and not np.array_equal(original, copied):
                np.copyto(original, copied)


def hessian(f: Callable, x: Any) -> Any:
    """The Hessian of the real-scalar ``f`` at ``x``, forward over reverse.

    Each column is a ``jvp`` of ``gradient(f, ·)``: ``n`` Hessian-vector products for ``n``
    elements of ``x``. For an array ``x`` the matrix ``H[i, j] = ∂²f / ∂x.ravel()[i]
    ∂x.ravel()[j]`` (C order), of shape ``(x.size, x.size)``; for a number, a number.

    Example:
        >>> import numpy as np
        >>> from zygote_engine import hessian
        >>> hessian(lambda x: x[0] ** 2 * x[1] + np.sin(x[1]), np.array([1.0, 0.0]))
        array([[0., 2.],
               [2., 0.]])
        >>> hessian(lambda x: x**3, 2.0)
        12.0
    """
    return _hessian(f, x, "forward", "hessian")


def hessian_reverse(f: Callable, x: Any) -> Any:
    """The Hessian of the real-scalar ``f`` at ``x``, reverse over reverse (see :func:`hessian`).

    One pullback of ``gradient(f, ·)``, then a ``back`` per element of ``x``; reverse mode
    differentiates ``gradient`` through its rule, whose pullback is a Hessian-vector product.
    Equal to :func:`hessian`, at about the same cost (``n`` Hessian-vector products).

    Example:
        >>> import numpy as np
        >>> from zygote_engine import hessian_reverse
        >>> hessian_reverse(lambda x: np.sum(x**3), np.array([1.0, 2.0]))
        array([[ 6.,  0.],
               [ 0., 12.]])
    """
    return _hessian(f, x, "reverse", "hessian_reverse")


def diaghessian(f: Callable, *args: Any) -> tuple:
    """The diagonal of the Hessian of the real-scalar ``f``, for each argument: ``∂²f/∂a[i]²``.

    One entry per argument, of the argument's shape (a number for a number, ``None`` for an
    argument that is not a number or a float array); each element costs a Hessian-vector
    product.

    Example:
        >>> import numpy as np
        >>> from zygote_engine import diaghessian
        >>> diaghessian(lambda x, y: np.sum(x**2) * y**3, np.array([1.0, 2.0]), 2.0)
        (array([16., 16.]), 60.0)
    """
    out = []
    for position, x in enumerate(args):
        inp = _input(x, f"argument {position}")
        if inp is None:
            out.append(None)
            continue

        def partial_gradient(a, position=position):
            others = (*args[:position], a, *args[position + 1 :])
            g = gradient(f, *others)[position]
            return np.zeros_like(a, dtype=float) if g is None else g

        diagonal = np.zeros(inp.size, inp.dtype)
        for i in range(inp.size):
            _, column = jvp(partial_gradient, (x,), (inp.one_hot(i),))
            diagonal[i] = np.ravel(column)[i]
        out.append(float(diagonal[0]) if inp.scalar else diagonal.reshape(inp.shape))
    return tuple(out)


def _hessian(f: Callable, x: Any, mode: str, name: str) -> Any:
    inp = _input(x, "argument 0")
    if inp is None:
        raise TypeError(
            f"{name} needs a real number or a real float array, got {_describe(x)}; "
            "for several arguments or other structures, use jacobian of gradient"
        )

    def full_gradient(a):
        g = gradient(f, a)[0]
        return np.zeros_like(a, dtype=float) if g is None else g

    (h,) = jacobian(full_gradient, x, mode=mode)
    return float(h[0]) if inp.scalar else h
