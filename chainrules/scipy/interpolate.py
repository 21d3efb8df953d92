"""Rules for scipy.interpolate: splines and grid interpolation, in their data and query points.

Conventions. Every interpolant here is linear in its data for fixed abscissae: the knots,
breakpoints and grids (``x``, ``t``, ``points``) get no tangent, and neither do options
(``k``, ``bc_type``, ``method``, ``fill_value``, ...). Derivative values given in ``bc_type`` are
constants: the data's derivative is taken with them held fixed (the map from the data to the
coefficients is affine, and its linear part is the construction with those values set to zero).
An interpolant object's tangent is a ``Tangent`` of its type naming the field that holds its data:
``c`` (``_c`` in recent scipy) for ``BSpline``/``PPoly``/``CubicSpline``, ``values`` (``_values``)
for ``RegularGridInterpolator``. A ``tck`` tuple's tangent is ``Tangent(tuple, knots, c, k)``
with zero knots. Periodic splines need ``y[0] == y[-1]``: the rules treat the pair as one
value, so its cotangent is split evenly between the two entries (and a tangent is averaged over
them), which keeps a gradient step periodic.

What each costs (``n`` data points, ``q`` query points, ``m`` trailing values per point):

* ``make_interp_spline`` and ``CubicSpline`` (``axis=0``): the frule builds the spline of the
  tangent (one banded solve, ``O(n m)``); the pullback builds the coefficient matrix ``M`` of
  ``c = M y`` in one construction with ``n`` right-hand sides (``O(n²)`` time and memory) and
  applies ``Mᵀ``: meant for the modest ``n`` that splines are fitted to.
* ``splrep`` (``s=0``, or ``task=-1`` with given knots; ``per=0``): the same, through the
  equivalent ``make_interp_spline``/``make_lsq_spline`` on ``splrep``'s own knots. Smoothing
  (``s > 0``) places the knots from the data and is refused.
* ``BSpline.__call__`` and ``splev``: ``s(xq) = Σ_j c_j B_j(xq)`` is linear in the coefficients,
  ``c̄ = Bᵀ ȳ`` with the basis ``B`` evaluated in one call (``O(q n)``); the query points get
  ``x̄q = s^(nu+1)(xq) ȳ``.
* ``PPoly.__call__`` (and so ``CubicSpline``'s): each query reads the ``k + 1`` coefficients of
  its interval, found by scipy's own evaluation, so both rules are ``O(q k m)``; the query points
  get the derivative of the piecewise polynomial, ``x̄q = p^(nu+1)(xq) ȳ``. Queries that
  ``extrapolate=False`` maps to NaN get zero cotangents.
* ``RegularGridInterpolator`` (``method`` ``"linear"`` or ``"nearest"``) and ``interpn``: each
  query reads the ``2^d`` corners of its cell (one, for nearest): ``O(q 2^d m)``. The query
  points get the gradient of the multilinear interpolant inside the cell (at a grid line, the
  one of the cell scipy picks); nearest-neighbour interpolation is piecewise constant, so its
  query points get zero. Queries outside the grid with a ``fill_value`` read no data, and NaN
  queries get zero cotangents.

Only ``axis=0`` is supported for the constructions (the others raise ``NotImplementedError``:
move the interpolation axis to the front with ``np.moveaxis`` first). ``interp1d`` has no rules.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.interpolate

from chainrules.calls import bound_arguments
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    Tangent,
    ZeroTangent,
    frule,
    rrule,
    unbroadcast,
    unthunk,
)

_NO = NoTangent()
BSpline = scipy.interpolate.BSpline
PPoly = scipy.interpolate.PPoly
CubicSpline = scipy.interpolate.CubicSpline
RegularGridInterpolator = scipy.interpolate.RegularGridInterpolator


def _data_field(cls: type, name: str) -> str:
    """The attribute that holds ``name`` (recent scipy keeps ``c`` in ``_c`` behind a property):
    a structural tangent names the attribute, not the property."""
    return f"_{name}" if isinstance(getattr(cls, name, None), property) else name


_BSPLINE_C = _data_field(BSpline, "c")
_PPOLY_C = _data_field(PPoly, "c")
_GRID_VALUES = _data_field(RegularGridInterpolator, "values")
_GRID_POINTS = _data_field(RegularGridInterpolator, "grid")


def _field(dobject: Any, name: str) -> np.ndarray | None:
    """The entry ``name`` of an object's tangent as an array, or ``None`` when it is zero."""
    dobject = unthunk(dobject)
    if isinstance(dobject, AbstractZero):
        return None
    d = unthunk(dobject[name]) if isinstance(dobject, Tangent) else dobject
    return None if isinstance(d, AbstractZero) else np.asarray(d)


