"""Rules for the numpy ufuncs with two outputs, and for ``i0``.

* ``frexp(x) = (m, e)`` with ``x = m 2**e``: ``m`` moves with ``x`` at the rate ``2**-e`` (``e`` is
  an integer, piecewise constant: no tangent).
* ``modf(x) = (fractional, integral)``: the fractional part moves with ``x``, the integral part is
  piecewise constant (its tangent is zero).
* ``divmod(x1, x2) = (floor(x1 / x2), x1 - x2 floor(x1 / x2))``: the quotient is piecewise
  constant; the remainder has the partials ``1`` and ``-floor(x1 / x2)``.
* ``i0(x)``, the modified Bessel function of order 0: ``i0' = i1``.

The cotangent of a two-output function is a pair; a missing half is zero. Options such as ``out=``
are refused, as for every elementwise rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.special

from chainrules.numpy.ufuncs import plain_call_only
from chainrules.operator import item_tangents
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

scalar_rule(np.i0, lambda x, out: scipy.special.i1(x))


def _first(d: Any) -> Any:
    """The cotangent of the first of two outputs (zero when there is none)."""
    d = unthunk(d)
    return d if isinstance(d, AbstractZero) else unthunk(item_tangents(d, 2)[0])


def _second(d: Any) -> Any:
    d = unthunk(d)
    return d if isinstance(d, AbstractZero) else unthunk(item_tangents(d, 2)[1])


@rrule.register(np.frexp)
def _(x, **kwargs):
    plain_call_only(np.frexp, (x,), kwargs, 1)
    m, e = np.frexp(x)
    project_x = ProjectTo(x)

    def frexp_pullback(dy):
        dm = _first(dy)
        dx = ZeroTangent() if isinstance(dm, AbstractZero) else project_x(dm * np.ldexp(1.0, -e))
        return NoTangent(), dx

    return (m, e), frexp_pullback


@frule.register(np.frexp)
def _(tangents, x, **kwargs):
    plain_call_only(np.frexp, (x,), kwargs, 1)
    m, e = np.frexp(x)
    dx = unthunk(tangents[1])
    dm = ZeroTangent() if isinstance(dx, AbstractZero) else ProjectTo(m)(dx * np.ldexp(1.0, -e))
    return (m, e), (dm, NoTangent())


@rrule.register(np.modf)
def _(x, **kwargs):
    plain_call_only(np.modf, (x,), kwargs, 1)
    project_x = ProjectTo(x)

    def modf_pullback(dy):
        dfraction = _first(dy)
        dx = ZeroTangent() if isinstance(dfraction, AbstractZero) else project_x(dfraction)
        return NoTangent(), dx

    return np.modf(x), modf_pullback


@frule.register(np.modf)
def _(tangents, x, **kwargs):
    plain_call_only(np.modf, (x,), kwargs, 1)
    fraction, integral = np.modf(x)
    dx = unthunk(tangents[1])
    dfraction = ZeroTangent() if isinstance(dx, AbstractZero) else ProjectTo(fraction)(dx)
    return (fraction, integral), (dfraction, ZeroTangent())


@rrule.register(np.divmod)
def _(x1, x2, **kwargs):
    plain_call_only(np.divmod, (x1, x2), kwargs, 2)
    quotient, remainder = np.divmod(x1, x2)
    project_x1, project_x2 = ProjectTo(x1), ProjectTo(x2)

    def divmod_pullback(dy):
        dr = _second(dy)
        if isinstance(dr, AbstractZero):
            return NoTangent(), ZeroTangent(), ZeroTangent()
        return (
            NoTangent(),
            project_x1(unbroadcast(x1, dr * np.ones_like(remainder))),
            project_x2(unbroadcast(x2, -quotient * dr)),
        )

    return (quotient, remainder), divmod_pullback


@frule.register(np.divmod)
def _(tangents, x1, x2, **kwargs):
    plain_call_only(np.divmod, (x1, x2), kwargs, 2)
    quotient, remainder = np.divmod(x1, x2)
    _, dx1, dx2 = map(unthunk, tangents)
    dr = ZeroTangent()
    if not isinstance(dx1, AbstractZero):
        dr = dr + dx1 * np.ones_like(remainder)
    if not isinstance(dx2, AbstractZero):
        dr = dr - quotient * dx2
    if not isinstance(dr, AbstractZero):
        dr = ProjectTo(remainder)(np.broadcast_to(dr, np.shape(remainder)).copy())
    return (quotient, remainder), (ZeroTangent(), dr)
