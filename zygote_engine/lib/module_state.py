"""Rules of the module globals that differentiated code assigns (see ``zygote_engine/module_state.py``)
and of the closure cells that a closure rebinds with ``nonlocal`` (``zygote_engine/nonlocals.py``).

A global is an item of its module: its cotangent (reverse) and tangent (forward) are kept by
the module, under the global's name, as for any attribute. In reverse mode a write keeps what it
wrote (the store's entry of ``(module, name)`` is the cotangent of the value written), and the
configuration records which globals this differentiation assigned: a read after such a write
adds its cotangent to that entry, which the write's pullback takes; a read of a global not
assigned yet reads module state like any other read of a global, whose cotangent goes to the
value read, by identity (where ``gradient`` leaves it and ``Params`` finds it). A closure cell
is the same kind of state, an object with one item (the variable, under its name).
"""

from __future__ import annotations

import types
from typing import Any

from chainrules_core import frule, rrule
from zygote_engine import primitives as zy
from zygote_engine.config import ForwardConfig, ZygoteRuleConfig
from zygote_engine.forward_runtime import table_aware
from zygote_engine.lib.store import NO
from zygote_engine.module_state import owner_of
from zygote_engine.runtime import MustRun, Reads

_config = {"config": ZygoteRuleConfig}
# values whose cotangent nothing reads (code, classes, modules)
_CODE = (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)


def _record(cx, owner: Any, name: str) -> None:
    if cx.assigned is None:
        cx.assigned = set()
    cx.assigned.add((id(owner), name))


def _read_state(cx, owner: Any, name: str, value: Any):
    """The forward half of a read of the item ``name`` of ``owner`` (a module, a closure cell)."""
    if cx.assigned is not None and (id(owner), name) in cx.assigned:

        def read_assigned_pullback(dy):  # to the write that the read follows
            cx.accumulate(owner, name, dy)
            return NO, NO, NO

        return value, Reads(read_assigned_pullback)
    if isinstance(value, _CODE):
        return value, lambda dy: (NO, NO, NO)

    def read_state_pullback(dy):  # state from before: to the value read
        cx.deposit(value, dy)
        return NO, NO, NO

    return value, Reads(read_state_pullback)


def _write_state(cx, owner: Any, name: str):
    """The forward half of a write of the item ``name`` of ``owner``."""
    _record(cx, owner, name)

    def write_state_pullback(_):  # what the reads after the write left for the value
        return NO, NO, NO, cx.take(owner, name)

    return None, MustRun(write_state_pullback)


def _delete_state(cx, owner: Any, name: str):
    _record(cx, owner, name)

    def delete_state_pullback(_):  # a read after the deletion did not read the value
        cx.take(owner, name)
        return NO, NO, NO

    return None, MustRun(delete_state_pullback)


@rrule.register(zy.read_global, **_config)
def _read_global(cx, namespace: dict, name: str):
    return _read_state(cx, owner_of(namespace), name, zy.read_global(namespace, name))


@rrule.register(zy.write_global, **_config)
def _write_global(cx, namespace: dict, name: str, value: Any):
    zy.write_global(namespace, name, value)
    return _write_state(cx, owner_of(namespace), name)


@rrule.register(zy.delete_global, **_config)
def _delete_global(cx, namespace: dict, name: str):
    zy.delete_global(namespace, name)
    return _delete_state(cx, owner_of(namespace), name)


# A variable that a closure rebinds with ``nonlocal`` is the one item of its closure cell.


@rrule.register(zy.read_cell, **_config)
def _read_cell(cx, cells: dict, name: str):
    return _read_state(cx, cells[name], name, zy.read_cell(cells, name))


@rrule.register(zy.write_cell, **_config)
def _write_cell(cx, cells: dict, name: str, value: Any):
    zy.write_cell(cells, name, value)
    return _write_state(cx, cells[name], name)


@rrule.register(zy.delete_cell, **_config)
def _delete_cell(cx, cells: dict, name: str):
    zy.delete_cell(cells, name)
    return _delete_state(cx, cells[name], name)


@rrule.register(setattr, types.ModuleType, object, object, **_config)
def _setattr_module(cx, module: types.ModuleType, name: str, value: Any):
    """``othermodule.g = v``: the same state as ``global g; g = v`` in that module."""
    setattr(module, name, value)
    _record(cx, module, name)

    def setattr_module_pullback(_):
        return NO, NO, NO, cx.take(module, name)

    return None, MustRun(setattr_module_pullback)


def _forward_rule(f: Any):
    def register(impl):
        frule.add(f, (), table_aware(impl), config=ForwardConfig)
        return impl

    return register


@_forward_rule(zy.read_global)
def _read_global_forward(fx, tangents, namespace: dict, name: str):
    return zy.read_global(namespace, name), fx.item(owner_of(namespace), name)


@_forward_rule(zy.write_global)
def _write_global_forward(fx, tangents, namespace: dict, name: str, value: Any):
    zy.write_global(namespace, name, value)
    fx.entry(owner_of(namespace))[name] = tangents[3]
    return None, NO


@_forward_rule(zy.delete_global)
def _delete_global_forward(fx, tangents, namespace: dict, name: str):
    zy.delete_global(namespace, name)
    fx.entry(owner_of(namespace)).pop(name, None)
    return None, NO


@_forward_rule(zy.read_cell)
def _read_cell_forward(fx, tangents, cells: dict, name: str):
    return zy.read_cell(cells, name), fx.item(cells[name], name)


@_forward_rule(zy.write_cell)
def _write_cell_forward(fx, tangents, cells: dict, name: str, value: Any):
    zy.write_cell(cells, name, value)
    fx.entry(cells[name])[name] = tangents[3]
    return None, NO


@_forward_rule(zy.delete_cell)
def _delete_cell_forward(fx, tangents, cells: dict, name: str):
    zy.delete_cell(cells, name)
    fx.entry(cells[name]).pop(name, None)
    return None, NO
