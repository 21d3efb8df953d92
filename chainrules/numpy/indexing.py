"""Rules for indexing, selection, sorting and array construction.

* ``x[index]`` (``operator.getitem`` on an ndarray) with any numpy index: ints, slices, ``...``,
  ``None``, integer arrays, boolean masks and tuples mixing them. The cotangent is a zero array of
  ``x``'s shape with ``dy`` added in at ``index``: an entry read several times (a repeated integer
  index) accumulates every cotangent it received.
* ``take``, ``take_along_axis``, ``compress`` and ``extract`` are gathers and share the generic
  pullback of :func:`chainrules.numpy.shape.gather_adjoint` (so ``take``'s ``mode='wrap'`` and
  ``'clip'`` are handled as numpy handles them).
* ``where(condition, x, y)`` and ``select(condlist, choicelist, default)`` route each cotangent
  entry to the branch that was chosen (the conditions are not differentiated); ``choose`` likewise,
  in its ``choices``. The one-argument ``where(condition)`` returns indices: non-differentiable.
* ``sort`` and ``partition`` are permutations: the primal is ``x`` gathered through ``argsort``
  (``argpartition``) with the same arguments, and the cotangent goes back through that permutation.
  Ties are broken as ``argsort`` breaks them (pass ``kind='stable'`` for the first-come order); the
  partition returned is ``x`` gathered through ``argpartition(x, kth)``: a valid partition, in
  practice arranged exactly as numpy's own ``partition`` arranges it.
* ``unique`` gathers the first occurrence of each distinct value (of each distinct slice along
  ``axis``): its cotangent goes there, and equal entries after the first get none (the
  conventional subgradient at a tie). The ``return_index``/``return_inverse``/``return_counts``
  outputs are integers: no tangent.
* ``array`` and ``asarray`` of an array are the identity (or a copy); of a (nested) list or tuple of
  numbers and arrays, the cotangent is a ``Tangent`` of that list or tuple, item by item, each item
  projected onto its primal (a float gets a float, a float32 array a float32 array).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrules.calls import argument, bound_arguments, no_tangents
from chainrules.numpy.shape import (
    array_tangent,
    gather_adjoint,
    gather_rules,
    scatter_add,
    scatter_into,
    sequence_cotangent,
)
from chainrules_core import (
    AbstractZero,
    InplaceableThunk,
    NoTangent,
    ProjectTo,
    ZeroTangent,
    frule,
    linear_pullback,
    non_differentiable,
    rrule,
    unbroadcast,
    unthunk,
)
from chainrules_core.arrays import ARRAY_TYPES, DuckArray

# --------------------------------------------------------------------------------------------------
# x[index]


@rrule.register(operator.getitem, np.ndarray, object)
def _(x, index):
    project_x = ProjectTo(x)

    @linear_pullback  # (it reads x's shape and dtype only)
    def getitem_pullback(dy):
        dy = unthunk(dy)
        if not isinstance(dy, np.ndarray) and not np.isscalar(dy):
            return NoTangent(), project_x(scatter_add(dy, x.shape, index)), NoTangent()
        if x.dtype.kind != "c" and np.iscomplexobj(dy):
            dy = np.real(dy)

        def add_read_into(buffer):
            return scatter_into(buffer, index, dy)

        # many reads x[t] of one array (a loop) add into one buffer instead of an array each
        dx = InplaceableThunk(add_read_into, lambda: project_x(scatter_add(dy, x.shape, index)))
        return NoTangent(), dx, NoTangent()

    return x[index], getitem_pullback


@frule.register(operator.getitem, ARRAY_TYPES, object)
def _(tangents, x, index):
    dx = unthunk(tangents[1])
    return x[index], ZeroTangent() if isinstance(dx, AbstractZero) else dx[index]


# A numpy scalar indexed (``s[..., None, None]``, ``s[()]``): every element of the result is ``s``.


@rrule.register(operator.getitem, np.generic, object)
def _(x, index):
    project_x = ProjectTo(x)

    @linear_pullback
    def scalar_getitem_pullback(dy):
        return NoTangent(), project_x(np.sum(unthunk(dy))), NoTangent()

    return x[index], scalar_getitem_pullback


@frule.register(operator.getitem, np.generic, object)
def _(tangents, x, index):
    dx = unthunk(tangents[1])
    return x[index], ZeroTangent() if isinstance(dx, AbstractZero) else np.asarray(dx)[index]


@rrule.register(operator.getitem, DuckArray, object)
def _(x, index):
    project_x = ProjectTo(x)

    def duck_getitem_pullback(dy):
        # made like x, in its array type and chunks: the data may not fit in memory
        dx = scatter_add(unthunk(dy), x.shape, index, like=x)
        return NoTangent(), project_x(dx), NoTangent()

    return x[index], duck_getitem_pullback


# --------------------------------------------------------------------------------------------------
# Gathers

gather_rules(np.take)
gather_rules(np.take_along_axis)
gather_rules(np.compress, position=1)
gather_rules(np.extract, position=1)


# --------------------------------------------------------------------------------------------------
# Choosing between branches


def _routed(mask: Any, dy: Any, x: Any) -> Any:
    """The part of ``dy`` where ``mask`` holds, summed back to ``x``'s shape."""
    return unbroadcast(x, np.where(mask, dy, 0))


