"""Rules for the operator module: arithmetic, sequence concatenation and indexing, comparisons.

The arithmetic rules are registered for numbers, numpy scalars and numpy arrays (``NUMERIC``), so
they broadcast like numpy; on lists and tuples ``add``/``concat`` and ``mul`` are concatenation
and repetition and get structural rules instead. Conventions:

* the tangent of a list is ``Tangent(list, *items)``, of a tuple ``Tangent(tuple, *items)``, of a
  NamedTuple ``Tangent(P, field=...)``, of a dict ``Tangent(dict, {key: ...})``; the cotangent of
  ``xs[i]`` (and of ``xs[a:b]``) is such a Tangent with ``ZeroTangent()`` in the other items;
* ``mod``: ``d/dx = 1``, ``d/dy = -floor(x / y)``; ``floordiv`` has no derivative;
* ``pow``: ``d/dx = p x^(p-1)`` (``0`` where ``p == 0``); the exponent's cotangent is
  ``y log|x|`` for real ``x`` (the real part of the complex logarithm, so a negative base with an
  integer exponent is fine), ``y log(x)`` for complex ``x``, ``0`` where ``x == 0``; it is
  returned as a thunk, since it is rarely wanted (``x ** 2``) and costs a logarithm. Integer
  exponents are numbers like any other (``ProjectTo``): they get a float cotangent;
* ``abs``: ``sign(x)`` for real ``x``, ``z / |z|`` for complex ``z``, ``0`` at ``0``;
* the in-place forms (``iadd``, ``isub``, ``imul``, ``itruediv``, ``imod``, ``ipow``) are
  registered for numbers and numpy scalars only, which they do not mutate, and ``iadd``/``imul``
  for tuples; in-place updates of arrays and lists are the AD engine's business;
* comparisons, logical, identity, membership, bitwise operators and ``index`` have no derivative.

Complex cotangents follow ``chainrules_core``: ``conj(f'(z)) * dy`` for holomorphic ``f``.
``matmul`` and ``getitem`` on arrays live with the numpy linear-algebra and indexing rules.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

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
    thunk,
    unbroadcast,
)
from chainrules_core.arrays import DuckArray

NUMERIC = (numbers.Number, np.ndarray, np.generic, DuckArray)
"""Argument types on which the arithmetic operators are numeric operations (numpy broadcasting):
numbers, numpy arrays and scalars, and arrays that numpy dispatches to (dask, CuPy)."""

SCALAR = (numbers.Number, np.generic)
"""Immutable numbers: the argument types of the in-place operators' rules."""


# --- helpers shared with chainrules.math and chainrules.builtins ------------------------------


def item_tangents(dxs: Any, n: int) -> tuple:
    """The ``n`` item tangents of the tangent ``dxs`` of a sequence; a zero gives ``n`` zeros."""
    # An empty backing is also how Tangent(list) with no items (or a NamedTuple's all-zero
    # tangent) is stored.
    if isinstance(dxs, AbstractZero) or (isinstance(dxs, Tangent) and not dxs.backing):
        return (ZeroTangent(),) * n
    return tuple(dxs)


def sequence_tangent(xs: Any, items: Sequence) -> Any:
    """The tangent of the tuple, list, NamedTuple or array ``xs`` whose items have tangents ``items``.

    The items of an array are its slices along the first axis; their tangents are stacked. When
    every item's tangent is a zero (or there are no items) the tangent is ``ZeroTangent()``.
    """
    if all(isinstance(d, AbstractZero) for d in items):
        return ZeroTangent()
    if isinstance(xs, np.ndarray):
        return np.stack(
            [
                np.zeros_like(x) if isinstance(d, AbstractZero) else d
                for x, d in zip(xs, items, strict=True)
            ]
        )
    primal_type = type(xs)
    if hasattr(primal_type, "_fields"):
        return Tangent.from_backing(primal_type, dict(zip(primal_type._fields, items, strict=True)))
    return Tangent.from_backing(primal_type, tuple(items))


def _conj(x: Any) -> Any:
    return x.conjugate() if np.iscomplexobj(x) else x


def fit_to_output(y: Any, dy: Any) -> tuple:
    """``(y, dy)`` with the forward tangent ``dy`` broadcast to ``y``'s shape and projected onto it.

    A sum of partial products may lack the output's broadcast shape (``x * dx`` when only ``x``
    varies), or be promoted by a numpy scalar made from a Python float (``np.log(2.0) * dx``).
    """
    if not isinstance(dy, AbstractZero) and np.shape(dy) != np.shape(y):
        dy = np.broadcast_to(dy, np.shape(y))
    return y, ProjectTo(y)(dy)


# --- elementwise arithmetic -------------------------------------------------------------------

