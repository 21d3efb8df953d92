"""Rules for numpy reductions: sums, means, products, extrema, spreads, cumulative sums and
products, differences, gradients, traces, weighted averages, NaN-ignoring reductions, medians and quantiles.

Every rule takes the function's own arguments (``axis`` as an int, a tuple, negative or ``None``;
``keepdims``; ``dtype=`` where numpy has it). Positional arguments after the array (``axis``,
``ddof``, ``n``, ``offset``, ``q``, ...) get ``NoTangent()``, except the ``weights`` of
``np.average``, which are differentiable when passed positionally (``np.average(x, axis, w)``);
keyword arguments never get tangents. ``out=``, ``where=``, ``initial=``, ``mean=``,
``correction=`` and ``overwrite_input=True`` are not supported and raise ``NotImplementedError``.

Conventions:

* **Ties in max/min/amax/amin/nanmax/nanmin/ptp**: the cotangent of an extremum is split evenly
  among all tied entries (as JAX does), so the rule is symmetric and deterministic; the frule
  gives the mean of the tied entries' tangents, which is the adjoint of that split. When a slice
  of ``max``/``min`` contains NaN the result is NaN and its cotangent is split among the NaN
  entries; ``nanmax``/``nanmin`` ignore NaN entries (an all-NaN slice gets zero cotangent).
* **prod and cumprod** never divide by ``x``: ``prod``'s partials are products of all other entries
  (exclusive cumulative products from both ends), and ``cumprod`` solves a first-order linear
  recurrence, so both are exact when some entries are zero.
* **median, quantile, percentile** (``method="linear"`` only) are, locally, fixed linear
  combinations of two order statistics; the cotangent goes to the entries holding them (ties are
  ranked by position, as a stable sort does). ``q``, given positionally, gets the slope between
  the two: ``(n - 1) (s[hi] - s[lo])`` (over 100 for ``percentile``).
* **gradient** is linear in ``f``: its pullback is the transpose of numpy's own finite-difference
  stencil (read off ``np.gradient`` itself, for ``edge_order`` 1 and 2), O(n) along each axis.
  Scalar spacings ``h`` are differentiated too (the result is proportional to ``1 / h``);
  coordinate arrays raise ``NotImplementedError``. ``axis`` and ``edge_order`` are keywords, as
  numpy has them.
* **Complex inputs** follow the library convention (the cotangent of ``z`` is
  ``dL/dRe z + i dL/dIm z``): linear reductions pass the cotangent through, ``prod`` multiplies by
  the conjugate partials, and the real-valued ``var``/``std`` give ``2 (z - mean) dy / (n - ddof)``
  (divided by ``2 std`` for ``std``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from chainrules.calls import bound_arguments, no_tangents
from chainrules.numpy.shape import array_tangent
from chainrules.operator import item_tangents
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    ZeroTangent,
    frule,
    rrule,
    unthunk,
)


def _options(f: Callable, x: Any, args: tuple, kwargs: dict) -> dict:
    """The arguments of the call ``f(x, *args, **kwargs)`` by name, with numpy's defaults filled in.

    numpy's "no value" default reads as ``None`` (``keepdims`` as ``False``). Options that the
    rules do not differentiate through raise ``NotImplementedError``.
    """
    options = {
        name: None if value is np._NoValue else value
        for name, value in bound_arguments(f, (x, *args), kwargs).items()
    }
    for name in ("out", "initial", "where", "mean", "correction"):
        if options.get(name) is not None and not (name == "where" and options[name] is True):
            raise NotImplementedError(
                f"the derivative rule of numpy.{f.__name__} does not support {name}=; "
                f"call numpy.{f.__name__} without it"
            )
    if options.get("overwrite_input"):
        raise NotImplementedError(
            f"numpy.{f.__name__}(..., overwrite_input=True) may reorder its input in place, which "
            "cannot be differentiated; leave overwrite_input False"
        )
    options["keepdims"] = bool(options.get("keepdims"))
    return options


def _axes(axis: Any, x: Any) -> tuple[int, ...]:
    """The reduced axes as non-negative ints (all of them for ``axis=None``)."""
    ndim = np.ndim(x)
    return tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)


def _unreduce(dy: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """A reduction's output (or cotangent) with the reduced axes restored as length-1 axes."""
    return dy if keepdims or isinstance(dy, AbstractZero) else np.expand_dims(dy, axes)


def _broadcast_tangent(d: Any, x: Any) -> Any:
    """``d`` broadcast to ``x``'s shape as a fresh (writeable) array; zeros stay zeros."""
    return d if isinstance(d, AbstractZero) else np.broadcast_to(d, np.shape(x)).copy()


