"""Rules for numpy functions that create arrays from a few numbers: ``linspace``.

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
