"""The mutation store: reverse mode's cotangents of mutable objects, kept with the objects.

Cotangents of mutable objects (lists, dicts, objects with attributes, and arrays reached by
identity) are keyed by ``id(obj)``. Reads of a container (``d["x"]``, ``obj.w``) accumulate into
the store in the backward pass, writes (``d["x"] = v``, ``xs.append(v)``) take their entry out
again, so aliasing and globals work: the cotangent of a container lives with the container, not
with the variable that names it.
"""

from __future__ import annotations

import functools
import types
from typing import Any

import numpy as np

from chainrules_core import AbstractZero, NoTangent, Tangent, ZeroTangent, add, unthunk
from chainrules_core.arrays import is_duck_array
from zygote_engine.array_writes import ArrayWrites

__all__ = ["WHOLE", "ZERO_TYPES", "MutationStore", "contents_of", "is_tracked"]

WHOLE = object()  # store key of a tangent that is not split into fields (an array's, say)

ZERO_TYPES = frozenset({ZeroTangent, NoTangent})  # the exact types of the zero tangents
# Values that are never in the store themselves: their cotangent is whatever their container holds.
_IMMUTABLE = frozenset({float, int, complex, bool, str, bytes, type(None)})

_UNTRACKED = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    np.ndarray,
    np.generic,
    np.ufunc,  # numpy 2 gives ufuncs a __dict__; they hold nothing differentiable
    functools.partial,  # its tangent flows beside it (see runtime._make_partial)
)


# The commonest results of a call, answered before the attribute lookup (rule calls ask this).
_PLAIN = frozenset({float, int, bool, complex, tuple, type(None), np.ndarray, np.float64})


def is_tracked(x: Any) -> bool:
    """Whether ``x`` is a mutable object whose cotangent lives in the store."""
    tx = type(x)
    if tx in _PLAIN:
        return False
    return (
        tx is list
        or tx is dict
        or (hasattr(x, "__dict__") and not isinstance(x, _UNTRACKED) and not is_duck_array(x))
    )


