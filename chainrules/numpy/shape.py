"""Rules for numpy functions that move, copy or reshape array elements.

Every function here is linear in its array argument(s) (``pad``'s modes that compute the padding
are linear, or piecewise linear, per axis: see below), so its ``frule`` applies the function itself
to the tangent, and its pullback applies the transposed map:

* reshapes (``reshape``, ``ravel``, ``expand_dims``, ``squeeze``, ``atleast_*d``, ``copy``,
  ``ascontiguousarray``) reshape the cotangent back;
* permutations (``transpose``, ``permute_dims``, ``matrix_transpose``, ``moveaxis``,
  ``rollaxis``, ``swapaxes``, ``flip*``, ``roll``, ``rot90``) apply the inverse permutation;
* ``broadcast_to`` sums over the broadcast dimensions; ``tril``/``triu`` mask the cotangent;
* joins (``concatenate``, ``stack``, ``hstack``, ``vstack``, ``dstack``, ``column_stack``,
  ``append``) split the cotangent, and splits (``split``, ``array_split``, ``hsplit``, ``vsplit``,
  ``dsplit``) join it; the index expressions ``np.r_[a, b, ...]`` and ``np.c_[a, b, ...]`` (calls
  of ``operator.getitem`` on ``np.r_`` and ``np.c_``) join arrays and numbers and send each entry
  of the cotangent back to the item it was copied from; their string directives and slice ranges
  raise ``NotImplementedError``;
* gathers, whose every output entry is a copy of one input entry (``tile``, ``repeat``, ``resize``,
  ``diagonal``, ``diag`` of a matrix, ``pad`` in the modes ``'edge'``, ``'reflect'``,
  ``'symmetric'`` and ``'wrap'``, and the indexing functions of :mod:`chainrules.numpy.indexing`),
  share one generic pullback (:func:`gather_adjoint`): ``f`` is applied to an array of the input's
  flat positions, which says where each output entry was read, and the cotangent is added back
  there (entries read several times accumulate).

``pad``'s padding values (``constant_values``, ``end_values``) are constants, not differentiated.
Its modes that compute the padding pad one axis after the other, as numpy does (a corner is
padded from the padding of the earlier axes), each side of an axis from the edge region it reads
(``stat_length`` entries, or the whole axis): ``'linear_ramp'`` ramps from the edge entry to
``end_values`` and ``'mean'`` averages the region, both linearly; ``'maximum'`` and ``'minimum'``
copy the region's extremum, so the cotangent goes to the entries holding it, split evenly among
tied ones (the convention of the ``np.max``/``np.min`` rules; a NaN extremum is held by the
region's NaN entries); ``'median'`` averages the region's middle order statistic(s),
which get the cotangent (half each for an even count; ties ranked by position). A callable mode
and ``reflect_type='odd'`` raise ``NotImplementedError``.

A sequence argument (the arrays that ``concatenate`` joins, say) has a ``Tangent`` of its sequence
type; a list output (what ``split`` returns) has a ``Tangent(list, ...)`` whose items may be
``ZeroTangent()``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrules.calls import argument, no_tangents
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    Tangent,
    ZeroTangent,
    frule,
    linear_pullback,
    rrule,
    unbroadcast,
    unthunk,
)
from chainrules_core.arrays import ARRAY_TYPES, is_duck_array

# --------------------------------------------------------------------------------------------------
# Shared mechanism (also used by chainrules.numpy.indexing)


def _without_out(kwargs: dict) -> dict:
    """``kwargs`` for applying ``f`` to a tangent: ``out=`` holds the primal and must not be overwritten."""
    return {k: v for k, v in kwargs.items() if k != "out"}


def _replaced(args: tuple, position: int, value: Any) -> tuple:
    return (*args[:position], value, *args[position + 1 :])


def array_tangent(x: Any, dx: Any) -> Any:
    """The tangent of ``np.asarray(x)`` given a tangent ``dx`` of ``x``.

    Zeros become zero arrays; the ``Tangent`` of a (nested) list or tuple becomes an array.

    Example:
        >>> from chainrules_core import Tangent, ZeroTangent
        >>> array_tangent([1.0, 2.0], Tangent(list, 0.5, ZeroTangent()))
        array([0.5, 0. ])
    """
    dx = unthunk(dx)
    if isinstance(dx, AbstractZero):
        x = np.asarray(x)
        return np.zeros_like(x, dtype=np.result_type(x, 0.0))
    if isinstance(x, (list, tuple)):
        return np.array([array_tangent(item, d) for item, d in zip(x, dx, strict=True)])
    return dx


def _as_sequence_of_arrays(xs: Any, dxs: Any) -> Any:
    """The tangents of the items of ``xs`` as arrays, for a function of a sequence of arrays."""
    if isinstance(xs, np.ndarray):
        return dxs
    return [array_tangent(x, dx) for x, dx in zip(xs, dxs, strict=True)]


def sequence_cotangent(xs: Any, dxs: list) -> Any:
    """The cotangents ``dxs`` of the items of ``xs`` as one cotangent of ``xs``.

    The items of an array are its rows: their cotangents are stacked.

    Example:
        >>> sequence_cotangent(np.zeros((2, 2)), [np.ones(2), np.ones(2)])
        array([[1., 1.],
               [1., 1.]])
    """
    return np.stack(dxs) if isinstance(xs, ARRAY_TYPES) else dxs


def _zero_or_reshaped(dy: Any, shape: tuple) -> Any:
    dy = unthunk(dy)
    return dy if isinstance(dy, AbstractZero) else np.reshape(dy, shape)


def flat_positions(x: Any) -> np.ndarray:
    """An integer array of ``x``'s shape and memory layout holding each entry's C-order position.

    Example:
        >>> flat_positions(np.ones((2, 3)))
        array([[0, 1, 2],
               [3, 4, 5]])
    """
    if is_duck_array(x):  # numpy's positions: a duck array has no memory layout to follow
        return np.arange(size_of(x)).reshape(np.shape(x))
    # empty_like keeps x's memory layout, which ravel(order='K') and friends read in.
    positions = np.empty_like(x, dtype=np.intp)
    positions[...] = np.arange(positions.size).reshape(positions.shape)
    return positions


def scatter_add(dy: Any, shape: tuple, index: Any, like: Any = None) -> Any:
    """The adjoint of ``x[index]``: zeros of ``shape`` with ``dy`` added in at ``index``.

    An entry that ``index`` names several times accumulates every value aimed at it.

    Example:
        >>> scatter_add(np.array([1.0, 2.0, 3.0]), (2,), [0, 1, 0])
        array([4., 2.])

    ``like``, a duck array of ``shape`` (see :mod:`chainrules_core.arrays`), makes the result one
    of its type; duck arrays have no ``np.add.at``, so an entry named twice is an error there.
    """
    dx = np.zeros_like(dy, shape=shape) if like is None else np.zeros_like(like)
    if names_an_entry_twice(index):
        if is_duck_array(dx):
            _refuse_repeats(index, dx)
        else:
            np.add.at(dx, index, dy)
            return dx
    elif is_duck_array(dx) and any(n != n for n in np.shape(dy)):
        raise NotImplementedError(
            f"cannot differentiate x[mask] on a {_kind(dx)} array: the selection's length is "
            "unknown until it is computed (dask writes it as nan), so its cotangent cannot be "
            "put back; use np.where(mask, x, 0) instead of selecting"
        )
    elif is_duck_array(dx) and getattr(index, "ndim", 1) > 1:
        # a mask of several axes: dask assigns through one 1-d index only, so assign the
        # flattened entries and reshape (which merges axes, as dask can)
        flat = np.ravel(dx)
        flat[np.flatnonzero(index)] = dy
        return np.reshape(flat, shape)
    dx[index] = dy  # basic indexing and masks: plain assignment is many times faster
    return dx


def _kind(x: Any) -> str:
    """``dask.Array`` for a dask array: the library and the type, for error messages."""
    return f"{type(x).__module__.partition('.')[0]}.{type(x).__name__}"


def _refuse_repeats(index: Any, dx: Any) -> None:
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, _NEVER_REPEATING):
            continue
        # (an index that is itself a duck array cannot be checked without computing it)
        if is_duck_array(p) or np.unique(p).size != np.size(p):
            kind = _kind(dx)
            raise NotImplementedError(
                f"cannot differentiate x[index] on a {kind} array for an integer-array index "
                f"that may name an entry twice (or is itself a {kind}, which cannot be checked "
                "without computing it): numpy adds up such cotangents with np.add.at, which "
                f"{kind} lacks; index with slices, a boolean mask, or numpy integers that name "
                "each entry once"
            )


def scatter_into(buffer: np.ndarray, index: Any, dy: Any) -> np.ndarray:
    """``buffer`` with ``dy`` added in at ``index``, in place (the adjoint of ``x[index]`` added
    into a cotangent of ``x`` that the caller owns).

    Example:
        >>> scatter_into(np.ones(2), [0, 0], np.array([1.0, 2.0]))
        array([4., 1.])
    """
    if names_an_entry_twice(index):
        np.add.at(buffer, index, dy)
    else:
        buffer[index] += dy
    return buffer


@frule.register(scatter_add)
def _scatter_add_frule(tangents, dy, shape, index):
    # linear in dy: the rules of x[index] are differentiated when derivatives are nested
    ddy = tangents[1]
    y = scatter_add(dy, shape, index)
    return y, ddy if isinstance(ddy, AbstractZero) else scatter_add(ddy, shape, index)


_NEVER_REPEATING = (int, np.integer, slice, type(None), type(Ellipsis))


def names_an_entry_twice(index: Any) -> bool:
    """Whether ``index`` may name an entry twice: only integer arrays (and lists) can."""
    parts = index if isinstance(index, tuple) else (index,)
    return not all(
        isinstance(p, _NEVER_REPEATING) or getattr(p, "dtype", None) == np.bool_ for p in parts
    )


def gather_adjoint(dy: Any, gather: Callable, args: tuple, kwargs: dict, position: int = 0) -> Any:
    """The cotangent of ``x = args[position]`` for the gather ``y = gather(*args, **kwargs)``.

    Every entry of ``y`` is a copy of some entry of ``x``; ``gather`` applied to ``x``'s flat
    positions says which, and ``dy`` is added back there.

    Example:
        >>> gather_adjoint(np.ones(4), np.repeat, (np.array([5.0, 7.0]), 2), {})
        array([2., 2.])
    """
    x = args[position]
    if size_of(x) == 0:  # nothing to gather from (np.resize fills with zeros instead)
        return np.zeros(np.shape(x))
    positions = gather(*_replaced(args, position, flat_positions(x)), **_without_out(kwargs))
    dx = scatter_add(np.ravel(dy), (size_of(x),), np.ravel(positions))
    return np.reshape(dx, np.shape(x))


def linear_rules(f: Callable, adjoint: Callable, position: int = 0) -> Callable:
    """Register the ``rrule`` and ``frule`` of ``f``, a linear function of its positional argument
    ``position`` (every other positional argument is non-differentiable).

    The ``frule`` applies ``f`` to the tangent of that argument; the pullback returns
    ``adjoint(dy, *args, **kwargs)``, the transposed map called with ``f``'s own arguments,
    projected onto the argument. Returns ``f``.
    """

    @rrule.register(f)
    def _(*args, **kwargs):
        project_x = ProjectTo(args[position])

        # (the transpose of a linear map does not depend on the point: only shapes are read)
        @linear_pullback
        def linear_map_pullback(dy):
            dx = project_x(adjoint(dy, *args, **kwargs))
            return NoTangent(), *_replaced(no_tangents(args), position, dx)

        return f(*args, **kwargs), linear_map_pullback

    @frule.register(f)
    def _(tangents, *args, **kwargs):
        y = f(*args, **kwargs)
        dx = unthunk(tangents[1 + position])
        if isinstance(dx, AbstractZero):
            return y, ZeroTangent()
        dx = array_tangent(args[position], dx)
        return y, f(*_replaced(args, position, dx), **_without_out(kwargs))

    return f


def gather_rules(f: Callable, position: int = 0) -> Callable:
    """Register the rules of ``f``, a gather from its positional argument ``position``.

    Every entry of the output is a copy of one entry of that argument; the pullback is
    :func:`gather_adjoint`. Returns ``f``.
    """

    def gather_pullback_math(dy, *args, **kwargs):
        return gather_adjoint(dy, f, args, kwargs, position)

    return linear_rules(f, gather_pullback_math, position)


def _self_adjoint(f: Callable) -> Callable:
    """Rules of a linear ``f`` that is its own transpose (a mask or an involutive permutation)."""

    def adjoint(dy, x, *args, **kwargs):
        return unbroadcast(x, f(dy, *args, **kwargs))

    return linear_rules(f, adjoint)


# --------------------------------------------------------------------------------------------------
# Reshapes


def _reshape_back(dy, x, *args, **kwargs):
    return np.reshape(dy, np.shape(x))


def _reorder_back(dy, x, f, order, args, kwargs):
    """Undo ``f``, which reads ``x`` in ``order``; 'A' and 'K' depend on ``x``'s memory layout."""
    if order == "C":  # numpy's default, which duck arrays' reshape may not take as an option
        return np.reshape(dy, np.shape(x))
    if order == "F":
        return np.reshape(dy, np.shape(x), order=order)
    return gather_adjoint(dy, f, (x, *args), kwargs)


