"""Transforms cached per code object, and forwards built per function object.

A redefined function has a new code object, hence a new transform; registering a rule needs no
invalidation because generated code asks the rule registry at every call (a ``Forward``'s
``ruleless_at``, which skips that question for Python functions without rules, is checked against
the registry's generation).
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

from chainrules_core import rrule
from zygote_engine import module_state
from zygote_engine.module_state import NAMESPACE
from zygote_engine.nonlocals import CELLS
from zygote_engine.reverse import SELF
from zygote_engine.transform import forget_generated, note_origin, transform, transform_jvp

__all__ = [
    "FORWARDS",
    "RUNTIME_OBJECTS",
    "VARIANTS",
    "Forward",
    "forward_for",
    "jvp_for",
    "refresh",
    "runs_itself",
    "transformed",
    "variant_for",
]

RUNTIME_OBJECTS: dict[str, Any] = {}  # filled by zygote_engine.runtime
_runtime_cells: dict[str, types.CellType] = {}

# The code objects of generated backward passes: a pullback running one is the engine's own.
BACKWARD_CODES: set[types.CodeType] = set()


class Forward:
    """The generated forward of one function object, bound to it, and what calls of it may skip.

    ``arity`` is the number of positional arguments for which the forward's tangents are one per
    argument (-1 where the function takes ``*args``, ``**kwargs`` or keyword-only parameters).
    ``ruleless_at`` is the rule generation at which the function was found to have no rule at all
    (-1: not known); while it is current, ``runtime.call<n>`` runs the forward without asking.
    """

    __slots__ = ("arity", "function", "ruleless_at", "run")

    def __init__(self, function: weakref.ref, run: types.FunctionType, arity: int):
        self.function, self.run, self.arity, self.ruleless_at = function, run, arity, -1


# Forwards by id of their function object, which the entries hold weakly.
FORWARDS: dict[int, Forward] = {}
# The same for calls that know some values carry no derivative, by (id, inactive positions).
VARIANTS: dict[tuple[int, tuple[int, ...]], Forward] = {}

# The generated forward's code per code object of the user's; not the generated AST, which is
# large and which ``show_adjoint`` (rarely called) regenerates. Keyed by the identity of the
# user's code object, which the entry holds: code objects of two files compare equal.
_transforms: dict[tuple[int, tuple[int, ...]], tuple[types.CodeType, types.CodeType]] = {}
# The same for forward mode, and its generated functions by id of the user's function object.
_jvp_transforms: dict[tuple[int, tuple[int, ...]], tuple[types.CodeType, types.CodeType]] = {}
_JVPS: dict[int, tuple[weakref.ref, types.FunctionType]] = {}
_lock = threading.Lock()
transform_count = 0  # how many transforms ran (tests use it to see cache hits)


def transformed(fn: types.FunctionType, inactive: tuple[int, ...] = ()) -> types.CodeType:
    """The code of the generated forward of ``fn``'s code object (transformed once, then cached),
    for calls whose values at the positions ``inactive`` carry no derivative."""
    global transform_count
    key = (id(fn.__code__), inactive)
    entry = _transforms.get(key)
    found = None if entry is None else entry[1]
    if found is None:
        result = _without_collections(transform, fn, inactive)
        found = result.code
        BACKWARD_CODES.add(result.backward_code)
        with _lock:
            transform_count += 1
            _transforms[key] = (fn.__code__, found)
    return found


def jvp_for(fn: types.FunctionType) -> types.FunctionType:
    """The forward-mode function of ``fn``, bound to ``fn``'s globals, defaults and closure cells."""
    global transform_count
    entry = _JVPS.get(id(fn))
    if entry is not None and entry[0]() is fn:
        return entry[1]
    entry = _jvp_transforms.get(id(fn.__code__))
    code = None if entry is None else entry[1]
    if code is None:
        code = _without_collections(transform_jvp, fn).code
        with _lock:
            transform_count += 1
            _jvp_transforms[id(fn.__code__)] = (fn.__code__, code)
    run = _build(fn, code)
    note_origin(fn)
    key = id(fn)
    # the table is bound now: at interpreter exit the module's globals may be gone first
    _JVPS[key] = (weakref.ref(fn, lambda _, table=_JVPS: table.pop(key, None)), run)
    return run


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


def forward_for(fn: types.FunctionType) -> Forward:
    """The generated forward of ``fn``, bound to ``fn``'s globals, defaults and closure cells."""
    entry = FORWARDS.get(id(fn))
    if entry is not None and entry.function() is fn:
        return entry
    return _entry(FORWARDS, id(fn), fn, ())


