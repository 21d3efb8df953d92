"""Rules for numpy reductions: sums, means, products, extrema, spreads, cumulative sums and
products, differences, gradients, traces, weighted averages, NaN-ignoring reductions, medians and
quantiles; also ``cumulative_sum``/``cumulative_prod``, ``ediff1d``, ``trapezoid``, ``cov``,
``corrcoef``, ``unwrap`` and ``sort_complex``.

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
* **NaN-skipping functions** (``nansum``, ``nanmean``, ``nanprod``, ``nancumsum``,
  ``nancumprod``, ``nanvar``, ``nanstd``, ``nanmedian``, ``nanquantile``, ``nanpercentile``) give
  NaN entries a zero cotangent; the rest is the plain function's rule on the non-NaN entries
  (``nanprod``/``nancumprod``/``nancumsum`` reuse those rules with NaN replaced by 1 or 0).
* **cumulative_sum/cumulative_prod** are ``cumsum``/``cumprod``; the entry that
  ``include_initial=True`` prepends is a constant.
* **ediff1d** differentiates ``to_end``/``to_begin`` (copied into the output) when passed
  positionally. **trapezoid** is ``sum(widths * midpoints)``: differentiable in ``y``, in the
  coordinates ``x`` (through ``diff(x)``) and in a scalar ``dx``, when passed positionally.
* **cov/corrcoef** (``fweights``/``aweights`` raise ``NotImplementedError``): ``C = Xc Xc^H /
  (N - ddof)`` gives ``dXc = (G + G^H) Xc / (N - ddof)``; centring is self-adjoint;
  ``R = C s s^T`` with ``s = 1 / sqrt(diag C)``.
* **unwrap** adds a piecewise-constant multiple of the period: its derivative is the identity
  (also taken at the jumps). **sort_complex** is a permutation (by real, then imaginary part);
  a real input's cotangent is the real part.
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

from chainrules.calls import bound_arguments, no_tangents, signature_of
from chainrules.numpy.shape import array_tangent, size_of
from chainrules.operator import item_tangents
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    ZeroTangent,
    frule,
    rrule,
    unbroadcast,
    unthunk,
)
from chainrules_core.arrays import is_duck_array


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


def _reduced_axes(f: Callable, x: Any, args: tuple, kwargs: dict) -> tuple[tuple[int, ...], bool]:
    """``(axes, keepdims)`` of the reduction ``f(x, *args, **kwargs)`` (options checked)."""
    if not args and not kwargs:  # ``np.sum(x)``: every axis, no options to read
        return tuple(range(np.ndim(x))), False
    options = _options(f, x, args, kwargs)
    return _axes(options["axis"], x), options["keepdims"]


def _axes(axis: Any, x: Any) -> tuple[int, ...]:
    """The reduced axes as non-negative ints (all of them for ``axis=None``)."""
    ndim = np.ndim(x)
    return tuple(range(ndim)) if axis is None else normalize_axis_tuple(axis, ndim)


def _unreduce(dy: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    """A reduction's output (or cotangent) with the reduced axes restored as length-1 axes."""
    if keepdims or isinstance(dy, AbstractZero) or not np.ndim(dy):
        return dy  # (a number broadcasts against the input as it is)
    return np.expand_dims(dy, axes)


def _broadcast_tangent(d: Any, shape: tuple[int, ...], like: Any = None) -> Any:
    """``d`` broadcast to ``shape`` as a fresh (writeable) array; zeros stay zeros.

    ``like``, a duck array of ``shape`` (see :mod:`chainrules_core.arrays`), makes the result one
    of its type and chunks: the input of a reduction over data in dask may not fit in memory.
    """
    if isinstance(d, AbstractZero):
        return d
    if like is not None:
        return np.zeros_like(like) + d
    if not np.ndim(d):
        return np.full(shape, d)
    return np.broadcast_to(d, shape).copy()


def _duck(x: Any) -> Any:
    """``x`` if it is a duck array (its cotangents are made in its type), else ``None``."""
    return x if is_duck_array(x) else None


def _count(x: Any, axes: tuple[int, ...]) -> int:
    return int(np.prod([np.shape(x)[axis] for axis in axes]))


