"""What the three adapters share: a call taken apart into engine arrays and everything else, and
the rule's tangents put back together, one per engine array.

An engine sees only arrays, as flat positional arguments; a rule sees the call as it was written.
:func:`split_call` takes each engine array out of the positional arguments (also out of tuples and
lists, such as the arrays that ``np.concatenate`` joins) and leaves a *skeleton*: the arguments with
:data:`ARRAY` in each array's place. Ints, strings, ``None``, Python floats and the keyword
arguments stay in the skeleton: they are constants, passed to the rule unchanged and never
differentiated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrules_core import AbstractZero, NoTangent, Tangent, ZeroTangent, frule, rrule, unthunk


class _ArraySlot:
    """The marker of an engine array's place in a skeleton (hashable, so skeletons can key caches)."""

    def __repr__(self) -> str:
        return "ARRAY"


ARRAY = _ArraySlot()
_SEQUENCES = (tuple, list)


def function_name(f: Any) -> str:
    """``module.qualname`` of ``f``, for messages."""
    module = getattr(f, "__module__", None)
    name = getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f)
    return f"{module}.{name}" if module and module != "builtins" else name


def require_rrule(f: Any, adapter: str) -> None:
    """Raise ``TypeError`` at wrap time when ``f`` has no ``rrule`` at all."""
    if not rrule.has_rules(f):
        name = function_name(f)
        raise TypeError(
            f"{adapter}({name}): {name} has no rrule, so there is no derivative to hand to the "
            f"engine; register one first (`@rrule.register({name})` from chainrules_core, or import "
            "the chainrules module that defines it)"
        )


def split_call(args: tuple, is_array: Callable[[Any], bool]) -> tuple[list, tuple]:
    """``(arrays, skeleton)``: the engine arrays among ``args``, in order, and ``args`` without them."""
    arrays: list = []

    def take(value):
        if is_array(value):
            arrays.append(value)
            return ARRAY
        if type(value) in _SEQUENCES:
            return type(value)(take(item) for item in value)
        return value

    return arrays, tuple(take(value) for value in args)


def fill(skeleton: tuple, arrays: list) -> tuple:
    """The positional arguments of the call: ``skeleton`` with ``arrays`` in their places."""
    remaining = iter(arrays)

    def put(slot):
        if slot is ARRAY:
            return next(remaining)
        if type(slot) in _SEQUENCES:
            return type(slot)(put(item) for item in slot)
        return slot

    return tuple(put(slot) for slot in skeleton)


def _holds_arrays(slot: Any) -> bool:
    return slot is ARRAY or (type(slot) in _SEQUENCES and any(map(_holds_arrays, slot)))


def array_cotangents(skeleton: tuple, dargs: tuple) -> list:
    """One cotangent per engine array, from the pullback's cotangents of the positional arguments.

    A sequence argument's cotangent (a ``Tangent(tuple, ...)``, a plain sequence or a zero) is
    split item by item; a zero stays a zero (``ZeroTangent`` or ``NoTangent``), a thunk stays a
    thunk, so that an engine can skip the cotangents it does not need without computing them.
    """
    cotangents: list = []

    def collect(slot, d):
        if slot is ARRAY:
            cotangents.append(d)
        elif _holds_arrays(slot):
            d = unthunk(d)
            items = (
                [d] * len(slot) if isinstance(d, AbstractZero) else [d[i] for i in range(len(slot))]
            )
            for item_slot, item in zip(slot, items):
                collect(item_slot, item)

    for slot, d in zip(skeleton, dargs):
        collect(slot, d)
    return cotangents


def argument_tangents(skeleton: tuple, array_tangents: list) -> tuple:
    """The ``frule`` tangents of the positional arguments, given one tangent per engine array.

    Constants get ``ZeroTangent`` when they are numbers that have a tangent space (floats) and
    ``NoTangent`` otherwise (ints, strings, ``None``).
    """
    remaining = iter(array_tangents)

    def tangent(slot):
        if slot is ARRAY:
            return next(remaining)
        if _holds_arrays(slot):
            return Tangent(type(slot), *map(tangent, slot))
        if isinstance(slot, (float, complex)):
            return ZeroTangent()
        return NoTangent()

    return tuple(map(tangent, skeleton))


def output_parts(y: Any) -> tuple[list, type | None]:
    """``(parts, container)``: a tuple or list output is its items, any other output one part."""
    if isinstance(y, _SEQUENCES):
        return list(y), type(y)
    return [y], None


def rebuild_output(parts: list | tuple, container: type | None) -> Any:
    """The inverse of :func:`output_parts` (NamedTuples such as ``slogdet``'s keep their type)."""
    if container is None:
        return parts[0]
    if hasattr(container, "_fields"):
        return container(*parts)
    return container(parts)


def output_cotangent(dys: list, container: type | None) -> Any:
    """The cotangent of the rule's output from one cotangent per part (``None`` is zero)."""
    dys = [ZeroTangent() if dy is None else dy for dy in dys]
    if container is None:
        return dys[0]
    if all(isinstance(dy, AbstractZero) for dy in dys):
        return ZeroTangent()
    fields = getattr(container, "_fields", None)
    if fields is not None:
        return Tangent(container, **dict(zip(fields, dys)))
    return Tangent(container, *dys)


def output_tangent_parts(dy: Any, count: int) -> list:
    """One tangent per output part from an ``frule``'s output tangent (a ``Tangent``, sequence or zero)."""
    dy = unthunk(dy)
    if count == 1 and not isinstance(dy, (Tangent, *_SEQUENCES)):
        return [dy]
    if isinstance(dy, AbstractZero):
        return [dy] * count
    return [unthunk(dy[i]) for i in range(count)]


def as_array(d: Any, like: Any) -> np.ndarray:
    """``d`` (a tangent, possibly a thunk or a zero) as a numpy array of ``like``'s shape and dtype."""
    d = unthunk(d)
    like = np.asarray(like)
    if isinstance(d, AbstractZero):
        return np.zeros(like.shape, like.dtype)
    return np.asarray(d, dtype=like.dtype)


def run_rrule(f: Any, skeleton: tuple, arrays: list, kwargs: dict) -> tuple:
    """``(y, pullback)`` of ``f`` on numpy ``arrays`` put back into the call."""
    args = fill(skeleton, arrays)
    found = rrule(f, *args, **kwargs)
    if found is None:
        raise TypeError(
            f"{function_name(f)} has rules, but none for arguments of types "
            f"({', '.join(type(a).__name__ for a in args)}); register one for these types"
        )
    return found


def run_frule(f: Any, skeleton: tuple, arrays: list, array_tangents: list, kwargs: dict) -> tuple:
    """``(y, dy)`` of ``f``'s ``frule`` on numpy ``arrays`` and their tangents."""
    args = fill(skeleton, arrays)
    tangents = (NoTangent(), *argument_tangents(skeleton, array_tangents))
    found = frule(tangents, f, *args, **kwargs)
    if found is None:
        raise NotImplementedError(
            f"forward mode through {function_name(f)} needs an frule for it, and there is none for "
            f"arguments of types ({', '.join(type(a).__name__ for a in args)}); register one, or "
            "use reverse mode"
        )
    return found