def _count(x: Any, axes: tuple[int, ...]) -> int:
    return int(np.prod([np.shape(x)[axis] for axis in axes]))


def _reduce_tangent(f: Callable, dx: Any, *args: Any, **kwargs: Any) -> Any:
    """``f(dx, ...)`` for a linear ``f``; a zero tangent stays a zero."""
    return dx if isinstance(dx, AbstractZero) else f(dx, *args, **kwargs)


def _register_linear_frule(f: Callable) -> None:
    """A linear reduction's tangent is the reduction of the tangent."""

    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        _options(f, x, args, kwargs)
        return f(x, *args, **kwargs), _reduce_tangent(f, tangents[1], *args, **kwargs)


# ----------------------------------------------------------------------------------------------
# sum, mean, nansum, nanmean: the cotangent spread back over the reduced axes


@rrule.register(np.sum)
def _(x, *args, **kwargs):
    options = _options(np.sum, x, args, kwargs)
    axes, keepdims = _axes(options["axis"], x), options["keepdims"]
    project_x = ProjectTo(x)

    def sum_pullback(dy):
        dx = _broadcast_tangent(_unreduce(dy, axes, keepdims), x)
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return np.sum(x, *args, **kwargs), sum_pullback


@rrule.register(np.mean)
def _(x, *args, **kwargs):
    options = _options(np.mean, x, args, kwargs)
    axes, keepdims = _axes(options["axis"], x), options["keepdims"]
    n = _count(x, axes)
    project_x = ProjectTo(x)

    def mean_pullback(dy):
        dx = _broadcast_tangent(_unreduce(dy, axes, keepdims) / n, x)
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return np.mean(x, *args, **kwargs), mean_pullback


for _f in (np.sum, np.mean):
    _register_linear_frule(_f)


@rrule.register(np.nansum)
def _(x, *args, **kwargs):
    options = _options(np.nansum, x, args, kwargs)
    axes, keepdims = _axes(options["axis"], x), options["keepdims"]
    missing = np.isnan(x)
    project_x = ProjectTo(x)

    def nansum_pullback(dy):
        dx = np.where(missing, 0, _unreduce(dy, axes, keepdims))
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return np.nansum(x, *args, **kwargs), nansum_pullback


@frule.register(np.nansum)
def _(tangents, x, *args, **kwargs):
    options = _options(np.nansum, x, args, kwargs)
    y = np.nansum(x, *args, **kwargs)
    dx = tangents[1]
    if isinstance(dx, AbstractZero):
        return y, dx
    dy = np.sum(
        np.where(np.isnan(x), 0, dx),
        axis=options["axis"],
        dtype=options["dtype"],
        keepdims=options["keepdims"],
    )
    return y, ProjectTo(y)(dy)


def _present_count(x: Any, axes: tuple[int, ...]) -> np.ndarray:
    """How many non-NaN entries each slice of ``x`` has, with the reduced axes kept."""
    return np.sum(~np.isnan(x), axis=axes, keepdims=True)


@rrule.register(np.nanmean)
def _(x, *args, **kwargs):
    options = _options(np.nanmean, x, args, kwargs)
    axes, keepdims = _axes(options["axis"], x), options["keepdims"]
    missing = np.isnan(x)
    count = _present_count(x, axes)
    project_x = ProjectTo(x)

    def nanmean_pullback(dy):
        dx = np.where(missing, 0, _unreduce(dy, axes, keepdims) / count)
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return np.nanmean(x, *args, **kwargs), nanmean_pullback


@frule.register(np.nanmean)
def _(tangents, x, *args, **kwargs):
    options = _options(np.nanmean, x, args, kwargs)
    axes, keepdims = _axes(options["axis"], x), options["keepdims"]
    y = np.nanmean(x, *args, **kwargs)
    dx = tangents[1]
    if isinstance(dx, AbstractZero):
        return y, dx
    present_dx = np.where(np.isnan(x), 0, dx)
    mean_dx = np.sum(present_dx, axis=axes, keepdims=True) / _present_count(x, axes)
    return y, ProjectTo(y)(mean_dx if keepdims else np.squeeze(mean_dx, axes))


# ----------------------------------------------------------------------------------------------
# prod: partials are the products of all other entries, computed without division


def _shift_in_one(v: Any, axis: int) -> Any:
    """``v`` moved one step along ``axis``, a 1 entering first and the last entry dropped."""
    ones = np.ones_like(np.take(v, [0], axis=axis))
    return np.concatenate([ones, np.delete(v, -1, axis=axis)], axis=axis)


