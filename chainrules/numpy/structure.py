"""Rules for numpy functions that convert, assemble, trim, bin or set-combine arrays, and for the
numpy functions that call a user function on pieces of an array.

* **Conversions** (``asanyarray``, ``asarray_chkfinite``, ``asfortranarray``, ``require``) are the
  identity on the values: the cotangent is reshaped back to the input (a list gets a ``Tangent``
  of its items). ``np.astype(x, dtype)`` is ``x.astype(dtype)`` and has its rules
  (:mod:`chainrules.numpy.methods`): an integer or boolean target is not differentiable.
* **Assembling** arrays: ``block`` is a gather from its (nested) items, each cotangent entry sent
  back to the item it was copied from; ``broadcast_arrays`` sums each cotangent back to its input's
  shape; ``meshgrid`` (every output, any ``indexing``, ``sparse`` or not) sums each output's
  cotangent over the axes its input was repeated along; ``unstack`` stacks the cotangents back
  (a missing one is zero); ``insert`` is a gather from ``arr`` and ``values`` (both differentiable:
  ``values`` broadcast into several slots accumulates their cotangents); ``diagflat`` reads the
  cotangent's ``k``-th diagonal back.
* **Gathers** that drop entries: ``delete``, ``trim_zeros`` (the entries kept are those numpy keeps
  for the primal: the tangent is read at the same positions, zeros in the tangent are not trimmed),
  and the methods ``ndarray.compress`` and ``ndarray.choose`` (as ``np.compress``/``np.choose``).
* **Set operations** return entries of their inputs: ``union1d``, ``setdiff1d``, ``setxor1d``,
  ``intersect1d`` and ``unique_values``/``unique_counts``/``unique_inverse``/``unique_all`` gather
  each value from its first occurrence in the (flattened, concatenated) inputs, as ``unique`` does;
  an equal entry after the first gets no cotangent (the conventional subgradient at a tie). So a
  value of ``intersect1d`` is credited to ``ar1``. The index and count outputs are integers.
* **Binning**: ``bincount`` is differentiable in ``weights`` only (``y[k]`` is the sum of the
  weights of the entries equal to ``k``). ``histogram``, ``histogram2d`` and ``histogramdd`` count
  the data into bins: piecewise constant in the data (no tangent), and linear in ``weights``
  (``density=True`` divides by the total weight and the bin volumes: differentiated as that
  quotient). A sample is in the bin numpy puts it in (the last bin includes its right edge, samples
  outside the range are in none). The bin edges are functions of the data's range only: treated as
  non-differentiable outputs (no tangent). ``weights`` is differentiated when passed by position,
  as every rule differentiates positional arguments only. ``histogram_bin_edges`` (a number of
  bins, no range) is differentiated in the data's extremes; where several entries are all equal
  the edges jump as soon as one moves, and the conventional 0 is returned.
* **Iterables**: ``fromiter`` of a list, tuple or array is ``np.array`` of it (the ``count`` first
  items are read; the rest get a zero cotangent). Other iterables (a generator) cannot be
  differentiated: the engine never sees their items, so they have no rule.
* **User functions**: ``fromfunction`` (on the index grids of a shape: the grids are constants,
  what the function captures is differentiated), ``apply_along_axis``, ``apply_over_axes`` and
  ``piecewise`` call the function
  they are handed through the AD engine (``rrule_via_ad`` with ``config=HasReverseMode``,
  ``frule_via_ad`` with ``config=HasForwardsMode``). ``piecewise``'s conditions are constants; an
  entry that several conditions select takes the last one's value, as numpy does, and only that
  piece gets its cotangent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from multipledispatch.variadic import Variadic

from chainrules.calls import bound_arguments, no_tangents
from chainrules.numpy.shape import (
    array_tangent,
    flat_positions,
    gather_rules,
    linear_rules,
    scatter_add,
    size_of,
    split_along,
)
from chainrules.operator import item_tangents, sequence_tangent
from chainrules_core import (
    AbstractZero,
    HasForwardsMode,
    HasReverseMode,
    NoTangent,
    ProjectTo,
    Tangent,
    ZeroTangent,
    add,
    frule,
    frule_via_ad,
    rrule,
    rrule_via_ad,
    unbroadcast,
    unthunk,
)

# --------------------------------------------------------------------------------------------------
# Conversions


def _reshape_back(dy, x, *args, **kwargs):
    return np.reshape(dy, np.shape(x))


for _f in (np.asanyarray, np.asarray_chkfinite, np.asfortranarray, np.require):
    linear_rules(_f, _reshape_back)


# np.astype(x, dtype) is x.astype(dtype): its rules are the method's, found at call time.
@rrule.register(np.astype)
def _(x, dtype, /, **kwargs):
    return rrule(np.ndarray.astype, x, dtype, **_astype_options(kwargs))


@frule.register(np.astype)
def _(tangents, x, dtype, /, **kwargs):
    return frule(tangents, np.ndarray.astype, x, dtype, **_astype_options(kwargs))


def _astype_options(kwargs: dict) -> dict:
    # the method has no ``device`` (numpy accepts only "cpu", where every array lives)
    return {k: v for k, v in kwargs.items() if k != "device"}


# --------------------------------------------------------------------------------------------------
# Assembling arrays


def _numbered_leaves(arrays: Any, start: int = 0) -> tuple[Any, int]:
    """``arrays`` (nested lists of arrays and numbers) with each leaf's entries numbered on from
    ``start`` in C order, and the next number."""
    if isinstance(arrays, list):
        numbered = []
        for item in arrays:
            positions, start = _numbered_leaves(item, start)
            numbered.append(positions)
        return numbered, start
    size = size_of(arrays)
    return np.arange(start, start + size).reshape(np.shape(arrays)), start + size


def _leaf_cotangents(arrays: Any, dentries: np.ndarray, start: int = 0) -> tuple[Any, int]:
    """The cotangent of each leaf of ``arrays``, read from the flat ``dentries`` of all leaves."""
    if isinstance(arrays, list):
        dleaves = []
        for item in arrays:
            dleaf, start = _leaf_cotangents(item, dentries, start)
            dleaves.append(dleaf)
        return dleaves, start
    size = size_of(arrays)
    return np.reshape(dentries[start : start + size], np.shape(arrays)), start + size


def _leaf_tangents(arrays: Any, darrays: Any) -> Any:
    """The tangents of the leaves of ``arrays`` as arrays, in the same nesting of lists."""
    darrays = unthunk(darrays)
    if isinstance(arrays, list):
        if isinstance(darrays, AbstractZero):
            darrays = [darrays] * len(arrays)
        return [_leaf_tangents(x, dx) for x, dx in zip(arrays, darrays, strict=True)]
    return array_tangent(arrays, darrays)


@rrule.register(np.block)
def _(arrays):
    numbered, count = _numbered_leaves(arrays)
    origins = np.ravel(np.block(numbered))
    project_arrays = ProjectTo(arrays)

    def block_pullback(dy):
        dentries = scatter_add(np.ravel(dy), (count,), origins)
        return NoTangent(), project_arrays(_leaf_cotangents(arrays, dentries)[0])

    return np.block(arrays), block_pullback


@frule.register(np.block)
def _(tangents, arrays):
    y = np.block(arrays)
    if isinstance(unthunk(tangents[1]), AbstractZero):
        return y, ZeroTangent()
    return y, ProjectTo(y)(np.block(_leaf_tangents(arrays, tangents[1])))


@rrule.register(np.broadcast_arrays)
def _(*args, **kwargs):
    projects = [ProjectTo(x) for x in args]

    def broadcast_arrays_pullback(dys):
        dxs = (
            ZeroTangent() if isinstance(d, AbstractZero) else project(unbroadcast(x, d))
            for project, x, d in zip(projects, args, map(unthunk, dys), strict=True)
        )
        return NoTangent(), *dxs

    return np.broadcast_arrays(*args, **kwargs), broadcast_arrays_pullback


@frule.register(np.broadcast_arrays)
def _(tangents, *args, **kwargs):
    ys = np.broadcast_arrays(*args, **kwargs)
    dxs = [array_tangent(x, dx) for x, dx in zip(args, tangents[1:], strict=True)]
    return ys, Tangent.from_backing(type(ys), tuple(np.broadcast_arrays(*dxs, **kwargs)))


@rrule.register(np.meshgrid)
def _(*xi, **kwargs):
    # each output is its input, flattened and laid along one axis, repeated along the others: the
    # sparse grid holds each input in that layout
    layouts = np.meshgrid(*xi, **{**kwargs, "sparse": True})
    projects = [ProjectTo(x) for x in xi]

    def meshgrid_pullback(dys):
        dxs = (
            ZeroTangent()
            if isinstance(d, AbstractZero)
            else project(np.reshape(unbroadcast(layout, d), np.shape(x)))
            for project, layout, x, d in zip(projects, layouts, xi, map(unthunk, dys), strict=True)
        )
        return NoTangent(), *dxs

    return np.meshgrid(*xi, **kwargs), meshgrid_pullback


@frule.register(np.meshgrid)
def _(tangents, *xi, **kwargs):
    ys = np.meshgrid(*xi, **kwargs)
    dxs = [array_tangent(x, dx) for x, dx in zip(xi, tangents[1:], strict=True)]
    return ys, Tangent.from_backing(type(ys), tuple(np.meshgrid(*dxs, **kwargs)))


@rrule.register(np.unstack)
def _(x, /, **kwargs):
    ys = np.unstack(x, **kwargs)
    axis = kwargs.get("axis", 0)
    project_x = ProjectTo(x)

    def unstack_pullback(dys):
        filled = [
            np.zeros_like(y) if isinstance(d, AbstractZero) else d
            for y, d in zip(ys, map(unthunk, dys), strict=True)
        ]
        if not filled:  # an empty axis unstacks into no arrays at all
            return NoTangent(), project_x(np.zeros_like(x))
        return NoTangent(), project_x(np.stack(filled, axis=axis))

    return ys, unstack_pullback


@frule.register(np.unstack)
def _(tangents, x, /, **kwargs):
    ys = np.unstack(x, **kwargs)
    dx = unthunk(tangents[1])
    if isinstance(dx, AbstractZero):
        return ys, ZeroTangent()
    return ys, Tangent.from_backing(type(ys), tuple(np.unstack(dx, **kwargs)))


def _insert_origins(arr: Any, obj: Any, values: Any, *args, **kwargs) -> np.ndarray:
    """Where each entry of ``insert(arr, obj, values, ...)`` comes from, numbering ``arr``'s
    entries first and ``values``' after them."""
    value_positions = flat_positions(np.asarray(values)) + size_of(arr)
    return np.insert(flat_positions(np.asarray(arr)), obj, value_positions, *args, **kwargs)


