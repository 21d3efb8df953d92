"""JAX: a function with a rule as a ``jax.custom_vjp`` whose computations are ``jax.pure_callback``\\ s."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrules.interop._calls import (
    array_cotangents,
    as_array,
    fill,
    function_name,
    output_cotangent,
    output_parts,
    rebuild_output,
    require_rrule,
    run_rrule,
    split_call,
)


def to_jax(f: Callable, *, result_shape: Callable | None = None) -> Callable:
    """``f`` as a function of JAX arrays that ``jax.grad`` and ``jax.vjp`` differentiate with ``f``'s rule.

    It works under ``jax.jit`` and ``jax.vmap`` too: ``f`` and its rule run as
    ``jax.pure_callback``\\ s on the host, on numpy arrays (one call per batch element under
    ``vmap``). Arrays may also sit inside tuple or list arguments (``np.concatenate((a, b))``);
    every other argument, keyword arguments included, is a constant passed to ``f`` unchanged.
    Tuple outputs (NamedTuples too) come back as tuples of arrays.

    How the output shapes are known: a callback must declare the shapes and dtypes of its results
    before it runs, and JAX cannot trace into numpy code to find them (``jax.eval_shape`` of a
    callback needs the very declaration we lack). So ``f`` runs once per new signature (the
    inputs' shapes and dtypes, the constants and keyword arguments) on *stand-ins*: arrays of ones
    of those shapes and dtypes, with identity matrices in the last two axes where those are
    square, so that linear-algebra functions (``inv``, ``solve``, ``cholesky``, ...) meet an
    invertible, positive-definite matrix. The result is cached per signature, so eager calls of
    one signature, and ``jit``, which traces once, pay for it once. Where ``f`` fails on the
    stand-ins, pass ``result_shape``.

    The cotangents are computed by running the ``rrule`` afresh in the backward callback, on the
    inputs saved by the forward pass, and calling its pullback: JAX may skip or repeat a
    ``pure_callback``, so a pullback kept on the host between the two callbacks (in a table keyed
    by a token) could be lost, used twice or never freed.

    Forward mode (``jax.jvp``, ``jax.jacfwd``) is not supported: a ``custom_vjp`` function has no
    tangent map, and the frule's callback could not be transposed into reverse mode. Nor are second
    derivatives through one rule (the pullback runs on numpy arrays JAX does not trace).

    Args:
        f: a function with a registered ``rrule``.
        result_shape: optional; ``result_shape(*args, **kwargs)``, called with a
            ``jax.ShapeDtypeStruct`` in each array's place, returns the output's
            ``jax.ShapeDtypeStruct`` (a tuple of them for a tuple output). Given, ``f`` never runs
            on stand-ins.

    Raises:
        TypeError: ``f`` has no ``rrule``.

    Example:
        >>> import jax
        >>> import numpy as np
        >>> from chainrules.interop import to_jax
        >>> sin = to_jax(np.sin)
        >>> dx = jax.jit(jax.grad(lambda x: sin(x).sum()))(jax.numpy.array([0.0, 1.0]))
        >>> [round(float(d), 4) for d in dx]
        [1.0, 0.5403]
    """
    require_rrule(f, "to_jax")
    import jax
    import jax.numpy as jnp

    def infer_output(skeleton: tuple, avals: tuple, kwargs: dict) -> tuple:
        """``(container, ShapeDtypeStructs)`` of the output for inputs of these shapes and dtypes."""
        if result_shape is not None:
            structs = [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in avals]
            parts, container = output_parts(result_shape(*fill(skeleton, structs), **kwargs))
        else:
            stand_ins = [_stand_in(shape, dtype) for shape, dtype in avals]
            try:
                with np.errstate(all="ignore"):
                    y = f(*fill(skeleton, stand_ins), **kwargs)
            except Exception as error:
                raise ValueError(
                    f"to_jax({function_name(f)}) must know the output's shape before running it, "
                    "and calling it on stand-ins of the inputs (ones, identity matrices) failed "
                    f"with {type(error).__name__}: {error}; pass result_shape= to to_jax"
                ) from error
            parts, container = output_parts(y)
        shapes = [(np.shape(part), np.result_type(part)) for part in parts]
        return container, tuple(
            jax.ShapeDtypeStruct(shape, jax.dtypes.canonicalize_dtype(dtype))
            for shape, dtype in shapes
        )

    @functools.lru_cache(maxsize=256)
    def cached_output(skeleton: tuple, avals: tuple, kwargs_items: tuple) -> tuple:
        return infer_output(skeleton, avals, dict(kwargs_items))

    def output_spec(skeleton: tuple, avals: tuple, kwargs: dict) -> tuple:
        key = (skeleton, avals, tuple(sorted(kwargs.items())))
        try:
            hash(key)
        except TypeError:  # an unhashable constant (a list, say): inferred afresh every call
            return infer_output(skeleton, avals, kwargs)
        return cached_output(*key)

    @functools.wraps(f)
    def on_arrays(*args: Any, **kwargs: Any) -> Any:
        arrays, skeleton = split_call(args, lambda v: isinstance(v, (jax.Array, np.ndarray)))
        arrays = [jnp.asarray(a) for a in arrays]  # numpy inputs take JAX's dtypes
        avals = tuple((tuple(a.shape), np.dtype(a.dtype)) for a in arrays)
        container, out_structs = output_spec(skeleton, avals, kwargs)
        differentiable_inputs = [i for i, a in enumerate(arrays) if _inexact(a.dtype)]
        differentiable_outputs = [i for i, s in enumerate(out_structs) if _inexact(s.dtype)]

        # The callbacks get JAX arrays on the host; numpy functions called on those would
        # dispatch back to JAX (``np.take`` calls ``jax.Array.take``), so they become numpy.
        def primal(*xs):
            y = f(*fill(skeleton, [np.asarray(x) for x in xs]), **kwargs)
            return tuple(
                np.asarray(part, s.dtype) for part, s in zip(output_parts(y)[0], out_structs)
            )

        def cotangents(*operands):
            operands = [np.asarray(operand) for operand in operands]
            xs, dy_operands = operands[: len(arrays)], operands[len(arrays) :]
            dys: list = [None] * len(out_structs)  # integer outputs have no cotangent
            for i, dy in zip(differentiable_outputs, dy_operands):
                dys[i] = dy
            _, pullback = run_rrule(f, skeleton, xs, kwargs)
            dargs = pullback(output_cotangent(dys, container))[1:]  # first: f's own tangent
            dxs = array_cotangents(skeleton, dargs)
            return tuple(as_array(dxs[i], xs[i]) for i in differentiable_inputs)

        def run(*xs):
            return jax.pure_callback(primal, out_structs, *xs, vmap_method="sequential")

        def run_forward(*xs):
            return run(*xs), xs

        def run_backward(xs, dys):
            structs = tuple(
                jax.ShapeDtypeStruct(xs[i].shape, xs[i].dtype) for i in differentiable_inputs
            )
            dy_operands = [dys[i] for i in differentiable_outputs]
            computed = jax.pure_callback(
                cotangents, structs, *xs, *dy_operands, vmap_method="sequential"
            )
            dxs: list = [None] * len(xs)  # None: the zero cotangent of an integer input
            for i, dx in zip(differentiable_inputs, computed):
                dxs[i] = dx
            return tuple(dxs)

        # A custom_vjp per call: the constants and output spec it closes over vary from call to call.
        apply = jax.custom_vjp(run)
        apply.defvjp(run_forward, run_backward)
        return rebuild_output(apply(*arrays), container)

    return on_arrays


def _inexact(dtype: Any) -> bool:
    return np.issubdtype(dtype, np.inexact)


def _stand_in(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Ones of ``shape`` and ``dtype``, with identity matrices in the last two axes where square."""
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        return np.broadcast_to(np.eye(shape[-1], dtype=dtype), shape).copy()
    return np.ones(shape, dtype)