def variant_for(fn: types.FunctionType, inactive: tuple[int, ...]) -> Forward:
    """The generated forward of ``fn`` for calls whose values at the positions ``inactive`` carry
    no derivative (0: what ``fn`` captures; 1, 2, ...: its positional arguments; -1: the module
    state it reads): what is computed only from those needs no pullback, and their cotangents
    are never computed (its backward gives ``NoTangent()`` for those arguments)."""
    key = (id(fn), inactive)
    entry = VARIANTS.get(key)
    if entry is not None and entry.function() is fn:
        return entry
    return _entry(VARIANTS, key, fn, inactive)


def _entry(table: dict, key: Any, fn: types.FunctionType, inactive: tuple[int, ...]) -> Forward:
    generated = transformed(fn, inactive)
    note_origin(fn)
    code = fn.__code__
    plain = not (code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS))
    arity = code.co_argcount if plain and not code.co_kwonlyargcount else -1
    forget = lambda _, table=table: table.pop(key, None)  # noqa: E731 - see jvp_for
    entry = Forward(weakref.ref(fn, forget), None, arity)
    entry.run = _build(fn, generated, entry)  # (its recursive calls run it through the entry)
    table[key] = entry
    return entry


def runs_itself(entry: Forward, f: Any) -> bool:
    """Whether a forward's call of ``f`` may run that forward itself, bound as ``entry``: ``f``
    is the function it was bound for, which still has no rule (recursion, see
    ``reverse.recursion_test``). Nested differentiation takes the decision as it is: masked
    calls run full forwards there (see ``lib/nesting.py``), which call themselves unmasked."""
    return f is entry.function() and entry.ruleless_at == rrule.generation


def _build(
    fn: types.FunctionType, code: types.CodeType, entry: Forward | None = None
) -> types.FunctionType:
    found = _layouts.get((fn.__code__, code))
    if found is None:
        layout = _layout(fn.__code__, code)
        found = _layouts[fn.__code__, code] = (layout, None in layout)
    layout, makes_cells = found
    user = fn.__closure__
    closure = tuple([user[c] if type(c) is int else c for c in layout])
    if makes_cells:
        closure = _with_made_cells(fn, code, closure, entry)
    forward = types.FunctionType(code, fn.__globals__, code.co_name, fn.__defaults__, closure)
    forward.__kwdefaults__ = fn.__kwdefaults__
    return forward


# Where each closure cell of a generated function comes from, by (the user's code, the generated
# code): the run-time object's cell, the position of the user's own cell (an int), or ``None``
# for a cell made per function (see _with_made_cells). Built once: the commonest binding is of a
# closure made afresh at each call, a backward pass, whose code is always the same.
_layouts: dict[tuple[types.CodeType, types.CodeType], tuple] = {}


def _layout(user_code: types.CodeType, code: types.CodeType) -> tuple:
    if not _runtime_cells:
        _runtime_cells.update({k: types.CellType(v) for k, v in RUNTIME_OBJECTS.items()})
    own = {name: i for i, name in enumerate(user_code.co_freevars)}
    return tuple(
        _runtime_cells[name] if name in _runtime_cells else own.get(name)
        for name in code.co_freevars
    )


def _with_made_cells(
    fn: types.FunctionType, code: types.CodeType, closure: tuple, entry: Forward | None
) -> tuple:
    """``closure`` with the cells a binding makes of its own: the user's cells by name, for code
    that reaches them (see nonlocals.py), the module's namespace (see module_state.py), and the
    binding's own ``entry``, through which the forward calls itself (see reverse.py)."""
    made = {
        CELLS.place: lambda: types.CellType(
            dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        ),
        NAMESPACE: lambda: types.CellType(fn.__globals__),
        SELF: lambda: types.CellType(entry),
    }
    return tuple(
        made[name]() if cell is None else cell for name, cell in zip(code.co_freevars, closure)
    )


def refresh() -> None:
    """Forget every cached transform (the next call of each function transforms it again).

    Meant for between differentiations: a backward pass still pending from before would no longer
    be recognised as the engine's own."""
    with _lock:
        _forget_transforms()
        forget_generated()
        module_state.forget()
        BACKWARD_CODES.clear()


def _forget_transforms() -> None:
    """Forget the transforms, so that each function is transformed again when next called (a
    global it reads has become one that code assigns, see module_state.py); what runs now
    keeps running, and its backward passes are still the engine's."""
    _transforms.clear()
    _jvp_transforms.clear()
    FORWARDS.clear()
    VARIANTS.clear()
    _JVPS.clear()
    _layouts.clear()


module_state.on_stale.append(_forget_transforms)
