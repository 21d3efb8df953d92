"""Rules for ``numpy.interp``: piecewise-linear interpolation, differentiated in ``x`` and ``fp``.

For ``x`` in the segment ``[xp[i], xp[i+1]]`` with weight ``w = (x - xp[i]) / (xp[i+1] - xp[i])``,
``interp(x) = (1 - w) fp[i] + w fp[i+1]``: the derivative in ``x`` is the segment's slope, and the
cotangent of ``fp`` gets ``(1 - w) dy`` at ``i`` and ``w dy`` at ``i+1``. Outside ``xp`` the value
is ``fp[0]``/``fp[-1]`` (or ``left``/``right``, which then get the cotangent), flat in ``x``. At an
interior knot the segment to its right is used (a one-sided derivative). ``xp`` gets no tangent;
``period`` is not supported. Real ``fp`` only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from chainrules.calls import bound_arguments
from chainrules_core import AbstractZero, NoTangent, ProjectTo, frule, rrule

_NO = NoTangent()


class _Partials(NamedTuple):
    """Where each query falls and how it depends on the inputs."""

    i: np.ndarray  # segment index: the query lies between xp[i] and xp[i+1]
    w: np.ndarray  # weight of fp[i+1] (that of fp[i] is 1 - w)
    slope: np.ndarray  # d interp / dx (zero outside xp)
    inside: np.ndarray  # the value comes from fp (not from left or right)
    on_left: np.ndarray  # the value is `left`
    on_right: np.ndarray  # the value is `right`


def _partials(params: dict) -> _Partials:
    if params["period"] is not None:
        raise NotImplementedError(
            "the rules for numpy.interp do not support period=...; wrap x into one period "
            "with np.mod and interpolate on an xp padded by one period instead"
        )
    x = np.asarray(params["x"], dtype=float)
    xp = np.asarray(params["xp"], dtype=float)
    fp = np.asarray(params["fp"], dtype=float)
    below, above = x < xp[0], x > xp[-1]
    on_left = below & (params["left"] is not None)
    on_right = above & (params["right"] is not None)
    if xp.size == 1:  # one point: interp is the constant fp[0] (or left/right)
        zero = np.zeros(x.shape, dtype=int)
        return _Partials(zero, zero * 0.0, zero * 0.0, ~(on_left | on_right), on_left, on_right)
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    w = np.clip((x - xp[i]) / (xp[i + 1] - xp[i]), 0.0, 1.0)
    slope = np.where(below | above, 0.0, (fp[i + 1] - fp[i]) / (xp[i + 1] - xp[i]))
    return _Partials(i, w, slope, ~(on_left | on_right), on_left, on_right)


@rrule.register(np.interp)
def _(*args, **kwargs):
    params = bound_arguments(np.interp, args, kwargs)
    p = _partials(params)
    y = np.interp(*args, **kwargs)
    projectors = {
        name: ProjectTo(params[name])
        for name in ("x", "fp", "left", "right")
        if params[name] is not None
    }

    def interp_pullback(dy):
        dy = np.asarray(dy, dtype=float)
        dfp = np.zeros(np.size(params["fp"]))
        np.add.at(dfp, p.i, np.where(p.inside, (1 - p.w) * dy, 0.0))
        np.add.at(dfp, np.minimum(p.i + 1, dfp.size - 1), np.where(p.inside, p.w * dy, 0.0))
        by_name = {
            "x": projectors["x"](p.slope * dy),
            "fp": projectors["fp"](dfp),
        }
        for name, mask in (("left", p.on_left), ("right", p.on_right)):
            if name in projectors:
                by_name[name] = projectors[name](np.sum(dy, where=mask))
        return (_NO, *(by_name.get(name, _NO) for name in list(params)[: len(args)]))

    return y, interp_pullback


@frule.register(np.interp)
def _(tangents, *args, **kwargs):
    params = bound_arguments(np.interp, args, kwargs)
    p = _partials(params)
    y = np.interp(*args, **kwargs)
    d = dict(zip(list(params)[: len(args)], tangents[1:], strict=False))
    dy = np.zeros(np.shape(y))
    if _given(d.get("x")):
        dy = dy + p.slope * np.asarray(d["x"], dtype=float)
    if _given(d.get("fp")):
        dfp = np.asarray(d["fp"], dtype=float)
        after = dfp[np.minimum(p.i + 1, dfp.size - 1)]
        dy = dy + np.where(p.inside, (1 - p.w) * dfp[p.i] + p.w * after, 0.0)
    for name, mask in (("left", p.on_left), ("right", p.on_right)):
        if _given(d.get(name)):
            dy = dy + np.where(mask, float(d[name]), 0.0)
    return y, dy if isinstance(y, np.ndarray) else float(dy)


def _given(t: Any) -> bool:
    return t is not None and not isinstance(t, AbstractZero)