@rrule.register(np.insert)
def _(arr, obj, values, *args, **kwargs):
    origins = np.ravel(_insert_origins(arr, obj, values, *args, **kwargs))
    project_arr, project_values = ProjectTo(arr), ProjectTo(values)

    def insert_pullback(dy):
        dentries = scatter_add(np.ravel(dy), (size_of(arr) + size_of(values),), origins)
        darr, dvalues = split_along(dentries, [size_of(arr), size_of(values)], 0)
        return (
            NoTangent(),
            project_arr(np.reshape(darr, np.shape(arr))),
            NoTangent(),
            project_values(np.reshape(dvalues, np.shape(values))),
            *no_tangents(args),
        )

    return np.insert(arr, obj, values, *args, **kwargs), insert_pullback


@frule.register(np.insert)
def _(tangents, arr, obj, values, *args, **kwargs):
    y = np.insert(arr, obj, values, *args, **kwargs)
    _, darr, _, dvalues, *_ = map(unthunk, tangents)
    if isinstance(darr, AbstractZero) and isinstance(dvalues, AbstractZero):
        return y, ZeroTangent()
    dentries = np.concatenate(
        [np.ravel(array_tangent(arr, darr)), np.ravel(array_tangent(values, dvalues))]
    )
    return y, ProjectTo(y)(dentries[_insert_origins(arr, obj, values, *args, **kwargs)])