def _reshape_adjoint(dy, a, *args, **kwargs):
    order = argument(np.reshape, "order", (a, *args), kwargs)
    return _reorder_back(dy, a, np.reshape, order, args, kwargs)


def _ravel_adjoint(dy, a, *args, **kwargs):
    order = argument(np.ravel, "order", (a, *args), kwargs)
    return _reorder_back(dy, a, np.ravel, order, args, kwargs)


linear_rules(np.reshape, _reshape_adjoint)
linear_rules(np.ravel, _ravel_adjoint)
for _f in (np.expand_dims, np.squeeze, np.copy, np.ascontiguousarray):
    linear_rules(_f, _reshape_back)


def _atleast_rules(f: Callable) -> None:
    """``atleast_1d/2d/3d(*arys)``: one array for one argument, a tuple of arrays for several."""

    @rrule.register(f)
    def _(*arys):
        projects = [ProjectTo(x) for x in arys]
        shapes = [np.shape(x) for x in arys]

        def atleast_pullback(dy):
            dys = (dy,) if len(arys) == 1 else tuple(dy)
            dxs = (
                p(_zero_or_reshaped(d, shape))
                for p, d, shape in zip(projects, dys, shapes, strict=True)
            )
            return NoTangent(), *dxs

        return f(*arys), atleast_pullback

    @frule.register(f)
    def _(tangents, *arys):
        y = f(*arys)
        dys = [
            ZeroTangent() if isinstance(unthunk(dx), AbstractZero) else f(array_tangent(x, dx))
            for x, dx in zip(arys, tangents[1:], strict=True)
        ]
        if len(arys) == 1:
            return y, dys[0]
        return y, Tangent.from_backing(type(y), tuple(dys))