def _tangents(params: dict, nargs: int, by_name: dict) -> tuple:
    """The pullback's result: ``NoTangent()`` for ``f``, then one tangent per positional argument."""
    return (_NO, *(by_name.get(name, _NO) for name in list(params)[:nargs]))


def _given(params: dict, tangents: tuple, name: str) -> Any:
    """The tangent an frule was given for argument ``name`` (zero when it was a keyword)."""
    positional = dict(zip(params, tangents[1:]))
    d = unthunk(positional.get(name, ZeroTangent()))
    return None if isinstance(d, AbstractZero) else d


def _refuse_axis(name: str, axis: int) -> None:
    if axis != 0:
        raise NotImplementedError(
            f"the rules of {name} support axis=0 only; move the interpolation axis to the front "
            "with np.moveaxis first"
        )


# --------------------------------------------------------------------------------------------------
# Constructions: c = M y along the first axis


class _LinearFit:
    """The linear map ``y ↦ c`` of a spline construction along the first axis of ``y``.

    ``fit(values)`` builds the coefficients of ``values`` (any trailing shape) with the boundary
    values zeroed; ``periodic`` ties ``y[-1]`` to ``y[0]``.
    """

    def __init__(self, fit: Callable[[np.ndarray], np.ndarray], n: int, periodic: bool):
        self.fit, self.n, self.periodic = fit, n, periodic

    def apply(self, dy: np.ndarray) -> np.ndarray:
        """``M dy``: the spline of the tangent (a periodic pair gets its mean)."""
        dy = np.array(dy, dtype=float)
        if self.periodic:
            dy[0] = dy[-1] = (dy[0] + dy[-1]) / 2
        return self.fit(dy)

    def transpose(self, dc: np.ndarray, trailing: tuple) -> np.ndarray:
        """``Mᵀ dc``, with ``M`` built in one construction with a right-hand side per data point."""
        free = self.n - 1 if self.periodic else self.n
        probe = np.eye(self.n, free)
        if self.periodic:
            probe[-1, 0] = 1.0  # y[-1] is y[0]
        matrix = self.fit(probe)  # (*coefficients, free)
        rows = matrix.reshape(-1, free).T @ dc.reshape(matrix.size // free, -1)
        dy = np.zeros((self.n, rows.shape[1]))
        dy[:free] = rows
        if self.periodic:
            dy[0] = dy[-1] = rows[0] / 2
        return dy.reshape((self.n, *trailing))


def _construction_rules(construct: Callable, fit_of: Callable, field: str) -> None:
    """The rrule and frule of ``construct(...)``, a spline linear in its argument ``y``.

    ``fit_of(params, y)`` returns the ``_LinearFit`` of the call; the result's coefficients are
    its attribute ``field``.
    """

    @rrule.register(construct)
    def _(*args, **kwargs):
        params = bound_arguments(construct, args, kwargs)
        spline = construct(*args, **kwargs)
        y = np.asarray(params["y"])
        fit = fit_of(params, y)
        project_y = ProjectTo(params["y"])

        def construction_pullback(dspline):
            dc = _field(dspline, field)
            if dc is None:  # no coefficient moved
                return _tangents(params, len(args), {})
            dy = fit.transpose(dc, y.shape[1:])
            return _tangents(params, len(args), {"y": project_y(dy)})

        return spline, construction_pullback

    @frule.register(construct)
    def _(tangents, *args, **kwargs):
        params = bound_arguments(construct, args, kwargs)
        spline = construct(*args, **kwargs)
        dy = _given(params, tangents, "y")
        if dy is None:
            return spline, ZeroTangent()
        y = np.asarray(params["y"])
        dc = fit_of(params, y).apply(np.broadcast_to(dy, y.shape))
        return spline, Tangent(type(spline), **{field: dc})


def _zeroed_derivatives(side: Any, trailing: tuple) -> Any:
    """One side of make_interp_spline's ``bc_type`` with its derivative values set to zero."""
    if side is None or isinstance(side, str):
        return side
    return [(order, np.zeros(trailing)) for order, _ in side]


def _make_interp_spline_fit(params: dict, y: np.ndarray) -> _LinearFit:
    _refuse_axis("make_interp_spline", params["axis"])
    bc_type = params["bc_type"]
    sides = None if bc_type is None or isinstance(bc_type, str) else bc_type
    options = {k: v for k, v in params.items() if k not in ("y", "bc_type")}

    def fit(values):
        bc = bc_type if sides is None else [_zeroed_derivatives(s, values.shape[1:]) for s in sides]
        return scipy.interpolate.make_interp_spline(y=values, bc_type=bc, **options).c

    return _LinearFit(fit, y.shape[0], periodic=bc_type == "periodic")


def _cubic_spline_fit(params: dict, y: np.ndarray) -> _LinearFit:
    _refuse_axis("CubicSpline", params["axis"])
    bc_type = params["bc_type"]
    sides = (bc_type, bc_type) if isinstance(bc_type, str) else tuple(bc_type)
    options = {k: v for k, v in params.items() if k not in ("y", "bc_type")}

    def fit(values):
        bc = bc_type
        if not isinstance(bc_type, str):
            bc = [
                side if isinstance(side, str) else (side[0], np.zeros(values.shape[1:]))
                for side in sides
            ]
        return CubicSpline(y=values, bc_type=bc, **options).c

    return _LinearFit(fit, y.shape[0], periodic=sides[0] == "periodic")


_construction_rules(scipy.interpolate.make_interp_spline, _make_interp_spline_fit, _BSPLINE_C)
_construction_rules(CubicSpline, _cubic_spline_fit, _PPOLY_C)


# --------------------------------------------------------------------------------------------------
# splrep: the tck tuple


def _splrep_fit(params: dict, tck: tuple) -> _LinearFit:
    x, w, k, task = params["x"], params["w"], params["k"], params["task"]
    m = np.size(x)
    s = params["s"] if params["s"] is not None else (0.0 if w is None else m - math.sqrt(2 * m))
    if params["per"] or params["full_output"] or task == 1 or (task == 0 and s > 0):
        raise NotImplementedError(
            "the rules of scipy.interpolate.splrep support the interpolating spline (s=0) and "
            "the least-squares spline on given knots (task=-1), per=0, full_output=0: with "
            "s > 0 the knots are placed according to the data, so the spline is not a "
            "differentiable function of y; fix the knots with splrep(x, y, t=..., task=-1), or "
            "use make_interp_spline/make_lsq_spline"
        )
    t = tck[0]
    count = len(t) - k - 1  # the coefficients that matter; splrep pads c with k + 1 zeros

    def fit(values):
        if task == -1:
            spline = scipy.interpolate.make_lsq_spline(x, values, t, k, w=w)
        else:  # interpolation: splrep's knots make the collocation matrix square
            spline = scipy.interpolate.make_interp_spline(x, values, k, t=t)
        padded = np.zeros((len(t), *values.shape[1:]))
        padded[:count] = spline.c
        return padded

    return _LinearFit(fit, m, periodic=False)


@rrule.register(scipy.interpolate.splrep)
def _(*args, **kwargs):
    params = bound_arguments(scipy.interpolate.splrep, args, kwargs)
    tck = scipy.interpolate.splrep(*args, **kwargs)
    fit = _splrep_fit(params, tck)
    project_y = ProjectTo(params["y"])

    def splrep_pullback(dtck):
        dc = _tck_coefficients(dtck)
        if dc is None:
            return _tangents(params, len(args), {})
        dy = fit.transpose(dc, ())
        return _tangents(params, len(args), {"y": project_y(dy)})

    return tck, splrep_pullback


@frule.register(scipy.interpolate.splrep)
def _(tangents, *args, **kwargs):
    params = bound_arguments(scipy.interpolate.splrep, args, kwargs)
    tck = scipy.interpolate.splrep(*args, **kwargs)
    fit = _splrep_fit(params, tck)
    dy = _given(params, tangents, "y")
    if dy is None:
        return tck, ZeroTangent()
    return tck, Tangent(tuple, ZeroTangent(), fit.apply(np.asarray(dy)), _NO)


def _tck_coefficients(dtck: Any) -> np.ndarray | None:
    """The coefficients' entry of a tangent of ``(t, c, k)``, or ``None`` when it is zero."""
    dtck = unthunk(dtck)
    if isinstance(dtck, AbstractZero):
        return None
    dc = unthunk(dtck[1])
    return None if isinstance(dc, AbstractZero) else np.asarray(dc)


# --------------------------------------------------------------------------------------------------
# Evaluation of B-splines: BSpline.__call__ and splev


def _rows(values: np.ndarray, xshape: tuple, axis: int) -> np.ndarray:
    """A spline's output (or its tangent) as one row per query point: scipy puts the query
    dimensions at ``axis`` among the trailing dimensions of the coefficients."""
    xnd = len(xshape)
    values = np.moveaxis(values, range(axis, axis + xnd), range(xnd))
    return values.reshape(math.prod(xshape), -1)


def _unrows(rows: np.ndarray, xshape: tuple, trailing: tuple, axis: int) -> np.ndarray:
    """The inverse of :func:`_rows`."""
    xnd = len(xshape)
    values = rows.reshape(xshape + trailing)
    return np.moveaxis(values, range(xnd), range(axis, axis + xnd))


def _bspline_basis(t, k: int, count: int, x, nu: int, extrapolate) -> np.ndarray:
    """``B[q, j] = B_j^(nu)(x_q)`` for the first ``count`` coefficients (those past the
    ``len(t) - k - 1`` a spline reads get zero columns), in one evaluation of the spline with
    identity coefficients; zero where the spline is NaN (outside, without extrapolation)."""
    n = len(t) - k - 1
    identity = BSpline.construct_fast(t, np.eye(n), k, extrapolate=extrapolate)
    basis = np.zeros((np.size(x), count))
    basis[:, :n] = np.nan_to_num(identity(np.ravel(x), nu).reshape(np.size(x), n))
    return basis


@rrule.register(BSpline.__call__)
def _(spline, *args, **kwargs):
    params = bound_arguments(BSpline.__call__, (spline, *args), kwargs)
    x, nu, extrapolate = params["x"], params["nu"], params["extrapolate"]
    values = spline(*args, **kwargs)
    project_x = ProjectTo(x)
    t, c, k, axis = spline.t, spline.c, spline.k, spline.axis
    xshape = np.shape(x)

    def bspline_call_pullback(dvalues):
        flat = _rows(np.asarray(unthunk(dvalues), dtype=float), xshape, axis)
        ex = spline.extrapolate if extrapolate is None else extrapolate
        basis = _bspline_basis(t, k, c.shape[0], x, nu, ex)
        dc = (basis.T @ flat).reshape(c.shape)
        slope = np.nan_to_num(_rows(spline(x, nu + 1, extrapolate), xshape, axis))
        dx = project_x(np.sum(slope * flat, axis=1).reshape(xshape))
        return (_NO, Tangent(type(spline), **{_BSPLINE_C: dc}), dx, *(_NO,) * (len(args) - 1))

    return values, bspline_call_pullback


@frule.register(BSpline.__call__)
def _(tangents, spline, *args, **kwargs):
    params = bound_arguments(BSpline.__call__, (spline, *args), kwargs)
    x, nu, extrapolate = params["x"], params["nu"], params["extrapolate"]
    values = spline(*args, **kwargs)
    dc, dx = _field(tangents[1], _BSPLINE_C), unthunk(tangents[2])
    dvalues = ZeroTangent()
    if dc is not None:
        moved = BSpline.construct_fast(spline.t, dc, spline.k, spline.extrapolate, spline.axis)
        dvalues = moved(x, nu, extrapolate)
    if not isinstance(dx, AbstractZero):
        dvalues = dvalues + _query_tangent(spline(x, nu + 1, extrapolate), x, dx, spline.axis)
    return values, _projected(values, dvalues)


def _query_tangent(slope: np.ndarray, x: Any, dx: Any, axis: int) -> np.ndarray:
    """The output's tangent ``p'(x) dx`` from moving the query points, in the output's layout."""
    xshape = np.shape(x)
    rows = _rows(slope, xshape, axis)
    trailing = slope.shape[:axis] + slope.shape[axis + len(xshape) :]
    dx = np.broadcast_to(dx, xshape).reshape(-1, 1)
    return _unrows(np.nan_to_num(rows * dx), xshape, trailing, axis)


def _projected(values: Any, dvalues: Any) -> Any:
    return dvalues if isinstance(dvalues, AbstractZero) else ProjectTo(values)(dvalues)


def _splev_call(args: tuple, kwargs: dict) -> dict:
    params = bound_arguments(scipy.interpolate.splev, args, kwargs)
    tck = params["tck"]
    if isinstance(tck, BSpline) or np.ndim(tck[1]) != 1:
        raise NotImplementedError(
            "the rules of scipy.interpolate.splev support a tck tuple with 1-D coefficients; "
            "for a BSpline object or splprep's parametric curves, call the BSpline itself"
        )
    return params


def _splev_query(params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where splev evaluates the basis, which queries read the coefficients, and which move the
    output when they move.

    ``ext=1`` gives zero outside the base interval ``[t[k], t[n]]``; ``ext=3`` holds the boundary
    value there (for ``der=0``; splev extrapolates the derivatives).
    """
    x, (t, _, k), der, ext = params["x"], params["tck"], params["der"], params["ext"]
    x = np.ravel(np.asarray(x, dtype=float))
    low, high = t[k], t[len(t) - k - 1]
    outside = (x < low) | (x > high)
    clamped = ext == 3 and der == 0
    reads = ~(outside & (ext == 1))
    return (np.clip(x, low, high) if clamped else x), reads, reads & ~(outside & clamped)


@rrule.register(scipy.interpolate.splev)
def _(*args, **kwargs):
    params = _splev_call(args, kwargs)
    x, (t, c, k), der = params["x"], params["tck"], params["der"]
    values = scipy.interpolate.splev(*args, **kwargs)
    project_x = ProjectTo(x)

    def splev_pullback(dvalues):
        dvalues = np.ravel(np.asarray(unthunk(dvalues), dtype=float))
        where, reads, moves = _splev_query(params)
        basis = _bspline_basis(t, k, len(c), where, der, True) * reads[:, None]
        dc = basis.T @ dvalues
        slope = scipy.interpolate.splev(x, params["tck"], der + 1, params["ext"])
        dx = np.where(moves, np.ravel(slope), 0.0) * dvalues
        dx = project_x(dx.reshape(np.shape(x)))
        dtck = Tangent(tuple, ZeroTangent(), ProjectTo(c)(dc), _NO)
        by_name = {"x": dx, "tck": dtck}
        return _tangents(params, len(args), by_name)

    return values, splev_pullback


@frule.register(scipy.interpolate.splev)
def _(tangents, *args, **kwargs):
    params = _splev_call(args, kwargs)
    x, (t, _, k), der, ext = params["x"], params["tck"], params["der"], params["ext"]
    values = scipy.interpolate.splev(*args, **kwargs)
    dtck, dx = _given(params, tangents, "tck"), _given(params, tangents, "x")
    dc = None if dtck is None else _tck_coefficients(dtck)
    dvalues = ZeroTangent()
    where, reads, moves = _splev_query(params)
    if dc is not None:
        basis = _bspline_basis(t, k, len(dc), where, der, True)
        dvalues = np.reshape((basis @ dc) * reads, np.shape(values))
    if dx is not None:
        slope = scipy.interpolate.splev(x, params["tck"], der + 1, ext)
        dvalues = dvalues + np.where(moves, np.ravel(slope), 0.0).reshape(np.shape(values)) * dx
    return values, _projected(values, dvalues)


# --------------------------------------------------------------------------------------------------
# Evaluation of piecewise polynomials: PPoly.__call__ (CubicSpline's too)


def _ppoly_pieces(spline: Any, x: np.ndarray, extrapolate: Any) -> tuple[np.ndarray, np.ndarray]:
    """The interval of each query point and its offset from the interval's start.

    Both come from scipy's own evaluation (so its choice of interval, extrapolation and periodic
    wrapping hold): the piecewise constant ``i`` on interval ``i``, and the piecewise linear
    ``x - x_i``. A query that evaluates to NaN gets interval ``-1``.
    """
    order, count = spline.c.shape[:2]
    breaks = spline.x

    def evaluate(coefficients):
        piecewise = PPoly.construct_fast(coefficients, breaks, spline.extrapolate)
        return piecewise(x, 0, extrapolate)

    constant = np.zeros((order, count))
    constant[-1] = np.arange(count)
    interval = evaluate(constant)
    if order > 1:
        linear = np.zeros((order, count))
        linear[-2] = 1.0
        offset = evaluate(linear)
    else:
        offset = np.zeros_like(interval)
    nan = np.isnan(interval) | np.isnan(offset)
    return np.where(nan, -1, interval).astype(np.intp), np.where(nan, 0.0, offset)


def _monomials(order: int, offset: np.ndarray, nu: int) -> np.ndarray:
    """``∂^nu/∂x^nu`` of ``(x - x_i)^(order - 1 - m)`` for each row ``m`` of the coefficients."""
    rows = []
    for m in range(order):
        power = order - 1 - m
        if power < nu:
            rows.append(np.zeros_like(offset))
        else:
            falling = math.perm(power, nu)  # power! / (power - nu)!
            rows.append(falling * offset ** (power - nu))
    return np.stack(rows)


def _ppoly_call(spline: Any, args: tuple, kwargs: dict) -> tuple:
    params = bound_arguments(PPoly.__call__, (spline, *args), kwargs)
    return params["x"], params["nu"], params["extrapolate"]


@rrule.register(PPoly.__call__)
def _(spline, *args, **kwargs):
    x, nu, extrapolate = _ppoly_call(spline, args, kwargs)
    values = spline(*args, **kwargs)
    project_x = ProjectTo(x)
    c, axis = spline.c, spline.axis
    xshape = np.shape(x)
    xs = np.asarray(x, dtype=float).ravel()

    def ppoly_call_pullback(dvalues):
        flat = _rows(np.asarray(unthunk(dvalues), dtype=float), xshape, axis)
        interval, offset = _ppoly_pieces(spline, xs, extrapolate)
        inside = interval >= 0
        flat = flat * inside[:, None]
        monomials = _monomials(c.shape[0], offset, nu)  # (order, q)
        dc = np.zeros((c.shape[0], c.shape[1], flat.shape[1]))
        for m in range(c.shape[0]):
            np.add.at(dc[m], interval[inside], monomials[m, inside, None] * flat[inside])
        slope = np.nan_to_num(_rows(spline(xs, nu + 1, extrapolate), (xs.size,), axis))
        dx = project_x(np.sum(slope * flat, axis=1).reshape(xshape))
        dspline = Tangent(type(spline), **{_PPOLY_C: ProjectTo(c)(dc.reshape(c.shape))})
        return (_NO, dspline, dx, *(_NO,) * (len(args) - 1))

    return values, ppoly_call_pullback


@frule.register(PPoly.__call__)
def _(tangents, spline, *args, **kwargs):
    x, nu, extrapolate = _ppoly_call(spline, args, kwargs)
    values = spline(*args, **kwargs)
    dc, dx = _field(tangents[1], _PPOLY_C), unthunk(tangents[2])
    dvalues = ZeroTangent()
    if dc is not None:
        moved = PPoly.construct_fast(dc, spline.x, spline.extrapolate, spline.axis)
        dvalues = moved(x, nu, extrapolate)
    if not isinstance(dx, AbstractZero):
        dvalues = dvalues + _query_tangent(spline(x, nu + 1, extrapolate), x, dx, spline.axis)
    return values, _projected(values, dvalues)


# --------------------------------------------------------------------------------------------------
# Grid interpolation: RegularGridInterpolator and interpn

_GRID_METHODS = ("linear", "nearest")


def _refuse_grid_method(name: str, method: str) -> None:
    if method not in _GRID_METHODS:
        raise NotImplementedError(
            f"the rules of {name} support method='linear' and method='nearest', got "
            f"method={method!r}; for a smooth interpolant on a grid, fit splines along each axis "
            "(make_interp_spline) or use method='linear'"
        )


class _GridStencil:
    """Which entries of the (ascending) grid's values each query reads, and with what weights.

    Query ``q`` reads the flat entries ``index[q, j]`` with weights ``weight[q, j]``; the weights'
    gradient in the query point is ``slope[q, j, :]``. Cells are found as scipy finds them: the
    last grid line at or below the query, kept inside the grid (so outside queries extrapolate).
    """

    def __init__(self, grid: tuple, coords: np.ndarray, method: str, fill: bool):
        cells, fractions, widths = [], [], []
        for g, x in zip(grid, coords.T, strict=True):
            i = np.clip(np.searchsorted(g, x, side="right") - 1, 0, max(len(g) - 2, 0))
            width = g[np.minimum(i + 1, len(g) - 1)] - g[i]
            width = np.where(width == 0, 1.0, width)
            cells.append(i)
            fractions.append((x - g[i]) / width)
            widths.append(width)
        shape = tuple(len(g) for g in grid)
        valid = ~np.any(np.isnan(coords), axis=1)
        if fill:  # outside queries take the fill value and read nothing
            for g, x in zip(grid, coords.T, strict=True):
                valid &= (g[0] <= x) & (x <= g[-1])
        d, q = len(grid), len(coords)
        if method == "nearest":
            corners = [np.where(f <= 0.5, i, i + 1) for i, f in zip(cells, fractions)]
            self.index = np.ravel_multi_index(tuple(corners), shape, mode="clip")[:, None]
            self.weight = valid[:, None].astype(float)
            self.slope = np.zeros((q, 1, d))
            return
        index, weight, slope = [], [], []
        for bits in itertools.product((0, 1), repeat=d):
            corner = tuple(np.minimum(i + b, n - 1) for i, b, n in zip(cells, bits, shape))
            index.append(np.ravel_multi_index(corner, shape))
            factors = [f if b else 1 - f for f, b in zip(fractions, bits)]
            weight.append(np.prod(factors, axis=0))
            slope.append(
                [
                    (1 if b else -1) / w * np.prod(factors[:k] + factors[k + 1 :], axis=0)
                    for k, (b, w) in enumerate(zip(bits, widths))
                ]
            )
        mask = valid.astype(float)
        self.index = np.stack(index, axis=1)
        self.weight = np.nan_to_num(np.stack(weight, axis=1)) * mask[:, None]
        self.slope = (
            np.nan_to_num(np.moveaxis(np.array(slope), (0, 1), (1, 2))) * mask[:, None, None]
        )

    def pullback(self, table: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cotangents of the flat values ``table`` (one row per grid point) and the query
        points, from the output rows' cotangent ``dy``."""
        dtable = np.zeros(table.shape)
        for j in range(self.index.shape[1]):
            np.add.at(dtable, self.index[:, j], self.weight[:, j, None] * dy)
        read = np.einsum("qjm,qm->qj", table[self.index], dy)
        return dtable, np.einsum("qjd,qj->qd", self.slope, read)

    def pushforward(self, table, dtable, dcoords) -> np.ndarray:
        """The output rows' tangent from the tangents of the values and of the query points."""
        dy = 0.0
        if dtable is not None:
            dy = np.einsum("qj,qjm->qm", self.weight, dtable[self.index])
        if dcoords is not None:
            dy = dy + np.einsum("qjd,qd,qjm->qm", self.slope, dcoords, table[self.index])
        return dy


def _ascending(points: tuple, values: np.ndarray) -> tuple[tuple, np.ndarray, tuple]:
    """The grid with every axis ascending, the values flipped to match, and the flipped axes."""
    grid = tuple(np.asarray(p, dtype=float) for p in points)
    flipped = tuple(i for i, g in enumerate(grid) if g.size > 1 and g[0] > g[-1])
    grid = tuple(np.flip(g) if i in flipped else g for i, g in enumerate(grid))
    return grid, np.flip(values, axis=flipped) if flipped else values, flipped


def _coordinates(xi: Any, d: int) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """The query points as rows, read as scipy reads ``xi`` (an array whose last axis runs over
    the dimensions, or a tuple of broadcastable coordinate arrays), and the map from their
    cotangent rows back to ``xi``'s cotangent."""
    if isinstance(xi, tuple):
        components = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in xi))
        coords = np.stack(components, axis=-1)
        projects = [ProjectTo(v) for v in xi]

        def back(rows):
            full = rows.reshape(coords.shape)
            parts = [p(unbroadcast(v, full[..., k])) for k, (p, v) in enumerate(zip(projects, xi))]
            return Tangent(tuple, *parts)

        return coords.reshape(-1, d), back
    coords = np.asarray(xi, dtype=float)
    project = ProjectTo(xi)
    return coords.reshape(-1, d), lambda rows: project(rows.reshape(np.shape(xi)))