def _exclusive_cumprod(v: Any, axis: int) -> Any:
    """``out[k] = v[0] * ... * v[k-1]`` along ``axis`` (1 for ``k = 0``)."""
    return np.cumprod(_shift_in_one(v, axis), axis=axis)


def _flatten_reduced(x: Any, axes: tuple[int, ...]) -> Any:
    """``x`` with the reduced axes moved last and merged into one."""
    ndim = np.ndim(x)
    moved = np.moveaxis(x, axes, range(ndim - len(axes), ndim))
    return np.reshape(moved, (*np.shape(moved)[: ndim - len(axes)], -1))


def _unflatten_reduced(flat: Any, x: Any, axes: tuple[int, ...]) -> Any:
    """The inverse of :func:`_flatten_reduced`: an array of ``x``'s shape."""
    ndim = np.ndim(x)
    kept = [n for axis, n in enumerate(np.shape(x)) if axis not in axes]
    moved = np.reshape(flat, (*kept, *(np.shape(x)[axis] for axis in axes)))
    return np.moveaxis(moved, range(ndim - len(axes), ndim), axes)


def _products_of_others(x: Any, axes: tuple[int, ...]) -> Any:
    """``∂ prod(x, axes) / ∂x``: for each entry, the product of the other entries of its slice.

    The product of the entries before and after each one (exclusive cumulative products from both
    ends of the flattened slice) is exact when some entries are zero.
    """
    flat = _flatten_reduced(x, axes)
    before = _exclusive_cumprod(flat, -1)
    after = np.flip(_exclusive_cumprod(np.flip(flat, -1), -1), -1)
    return _unflatten_reduced(before * after, x, axes)


@rrule.register(np.prod)
def _(x, *args, **kwargs):
    options = _options(np.prod, x, args, kwargs)
    axes, keepdims = _axes(options["axis"], x), options["keepdims"]
    project_x = ProjectTo(x)

    def prod_pullback(dy):
        dx = np.conj(_products_of_others(x, axes)) * _unreduce(dy, axes, keepdims)
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return np.prod(x, *args, **kwargs), prod_pullback


@frule.register(np.prod)
def _(tangents, x, *args, **kwargs):
    options = _options(np.prod, x, args, kwargs)
    y = np.prod(x, *args, **kwargs)
    dx = tangents[1]
    if isinstance(dx, AbstractZero):
        return y, dx
    axes = _axes(options["axis"], x)
    dy = np.sum(_products_of_others(x, axes) * dx, axis=axes, keepdims=options["keepdims"])
    return y, ProjectTo(y)(dy)


# ----------------------------------------------------------------------------------------------
# max, min, amax, amin, nanmax, nanmin, ptp: the cotangent split evenly among tied extrema


def _extremum_weights(x: Any, y: Any, axes: tuple[int, ...], keepdims: bool, skip_nan: bool) -> Any:
    """``∂ extremum / ∂x``: ``1/k`` on each of the ``k`` entries equal to the extremum ``y``.

    A NaN extremum is held by the slice's NaN entries, unless NaNs are skipped (``nanmax``).
    """
    extremum = _unreduce(y, axes, keepdims)
    held = x == extremum
    if not skip_nan:
        held = held | (np.isnan(x) & np.isnan(extremum))
    return held / np.maximum(np.sum(held, axis=axes, keepdims=True), 1)


def _register_extremum(f: Callable, skip_nan: bool = False) -> None:
    @rrule.register(f)
    def _(x, *args, **kwargs):
        options = _options(f, x, args, kwargs)
        axes, keepdims = _axes(options["axis"], x), options["keepdims"]
        y = f(x, *args, **kwargs)
        project_x = ProjectTo(x)

        def extremum_pullback(dy):
            dx = _extremum_weights(x, y, axes, keepdims, skip_nan) * _unreduce(dy, axes, keepdims)
            return (NoTangent(), project_x(dx), *no_tangents(args))

        return y, extremum_pullback

    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        options = _options(f, x, args, kwargs)
        axes, keepdims = _axes(options["axis"], x), options["keepdims"]
        y = f(x, *args, **kwargs)
        dx = tangents[1]
        if isinstance(dx, AbstractZero):
            return y, dx
        weights = _extremum_weights(x, y, axes, keepdims, skip_nan)
        return y, ProjectTo(y)(np.sum(weights * dx, axis=axes, keepdims=keepdims))


for _f in (np.max, np.min, np.amax, np.amin):
    _register_extremum(_f)
for _f in (np.nanmax, np.nanmin):
    _register_extremum(_f, skip_nan=True)