for _f in (np.atleast_1d, np.atleast_2d, np.atleast_3d):
    _atleast_rules(_f)


# --------------------------------------------------------------------------------------------------
# Permutations, broadcasting, masks


def _transpose_adjoint(dy, a, axes=None):
    if axes is None:
        return np.transpose(dy)
    return np.transpose(dy, tuple(np.argsort(np.asarray(axes) % np.ndim(a)).tolist()))


def _moveaxis_adjoint(dy, a, source, destination):
    return np.moveaxis(dy, destination, source)


def _rollaxis_adjoint(dy, a, axis, start=0):
    # rollaxis is the moveaxis whose destination counts positions before ``axis`` is removed
    ndim = np.ndim(a)
    axis = axis % ndim
    start = start + ndim if start < 0 else start
    return np.moveaxis(dy, start - 1 if start > axis else start, axis)


def _matrix_transpose_adjoint(dy, x):
    return np.swapaxes(dy, -1, -2)


def _roll_adjoint(dy, a, shift, axis=None):
    return np.roll(dy, np.negative(shift), axis)


def _rot90_adjoint(dy, m, k=1, axes=(0, 1)):
    return np.rot90(dy, -k, axes)


def _broadcast_to_adjoint(dy, array, *args, **kwargs):
    return unbroadcast(array, dy)