def _branch_tangent(out: Any, branches: list, tangents: list, build: Callable) -> Any:
    """The tangent of ``out = build(branches)``: ``build`` applied to the branches' tangents."""
    if all(isinstance(unthunk(d), AbstractZero) for d in tangents):
        return ZeroTangent()
    dbranches = [array_tangent(b, d) for b, d in zip(branches, tangents, strict=True)]
    return ProjectTo(out)(build(dbranches))


non_differentiable(np.where, object)


@rrule.register(np.where, object, object, object)
def _(condition, x, y):
    project_x, project_y = ProjectTo(x), ProjectTo(y)

    def where_pullback(dout):
        dx = project_x(_routed(condition, dout, x))
        dy = project_y(_routed(np.logical_not(condition), dout, y))
        return NoTangent(), NoTangent(), dx, dy

    return np.where(condition, x, y), where_pullback


@frule.register(np.where, object, object, object)
def _(tangents, condition, x, y):
    out = np.where(condition, x, y)
    return out, _branch_tangent(
        out, [x, y], list(tangents[2:]), lambda d: np.where(condition, d[0], d[1])
    )


def _select_masks(condlist: Any) -> list:
    """Where ``select`` takes each choice (the first condition that holds), then the default."""
    masks, taken = [], np.zeros((), dtype=bool)
    for condition in condlist:
        masks.append(np.logical_and(condition, np.logical_not(taken)))
        taken = np.logical_or(taken, condition)
    return [*masks, np.logical_not(taken)]


@rrule.register(np.select)
def _(condlist, choicelist, *args, **kwargs):
    default = argument(np.select, "default", (condlist, choicelist, *args), kwargs)
    project_choices, project_default = ProjectTo(choicelist), ProjectTo(default)
    masks = _select_masks(condlist)

    def select_pullback(dy):
        dchoices = [_routed(m, dy, c) for m, c in zip(masks[:-1], choicelist, strict=True)]
        dchoices = sequence_cotangent(choicelist, dchoices)
        ddefault = project_default(_routed(masks[-1], dy, default))
        return NoTangent(), NoTangent(), project_choices(dchoices), *((ddefault,) if args else ())

    return np.select(condlist, choicelist, *args, **kwargs), select_pullback


@frule.register(np.select)
def _(tangents, condlist, choicelist, *args, **kwargs):
    y = np.select(condlist, choicelist, *args, **kwargs)
    dchoices = unthunk(tangents[2])
    if isinstance(dchoices, AbstractZero):
        dchoices = [dchoices] * len(choicelist)
    default = argument(np.select, "default", (condlist, choicelist, *args), kwargs)
    ddefault = tangents[3] if args else ZeroTangent()
    return y, _branch_tangent(
        y,
        [*choicelist, default],
        [*dchoices, ddefault],
        lambda d: np.select(condlist, d[:-1], d[-1]),
    )


def _choice_index(a: Any, n: int, mode: str) -> Any:
    """The choice that ``choose`` takes at each entry of ``a`` (``mode`` maps it into range)."""
    if mode == "wrap":
        return np.mod(a, n)
    if mode == "clip":
        return np.clip(a, 0, n - 1)
    return a


@rrule.register(np.choose)
def _(a, choices, *args, **kwargs):
    mode = argument(np.choose, "mode", (a, choices, *args), kwargs)
    index = _choice_index(a, len(choices), mode)
    project_choices = ProjectTo(choices)

    def choose_pullback(dy):
        dchoices = [_routed(np.equal(index, i), dy, c) for i, c in enumerate(choices)]
        dchoices = sequence_cotangent(choices, dchoices)
        return NoTangent(), NoTangent(), project_choices(dchoices), *no_tangents(args)

    return np.choose(a, choices, *args, **kwargs), choose_pullback