def _dxi_rows(xi: Any, dxi: Any, d: int) -> np.ndarray:
    """The tangent of ``xi`` as rows of query-point tangents (see :func:`_coordinates`)."""
    if isinstance(xi, tuple):
        shape = np.broadcast_shapes(*(np.shape(v) for v in xi))
        parts = [
            np.zeros(shape) if isinstance(unthunk(dv), AbstractZero) else np.broadcast_to(dv, shape)
            for dv in (dxi.backing if isinstance(dxi, Tangent) else dxi)
        ]
        return np.stack(parts, axis=-1).reshape(-1, d)
    return np.asarray(dxi, dtype=float).reshape(-1, d)


def _grid_interpolation(grid: tuple, values: np.ndarray, xi: Any, method: str, fill: bool):
    """The stencil, the values as a table (a row per grid point), and the map from the query
    rows' cotangent back to ``xi``'s."""
    d = len(grid)
    coords, back = _coordinates(xi, d)
    stencil = _GridStencil(grid, coords, method, fill)
    table = np.asarray(values, dtype=float).reshape(math.prod(values.shape[:d]), -1)
    return stencil, table, back


@rrule.register(RegularGridInterpolator)
def _(*args, **kwargs):
    params = bound_arguments(RegularGridInterpolator, args, kwargs)
    _refuse_grid_method("RegularGridInterpolator", params["method"])
    interpolator = RegularGridInterpolator(*args, **kwargs)
    flipped = getattr(interpolator, "_descending_dimensions", ())
    project_values = ProjectTo(params["values"])

    def regular_grid_interpolator_pullback(dinterpolator):
        dvalues = _field(dinterpolator, _GRID_VALUES)
        if dvalues is None:
            return _tangents(params, len(args), {})
        dvalues = np.flip(dvalues, axis=flipped) if flipped else dvalues
        return _tangents(params, len(args), {"values": project_values(dvalues)})

    return interpolator, regular_grid_interpolator_pullback


