"""The tangent table: forward mode's tangents of mutable objects, kept with the objects.

In forward mode an immutable value's tangent travels beside it in a variable (``dx`` beside
``x``). A mutable object's cannot: it may be reached through several names, a global, an
attribute or an item, and changed through any of them. So the tangent of a list, a dict or an
object with attributes lives in this table, keyed by the object's identity, and mutation
mirrors into it: ``xs.append(v)`` appends ``dv`` to the entry of ``xs``, ``obj.w = v`` sets the
entry's ``"w"``. The tangent a variable holds beside such an object is never read.

An entry is a list of item tangents for a list (kept the same length), a dict from key to tangent
for a dict, a dict from attribute name to tangent for an object; a missing key is a zero tangent.
Rules from the rule library, which know nothing of the table, see the conventional structural
tangent (:meth:`TangentTable.tangent`), and their fresh lists and dicts are entered
(:meth:`TangentTable.record`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core import AbstractZero, Tangent, ZeroTangent, unthunk
from zygote_engine.array_writes import ForwardWrites
from zygote_engine.store import contents_of, is_tracked

__all__ = ["TangentTable", "reaches_tracked"]

_ZERO = ZeroTangent()


def reaches_tracked(x: Any) -> bool:
    """Whether ``x`` is, or is a tuple holding, a mutable object whose tangent is in the table."""
    if type(x) is tuple:
        return any(reaches_tracked(item) for item in x)
    return is_tracked(x)


class TangentTable:
    """The tangents of the mutable objects of one forward-mode differentiation.

    Example:
        >>> table = TangentTable()
        >>> xs = [1.0, 2.0]
        >>> table.record(xs, [0.5, 0.0])
        >>> xs.append(3.0); table.entry(xs).append(1.0)
        >>> table.tangent(xs, None)
        Tangent[list](0.5, 0.0, 1.0)
    """

    __slots__ = ("tangents", "written")

    def __init__(self) -> None:
        self.tangents: dict[int, tuple[Any, list | dict]] = {}
        # arrays written in place, and the views rules made (see zygote_engine.array_writes)
        self.written: ForwardWrites | None = None

    def array_writes(self) -> ForwardWrites:
        """The record of in-place array writes and of views (created when first needed)."""
        if self.written is None:
            self.written = ForwardWrites()
        return self.written

    def entry(self, obj: Any) -> list | dict:
        """The tangent entry of ``obj``, created with zero tangents (``obj`` is kept alive)."""
        found = self.tangents.get(id(obj))
        if found is None:
            entry = [_ZERO] * len(obj) if isinstance(obj, list) else {}
            found = self.tangents[id(obj)] = (obj, entry)
        return found[1]

    def has(self, obj: Any) -> bool:
        """Whether ``obj`` has an entry (an object with ``__slots__`` gets one when written)."""
        return id(obj) in self.tangents

    def item(self, obj: Any, key: Any) -> Any:
        """The tangent of ``obj[key]`` (or of the attribute ``key``); zero if none was recorded."""
        found = self.tangents.get(id(obj))
        if found is None:
            return _ZERO
        entry = found[1]
        if type(entry) is list:  # (the attributes of a list subclass have no tangents)
            return entry[key] if type(key) is int else _ZERO
        return entry.get(key, _ZERO)

    def record(self, obj: Any, dobj: Any) -> None:
        """Enter ``dobj``, a structural tangent of the whole of the new object ``obj``.

        Mutable objects it holds (also inside tuples) that have no entry get theirs from their
        parts of ``dobj``; objects already in the table keep their entries (``dobj`` may be a
        copy of what the table holds, handed out by :meth:`tangent`).
        """
        if type(obj) is tuple:
            for x, dx in zip(obj, _items(dobj, obj)):
                if reaches_tracked(x):
                    self.record(x, dx)
            return
        if not is_tracked(obj) or id(obj) in self.tangents:
            return
        if isinstance(obj, list):
            items = _items(dobj, obj)
            self.tangents[id(obj)] = (obj, items)
            pairs = zip(obj, items)
        else:
            fields = _fields(dobj)
            self.tangents[id(obj)] = (obj, fields)
            held = obj if isinstance(obj, dict) else contents_of(obj)
            pairs = ((held[k], d) for k, d in fields.items() if k in held)
        for x, dx in pairs:
            if reaches_tracked(x):
                self.record(x, dx)

    def tangent(self, x: Any, dx: Any, _seen: frozenset = frozenset()) -> Any:
        """The whole structural tangent of ``x`` as the rule library writes it.

        ``dx`` is the tangent that travelled beside ``x``; for a mutable object the table's entry
        is used instead. A list gives ``Tangent(list, ...)``, a dict ``Tangent(dict, ...)``,
        another object ``Tangent(type(x), ...)``, anything all zero ``ZeroTangent()``.
        """
        if type(x) is tuple:
            if not any(reaches_tracked(item) for item in x):
                return dx
            items = [self.tangent(item, d, _seen) for item, d in zip(x, _items(dx, x))]
            if all(isinstance(d, AbstractZero) for d in items):
                return _ZERO
            if hasattr(type(x), "_fields"):
                return Tangent.from_backing(type(x), dict(zip(type(x)._fields, items)))
            return Tangent.from_backing(tuple, tuple(items))
        found = self.tangents.get(id(x))
        if not is_tracked(x) and found is None:
            written = self.written
            if type(x) is np.ndarray and written is not None and written.holds(x):
                return written.tangent_of(x)  # an array written in place: its shadow's
            return dx
        if found is None or id(x) in _seen:
            return _ZERO
        seen = _seen | {id(x)}
        entry = found[1]
        if isinstance(x, list):  # (a subclass's items: its entry is a list too)
            items = [self.tangent(item, d, seen) for item, d in zip(x, entry)]
            if all(isinstance(d, AbstractZero) for d in items):
                return _ZERO
            return Tangent.from_backing(list, tuple(items))
        held = x if isinstance(x, dict) else contents_of(x)
        fields = {k: self.tangent(v, entry.get(k, _ZERO), seen) for k, v in held.items()}
        fields = {k: d for k, d in fields.items() if not isinstance(d, AbstractZero)}
        if not fields:
            return _ZERO
        return Tangent.from_backing(type(x), fields)


def _items(dx: Any, xs: Any) -> list:
    """The item tangents of ``dx``, a tangent (``Tangent``, list, tuple or zero) of ``xs``."""
    n = len(xs)
    dx = unthunk(dx)
    if dx is None or isinstance(dx, AbstractZero):
        return [_ZERO] * n
    if isinstance(dx, Tangent):
        backing = dx.backing
        if isinstance(backing, dict):  # a NamedTuple's, by field (empty: all zero)
            return [backing.get(k, _ZERO) for k in getattr(type(xs), "_fields", ())] or [_ZERO] * n
        return list(backing)
    return list(dx)


def _fields(dx: Any) -> dict:
    """The fields (or keys) of a structural tangent of a dict or an object, as a new dict."""
    dx = unthunk(dx)
    if dx is None or isinstance(dx, AbstractZero):
        return {}
    if isinstance(dx, Tangent):
        return dict(dx.backing)
    return dict(dx)
