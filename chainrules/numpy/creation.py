"""Rules for numpy functions that create arrays from a few numbers: ``linspace``, ``geomspace``,
``logspace``, ``kaiser``, ``full``, ``full_like``, ``fft.fftfreq``, ``fft.rfftfreq``.

``full(shape, fill_value)`` and ``full_like(a, fill_value)`` copy ``fill_value`` everywhere
(broadcast when it is an array): its cotangent is the output's summed back to its shape; the
shape, the prototype ``a`` and the options get none. An integer or boolean result has no tangent.

``linspace(start, stop, num)`` is ``start + t * (stop - start)`` with ``t`` the evenly spaced
fractions ``i / (num - 1)`` (``i / num`` without the endpoint): linear in ``start`` and
``stop``, which may be arrays (the samples then run along ``axis``). ``retstep=True`` also
returns ``step = (stop - start) / (num - 1)``. An integer ``dtype`` rounds the values: no
tangent then. ``arange`` stays non-differentiable (its length depends on its arguments).

``geomspace(start, stop)`` is ``start^(1 - t) stop^t`` and ``logspace(start, stop, base=b)`` is
``b^(start + t (stop - start))``, with linspace's fractions ``t``: differentiable in ``start``,
``stop`` and (logspace) ``base`` given by position. ``kaiser(M, beta)`` is
``i0(beta r) / i0(beta)``: differentiable in ``beta``.

``fft.fftfreq(n, d)`` and ``fft.rfftfreq(n, d)`` are ``k / (n d)``: differentiable in the
spacing ``d`` (``-y / d``) when it is passed positionally; ``n`` has no tangent.
"""

from __future__ import annotations

import numpy as np
import scipy.special

from chainrules.calls import bound_arguments, no_tangents
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    ZeroTangent,
    frule,
    rrule,
    unbroadcast,
)


def _fractions(options: dict, shape: tuple) -> tuple[np.ndarray, float]:
    """``t`` shaped to broadcast against the output (samples along ``axis``), and ``1 / div``."""
    num, endpoint, axis = options["num"], options["endpoint"], options["axis"]
    div = (num - 1) if endpoint else num
    t = np.arange(num, dtype=float) / div if div > 0 else np.zeros(num)
    ndim = len(shape)
    axis = axis % ndim if ndim else 0
    return t.reshape((num,) + (1,) * (ndim - axis - 1)), (1.0 / div if div > 0 else np.nan)


def _differentiable(options: dict, y: np.ndarray) -> bool:
    dtype = options["dtype"]
    return dtype is None or np.dtype(dtype).kind in "fc" or y.dtype.kind in "fc"


@rrule.register(np.linspace)
def _(start, stop, *args, **kwargs):
    options = bound_arguments(np.linspace, (start, stop, *args), kwargs)
    result = np.linspace(start, stop, *args, **kwargs)
    y = result[0] if options["retstep"] else result
    if not _differentiable(options, y) or np.dtype(y.dtype).kind not in "fc":
        return result, lambda dy: (NoTangent(), NoTangent(), NoTangent(), *no_tangents(args))
    t, per_step = _fractions(options, y.shape)
    project_start, project_stop = ProjectTo(start), ProjectTo(stop)
    axis = options["axis"] % y.ndim

    def linspace_pullback(dresult):
        dy, dstep = (dresult[0], dresult[1]) if options["retstep"] else (dresult, ZeroTangent())
        dstart = dstop = 0.0
        if not isinstance(dy, AbstractZero):
            dy = np.asarray(dy)
            dstart = np.sum(dy * (1 - t), axis=axis)
            dstop = np.sum(dy * t, axis=axis)
        if not isinstance(dstep, AbstractZero):
            dstart, dstop = dstart - dstep * per_step, dstop + dstep * per_step
        return (
            NoTangent(),
            project_start(unbroadcast(start, dstart)),
            project_stop(unbroadcast(stop, dstop)),
            *no_tangents(args),
        )

    return result, linspace_pullback


