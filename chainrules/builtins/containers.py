"""Rules for building and reading tuples, lists and dicts: conversions, dict views, zip, enumerate.

Tangents: a list's is ``Tangent(list, *items)``, a tuple's ``Tangent(tuple, *items)``, a dict's
``Tangent(dict, {key: ...})``; an array that is iterated has an array tangent, its items stacked.

In differentiated code the lazy builtins return LISTS: the rule's primal of ``zip(*seqs)`` is
``list(zip(*seqs))``, of ``enumerate(seq)`` ``list(enumerate(seq))``, of ``reversed(seq)``
``list(reversed(seq))``, and the unbound methods ``dict.items``, ``dict.keys`` and
``dict.values`` return ``list(d.items())`` etc. Their pullbacks take a ``Tangent(list, ...)``
(of ``Tangent(tuple, ...)`` for zip, enumerate and items) and split it back into one tangent per
input sequence; items past the end of the shortest zipped sequence get zero tangents.

``tuple(xs)`` and ``list(xs)`` convert lists, tuples and arrays; ``dict(mapping)`` and
``dict(pairs)`` are differentiated, but ``dict(key=value)`` is not: rules give keyword arguments no
tangents, so such a rule would silently drop their gradients; the rule declines (returns ``None``)
and leaves the call to the AD engine. Keys, ``range``\\ s and strings have no tangent.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Sequence
from types import FunctionType
from typing import Any

import numpy as np
from multipledispatch.variadic import Variadic

from chainrules.operator import item_tangents, sequence_tangent
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    Tangent,
    ZeroTangent,
    frule,
    non_differentiable,
    rrule,
)

_SEQUENCES = (list, tuple, np.ndarray)
_ITERABLES = (list, tuple, np.ndarray, range, str)


def tangent_of(seq: Any, items: Sequence) -> Any:
    """The tangent of the sequence ``seq`` whose items have tangents ``items`` (none for ranges)."""
    return NoTangent() if isinstance(seq, (range, str)) else sequence_tangent(seq, items)


# --- tuple(xs), list(xs), reversed(xs) ----------------------------------------------------------


def scatter_tangent(xs: Any, positions: Sequence[int], dy: Any) -> Any:
    """The tangent of ``xs`` when ``y = [xs[i] for i in positions]`` has the tangent ``dy``."""
    items = [ZeroTangent()] * len(xs)
    for i, d in zip(positions, item_tangents(dy, len(positions)), strict=True):
        items[i] = d
    return tangent_of(xs, items)


def gather_tangent(y: Any, xs: Any, positions: Sequence[int], dxs: Any) -> Any:
    """The tangent of ``y = [xs[i] for i in positions]`` (or a tuple) when ``xs`` has tangent ``dxs``."""
    items = item_tangents(dxs, len(xs))
    return sequence_tangent(y, [items[i] for i in positions])


def register_selection(f: Callable, container: type, positions: Callable, *types: Any) -> None:
    """Register rules of ``f(*args, **kwargs) = container(xs[i] for i in positions(*args, **kwargs))``.

    ``xs`` is the last positional argument (the others get no tangent); ``types`` are the types
    of the positional arguments.
    """

    def selection_rrule(*args, **kwargs):
        xs, chosen = args[-1], positions(*args, **kwargs)
        others = (NoTangent(),) * len(args)

        def selection_pullback(dy):
            return *others, scatter_tangent(xs, chosen, dy)

        return container(xs[i] for i in chosen), selection_pullback

    def selection_frule(tangents, *args, **kwargs):
        xs, chosen = args[-1], positions(*args, **kwargs)
        y = container(xs[i] for i in chosen)
        return y, gather_tangent(y, xs, chosen, tangents[-1])

    rrule.add(f, types, selection_rrule)
    frule.add(f, types, selection_frule)


def _in_order(xs):
    return range(len(xs))


register_selection(tuple, tuple, _in_order, _SEQUENCES)
register_selection(list, list, _in_order, _SEQUENCES)
register_selection(reversed, list, lambda xs: range(len(xs) - 1, -1, -1), _SEQUENCES)
for _f in (tuple, list):
    non_differentiable(_f, (dict, range, str))  # a dict's keys, integers, characters


# --- dict(mapping), dict(pairs) -----------------------------------------------------------------


@rrule.register(dict, dict)
def _(mapping, **keywords):
    if keywords:
        return None

    def dict_pullback(dy):
        return NoTangent(), Tangent.from_backing(type(mapping), dict(dy.backing))

    return dict(mapping), dict_pullback


@frule.register(dict, dict)
def _(tangents, mapping, **keywords):
    if keywords:
        return None
    _, dmapping = tangents
    if isinstance(dmapping, AbstractZero):
        return dict(mapping), dmapping
    return dict(mapping), Tangent.from_backing(dict, dict(dmapping.backing))


def _last_positions(pairs) -> dict:
    """The position of each key's pair in ``pairs``; a repeated key keeps its last value."""
    return {key: i for i, (key, _) in enumerate(pairs)}


@rrule.register(dict, (list, tuple))
def _(pairs, **keywords):
    if keywords:
        return None
    positions = _last_positions(pairs)

    def dict_pullback(dy):
        items = [ZeroTangent()] * len(pairs)
        for key, i in positions.items():
            items[i] = sequence_tangent(pairs[i], (NoTangent(), dy[key]))
        return NoTangent(), sequence_tangent(pairs, items)

    return dict(pairs), dict_pullback


@frule.register(dict, (list, tuple))
def _(tangents, pairs, **keywords):
    if keywords:
        return None
    _, dpairs = tangents
    if isinstance(dpairs, AbstractZero):
        return dict(pairs), dpairs
    dpairs = item_tangents(dpairs, len(pairs))
    values = {key: item_tangents(dpairs[i], 2)[1] for key, i in _last_positions(pairs).items()}
    return dict(pairs), Tangent.from_backing(dict, values)


