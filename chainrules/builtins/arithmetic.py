"""Rules for arithmetic builtins: sum, abs, min, max, pow, divmod, round, float, complex, int.

Conventions:

* ``sum(xs[, start])`` takes a list, tuple or array ``xs`` of numbers or arrays (which broadcast);
  every item's cotangent is ``dy`` summed to the item's shape. A ``start`` given by keyword gets no
  tangent (rules differentiate positional arguments only);
* ``min`` and ``max`` (of two or more arguments, or of one list, tuple or 1-d array, with or
  without ``key=``): the result is one of the inputs, and that input gets the whole cotangent; on
  ties it is the first extremal one, the one Python returns. ``key`` is not differentiated. An empty
  input with ``default=`` gives the default, which gets no tangent;
* ``abs`` and ``pow(x, p)`` follow ``operator.abs`` and ``operator.pow``
  (:mod:`chainrules.operator`); ``pow(x, p, m)`` is modular integer arithmetic, with no derivative;
* ``float(x)`` and ``complex(x[, y])`` of numbers and size-1 arrays: ``complex(x, y) = x + iy``;
* ``divmod(a, b)`` of floats (or a float and an int): the quotient ``floor(a / b)`` is piecewise
  constant, with a zero tangent; the remainder ``a - b * floor(a / b)`` has partials ``1`` and
  ``-floor(a / b)``. Of two ints it is integer arithmetic, with no rule;
* ``round`` and ``int`` have no derivative;
* the attributes of Python numbers: ``x.real`` and ``x.imag`` (``x = a + ib`` has cotangent
  ``dL/da + i dL/db``, so ``x.imag`` hands back ``1j * dy``, which is zero for a real ``x``), a
  bound method such as ``x.conjugate`` has its receiver's tangent, ``numerator`` and
  ``denominator`` have none, and a missing attribute's default gets the whole cotangent.
"""

from __future__ import annotations

import builtins

import numpy as np
from multipledispatch.variadic import Variadic

from chainrules.operator import (
    NUMERIC,
    fit_to_output,
    item_tangents,
    register_abs,
    register_power,
    sequence_tangent,
)
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

_SEQUENCES = (list, tuple, np.ndarray)
_TWO_OR_MORE = (object, object, Variadic[object])


# --- sum ----------------------------------------------------------------------------------------


def numeric_items(xs) -> bool:
    """Whether every item of ``xs`` is a number or an array (what the plain ``sum`` rules cover;
    other items, user objects with ``__add__``, are summed by the rules with an AD config)."""
    return isinstance(xs, np.ndarray) or all(isinstance(x, NUMERIC) for x in xs)


def _sum_rrule(xs, *positional_start, **keyword_start):
    if not numeric_items(xs):
        return None
    y = builtins.sum(xs, *positional_start, **keyword_start)
    project_xs = ProjectTo(xs)
    project_start = tuple(map(ProjectTo, positional_start))

    def sum_pullback(dy):
        dxs = project_xs(sequence_tangent(xs, [unbroadcast(x, dy) for x in xs]))
        dstart = tuple(
            project(unbroadcast(s, dy))
            for project, s in zip(project_start, positional_start, strict=True)
        )
        return NoTangent(), dxs, *dstart

    return y, sum_pullback


def _sum_frule(tangents, xs, *positional_start, **keyword_start):
    if not numeric_items(xs):
        return None
    _, dxs, *dstart = tangents
    y = builtins.sum(xs, *positional_start, **keyword_start)
    dy = builtins.sum(item_tangents(dxs, len(xs)), dstart[0] if dstart else ZeroTangent())
    return fit_to_output(y, dy)


for _types in ((_SEQUENCES,), (_SEQUENCES, NUMERIC)):
    rrule.add(builtins.sum, _types, _sum_rrule)
    frule.add(builtins.sum, _types, _sum_frule)


# --- min and max --------------------------------------------------------------------------------


def _extremum_index(f, items, key) -> int:
    """The position of ``f(items, key=key)`` among ``items``: the first extremal item."""
    if key is None:
        return f(range(len(items)), key=items.__getitem__)
    return f(range(len(items)), key=lambda i: key(items[i]))


non_differentiable(
    _extremum_index
)  # a position (a rule of max is itself differentiated when nested)


def _register_extremum(f) -> None:
    def of_arguments_rrule(*args, key=None):
        index = _extremum_index(f, args, key)
        y = args[index]
        project = ProjectTo(y)

        def extremum_pullback(dy):
            tangents = [NoTangent()] + [ZeroTangent()] * len(args)
            tangents[1 + index] = project(dy)
            return tuple(tangents)

        return y, extremum_pullback

    def of_arguments_frule(tangents, *args, key=None):
        index = _extremum_index(f, args, key)
        return args[index], tangents[1 + index]

    def of_sequence_rrule(xs, key=None, **default):
        if len(xs) == 0:
            return f(xs, key=key, **default), lambda dy: (NoTangent(), ZeroTangent())
        index = _extremum_index(f, xs, key)
        y = xs[index]
        project = ProjectTo(y)

        def extremum_pullback(dy):
            items = [ZeroTangent()] * len(xs)
            items[index] = project(dy)
            return NoTangent(), sequence_tangent(xs, items)

        return y, extremum_pullback

    def of_sequence_frule(tangents, xs, key=None, **default):
        if len(xs) == 0:
            return f(xs, key=key, **default), ZeroTangent()
        index = _extremum_index(f, xs, key)
        return xs[index], item_tangents(tangents[1], len(xs))[index]

    rrule.add(f, _TWO_OR_MORE, of_arguments_rrule)
    frule.add(f, _TWO_OR_MORE, of_arguments_frule)
    rrule.add(f, (_SEQUENCES,), of_sequence_rrule)
    frule.add(f, (_SEQUENCES,), of_sequence_frule)