linear_rules(np.transpose, _transpose_adjoint)
linear_rules(np.permute_dims, _transpose_adjoint)
linear_rules(np.moveaxis, _moveaxis_adjoint)
linear_rules(np.rollaxis, _rollaxis_adjoint)
if hasattr(np, "matrix_transpose"):  # numpy 2.0 and later
    linear_rules(np.matrix_transpose, _matrix_transpose_adjoint)
linear_rules(np.roll, _roll_adjoint)
linear_rules(np.rot90, _rot90_adjoint)
linear_rules(np.broadcast_to, _broadcast_to_adjoint)
for _f in (np.swapaxes, np.flip, np.fliplr, np.flipud, np.tril, np.triu):
    _self_adjoint(_f)


# --------------------------------------------------------------------------------------------------
# Gathers: tile, repeat, diagonals


def _diag_adjoint(dy, v, *args, **kwargs):
    if np.ndim(v) == 1:  # v was placed on the k-th diagonal of a matrix: read that diagonal back
        return np.diagonal(dy, argument(np.diag, "k", (v, *args), kwargs))
    return gather_adjoint(dy, np.diag, (v, *args), kwargs)


for _f in (np.tile, np.repeat, np.diagonal, np.resize):
    gather_rules(_f)
linear_rules(np.diag, _diag_adjoint)


# --------------------------------------------------------------------------------------------------
# Joining and splitting


def size_of(x: Any) -> int:
    """The number of entries of ``x`` (``np.size``, which duck arrays need not implement)."""
    return math.prod(np.shape(x))


