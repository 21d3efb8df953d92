"""Delayed tangents: ``Thunk`` computes its value only when something needs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Thunk:
    """A tangent whose computation is delayed until :func:`unthunk` (or arithmetic) needs it.

    A pullback returns a thunk for a cotangent that is costly and may be discarded, for example
    the cotangent of an input the caller does not differentiate. The value is computed once.

    Example:
        >>> from chainrules_core import Thunk, unthunk
        >>> t = Thunk(lambda: 2.0 * 3.0)
        >>> unthunk(t)
        6.0
        >>> t + 1.0
        7.0
    """

    __slots__ = ("_compute", "_value")
    __array_ufunc__ = None

    _PENDING = object()

    def __init__(self, compute: Callable[[], Any]):
        self._compute = compute
        self._value = Thunk._PENDING

    def unthunk(self) -> Any:
        """Compute (once) and return the value; nested thunks are unwrapped too."""
        if self._value is Thunk._PENDING:
            value = self._compute()
            while isinstance(value, Thunk):
                value = value.unthunk()
            self._value = value
            self._compute = None
        return self._value

    def __repr__(self) -> str:
        state = "pending" if self._value is Thunk._PENDING else repr(self._value)
        return f"{type(self).__name__}({state})"


class InplaceableThunk(Thunk):
    """A thunk that can also add its value into an existing buffer without allocating.

    Args:
        add_into: ``add_into(buffer)`` adds the tangent into ``buffer`` in place and returns it.
        value: a zero-argument function (or a :class:`Thunk`) computing the tangent on its own.

    :func:`~chainrules_core.add` with ``inplace=True`` uses ``add_into``; everything else unthunks.

    Example:
        >>> import numpy as np
        >>> from chainrules_core import InplaceableThunk, add
        >>> dy = np.array([1.0, 2.0])
        >>> t = InplaceableThunk(lambda buf: np.add(buf, dy, out=buf), lambda: dy.copy())
        >>> acc = np.zeros(2)
        >>> add(acc, t, inplace=True) is acc
        True
        >>> acc
        array([1., 2.])
    """

    __slots__ = ("add_into",)

    def __init__(self, add_into: Callable[[Any], Any], value: Callable[[], Any] | Thunk):
        compute = value.unthunk if isinstance(value, Thunk) else value
        super().__init__(compute)
        self.add_into = add_into


def thunk(compute: Callable[[], Any]) -> Thunk:
    """Wrap a zero-argument function as a :class:`Thunk`; usable as a decorator.

    Example:
        >>> from chainrules_core import thunk, unthunk
        >>> @thunk
        ... def dx():
        ...     return 4.0
        >>> unthunk(dx)
        4.0
    """
    return Thunk(compute)


def unthunk(x: Any) -> Any:
    """Return the value of a thunk; any other object is returned unchanged.

    Example:
        >>> from chainrules_core import unthunk, thunk
        >>> unthunk(thunk(lambda: 1.5)), unthunk(2.5)
        (1.5, 2.5)
    """
    return x.unthunk() if isinstance(x, Thunk) else x
