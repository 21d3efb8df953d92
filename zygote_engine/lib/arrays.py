"""Rules for writing into numpy arrays in place, in both modes.

``a[i] = v``, ``a += b`` and the other in-place operators, ``np.copyto``, ``ndarray.fill`` and
``np.add.at``/``np.subtract.at`` (ufuncs called with ``out=`` are handled by the call protocols,
which write the result with ``operator.setitem``). Each rule performs the write exactly as numpy
does. In reverse mode it records what it overwrote and returns a
:class:`~zygote_engine.runtime.Writes` pullback; in forward mode it sets the written elements'
tangents. How (co)tangents of written arrays travel is explained in
:mod:`zygote_engine.array_writes`.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from chainrules_core import AbstractZero, ProjectTo, rrule, unbroadcast
from zygote_engine.array_writes import assign, base_of, check_distinct
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.errors import MutationError, user_location
from zygote_engine.forward_runtime import jcall
from zygote_engine.lib.forward import forward_rule
from zygote_engine.lib.store import NO, ZERO
from zygote_engine.runtime import Writes, call

_config = {"config": ZygoteRuleConfig}


def _value_cotangent(cx, v: Any, dv: Any) -> Any:
    """The cotangent of the value ``v`` written, from that of the elements it became."""
    if isinstance(dv, AbstractZero):
        return dv
    if type(v) is list:  # a list's cotangent lives in the store, item by item
        cx.deposit(v, np.broadcast_to(dv, np.shape(v)).tolist())
        return ZERO
    dv = unbroadcast(v, dv)
    if type(v) is np.ndarray and cx.written.holds(v):  # read from a written array
        cx.written.deposit(v, dv)
        return ZERO
    return ProjectTo(v)(dv)


def write(cx, w: np.ndarray, index: Any, v: Any, perform=None, value_cotangent=None):
    """``w[index] = v`` as a recorded write: ``(None, pullback)``.

    ``perform()``, when given, does the writing instead (it must write just ``w[index]``), and
    ``value_cotangent`` maps the cotangent of the written elements to that of ``v``.

    Example:
        >>> import numpy as np
        >>> from zygote_engine import gradient
        >>> def f(x):
        ...     a = np.zeros(3)
        ...     a[1] = x
        ...     return np.sum(a * a)
        >>> gradient(f, 3.0)
        (6.0,)
    """
    writes = cx.array_writes()
    base = base_of(w)
    first = writes.register(base)
    check_distinct(w, index)
    old = np.array(w[index], copy=True)
    if perform is None:
        w[index] = v
    else:
        perform()

    def setitem_array_pullback(_):
        d = writes.take(w, index)
        if value_cotangent is None:
            dv = _value_cotangent(cx, v, d)
        else:
            dv = d if isinstance(d, AbstractZero) else value_cotangent(d)
        writes.restore(w, index, old)
        return NO, writes.hand_over(base, w) if first else ZERO, NO, dv

    return None, Writes(setitem_array_pullback)


@rrule.register(operator.setitem, np.ndarray, object, object, **_config)
@rrule.register(np.ndarray.__setitem__, **_config)
def _setitem_array(cx, w: np.ndarray, index: Any, v: Any):
    return write(cx, w, index, v)


@rrule.register(np.ndarray.fill, **_config)
def _fill(cx, w: np.ndarray, v: Any):
    _, pullback = write(cx, w, Ellipsis, v, perform=lambda: w.fill(v))

    def fill_pullback(dy):
        _, dw, _, dv = pullback(dy)
        return NO, dw, dv

    return None, Writes(fill_pullback)


@rrule.register(np.copyto, **_config)
def _copyto(cx, dst: np.ndarray, src: Any, casting: str = "same_kind", where: Any = True):
    def perform():
        np.copyto(dst, src, casting=casting, where=where)

    if where is True:
        _, pullback = write(cx, dst, Ellipsis, src, perform)
    else:
        mask = np.broadcast_to(where, dst.shape)

        def src_cotangent(d):  # d is the cotangent of dst[mask], where src went
            spread = np.zeros(dst.shape, d.dtype)
            spread[mask] = d
            return _value_cotangent(cx, src, spread)

        _, pullback = write(cx, dst, mask, src, perform, src_cotangent)

    def copyto_pullback(dy):
        _, ddst, _, dsrc = pullback(dy)
        return NO, ddst, dsrc

    return None, Writes(copyto_pullback)


# -- in-place operators: ``a op= b`` is ``a[...] = a op b``, the result written over ``a`` --

_BINARY = {
    operator.iadd: operator.add,
    operator.isub: operator.sub,
    operator.imul: operator.mul,
    operator.itruediv: operator.truediv,
    operator.ifloordiv: operator.floordiv,
    operator.imod: operator.mod,
    operator.ipow: operator.pow,
    operator.imatmul: operator.matmul,
    operator.iand: operator.and_,
    operator.ior: operator.or_,
    operator.ixor: operator.xor,
    operator.ilshift: operator.lshift,
    operator.irshift: operator.rshift,
}


def _inplace_rule(inplace, binary):
    @rrule.register(inplace, np.ndarray, object, **_config)
    def _(cx, w: np.ndarray, b: Any):
        writes = cx.array_writes()
        base = base_of(w)
        first = writes.register(base)
        old = w.copy()
        y, pullback = call(cx, binary, old, b)
        np.copyto(w, y, casting="same_kind")  # numpy's rule for a result written in place

        def inplace_pullback(dy):
            writes.deposit(w, dy)  # the result is w itself
            d = writes.take(w, Ellipsis)
            db = ZERO
            if not isinstance(d, AbstractZero):
                _, dold, db = pullback(d)
                writes.deposit(w, dold)  # what w held before goes on to earlier reads
            writes.restore(w, Ellipsis, old)
            return NO, writes.hand_over(base, w) if first else ZERO, db

        return w, Writes(inplace_pullback)


for _inplace, _binary in _BINARY.items():
    _inplace_rule(_inplace, _binary)


# -- np.add.at, np.subtract.at: unbuffered accumulation, repeated indices included --

_SIGNS = {np.add: 1.0, np.subtract: -1.0}


def _accumulation_sign(ufunc: np.ufunc, b: Any) -> float:
    sign = _SIGNS.get(ufunc)
    if sign is None or b is None:
        raise MutationError(
            f"{user_location()}: np.{ufunc.__name__}.at is not supported in differentiated "
            "code: np.add.at and np.subtract.at are; or build a new array"
        )
    return sign


@rrule.register(np.ufunc.at, **_config)
def _ufunc_at(cx, ufunc: np.ufunc, w: np.ndarray, index: Any, b: Any = None):
    sign = _accumulation_sign(ufunc, b)
    writes = cx.array_writes()
    base = base_of(w)
    first = writes.register(base)
    old = np.array(w[index], copy=True)
    ufunc.at(w, index, b)

    def ufunc_at_pullback(_):
        region = writes.region(w, create=False)
        db = ZERO
        if region is not None:  # each element of b was added to where index sends it
            db = _value_cotangent(cx, b, sign * np.broadcast_to(region, w.shape)[index])
        writes.restore(w, index, old)
        return NO, NO, writes.hand_over(base, w) if first else ZERO, NO, db

    return None, Writes(ufunc_at_pullback)


# -- forward mode: the written elements' tangents are set in the base's shadow --


@forward_rule(operator.setitem, np.ndarray, object, object)
@forward_rule(np.ndarray.__setitem__)
def _setitem_array_forward(fx, tangents, w: np.ndarray, index: Any, v: Any):
    region = fx.array_writes().register(w, tangents[1])
    check_distinct(w, index)
    w[index] = v
    assign(region, index, tangents[3])
    return None, NO


@forward_rule(np.ndarray.fill)
def _fill_forward(fx, tangents, w: np.ndarray, v: Any):
    region = fx.array_writes().register(w, tangents[1])
    w.fill(v)
    assign(region, Ellipsis, tangents[2])
    return None, NO


@forward_rule(np.copyto)
def _copyto_forward(fx, tangents, dst, src, casting: str = "same_kind", where: Any = True):
    region = fx.array_writes().register(dst, tangents[1])
    np.copyto(dst, src, casting=casting, where=where)
    dsrc = tangents[2]
    if isinstance(dsrc, AbstractZero):
        dsrc = np.zeros_like(region)
    np.copyto(region, np.real(dsrc) if region.dtype.kind == "f" else dsrc, where=where)
    return None, NO


@forward_rule(np.ufunc.at)
def _ufunc_at_forward(fx, tangents, ufunc: np.ufunc, w: np.ndarray, index: Any, b: Any = None):
    sign = _accumulation_sign(ufunc, b)
    region = fx.array_writes().register(w, tangents[2])
    ufunc.at(w, index, b)
    db = tangents[4]
    if not isinstance(db, AbstractZero):
        np.add.at(region, index, sign * np.real(db) if region.dtype.kind == "f" else sign * db)
    return None, NO


def _inplace_forward_rule(inplace, binary):
    @forward_rule(inplace, np.ndarray, object)
    def _(fx, tangents, w: np.ndarray, b: Any):
        region = fx.array_writes().register(w, tangents[1])
        old = w.copy()
        y, dy = jcall(fx, (binary, old, b), (NO, region.copy(), tangents[2]))
        np.copyto(w, y, casting="same_kind")
        assign(region, Ellipsis, dy)
        return w, region.copy()


for _inplace, _binary in _BINARY.items():
    _inplace_forward_rule(_inplace, _binary)
