"""In-place writes to numpy arrays in reverse mode (``a[i] = v``, ``a += b``, ``out=``, ...).

To the rest of the engine a numpy array is a value: its cotangent flows through the generated
code's ``d<name>`` variables. A write breaks both halves of that. Every alias and view of the
array sees the new values, and a pullback recorded before the write reads the array only when
the backward pass runs. So an array is tracked by its memory (its base array) from its first
write on:

* Each write saves what it overwrites. Its pullback puts that back, so every pullback runs on the
  values its operation saw. When the backward pass ends, :meth:`ArrayWrites.finish` writes the
  final values again: the caller's arrays end as plain Python leaves them, whatever the pullback
  did.
* An operation that reads a written array (any call that receives it or a view of it) puts its
  cotangent in a *shadow* of the base's memory instead of returning it (``runtime`` routes it).
  A write's pullback takes the cotangent of the elements it wrote from the shadow and zeroes them:
  the values they held before the write did not reach those reads.
* The first write of a base hands the shadow back to the variables, as the cotangent of the array
  it wrote. Reads before that write returned theirs as usual, so each cotangent is counted once.
  Where the first write went through a view, the rest of the base's cotangent waits in
  ``pending`` for the operation that made a view of the base itself (:meth:`ArrayWrites.claim`).

The cost of a write is proportional to what it writes; a base's shadow is allocated once per
backward pass.

Forward mode (:class:`ForwardWrites`) keeps, from an array's first write on, the tangent of its
base's memory in the same way: a write sets the tangents of the elements it writes, and every
later read of the array, through any alias or view, takes its tangent from there. The first write
through a view finds the base's tangent where the view was made (``views``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core import AbstractZero, Tangent, ZeroTangent, unthunk
from zygote_engine.batched import Batched, BatchingError
from zygote_engine.errors import MutationError, UnsupportedConstructError, user_location

__all__ = [
    "ArrayWrites",
    "ForwardWrites",
    "assign",
    "base_of",
    "check_distinct",
    "is_view",
    "out_argument",
    "spread",
]

_ZERO = ZeroTangent()


def base_of(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (``a`` itself unless ``a`` is a view).

    Example:
        >>> a = np.zeros(4)
        >>> base_of(a[1:3].reshape(2, 1)) is a
        True
    """
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def is_view(y: Any) -> bool:
    """Whether ``y`` is a numpy array that views another's memory.

    Example:
        >>> a = np.zeros(3)
        >>> is_view(a[1:]), is_view(a), is_view(1.0)
        (True, False, False)
    """
    return type(y) is np.ndarray and y.base is not None


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _lowest(a: np.ndarray) -> int:
    """The address of ``a``'s lowest element (before its first one when a stride is negative)."""
    return _address(a) + sum((n - 1) * s for n, s in zip(a.shape, a.strides) if s < 0)


def _extent(a: np.ndarray) -> int:
    """How many elements of ``a``'s dtype span the memory ``a`` covers."""
    if a.size == 0:
        return 0
    return 1 + sum((n - 1) * abs(s) for n, s in zip(a.shape, a.strides)) // a.itemsize


def out_argument(ufunc: np.ufunc, kwargs: dict) -> tuple[np.ndarray, dict]:
    """``(w, the other keywords)`` of a call ``ufunc(..., out=w)`` (``out=(w,)`` too).

    Example:
        >>> w = np.zeros(2)
        >>> out_argument(np.add, {"out": (w,), "where": True})[0] is w
        True
    """
    rest = dict(kwargs)
    out = rest.pop("out")
    w = out[0] if type(out) is tuple and len(out) == 1 else out
    if type(w) is not np.ndarray:
        raise UnsupportedConstructError(
            f"{user_location()}: {ufunc.__name__}(..., out=...) is supported with one output "
            "array in differentiated code: call it without out= and assign the result"
        )
    return w, rest


_BASIC = (int, np.integer, slice, type(None), type(Ellipsis))


def _is_basic(index: Any) -> bool:
    """Whether ``index`` is basic indexing (integers, slices, ``None``, ``...``): no element twice."""
    if isinstance(index, tuple):
        return all(isinstance(i, _BASIC) and not isinstance(i, bool) for i in index)
    return isinstance(index, _BASIC) and not isinstance(index, bool)