def _reduce_tangent(f: Callable, dx: Any, *args: Any, **kwargs: Any) -> Any:
    """``f(dx, ...)`` for a linear ``f``; a zero tangent stays a zero."""
    return dx if isinstance(dx, AbstractZero) else f(dx, *args, **kwargs)


def _register_linear_frule(f: Callable) -> None:
    """A linear reduction's tangent is the reduction of the tangent."""

    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        if args or kwargs:  # (``f(x)`` has no option to refuse)
            _options(f, x, args, kwargs)
        return f(x, *args, **kwargs), _reduce_tangent(f, tangents[1], *args, **kwargs)


# ----------------------------------------------------------------------------------------------
# sum, mean, nansum, nanmean: the cotangent spread back over the reduced axes


@rrule.register(np.sum)
def _(x, *args, **kwargs):
    axes, keepdims = _reduced_axes(np.sum, x, args, kwargs)
    project_x, shape = ProjectTo(x), np.shape(x)  # (not x: the backward pass need not keep it)
    like = _duck(x)

    def sum_pullback(dy):
        dx = _broadcast_tangent(_unreduce(dy, axes, keepdims), shape, like)
        return (NoTangent(), project_x(dx), *no_tangents(args))

    return np.sum(x, *args, **kwargs), sum_pullback


@rrule.register(np.mean)
def _(x, *args, **kwargs):
    axes, keepdims = _reduced_axes(np.mean, x, args, kwargs)
    n = _count(x, axes)
    project_x, shape, like = ProjectTo(x), np.shape(x), _duck(x)

    def mean_pullback(dy):
        dx = _broadcast_tangent(_unreduce(dy, axes, keepdims) / n, shape, like)
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
    if np.shape(v)[axis] == 0:
        return v  # an empty axis has no entry to drop, and no place for the 1
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
    # (asked of the extrema, far fewer than x's entries; a lazy array is not asked: it would compute)
    if not skip_nan and (is_duck_array(y) or np.isnan(y).any()):
        held = held | (np.isnan(x) & np.isnan(extremum))
    return held / np.maximum(held.sum(axis=axes, keepdims=True), 1)  # (the method: no dispatch)


def extremum_cotangent(
    x: Any, y: Any, dy: Any, axes: tuple[int, ...], keepdims: bool, skip_nan: bool = False
) -> Any:
    """The cotangent of ``x`` in ``y = max(x, axis=axes, keepdims=keepdims)`` (or ``min``, ...)
    from the cotangent ``dy`` of ``y``: each slice's ``dy`` split evenly among its extrema.

    Example:
        >>> import numpy as np
        >>> extremum_cotangent(np.array([[1.0, 3.0, 3.0]]), np.array([3.0]), np.array([2.0]),
        ...                    (1,), False)
        array([[0., 1., 1.]])
    """
    return _extremum_weights(x, y, axes, keepdims, skip_nan) * _unreduce(dy, axes, keepdims)


def _register_extremum(f: Callable, skip_nan: bool = False) -> None:
    @rrule.register(f)
    def _(x, *args, **kwargs):
        options = _options(f, x, args, kwargs)
        axes, keepdims = _axes(options["axis"], x), options["keepdims"]
        y = f(x, *args, **kwargs)
        project_x = ProjectTo(x)

        def extremum_pullback(dy):
            dx = extremum_cotangent(x, y, dy, axes, keepdims, skip_nan)
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


def _nan_variance_gradient(x: Any, axes: tuple[int, ...], ddof: int) -> Any:
    """The gradient of ``nanvar(x)``: that of ``var`` over the non-NaN entries, 0 at NaN ones."""
    present = ~np.isnan(x)
    deviation = np.where(present, x - np.nanmean(x, axis=axes, keepdims=True), 0)
    return 2 * deviation / (np.sum(present, axis=axes, keepdims=True) - ddof)


def _register_spread(f: Callable, chain: Callable, variance_gradient: Callable) -> None:
    """``var`` (``chain`` = 1) and ``std = sqrt(var)`` (``chain`` = ``1 / (2 std)``), and their
    NaN-skipping twins (another ``variance_gradient``)."""

    @rrule.register(f)
    def _(x, *args, **kwargs):
        options = _options(f, x, args, kwargs)
        axes, keepdims = _axes(options["axis"], x), options["keepdims"]
        y = f(x, *args, **kwargs)
        project_x = ProjectTo(x)

        def spread_pullback(dy):
            gradient = variance_gradient(x, axes, options["ddof"])
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
        gradient = variance_gradient(x, axes, options["ddof"])
        dvar = np.sum(np.real(np.conj(gradient) * dx), axis=axes, keepdims=keepdims)
        return y, ProjectTo(y)(dvar * chain(y))


