"""Rules for scipy.interpolate's B-splines: ``make_interp_spline`` in its data, and evaluation.

``make_interp_spline(x, y, k, ...)`` solves a linear system for the coefficients, so for fixed
knots ``c = M y`` (along ``axis=0``). The rule builds ``M`` densely, one spline per basis vector of
``y`` (``n`` solves of size ``n``: meant for modest ``n``), and pulls back ``ȳ = Mᵀ c̄``. The knots
``x`` get no tangent.

A spline's evaluation ``s(xq) = Σ_j c_j B_j(xq)`` (``BSpline.__call__``) is linear in the
coefficients, so ``c̄_j = Σ_q B_j(xq) ȳ_q`` (the basis evaluated densely, again one spline per
coefficient), and ``x̄q = s'(xq) ȳ`` (the derivative of order ``nu + 1``). The spline's cotangent is
``Tangent(BSpline, c=c̄)`` (``_c`` in recent scipy); its knots and order have none.
"""

from __future__ import annotations

import numpy as np
import scipy.interpolate

from chainrules.calls import bound_arguments
from chainrules_core import NoTangent, ProjectTo, Tangent, rrule, unthunk

_NO = NoTangent()
BSpline = scipy.interpolate.BSpline

# The attribute that holds a spline's coefficients (recent scipy keeps them in `_c` behind the `c`
# property): a structural tangent of a BSpline names the attribute, not the property.
_COEFFICIENTS = "_c" if "_c" in vars(BSpline(np.arange(4.0), np.ones(2), 1)) else "c"


def _columns(make, n: int) -> np.ndarray:
    """The matrix whose column ``j`` is ``make(e_j)`` (raveled), for the unit vectors of length n."""
    return np.stack([np.ravel(make(unit)) for unit in np.eye(n)], axis=1)


@rrule.register(scipy.interpolate.make_interp_spline)
def _(*args, **kwargs):
    params = bound_arguments(scipy.interpolate.make_interp_spline, args, kwargs)
    if params["axis"] != 0:
        raise NotImplementedError(
            "the rrule of make_interp_spline supports axis=0 only; move the interpolation axis "
            "to the front with np.moveaxis first"
        )
    y = np.asarray(params["y"])
    spline = scipy.interpolate.make_interp_spline(*args, **kwargs)
    project_y = ProjectTo(params["y"])
    rest = {name: value for name, value in params.items() if name != "y"}
    n = y.shape[0]

    def make_interp_spline_pullback(dspline):
        dspline = unthunk(dspline)
        dc = unthunk(dspline[_COEFFICIENTS]) if isinstance(dspline, Tangent) else dspline
        if not isinstance(dc, np.ndarray):  # a zero: no coefficient moved
            return (_NO, *(_NO,) * len(args))
        # c = M y along the first axis, the same M for every trailing column
        matrix = _columns(lambda unit: scipy.interpolate.make_interp_spline(y=unit, **rest).c, n)
        dy = matrix.T @ dc.reshape(dc.shape[0], -1)
        tangents = {"y": project_y(dy.reshape(y.shape))}
        return (_NO, *(tangents.get(name, _NO) for name in list(params)[: len(args)]))

    return spline, make_interp_spline_pullback


@rrule.register(BSpline.__call__)
def _(spline, *args, **kwargs):
    params = bound_arguments(BSpline.__call__, (spline, *args), kwargs)
    x, nu, extrapolate = params["x"], params["nu"], params["extrapolate"]
    values = spline(*args, **kwargs)
    project_x = ProjectTo(x)
    t, c, k = spline.t, spline.c, spline.k

    def bspline_call_pullback(dvalues):
        dvalues = np.asarray(unthunk(dvalues), dtype=float)
        flat = dvalues.reshape(np.size(x), -1)  # one row per query point
        basis = _columns(
            lambda unit: BSpline(t, unit, k, spline.extrapolate)(x, nu, extrapolate), c.shape[0]
        )
        dc = (basis.T @ flat).reshape(c.shape)
        slope = spline(x, nu + 1, extrapolate).reshape(flat.shape)
        dx = project_x(np.sum(slope * flat, axis=1).reshape(np.shape(x)))
        return (_NO, Tangent(BSpline, **{_COEFFICIENTS: dc}), dx, *(_NO,) * (len(args) - 1))

    return values, bspline_call_pullback