class MutationStore:
    """The store of one reverse-mode differentiation: ``{id(obj): (obj, {key: cotangent})}``.

    Example:
        >>> store = MutationStore()
        >>> d = {"x": 5.0}
        >>> store.accumulate(d, "x", 2.0); store.accumulate(d, "x", 1.0)
        >>> store.take(d, "x")
        3.0
    """

    __slots__ = ("assigned", "store", "written")

    def __init__(self) -> None:
        self.store: dict[int, tuple[Any, dict]] = {}
        # the module globals this differentiation assigned, (id(module), name) (see
        # zygote_engine/lib/module_state.py); None until the first
        self.assigned: set | None = None
        # the arrays written in place, from the first write on (see zygote_engine.array_writes)
        self.written: ArrayWrites | None = None

    def array_writes(self) -> ArrayWrites:
        """The record of in-place array writes of this differentiation (created at the first)."""
        if self.written is None:
            self.written = ArrayWrites()
        return self.written

    def start_backward(self, y: Any, dy: Any, returns_container: bool) -> Any:
        """The cotangent a backward pass from the result ``y`` starts with, the store emptied
        (it is backward-pass state): ``dy`` routed to arrays written in place, and, for a
        returned list or dict, deposited in the store (whence zero)."""
        self.store = {}
        if self.written is not None:
            dy = self.written.route(y, dy)
        if returns_container:
            self.deposit(y, dy)
            dy = ZeroTangent()
        return dy

    def entries(self, obj: Any) -> dict:
        """The store's cotangent entries of ``obj`` (created empty; ``obj`` is kept alive)."""
        found = self.store.get(id(obj))
        if found is None:
            found = self.store[id(obj)] = (obj, {})
        return found[1]

    def accumulate(self, obj: Any, key: Any, dx: Any) -> None:
        """Add ``dx`` to the cotangent of ``obj[key]`` (or of attribute ``key``)."""
        if isinstance(dx, AbstractZero):
            return
        entries = self.entries(obj)
        old = entries.get(key)
        entries[key] = dx if old is None else add(old, dx)

    def accumulate_items(self, obj: Any, items: list) -> None:
        """Add ``items[i]`` to the cotangent of ``obj[i]`` for every ``i`` (zeros are skipped)."""
        entries = self.entries(obj)
        if entries:
            for i, dx in enumerate(items):
                self.accumulate(obj, i, dx)
        elif ZERO_TYPES.isdisjoint(map(type, items)):  # a first deposit, no zero: no additions
            entries.update(enumerate(items))
        else:
            entries.update((i, dx) for i, dx in enumerate(items) if type(dx) not in ZERO_TYPES)

    def take(self, obj: Any, key: Any) -> Any:
        """Remove and return the cotangent of ``obj[key]``: the write that made it is being undone."""
        found = self.store.get(id(obj))
        if found is None:
            return ZeroTangent()
        return found[1].pop(key, ZeroTangent())

    def deposit(self, obj: Any, dx: Any) -> None:
        """Add a whole tangent of ``obj`` (structural, or an array's) to the store, item by item."""
        if isinstance(obj, np.ndarray):  # never split: a thunk stays unevaluated until read
            self.accumulate(obj, WHOLE, dx)
            return
        dx = unthunk(dx)
        if isinstance(dx, AbstractZero):
            return
        if isinstance(dx, Tangent):
            backing = dx.backing
            items = enumerate(backing) if isinstance(backing, tuple) else backing.items()
        elif type(dx) in (list, tuple):
            items = enumerate(dx)
        elif type(dx) is dict:
            items = dx.items()
        else:
            self.accumulate(obj, WHOLE, dx)
            return
        for key, value in items:
            self.accumulate(obj, key, value)

    def release(self, obj: Any, flow: Any, snapshot: list | tuple | dict) -> Any:
        """Take out the cotangent of a container at the point where it was created.

        ``snapshot`` is the container's contents at creation (lists and dicts may have changed
        since). Only ``obj``'s own entries are taken: containers held inside it keep theirs, by
        identity, for the operations that filled them. Gives ``Tangent(list, ...)`` for
        sequences, ``Tangent(dict, ...)`` for dicts, or ``ZeroTangent()``.
        """
        if flow is not None and not isinstance(flow, AbstractZero):
            self.deposit(obj, flow)
        found = self.store.pop(id(obj), None)
        if found is None or not found[1]:
            return ZeroTangent()
        entries, zero = found[1], ZeroTangent()
        if isinstance(snapshot, dict):
            return Tangent.from_backing(dict, {k: entries[k] for k in snapshot if k in entries})
        return Tangent.from_backing(list, tuple(entries.get(i, zero) for i in range(len(snapshot))))

    def resolve(
        self, obj: Any, flow: Any = None, contents: Any = None, _seen: frozenset = frozenset()
    ) -> Any:
        """The complete cotangent of ``obj``: ``flow`` plus what the store holds for it and its parts.

        ``contents`` is what ``obj`` held when the differentiated call began (see :func:`contents`);
        by default, what it holds now. Entries are removed from the store. Lists give
        ``Tangent(list, ...)``, dicts ``Tangent(dict, ...)``, other objects ``Tangent(type(obj), ...)``;
        an object with no cotangent gives ``ZeroTangent()``.
        """
        if flow is not None and type(flow) not in ZERO_TYPES:
            self.deposit(obj, flow)
        found = self.store.pop(id(obj), None)
        entries = found[1] if found is not None else {}
        if id(obj) in _seen or not (entries or is_tracked(obj) or type(obj) is tuple):
            return entries.get(WHOLE, ZeroTangent())
        seen = _seen | {id(obj)}
        held = contents_of(obj) if contents is None else contents
        if isinstance(obj, tuple) and hasattr(type(obj), "_fields"):  # a NamedTuple: by field
            fields = {
                k: self._part(v, entries.get(k, entries.get(i)), seen)
                for i, (k, v) in enumerate(zip(obj._fields, obj))
            }
        elif isinstance(obj, (list, tuple)):
            zero = ZeroTangent()
            if _IMMUTABLE.issuperset(map(type, held)):  # numbers: their cotangents as they are
                get = entries.get
                items = [get(i, zero) for i in range(len(held))]
            else:
                items = [
                    entries.get(i, zero)
                    if type(x) in _IMMUTABLE
                    else self._part(x, entries.get(i), seen)
                    for i, x in enumerate(held)
                ]
            if ZERO_TYPES.issuperset(map(type, items)):
                return ZeroTangent()
            return Tangent.from_backing(type(obj), tuple(items))
        else:
            fields = {k: self._part(v, entries.get(k), seen) for k, v in held.items()}
        fields = {k: v for k, v in fields.items() if not isinstance(v, AbstractZero)}
        if not fields:
            return entries.get(WHOLE, ZeroTangent())
        return Tangent.from_backing(type(obj), fields)

    def _part(self, x: Any, dx: Any, seen: frozenset) -> Any:
        if is_tracked(x) or type(x) is tuple or id(x) in self.store:
            return self.resolve(x, dx, _seen=seen)
        return ZeroTangent() if dx is None else dx


def contents_of(obj: Any) -> Any:
    """A shallow copy of what a container or object holds (its items, or its attributes)."""
    if isinstance(obj, (list, tuple)):
        return tuple(obj)
    if isinstance(obj, dict):
        return dict(obj)
    slots = _slot_names(type(obj))
    held = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
    # (a class may keep some attributes in __slots__ beside its __dict__: scipy's PPoly does)
    held.update((name, getattr(obj, name)) for name in slots if hasattr(obj, name))
    return held


@functools.cache
def _slot_names(cls: type) -> tuple[str, ...]:
    """The attributes that the ``__slots__`` of ``cls`` and its bases declare."""
    names = []
    for klass in cls.__mro__:
        slots = vars(klass).get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    return tuple(n for n in dict.fromkeys(names) if n not in ("__dict__", "__weakref__"))