_register_spread(np.var, lambda y: 1, _variance_gradient)
_register_spread(np.nanvar, lambda y: 1, _nan_variance_gradient)


def _std_chain(y: Any) -> Any:
    """``d std / d var = 1 / (2 std)``; where ``std`` is 0 (constant data) the derivative does
    not exist and the conventional subgradient 0 is used (never ``inf * 0 = nan``)."""
    # (np.where rather than divide's where=: duck arrays have it, and nested differentiation
    # runs this as code, whose calls its rules cover)
    nonzero = y != 0
    return np.where(nonzero, 1.0 / (2.0 * np.where(nonzero, y, 1.0)), 0.0)


_register_spread(np.std, _std_chain, _variance_gradient)
_register_spread(np.nanstd, _std_chain, _nan_variance_gradient)


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
        dx = np.take(dx, np.arange(start, start + length), axis=axis)
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
        # a 0-d f has no axes, so no derivatives (ys is empty): nothing flows back
        df = np.zeros(np.shape(f), dtype=ys[0].dtype if ys else np.result_type(f, 1.0))
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
        tangents = [NoTangent(), project_x(_broadcast_tangent(dx, np.shape(x))), *no_tangents(args)]
        if weights_differentiable:
            # ∂average/∂w = (x - average) / total, and the returned total has ∂total/∂w = 1.
            dw = np.conj((x - mean) / total) * d_mean
            if returned:
                dw = dw + _unreduce(dy[1], axes, keepdims)
            dw = _broadcast_tangent(dw, np.shape(x))
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
    d_total = _reduce_tangent(np.sum, _broadcast_tangent(dw, np.shape(x)), axis=axes, keepdims=True)

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


def _quantile_positions(flat: Any, q: Any, skip_nan: bool) -> tuple[Any, Any, Any, Any]:
    """``(count - 1, lo, frac, hi)``, shaped ``q.shape + kept + (1,)``: each quantile sits at
    ``q (count - 1) = lo + frac`` among the ``count`` values of its slice (the non-NaN ones when
    ``skip_nan``, which sort last)."""
    if skip_nan:
        count = np.sum(~np.isnan(flat), axis=-1, keepdims=True)
    else:
        count = np.full((*flat.shape[:-1], 1), flat.shape[-1])
    q = np.asarray(q, dtype=float)
    position = np.reshape(q, q.shape + (1,) * flat.ndim) * (count - 1)
    lo = np.floor(position)
    hi = np.minimum(lo + 1, count - 1)
    return count - 1, lo, position - lo, hi


def _quantile_weights(x: Any, q: Any, axes: tuple[int, ...], skip_nan: bool = False) -> np.ndarray:
    """The linear map ``G`` of ``quantile(x, q, axes)`` near ``x``.

    With the reduced axes of ``x`` flattened last (length ``n``, see :func:`_flatten_reduced`),
    ``G`` has shape ``q.shape + kept + (n,)`` and ``quantile = sum(G * flat_x, -1)``: for the
    sorted values ``s`` the quantile is ``(1 - f) s[lo] + f s[hi]`` at position
    ``q (n - 1) = lo + f``. With ``skip_nan`` NaN entries (ranked last) get weight 0 and ``n`` is
    the count of the others.
    """
    flat = _flatten_reduced(x, axes)
    rank = np.argsort(np.argsort(flat, axis=-1, kind="stable"), axis=-1, kind="stable")
    _, lo, frac, hi = _quantile_positions(flat, q, skip_nan)
    weights = (1 - frac) * (rank == lo) + frac * (rank == hi)
    return weights * ~np.isnan(flat) if skip_nan else weights