def split_along(dy: Any, sizes: list[int], axis: int) -> list:
    """``dy`` cut along ``axis`` into consecutive pieces of ``sizes`` entries (as ``np.split``
    does, by slicing, which duck arrays support).

    Example:
        >>> [p.tolist() for p in split_along(np.arange(5.0), [2, 3], 0)]
        [[0.0, 1.0], [2.0, 3.0, 4.0]]
    """
    lead = (slice(None),) * (axis % np.ndim(dy))
    ends = np.cumsum(sizes)
    return [dy[(*lead, slice(end - n, end))] for n, end in zip(sizes, ends, strict=True)]


def _concatenate_layout(arrays, axis=0, *args, **kwargs):
    if axis is None:
        return 0, [size_of(x) for x in arrays]
    return axis, [np.shape(x)[axis] for x in arrays]


def _stack_layout(arrays, axis=0, *args, **kwargs):
    return axis, [1] * len(arrays)


def _hstack_layout(tup, **kwargs):
    axis = 0 if np.ndim(tup[0]) <= 1 else 1
    return axis, [np.shape(np.atleast_1d(x))[axis] for x in tup]


def _vstack_layout(tup, **kwargs):
    return 0, [np.shape(np.atleast_2d(x))[0] for x in tup]


def _dstack_layout(tup):
    return 2, [np.shape(np.atleast_3d(x))[2] for x in tup]


def _column_stack_layout(tup):
    return 1, [np.shape(x)[1] if np.ndim(x) >= 2 else 1 for x in tup]


def _joining_rules(f: Callable, layout: Callable) -> None:
    """Rules of ``f(arrays, ...)``, which joins the (reshaped) arrays along one axis of its output.

    ``layout(arrays, ...)`` returns that axis and how many entries along it each array fills.
    """

    @rrule.register(f)
    def _(arrays, *args, **kwargs):
        axis, sizes = layout(arrays, *args, **kwargs)
        shapes = [np.shape(x) for x in arrays]
        project_arrays = ProjectTo(arrays)

        @linear_pullback
        def joining_pullback(dy):
            pieces = split_along(dy, sizes, axis)
            dxs = [np.reshape(piece, shape) for piece, shape in zip(pieces, shapes, strict=True)]
            return NoTangent(), project_arrays(sequence_cotangent(arrays, dxs)), *no_tangents(args)

        return f(arrays, *args, **kwargs), joining_pullback

    @frule.register(f)
    def _(tangents, arrays, *args, **kwargs):
        y = f(arrays, *args, **kwargs)
        darrays = unthunk(tangents[1])
        if isinstance(darrays, AbstractZero):
            return y, ZeroTangent()
        return y, f(_as_sequence_of_arrays(arrays, darrays), *args, **_without_out(kwargs))


_joining_rules(np.concatenate, _concatenate_layout)
_joining_rules(np.stack, _stack_layout)
_joining_rules(np.hstack, _hstack_layout)
_joining_rules(np.vstack, _vstack_layout)
_joining_rules(np.dstack, _dstack_layout)
_joining_rules(np.column_stack, _column_stack_layout)


def _append_split(arr: Any, axis: Any) -> tuple[int, int]:
    """Where ``append(arr, values, axis)`` splits into the two pieces: ``(axis, length of arr)``."""
    if axis is None:  # both arguments are flattened first
        return 0, size_of(arr)
    return axis, np.shape(arr)[axis]


@rrule.register(np.append)
def _(arr, values, *args, **kwargs):
    axis, length = _append_split(arr, argument(np.append, "axis", (arr, values, *args), kwargs))
    project_arr, project_values = ProjectTo(arr), ProjectTo(values)

    def append_pullback(dy):
        darr, dvalues = split_along(dy, [length, np.shape(dy)[axis] - length], axis)
        return (
            NoTangent(),
            project_arr(np.reshape(darr, np.shape(arr))),
            project_values(np.reshape(dvalues, np.shape(values))),
            *no_tangents(args),
        )

    return np.append(arr, values, *args, **kwargs), append_pullback


@frule.register(np.append)
def _(tangents, arr, values, *args, **kwargs):
    y = np.append(arr, values, *args, **kwargs)
    _, darr, dvalues, *_ = map(unthunk, tangents)
    if isinstance(darr, AbstractZero) and isinstance(dvalues, AbstractZero):
        return y, ZeroTangent()
    dy = np.append(array_tangent(arr, darr), array_tangent(values, dvalues), *args, **kwargs)
    return y, ProjectTo(y)(dy)


