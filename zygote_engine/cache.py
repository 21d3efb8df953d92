"""Transforms cached per code object, and forwards built per function object.

A redefined function has a new code object, hence a new transform; registering a rule needs no
invalidation because generated code asks the rule registry at every call. Besides the code, the
generated code depends only on which free names are modules or global state when the function is
first transformed (so ``np.sin`` stays an attribute, and a global container's cotangent is
deposited); rebinding such a global to a different kind of value needs ``refresh()``, which
forgets everything.
"""

from __future__ import annotations

import threading
import types
import weakref
from typing import Any

from zygote_engine.transform import Transformed, transform

__all__ = ["RUNTIME_OBJECTS", "forward_for", "refresh", "transformed"]

RUNTIME_OBJECTS: dict[str, Any] = {}  # filled by zygote_engine.runtime
_runtime_cells: dict[str, types.CellType] = {}

_transforms: dict[types.CodeType, Transformed] = {}
_forwards: dict[int, tuple[weakref.ref, types.FunctionType]] = {}
_lock = threading.Lock()
transform_count = 0  # how many transforms ran (tests use it to see cache hits)


def transformed(fn: types.FunctionType) -> Transformed:
    """The (cached) transform of ``fn``'s code object."""
    global transform_count
    found = _transforms.get(fn.__code__)
    if found is None:
        found = transform(fn)
        with _lock:
            transform_count += 1
            _transforms[fn.__code__] = found
    return found


def forward_for(fn: types.FunctionType) -> types.FunctionType:
    """The generated forward of ``fn``, bound to ``fn``'s globals, defaults and closure cells."""
    entry = _forwards.get(id(fn))
    if entry is not None and entry[0]() is fn:
        return entry[1]
    forward = _build(fn, transformed(fn).code)
    key = id(fn)
    _forwards[key] = (weakref.ref(fn, lambda _, key=key: _forwards.pop(key, None)), forward)
    return forward


def _build(fn: types.FunctionType, code: types.CodeType) -> types.FunctionType:
    if not _runtime_cells:
        _runtime_cells.update({k: types.CellType(v) for k, v in RUNTIME_OBJECTS.items()})
    user_cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    closure = tuple(_runtime_cells.get(name) or user_cells[name] for name in code.co_freevars)
    forward = types.FunctionType(code, fn.__globals__, code.co_name, fn.__defaults__, closure)
    forward.__kwdefaults__ = fn.__kwdefaults__
    return forward


def refresh() -> None:
    """Forget every cached transform (the next call of each function transforms it again)."""
    with _lock:
        _transforms.clear()
        _forwards.clear()