# --- dict.items, dict.keys, dict.values, dict.get -----------------------------------------------


def _register_view(method, pairs: bool):
    """Rules of ``dict.items`` (``pairs``) or ``dict.values`` returning a list."""

    def view_rrule(d):
        keys = list(d)

        def view_pullback(dy):
            values = item_tangents(dy, len(keys))
            if pairs:
                values = [item_tangents(t, 2)[1] for t in values]
            return NoTangent(), Tangent.from_backing(type(d), dict(zip(keys, values, strict=True)))

        return list(method(d)), view_pullback

    def view_frule(tangents, d):
        _, dd = tangents
        y = list(method(d))
        if isinstance(dd, AbstractZero):
            return y, ZeroTangent()
        items = [Tangent(tuple, NoTangent(), dd[k]) if pairs else dd[k] for k in d]
        return y, Tangent.from_backing(list, tuple(items))

    rrule.add(method, (dict,), view_rrule)
    frule.add(method, (dict,), view_frule)


_register_view(dict.items, pairs=True)
_register_view(dict.values, pairs=False)


@rrule.register(dict.keys, dict)
def _(d):
    return list(d), lambda dy: (NoTangent(), NoTangent())


@frule.register(dict.keys, dict)
def _(tangents, d):
    return list(d), NoTangent()


@rrule.register(dict.get, dict, object, Variadic[object])
def _(d, key, *default):
    present = key in d
    y = d.get(key, *default)
    project_y, project_default = ProjectTo(y), tuple(map(ProjectTo, default))

    def get_pullback(dy):
        if present:
            return (
                NoTangent(),
                Tangent.from_backing(type(d), {key: project_y(dy)}),
                NoTangent(),
                *(ZeroTangent() for _ in default),
            )
        return NoTangent(), ZeroTangent(), NoTangent(), *(p(dy) for p in project_default)

    return y, get_pullback


@frule.register(dict.get, dict, object, Variadic[object])
def _(tangents, d, key, *default):
    _, dd, _, *ddefault = tangents
    if key in d:
        return d[key], dd[key]
    return d.get(key, *default), ddefault[0] if ddefault else NoTangent()


# --- zip, enumerate -----------------------------------------------------------------------------

# What zip and map take besides sequences: an iterator (itertools.count(), itertools.repeat(c), a
# generator) is read in step with the sequences, only as far as the shortest, and has no tangent:
# its state is consumed, and nothing here can say where its items came from. So its tangent in a
# forward rule must be zero, and an iterator class written in Python (whose __next__ may read
# state that carries one) is left to the AD engine.
ZIPPABLE = (*_ITERABLES, Iterator)


def readable(seqs: tuple, tangents: tuple | None = None) -> bool:
    """Whether zip's and map's rules read ``seqs``: each a sequence, or an iterator that is a
    generator or of a type made in C (``itertools``, the builtins) and, with the forward rule's
    ``tangents``, has a zero tangent.

    Example:
        >>> import itertools
        >>> seqs = ([1.0], itertools.count())
        >>> readable(seqs), readable(seqs, (None, None, 1.0))
        (True, False)
    """
    for i, x in enumerate(seqs):
        if isinstance(x, _ITERABLES):
            continue
        if type(getattr(type(x), "__next__", None)) is FunctionType:
            return False  # an iterator class written in Python
        if tangents is not None and not isinstance(tangents[i + 1], AbstractZero):
            return False
    return True


def _zip_tangent(seq: Any, rows: list, j: int) -> Any:
    """The tangent of the ``j``-th argument of zip from the tangents of the rows it made."""
    if not isinstance(seq, _ITERABLES):
        return NoTangent()  # an iterator
    return tangent_of(
        seq, [rows[i][j] if i < len(rows) else ZeroTangent() for i in range(len(seq))]
    )


@rrule.register(zip, Variadic[ZIPPABLE])
def _(*seqs, **strict):
    if not readable(seqs):
        return None
    y = list(zip(*seqs, **strict))

    def zip_pullback(dy):
        rows = [item_tangents(t, len(seqs)) for t in item_tangents(dy, len(y))]
        return NoTangent(), *(_zip_tangent(seq, rows, j) for j, seq in enumerate(seqs))

    return y, zip_pullback


@frule.register(zip, Variadic[ZIPPABLE])
def _(tangents, *seqs, **strict):
    if not readable(seqs, tangents):
        return None
    y = list(zip(*seqs, **strict))
    columns = [
        item_tangents(d, len(seq)) if isinstance(seq, _ITERABLES) else [ZeroTangent()] * len(y)
        for d, seq in zip(tangents[1:], seqs, strict=True)
    ]
    rows = (sequence_tangent(row, [column[i] for column in columns]) for i, row in enumerate(y))
    return y, sequence_tangent(y, list(rows))


@rrule.register(enumerate, _ITERABLES, Variadic[numbers.Integral])
def _(seq, *start, **keyword_start):
    y = list(enumerate(seq, *start, **keyword_start))

    def enumerate_pullback(dy):
        items = [item_tangents(t, 2)[1] for t in item_tangents(dy, len(y))]
        return NoTangent(), tangent_of(seq, items), *(NoTangent() for _ in start)

    return y, enumerate_pullback


@frule.register(enumerate, _ITERABLES, Variadic[numbers.Integral])
def _(tangents, seq, *start, **keyword_start):
    y = list(enumerate(seq, *start, **keyword_start))
    items = item_tangents(tangents[1], len(seq))
    return y, sequence_tangent(
        y, [sequence_tangent(pair, (NoTangent(), d)) for pair, d in zip(y, items, strict=True)]
    )