def _quantile_slope(x: Any, q: Any, axes: tuple[int, ...], skip_nan: bool = False) -> np.ndarray:
    """``∂ quantile / ∂q``, of shape ``q.shape + kept``: ``(n - 1) (s[hi] - s[lo])``, the slope of
    the segment between the two order statistics that ``q`` interpolates (0 at ``q = 1``, and for
    a slice with no values)."""
    s = np.sort(_flatten_reduced(x, axes), axis=-1)
    n_minus_1, lo, _, hi = _quantile_positions(s, q, skip_nan)
    s = np.broadcast_to(s, lo.shape[:-1] + s.shape[-1:])
    lo, hi = (np.clip(v, 0, None).astype(int) for v in (lo, hi))
    gap = np.take_along_axis(s, hi, axis=-1) - np.take_along_axis(s, lo, axis=-1)
    return np.where(n_minus_1 > 0, n_minus_1 * gap, 0)[..., 0]


# f: (q in percent, takes q, skips NaN)
_QUANTILES = {
    np.median: (False, False, False),
    np.quantile: (False, True, False),
    np.percentile: (True, True, False),
    np.nanmedian: (False, False, True),
    np.nanquantile: (False, True, True),
    np.nanpercentile: (True, True, True),
}


def _quantile_options(f: Callable, x: Any, args: tuple, kwargs: dict) -> tuple[tuple, Any]:
    """``(axes, q)`` of a call of a median, quantile or percentile, with ``q`` as a fraction."""
    options = _options(f, x, args, kwargs)
    if options.get("method", "linear") != "linear" or options.get("weights") is not None:
        raise NotImplementedError(
            f"the derivative rule of numpy.{f.__name__} supports method='linear' and no weights"
        )
    q = options.get("q", 0.5)
    return _axes(options["axis"], x), np.asarray(q) / 100 if _QUANTILES[f][0] else q


def _register_quantile(f: Callable) -> None:
    in_percent, takes_q, skip_nan = _QUANTILES[f]
    q_scale = 100 if in_percent else 1

    @rrule.register(f)
    def _(x, *args, **kwargs):
        axes, q = _quantile_options(f, x, args, kwargs)
        project_x = ProjectTo(x)

        def quantile_pullback(dy):
            weights = _quantile_weights(x, q, axes, skip_nan)
            dy = np.reshape(dy, (*weights.shape[:-1], 1))
            dflat = np.sum(np.conj(weights) * dy, axis=tuple(range(np.ndim(q))))
            dargs = list(no_tangents(args))
            if takes_q and args:  # q, given positionally: the slope between neighbours
                slope = _quantile_slope(x, q, axes, skip_nan) / q_scale
                dq = np.sum(np.real(slope * dy[..., 0]), axis=tuple(range(np.ndim(q), slope.ndim)))
                dargs[0] = ProjectTo(args[0])(dq)
            return (NoTangent(), project_x(_unflatten_reduced(dflat, x, axes)), *dargs)

        return f(x, *args, **kwargs), quantile_pullback

    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        axes, q = _quantile_options(f, x, args, kwargs)
        y = f(x, *args, **kwargs)
        dx, dq = tangents[1], tangents[2] if takes_q and args else ZeroTangent()
        dy = 0.0
        if not isinstance(dx, AbstractZero):
            weights = _quantile_weights(x, q, axes, skip_nan)
            flat_dx = _flatten_reduced(dx, axes)
            dy = np.sum(weights * (np.where(np.isnan(flat_dx), 0, flat_dx)), axis=-1)
        if not isinstance(dq, AbstractZero):
            slope = _quantile_slope(x, q, axes, skip_nan) / q_scale
            dq = np.reshape(dq, np.shape(dq) + (1,) * (slope.ndim - np.ndim(dq)))
            dy = dy + slope * dq
        if isinstance(dx, AbstractZero) and isinstance(dq, AbstractZero):
            return y, ZeroTangent()
        return y, ProjectTo(y)(np.reshape(dy, np.shape(y)))


for _f in _QUANTILES:
    _register_quantile(_f)


# ----------------------------------------------------------------------------------------------
# nanprod, nancumsum, nancumprod: the rules of prod/cumsum/cumprod with NaN entries replaced by
# the neutral element (as numpy does), and no cotangent for the NaN entries