# np.r_[a, b] and np.c_[a, b] are calls of operator.getitem on the objects np.r_ and np.c_. Every
# entry of the result is a copy of an entry of one item, so the result of the same expression on
# the items' flat positions (numbered on from one item to the next) says where each entry came from.


def _index_expression_items(concatenator: Any, key: Any) -> tuple:
    """The items that ``concatenator[key]`` joins, refusing what the rules cannot differentiate."""
    items = key if isinstance(key, tuple) else (key,)
    for item in items:
        if isinstance(item, (str, slice)):
            name = "np.r_" if isinstance(concatenator, type(np.r_)) else "np.c_"
            raise NotImplementedError(
                f"chainrules differentiates {name}[...] of arrays and numbers only, but got "
                f"{item!r}: a string directive or a slice range; build the pieces and join them "
                "with np.concatenate (np.arange or np.linspace for a range), whose rules apply"
            )
    return items


def _item_positions(items: tuple) -> list:
    """Each item replaced by its entries' positions in the flat list of all items' entries."""
    positions, start = [], 0
    for item in items:
        size = np.size(item)
        if np.ndim(item) == 0 and not isinstance(item, np.ndarray):
            positions.append(start)  # a number stays a number: the concatenators treat it apart
        else:
            positions.append(np.arange(start, start + size).reshape(np.shape(item)))
        start += size
    return positions


def _index_expression_rules(concatenator: Any) -> None:
    """Rules of ``concatenator[key]`` for ``np.r_`` or ``np.c_``."""

    @rrule.register(operator.getitem, type(concatenator), object)
    def _(concatenator, key):
        items = _index_expression_items(concatenator, key)
        origins = np.ravel(concatenator[tuple(_item_positions(items))])
        sizes = [np.size(item) for item in items]
        project_key = ProjectTo(key)

        def index_expression_pullback(dy):
            dentries = scatter_add(np.ravel(dy), (sum(sizes),), origins)
            pieces = split_along(dentries, sizes, 0)
            ditems = [np.reshape(p, np.shape(item)) for p, item in zip(pieces, items, strict=True)]
            dkey = sequence_cotangent(key, ditems) if isinstance(key, tuple) else ditems[0]
            return NoTangent(), NoTangent(), project_key(dkey)

        return concatenator[key], index_expression_pullback

    @frule.register(operator.getitem, type(concatenator), object)
    def _(tangents, concatenator, key):
        items = _index_expression_items(concatenator, key)
        y = concatenator[key]
        dkey = unthunk(tangents[2])
        if isinstance(dkey, AbstractZero):
            return y, ZeroTangent()
        ditems = dkey if isinstance(key, tuple) else (dkey,)
        dy = concatenator[tuple(_as_sequence_of_arrays(items, ditems))]
        return y, ProjectTo(y)(dy)


_index_expression_rules(np.r_)
_index_expression_rules(np.c_)


def _split_axis(f: Callable, args: tuple, kwargs: dict) -> int:
    """The axis along which ``f(*args, **kwargs)`` splits its array."""
    if f is np.hsplit:
        return 1 if np.ndim(args[0]) > 1 else 0
    fixed = {np.vsplit: 0, np.dsplit: 2}
    return fixed[f] if f in fixed else argument(f, "axis", args, kwargs)


def _splitting_rules(f: Callable) -> None:
    """Rules of ``f(ary, indices_or_sections, ...)``, which returns the pieces of ``ary``."""

    @rrule.register(f)
    def _(ary, *args, **kwargs):
        pieces = f(ary, *args, **kwargs)
        axis = _split_axis(f, (ary, *args), kwargs)
        layouts = [(piece.shape, piece.dtype) for piece in pieces]
        project_ary = ProjectTo(ary)

        def splitting_pullback(dpieces):
            dpieces = [unthunk(d) for d in dpieces]
            filled = [
                np.zeros(shape, dtype) if isinstance(d, AbstractZero) else d
                for d, (shape, dtype) in zip(dpieces, layouts, strict=True)
            ]
            return NoTangent(), project_ary(np.concatenate(filled, axis=axis)), *no_tangents(args)

        return pieces, splitting_pullback

    @frule.register(f)
    def _(tangents, ary, *args, **kwargs):
        pieces = f(ary, *args, **kwargs)
        dary = unthunk(tangents[1])
        if isinstance(dary, AbstractZero):
            return pieces, ZeroTangent()
        dpieces = f(array_tangent(ary, dary), *args, **kwargs)
        return pieces, Tangent.from_backing(type(pieces), tuple(dpieces))


for _f in (np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit):
    _splitting_rules(_f)


# --------------------------------------------------------------------------------------------------
# Padding

