"""Elements of float64 vectors read and written at an integer, and the items a lowered
comprehension appends to its list, differentiated in the generated code itself, as
:mod:`zygote_engine.elementwise` does for arithmetic.

Through the call protocol a read ``x[i]`` costs a rule lookup, a projector and an
``InplaceableThunk``, and in the backward pass three generic additions; a write ``a[i] = v``
costs a rule, a 0-d copy of what it overwrote and a projector, and its pullback as much again:
about 8 and 12 µs around numpy's fraction of one. A loop over the elements of a vector pays that
per element. The generated code (``reverse._Reverse.inline_element_read`` and
``inline_element_write``) asks these functions first:

* :func:`element_read` gives a record of a read of an element of a float64 vector at an
  integer. The backward pass (:func:`add_at`) adds the element's cotangent into one buffer for
  the vector, in place, or, for a vector written in place earlier in the call, into its shadow
  (see :mod:`zygote_engine.array_writes`), as the rule would.
* :func:`element_write` performs ``a[i] = v`` for a float64 vector ``a`` that owns its memory and
  a real number ``v``, and keeps what it overwrote; :func:`element_unwrite` is its pullback, the
  rule's, for one element.
* :func:`appended` appends an item to the list a comprehension builds (``__zy.append``) and
  gives its position, where the backward pass takes the item's cotangent from the mutation store,
  as the rule's pullback does.

Anything else (other dtypes and dimensions, views written through, slices, arrays) takes the
call protocol and its rules. Nested differentiation takes the rules too: the records' functions
decline there (see ``lib/nesting.py``), except for reads of vectors never written, whose
:func:`add_at` has a forward rule.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from chainrules_core import NoTangent, ZeroTangent, add, unthunk

__all__ = [
    "EXCLUSIVE",
    "add_at",
    "appended",
    "element_read",
    "element_unwrite",
    "element_write",
]

_F64 = np.dtype(np.float64)
_INDICES = frozenset({int, np.int64})
_REALS = frozenset({float, np.float64})
_ZERO = ZeroTangent()
_NO = NoTangent()
# ``sys.getrefcount`` of an array that nothing but its accumulator refers to, asked inside the
# function the accumulator is passed to: the caller's variable, the function's parameter and
# getrefcount's own argument (and before 3.11, the caller's reference to the argument it passes)
EXCLUSIVE = 3 if sys.version_info >= (3, 11) else 4


def element_read(cx, x: Any, index: Any) -> tuple | None:
    """What the backward pass needs of the read ``x[index]``, when it is an element of a float64
    vector at an integer (a number, not a view): ``(index, x.shape)``, or ``(index, x, writes)``
    for a vector written in place so far in this call, whose reads go to its shadow; ``None``
    for anything else. (A read before a vector's first write hands its cotangent back as any read
    does: see :mod:`zygote_engine.array_writes`.)

    Example:
        >>> import numpy as np
        >>> from zygote_engine.store import MutationStore
        >>> cx, x = MutationStore(), np.ones(3)
        >>> element_read(cx, x, 1), element_read(cx, np.ones((2, 2)), 1)
        ((1, (3,)), None)
        >>> _ = cx.array_writes().register(x)
        >>> element_read(cx, x, 1)[2] is cx.written
        True
    """
    if not (
        x.__class__ is np.ndarray
        and x.dtype is _F64
        and x.ndim == 1
        and index.__class__ in _INDICES
    ):
        return None
    writes = cx.written
    if writes is None or not writes.holds(x):
        return index, x.shape
    return index, x, writes


def add_at(acc: Any, read: tuple, dy: Any) -> Any:
    """The accumulated cotangent ``acc`` of a float64 vector plus the cotangent ``dy`` of its
    element read as :func:`element_read` recorded it.

    A loop that reads a vector element by element adds every read into one buffer, in place when
    nothing but the caller's accumulator refers to it (see ``runtime.accumulate``), so ``n``
    reads cost ``O(n)``, not an array each. A complex ``dy`` is projected onto the reals. The
    read of a written vector adds into its shadow, and ``acc`` is unchanged.

    Example:
        >>> from chainrules_core import ZeroTangent
        >>> acc = add_at(ZeroTangent(), (1, (3,)), 2.0)
        >>> add_at(acc, (-1, (3,)), 0.5)
        array([0. , 2. , 0.5])
    """
    if len(read) == 3:
        index, x, writes = read
        writes.deposit_at(x, index, dy)
        return acc
    index, shape = read
    if dy.__class__ not in _REALS:
        dy = float(np.real(unthunk(dy)))
    if acc.__class__ is ZeroTangent:
        acc = np.zeros(shape)
    elif not (
        acc.__class__ is np.ndarray
        and acc.shape == shape
        and acc.dtype is _F64
        and acc.base is None
        and sys.getrefcount(acc) == EXCLUSIVE
    ):
        element = np.zeros(shape)
        element[index] = dy
        return unthunk(add(acc, element))
    acc[index] += dy
    return acc


def element_write(cx, a: Any, index: Any, v: Any) -> tuple | None:
    """``a[index] = v``, recorded for :func:`element_unwrite`, when ``a`` is a float64 vector
    that owns its memory, ``index`` an integer and ``v`` a real number; ``None`` (and nothing
    written) for anything else, which the rule for ``operator.setitem`` then writes.

    Example:
        >>> import numpy as np
        >>> from zygote_engine.store import MutationStore
        >>> cx, a = MutationStore(), np.zeros(3)
        >>> record = element_write(cx, a, 1, 2.5)
        >>> a, cx.written.holds(a), element_write(cx, a[1:], 0, 1.0)
        (array([0. , 2.5, 0. ]), True, None)
    """
    if not (
        a.__class__ is np.ndarray
        and a.dtype is _F64
        and a.ndim == 1
        and a.base is None
        and index.__class__ in _INDICES
        and v.__class__ in _REALS
    ):
        return None
    writes = cx.array_writes()
    first = writes.register(a)
    old = a[index]
    a[index] = v
    return writes, a, index, old, first, v.__class__


def element_unwrite(write: tuple) -> tuple:
    """The pullback of a write :func:`element_write` recorded, as the rule's: the cotangent of
    the element it wrote is taken out of the vector's shadow as the value's, what it overwrote is
    put back (``ArrayWrites.restore``), and the first write of the vector hands the shadow back
    as the vector's cotangent. Gives ``(NoTangent(), da, NoTangent(), dv)``.

    Example:
        >>> import numpy as np
        >>> from zygote_engine.store import MutationStore
        >>> cx, a = MutationStore(), np.zeros(3)
        >>> write = element_write(cx, a, 1, 2.5)
        >>> cx.written.deposit_at(a, 1, 4.0)
        >>> _, da, _, dv = element_unwrite(write)
        >>> da, dv, a
        (array([0., 0., 0.]), 4.0, array([0., 0., 0.]))
    """
    writes, a, index, old, first, kind = write
    shadow = writes.region(a, create=False)
    if shadow is None:
        dv = _ZERO
    else:
        dv = kind(shadow[index])
        shadow[index] = 0.0
    writes.restore(a, index, old)
    return _NO, writes.hand_over(a, a) if first else _ZERO, _NO, dv


def appended(cx, xs: list, item: Any) -> int | None:
    """``xs.append(item)`` for the list a lowered comprehension builds, and the position of the
    item, whose cotangent the backward pass takes out of the mutation store (``cx.take``);
    ``None`` (and nothing appended) once arrays have been written in place in this call, where
    the rule routes a written array's cotangent to its shadow.

    Example:
        >>> from zygote_engine.store import MutationStore
        >>> cx, xs = MutationStore(), [1.0]
        >>> appended(cx, xs, 2.0), xs
        (1, [1.0, 2.0])
    """
    if cx.written is not None:
        return None
    xs.append(item)
    return len(xs) - 1