_register_extremum(builtins.max)
_register_extremum(builtins.min)


# --- abs, pow, conversions ----------------------------------------------------------------------

register_abs(builtins.abs, NUMERIC)
register_power(builtins.pow, NUMERIC, NUMERIC)
non_differentiable(builtins.pow, object, object, object)

scalar_rule(builtins.float, lambda x, out: 1, NUMERIC)
scalar_rule(builtins.complex, lambda x, out: 1, NUMERIC)
scalar_rule(builtins.complex, lambda x, y, out: (1, 1j), NUMERIC, NUMERIC)

for _f in (builtins.round, builtins.int):
    non_differentiable(_f)


def _divmod_rrule(a, b):
    quotient, remainder = divmod(a, b)
    project_a, project_b = ProjectTo(a), ProjectTo(b)

    def divmod_pullback(dy):
        _, dremainder = item_tangents(dy, 2)
        return NoTangent(), project_a(dremainder), project_b(-quotient * dremainder)

    return (quotient, remainder), divmod_pullback


def _divmod_frule(tangents, a, b):
    _, da, db = tangents
    quotient, remainder = divmod(a, b)
    dremainder = da - quotient * db
    if isinstance(dremainder, AbstractZero):
        return (quotient, remainder), ZeroTangent()
    return (quotient, remainder), Tangent(tuple, ZeroTangent(), dremainder)


for _types in ((float, float), (float, int), (int, float)):
    rrule.add(builtins.divmod, _types, _divmod_rrule)
    frule.add(builtins.divmod, _types, _divmod_frule)


# --- attributes of Python numbers -----------------------------------------------------------------

_NUMBERS = (int, float, complex)
_CONSTANT_ATTRIBUTES = frozenset({"numerator", "denominator"})
# Values of attributes with no tangent space (a numpy scalar's dtype, a class)
_CONSTANT_VALUES = (np.dtype, type, str, bytes, bool, type(None))


def _number_attribute_rrule(x, name, *default):
    y = getattr(x, name, *default)
    project = ProjectTo(x)
    rest = (NoTangent(),) * (1 + len(default))  # the name and the default

    if default and not hasattr(x, name):

        def default_pullback(dy):  # the result is the default
            return (NoTangent(), ZeroTangent(), NoTangent(), dy)

        return y, default_pullback
    if name == "real":

        def real_pullback(dy):
            return (NoTangent(), project(dy), *rest)

        return y, real_pullback
    if name == "imag":

        def imag_pullback(dy):
            return (NoTangent(), project(1j * dy), *rest)

        return y, imag_pullback
    if callable(y) and getattr(y, "__self__", None) is x:

        def method_pullback(dm):  # a bound method's tangent is its receiver's
            return (NoTangent(), dm, *rest)

        return y, method_pullback
    if name in _CONSTANT_ATTRIBUTES or isinstance(y, _CONSTANT_VALUES):
        return y, lambda dy: (NoTangent(), NoTangent(), *rest)
    raise NotImplementedError(f"no derivative rule for the attribute {name!r} of a number")


def _number_attribute_frule(tangents, x, name, *default):
    y = getattr(x, name, *default)
    dx = tangents[1]
    if default and not hasattr(x, name):
        return y, tangents[3]
    if name == "real":
        return y, ZeroTangent() if isinstance(dx, AbstractZero) else ProjectTo(y)(np.real(dx))
    if name == "imag":
        return y, ZeroTangent() if isinstance(dx, AbstractZero) else ProjectTo(y)(np.imag(dx))
    if callable(y) and getattr(y, "__self__", None) is x:
        return y, dx
    if name in _CONSTANT_ATTRIBUTES or isinstance(y, _CONSTANT_VALUES):
        return y, NoTangent()
    raise NotImplementedError(f"no derivative rule for the attribute {name!r} of a number")


for _number in _NUMBERS:
    for _types in ((_number, str), (_number, str, object)):
        rrule.add(getattr, _types, _number_attribute_rrule)
        frule.add(getattr, _types, _number_attribute_frule)


# --- x.conjugate() of a Python number ------------------------------------------------------------


def _conjugate_rrule(x):
    project = ProjectTo(x)

    def conjugate_pullback(dy):
        return NoTangent(), dy if isinstance(dy, AbstractZero) else project(np.conj(dy))

    return x.conjugate(), conjugate_pullback


def _conjugate_frule(tangents, x):
    dx = tangents[1]
    return x.conjugate(), dx if isinstance(dx, AbstractZero) else np.conj(dx)


for _number in _NUMBERS:
    rrule.add(_number.conjugate, (_number,), _conjugate_rrule)
    frule.add(_number.conjugate, (_number,), _conjugate_frule)
