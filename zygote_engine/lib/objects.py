"""Rules for user objects: attribute reads and writes through the store, and construction."""

from __future__ import annotations

import dataclasses
import types
from typing import Any

from chainrules_core import AbstractZero, Tangent, non_differentiable, rrule
from zygote_engine import primitives as zy
from zygote_engine.config import ZygoteRuleConfig, is_tracked
from zygote_engine.lib.store import NO, ZERO, items_of
from zygote_engine.runtime import MustRun, Reads, call

_config = {"config": ZygoteRuleConfig}
_METHODS = (types.MethodType, types.BuiltinMethodType, types.MethodWrapperType)

non_differentiable(zy.make_set)


@rrule.register(getattr, **_config)
def _getattr(cx, obj: Any, name: str, *default: Any):
    y = getattr(obj, name, *default)
    slots = (NO, *([NO] * len(default)))
    if isinstance(obj, (types.ModuleType, type)):
        return y, lambda dy: (NO, NO, *slots)
    receiver = obj.__self__ if type(obj) is super else obj
    if isinstance(y, _METHODS) and y.__self__ is receiver:

        def method_pullback(dm):  # a bound method's tangent is its receiver's
            if is_tracked(receiver):
                cx.deposit(receiver, dm)
                return (NO, ZERO, *slots)
            return (NO, dm, *slots)

        return y, method_pullback
    if is_tracked(obj):

        def getattr_pullback(dy):
            cx.accumulate(obj, name, dy)
            return (NO, ZERO, *slots)

        return y, Reads(getattr_pullback)
    found = rrule(getattr, obj, name, *default)  # the rule library's: arrays' and numbers'
    if found is not None:
        return found

    def field_pullback(dy):  # an immutable object (a NamedTuple, say): a structural tangent
        return (NO, Tangent.from_backing(type(obj), {name: dy}), *slots)

    return y, field_pullback


@rrule.register(super, **_config)
def _super(cx, cls: type, obj: Any):
    def super_pullback(dy):  # the proxy's tangent is the object's
        if is_tracked(obj):
            cx.deposit(obj, dy)
            return NO, NO, ZERO
        return NO, NO, dy

    return super(cls, obj), super_pullback


@rrule.register(setattr, **_config)
def _setattr(cx, obj: Any, name: str, v: Any):
    setattr(obj, name, v)

    def setattr_pullback(_):
        return NO, ZERO, NO, cx.take(obj, name)

    return None, MustRun(setattr_pullback)


def construct(cx, cls: type, args: tuple, kwargs: dict):
    """``cls(*args, **kwargs)`` for a Python class with no rule, with its pullback.

    Dataclasses and NamedTuples (whose ``__init__``/``__new__`` are generated without source) map
    the new object's field cotangents back onto the arguments; other classes are created with
    ``cls.__new__`` and their ``__init__`` is differentiated like any Python method.
    """
    fields = _init_fields(cls)
    if fields is not None:
        return _construct_from_fields(cx, cls, fields, args, kwargs)
    init = cls.__init__
    if isinstance(init, types.FunctionType):
        obj = (
            cls.__new__(cls) if cls.__new__ is object.__new__ else cls.__new__(cls, *args, **kwargs)
        )
        _, init_pullback = call(cx, init, obj, *args, **kwargs)

        def construct_pullback(dy):
            cx.deposit(obj, dy)
            return (NO, *init_pullback(ZERO)[2:])

        return obj, MustRun(construct_pullback)
    size = 1 + len(args) + len(kwargs)
    return cls(*args, **kwargs), lambda dy: (NO,) * size  # object.__init__ takes nothing


def constructible(cls: type) -> bool:
    """Whether the engine can construct ``cls`` itself (a Python class; see :func:`construct`)."""
    init = cls.__init__
    return (
        _init_fields(cls) is not None
        or isinstance(init, types.FunctionType)
        or (
            init is object.__init__
            and cls.__new__ is object.__new__
            and cls.__module__ != "builtins"
        )
    )


def _init_fields(cls: type) -> list[str] | None:
    if dataclasses.is_dataclass(cls) and "__init__" in vars(cls) and _generated(cls.__init__):
        return [f.name for f in dataclasses.fields(cls) if f.init]
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return list(cls._fields)
    return None


def _generated(fn: Any) -> bool:
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename.startswith("<")


def _construct_from_fields(cx, cls: type, fields: list[str], args: tuple, kwargs: dict):
    obj = cls(*args, **kwargs)
    names = [*fields[: len(args)], *kwargs]

    snapshot = dict.fromkeys(fields)

    def fields_pullback(dy):
        dobj = cx.release(obj, dy, snapshot)
        if isinstance(dobj, AbstractZero):
            return (NO, *([ZERO] * len(names)))
        if isinstance(dobj.backing, tuple):
            by_name = dict(zip(fields, items_of(dobj, len(fields))))
        else:
            by_name = dobj.backing
        return (NO, *(by_name.get(name, ZERO) for name in names))

    return obj, MustRun(fields_pullback)
