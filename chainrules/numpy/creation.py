"""Rules for numpy functions that create arrays from a few numbers: ``linspace``, ``full``,
``full_like``.

``full(shape, fill_value)`` and ``full_like(a, fill_value)`` copy ``fill_value`` everywhere
(broadcast when it is an array): its cotangent is the output's summed back to its shape; the
shape, the prototype ``a`` and the options get none. An integer or boolean result has no tangent.

``linspace(start, stop, num)`` is ``start + t * (stop - start)`` with ``t`` the evenly spaced
fractions ``i / (num - 1)`` (``i / num`` without the endpoint): linear in ``start`` and
``stop``, which may be arrays (the samples then run along ``axis``). ``retstep=True`` also
returns ``step = (stop - start) / (num - 1)``. An integer ``dtype`` rounds the values: no
tangent then. ``arange`` stays non-differentiable (its length depends on its arguments).
"""

from __future__ import annotations

import numpy as np

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