@frule.register(RegularGridInterpolator)
def _(tangents, *args, **kwargs):
    params = bound_arguments(RegularGridInterpolator, args, kwargs)
    _refuse_grid_method("RegularGridInterpolator", params["method"])
    interpolator = RegularGridInterpolator(*args, **kwargs)
    dvalues = _given(params, tangents, "values")
    if dvalues is None:
        return interpolator, ZeroTangent()
    flipped = getattr(interpolator, "_descending_dimensions", ())
    dvalues = np.broadcast_to(dvalues, np.shape(params["values"]))
    dvalues = np.array(np.flip(dvalues, axis=flipped) if flipped else dvalues, dtype=float)
    return interpolator, Tangent(type(interpolator), **{_GRID_VALUES: dvalues})


def _grid_call(interpolator: Any, args: tuple, kwargs: dict) -> tuple:
    params = bound_arguments(RegularGridInterpolator.__call__, (interpolator, *args), kwargs)
    method = interpolator.method if params["method"] is None else params["method"]
    _refuse_grid_method("RegularGridInterpolator.__call__", method)
    grid, values = getattr(interpolator, _GRID_POINTS), getattr(interpolator, _GRID_VALUES)
    fill = not interpolator.bounds_error and interpolator.fill_value is not None
    return params["xi"], _grid_interpolation(
        tuple(grid), np.asarray(values), params["xi"], method, fill
    )


