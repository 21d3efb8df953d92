"""Rules for numpy's elementwise functions (ufuncs), from a table of partial derivatives.

``PARTIALS`` maps each elementwise function to ``partials(*args, out)``, its partial derivatives
at the arguments given the primal output ``out``; every entry becomes an ``rrule`` and an ``frule``
through ``chainrules_core.scalar_rule``, so broadcasting, Python scalars, 0-d arrays and dtypes are
handled in one place. ``np.conjugate`` (not complex-linear), ``np.sign`` (of a complex argument),
and the elementwise functions that are not ufuncs (``np.clip``, ``np.nan_to_num``,
``np.real_if_close``) have rules of their own below.

Conventions:

* Complex numbers (see ``docs/rules/complex_numbers.rst``): the cotangent of ``z`` is
  ``dL/dRe(z) + i dL/dIm(z)``; a holomorphic ``f`` pulls ``dy`` back to ``conj(f'(z)) * dy``.
  The real-valued functions of a complex argument (``absolute``, ``angle``, ``real``, ``imag``)
  list the ``p`` with ``dy = Re(p * dz)``, so their cotangent is ``conj(p) * dy``: for
  ``absolute``, ``p = conj(z) / |z|`` and the cotangent is ``z / |z| * dy``.
* Ties: ``maximum``, ``minimum``, ``fmax`` and ``fmin`` split the cotangent evenly between equal
  arguments. Where one argument is NaN, ``maximum``/``minimum`` give the whole cotangent to the NaN
  argument (the one they propagate), ``fmax``/``fmin`` to the other (the one they return).
* Kinks and jumps get a one-sided or zero derivative: ``absolute``/``fabs`` have derivative 0 at
  0; ``mod``/``fmod`` have ``∂/∂x2 = -floor(x1/x2)``/``-trunc(x1/x2)``; ``sinc`` has 0 at 0.
* ``power(x1, x2)`` and ``float_power`` in ``x2``: ``out * log|x1|`` for a real ``x1 < 0`` (the real
  part of the analytic continuation, as ChainRules), and 0 where ``out == 0`` (the limit at
  ``x1 = 0`` for ``x2 > 0``); in ``x1``: 0 where ``x2 == 0``.
* Zero in an argument: ``nextafter`` in ``x2`` (one ulp from ``x1`` towards it: its slope in
  ``x1`` is 1), ``heaviside`` in ``x1`` (its tangent is ``ZeroTangent()``), ``copysign`` in
  ``x2``; ``ldexp``'s integer exponent has ``NoTangent()``.
* ``sign``: of a real ``x``, piecewise constant, with no tangent (``NoTangent()``) and any options
  passed through; of a complex ``z``, ``z / |z|``, which is not holomorphic: its derivative is the
  real-linear map ``dz -> i y Im(conj(y) dz) / |z|`` (``y = sign(z)``: only a turn of ``z`` turns
  ``y``), which is its own transpose, and ``0`` at ``z = 0``.
* ``nan_to_num``: derivative 1 where ``x`` is finite and 0 where a NaN or an infinity was replaced
  (in the real and imaginary parts separately); ``nan=``, ``posinf=`` and ``neginf=`` are constants.
* ``real_if_close``: the identity, or the real part where it drops negligible imaginary parts; the
  cotangent of the complex input is then the real cotangent (no imaginary part).
* ``clip(x, a_min, a_max)``: ``x`` gets ``dy`` where ``a_min < x < a_max`` strictly; elsewhere the
  bound that ``y`` equals gets it (``a_max`` where ``a_min >= a_max``, as numpy returns it).
* Only the plain call is covered, ``np.add(x1, x2)``: ``out=``, ``where=``, ``dtype=`` and any
  other keyword, or a positional ``out``, raise ``TypeError`` rather than give a silently wrong
  derivative.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrules.calls import no_tangents
from chainrules.numpy.shape import array_tangent
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    ZeroTangent,
    frule,
    rrule,
    scalar_rule,
    unbroadcast,
    unthunk,
)

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_DEGREE = math.pi / 180.0


def _name(f: Callable) -> str:
    return f"numpy.{f.__name__}"


def plain_call_only(
    f: Callable, args: tuple, kwargs: dict, inputs: int, allowed: tuple = ()
) -> None:
    """Raise ``TypeError`` unless ``f`` got at most ``inputs`` arguments and no options."""
    extra = sorted(set(kwargs) - set(allowed))
    if not extra and len(args) <= inputs:
        return
    got = (
        f"keyword argument(s) {', '.join(k + '=' for k in extra)}"
        if extra
        else (f"{len(args)} positional arguments (a positional out= or deg=?)")
    )
    raise TypeError(
        f"the rules of {_name(f)} cover plain calls only, without out=, where=, "
        f"dtype= or other options, but it got {got}; assign the result instead of passing out=, "
        "and use np.where for masking"
    )


def _with_safe_zero(x: Any) -> Any:
    """``x`` with zeros replaced by ones, to divide by ``x`` where the quotient is masked anyway."""
    return np.where(x == 0, 1, x)


def _power_partials(power: Callable) -> Callable:
    def partials(x1, x2, out):
        with np.errstate(divide="ignore", invalid="ignore"):
            d_base = np.where(x2 == 0, 0, x2 * power(x1, x2 - 1.0))
            log_base = np.log(x1) if _is_complex(x1) else np.log(np.abs(x1))
            d_exponent = np.where(out == 0, 0, out * log_base)
        return d_base, d_exponent

    return partials


def _selection_partials(first_wins: Callable, larger_wins: bool) -> Callable:
    """Partials of a function that returns one of its two arguments, the larger one or the
    smaller one; ties split evenly."""

    def partials(x1, x2, out):
        # Against a zero (relu's maximum(x, 0.0)), the partial is the step of the other argument:
        # two operations where the general test takes five, and no arithmetic that could warn.
        if _is_zero(x2) and _is_real(x1):
            d_first = _step(x1, larger_wins)
            if d_first is not None:
                return d_first, 1 - d_first
        elif _is_zero(x1) and _is_real(x2):
            d_second = _step(x2, larger_wins)
            if d_second is not None:
                return 1 - d_second, d_second
        d_first = np.where(x1 == x2, 0.5, first_wins(x1, x2))
        return d_first, 1 - d_first

    return partials


def _step(x: Any, larger_wins: bool) -> Any:
    """1 where ``x`` wins against zero (where it is positive, for the larger), 1/2 where it is
    zero, 0 where the zero wins; None where ``x`` holds a NaN (the general test settles that)."""
    step = np.heaviside(x if larger_wins else np.negative(x), 0.5)
    return None if math.isnan(np.vdot(step, step)) else step  # (NaN if any entry is)


def _is_zero(x: Any) -> bool:
    return (x.__class__ is float or x.__class__ is int) and x == 0


def _is_real(x: Any) -> bool:
    """Whether ``x`` is a real floating-point number or array."""
    kind = x.__class__
    return kind is float or ((kind is np.ndarray or kind is np.float64) and x.dtype.kind == "f")


def _is_complex(x: Any) -> bool:
    """``np.iscomplexobj(x)``, without its cost for an array or a float (a partial's test, run
    at every call)."""
    kind = x.__class__
    if kind is np.ndarray:
        return x.dtype.kind == "c"
    return kind is not float and np.iscomplexobj(x)


def _absolute_partial(x, out):
    # x / |x|, conjugated as a partial is (0 at 0); for real x that is sign(x), one operation
    if _is_complex(x):
        return np.conj(x) / _with_safe_zero(out)
    return np.sign(x)


def _sinc_partial(x, out):
    # d/dx sin(πx)/(πx) = (cos(πx) - sinc(x)) / x, which tends to 0 at x = 0.
    return np.where(x == 0, 0, (np.cos(np.pi * x) - out) / _with_safe_zero(x))


PARTIALS: dict[Callable, Callable] = {
    # arithmetic
    np.add: lambda x1, x2, out: (1.0, 1.0),
    np.subtract: lambda x1, x2, out: (1.0, -1.0),
    np.multiply: lambda x1, x2, out: (x2, x1),
    np.divide: lambda x1, x2, out: (1 / x2, -out / x2),
    np.negative: lambda x, out: -1.0,
    np.positive: lambda x, out: 1.0,
    np.reciprocal: lambda x, out: -(out**2),
    np.square: lambda x, out: 2 * x,
    np.sqrt: lambda x, out: 0.5 / out,
    np.cbrt: lambda x, out: 1 / (3 * out**2),
    np.power: _power_partials(np.power),
    np.float_power: _power_partials(np.float_power),
    # exponentials and logarithms
    np.exp: lambda x, out: out,
    np.exp2: lambda x, out: out * _LN2,
    np.expm1: lambda x, out: out + 1,
    np.log: lambda x, out: 1 / x,
    np.log2: lambda x, out: 1 / (x * _LN2),
    np.log10: lambda x, out: 1 / (x * _LN10),
    np.log1p: lambda x, out: 1 / (1 + x),
    np.logaddexp: lambda x1, x2, out: (np.exp(x1 - out), np.exp(x2 - out)),
    np.logaddexp2: lambda x1, x2, out: (np.exp2(x1 - out), np.exp2(x2 - out)),
    # trigonometric and hyperbolic
    np.sin: lambda x, out: np.cos(x),
    np.cos: lambda x, out: -np.sin(x),
    np.tan: lambda x, out: 1 + out**2,
    np.arcsin: lambda x, out: 1 / np.sqrt(1 - x**2),
    np.arccos: lambda x, out: -1 / np.sqrt(1 - x**2),
    np.arctan: lambda x, out: 1 / (1 + x**2),
    np.sinh: lambda x, out: np.cosh(x),
    np.cosh: lambda x, out: np.sinh(x),
    np.tanh: lambda x, out: 1 - out**2,
    np.arcsinh: lambda x, out: 1 / np.sqrt(x**2 + 1),
    # sqrt(x - 1) * sqrt(x + 1) rather than sqrt(x**2 - 1) keeps arccosh's complex branch cut.
    np.arccosh: lambda x, out: 1 / (np.sqrt(x - 1) * np.sqrt(x + 1)),
    np.arctanh: lambda x, out: 1 / (1 - x**2),
    np.arctan2: lambda x1, x2, out: (x2 / (x1**2 + x2**2), -x1 / (x1**2 + x2**2)),
    np.hypot: lambda x1, x2, out: (x1 / out, x2 / out),
    np.sinc: _sinc_partial,
    np.deg2rad: lambda x, out: _DEGREE,
    np.radians: lambda x, out: _DEGREE,
    np.rad2deg: lambda x, out: 1 / _DEGREE,
    np.degrees: lambda x, out: 1 / _DEGREE,
    # magnitude, sign and complex parts
    np.absolute: _absolute_partial,
    np.fabs: lambda x, out: np.sign(x),
    np.copysign: lambda x1, x2, out: (np.copysign(1.0, x1) * np.copysign(1.0, x2), ZeroTangent()),
    # one ulp from x1 towards x2: it moves with x1; x2 only picks the direction
    np.nextafter: lambda x1, x2, out: (np.ones_like(out), ZeroTangent()),
    np.real: lambda x, out: 1.0,
    np.imag: lambda x, out: -1j,
    np.angle: lambda x, out: -1j / _with_safe_zero(x),
    # selection
    np.maximum: _selection_partials(lambda x1, x2: (x1 > x2) | np.isnan(x1), larger_wins=True),
    np.minimum: _selection_partials(lambda x1, x2: (x1 < x2) | np.isnan(x1), larger_wins=False),
    np.fmax: _selection_partials(lambda x1, x2: (x1 > x2) | np.isnan(x2), larger_wins=True),
    np.fmin: _selection_partials(lambda x1, x2: (x1 < x2) | np.isnan(x2), larger_wins=False),
    # piecewise
    np.remainder: lambda x1, x2, out: (1.0, -np.floor_divide(x1, x2)),
    np.fmod: lambda x1, x2, out: (1.0, -np.trunc(x1 / x2)),
    np.heaviside: lambda x1, x2, out: (ZeroTangent(), x1 == 0),
    np.ldexp: lambda x1, x2, out: (np.ldexp(1.0, x2), NoTangent()),
}


for _f, _partials in PARTIALS.items():
    scalar_rule(_f, _partials)


@rrule.register(np.conjugate)
def _(x, *out, **kwargs):
    plain_call_only(np.conjugate, (x, *out), kwargs, 1)
    project_x = ProjectTo(x)

    def conjugate_pullback(dy):
        return NoTangent(), project_x(np.conj(dy))

    return np.conjugate(x), conjugate_pullback


@frule.register(np.conjugate)
def _(tangents, x, *out, **kwargs):
    plain_call_only(np.conjugate, (x, *out), kwargs, 1)
    _, dx = tangents
    return np.conjugate(x), dx if isinstance(dx, AbstractZero) else np.conj(dx)


def _turn(y: Any, r: Any, dz: Any) -> Any:
    """The derivative of ``y = sign(z)`` at a complex ``z`` with ``|z| = r``, applied to ``dz``.

    Only the part of ``dz`` orthogonal to ``z`` turns ``y``; the map is symmetric for the inner
    product ``Re(conj(a) b)``, so it also carries a cotangent back. ``y = 0`` at ``z = 0`` makes
    the derivative ``0`` there.
    """
    return 1j * y * np.imag(np.conj(y) * dz) / _with_safe_zero(r)


@rrule.register(np.sign)
def _(x, *args, **kwargs):
    y = np.sign(x, *args, **kwargs)
    if not np.iscomplexobj(x):

        def piecewise_constant_pullback(dy):
            return NoTangent(), NoTangent(), *no_tangents(args)

        return y, piecewise_constant_pullback
    plain_call_only(np.sign, (x, *args), kwargs, 1)
    r = np.abs(x)
    project_x = ProjectTo(x)

    def sign_pullback(dy):
        return NoTangent(), project_x(_turn(y, r, dy))

    return y, sign_pullback


@frule.register(np.sign)
def _(tangents, x, *args, **kwargs):
    y = np.sign(x, *args, **kwargs)
    if not np.iscomplexobj(x):
        return y, NoTangent()
    plain_call_only(np.sign, (x, *args), kwargs, 1)
    dx = unthunk(tangents[1])
    if isinstance(dx, AbstractZero):
        return y, ZeroTangent()
    return y, ProjectTo(y)(_turn(y, np.abs(x), dx))


def _finite_parts(x: Any) -> tuple:
    """Where ``nan_to_num`` keeps ``x``: one mask for a real ``x``, one per part of a complex one."""
    if np.iscomplexobj(x):
        return np.isfinite(np.real(x)), np.isfinite(np.imag(x))
    return (np.isfinite(x),)


def _on_finite_parts(d: Any, masks: tuple) -> Any:
    """The tangent ``d`` where ``masks`` say ``x`` was kept, zero where it was replaced."""
    if len(masks) == 1:
        return np.where(masks[0], d, 0)
    return np.where(masks[0], np.real(d), 0) + 1j * np.where(masks[1], np.imag(d), 0)


@rrule.register(np.nan_to_num)
def _(x, *args, **kwargs):
    masks = _finite_parts(x)  # before the call: copy=False replaces the entries of x itself
    project_x = ProjectTo(x)

    def nan_to_num_pullback(dy):
        return NoTangent(), project_x(_on_finite_parts(dy, masks)), *no_tangents(args)

    return np.nan_to_num(x, *args, **kwargs), nan_to_num_pullback


@frule.register(np.nan_to_num)
def _(tangents, x, *args, **kwargs):
    masks = _finite_parts(x)
    y = np.nan_to_num(x, *args, **kwargs)
    dx = unthunk(tangents[1])
    if isinstance(dx, AbstractZero):
        return y, ZeroTangent()
    return y, ProjectTo(y)(_on_finite_parts(dx, masks))


@rrule.register(np.real_if_close)
def _(a, *args, **kwargs):
    project_a = ProjectTo(a)

    def real_if_close_pullback(dy):
        # Where the imaginary parts were dropped, a real dy is a complex cotangent with none.
        return NoTangent(), project_a(dy), *no_tangents(args)

    return np.real_if_close(a, *args, **kwargs), real_if_close_pullback


@frule.register(np.real_if_close)
def _(tangents, a, *args, **kwargs):
    y = np.real_if_close(a, *args, **kwargs)
    da = unthunk(tangents[1])
    if isinstance(da, AbstractZero):
        return y, ZeroTangent()
    # Projecting onto a real y keeps the real part, the tangent of the real part kept.
    return y, ProjectTo(y)(np.asarray(array_tangent(a, da)))


_CLIP_BOUND_KEYWORDS = ("a_min", "a_max", "min", "max")


def _clip_bounds(bounds: tuple, kwargs: dict) -> tuple[Any, Any]:
    """``(a_min, a_max)`` from ``np.clip``'s positional bounds or keywords (``None``: no bound)."""
    plain_call_only(np.clip, bounds, kwargs, 2, allowed=_CLIP_BOUND_KEYWORDS)
    a_min, a_max = (*bounds, None, None)[:2]
    a_min = kwargs.get("a_min", kwargs.get("min", a_min))
    a_max = kwargs.get("a_max", kwargs.get("max", a_max))
    return a_min, a_max