def _ptp_weights(x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """``∂ ptp / ∂x``: the weights of the maximum minus those of the minimum."""
    top = np.max(x, axis=axes, keepdims=keepdims)
    bottom = np.min(x, axis=axes, keepdims=keepdims)
    return _extremum_weights(x, top, axes, keepdims, skip_nan=False) - _extremum_weights(
        x, bottom, axes, keepdims, skip_nan=False
    )


@rrule.register(np.ptp)
def _(x, *args, **kwargs):
    options = _options(np.ptp, x, args, kwargs)
    axes, keepdims = _axes(options["axis"], x), options["keepdims"]
    project_x = ProjectTo(x)

    def ptp_pullback(dy):
        dx = _ptp_weights(x, axes, keepdims) * _unreduce(dy, axes, keepdims)
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return np.ptp(x, *args, **kwargs), ptp_pullback


@frule.register(np.ptp)
def _(tangents, x, *args, **kwargs):
    options = _options(np.ptp, x, args, kwargs)
    axes, keepdims = _axes(options["axis"], x), options["keepdims"]
    y = np.ptp(x, *args, **kwargs)
    dx = tangents[1]
    if isinstance(dx, AbstractZero):
        return y, dx
    dy = np.sum(_ptp_weights(x, axes, keepdims) * dx, axis=axes, keepdims=keepdims)
    return y, ProjectTo(y)(dy)


# ----------------------------------------------------------------------------------------------
# var and std


def _variance_gradient(x: Any, axes: tuple[int, ...], ddof: int) -> Any:
    """The gradient of ``var(x)``, ``2 (x - mean) / (n - ddof)`` (complex for complex ``x``).

    The mean's own dependence on ``x`` drops out because the deviations sum to zero.
    """
    deviation = x - np.mean(x, axis=axes, keepdims=True)
    return 2 * deviation / (_count(x, axes) - ddof)


def _register_spread(f: Callable, chain: Callable) -> None:
    """``var`` (``chain`` = 1) and ``std = sqrt(var)`` (``chain`` = ``1 / (2 std)``)."""

    @rrule.register(f)
    def _(x, *args, **kwargs):
        options = _options(f, x, args, kwargs)
        axes, keepdims = _axes(options["axis"], x), options["keepdims"]
        y = f(x, *args, **kwargs)
        project_x = ProjectTo(x)

        def spread_pullback(dy):
            gradient = _variance_gradient(x, axes, options["ddof"])
            dx = gradient * _unreduce(dy * chain(y), axes, keepdims)
            return (NoTangent(), project_x(dx), *no_tangents(args))

        return y, spread_pullback

    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        options = _options(f, x, args, kwargs)
        axes, keepdims = _axes(options["axis"], x), options["keepdims"]
        y = f(x, *args, **kwargs)
        dx = tangents[1]
        if isinstance(dx, AbstractZero):
            return y, dx
        gradient = _variance_gradient(x, axes, options["ddof"])
        dvar = np.sum(np.real(np.conj(gradient) * dx), axis=axes, keepdims=keepdims)
        return y, ProjectTo(y)(dvar * chain(y))


_register_spread(np.var, lambda y: 1)


def _std_chain(y: Any) -> Any:
    """``d std / d var = 1 / (2 std)``; where ``std`` is 0 (constant data) the derivative does
    not exist and the conventional subgradient 0 is used (never ``inf * 0 = nan``)."""
    y = np.asarray(y)
    return np.divide(
        1.0, 2.0 * y, out=np.zeros(y.shape, dtype=np.result_type(y, 1.0)), where=y != 0
    )


_register_spread(np.std, _std_chain)


# ----------------------------------------------------------------------------------------------
# cumsum and cumprod


def _cumulative_axis(x: Any, axis: Any) -> tuple[Any, int]:
    """``(x, axis)`` as the cumulative functions see them: ``axis=None`` works on ``ravel(x)``."""
    if axis is None:
        return np.ravel(x), 0
    return x, normalize_axis_tuple(axis, np.ndim(x))[0]


@rrule.register(np.cumsum)
def _(x, *args, **kwargs):
    options = _options(np.cumsum, x, args, kwargs)
    _, axis = _cumulative_axis(x, options["axis"])
    project_x = ProjectTo(x)

    def cumsum_pullback(dy):
        # The adjoint of a running sum is the running sum from the other end.
        dx = np.flip(np.cumsum(np.flip(dy, axis), axis=axis), axis)
        return (NoTangent(), project_x(np.reshape(dx, np.shape(x))), *no_tangents(args))

    return np.cumsum(x, *args, **kwargs), cumsum_pullback


_register_linear_frule(np.cumsum)


def _linear_recurrence(a: Any, b: Any, axis: int) -> Any:
    """``s[k] = a[k] * s[k-1] + b[k]`` along ``axis``, from ``s[-1] = 0`` (``a[0]`` is unused)."""
    a, b = np.moveaxis(a, axis, 0), np.moveaxis(b, axis, 0)
    if len(b) == 0:
        return np.moveaxis(b, 0, axis)
    s = [b[0]]
    for a_k, b_k in zip(a[1:], b[1:], strict=True):
        s.append(a_k * s[-1] + b_k)
    return np.moveaxis(np.stack(s), 0, axis)


@rrule.register(np.cumprod)
def _(x, *args, **kwargs):
    options = _options(np.cumprod, x, args, kwargs)
    flat_x, axis = _cumulative_axis(x, options["axis"])
    y = np.cumprod(x, *args, **kwargs)
    project_x = ProjectTo(x)

    def cumprod_pullback(dy):
        # ∂y[k]/∂x[i] = y[i-1] * x[i+1] * ... * x[k] for i <= k, so dx[i] = conj(y[i-1]) * s[i] with
        # s[i] = dy[i] + conj(x[i+1]) * s[i+1]: a recurrence run from the end, with no division.
        before = np.conj(_exclusive_cumprod(flat_x, axis))
        reversed_x = _shift_in_one(np.conj(np.flip(flat_x, axis)), axis)
        s = np.flip(_linear_recurrence(reversed_x, np.flip(dy, axis), axis), axis)
        return (NoTangent(), project_x(np.reshape(before * s, np.shape(x))), *no_tangents(args))

    return y, cumprod_pullback


@frule.register(np.cumprod)
def _(tangents, x, *args, **kwargs):
    options = _options(np.cumprod, x, args, kwargs)
    y = np.cumprod(x, *args, **kwargs)
    dx = tangents[1]
    if isinstance(dx, AbstractZero):
        return y, dx
    flat_x, axis = _cumulative_axis(x, options["axis"])
    flat_dx = np.ravel(dx) if options["axis"] is None else dx
    # The product rule as a recurrence: dy[k] = x[k] * dy[k-1] + y[k-1] * dx[k].
    before = _exclusive_cumprod(flat_x, axis)
    return y, ProjectTo(y)(_linear_recurrence(flat_x, before * flat_dx, axis))


# ----------------------------------------------------------------------------------------------
# diff and trace


def _edge_length(edge: Any, x: Any, axis: int) -> int:
    """How many entries ``prepend=``/``append=`` add along ``axis`` (a scalar adds one)."""
    if edge is None:
        return 0
    return 1 if np.ndim(edge) == 0 else np.shape(edge)[axis]


@rrule.register(np.diff)
def _(x, *args, **kwargs):
    options = _options(np.diff, x, args, kwargs)
    n = options["n"]
    axis = normalize_axis_tuple(options["axis"], np.ndim(x))[0]
    # numpy returns x itself for n = 0, without the prepended values.
    start = _edge_length(options["prepend"], x, axis) if n else 0
    length = np.shape(x)[axis]
    project_x = ProjectTo(x)

    def diff_pullback(dy):
        # The adjoint of one difference, y[k] = x[k+1] - x[k], is dx[i] = dy[i-1] - dy[i].
        dx = dy
        for _ in range(n):
            dx = -np.diff(dx, axis=axis, prepend=0, append=0)
        dx = np.take(dx, range(start, start + length), axis=axis)
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return np.diff(x, *args, **kwargs), diff_pullback


@frule.register(np.diff)
def _(tangents, x, *args, **kwargs):
    options = _options(np.diff, x, args, kwargs)
    y = np.diff(x, *args, **kwargs)
    dx = tangents[1]
    if isinstance(dx, AbstractZero):
        return y, dx
    # The prepended and appended values are constants: their tangent is zero.
    edges = {
        name: np.zeros_like(options[name])
        for name in ("prepend", "append")
        if options[name] is not None
    }
    return y, ProjectTo(y)(np.diff(dx, n=options["n"], axis=options["axis"], **edges))


def _trace_adjoint(dy: Any, shape: tuple[int, ...], offset: int, axis1: int, axis2: int) -> Any:
    """Put ``dy`` on the ``offset`` diagonal of the ``(axis1, axis2)`` planes, zeros elsewhere."""
    diagonal = np.eye(shape[axis1], shape[axis2], k=offset)
    planes = np.expand_dims(dy, (-2, -1)) * diagonal
    return np.moveaxis(planes, (-2, -1), (axis1, axis2))


@rrule.register(np.trace)
def _(x, *args, **kwargs):
    options = _options(np.trace, x, args, kwargs)
    axis1, axis2 = normalize_axis_tuple((options["axis1"], options["axis2"]), np.ndim(x))
    project_x = ProjectTo(x)

    def trace_pullback(dy):
        dx = _trace_adjoint(dy, np.shape(x), options["offset"], axis1, axis2)
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return np.trace(x, *args, **kwargs), trace_pullback


_register_linear_frule(np.trace)


# ----------------------------------------------------------------------------------------------
# gradient: linear in f, and in one over each spacing


def _gradient_spacings(f: Any, varargs: tuple, axis: Any) -> tuple[tuple[int, ...], tuple]:
    """The differentiated axes and the spacing along each: none given is 1, one is shared."""
    axes = _axes(axis, f)
    spacings = varargs * len(axes) if len(varargs) == 1 else varargs or (1.0,) * len(axes)
    if any(np.ndim(h) != 0 for h in spacings):
        raise NotImplementedError(
            "the rules of numpy.gradient support scalar spacings only, not coordinate arrays; "
            "for a uniform grid pass its step, otherwise differentiate np.diff of the values "
            "divided by np.diff of the coordinates"
        )
    return axes, spacings


@functools.cache
def _gradient_stencil(n: int, edge_order: int) -> tuple[tuple, tuple]:
    """``(columns, weights)``: entry ``i`` of ``np.gradient`` of a length-``n`` vector ``f`` with
    unit spacing is ``sum(weights[k][i] * f[columns[k][i]] for k in range(3))``.

    Each entry reads three neighbouring entries at most (interior: ``i - 1``, ``i + 1``; the
    edges: the first or last three), whose positions differ modulo 3; so ``np.gradient`` of the
    indicator of the positions equal to ``k`` modulo 3 is, entry by entry, the weight of the one
    column that each entry reads there. numpy's own stencil is read, never rewritten.
    """
    positions = np.arange(n)
    first = np.clip(positions - 1, 0, max(n - 3, 0))
    columns, weights = [], []
    for k in range(3):
        probe = (positions % 3 == k).astype(float)
        weights.append(np.gradient(probe, edge_order=edge_order))
        # past the end only for n = 2, where that column's weight is zero
        columns.append(np.minimum(first + (k - first) % 3, n - 1))
    return tuple(columns), tuple(weights)


def _gradient_adjoint(dy: Any, axis: int, edge_order: int) -> Any:
    """The transpose of unit-spacing ``np.gradient`` along ``axis``, applied to ``dy``."""
    dy = np.moveaxis(dy, axis, -1)
    columns, weights = _gradient_stencil(dy.shape[-1], edge_order)
    df = np.zeros_like(dy)
    for column, weight in zip(columns, weights, strict=True):
        np.add.at(df, (..., column), weight * dy)  # neighbouring entries share columns
    return np.moveaxis(df, -1, axis)


@rrule.register(np.gradient)
def _(f, *varargs, axis=None, edge_order=1):
    y = np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    axes, spacings = _gradient_spacings(f, varargs, axis)
    ys = y if isinstance(y, tuple) else (y,)
    project_f = ProjectTo(f)
    project_varargs = [ProjectTo(h) for h in varargs]

    def gradient_pullback(dy):
        dys = item_tangents(dy, len(axes)) if isinstance(y, tuple) else (dy,)
        df = np.zeros(np.shape(f), dtype=ys[0].dtype)
        dspacings = [0.0] * len(axes)
        for i, (a, h, g, d) in enumerate(zip(axes, spacings, ys, map(unthunk, dys), strict=True)):
            if isinstance(d, AbstractZero):
                continue
            df = df + _gradient_adjoint(d, a, edge_order) / h
            dspacings[i] = -np.real(np.vdot(g, d)) / h  # g = (stencil of f) / h
        dvarargs = [sum(dspacings)] if len(varargs) == 1 else dspacings[: len(varargs)]
        return (
            NoTangent(),
            project_f(df),
            *(project(d) for project, d in zip(project_varargs, dvarargs, strict=True)),
        )

    return y, gradient_pullback


@frule.register(np.gradient)
def _(tangents, f, *varargs, axis=None, edge_order=1):
    y = np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    axes, spacings = _gradient_spacings(f, varargs, axis)
    ys = y if isinstance(y, tuple) else (y,)
    _, df, *dvarargs = map(unthunk, tangents)
    dys = [np.zeros_like(g) for g in ys]
    if not isinstance(df, AbstractZero):
        dg = np.gradient(array_tangent(f, df), *varargs, axis=axis, edge_order=edge_order)
        dys = list(dg if isinstance(dg, tuple) else (dg,))
    dspacings = dvarargs * len(axes) if len(dvarargs) == 1 else dvarargs
    for i, (h, dh) in enumerate(zip(spacings, dspacings)):
        if not isinstance(dh, AbstractZero):
            dys[i] = dys[i] - ys[i] * (dh / h)
    if isinstance(df, AbstractZero) and all(isinstance(dh, AbstractZero) for dh in dspacings):
        return y, ZeroTangent()
    return y, ProjectTo(y)(tuple(dys) if isinstance(y, tuple) else dys[0])


# ----------------------------------------------------------------------------------------------
# average (differentiable in the weights too)


def _weights_like(w: Any, x: Any, axes: tuple[int, ...] | None) -> Any:
    """``w`` laid out to broadcast against ``x`` as numpy.average does (weights along ``axes``)."""
    if np.shape(w) == np.shape(x):
        return w
    order = np.argsort(axes)
    layout = tuple(n if ax in axes else 1 for ax, n in enumerate(np.shape(x)))
    return np.reshape(np.transpose(w, order), layout)


def _weights_back(dw: Any, w: Any, x: Any, axes: tuple[int, ...]) -> Any:
    """The adjoint of :func:`_weights_like`: sum over the broadcast axes, undo the reordering."""
    if np.shape(w) == np.shape(x):
        return dw
    order = np.argsort(axes)
    summed = np.sum(dw, axis=tuple(ax for ax in range(np.ndim(x)) if ax not in axes))
    return np.transpose(np.reshape(summed, tuple(np.shape(w)[i] for i in order)), np.argsort(order))


def _average_parts(x: Any, weights: Any, axes: tuple[int, ...]) -> tuple[Any, Any, Any]:
    """``(W, total, average)``: weights broadcastable to ``x``, their sum and the weighted mean,
    with the reduced axes kept (unit weights when ``weights`` is None)."""
    w = np.ones(np.shape(x)) if weights is None else _weights_like(weights, x, axes)
    total = np.sum(np.broadcast_to(w, np.shape(x)), axis=axes, keepdims=True)
    return w, total, np.sum(w * x, axis=axes, keepdims=True) / total


def _average_axes(options: dict, x: Any) -> tuple[int, ...]:
    # Shapes of weights are matched against the axes in the order given, not sorted.
    axis, ndim = options["axis"], np.ndim(x)
    return tuple(range(ndim)) if axis is None else tuple(normalize_axis_tuple(axis, ndim))


@rrule.register(np.average)
def _(x, *args, **kwargs):
    options = _options(np.average, x, args, kwargs)
    axes, keepdims, returned = _average_axes(options, x), options["keepdims"], options["returned"]
    weights = options["weights"]
    weights_differentiable = weights is not None and len(args) >= 2
    project_x, project_w = ProjectTo(x), ProjectTo(weights)

    def average_pullback(dy):
        w, total, mean = _average_parts(x, weights, axes)
        d_mean = _unreduce(dy[0] if returned else dy, axes, keepdims)
        dx = np.conj(w / total) * d_mean
        tangents = [NoTangent(), project_x(_broadcast_tangent(dx, x)), *no_tangents(args)]
        if weights_differentiable:
            # ∂average/∂w = (x - average) / total, and the returned total has ∂total/∂w = 1.
            dw = np.conj((x - mean) / total) * d_mean
            if returned:
                dw = dw + _unreduce(dy[1], axes, keepdims)
            dw = _broadcast_tangent(dw, x)
            if not isinstance(dw, AbstractZero):
                dw = project_w(_weights_back(dw, weights, x, axes))
            tangents[3] = dw
        return tuple(tangents)

    return np.average(x, *args, **kwargs), average_pullback


@frule.register(np.average)
def _(tangents, x, *args, **kwargs):
    options = _options(np.average, x, args, kwargs)
    axes, keepdims, weights = _average_axes(options, x), options["keepdims"], options["weights"]
    y = np.average(x, *args, **kwargs)
    dx = tangents[1]
    dw = tangents[3] if weights is not None and len(args) >= 2 else ZeroTangent()
    if not isinstance(dw, AbstractZero):
        dw = _weights_like(dw, x, axes)
    w, total, mean = _average_parts(x, weights, axes)
    # Tangent arithmetic keeps zero tangents zero through these products and sums.
    d_mean = _reduce_tangent(np.sum, w * dx + dw * (x - mean), axis=axes, keepdims=True) / total
    d_total = _reduce_tangent(np.sum, _broadcast_tangent(dw, x), axis=axes, keepdims=True)

    def shaped(d, like):
        if isinstance(d, AbstractZero):
            return d
        d = d if keepdims else np.squeeze(d, axes)
        return ProjectTo(like)(np.broadcast_to(d, np.shape(like)))

    if options["returned"]:
        return y, (shaped(d_mean, y[0]), shaped(d_total, y[1]))
    return y, shaped(d_mean, y)


# ----------------------------------------------------------------------------------------------
# median, quantile, percentile (linear interpolation between order statistics)


def _quantile_weights(x: Any, q: Any, axes: tuple[int, ...]) -> np.ndarray:
    """The linear map ``G`` of ``quantile(x, q, axes)`` near ``x``.

    With the reduced axes of ``x`` flattened last (length ``n``, see :func:`_flatten_reduced`),
    ``G`` has shape ``q.shape + kept + (n,)`` and ``quantile = sum(G * flat_x, -1)``: for the
    sorted values ``s`` the quantile is ``(1 - f) s[lo] + f s[hi]`` at position
    ``q (n - 1) = lo + f``.
    """
    flat = _flatten_reduced(x, axes)
    n = flat.shape[-1]
    rank = np.argsort(np.argsort(flat, axis=-1, kind="stable"), axis=-1, kind="stable")
    position = np.asarray(q, dtype=float) * (n - 1)
    lo = np.floor(position)
    frac = position - lo
    hi = np.minimum(lo + 1, n - 1)
    lo, frac, hi = (np.reshape(v, v.shape + (1,) * flat.ndim) for v in (lo, frac, hi))
    return (1 - frac) * (rank == lo) + frac * (rank == hi)


def _quantile_slope(x: Any, q: Any, axes: tuple[int, ...]) -> np.ndarray:
    """``∂ quantile / ∂q``, of shape ``q.shape + kept``: ``(n - 1) (s[hi] - s[lo])``, the slope of
    the segment between the two order statistics that ``q`` interpolates (0 at ``q = 1``)."""
    s = np.sort(_flatten_reduced(x, axes), axis=-1)
    n = s.shape[-1]
    position = np.asarray(q, dtype=float) * (n - 1)
    lo = np.floor(position).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    gap = np.take(s, hi, axis=-1) - np.take(s, lo, axis=-1)  # kept + q.shape
    return (n - 1) * np.moveaxis(gap, range(s.ndim - 1), range(np.ndim(q), gap.ndim))


def _quantile_options(f: Callable, x: Any, args: tuple, kwargs: dict) -> tuple[tuple, Any]:
    """``(axes, q)`` of a call of median, quantile or percentile, with ``q`` as a fraction."""
    options = _options(f, x, args, kwargs)
    if options.get("method", "linear") != "linear" or options.get("weights") is not None:
        raise NotImplementedError(
            f"the derivative rule of numpy.{f.__name__} supports method='linear' and no weights"
        )
    q = options.get("q", 0.5)
    return _axes(options["axis"], x), np.asarray(q) / 100 if f is np.percentile else q


def _register_quantile(f: Callable) -> None:
    @rrule.register(f)
    def _(x, *args, **kwargs):
        axes, q = _quantile_options(f, x, args, kwargs)
        project_x = ProjectTo(x)

        def quantile_pullback(dy):
            weights = _quantile_weights(x, q, axes)
            dy = np.reshape(dy, (*weights.shape[:-1], 1))
            dflat = np.sum(np.conj(weights) * dy, axis=tuple(range(np.ndim(q))))
            dargs = list(no_tangents(args))
            if f is not np.median and args:  # q, given positionally: the slope between neighbours
                slope = _quantile_slope(x, q, axes) / (100 if f is np.percentile else 1)
                dq = np.sum(np.real(slope * dy[..., 0]), axis=tuple(range(np.ndim(q), slope.ndim)))
                dargs[0] = ProjectTo(args[0])(dq)
            return (NoTangent(), project_x(_unflatten_reduced(dflat, x, axes)), *dargs)

        return f(x, *args, **kwargs), quantile_pullback

    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        axes, q = _quantile_options(f, x, args, kwargs)
        y = f(x, *args, **kwargs)
        dx, dq = tangents[1], tangents[2] if f is not np.median and args else ZeroTangent()
        dy = 0.0
        if not isinstance(dx, AbstractZero):
            dy = np.sum(_quantile_weights(x, q, axes) * _flatten_reduced(dx, axes), axis=-1)
        if not isinstance(dq, AbstractZero):
            slope = _quantile_slope(x, q, axes) / (100 if f is np.percentile else 1)
            dq = np.reshape(dq, np.shape(dq) + (1,) * (slope.ndim - np.ndim(dq)))
            dy = dy + slope * dq
        if isinstance(dx, AbstractZero) and isinstance(dq, AbstractZero):
            return y, ZeroTangent()
        return y, ProjectTo(y)(np.reshape(dy, np.shape(y)))


for _f in (np.median, np.quantile, np.percentile):
    _register_quantile(_f)
