"""``Tangent``: the structural tangent of a composite value (dataclass, object, NamedTuple, tuple, list, dict)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from chainrules_core.tangents.abstract_zero import AbstractZero, ZeroTangent


def _is_namedtuple_type(primal_type: type) -> bool:
    return issubclass(primal_type, tuple) and hasattr(primal_type, "_fields")


def _field_names(primal_type: type) -> tuple[str, ...] | None:
    """The declared fields of a dataclass or NamedTuple type, or ``None`` when it declares none."""
    if dataclasses.is_dataclass(primal_type):
        return tuple(f.name for f in dataclasses.fields(primal_type))
    if _is_namedtuple_type(primal_type):
        return tuple(primal_type._fields)
    return None


class Tangent:
    """The tangent of a composite value of type ``P``, one tangent per field or item.

    ``Tangent(P, x=dx, y=dy)`` for dataclasses, NamedTuples and plain objects (fields by name);
    ``Tangent(tuple, d0, d1)`` and ``Tangent(list, d0, d1)`` for sequences (items by position);
    ``Tangent(dict, {"k": dk})`` or ``Tangent(dict, k=dk)`` for dicts. A missing field is zero.
    Tangents of the same ``P`` add fieldwise and scale by numbers.

    Example:
        >>> from dataclasses import dataclass
        >>> from chainrules_core import Tangent
        >>> @dataclass
        ... class Point:
        ...     x: float
        ...     y: float
        >>> t = Tangent(Point, x=0.55, y=0.83)
        >>> t
        Tangent[Point](x=0.55, y=0.83)
        >>> t.x
        0.55
        >>> (t + Tangent(Point, x=1.0)).x
        1.55
        >>> 2 * Tangent(tuple, 1.0, 2.0)
        Tangent[tuple](2.0, 4.0)
        >>> Tangent(dict, {"a": 1.0})["b"]
        ZeroTangent()
    """

    __slots__ = ("backing", "primal_type")
    __array_ufunc__ = None
    __hash__ = None  # mutable-looking value semantics: equal tangents must not need equal hashes

    def __init__(self, primal_type: type, *items: Any, **fields: Any):
        if not isinstance(primal_type, type):
            raise TypeError(
                f"Tangent's first argument must be the primal's type, got {primal_type!r}"
            )
        if items and fields:
            raise TypeError(
                "Tangent takes either items (by position) or fields (by name), not both"
            )
        self.primal_type = primal_type
        if issubclass(primal_type, dict):
            if len(items) > 1:
                raise TypeError("Tangent(dict, ...) takes one mapping of keys to tangents")
            self.backing = dict(items[0]) if items else fields
        elif items or (issubclass(primal_type, (tuple, list)) and not fields):
            self.backing = items
        else:
            names = _field_names(primal_type)
            if names is not None and not set(fields) <= set(names):
                unknown = sorted(set(fields) - set(names))
                raise TypeError(f"{primal_type.__name__} has no field(s) {', '.join(unknown)}")
            self.backing = fields

    @classmethod
    def from_backing(cls, primal_type: type, backing: tuple | dict) -> Tangent:
        """Build a tangent directly from its backing tuple or dict (no validation)."""
        t = object.__new__(cls)
        t.primal_type = primal_type
        t.backing = backing
        return t

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails, so slots and methods are unaffected; dunders must
        # still fail for copy/pickle/numpy protocols.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        backing = object.__getattribute__(self, "backing")
        if not isinstance(backing, dict):
            raise AttributeError(
                f"a tangent of a {self.primal_type.__name__} has items, not field {name!r}"
            )
        return backing.get(name, ZeroTangent())

    def __getitem__(self, key: Any) -> Any:
        backing = self.backing
        if isinstance(backing, tuple):
            return backing[key]
        if isinstance(key, int) and _is_namedtuple_type(self.primal_type):
            key = self.primal_type._fields[key]
        return backing.get(key, ZeroTangent())

    def __len__(self) -> int:
        return len(self.backing)

    def __iter__(self):
        if isinstance(self.backing, tuple):
            return iter(self.backing)
        if _is_namedtuple_type(self.primal_type):
            return (self.backing.get(name, ZeroTangent()) for name in self.primal_type._fields)
        raise TypeError(
            f"a tangent of a {self.primal_type.__name__} is not iterable; use .backing or field access"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tangent) or other.primal_type is not self.primal_type:
            return NotImplemented if not isinstance(other, Tangent) else False
        a, b = self.backing, other.backing
        if isinstance(a, tuple) != isinstance(b, tuple):
            return False
        if isinstance(a, tuple):
            return len(a) == len(b) and all(map(_tangent_equal, a, b))
        zero = ZeroTangent()
        return all(_tangent_equal(a.get(k, zero), b.get(k, zero)) for k in a.keys() | b.keys())

    def __repr__(self) -> str:
        name = self.primal_type.__name__
        backing = self.backing
        if isinstance(backing, tuple):
            body = ", ".join(map(repr, backing))
        elif issubclass(self.primal_type, dict):
            body = repr(backing)
        else:
            body = ", ".join(f"{k}={v!r}" for k, v in backing.items())
        return f"Tangent[{name}]({body})"


def _tangent_equal(a: Any, b: Any) -> bool:
    if isinstance(a, AbstractZero) or isinstance(b, AbstractZero):
        return _is_zero(a) and _is_zero(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)


def _is_zero(x: Any) -> bool:
    if isinstance(x, AbstractZero):
        return True
    if isinstance(x, Tangent):
        values = x.backing if isinstance(x.backing, tuple) else x.backing.values()
        return all(map(_is_zero, values))
    try:
        return not np.any(x)
    except (TypeError, ValueError):
        return False


def canonicalize(t: Tangent) -> Tangent:
    """Return ``t`` with every declared field of its dataclass or NamedTuple present, in declared order.

    Missing fields become ``ZeroTangent()``. Tangents of other types are returned unchanged.

    Example:
        >>> from typing import NamedTuple
        >>> from chainrules_core import Tangent, canonicalize
        >>> class P(NamedTuple):
        ...     a: float
        ...     b: float
        >>> canonicalize(Tangent(P, b=1.0))
        Tangent[P](a=ZeroTangent(), b=1.0)
    """
    names = _field_names(t.primal_type)
    if names is None or isinstance(t.backing, tuple):
        return t
    zero = ZeroTangent()
    return Tangent.from_backing(t.primal_type, {name: t.backing.get(name, zero) for name in names})