def _register_nan_filled(f: Callable, plain: Callable, neutral: float) -> None:
    @rrule.register(f)
    def _(x, *args, **kwargs):
        _options(f, x, args, kwargs)
        missing = np.isnan(x)
        y, plain_pullback = rrule(plain, np.where(missing, neutral, x), *args, **kwargs)
        project_x = ProjectTo(x)

        def nan_filled_pullback(dy):
            dx = unthunk(plain_pullback(dy)[1])
            if not isinstance(dx, AbstractZero):
                dx = project_x(np.where(missing, 0, dx))
            return (NoTangent(), dx, *no_tangents(args))

        return y, nan_filled_pullback

    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        _options(f, x, args, kwargs)
        missing = np.isnan(x)
        dx = tangents[1]
        if not isinstance(dx, AbstractZero):
            dx = np.where(missing, 0, dx)
        filled_tangents = (NoTangent(), dx, *tangents[2:])
        return frule(filled_tangents, plain, np.where(missing, neutral, x), *args, **kwargs)


_register_nan_filled(np.nanprod, np.prod, 1.0)
_register_nan_filled(np.nancumsum, np.cumsum, 0.0)
_register_nan_filled(np.nancumprod, np.cumprod, 1.0)


# ----------------------------------------------------------------------------------------------
# cumulative_sum, cumulative_prod (numpy 2): cumsum/cumprod, with include_initial prepending the
# neutral element, a constant


def _register_cumulative(f: Callable, plain: Callable) -> None:
    def parts(x, kwargs):
        options = _options(f, x, (), kwargs)
        # numpy works on atleast_1d(x); axis=None is allowed for vectors only (numpy checks that)
        axis = normalize_axis_tuple(options["axis"] or 0, max(np.ndim(x), 1))[0]
        return axis, options["include_initial"], {"axis": axis, "dtype": options["dtype"]}

    @rrule.register(f)
    def _(x, **kwargs):
        y = f(x, **kwargs)
        axis, include_initial, plain_kwargs = parts(x, kwargs)
        _, plain_pullback = rrule(plain, np.atleast_1d(x), **plain_kwargs)
        project_x = ProjectTo(x)

        def cumulative_pullback(dy):
            if include_initial and not isinstance(dy, AbstractZero):
                dy = np.delete(dy, 0, axis=axis)  # the initial entry is a constant
            dx = unthunk(plain_pullback(dy)[1])
            if not isinstance(dx, AbstractZero):
                dx = project_x(np.reshape(dx, np.shape(x)))
            return NoTangent(), dx

        return y, cumulative_pullback

    @frule.register(f)
    def _(tangents, x, **kwargs):
        y = f(x, **kwargs)
        axis, include_initial, plain_kwargs = parts(x, kwargs)
        dx = tangents[1]
        if isinstance(dx, AbstractZero):
            return y, dx
        _, dy = frule((NoTangent(), np.atleast_1d(dx)), plain, np.atleast_1d(x), **plain_kwargs)
        if include_initial:
            dy = np.concatenate([np.zeros_like(np.take(dy, [0], axis=axis)), dy], axis=axis)
        return y, ProjectTo(y)(dy)


_register_cumulative(np.cumulative_sum, np.cumsum)
_register_cumulative(np.cumulative_prod, np.cumprod)


# ----------------------------------------------------------------------------------------------
# ediff1d, trapezoid, unwrap


def _edge_values(edge: Any, dtype: Any) -> np.ndarray:
    """``to_begin``/``to_end`` as ediff1d lays them out: flattened, cast to the input's dtype."""
    return np.zeros(0, dtype) if edge is None else np.ravel(np.asarray(edge, dtype=dtype))


def _positional(tangents: list, args: tuple) -> tuple:
    """The tangents of the positional arguments only: keyword arguments get none."""
    return tuple(tangents[: len(args)])


def _tangents_by_name(f: Callable, tangents: tuple, args: tuple) -> dict:
    """The tangents of the positional arguments of ``f(*args)`` by name (zeros for the others)."""
    names = list(signature_of(f).parameters)
    return {name: unthunk(d) for name, d in zip(names, tangents[1:], strict=False)}