@frule.register(np.linspace)
def _(tangents, start, stop, *args, **kwargs):
    options = bound_arguments(np.linspace, (start, stop, *args), kwargs)
    result = np.linspace(start, stop, *args, **kwargs)
    y = result[0] if options["retstep"] else result
    _, dstart, dstop, *_ = tangents
    if np.dtype(y.dtype).kind not in "fc":
        return result, NoTangent()
    t, per_step = _fractions(options, y.shape)
    dstart = 0.0 if isinstance(dstart, AbstractZero) else dstart
    dstop = 0.0 if isinstance(dstop, AbstractZero) else dstop
    axis = options["axis"] % y.ndim
    ends = y.shape[:axis] + y.shape[axis + 1 :]  # start's and stop's broadcast shape

    def along(d):
        return np.expand_dims(np.broadcast_to(d, ends), axis)

    dy = ProjectTo(y)((along(dstart) * (1 - t) + along(dstop) * t).astype(y.dtype))
    if options["retstep"]:
        return result, (dy, (np.asarray(dstop) - np.asarray(dstart)) * per_step)
    return result, dy


def _fill_rules(f, fill_position: int) -> None:
    """The rules of ``f``, whose argument ``fill_position`` is copied into every output entry."""

    @rrule.register(f)
    def _(*args, **kwargs):
        y = f(*args, **kwargs)
        fill = _fill_value(f, fill_position, args, kwargs)
        project = ProjectTo(fill)

        def fill_pullback(dy):
            dfill = NoTangent()
            if not isinstance(dy, AbstractZero) and y.dtype.kind in "fc":
                dfill = project(unbroadcast(fill, dy))
            tangents = [NoTangent()] * len(args)
            if fill_position < len(args):
                tangents[fill_position] = dfill
            return (NoTangent(), *tangents)

        return y, fill_pullback

    @frule.register(f)
    def _(tangents, *args, **kwargs):
        y = f(*args, **kwargs)
        dfill = tangents[1 + fill_position] if fill_position < len(args) else ZeroTangent()
        if isinstance(dfill, AbstractZero) or y.dtype.kind not in "fc":
            return y, ZeroTangent()
        return y, ProjectTo(y)(np.broadcast_to(dfill, y.shape).astype(y.dtype))


def _fill_value(f, position: int, args: tuple, kwargs: dict):
    return args[position] if position < len(args) else kwargs["fill_value"]


_fill_rules(np.full, 1)
_fill_rules(np.full_like, 1)


def _frequency_rules(f) -> None:
    """``f(n, d)`` is ``k / (n d)`` for integer ``k``: ``∂/∂d = -f / d``; ``n`` has no tangent."""

    @rrule.register(f)
    def _(n, *args, **kwargs):
        y = f(n, *args, **kwargs)
        d = args[0] if args else kwargs.get("d", 1.0)
        project_d = ProjectTo(d)

        def frequency_pullback(dy):
            dd = NoTangent()
            if args and not isinstance(dy, AbstractZero):
                dd = project_d(-np.sum(y * dy) / d)
            return (NoTangent(), NoTangent(), dd, *no_tangents(args[1:]))[: 2 + len(args)]

        return y, frequency_pullback

    @frule.register(f)
    def _(tangents, n, *args, **kwargs):
        y = f(n, *args, **kwargs)
        dd = tangents[2] if args else ZeroTangent()
        if isinstance(dd, AbstractZero):
            return y, ZeroTangent()
        return y, ProjectTo(y)(-y * dd / args[0])


_frequency_rules(np.fft.fftfreq)
_frequency_rules(np.fft.rfftfreq)


# geomspace and logspace: linspace's fractions t, through an exponential


