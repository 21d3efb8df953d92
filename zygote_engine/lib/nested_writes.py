"""Arrays written in place, differentiated twice: forward mode over reverse mode's record of writes.

Reverse mode keeps the in-place writes of one differentiation in an
:class:`~zygote_engine.array_writes.ArrayWrites`: shadows that collect the cotangents of written
arrays' elements, and the values each write overwrote, which the backward pass puts back. When
forward mode differentiates that reverse pass (a Hessian-vector product, ``hessian`` of code
with ``a[i] = v``), the cotangents have tangents too. Every operation of the record is linear in
the cotangents it holds, so their tangents are kept in a *dual* record, beside the record in its
entry of the tangent table, which each operation updates with the tangents as it updates the
record with the cotangents. A write that the backward pass undoes puts back the elements'
values, and their tangents in forward mode's own record of the array
(:class:`~zygote_engine.array_writes.ForwardWrites`); the end of the backward pass writes both
again.

A batch of tangents (``hessian`` carries every direction at once) is not kept in a shadow: the
rules raise :class:`~zygote_engine.batched.BatchingError`, and the directions go one by one. A
write through a view works as in reverse mode: the rule that made the view hands on, to the
array it views, what the write left (``ArrayWrites.claim``), and the dual record its tangent.

Forward mode over forward mode needs less: the inner differentiation's shadows are themselves
arrays written in place (each write sets the tangents of some elements), so the outer one keeps
their tangents in its own :class:`~zygote_engine.array_writes.ForwardWrites`, from the moment
the inner one creates a shadow. Its tangents' tangents are then found the way any written
array's tangent is, and the rules below only say what the first fill of a shadow was: the
tangent of the base's tangent (for a write through a view, of the tangent the base had where the
view was made, which the rule noting the view keeps in the outer table).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core import Tangent
from zygote_engine.array_writes import ArrayWrites, ForwardWrites, assign, base_of, spread
from zygote_engine.batched import Batched, BatchingError
from zygote_engine.forward_runtime import linear_pullback_jvp, note_view
from zygote_engine.lib.forward import forward_rule
from zygote_engine.lib.nesting import evaluated
from zygote_engine.lib.store import NO, ZERO, items_of
from zygote_engine.runtime import ViewPullback
from zygote_engine.store import MutationStore
from zygote_engine.tangent_table import TangentTable


def _entry(fx, writes: ArrayWrites) -> dict:
    """``writes``'s entry in the tangent table: ``"dual"``, the record of the tangents of its
    cotangents, and ``"redo"``, ``(array, index, tangent of what the undone write wrote)``."""
    entry = fx.entry(writes)
    if "dual" not in entry:
        entry["dual"], entry["redo"] = ArrayWrites(), []
    return entry


def _dual(fx, writes: ArrayWrites) -> ArrayWrites:
    return _entry(fx, writes)["dual"]


def _one(fx, x: Any, dx: Any) -> tuple[Any, Any]:
    """``(x, dx)`` evaluated (a thunk's computation differentiated), one tangent, not a batch."""
    x, dx = evaluated(fx, x, dx)
    if type(dx) is Batched:
        raise BatchingError("an array written in place holds one tangent, not a batch")
    return x, dx


@forward_rule(MutationStore.array_writes)
def _array_writes(fx, tangents, cx: MutationStore):
    writes = cx.array_writes()
    _dual(fx, writes)
    return writes, ZERO


@forward_rule(ArrayWrites.register)
def _register(fx, tangents, writes: ArrayWrites, base: np.ndarray):
    _dual(fx, writes).register(base)  # (the dual routes what the record routes)
    return writes.register(base), NO


@forward_rule(ArrayWrites.holds)
def _holds(fx, tangents, writes: ArrayWrites, a: np.ndarray):
    return writes.holds(a), NO


@forward_rule(ArrayWrites.region)
def _region(fx, tangents, writes: ArrayWrites, w: np.ndarray, create: bool = True):
    region = writes.region(w, create)
    if region is None:
        return None, NO
    dregion = _dual(fx, writes).region(w, create)
    return region, ZERO if dregion is None else dregion


@forward_rule(ArrayWrites.deposit)
def _deposit(fx, tangents, writes: ArrayWrites, a: np.ndarray, da: Any):
    da, dda = _one(fx, da, tangents[3])
    writes.deposit(a, da)
    _dual(fx, writes).deposit(a, dda)
    return None, NO


@forward_rule(ArrayWrites.deposit_at)
def _deposit_at(fx, tangents, writes: ArrayWrites, a: np.ndarray, index: Any, dy: Any):
    dy, ddy = _one(fx, dy, tangents[4])
    writes.deposit_at(a, index, dy)
    _dual(fx, writes).deposit_at(a, index, ddy)
    return None, NO


@forward_rule(ArrayWrites.take)
def _take(fx, tangents, writes: ArrayWrites, w: np.ndarray, index: Any):
    return writes.take(w, index), _dual(fx, writes).take(w, index)


@forward_rule(ArrayWrites.hand_over)
def _hand_over(fx, tangents, writes: ArrayWrites, base: np.ndarray, w: np.ndarray):
    return writes.hand_over(base, w), _dual(fx, writes).hand_over(base, w)


@forward_rule(ArrayWrites.claim)
def _claim(fx, tangents, writes: ArrayWrites, a: Any, da: Any):
    da, dda = _one(fx, da, tangents[3])
    return writes.claim(a, da), _dual(fx, writes).claim(a, dda)


@forward_rule(ArrayWrites.route)
def _route(fx, tangents, writes: ArrayWrites, y: Any, dy: Any):
    dy, ddy = _one(fx, dy, tangents[3])
    return writes.route(y, dy), _dual(fx, writes).route(y, ddy)


@forward_rule(ArrayWrites.restore)
def _restore(fx, tangents, writes: ArrayWrites, w: np.ndarray, index: Any, old: Any):
    _, dold = _one(fx, old, tangents[4])
    region = fx.array_writes().register(w, tangents[2])  # the tangents of w's elements
    _entry(fx, writes)["redo"].append((w, index, np.array(region[index], copy=True)))
    assign(region, index, dold)
    writes.restore(w, index, old)
    return None, NO


@forward_rule(ArrayWrites.finish)
def _finish(fx, tangents, writes: ArrayWrites):
    entry = _entry(fx, writes)
    writes.finish()
    for w, index, new in reversed(entry["redo"]):
        assign(fx.array_writes().register(w, ZERO), index, new)
    entry["redo"].clear()
    entry["dual"].finish()
    return None, NO


@forward_rule(spread)
def _spread(fx, tangents, view: np.ndarray, dview: Any):
    dview, ddview = _one(fx, dview, tangents[2])
    return spread(view, dview), spread(view, ddview)


@forward_rule(ViewPullback.__call__)
def _view_pullback(fx, tangents, view_pullback: ViewPullback, dy: Any):
    # The pullback is linear (its tangent is the pullback of the tangent); what writes through
    # the view left is claimed as reverse mode does, and its tangent from the dual record.
    cotangents, dcotangents = linear_pullback_jvp(view_pullback.pullback, (dy,), (NO, tangents[2]))
    writes = view_pullback.cx.written
    if writes is None:
        return cotangents, dcotangents
    dual = _dual(fx, writes)
    if not (writes.pending or dual.pending):
        return cotangents, dcotangents
    cotangents, dcotangents = list(cotangents), items_of(dcotangents, len(cotangents))
    for i, a in enumerate(view_pullback.inputs):
        if type(a) is np.ndarray:
            cotangents[i] = writes.claim(a, cotangents[i])
            dcotangents[i] = dual.claim(a, _one(fx, ZERO, dcotangents[i])[1])
    return tuple(cotangents), Tangent(tuple, *dcotangents)


# -- forward mode over forward mode: the inner shadows are arrays written in place --


def _view_tangents(fx, writes: ForwardWrites) -> dict:
    """For each view noted in ``writes``, by ``id``: the tangent of the tangent it was noted with."""
    return fx.entry(writes).setdefault("views", {})


@forward_rule(TangentTable.array_writes)
def _inner_writes(fx, tangents, table: TangentTable):
    # The inner differentiation's shadows hold tangents of tangents from now on, which no
    # argument shows: it and its record carry them (they have entries), so that the calls that
    # take them are differentiated, not run plainly.
    writes = table.array_writes()
    fx.entry(table)
    fx.entry(writes)
    return writes, ZERO


@forward_rule(note_view)
def _note_view(fx, tangents, inner, y: np.ndarray, args: tuple, inner_tangents: tuple):
    note_view(inner, y, args, inner_tangents)
    found = inner.written.views.get(id(y)) if inner.written is not None else None
    if found is not None and found[0] is y:
        dtangents = items_of(tangents[4], len(inner_tangents))
        for a, dt in zip(args, dtangents[1:]):
            if a is found[1]:
                _view_tangents(fx, inner.written)[id(y)] = dt
                break
    return None, NO


@forward_rule(ForwardWrites.register)
def _register_shadow(fx, tangents, writes: ForwardWrites, w: np.ndarray, dw: Any):
    first = not writes.holds(w)
    region = writes.register(w, dw)
    outer = fx.array_writes()
    if first:
        base = base_of(w)
        flat, whole = writes.shadows[id(base)]
        outer.register(flat, ZERO)
        assign(outer.register(whole, ZERO), Ellipsis, _first_fill(fx, tangents, writes, w, base))
    # (a shadow made before this differentiation began does not depend on its direction)
    return region, outer.tangent_of(region) if outer.holds(region) else ZERO


def _first_fill(fx, tangents, writes: ForwardWrites, w: np.ndarray, base: np.ndarray) -> Any:
    """The tangent of what a base's new shadow was filled with (see the module's docstring)."""
    if w is base:
        return tangents[3]
    noted, view = _view_tangents(fx, writes), w
    while True:
        _, source, _ = writes.views[id(view)]
        if source is base:
            return noted.get(id(view), ZERO)
        view = source


@forward_rule(ForwardWrites.holds)
def _holds_shadow(fx, tangents, writes: ForwardWrites, a: np.ndarray):
    return writes.holds(a), NO


@forward_rule(ForwardWrites.tangent_of)
def _tangent_of_shadow(fx, tangents, writes: ForwardWrites, a: np.ndarray):
    region = writes.region(a)
    outer = fx.written
    dregion = outer.tangent_of(region) if outer is not None and outer.holds(region) else ZERO
    return region.copy(), dregion