@rrule.register(np.ediff1d)
def _(*args, **kwargs):
    options = bound_arguments(np.ediff1d, args, kwargs)
    ary, to_end, to_begin = options["ary"], options["to_end"], options["to_begin"]
    y = np.ediff1d(*args, **kwargs)
    begin = _edge_values(to_begin, y.dtype).size
    end = y.size - _edge_values(to_end, y.dtype).size
    projects = [ProjectTo(v) for v in (ary, to_end, to_begin)]

    def ediff1d_pullback(dy):
        # y = [to_begin, x[1:] - x[:-1], to_end] on x = ravel(ary): the difference's adjoint
        # is dx[i] = dd[i-1] - dd[i]; the edges are copied.
        dd = dy[begin:end]
        dx = -np.diff(dd, prepend=0, append=0) if size_of(ary) else dd
        pieces = (dx, dy[end:], dy[:begin])
        tangents = [
            NoTangent() if v is None else project(np.reshape(d, np.shape(v)))
            for v, d, project in zip((ary, to_end, to_begin), pieces, projects, strict=True)
        ]
        return (NoTangent(), *_positional(tangents, args))

    return y, ediff1d_pullback


@frule.register(np.ediff1d)
def _(tangents, *args, **kwargs):
    options = bound_arguments(np.ediff1d, args, kwargs)
    y = np.ediff1d(*args, **kwargs)
    given = _tangents_by_name(np.ediff1d, tangents, args)
    parts = {}
    for name in ("ary", "to_end", "to_begin"):
        d = given.get(name, ZeroTangent())
        value = options[name]
        if value is not None:  # the edges' tangents are laid out (or absent) as the edges are
            parts[name] = np.zeros(np.shape(value)) if isinstance(d, AbstractZero) else d
    return y, ProjectTo(y)(np.ediff1d(**parts))


def _trapezoid_parts(y: Any, x: Any, dx: Any, axis: int) -> tuple[Any, Any]:
    """``(widths, midpoints)`` along ``axis`` (moved last): ``trapezoid = sum(widths * midpoints)``."""
    y = np.moveaxis(np.asarray(y), axis, -1)
    if x is None:
        widths = dx
    else:
        x = np.asarray(x)
        widths = np.diff(x) if x.ndim == 1 else np.moveaxis(np.diff(x, axis=axis), axis, -1)
    return widths, (y[..., 1:] + y[..., :-1]) / 2


def _pair_adjoint(d: Any) -> Any:
    """The adjoint of ``v -> (v[1:] + v[:-1]) / 2`` along the last axis."""
    pad = [(0, 0)] * (np.ndim(d) - 1)
    return (np.pad(d, [*pad, (1, 0)]) + np.pad(d, [*pad, (0, 1)])) / 2


@rrule.register(np.trapezoid)
def _(*args, **kwargs):
    options = bound_arguments(np.trapezoid, args, kwargs)
    y, x, dx = options["y"], options["x"], options["dx"]
    axis = normalize_axis_tuple(options["axis"], np.ndim(y))[0]
    widths, midpoints = _trapezoid_parts(y, x, dx, axis)
    projects = [ProjectTo(v) for v in (y, x, dx)]

    def trapezoid_pullback(dresult):
        dresult = np.expand_dims(dresult, -1)
        dmidpoints = np.broadcast_to(np.conj(widths) * dresult, midpoints.shape)
        dy = np.moveaxis(_pair_adjoint(dmidpoints), -1, axis)
        dy = np.broadcast_to(dy, np.shape(y))
        dwidths = unbroadcast(widths, np.conj(midpoints) * dresult)
        if x is None:
            dcoords, dstep = NoTangent(), dwidths
        else:
            # widths = diff(x): the adjoint of a difference is dx[i] = dw[i-1] - dw[i]
            dcoords = -np.diff(dwidths, prepend=0, append=0, axis=-1)
            dcoords = dcoords if np.ndim(x) == 1 else np.moveaxis(dcoords, -1, axis)
            dstep = NoTangent()
        tangents = [
            d if isinstance(d, AbstractZero) else project(d)
            for d, project in zip((dy, dcoords, dstep), projects, strict=True)
        ]
        return (NoTangent(), *_positional(tangents, args), *no_tangents(args[3:]))

    return np.trapezoid(*args, **kwargs), trapezoid_pullback