def _diagflat_adjoint(dy, v, k=0):
    return np.reshape(np.diagonal(dy, k), np.shape(v))


linear_rules(np.diagflat, _diagflat_adjoint)


# --------------------------------------------------------------------------------------------------
# Gathers that drop entries

gather_rules(np.delete)
gather_rules(np.ndarray.compress)


def _trim_zeros_origins(filt: Any, *args, **kwargs) -> np.ndarray:
    """The flat positions of the entries that ``trim_zeros(filt, ...)`` keeps, in its shape."""
    array = np.asarray(filt)
    # numpy keeps a box (a slice along each trimmed axis) and trims exactly the zeros it trims from
    # filt from an array that is nonzero where filt is; a nonzero kept entry, numbered from 1 by its
    # position, says where the box starts
    marked = np.asarray(
        np.trim_zeros(np.where(array != 0, flat_positions(array) + 1, 0), *args, **kwargs)
    )
    if not np.any(marked):
        return np.zeros(marked.shape, dtype=np.intp)
    first = np.argwhere(marked)[0]
    start = np.unravel_index(marked[tuple(first)] - 1, array.shape) - first
    box = tuple(slice(s, s + n) for s, n in zip(start, marked.shape, strict=True))
    return flat_positions(array)[box]


@rrule.register(np.trim_zeros)
def _(filt, *args, **kwargs):
    origins = _trim_zeros_origins(filt, *args, **kwargs)
    project_filt = ProjectTo(filt)

    def trim_zeros_pullback(dy):
        dfilt = scatter_add(np.ravel(dy), (size_of(filt),), np.ravel(origins))
        return NoTangent(), project_filt(np.reshape(dfilt, np.shape(filt))), *no_tangents(args)

    return np.trim_zeros(filt, *args, **kwargs), trim_zeros_pullback


@frule.register(np.trim_zeros)
def _(tangents, filt, *args, **kwargs):
    y = np.trim_zeros(filt, *args, **kwargs)
    dfilt = unthunk(tangents[1])
    if isinstance(dfilt, AbstractZero):
        return y, ZeroTangent()
    origins = _trim_zeros_origins(filt, *args, **kwargs)
    return y, ProjectTo(y)(np.ravel(array_tangent(filt, dfilt))[origins])