_PAD_GATHER_MODES = ("edge", "reflect", "symmetric", "wrap")
_PAD_CONSTANT_MODES = ("constant", "empty")
_PAD_STATISTIC_MODES = ("linear_ramp", "maximum", "mean", "median", "minimum")


def _check_pad_mode(mode: Any, kwargs: dict) -> None:
    gather = mode in _PAD_GATHER_MODES and kwargs.get("reflect_type", "even") == "even"
    if not (gather or mode in _PAD_CONSTANT_MODES or mode in _PAD_STATISTIC_MODES):
        reflect_type = kwargs.get("reflect_type")
        detail = f"mode={mode!r}" + (f", reflect_type={reflect_type!r}" if reflect_type else "")
        raise NotImplementedError(
            f"chainrules has no derivative of np.pad with {detail}: the differentiable modes are "
            "'constant', 'empty', 'edge', 'reflect', 'symmetric', 'wrap' (reflect_type='even'), "
            "'linear_ramp', 'maximum', 'mean', 'median' and 'minimum'"
        )


def _pad_pairs(value: Any, ndim: int) -> list[tuple]:
    """numpy's reading of ``pad_width`` or ``stat_length``: one ``(before, after)`` pair per axis."""
    if value is None:  # stat_length=None: the whole axis
        return [(None, None)] * ndim
    if isinstance(value, dict):  # {axis: width or (before, after)}; the other axes are not padded
        pairs = [(0, 0)] * ndim
        for axis, width in value.items():
            pairs[axis] = tuple(np.broadcast_to(width, 2).tolist())
        return pairs
    pairs = np.broadcast_to(np.round(value).astype(np.intp), (ndim, 2))
    return [tuple(pair) for pair in pairs.tolist()]


def _along(axis: int, index: Any) -> tuple:
    """The index that applies ``index`` along ``axis`` and takes every entry along the axes before."""
    return (slice(None),) * axis + (index,)