@rrule.register(RegularGridInterpolator.__call__)
def _(interpolator, *args, **kwargs):
    _, (stencil, table, back) = _grid_call(interpolator, args, kwargs)
    y = interpolator(*args, **kwargs)
    values = getattr(interpolator, _GRID_VALUES)

    def regular_grid_call_pullback(dy):
        dy = np.asarray(unthunk(dy), dtype=float).reshape(-1, table.shape[1])
        dtable, dcoords = stencil.pullback(table, dy)
        dvalues = ProjectTo(np.asarray(values))(dtable.reshape(np.shape(values)))
        dinterpolator = Tangent(type(interpolator), **{_GRID_VALUES: dvalues})
        return (_NO, dinterpolator, back(dcoords), *(_NO,) * (len(args) - 1))

    return y, regular_grid_call_pullback


@frule.register(RegularGridInterpolator.__call__)
def _(tangents, interpolator, *args, **kwargs):
    xi, (stencil, table, _) = _grid_call(interpolator, args, kwargs)
    y = interpolator(*args, **kwargs)
    dvalues, dxi = _field(tangents[1], _GRID_VALUES), unthunk(tangents[2])
    if dvalues is None and isinstance(dxi, AbstractZero):
        return y, ZeroTangent()
    dtable = None if dvalues is None else dvalues.reshape(table.shape)
    dcoords = None if isinstance(dxi, AbstractZero) else _dxi_rows(xi, dxi, stencil.slope.shape[2])
    return y, ProjectTo(y)(stencil.pushforward(table, dtable, dcoords).reshape(y.shape))