@rrule.register(np.ndarray.choose)
def _(a, choices, *args, **kwargs):
    return rrule(np.choose, a, choices, *args, **kwargs)


@frule.register(np.ndarray.choose)
def _(tangents, a, choices, *args, **kwargs):
    return frule(tangents, np.choose, a, choices, *args, **kwargs)


# --------------------------------------------------------------------------------------------------
# Set operations and unique_*: gathers of first occurrences


def _first_occurrences(entries: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The position in ``entries`` of the first entry equal to each of ``values``."""
    distinct, first = np.unique(entries, return_index=True)
    return first[np.searchsorted(distinct, values)]


def _set_rules(f: Callable, arity: int) -> None:
    """Rules of ``f(*arrays, ...)`` (``arity`` arrays) whose result (its first field, if it returns
    several arrays) holds entries of the arrays: each is read from its first occurrence in the
    arrays flattened and concatenated."""

    def origins_of(arrays, args, kwargs):
        result = f(*arrays, *args, **kwargs)
        several = isinstance(result, tuple)
        values = result[0] if several else result
        entries = np.concatenate([np.ravel(x) for x in arrays])
        return result, several, np.shape(values), _first_occurrences(entries, np.ravel(values))

    @rrule.register(f)
    def _(*args, **kwargs):
        arrays, args = args[:arity], args[arity:]
        result, several, _, origins = origins_of(arrays, args, kwargs)
        projects = [ProjectTo(x) for x in arrays]
        sizes = [size_of(x) for x in arrays]

        def set_pullback(dresult):
            dvalues = unthunk(dresult[0] if several else dresult)
            if isinstance(dvalues, AbstractZero):
                return NoTangent(), *(ZeroTangent() for _ in arrays), *no_tangents(args)
            dentries = scatter_add(np.ravel(dvalues), (sum(sizes),), origins)
            pieces = split_along(dentries, sizes, 0)
            dxs = (
                project(np.reshape(piece, np.shape(x)))
                for project, piece, x in zip(projects, pieces, arrays, strict=True)
            )
            return NoTangent(), *dxs, *no_tangents(args)

        return result, set_pullback

    @frule.register(f)
    def _(tangents, *args, **kwargs):
        arrays, args = args[:arity], args[arity:]
        result, several, shape, origins = origins_of(arrays, args, kwargs)
        dxs = tangents[1 : 1 + arity]
        if all(isinstance(unthunk(d), AbstractZero) for d in dxs):
            return result, ZeroTangent()
        dentries = np.concatenate(
            [np.ravel(array_tangent(x, dx)) for x, dx in zip(arrays, dxs, strict=True)]
        )
        dvalues = np.reshape(dentries[origins], shape)
        if several:
            return result, Tangent.from_backing(
                type(result), (dvalues, *(NoTangent() for _ in result[1:]))
            )
        return result, dvalues


for _f in (np.union1d, np.setdiff1d, np.setxor1d, np.intersect1d):
    _set_rules(_f, 2)
for _f in (np.unique_values, np.unique_counts, np.unique_inverse, np.unique_all):
    _set_rules(_f, 1)


# --------------------------------------------------------------------------------------------------
# Binning: bincount and histograms, linear in their weights


@rrule.register(np.bincount)
def _(x, *args, **kwargs):
    y = np.bincount(x, *args, **kwargs)
    weights = args[0] if args else None  # differentiated when given by position
    project_weights = ProjectTo(weights)

    def bincount_pullback(dy):
        dargs = list(no_tangents(args))
        if weights is not None:
            dargs[0] = project_weights(np.reshape(np.asarray(dy)[x], np.shape(weights)))
        return NoTangent(), NoTangent(), *dargs

    return y, bincount_pullback


@frule.register(np.bincount)
def _(tangents, x, *args, **kwargs):
    y = np.bincount(x, *args, **kwargs)
    dweights = unthunk(tangents[2]) if args else ZeroTangent()
    if isinstance(dweights, AbstractZero) or args[0] is None:
        return y, ZeroTangent()
    return y, np.bincount(x, array_tangent(args[0], dweights), *args[1:], **kwargs)


def _sample_bins(samples: np.ndarray, edges: list) -> np.ndarray:
    """The flat index of the bin each sample (a row of ``samples``) falls in, or -1 for none.

    The bins are half-open ``[edge, next edge)`` except the last, which includes its right edge,
    as numpy's histograms count.
    """
    counts = [len(e) - 1 for e in edges]
    index = np.zeros(len(samples), dtype=np.intp)
    inside = np.ones(len(samples), dtype=bool)
    for column, e, count in zip(samples.T, edges, counts, strict=True):
        bins = np.searchsorted(e, column, side="right") - 1
        bins[column == e[-1]] = count - 1
        inside &= (bins >= 0) & (bins < count)
        index = index * count + np.clip(bins, 0, count - 1)
    return np.where(inside, index, -1)


def _zero(d: Any) -> bool:
    return isinstance(unthunk(d), AbstractZero)


def _refuse_data_edges(f: Callable, args: tuple, kwargs: dict, moving: bool) -> None:
    """Refuse a derivative through bin edges that numpy computes from the data's range.

    Without ``range=`` (and with a number of bins) the edges move with the data's extremes, and so
    do the densities; the rules do not differentiate that (the counts themselves do not move).
    """
    options = bound_arguments(f, args, kwargs)
    if moving and options.get("range") is None and np.ndim(options.get("bins", 10)) == 0:
        raise NotImplementedError(
            f"the derivative of numpy.{f.__name__}'s bin edges (and of its densities) with "
            "respect to the data is not implemented: without range= the edges follow the data's "
            "extremes; pass range=(low, high) to fix them, and the counts' derivatives are exact"
        )


def _histogram_rules(
    f: Callable, samples_of: Callable, data_arity: int, edges_of: Callable
) -> None:
    """Rules of the histogram ``f(*data, bins, range, density, weights)``, linear in ``weights``.

    ``samples_of(*data)`` is the data as an ``(n, d)`` array of samples and ``edges_of(result)``
    the list of the ``d`` edge arrays of the result ``(hist, *edges)``.
    """
    weights_position = data_arity + 3

    def layout(args, kwargs):
        options = bound_arguments(f, args, kwargs)
        result = f(*args, **kwargs)
        bins = _sample_bins(samples_of(*args[:data_arity]), edges_of(result))
        volumes = np.ones(())
        for e in edges_of(result):
            volumes = np.multiply.outer(volumes, np.diff(e))
        return result, bins, options["density"], volumes

    def weight_cotangent(dhist, hist, weights, bins, density, volumes):
        if density:
            # hist = c / (volumes * sum(c)) for the weighted counts c of the samples inside the bins
            counts_total = np.sum(weights[bins >= 0])
            dhist = dhist / (volumes * counts_total) - np.sum(dhist * hist) / counts_total
        dflat = np.ravel(dhist)
        return np.where(bins >= 0, dflat[np.maximum(bins, 0)], 0.0)

    @rrule.register(f)
    def _(*args, **kwargs):
        result, bins, density, volumes = layout(args, kwargs)
        differentiated = len(args) > weights_position and args[weights_position] is not None
        if differentiated:
            weights = args[weights_position]
            project_weights = ProjectTo(weights)

        def histogram_pullback(dresult):
            dargs = list(no_tangents(args))
            dhist = unthunk(dresult[0])
            edges = item_tangents(dresult, len(result))[1:]
            moving = any(not isinstance(unthunk(d), AbstractZero) for d in edges)
            _refuse_data_edges(f, args, kwargs, moving or (density and not _zero(dhist)))
            if differentiated and not isinstance(dhist, AbstractZero):
                dweights = weight_cotangent(
                    dhist, result[0], np.ravel(weights), bins, density, volumes
                )
                dargs[weights_position] = project_weights(np.reshape(dweights, np.shape(weights)))
            return NoTangent(), *dargs

        return result, histogram_pullback

    @frule.register(f)
    def _(tangents, *args, **kwargs):
        result, bins, density, volumes = layout(args, kwargs)
        data_moves = any(not _zero(d) for d in tangents[1 : 1 + data_arity])
        _refuse_data_edges(f, args, kwargs, data_moves)
        no_edges = tuple(NoTangent() for _ in result[1:])
        if len(args) <= weights_position:  # weights absent, or a keyword: not differentiated
            return result, ZeroTangent()
        dweights = unthunk(tangents[1 + weights_position])
        if isinstance(dweights, AbstractZero) or args[weights_position] is None:
            return result, ZeroTangent()
        weights = np.ravel(args[weights_position])
        dweights = np.ravel(array_tangent(args[weights_position], dweights))
        dcounts = np.bincount(bins[bins >= 0], dweights[bins >= 0], minlength=volumes.size)
        dhist = np.reshape(dcounts, volumes.shape)
        if density:
            counts_total = np.sum(weights[bins >= 0])
            dhist = dhist / (volumes * counts_total) - result[0] * np.sum(dhist) / counts_total
        return result, Tangent.from_backing(type(result), (dhist, *no_edges))


_histogram_rules(np.histogram, lambda a: np.reshape(a, (-1, 1)), 1, lambda result: [result[1]])
_histogram_rules(
    np.histogram2d,
    lambda x, y: np.stack([np.ravel(x), np.ravel(y)], axis=1),
    2,
    lambda result: list(result[1:]),
)
_histogram_rules(
    np.histogramdd,
    lambda sample: np.asarray(sample).T if isinstance(sample, (list, tuple)) else sample,
    1,
    lambda result: list(result[1]),
)


# --------------------------------------------------------------------------------------------------
# fromiter of a sequence: np.array of its first ``count`` items


def _fromiter_rules(sequence_type: type) -> None:
    @rrule.register(np.fromiter, sequence_type, Variadic[object])
    def _(iterable, dtype, *args, **kwargs):
        y = np.fromiter(iterable, dtype, *args, **kwargs)
        project_iterable = ProjectTo(iterable)

        def fromiter_pullback(dy):
            # the items after the first count were not read
            ditems = np.zeros_like(dy, shape=(len(iterable),))
            ditems[: len(y)] = dy
            return NoTangent(), project_iterable(ditems), *no_tangents((dtype, *args))

        return y, fromiter_pullback

    @frule.register(np.fromiter, sequence_type, Variadic[object])
    def _(tangents, iterable, dtype, *args, **kwargs):
        y = np.fromiter(iterable, dtype, *args, **kwargs)
        ditems = unthunk(tangents[1])
        if isinstance(ditems, AbstractZero):
            return y, ZeroTangent()
        return y, ProjectTo(y)(array_tangent(iterable, ditems)[: len(y)])


for _type in (list, tuple, np.ndarray):
    _fromiter_rules(_type)


# --------------------------------------------------------------------------------------------------
# Calling a user function on pieces of an array


def _accumulate(totals: list, tangents: tuple) -> list:
    """``totals`` plus ``tangents``, item by item: the cotangents of what every call shares."""
    return [add(total, t) for total, t in zip(totals, tangents, strict=True)]


def _fibres(arr: np.ndarray, axis: int) -> np.ndarray:
    """``arr`` with ``axis`` moved last: one fibre (a 1-d slice along ``axis``) per outer index."""
    return np.moveaxis(arr, axis, -1)


def _laid_out(results: list, outer: tuple, axis: int) -> np.ndarray:
    """The results of the fibres as numpy lays them: each result's axes where ``axis`` was."""
    stacked = np.array([np.asarray(r) for r in results]).reshape(outer + np.shape(results[0]))
    result_axes = list(range(len(outer), stacked.ndim))
    return np.moveaxis(stacked, result_axes, [axis + k for k in range(len(result_axes))])


def _fibre_cotangents(dy: Any, outer: tuple, axis: int) -> np.ndarray:
    """The inverse of :func:`_laid_out`: the cotangent of each fibre's result, by outer index."""
    dy = np.asarray(dy)
    result_ndim = dy.ndim - len(outer)
    result_axes = list(range(len(outer), dy.ndim))
    return np.moveaxis(dy, [axis + k for k in range(result_ndim)], result_axes)


@rrule.register(np.apply_along_axis, config=HasReverseMode)
def _(config, func1d, axis, arr, *args, **kwargs):
    arr = np.asarray(arr)
    axis = axis % arr.ndim
    fibres = _fibres(arr, axis)
    outer = fibres.shape[:-1]
    calls = {i: rrule_via_ad(config, func1d, fibres[i], *args, **kwargs) for i in np.ndindex(outer)}
    project_arr = ProjectTo(arr)

    def apply_along_axis_pullback(dy):
        dresults = _fibre_cotangents(unthunk(dy), outer, axis)
        dfibres = np.zeros(fibres.shape, dtype=np.result_type(arr, float))
        # the function (a closure's captured values) and the extra arguments take part in every call
        totals = [ZeroTangent()] * (1 + len(args))
        for i, (_, pullback) in calls.items():
            dfunc, dfibre, *dargs = pullback(dresults[i])
            totals = _accumulate(totals, (dfunc, *dargs))
            dfibre = unthunk(dfibre)
            if not isinstance(dfibre, AbstractZero):
                dfibres[i] = dfibre
        darr = project_arr(np.moveaxis(dfibres, -1, axis))
        return NoTangent(), totals[0], NoTangent(), darr, *totals[1:]

    y = _laid_out([y for y, _ in calls.values()], outer, axis)
    return y, apply_along_axis_pullback


@frule.register(np.apply_along_axis, config=HasForwardsMode)
def _(config, tangents, func1d, axis, arr, *args, **kwargs):
    _, dfunc, _, darr, *dargs = tangents
    arr = np.asarray(arr)
    axis = axis % arr.ndim
    fibres = _fibres(arr, axis)
    dfibres = _fibres(array_tangent(arr, darr), axis)
    outer = fibres.shape[:-1]
    results = [
        frule_via_ad(config, (dfunc, dfibres[i], *dargs), func1d, fibres[i], *args, **kwargs)
        for i in np.ndindex(outer)
    ]
    y = _laid_out([y for y, _ in results], outer, axis)
    dy = _laid_out([array_tangent(y, dy) for y, dy in results], outer, axis)
    return y, dy


def _over_axes(a: Any, axes: Any) -> tuple[np.ndarray, list]:
    """``a`` as an array and the axes ``apply_over_axes`` visits, made non-negative."""
    a = np.asarray(a)
    return a, [axis % a.ndim for axis in np.atleast_1d(axes).tolist()]


def _kept_dims(res: Any, val: np.ndarray, axis: int) -> Any:
    """``res`` with the reduced ``axis`` restored, as apply_over_axes does (it needs as many)."""
    if np.ndim(res) == val.ndim:
        return res
    expanded = np.expand_dims(res, axis)
    if expanded.ndim != val.ndim:
        raise ValueError("function is not returning an array of the correct shape")
    return expanded


@rrule.register(np.apply_over_axes, config=HasReverseMode)
def _(config, func, a, axes):
    val, axes = _over_axes(a, axes)
    steps = []
    for axis in axes:
        res, pullback = rrule_via_ad(config, func, val, axis)
        steps.append((pullback, np.shape(res)))
        val = _kept_dims(res, val, axis)
    project_a = ProjectTo(a)

    def apply_over_axes_pullback(dy):
        dfunc, dval = ZeroTangent(), unthunk(dy)
        for pullback, shape in reversed(steps):
            step_dfunc, dval, _ = pullback(np.reshape(dval, shape))
            dfunc, dval = add(dfunc, step_dfunc), unthunk(dval)
        return NoTangent(), dfunc, project_a(dval), NoTangent()

    return val, apply_over_axes_pullback


@frule.register(np.apply_over_axes, config=HasForwardsMode)
def _(config, tangents, func, a, axes):
    _, dfunc, da, _ = tangents
    val, axes = _over_axes(a, axes)
    dval = array_tangent(a, da)
    for axis in axes:
        res, dres = frule_via_ad(config, (dfunc, dval, NoTangent()), func, val, axis)
        dval = np.reshape(array_tangent(res, dres), np.shape(_kept_dims(res, val, axis)))
        val = _kept_dims(res, val, axis)
    return val, dval


def _pieces(x: np.ndarray, condlist: Any, funclist: list) -> list:
    """The mask of each piece of ``piecewise(x, condlist, funclist)``, as numpy reads them: one
    condition per function, the conditions' complement for a last, extra function."""
    if np.isscalar(condlist) or (not isinstance(condlist[0], (list, np.ndarray)) and x.ndim != 0):
        condlist = [condlist]
    masks = list(np.asarray(condlist, dtype=bool))
    if len(masks) == len(funclist) - 1:
        masks.append(~np.any(masks, axis=0))
    return masks


def _owners(masks: list, shape: tuple) -> np.ndarray:
    """Which piece's value each entry ends with: numpy fills the pieces in order, the last wins."""
    owner = np.full(shape, -1)
    for k, mask in enumerate(masks):
        owner[mask] = k
    return owner


@rrule.register(np.piecewise, config=HasReverseMode)
def _(config, x, condlist, funclist, *args, **kw):
    x = np.asanyarray(x)
    masks = _pieces(x, condlist, funclist)
    y = np.zeros_like(x)
    pullbacks = {}
    for k, (mask, func) in enumerate(zip(masks, funclist)):
        if callable(func):
            value, pullbacks[k] = rrule_via_ad(config, func, x[mask], *args, **kw)
        else:
            value = func  # a constant value of the piece
        y[mask] = value
    owner = _owners(masks, x.shape)
    project_x = ProjectTo(x)

    def piecewise_pullback(dy):
        dy = np.asarray(unthunk(dy))
        dx = np.zeros(x.shape, dtype=np.result_type(x, float))
        dfuncs = [ZeroTangent()] * len(funclist)
        totals = [ZeroTangent()] * len(args)
        for k, func in enumerate(funclist):
            # the entries a later piece overwrote take nothing from this one
            dpiece = np.where(owner[masks[k]] == k, dy[masks[k]], 0)
            if not callable(func):
                dfuncs[k] = ProjectTo(func)(np.sum(dpiece))
                continue
            dfuncs[k], dpiece, *dargs = pullbacks[k](dpiece)
            totals = _accumulate(totals, dargs)
            dpiece = unthunk(dpiece)
            if not isinstance(dpiece, AbstractZero):
                dx[masks[k]] += dpiece
        dfunclist = sequence_tangent(funclist, dfuncs)
        return NoTangent(), project_x(dx), NoTangent(), dfunclist, *totals

    return y, piecewise_pullback


@frule.register(np.piecewise, config=HasForwardsMode)
def _(config, tangents, x, condlist, funclist, *args, **kw):
    _, dx, _, dfunclist, *dargs = tangents
    x = np.asanyarray(x)
    masks = _pieces(x, condlist, funclist)
    dx = array_tangent(x, dx)
    dfuncs = item_tangents(dfunclist, len(funclist))
    y, dy = np.zeros_like(x), np.zeros_like(dx)
    for mask, func, dfunc in zip(masks, funclist, dfuncs):
        if callable(func):
            value, dvalue = frule_via_ad(
                config, (dfunc, dx[mask], *dargs), func, x[mask], *args, **kw
            )
            dvalue = array_tangent(value, dvalue)
        else:
            value, dvalue = func, array_tangent(func, dfunc)
        y[mask], dy[mask] = value, dvalue
    return y, ProjectTo(y)(dy)


# --------------------------------------------------------------------------------------------------
# ix_: each output is its (one-dimensional) input, reshaped to stand along its own axis


@rrule.register(np.ix_)
def _(*args):
    grids = np.ix_(*args)
    projections = [ProjectTo(a) for a in args]

    def ix_pullback(dgrids):
        dgrids = item_tangents(unthunk(dgrids), len(args))
        return NoTangent(), *(
            d
            if isinstance(unthunk(d), AbstractZero)
            else project(np.reshape(unthunk(d), np.shape(a)))
            for a, d, project in zip(args, dgrids, projections)
        )

    return grids, ix_pullback


@frule.register(np.ix_)
def _(tangents, *args):
    grids = np.ix_(*args)
    dgrids = tuple(
        ZeroTangent()
        if isinstance(unthunk(d), AbstractZero)
        else np.reshape(array_tangent(a, d), np.shape(g))
        for a, d, g in zip(args, tangents[1:], grids)
    )
    return grids, dgrids


# histogram_bin_edges: with a number of bins and no range, evenly spaced between the data's extremes


def _bin_edges_layout(a, args, kwargs):
    options = bound_arguments(np.histogram_bin_edges, (a, *args), kwargs)
    edges = np.histogram_bin_edges(a, *args, **kwargs)
    # One value v gives the edges v -+ 0.5, which move with it (argmin and argmax both find it).
    # Several equal values have no derivative (the edges jump as soon as one moves): 0 there.
    several_equal = size_of(a) > 1 and np.ptp(a) == 0
    data_edges = options["range"] is None and np.ndim(options["bins"]) == 0 and size_of(a) > 0
    return edges, data_edges and not several_equal


@rrule.register(np.histogram_bin_edges)
def _(a, *args, **kwargs):
    edges, data_edges = _bin_edges_layout(a, args, kwargs)
    project_a = ProjectTo(a)

    def histogram_bin_edges_pullback(dedges):
        dedges = unthunk(dedges)
        if not data_edges or isinstance(dedges, AbstractZero):
            return NoTangent(), ZeroTangent(), *no_tangents(args)
        t = np.linspace(0.0, 1.0, len(edges))
        da = np.zeros(size_of(a), dtype=np.result_type(dedges))  # complex data: complex edges
        # the first edge is the minimum, the last the maximum, the rest evenly between
        da[np.argmin(a)] += np.sum((1 - t) * dedges)
        da[np.argmax(a)] += np.sum(t * dedges)
        return NoTangent(), project_a(np.reshape(da, np.shape(a))), *no_tangents(args)

    return edges, histogram_bin_edges_pullback


@frule.register(np.histogram_bin_edges)
def _(tangents, a, *args, **kwargs):
    edges, data_edges = _bin_edges_layout(a, args, kwargs)
    da = unthunk(tangents[1])
    if not data_edges or isinstance(da, AbstractZero):
        return edges, ZeroTangent()
    da = np.ravel(array_tangent(a, da))
    t = np.linspace(0.0, 1.0, len(edges))
    return edges, ProjectTo(edges)((1 - t) * da[np.argmin(a)] + t * da[np.argmax(a)])


# --------------------------------------------------------------------------------------------------
# fromfunction: the function on the index grids of a shape; only what it captures can move


@rrule.register(np.fromfunction, config=HasReverseMode)
def _(config, function, shape, **kwargs):
    grids = np.indices(shape, dtype=kwargs.pop("dtype", float))
    y, pullback = rrule_via_ad(config, function, *grids, **kwargs)

    def fromfunction_pullback(dy):
        return NoTangent(), pullback(dy)[0], NoTangent()

    return y, fromfunction_pullback


@frule.register(np.fromfunction, config=HasForwardsMode)
def _(config, tangents, function, shape, **kwargs):
    grids = np.indices(shape, dtype=kwargs.pop("dtype", float))
    zeros = (ZeroTangent(),) * len(grids)
    return frule_via_ad(config, (tangents[1], *zeros), function, *grids, **kwargs)