_BINARY_PARTIALS = {
    # operator: (its in-place form, partials(x, y, out))
    operator.add: (operator.iadd, lambda x, y, out: (1, 1)),
    operator.sub: (operator.isub, lambda x, y, out: (1, -1)),
    operator.mul: (operator.imul, lambda x, y, out: (y, x)),
    operator.truediv: (operator.itruediv, lambda x, y, out: (1 / y, -out / y)),
    operator.mod: (operator.imod, lambda x, y, out: (1, -(x // y))),
}

for _f, (_f_inplace, _partials) in _BINARY_PARTIALS.items():
    scalar_rule(_f, _partials, NUMERIC, NUMERIC)
    scalar_rule(_f_inplace, _partials, SCALAR, SCALAR)

scalar_rule(operator.neg, lambda x, out: -1, NUMERIC)
scalar_rule(operator.pos, lambda x, out: 1, NUMERIC)


def _power_partial_base(x: Any, p: Any) -> Any:
    """``p x^(p-1)``, and ``0`` where ``p == 0`` (``x ** 0`` is constant: not ``0 * inf`` at 0)."""
    if type(p) is int and p >= 1 and (type(x) is float or _is_real_array(x)):
        return p * x if p == 2 else p * x ** (p - 1)  # (the commonest: nothing to guard)
    with np.errstate(divide="ignore", invalid="ignore"):
        # x * 1.0: an integer base with a negative integer power has no integer result in numpy.
        # (np.equal, not ==: a numpy bool for a number p, which CuPy's where takes, not a bool)
        return np.where(np.equal(p, 0), 0, p * np.power(x * 1.0, p - 1))


def _is_real_array(x: Any) -> bool:
    return type(x) is np.ndarray and x.dtype.kind == "f"


def _power_partial_exponent(x: Any, y: Any) -> Any:
    """``y log x`` (``y log|x|`` for real ``x``), with ``0`` where ``x == 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.log(x) if np.iscomplexobj(x) else np.log(np.abs(x))
        return np.where(np.equal(x, 0), 0, y * log_x)


def register_power(f: Callable, *types: type) -> None:
    """Register ``rrule`` and ``frule`` of the power function ``f(x, p) = x ** p`` for ``types``.

    Shared by ``operator.pow``, ``operator.ipow``, ``math.pow`` and the builtin ``pow``; see the
    module docstring for the conventions.
    """

    def power_rrule(x, p):
        y = f(x, p)
        project_x, project_p = ProjectTo(x), ProjectTo(p)

        def power_pullback(dy):
            dx = unbroadcast(x, dy * _conj(_power_partial_base(x, p)))
            dp = thunk(lambda: unbroadcast(p, dy * _conj(_power_partial_exponent(x, y))))
            return NoTangent(), project_x(dx), project_p(dp)

        return y, power_pullback

    def power_frule(tangents, x, p):
        _, dx, dp = tangents
        y = f(x, p)
        dy = ZeroTangent() if isinstance(dx, AbstractZero) else _power_partial_base(x, p) * dx
        if not isinstance(dp, AbstractZero):
            dy = dy + _power_partial_exponent(x, y) * dp
        return fit_to_output(y, dy)

    rrule.add(f, types, power_rrule)
    frule.add(f, types, power_frule)


def _unit(x: Any, y: Any) -> Any:
    """``x / |x|`` (``sign(x)`` for real ``x``), ``0`` at ``0``; ``y = |x|``."""
    return x / np.where(y == 0, 1, y)


def register_abs(f: Callable, *types: type) -> None:
    """Register ``rrule`` and ``frule`` of the absolute value ``f`` (real or complex) for ``types``.

    Shared by ``operator.abs``, ``math.fabs`` and the builtin ``abs``. ``|z|`` is not holomorphic:
    its cotangent is ``dy z / |z|`` and its forward tangent ``Re(conj(z) dz) / |z|``.
    """

    def abs_rrule(x):
        y = f(x)
        project_x = ProjectTo(x)

        def abs_pullback(dy):
            return NoTangent(), project_x(dy * _unit(x, y))

        return y, abs_pullback

    def abs_frule(tangents, x):
        _, dx = tangents
        y = f(x)
        return fit_to_output(y, (_conj(_unit(x, y)) * dx).real)

    rrule.add(f, types, abs_rrule)
    frule.add(f, types, abs_frule)


register_power(operator.pow, NUMERIC, NUMERIC)
register_power(operator.ipow, SCALAR, SCALAR)
register_abs(operator.abs, NUMERIC)


# --- sequences: concatenation, repetition, indexing -------------------------------------------


def _register_concatenation(f: Callable, *types: type) -> None:
    def concatenation_rrule(xs, ys):
        n = len(xs)

        def concatenation_pullback(dy):
            items = item_tangents(dy, n + len(ys))
            return NoTangent(), sequence_tangent(xs, items[:n]), sequence_tangent(ys, items[n:])

        return f(xs, ys), concatenation_pullback

    def concatenation_frule(tangents, xs, ys):
        _, dxs, dys = tangents
        y = f(xs, ys)
        return y, sequence_tangent(y, item_tangents(dxs, len(xs)) + item_tangents(dys, len(ys)))

    rrule.add(f, types, concatenation_rrule)
    frule.add(f, types, concatenation_frule)


def _repeated_pullback(xs: Any, count: int, dy: Any) -> Any:
    """The cotangent of ``xs`` in ``xs * count``: each item sums the cotangents of its copies."""
    n = len(xs)
    items = item_tangents(dy, n * max(count, 0))
    return sequence_tangent(xs, [sum(items[i::n], ZeroTangent()) for i in range(n)])


def _register_repetition(f: Callable, sequence_type: type) -> None:
    def repetition_rrule(xs, count):
        def repetition_pullback(dy):
            return NoTangent(), _repeated_pullback(xs, count, dy), NoTangent()

        return f(xs, count), repetition_pullback

    def count_first_rrule(count, xs):
        def repetition_pullback(dy):
            return NoTangent(), NoTangent(), _repeated_pullback(xs, count, dy)

        return f(count, xs), repetition_pullback

    def repetition_frule(tangents, xs, count):
        y = f(xs, count)
        return y, sequence_tangent(y, item_tangents(tangents[1], len(xs)) * count)

    def count_first_frule(tangents, count, xs):
        return repetition_frule((tangents[0], tangents[2], tangents[1]), xs, count)

    rrule.add(f, (sequence_type, numbers.Integral), repetition_rrule)
    rrule.add(f, (numbers.Integral, sequence_type), count_first_rrule)
    frule.add(f, (sequence_type, numbers.Integral), repetition_frule)
    frule.add(f, (numbers.Integral, sequence_type), count_first_frule)


for _sequence_type in (list, tuple):
    for _f in (operator.add, operator.concat):
        _register_concatenation(_f, _sequence_type, _sequence_type)
    _register_repetition(operator.mul, _sequence_type)
_register_concatenation(operator.iadd, tuple, tuple)
_register_repetition(operator.imul, tuple)


def _getitem_item_rrule(xs, index):
    y = xs[index]
    n, position = len(xs), range(len(xs))[index]  # range normalises a negative index
    project = ProjectTo(y)

    def getitem_pullback(dy):
        items = [ZeroTangent()] * n
        items[position] = project(dy)
        return NoTangent(), sequence_tangent(xs, items), NoTangent()

    return y, getitem_pullback


def _getitem_slice_rrule(xs, index):
    y = xs[index]
    n, positions = len(xs), range(len(xs))[index]
    projectors = tuple(map(ProjectTo, y))

    def getitem_pullback(dy):
        items = [ZeroTangent()] * n
        for i, project, d in zip(positions, projectors, item_tangents(dy, len(y)), strict=True):
            items[i] = project(d)
        return NoTangent(), sequence_tangent(xs, items), NoTangent()

    return y, getitem_pullback


def _getitem_sequence_frule(tangents, xs, index):
    _, dxs, _ = tangents
    y = xs[index]
    if isinstance(index, slice):
        return y, sequence_tangent(y, item_tangents(dxs, len(xs))[index])
    return y, dxs[index]


def _getitem_dict_rrule(d, key):
    y = d[key]
    project = ProjectTo(y)

    def getitem_pullback(dy):
        return NoTangent(), Tangent.from_backing(type(d), {key: project(dy)}), NoTangent()

    return y, getitem_pullback


def _getitem_dict_frule(tangents, d, key):
    _, dd, _ = tangents
    return d[key], dd[key]


_INDEX = (numbers.Integral, slice)
for _sequence_type in (list, tuple):
    rrule.add(operator.getitem, (_sequence_type, numbers.Integral), _getitem_item_rrule)
    rrule.add(operator.getitem, (_sequence_type, slice), _getitem_slice_rrule)
    frule.add(operator.getitem, (_sequence_type, _INDEX), _getitem_sequence_frule)
rrule.add(operator.getitem, (dict, object), _getitem_dict_rrule)
frule.add(operator.getitem, (dict, object), _getitem_dict_frule)


# --- no derivative ----------------------------------------------------------------------------

for _f in (
    operator.floordiv,
    operator.ifloordiv,
    operator.lt,
    operator.le,
    operator.eq,
    operator.ne,
    operator.gt,
    operator.ge,
    operator.not_,
    operator.truth,
    operator.is_,
    operator.is_not,
    operator.contains,
    operator.countOf,
    operator.indexOf,
    operator.index,
    operator.length_hint,
    operator.and_,
    operator.or_,
    operator.xor,
    operator.invert,
    operator.inv,
    operator.lshift,
    operator.rshift,
):
    non_differentiable(_f)