def _interpn_call(args: tuple, kwargs: dict):
    params = bound_arguments(scipy.interpolate.interpn, args, kwargs)
    _refuse_grid_method("interpn", params["method"])
    values = np.asarray(params["values"])
    grid, ascending, flipped = _ascending(tuple(params["points"]), values)
    fill = not params["bounds_error"] and params["fill_value"] is not None
    return (
        params,
        flipped,
        _grid_interpolation(grid, ascending, params["xi"], params["method"], fill),
    )


@rrule.register(scipy.interpolate.interpn)
def _(*args, **kwargs):
    params, flipped, (stencil, table, back) = _interpn_call(args, kwargs)
    y = scipy.interpolate.interpn(*args, **kwargs)
    values = np.asarray(params["values"])
    project_values = ProjectTo(params["values"])

    def interpn_pullback(dy):
        dy = np.asarray(unthunk(dy), dtype=float).reshape(-1, table.shape[1])
        dtable, dcoords = stencil.pullback(table, dy)
        dvalues = dtable.reshape(values.shape)
        dvalues = np.flip(dvalues, axis=flipped) if flipped else dvalues
        by_name = {"values": project_values(dvalues), "xi": back(dcoords)}
        return _tangents(params, len(args), by_name)

    return y, interpn_pullback


@frule.register(scipy.interpolate.interpn)
def _(tangents, *args, **kwargs):
    params, flipped, (stencil, table, _) = _interpn_call(args, kwargs)
    y = scipy.interpolate.interpn(*args, **kwargs)
    dvalues, dxi = _given(params, tangents, "values"), _given(params, tangents, "xi")
    if dvalues is None and dxi is None:
        return y, ZeroTangent()
    dtable = None
    if dvalues is not None:
        dvalues = np.broadcast_to(dvalues, np.shape(params["values"]))
        dvalues = np.flip(dvalues, axis=flipped) if flipped else dvalues
        dtable = dvalues.reshape(table.shape)
    dcoords = None if dxi is None else _dxi_rows(params["xi"], dxi, len(params["points"]))
    return y, ProjectTo(y)(stencil.pushforward(table, dtable, dcoords).reshape(y.shape))
