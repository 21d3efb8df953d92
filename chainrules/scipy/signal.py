"""Rules for scipy.signal and scipy.integrate; and, in a marked section, numpy's 1-D convolutions.

Covered: ``scipy.signal.convolve``, ``scipy.signal.correlate`` (modes ``full``/``same``/``valid``,
every ``method``, n-d), ``scipy.signal.fftconvolve`` (``axes=None``), ``numpy.convolve`` and
``numpy.correlate`` (every mode), and ``scipy.integrate.trapezoid`` (in ``y``, ``x`` and ``dx``).

Every convolution is bilinear, so its forward rule applies the convolution to the tangents, and its
pullback correlates the output cotangent (zero-padded back to the ``full`` output) with the other
input: for ``y = conv(a, b)``, ``da = correlate(dy_full, b, "valid")``. Correlations are
``correlate(a, b) = conv(a, conj(flip(b)))``; complex inputs follow the usual convention (the
cotangent of ``b`` in ``correlate`` is conjugated accordingly). Modes and methods are keyword or
positional; they get ``NoTangent()``.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import scipy.integrate
import scipy.signal

from chainrules.calls import bound_arguments
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    ZeroTangent,
    frule,
    rrule,
    unbroadcast,
)

_NO = NoTangent()


def _flip_conj(b: Any) -> Any:
    """``conj(flip(b))`` over every axis: ``correlate(a, b) = convolve(a, _flip_conj(b))``."""
    flipped = np.flip(b)
    return np.conj(flipped) if np.iscomplexobj(flipped) else flipped


# The start, along one axis, of a mode's output within the ``full`` output, for inputs of lengths
# na and nb (as scipy and numpy define ``same`` and ``valid``).
def _scipy_start(mode: str, na: int, nb: int) -> int:
    return {"full": 0, "same": (nb - 1) // 2, "valid": min(na, nb) - 1}[mode]


def _numpy_convolve_start(mode: str, na: int, nb: int) -> int:
    return {"full": 0, "same": (min(na, nb) - 1) // 2, "valid": min(na, nb) - 1}[mode]


def _numpy_correlate_start(mode: str, na: int, nb: int) -> int:
    # numpy correlates the longer input against the shorter and reverses, so `same` shifts by one
    # when a is the shorter input.
    if mode == "same" and na < nb:
        return na // 2
    return _numpy_convolve_start(mode, na, nb)


def _pad_to_full(dy: Any, a: Any, b: Any, mode: str, start_of) -> Any:
    """The cotangent of the ``full`` output whose window for ``mode`` is ``dy`` (zeros elsewhere)."""
    # an empty input has an empty full convolution, not one of length -1
    full_shape = tuple(max(na + nb - 1, 0) for na, nb in zip(np.shape(a), np.shape(b), strict=True))
    dy_full = np.zeros(full_shape, dtype=np.result_type(dy))
    window = tuple(
        slice(start_of(mode, na, nb), start_of(mode, na, nb) + n)
        for na, nb, n in zip(np.shape(a), np.shape(b), np.shape(dy), strict=True)
    )
    dy_full[window] = dy
    return dy_full


def _register_convolution(f, correlate_valid, start_of, flips: bool, validate=None) -> None:
    """Rules of the convolution ``f(a, b, ...)``; a correlation when ``flips``.

    ``correlate_valid(u, v, params)`` computes ``correlate(u, v, "valid")`` with the library (and
    method) of ``f``; ``start_of(mode, na, nb)`` places each mode's output in the ``full`` one;
    ``validate(params)`` rejects calls that the rules do not cover.
    """
    first_two = list(inspect.signature(f).parameters)[:2]

    @rrule.register(f)
    def _(*args, **kwargs):
        params = bound_arguments(f, args, kwargs)
        if validate is not None:
            validate(params)
        a, b = (params[name] for name in first_two)
        y = f(*args, **kwargs)
        project_a, project_b = ProjectTo(a), ProjectTo(b)

        def convolution_pullback(dy):
            rest = (_NO,) * (len(args) - 2)
            if np.size(a) == 0 or np.size(b) == 0:  # the output is empty: nothing flows back
                return (
                    NoTangent(),
                    project_a(np.zeros(np.shape(a))),
                    project_b(np.zeros(np.shape(b))),
                    *rest,
                )
            # numpy's 1-D convolutions take a 0-d input as one entry: work on the inputs as f
            # sees them (the projections give the cotangents their inputs' shapes back).
            a_seen, b_seen = (np.array(x, ndmin=np.ndim(dy)) for x in (a, b))
            # As a convolution of a with c, where c = b or, for a correlation, conj(flip(b)).
            c = _flip_conj(b_seen) if flips else b_seen
            dy_full = _pad_to_full(dy, a_seen, c, params.get("mode", "full"), start_of)
            da = correlate_valid(dy_full, c, params)
            dc = correlate_valid(dy_full, a_seen, params)
            db = _flip_conj(dc) if flips else dc
            return (NoTangent(), project_a(da), project_b(db), *rest)

        return y, convolution_pullback

    @frule.register(f)
    def _(tangents, *args, **kwargs):
        params = bound_arguments(f, args, kwargs)
        if validate is not None:
            validate(params)
        a, b = (params[name] for name in first_two)
        rest = {k: v for k, v in params.items() if k not in first_two}
        y = f(a, b, **rest)
        _, da, db, *_ = tangents
        dy = ZeroTangent()
        if not isinstance(da, AbstractZero):
            dy = dy + f(da, b, **rest)
        if not isinstance(db, AbstractZero):
            dy = dy + f(a, db, **rest)
        return y, dy if isinstance(dy, AbstractZero) else np.asarray(dy, dtype=y.dtype)


def _scipy_correlate_valid(u, v, params):
    return scipy.signal.correlate(u, v, mode="valid", method=params.get("method", "fft"))


def _numpy_correlate_valid(u, v, params):
    return np.correlate(u, v, mode="valid")


def _whole_arrays_only(params):
    if params["axes"] is not None:
        raise NotImplementedError(
            "the rules for scipy.signal.fftconvolve support axes=None only; for convolution along "
            "some axes, use scipy.signal.convolve on each slice or broadcast explicitly"
        )


_register_convolution(scipy.signal.convolve, _scipy_correlate_valid, _scipy_start, flips=False)
_register_convolution(scipy.signal.correlate, _scipy_correlate_valid, _scipy_start, flips=True)
_register_convolution(
    scipy.signal.fftconvolve,
    _scipy_correlate_valid,
    _scipy_start,
    flips=False,
    validate=_whole_arrays_only,
)


# --- numpy.convolve and numpy.correlate (the same mathematics, in 1-D) ----------------------------
# They belong with numpy's rules by namespace, but are the same maths as the rules above.

_register_convolution(np.convolve, _numpy_correlate_valid, _numpy_convolve_start, flips=False)
_register_convolution(np.correlate, _numpy_correlate_valid, _numpy_correlate_start, flips=True)


# --- scipy.integrate.trapezoid --------------------------------------------------------------------


def _trapezoid_weights(x, dx, n: int, axis: int, ndim: int):
    """Weights ``w`` with ``trapezoid(y) = sum(w * y, axis)``: half the spacing on either side."""
    spacing = np.diff(x, axis=axis if np.ndim(x) > 1 else -1) if x is not None else dx
    if x is not None and np.ndim(x) == 1:
        spacing = np.reshape(spacing, (-1,) + (1,) * (ndim - 1 - (axis % ndim)))
    if n == 0:  # no samples: nothing to weigh (and no -1 spacings)
        return np.zeros(_with_length(np.shape(spacing), 0, axis, ndim))
    spacing = np.broadcast_to(spacing, _with_length(np.shape(spacing), n - 1, axis, ndim))
    pad = [(0, 0)] * ndim
    pad[axis % ndim] = (1, 0)
    left = np.pad(spacing, pad)
    pad[axis % ndim] = (0, 1)
    return (left + np.pad(spacing, pad)) / 2


def _with_length(shape: tuple, length: int, axis: int, ndim: int) -> tuple:
    shape = (1,) * (ndim - len(shape)) + tuple(shape)
    return tuple(length if i == axis % ndim else s for i, s in enumerate(shape))


def _trapezoid_dx_partial(y, x, axis: int):
    """``∂ trapezoid / ∂x``: ``(y[i-1] - y[i+1]) / 2`` inside, ``∓(y[0] + y[1]) / 2`` at the ends
    (with ``y[-1]`` and ``y[n]`` read as zero, the ends miss ``∓y[end] / 2``: see :func:`_ends`)."""
    ndim = np.ndim(y)
    pad = [(0, 0)] * ndim
    pad[axis % ndim] = (1, 1)
    padded = np.pad(y, pad)  # zero beyond the ends
    n = np.shape(y)[axis]
    before = np.take(padded, range(0, n), axis=axis)
    after = np.take(padded, range(2, n + 2), axis=axis)
    return (before - after) / 2 - _ends(y, axis) / 2


def _ends(y, axis: int):
    """``y[0]`` at the first position, ``-y[-1]`` at the last, zero elsewhere."""
    out = np.zeros_like(y)
    n = np.shape(y)[axis]
    index = [slice(None)] * np.ndim(y)
    first, last = list(index), list(index)
    first[axis], last[axis] = 0, n - 1
    out[tuple(first)] = np.take(y, 0, axis=axis)
    out[tuple(last)] = -np.take(y, n - 1, axis=axis)
    return out


@rrule.register(scipy.integrate.trapezoid)
def _(*args, **kwargs):
    params = bound_arguments(scipy.integrate.trapezoid, args, kwargs)
    y, x, dx, axis = params["y"], params["x"], params["dx"], params["axis"]
    result = scipy.integrate.trapezoid(y, x, dx, axis)
    projectors = [ProjectTo(a) for a in args]

    def trapezoid_pullback(dintegral):
        dresult = np.expand_dims(dintegral, axis)
        n = np.shape(y)[axis]
        weights = _trapezoid_weights(x, dx, n, axis, np.ndim(y))
        cotangents = [dresult * weights, _NO, _NO]
        if x is not None:
            dx_partial = dresult * _trapezoid_dx_partial(y, x, axis)
            cotangents[1] = _sum_to_x(dx_partial, x, axis)
        elif len(args) > 2:
            unit_integral = scipy.integrate.trapezoid(y, None, 1.0, axis)
            cotangents[2] = unbroadcast(dx, dintegral * unit_integral)
        tangents = [p(c) for p, c in zip(projectors, cotangents, strict=False)]
        return (NoTangent(), *tangents, *(_NO,) * (len(args) - len(tangents)))

    return result, trapezoid_pullback


def _sum_to_x(d, x, axis: int):
    """Sum a cotangent of ``y``'s shape down to a 1-D ``x`` along ``axis`` (or ``x``'s shape)."""
    if np.ndim(x) == 1:
        return np.sum(np.moveaxis(d, axis, -1).reshape(-1, np.shape(d)[axis]), axis=0)
    return unbroadcast(x, d)


@frule.register(scipy.integrate.trapezoid)
def _(tangents, *args, **kwargs):
    params = bound_arguments(scipy.integrate.trapezoid, args, kwargs)
    y, x, dx, axis = params["y"], params["x"], params["dx"], params["axis"]
    result = scipy.integrate.trapezoid(y, x, dx, axis)
    dy, dx_, ddx = (*tangents[1:4], *(ZeroTangent(),) * (4 - len(tangents)))
    dresult = ZeroTangent()
    if not isinstance(dy, AbstractZero):
        dresult = dresult + scipy.integrate.trapezoid(dy, x, dx, axis)
    if x is not None and not isinstance(dx_, AbstractZero):
        moved = (
            dx_
            if np.ndim(x) > 1
            else np.reshape(dx_, (-1,) + (1,) * (np.ndim(y) - 1 - (axis % np.ndim(y))))
        )
        dresult = dresult + np.sum(_trapezoid_dx_partial(y, x, axis) * moved, axis=axis)
    if x is None and not isinstance(ddx, AbstractZero):
        dresult = dresult + scipy.integrate.trapezoid(y, None, 1.0, axis) * ddx
    if isinstance(dresult, AbstractZero) or not isinstance(result, np.ndarray):
        return result, dresult
    return result, np.asarray(dresult, dtype=result.dtype)