@frule.register(np.trapezoid)
def _(tangents, *args, **kwargs):
    options = bound_arguments(np.trapezoid, args, kwargs)
    y, x, dx, axis = options["y"], options["x"], options["dx"], options["axis"]
    result = np.trapezoid(*args, **kwargs)
    axis_ = normalize_axis_tuple(axis, np.ndim(y))[0]
    given = _tangents_by_name(np.trapezoid, tangents, args)
    dy = given.get("y", ZeroTangent())
    dwidths = given.get("dx" if x is None else "x", ZeroTangent())
    dresult = ZeroTangent()
    if not isinstance(dy, AbstractZero):
        dresult = np.trapezoid(dy, x, dx, axis)
    if not isinstance(dwidths, AbstractZero):
        _, midpoints = _trapezoid_parts(y, x, dx, axis_)
        dwidths, _ = _trapezoid_parts(y, None if x is None else dwidths, dwidths, axis_)
        dresult = dresult + np.sum(dwidths * midpoints, axis=-1)
    if isinstance(dresult, AbstractZero):
        return result, dresult
    return result, ProjectTo(result)(dresult)


@rrule.register(np.unwrap)
def _(p, *args, **kwargs):
    project_p = ProjectTo(p)

    def unwrap_pullback(dy):
        # p plus a piecewise-constant multiple of the period: the identity away from the jumps
        return (NoTangent(), project_p(dy), *no_tangents(args))

    return np.unwrap(p, *args, **kwargs), unwrap_pullback


@frule.register(np.unwrap)
def _(tangents, p, *args, **kwargs):
    y = np.unwrap(p, *args, **kwargs)
    return y, ProjectTo(y)(tangents[1])


# ----------------------------------------------------------------------------------------------
# sort_complex: a permutation (by real part, then imaginary part) cast to complex


@rrule.register(np.sort_complex)
def _(a):
    y = np.sort_complex(a)
    order = np.lexsort((np.imag(a), np.real(a)), axis=-1)
    project_a = ProjectTo(a)

    def sort_complex_pullback(dy):
        da = np.empty_like(dy)
        np.put_along_axis(da, order, dy, axis=-1)
        return NoTangent(), project_a(da)

    return y, sort_complex_pullback


@frule.register(np.sort_complex)
def _(tangents, a):
    y = np.sort_complex(a)
    da = tangents[1]
    if isinstance(da, AbstractZero):
        return y, da
    order = np.lexsort((np.imag(a), np.real(a)), axis=-1)
    return y, ProjectTo(y)(np.take_along_axis(np.asarray(da, dtype=y.dtype), order, axis=-1))


# ----------------------------------------------------------------------------------------------
# cov and corrcoef: C = Xc Xc^H / (N - ddof) for the centred variables Xc (one per row)


def _cov_options(f: Callable, args: tuple, kwargs: dict) -> dict:
    """The call's options by name; corrcoef's ``x`` is read as cov's ``m`` (its ``bias`` and
    ``ddof`` cancel out, so are read as unset)."""
    options = dict(bound_arguments(f, args, kwargs))
    if f is np.corrcoef:
        options.update(m=options.pop("x"), bias=False, ddof=None)
    for name in ("fweights", "aweights"):
        if options.get(name) is not None:
            raise NotImplementedError(
                f"the derivative rule of numpy.{f.__name__} does not support {name}=; "
                "weight the observations yourself or call it without weights"
            )
    return options


def _variables(v: Any, rowvar: bool) -> np.ndarray:
    """``v`` as numpy.cov reads it: a 2-d array with one variable per row."""
    v = np.atleast_2d(v)
    return v if rowvar or v.shape[0] == 1 else v.T


def _variables_back(d: Any, v: Any, rowvar: bool) -> Any:
    """The adjoint of :func:`_variables`: ``d`` laid out as ``v``."""
    rows = np.atleast_2d(v)
    d = d if rowvar or rows.shape[0] == 1 else d.T
    return np.reshape(d, np.shape(v))


def _cov_parts(options: dict) -> tuple[np.ndarray, float, int]:
    """``(Xc, factor, rows of m)``: the centred variables stacked, ``N - ddof`` and where ``y``'s
    variables start."""
    m, y, rowvar = options["m"], options["y"], options["rowvar"]
    blocks = [_variables(m, rowvar)] + ([] if y is None else [_variables(y, rowvar)])
    stacked = np.concatenate(blocks, axis=0)
    ddof = options["ddof"]
    ddof = (0 if options["bias"] else 1) if ddof is None else ddof
    centred = stacked - np.mean(stacked, axis=1, keepdims=True)
    return centred, stacked.shape[1] - ddof, blocks[0].shape[0]