@frule.register(np.choose)
def _(tangents, a, choices, *args, **kwargs):
    y = np.choose(a, choices, *args, **kwargs)
    dchoices = unthunk(tangents[2])
    if isinstance(dchoices, AbstractZero):
        return y, ZeroTangent()
    dchoices = [array_tangent(c, d) for c, d in zip(choices, dchoices, strict=True)]
    return y, ProjectTo(y)(np.choose(a, dchoices, *args, **kwargs))


# --------------------------------------------------------------------------------------------------
# Sorting


def _sorting_rules(f: Callable, argsort: Callable) -> None:
    """Rules of ``f``, which permutes ``x`` along an axis as ``argsort`` (same arguments) says."""

    def sorted_by(x, args, kwargs):
        axis = argument(f, "axis", (x, *args), kwargs)
        permutation = argsort(x, *args, **kwargs)
        array = np.asarray(x) if isinstance(x, (list, tuple)) else x
        return axis, permutation, np.take_along_axis(array, permutation, axis=axis)

    @rrule.register(f)
    def _(x, *args, **kwargs):
        axis, permutation, y = sorted_by(x, args, kwargs)
        project_x = ProjectTo(x)

        def sort_pullback(dy):
            dx = gather_adjoint(dy, np.take_along_axis, (x, permutation), {"axis": axis})
            return NoTangent(), project_x(dx), *no_tangents(args)

        return y, sort_pullback

    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        axis, permutation, y = sorted_by(x, args, kwargs)
        dx = unthunk(tangents[1])
        if isinstance(dx, AbstractZero):
            return y, ZeroTangent()
        return y, np.take_along_axis(array_tangent(x, dx), permutation, axis=axis)


_sorting_rules(np.sort, np.argsort)
_sorting_rules(np.partition, np.argpartition)


# --------------------------------------------------------------------------------------------------
# Building arrays


def _array_rules(f: Callable) -> None:
    """Rules of ``np.array``/``np.asarray``: differentiable in the object converted."""

    @rrule.register(f)
    def _(x, *args, **kwargs):
        y = f(x, *args, **kwargs)
        project_x = ProjectTo(x)
        # ndmin adds leading axes that x's structure lacks.
        x_shape = np.shape(x) if kwargs.get("ndmin") else np.shape(y)

        def array_pullback(dy):
            return NoTangent(), project_x(np.reshape(dy, x_shape)), *no_tangents(args)

        return y, array_pullback

    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        y = f(x, *args, **kwargs)
        dx = unthunk(tangents[1])
        if isinstance(dx, AbstractZero):
            return y, ZeroTangent()
        return y, ProjectTo(y)(np.reshape(array_tangent(x, dx), np.shape(y)))


_array_rules(np.array)
_array_rules(np.asarray)


# --------------------------------------------------------------------------------------------------
# unique: a gather of first occurrences


def _unique_layout(x, args: tuple, kwargs: dict):
    """``(result, first, axis, several)``: what ``unique`` returns, the positions (flat, or along
    ``axis``) of its distinct values' first occurrences, and whether it returns several arrays."""
    options = bound_arguments(np.unique, (x, *args), kwargs)
    result = np.unique(x, *args, **kwargs)
    axis = options["axis"]
    flags = (options["return_index"], options["return_inverse"], options["return_counts"])
    _, first = np.unique(x, return_index=True, axis=axis, equal_nan=options["equal_nan"])
    return result, first, axis, any(flags)


@rrule.register(np.unique)
def _(x, *args, **kwargs):
    result, first, axis, several = _unique_layout(x, args, kwargs)
    project_x = ProjectTo(x)

    def unique_pullback(dresult):
        dy = unthunk(dresult[0] if several else dresult)
        if isinstance(dy, AbstractZero):
            return NoTangent(), ZeroTangent(), *no_tangents(args)
        dx = np.zeros_like(dy, shape=np.shape(x))
        if axis is None:
            np.add.at(dx.reshape(-1), first, np.ravel(dy))
        else:
            np.add.at(np.moveaxis(dx, axis, 0), first, np.moveaxis(np.asarray(dy), axis, 0))
        return NoTangent(), project_x(dx), *no_tangents(args)

    return result, unique_pullback


@frule.register(np.unique)
def _(tangents, x, *args, **kwargs):
    result, first, axis, several = _unique_layout(x, args, kwargs)
    dx = unthunk(tangents[1])
    if isinstance(dx, AbstractZero):
        return result, ZeroTangent()
    dx = array_tangent(x, dx)
    dvalues = np.ravel(dx)[first] if axis is None else np.take(dx, first, axis=axis)
    if several:
        return result, (dvalues, *(NoTangent() for _ in result[1:]))
    return result, dvalues