def _statistic_weights(chunk: np.ndarray, axis: int, mode: str) -> np.ndarray:
    """``w`` with ``statistic(chunk) = sum(w * chunk, axis)`` near ``chunk`` (a ``w`` per fibre).

    An extremum's weight is split evenly among the ``k`` entries equal to it, ``1/k`` each, as the
    ``np.max``/``np.min`` rules split it (a NaN extremum among the NaN entries); a median is the
    mean of the two middle order statistics (one, for an odd count), ties ranked by position.
    """
    length = chunk.shape[axis]
    if mode == "mean":
        return np.ones(chunk.shape) / length
    if mode in ("maximum", "minimum"):
        extremum = (np.max if mode == "maximum" else np.min)(chunk, axis=axis, keepdims=True)
        held = (chunk == extremum) | (np.isnan(chunk) & np.isnan(extremum))
        return held / np.sum(held, axis=axis, keepdims=True)
    rank = np.argsort(np.argsort(chunk, axis=axis, kind="stable"), axis=axis, kind="stable")
    return ((rank == (length - 1) // 2).astype(float) + (rank == length // 2)) / 2


def _pad_sides(x: np.ndarray, axis: int, widths: tuple, mode: str, stat_lengths: tuple) -> list:
    """How np.pad fills the two sides of ``x`` along ``axis``: a ``(region, w, c)`` per side.

    The ``i``-th padded entry of a side is ``c[i] * sum(w * x[region], axis)`` plus a constant
    (``end_values``, not differentiated): ``region`` is the slice along ``axis`` that the side reads,
    ``w`` the weights of its entries, ``c`` a coefficient per padded position, shaped to broadcast
    along ``axis``.
    """
    length = x.shape[axis]
    trailing = (1,) * (x.ndim - axis - 1)
    sides = []
    for before, width, stat_length in zip((True, False), widths, stat_lengths):
        if mode == "linear_ramp":
            # the ramp runs from end_values (outermost) towards the edge entry without reaching it:
            # the i-th entry from the outside is end + (edge - end) * i / width
            fractions = np.arange(width) / width
            coefficients = fractions if before else fractions[::-1]
            region = slice(0, 1) if before else slice(length - 1, length)
            weights = np.ones(x[_along(axis, region)].shape)
        else:
            count = length if stat_length is None else min(stat_length, length)
            region = slice(0, count) if before else slice(length - count, length)
            weights = _statistic_weights(x[_along(axis, region)], axis, mode)
            coefficients = np.ones(width)
        sides.append((region, weights, np.reshape(coefficients, (-1, *trailing))))
    return sides


def _pad_steps(y: np.ndarray, shape: tuple, widths: list, mode: str, stat_lengths: list) -> list:
    """np.pad's work on an array of ``shape`` with result ``y``, one ``(axis, widths, sides)`` per
    padded axis (see :func:`_pad_sides`).

    numpy pads axis 0 first, then axis 1 of that result, and so on: a corner is padded from the
    padding of the earlier axes. Before the step of ``axis`` the array is ``y`` whole along the
    axes before ``axis`` and cut to its original extent along the others.
    """
    original = tuple(slice(before, before + n) for (before, _), n in zip(widths, shape))
    steps = []
    for axis, (axis_widths, axis_stat_lengths) in enumerate(zip(widths, stat_lengths)):
        if any(axis_widths):
            x = y[(slice(None),) * axis + original[axis:]]
            steps.append(
                (axis, axis_widths, _pad_sides(x, axis, axis_widths, mode, axis_stat_lengths))
            )
    return steps


def _pad_step_tangent(dx: Any, axis: int, sides: list) -> Any:
    """The tangent after one step of :func:`_pad_steps`, from the tangent ``dx`` before it."""
    before, after = (
        c * np.sum(w * dx[_along(axis, region)], axis=axis, keepdims=True) for region, w, c in sides
    )
    return np.concatenate([before, dx, after], axis=axis)


def _pad_step_cotangent(dy: Any, axis: int, widths: tuple, sides: list) -> Any:
    """The adjoint of :func:`_pad_step_tangent`: the cotangent before the step from ``dy`` after it."""
    end = dy.shape[axis] - widths[1]
    dx = np.array(dy[_along(axis, slice(widths[0], end))])  # a copy: the padding adds into it
    dpads = (dy[_along(axis, slice(0, widths[0]))], dy[_along(axis, slice(end, None))])
    for (region, w, c), dpad in zip(sides, dpads):
        dx[_along(axis, region)] += w * np.sum(c * dpad, axis=axis, keepdims=True)
    return dx


def _pad_statistic_steps(y: np.ndarray, array: Any, args: tuple, kwargs: dict, mode: str) -> list:
    """The steps of :func:`_pad_steps` of the call ``y = np.pad(array, *args, **kwargs)``."""
    ndim = np.ndim(array)
    widths = _pad_pairs(argument(np.pad, "pad_width", (array, *args), kwargs), ndim)
    stat_lengths = _pad_pairs(kwargs.get("stat_length"), ndim)
    return _pad_steps(y, np.shape(array), widths, mode, stat_lengths)


@rrule.register(np.pad)
def _(array, *args, **kwargs):
    mode = argument(np.pad, "mode", (array, *args), kwargs)
    _check_pad_mode(mode, kwargs)
    y = np.pad(array, *args, **kwargs)
    project_array = ProjectTo(array)
    if mode in _PAD_STATISTIC_MODES:  # the weights of a statistic are read off the primal
        steps = _pad_statistic_steps(y, array, args, kwargs, mode)

    def pad_pullback(dy):
        if mode in _PAD_CONSTANT_MODES:
            pad_width = argument(np.pad, "pad_width", (array, *args), kwargs)
            interior = np.pad(np.ones(np.shape(array), dtype=bool), pad_width)
            darray = np.reshape(dy[interior], np.shape(array))
        elif mode in _PAD_STATISTIC_MODES:
            darray = dy
            for axis, widths, sides in reversed(steps):
                darray = _pad_step_cotangent(darray, axis, widths, sides)
        else:
            darray = gather_adjoint(dy, np.pad, (array, *args), kwargs)
        return NoTangent(), project_array(darray), *no_tangents(args)

    return y, pad_pullback


@frule.register(np.pad)
def _(tangents, array, *args, **kwargs):
    mode = argument(np.pad, "mode", (array, *args), kwargs)
    _check_pad_mode(mode, kwargs)
    y = np.pad(array, *args, **kwargs)
    darray = unthunk(tangents[1])
    if isinstance(darray, AbstractZero):
        return y, ZeroTangent()
    darray = array_tangent(array, darray)
    if mode in _PAD_CONSTANT_MODES:  # the padding is a constant: its tangent is zero
        return y, np.pad(darray, argument(np.pad, "pad_width", (array, *args), kwargs))
    if mode in _PAD_STATISTIC_MODES:
        dy = darray
        for axis, _, sides in _pad_statistic_steps(y, array, args, kwargs, mode):
            dy = _pad_step_tangent(dy, axis, sides)
        return y, ProjectTo(y)(dy)
    return y, np.pad(darray, *args, **kwargs)