def check_distinct(w: np.ndarray, index: Any) -> None:
    """Refuse an assignment through an integer-array index that names an element twice.

    Which of the values lands there is up to numpy, so no gradient can say which one counts.
    """
    if _is_basic(index):
        return
    parts = index if isinstance(index, tuple) else (index,)
    if all(not isinstance(p, (np.ndarray, list)) or np.asarray(p).dtype == bool for p in parts):
        return  # boolean masks never name an element twice either
    positions = np.arange(w.size).reshape(w.shape)[index]
    if np.unique(positions).size != np.size(positions):
        raise MutationError(
            f"{user_location()}: this assignment writes to one element more than once (repeated "
            "integer indices); numpy keeps one of the values, so no gradient can say which: "
            "use np.add.at to accumulate, or indices without repeats"
        )


def _new_shadow(base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A zero buffer laid out like ``base``'s memory: ``(flat buffer, base-shaped view of it)``."""
    flat = np.zeros(_extent(base), base.dtype)
    return flat, _view(flat, _lowest(base), base)


def _view(flat: np.ndarray, low: int, a: np.ndarray) -> np.ndarray:
    """The part of the shadow buffer ``flat`` that lies where ``a`` lies in its base."""
    return np.ndarray(a.shape, flat.dtype, buffer=flat, offset=_address(a) - low, strides=a.strides)


def _region(shadow: tuple[np.ndarray, np.ndarray], base: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The part of ``base``'s shadow where ``w``, ``base`` or a view of it, lies."""
    if w is base:
        return shadow[1]
    if w.dtype != base.dtype:
        raise MutationError(
            f"{user_location()}: writing through a view of another dtype ({w.dtype} of a "
            f"{base.dtype} array) is not supported: write to the array itself"
        )
    return _view(shadow[0], _lowest(base), w)


def spread(view: np.ndarray, dview: Any) -> Any:
    """The cotangent of ``view``'s base from ``dview``, that of the view: zero elsewhere.

    Example:
        >>> a = np.zeros((2, 2))
        >>> spread(a[:, 1], np.array([1.0, 2.0]))
        array([[0., 1.],
               [0., 2.]])
    """
    dview = unthunk(dview)
    if isinstance(dview, AbstractZero):
        return dview
    base = base_of(view)
    shadow = _new_shadow(base)
    _region(shadow, base, view)[...] = dview
    return shadow[1]


class ArrayWrites:
    """The arrays one reverse-mode differentiation writes in place.

    ``bases`` holds every written base (kept alive) by ``id``; ``shadows`` the backward pass's
    cotangent of each base's memory; ``pending`` what the first write through a view left for the
    view's maker; ``redo`` what each restored write wrote, to write again at the end.

    Example:
        >>> writes = ArrayWrites()
        >>> a = np.zeros(3)
        >>> writes.register(a)
        True
        >>> writes.deposit(a[1:], np.array([1.0, 2.0]))
        >>> writes.take(a, 2)
        array(2.)
        >>> writes.hand_over(a, a)
        array([0., 1., 0.])
    """

    __slots__ = ("bases", "pending", "redo", "shadows")

    def __init__(self) -> None:
        self.bases: dict[int, np.ndarray] = {}
        self.shadows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.pending: dict[int, np.ndarray] = {}
        self.redo: list[tuple[np.ndarray, Any, np.ndarray]] = []

    def register(self, base: np.ndarray) -> bool:
        """Note a write to ``base``; whether it is the first."""
        if id(base) in self.bases:
            return False
        self.bases[id(base)] = base
        return True

    def holds(self, a: np.ndarray) -> bool:
        """Whether ``a`` is, or is a view of, an array written so far."""
        return id(base_of(a)) in self.bases

    # -- the shadow --

    def _shadow(self, base: np.ndarray, create: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """``(flat buffer, base-shaped view of it)``; ``None`` for a base with no cotangent yet."""
        found = self.shadows.get(id(base))
        if found is None and create and base.dtype.kind in "fc":
            found = self.shadows[id(base)] = _new_shadow(base)
        return found

    def region(self, w: np.ndarray, create: bool = True) -> np.ndarray | None:
        """The shadow of ``w``'s elements (``None`` when there is none and ``create`` is false)."""
        base = base_of(w)
        found = self._shadow(base, create)
        if found is None:
            return None
        return _region(found, base, w)

    def deposit(self, a: np.ndarray, da: Any) -> None:
        """Add ``da``, the cotangent of a read of ``a``, to the shadow of ``a``'s elements."""
        da = unthunk(da)
        if isinstance(da, AbstractZero) or da is None:
            return
        region = self.region(a)
        if region is None:  # an integer array: no cotangent
            return
        if 0 in region.strides:  # a broadcast view: its repeated elements are one element
            axes = tuple(i for i, s in enumerate(region.strides) if s == 0)
            da = np.sum(np.broadcast_to(da, region.shape), axis=axes, keepdims=True)
            region = region[tuple(slice(0, 1) if s == 0 else slice(None) for s in region.strides)]
        if region.dtype.kind == "f" and np.iscomplexobj(da):
            da = np.real(da)
        region += da

    def deposit_at(self, a: np.ndarray, index: Any, dy: Any) -> None:
        """Add ``dy``, the cotangent of the read ``a[index]``, to the shadow of those elements
        only (a read of one element costs one element, not the array)."""
        dy = unthunk(dy)
        region = None if isinstance(dy, AbstractZero) else self.region(a)
        if region is None:
            return
        if region.dtype.kind == "f" and np.iscomplexobj(dy):
            dy = np.real(dy)
        if _is_basic(index):
            region[index] += dy
        else:  # an integer-array index may name an element twice: each read counts
            np.add.at(region, index, dy)

    def take(self, w: np.ndarray, index: Any) -> Any:
        """Take out the cotangent of ``w[index]``: the write that made those values is undone."""
        region = self.region(w, create=False)
        if region is None:
            return _ZERO
        written = np.array(region[index], copy=True)
        region[index] = 0
        return written

    def hand_over(self, base: np.ndarray, w: np.ndarray) -> Any:
        """The cotangent of ``w`` before the first write to ``base`` (through ``w``), from the reads
        after it; the shadow is dissolved. Where ``w`` is a view, the rest waits in ``pending``."""
        found = self.shadows.pop(id(base), None)
        if found is None:
            return _ZERO
        flat, whole = found
        if w is base:
            return whole
        part = _view(flat, _lowest(base), w)
        dw = part.copy()
        part[...] = 0
        if whole.any():
            self.pending[id(base)] = self.pending.get(id(base), 0) + whole
        return dw

    def claim(self, a: Any, da: Any) -> Any:
        """``da`` plus what a write through a view of ``a`` left for ``a`` (see :meth:`hand_over`)."""
        rest = self.pending.pop(id(a), None)
        if rest is None:
            return da
        da = unthunk(da)
        return rest if isinstance(da, AbstractZero) else da + rest

    def route(self, y: Any, dy: Any) -> Any:
        """The cotangent of a differentiated call's result ``y`` with written arrays' parts (``y``
        itself, or items of a tuple or list result) sent to their shadows."""

        def send(x: np.ndarray, dx: Any) -> Any:
            self.deposit(x, dx)
            return _ZERO

        return _for_written(self, y, dy, send)

    # -- undoing and redoing writes --

    def restore(self, w: np.ndarray, index: Any, old: Any) -> None:
        """Put back what a write to ``w[index]`` overwrote, remembering what it wrote."""
        self.redo.append((w, index, np.array(w[index], copy=True)))
        w[index] = old

    def finish(self) -> None:
        """End a backward pass: write again what the restored writes wrote, in their order."""
        for w, index, new in reversed(self.redo):
            w[index] = new
        self.redo.clear()
        self.shadows.clear()
        self.pending.clear()


def _for_written(writes, y: Any, dy: Any, change) -> Any:
    """``dy``, the (co)tangent of ``y``, with ``change(x, dx)`` for each written array ``x`` that
    is ``y`` or an item of the tuple or list ``y``."""
    if type(y) is np.ndarray:
        return change(y, dy) if writes.holds(y) else dy
    if type(y) not in (tuple, list) or not any(
        type(x) is np.ndarray and writes.holds(x) for x in y
    ):
        return dy
    dy = unthunk(dy)
    backing = dy.backing if isinstance(dy, Tangent) else dy
    if isinstance(dy, AbstractZero):
        backing = (dy,) * len(y)
    items = tuple(_for_written(writes, x, dx, change) for x, dx in zip(y, backing))
    if isinstance(dy, (Tangent, AbstractZero)):
        return Tangent.from_backing(type(y), items)
    return type(dy)(items)


class ForwardWrites:
    """Forward mode's tangents of the arrays written in place in one differentiation.

    ``shadows`` holds each written base's tangent, by ``id``, laid out like its memory; ``views``
    records, for each view a rule made, ``(view, source, tangent of source)``.

    Example:
        >>> writes = ForwardWrites()
        >>> a = np.zeros(3)
        >>> region = writes.register(a, np.array([1.0, 1.0, 1.0]))
        >>> a[0] = 5.0; region[0] = 2.0
        >>> writes.tangent_of(a[:2])
        array([2., 1.])
    """

    __slots__ = ("shadows", "views")

    def __init__(self) -> None:
        self.shadows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.views: dict[int, tuple[np.ndarray, np.ndarray, Any]] = {}

    def holds(self, a: np.ndarray) -> bool:
        """Whether ``a`` is, or is a view of, an array written so far."""
        return id(base_of(a)) in self.shadows

    def tangent_of(self, a: np.ndarray) -> np.ndarray:
        """The tangent of the written array ``a`` now (a copy: later writes do not change it)."""
        return self.region(a).copy()

    def region(self, a: np.ndarray) -> np.ndarray:
        """The part of the shadow that holds the tangent of ``a``, an array written so far."""
        base = base_of(a)
        return _region(self.shadows[id(base)], base, a)

    def result_tangent(self, y: Any, dy: Any) -> Any:
        """The tangent of a differentiated call's result ``y``, written arrays' from their shadows."""
        return _for_written(self, y, dy, lambda x, _: self.tangent_of(x))

    def register(self, w: np.ndarray, dw: Any) -> np.ndarray:
        """The tangent of ``w``'s elements, in its base's shadow, for a write to ``w``.

        At the first write to the base the shadow is filled with the base's tangent: ``dw`` if
        ``w`` is the base, else the tangent the base had where the view ``w`` was made.
        """
        base = base_of(w)
        shadow = self.shadows.get(id(base))
        if shadow is None:
            if base.dtype.kind not in "fc":
                raise MutationError(
                    f"{user_location()}: a {base.dtype} array written in place carries no "
                    "tangent: differentiate with respect to floating-point arrays"
                )
            shadow = _new_shadow(base)
            dbase = dw if w is base else self._base_tangent(w, base)
            assign(shadow[1], Ellipsis, dbase)
            self.shadows[id(base)] = shadow
        return _region(shadow, base, w)

    def _base_tangent(self, w: np.ndarray, base: np.ndarray) -> Any:
        view = w
        while True:
            found = self.views.get(id(view))
            if found is None or found[0] is not view:
                raise MutationError(
                    f"{user_location()}: forward mode cannot follow this write through a view to "
                    "the array it views (the view was not made in differentiated code): write "
                    "to the array itself, or differentiate in reverse mode"
                )
            _, source, dsource = found
            if source is base:
                return dsource
            view = source


def assign(region: np.ndarray, index: Any, tangent: Any) -> None:
    """Set ``region[index]``, part of a forward-mode shadow, to ``tangent`` (zero, a number or an
    array, broadcast as numpy assigns)."""
    tangent = unthunk(tangent)
    if isinstance(tangent, AbstractZero) or tangent is None:
        region[index] = 0
        return
    if type(tangent) is Batched:
        raise BatchingError("an array written in place holds one tangent, not a batch")
    if region.dtype.kind == "f" and np.iscomplexobj(tangent):
        tangent = np.real(tangent)
    region[index] = tangent