def _cov_input_tangents(dcentred: Any, options: dict, split: int, args: tuple) -> tuple:
    """The cotangents of the positional ``m`` and ``y`` from that of ``Xc``."""
    dstacked = dcentred - np.mean(dcentred, axis=1, keepdims=True)  # centring is self-adjoint
    m, y, rowvar = options["m"], options["y"], options["rowvar"]
    dm = ProjectTo(m)(_variables_back(dstacked[:split], m, rowvar))
    dy = NoTangent() if y is None else ProjectTo(y)(_variables_back(dstacked[split:], y, rowvar))
    return (*_positional([dm, dy], args), *no_tangents(args[2:]))


def _cov_tangent(options: dict, given: dict) -> Any:
    """The tangent of the stacked centred variables for the tangents of ``m`` and ``y``."""
    rowvar = options["rowvar"]
    parts = []
    for name in ("m", "y"):
        value = options[name]
        if value is None:
            continue
        d = given.get(name, ZeroTangent())
        d = np.zeros(np.shape(value)) if isinstance(d, AbstractZero) else d
        parts.append(_variables(d, rowvar))
    stacked = np.concatenate(parts, axis=0)
    return stacked - np.mean(stacked, axis=1, keepdims=True)


@rrule.register(np.cov)
def _(*args, **kwargs):
    options = _cov_options(np.cov, args, kwargs)
    result = np.cov(*args, **kwargs)
    centred, factor, split = _cov_parts(options)

    def cov_pullback(dc):
        dc = np.reshape(dc, (centred.shape[0],) * 2)
        dcentred = (dc + np.conj(dc.T)) @ centred / factor
        return (NoTangent(), *_cov_input_tangents(dcentred, options, split, args))

    return result, cov_pullback


@frule.register(np.cov)
def _(tangents, *args, **kwargs):
    options = _cov_options(np.cov, args, kwargs)
    result = np.cov(*args, **kwargs)
    centred, factor, _ = _cov_parts(options)
    dcentred = _cov_tangent(options, _tangents_by_name(np.cov, tangents, args))
    product = dcentred @ np.conj(centred.T)
    dc = (product + np.conj(product.T)) / factor
    return result, ProjectTo(result)(np.reshape(dc, np.shape(result)))


def _correlation_parts(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(R, s)``: ``R = C s s^T`` with ``s = 1 / sqrt(diag C)``."""
    s = 1 / np.sqrt(np.real(np.diagonal(c)))
    return c * np.outer(s, s), s


@rrule.register(np.corrcoef)
def _(*args, **kwargs):
    options = _cov_options(np.corrcoef, args, kwargs)
    result = np.corrcoef(*args, **kwargs)
    centred, factor, split = _cov_parts(options)
    r, s = _correlation_parts(centred @ np.conj(centred.T) / factor)

    def corrcoef_pullback(dr):
        dr = np.reshape(dr, r.shape)
        # R_ij = C_ij s_i s_j and ∂s_k/∂C_kk = -s_k^3 / 2: the diagonal collects the row and
        # column sums of Re(conj(dR) R) / (2 C_kk)
        weighted = np.real(np.conj(dr) * r)
        dc = dr * np.outer(s, s) - np.diag((weighted.sum(0) + weighted.sum(1)) * s**2 / 2)
        dcentred = (dc + np.conj(dc.T)) @ centred / factor
        return (NoTangent(), *_cov_input_tangents(dcentred, options, split, args))

    return result, corrcoef_pullback


@frule.register(np.corrcoef)
def _(tangents, *args, **kwargs):
    options = _cov_options(np.corrcoef, args, kwargs)
    result = np.corrcoef(*args, **kwargs)
    centred, factor, _ = _cov_parts(options)
    r, s = _correlation_parts(centred @ np.conj(centred.T) / factor)
    given = _tangents_by_name(np.corrcoef, tangents, args)
    renamed = {"m" if name == "x" else name: d for name, d in given.items()}
    dcentred = _cov_tangent(options, renamed)
    product = dcentred @ np.conj(centred.T)
    dc = (product + np.conj(product.T)) / factor
    relative = np.real(np.diagonal(dc)) * s**2 / 2  # d(diag C) / (2 diag C)
    dr = dc * np.outer(s, s) - r * (relative[:, None] + relative[None, :])
    return result, ProjectTo(result)(np.reshape(dr, np.shape(result)))