def _spaced(f, start, stop, args: tuple, kwargs: dict):
    """``(y, axis, slopes)`` of ``geomspace``/``logspace``: ``slopes`` are ``∂y/∂start`` and
    ``∂y/∂stop`` (and, for logspace, ``∂y/∂base``), laid out like ``y``."""
    options = bound_arguments(f, (start, stop, *args), kwargs)
    y = f(start, stop, *args, **kwargs)
    t, _ = _fractions(options, y.shape)
    axis = options["axis"] % y.ndim
    ends = y.shape[:axis] + y.shape[axis + 1 :]

    def along(v):
        return np.expand_dims(np.broadcast_to(v, ends), axis)

    if f is np.geomspace:  # y = start^(1 - t) stop^t
        slopes = ((1 - t) * y / along(start), t * y / along(stop))
    else:  # y = base^(start + t (stop - start))
        base = options["base"]
        exponent = along(start) + t * (along(stop) - along(start))
        rate = np.log(along(base)) * y
        slopes = ((1 - t) * rate, t * rate, exponent * y / along(base))
    return y, axis, slopes


def _space_rules(f, differentiable: int) -> None:
    """Rules of ``f`` (geomspace or logspace), differentiable in its first ``differentiable``
    arguments when they are given by position (logspace's ``base`` is the fifth)."""
    positions = (0, 1, 4)[:differentiable]

    @rrule.register(f)
    def _(start, stop, *args, **kwargs):
        y, axis, slopes = _spaced(f, start, stop, args, kwargs)
        given = (start, stop, *args)

        def space_pullback(dy):
            tangents = [NoTangent()] * len(given)
            if isinstance(dy, AbstractZero) or y.dtype.kind not in "fc":
                return (NoTangent(), *tangents)
            for position, slope in zip(positions, slopes):
                if position < len(given):
                    x = given[position]
                    total = np.sum(np.conj(slope) * dy, axis=axis)
                    tangents[position] = ProjectTo(x)(unbroadcast(x, total))
            return (NoTangent(), *tangents)

        return y, space_pullback

    @frule.register(f)
    def _(tangents, start, stop, *args, **kwargs):
        y, axis, slopes = _spaced(f, start, stop, args, kwargs)
        dy = ZeroTangent()
        for position, slope in zip(positions, slopes):
            d = tangents[1 + position] if 1 + position < len(tangents) else ZeroTangent()
            if not isinstance(d, AbstractZero):
                shape = y.shape[:axis] + y.shape[axis + 1 :]
                dy = dy + slope * np.expand_dims(np.broadcast_to(d, shape), axis)
        if isinstance(dy, AbstractZero) or y.dtype.kind not in "fc":
            return y, ZeroTangent()
        return y, ProjectTo(y)(np.broadcast_to(dy, y.shape).astype(y.dtype))


_space_rules(np.geomspace, 2)
_space_rules(np.logspace, 3)


# kaiser(M, beta) = i0(beta r_n) / i0(beta), r_n = sqrt(1 - (2n/(M-1) - 1)^2): smooth in beta


def _kaiser_slope(m: float, beta: float) -> np.ndarray:
    # on numpy's own samples n = 0, 1, ... < M, which also takes a float M (a 0-d array, say)
    if m == 1:
        return np.zeros(1)
    n = np.arange(0, m)
    alpha = (m - 1) / 2
    r = np.sqrt(np.clip(1 - ((n - alpha) / alpha) ** 2, 0.0, None))
    i0, i1 = scipy.special.i0, scipy.special.i1
    return (i1(beta * r) * r * i0(beta) - i0(beta * r) * i1(beta)) / i0(beta) ** 2


@rrule.register(np.kaiser)
def _(m, beta):
    w = np.kaiser(m, beta)
    project_beta = ProjectTo(beta)

    def kaiser_pullback(dw):
        if isinstance(dw, AbstractZero):
            return NoTangent(), NoTangent(), ZeroTangent()
        return NoTangent(), NoTangent(), project_beta(np.sum(_kaiser_slope(m, beta) * dw))

    return w, kaiser_pullback


@frule.register(np.kaiser)
def _(tangents, m, beta):
    w = np.kaiser(m, beta)
    dbeta = tangents[2]
    if isinstance(dbeta, AbstractZero):
        return w, ZeroTangent()
    return w, _kaiser_slope(m, beta) * dbeta