def _clip_regions(x: Any, a_min: Any, a_max: Any) -> tuple[Any, Any, Any]:
    """Masks ``(inside, at_min, at_max)``: where ``clip(x, a_min, a_max)`` follows each argument."""
    raised = x if a_min is None else np.maximum(x, a_min)
    at_max = np.zeros(np.shape(raised), bool) if a_max is None else raised >= a_max
    at_min = np.zeros(np.shape(x), bool) if a_min is None else (x <= a_min) & ~at_max
    return ~(at_min | at_max), at_min, at_max


@rrule.register(np.clip)
def _(x, *bounds, **kwargs):
    a_min, a_max = _clip_bounds(bounds, kwargs)
    y = np.clip(x, *bounds, **kwargs)
    inside, at_min, at_max = _clip_regions(x, a_min, a_max)
    project_x = ProjectTo(x)
    project_bounds = tuple(map(ProjectTo, bounds))

    def clip_pullback(dy):
        dx = project_x(unbroadcast(x, dy * inside))
        d_bounds = tuple(
            NoTangent() if bound is None else project(unbroadcast(bound, dy * mask))
            for bound, project, mask in zip(bounds, project_bounds, (at_min, at_max), strict=False)
        )
        return NoTangent(), dx, *d_bounds

    return y, clip_pullback


@frule.register(np.clip)
def _(tangents, x, *bounds, **kwargs):
    a_min, a_max = _clip_bounds(bounds, kwargs)
    y = np.clip(x, *bounds, **kwargs)
    _, dx, *d_bounds = tangents
    d_bounds = (*d_bounds, ZeroTangent(), ZeroTangent())
    inside, at_min, at_max = _clip_regions(x, a_min, a_max)
    # Each mask has y's shape, so a nonzero dy does too.
    dy = dx * inside + d_bounds[0] * at_min + d_bounds[1] * at_max
    return y, ProjectTo(y)(dy)
