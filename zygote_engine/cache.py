"""Transforms cached per code object, and forwards built per function object.

A redefined function has a new code object, hence a new transform; registering a rule needs no
invalidation because generated code asks the rule registry at every call (``DIRECT``, which skips
that question for Python functions without rules, is checked against the registry's generation).
Besides the code, the
generated code depends only on which free names are modules or global state when the function is
first transformed (so ``np.sin`` stays an attribute, and a global container's cotangent is
deposited); rebinding such a global to a different kind of value needs ``refresh()``, which
forgets everything.
"""

from __future__ import annotations

import gc
import inspect
import threading
import types
import weakref
from typing import Any

from zygote_engine.transform import transform

__all__ = ["RUNTIME_OBJECTS", "forward_for", "refresh", "transformed"]

RUNTIME_OBJECTS: dict[str, Any] = {}  # filled by zygote_engine.runtime
_runtime_cells: dict[str, types.CellType] = {}

# The code objects of generated backward passes: a pullback running one is the engine's own.
BACKWARD_CODES: set[types.CodeType] = set()

# Python functions found to have no rule, by id: ``(weakref to fn, arity, rule generation when
# found, forward)``; ``runtime.call`` calls their forward at once while the generation is current.
DIRECT: dict[int, tuple[weakref.ref, int, int, types.FunctionType]] = {}

# The generated forward's code per code object of the user's; not the generated AST, which is
# large and which ``show_adjoint`` (rarely called) regenerates.
_transforms: dict[types.CodeType, types.CodeType] = {}
_forwards: dict[int, tuple[weakref.ref, types.FunctionType, int]] = {}
_lock = threading.Lock()
transform_count = 0  # how many transforms ran (tests use it to see cache hits)


def transformed(fn: types.FunctionType) -> types.CodeType:
    """The code of the generated forward of ``fn``'s code object (transformed once, then cached)."""
    global transform_count
    found = _transforms.get(fn.__code__)
    if found is None:
        result = _without_collections(transform, fn)
        found = result.code
        BACKWARD_CODES.add(result.backward_code)
        with _lock:
            transform_count += 1
            _transforms[fn.__code__] = found
    return found


def _without_collections(f, *args):
    """``f(*args)`` with the cyclic garbage collector paused.

    A transform allocates tens of thousands of AST nodes, enough to set off several collections,
    and a full one costs tens of milliseconds in a process that has imported scipy. None of them
    can free anything: the nodes are alive until the transform ends, and then reference counting
    frees them (which also brings the collector's allocation count back down).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return f(*args)
    finally:
        if enabled:
            gc.enable()


def forward_for(fn: types.FunctionType) -> tuple[types.FunctionType, int]:
    """``(forward, arity)``: the generated forward of ``fn``, bound to ``fn``'s globals, defaults
    and closure cells, and the number of positional arguments for which its tangents are one per
    argument (-1 where ``fn`` takes ``*args``, ``**kwargs`` or keyword-only parameters)."""
    entry = _forwards.get(id(fn))
    if entry is not None and entry[0]() is fn:
        return entry[1], entry[2]
    forward = _build(fn, transformed(fn))
    code = fn.__code__
    plain = not (code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS))
    arity = code.co_argcount if plain and not code.co_kwonlyargcount else -1
    key = id(fn)
    ref = weakref.ref(fn, lambda _, key=key: _forwards.pop(key, None))
    _forwards[key] = (ref, forward, arity)
    return forward, arity


def remember_direct(
    fn: types.FunctionType, arity: int, generation: int, forward: types.FunctionType
) -> None:
    """Record that ``fn``, called with ``arity`` positional arguments, has no rule (see DIRECT)."""
    key = id(fn)
    ref = weakref.ref(fn, lambda _, key=key: DIRECT.pop(key, None))
    DIRECT[key] = (ref, arity, generation, forward)


def _build(fn: types.FunctionType, code: types.CodeType) -> types.FunctionType:
    if not _runtime_cells:
        _runtime_cells.update({k: types.CellType(v) for k, v in RUNTIME_OBJECTS.items()})
    user_cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    closure = tuple(_runtime_cells.get(name) or user_cells[name] for name in code.co_freevars)
    forward = types.FunctionType(code, fn.__globals__, code.co_name, fn.__defaults__, closure)
    forward.__kwdefaults__ = fn.__kwdefaults__
    return forward


def refresh() -> None:
    """Forget every cached transform (the next call of each function transforms it again).

    Meant for between differentiations: a backward pass still pending from before would no longer
    be recognised as the engine's own."""
    with _lock:
        _transforms.clear()
        _forwards.clear()
        DIRECT.clear()
        BACKWARD_CODES.clear()
