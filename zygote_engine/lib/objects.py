"""Rules for user objects: attribute reads and writes through the store."""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from chainrules.numpy.methods import NON_DIFFERENTIABLE_ATTRIBUTES
from chainrules_core import AbstractZero, ProjectTo, Tangent, non_differentiable, rrule, unthunk
from zygote_engine import primitives as zy
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.construction import property_getter, property_setter
from zygote_engine.lib.store import NO, ZERO
from zygote_engine.runtime import MustRun, Reads, call
from zygote_engine.store import is_tracked

_config = {"config": ZygoteRuleConfig}
_METHODS = (types.MethodType, types.BuiltinMethodType, types.MethodWrapperType)

for _helper in (zy.make_set, zy.is_sequence, zy.is_mapping):
    non_differentiable(_helper)


def _array_fact_pullback(dy):
    return NO, NO, NO


def _transpose_pullback(x: np.ndarray):
    def transpose_pullback(dy):
        dy = unthunk(dy)
        if isinstance(dy, AbstractZero):
            return NO, dy, NO
        dx = np.transpose(dy)
        if dx.__class__ is not np.ndarray or dx.dtype is not x.dtype:
            dx = ProjectTo(x)(dx)
        return NO, dx, NO

    return transpose_pullback


@rrule.register(getattr, **_config)
def _getattr(cx, obj: Any, name: str, *default: Any):
    if obj.__class__ is np.ndarray and not default:
        # the commonest reads of array code, without the search below (x.T, x.shape: about
        # 5 µs less each)
        if name in NON_DIFFERENTIABLE_ATTRIBUTES:
            return getattr(obj, name), _array_fact_pullback
        if name == "T":
            return obj.T, _transpose_pullback(obj)
    y = getattr(obj, name, *default)
    slots = (NO, *([NO] * len(default)))
    if isinstance(obj, types.ModuleType) and (isinstance(y, np.ndarray) or is_tracked(y)):

        def module_attribute_pullback(dy):  # module state: its cotangent is kept by the store
            cx.accumulate(obj, name, dy)
            return (NO, NO, *slots)

        return y, Reads(module_attribute_pullback)
    if isinstance(obj, (types.ModuleType, type)) or isinstance(y, type):
        return y, lambda dy: (NO, NO, *slots)
    getter = property_getter(obj, name)
    if getter is not None:  # the getter is Python code: differentiate it
        y, getter_pullback = call(cx, getter, obj)

        def property_pullback(dy):
            return (NO, getter_pullback(dy)[1], *slots)

        return y, MustRun(property_pullback)
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
    setter = property_setter(obj, name)
    if setter is not None:  # the setter is Python code: differentiate it
        _, setter_pullback = call(cx, setter, obj, v)

        def property_set_pullback(_):
            _, dobj, dv = setter_pullback(ZERO)
            return NO, dobj, NO, dv

        return None, MustRun(property_set_pullback)
    setattr(obj, name, v)

    def setattr_pullback(_):
        return NO, ZERO, NO, cx.take(obj, name)

    return None, MustRun(setattr_pullback)


@rrule.register(delattr, **_config)
def _delattr(cx, obj: Any, name: str):
    delattr(obj, name)

    def delattr_pullback(_):
        cx.take(obj, name)
        return NO, ZERO, NO

    return None, MustRun(delattr_pullback)
