"""Rules for the math module.

Elementwise functions are defined by a table of partial derivatives through ``scalar_rule``;
``math`` works on real numbers only, so no complex convention is involved. Conventions:

* ``fabs``: ``sign(x)``, ``0`` at ``0``; ``copysign(x, y)``: ``sign(x) sign(y)`` in ``x``, ``0``
  in ``y``; ``hypot`` and ``dist``: ``0`` where the result is ``0``;
* ``fmod(x, y)``: ``1`` and ``-trunc(x / y)``; ``remainder(x, y)``: ``1`` and ``-round(x / y)``;
* ``pow``: as ``operator.pow`` (see :mod:`chainrules.operator`);
* ``ldexp(x, i)``: the integer exponent has no tangent;
* ``frexp(x) = (m, e)``: ``dm = dx / 2**e``, and the integer exponent has no tangent;
  ``modf(x) = (fractional part, integral part)``: ``1`` and ``0`` (the integral part is a float
  whose tangent is zero);
* ``fsum``, ``prod`` and ``dist`` take lists, tuples or 1-d arrays; their cotangents are a
  ``Tangent`` of the same list or tuple type, or an array;
* ``floor``, ``ceil``, ``trunc``, the predicates (``isnan``, ``isclose``, ...) and the integer
  functions (``gcd``, ``factorial``, ``comb``, ...) have no derivative.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
from scipy.special import digamma

from chainrules.operator import item_tangents, register_abs, register_power, sequence_tangent
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    Tangent,
    ZeroTangent,
    frule,
    non_differentiable,
    rrule,
    scalar_rule,
    unbroadcast,
)

_LOG2 = math.log(2.0)
_LOG10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _sign(x: float) -> int:
    # int() first: a 0-d array compares to a numpy bool, which refuses subtraction
    return int(x > 0) - int(x < 0)


def _log_partials(x, *base_and_out):
    if len(base_and_out) == 1:
        return 1 / x
    base, out = base_and_out
    log_base = math.log(base)
    return 1 / (x * log_base), -out / (base * log_base)


def _hypot_partials(*coordinates_and_out):
    *coordinates, out = coordinates_and_out
    return tuple(x / out if out else 0.0 for x in coordinates)


def _atan2_partials(y, x, out):
    r2 = x * x + y * y
    return x / r2, -y / r2


_PARTIALS = {
    math.sin: lambda x, out: math.cos(x),
    math.cos: lambda x, out: -math.sin(x),
    math.tan: lambda x, out: 1 + out * out,
    math.asin: lambda x, out: 1 / math.sqrt(1 - x * x),
    math.acos: lambda x, out: -1 / math.sqrt(1 - x * x),
    math.atan: lambda x, out: 1 / (1 + x * x),
    math.sinh: lambda x, out: math.cosh(x),
    math.cosh: lambda x, out: math.sinh(x),
    math.tanh: lambda x, out: 1 - out * out,
    math.asinh: lambda x, out: 1 / math.sqrt(x * x + 1),
    math.acosh: lambda x, out: 1 / math.sqrt(x * x - 1),
    math.atanh: lambda x, out: 1 / (1 - x * x),
    math.exp: lambda x, out: out,
    math.expm1: lambda x, out: out + 1,
    math.log: _log_partials,
    math.log2: lambda x, out: 1 / (x * _LOG2),
    math.log10: lambda x, out: 1 / (x * _LOG10),
    math.log1p: lambda x, out: 1 / (1 + x),
    math.sqrt: lambda x, out: 0.5 / out,
    math.erf: lambda x, out: _TWO_OVER_SQRT_PI * math.exp(-x * x),
    math.erfc: lambda x, out: -_TWO_OVER_SQRT_PI * math.exp(-x * x),
    math.gamma: lambda x, out: out * digamma(x),
    math.lgamma: lambda x, out: digamma(x),
    math.degrees: lambda x, out: 180 / math.pi,
    math.radians: lambda x, out: math.pi / 180,
    math.hypot: _hypot_partials,
    math.atan2: _atan2_partials,
    math.copysign: lambda x, y, out: (_sign(x) * math.copysign(1.0, y), 0.0),
    math.fmod: lambda x, y, out: (1.0, -math.trunc(x / y)),
    math.remainder: lambda x, y, out: (1.0, -round(x / y)),
}

# exp2 and cbrt joined the math module in Python 3.11.
if hasattr(math, "exp2"):
    _PARTIALS[math.exp2] = lambda x, out: out * _LOG2
    _PARTIALS[math.cbrt] = lambda x, out: 1 / (3 * out * out)

for _f, _partials in _PARTIALS.items():
    scalar_rule(_f, _partials)

register_power(math.pow)
register_abs(math.fabs)


@rrule.register(math.ldexp)
def _(x, i):
    scale = math.ldexp(1.0, i)
    project_x = ProjectTo(x)

    def ldexp_pullback(dy):
        return NoTangent(), project_x(dy * scale), NoTangent()

    return math.ldexp(x, i), ldexp_pullback


@frule.register(math.ldexp)
def _(tangents, x, i):
    _, dx, _ = tangents
    return math.ldexp(x, i), dx * math.ldexp(1.0, i)


@rrule.register(math.frexp)
def _(x):
    mantissa, exponent = math.frexp(x)
    scale = math.ldexp(1.0, -exponent)  # x = mantissa * 2**exponent, exponent locally constant
    project_x = ProjectTo(x)

    def frexp_pullback(dy):
        dmantissa, _ = item_tangents(dy, 2)
        return NoTangent(), project_x(dmantissa * scale)

    return (mantissa, exponent), frexp_pullback


@frule.register(math.frexp)
def _(tangents, x):
    _, dx = tangents
    mantissa, exponent = math.frexp(x)
    if isinstance(dx, AbstractZero):
        return (mantissa, exponent), ZeroTangent()
    return (mantissa, exponent), Tangent(tuple, dx * math.ldexp(1.0, -exponent), NoTangent())


@rrule.register(math.modf)
def _(x):
    project_x = ProjectTo(x)

    def modf_pullback(dy):
        dfractional, _ = item_tangents(dy, 2)
        return NoTangent(), project_x(dfractional)

    return math.modf(x), modf_pullback


@frule.register(math.modf)
def _(tangents, x):
    _, dx = tangents
    y = math.modf(x)
    if isinstance(dx, AbstractZero):
        return y, ZeroTangent()
    return y, Tangent(tuple, dx, ZeroTangent())


# --- functions of a whole sequence ------------------------------------------------------------

_SEQUENCES = (list, tuple, np.ndarray)


@rrule.register(math.fsum, _SEQUENCES)
def _(xs):
    project_xs = ProjectTo(xs)
    n = len(xs)

    def fsum_pullback(dy):
        return NoTangent(), project_xs(sequence_tangent(xs, (dy,) * n))

    return math.fsum(xs), fsum_pullback


@frule.register(math.fsum, _SEQUENCES)
def _(tangents, xs):
    _, dxs = tangents
    y = math.fsum(xs)
    if isinstance(dxs, AbstractZero):
        return y, ZeroTangent()
    return y, math.fsum(item_tangents(dxs, len(xs)))


def _products_of_the_others(xs: Any, start: Any) -> list:
    """``start * prod(x_j for j != i)`` for each ``i``, as prefix times suffix products.

    Unlike ``y / x_i`` this is exact when some ``x_i`` are zero.
    """
    prefixes, acc = [], start
    for x in xs:
        prefixes.append(acc)
        acc = acc * x
    suffixes, acc = [], 1
    for x in reversed(xs):
        suffixes.append(acc)
        acc = acc * x
    return [a * b for a, b in zip(prefixes, reversed(suffixes), strict=True)]


@rrule.register(math.prod, _SEQUENCES)
def _(xs, *, start=1):
    project_xs = ProjectTo(xs)

    def prod_pullback(dy):
        others = _products_of_the_others(xs, start)
        items = [
            unbroadcast(x, dy * other.conjugate()) for x, other in zip(xs, others, strict=True)
        ]
        return NoTangent(), project_xs(sequence_tangent(xs, items))

    return math.prod(xs, start=start), prod_pullback


@frule.register(math.prod, _SEQUENCES)
def _(tangents, xs, *, start=1):
    _, dxs = tangents
    y = math.prod(xs, start=start)
    if isinstance(dxs, AbstractZero):
        return y, ZeroTangent()
    others = _products_of_the_others(xs, start)
    return y, sum(map(operator.mul, others, item_tangents(dxs, len(xs))), ZeroTangent())


def _dist_unit(p: Any, q: Any, y: float) -> list:
    """``(p - q) / |p - q|`` item by item, ``0`` where ``p == q``."""
    return [(a - b) / y if y else 0.0 for a, b in zip(p, q, strict=True)]


@rrule.register(math.dist, _SEQUENCES, _SEQUENCES)
def _(p, q):
    y = math.dist(p, q)
    project_p, project_q = ProjectTo(p), ProjectTo(q)

    def dist_pullback(dy):
        dp = [dy * u for u in _dist_unit(p, q, y)]
        return (
            NoTangent(),
            project_p(sequence_tangent(p, dp)),
            project_q(sequence_tangent(q, [-d for d in dp])),
        )

    return y, dist_pullback


@frule.register(math.dist, _SEQUENCES, _SEQUENCES)
def _(tangents, p, q):
    _, dp, dq = tangents
    y = math.dist(p, q)
    differences = map(operator.sub, item_tangents(dp, len(p)), item_tangents(dq, len(q)))
    return y, sum(map(operator.mul, _dist_unit(p, q, y), differences), ZeroTangent())


# --- no derivative ----------------------------------------------------------------------------

for _f in (
    math.floor,
    math.ceil,
    math.trunc,
    math.isnan,
    math.isinf,
    math.isfinite,
    math.isclose,
    math.gcd,
    math.lcm,
    math.factorial,
    math.comb,
    math.perm,
    math.isqrt,
):
    non_differentiable(_f)
