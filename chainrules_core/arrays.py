"""What rules count as an array: numpy's own, and any type that follows numpy's dispatch protocols.

A rule written with numpy functions (``np.sum``, ``np.matmul``, ufuncs, ``np.reshape``) works
unchanged on the arrays of another library that implements ``__array_function__`` (NEP 18) and
``__array_ufunc__`` (NEP 13), such as dask and CuPy arrays: numpy hands each call to that library.
:class:`DuckArray` names those types without importing any of them, so that rules can be
registered for them, ``ProjectTo`` can keep their type, and an engine can look up their methods
(``x.sum(axis=0)``) as the ndarray methods of the same name.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

_PROTOCOL = ("__array_function__", "__array_ufunc__", "shape", "dtype")


class DuckArray(abc.ABC):  # noqa: B024 - virtual: types qualify by protocol, not inheritance
    """The array types other than numpy's that numpy dispatches to: ``issubclass`` tells them.

    A class is a ``DuckArray`` when it defines ``__array_function__``, ``__array_ufunc__``,
    ``shape`` and ``dtype``, and is not an ndarray (or ndarray subclass) or a numpy scalar. Nothing
    inherits from it; it is meant for ``isinstance`` tests and as a type in rule signatures.

    Example:
        >>> import numpy as np
        >>> from chainrules_core.arrays import DuckArray
        >>> class Wrapped:
        ...     shape, dtype = (3,), np.dtype(float)
        ...     def __array_function__(self, func, types, args, kwargs): ...
        ...     def __array_ufunc__(self, ufunc, method, *inputs, **kwargs): ...
        >>> isinstance(Wrapped(), DuckArray), isinstance(np.ones(3), DuckArray)
        (True, False)
    """

    @classmethod
    def __subclasshook__(cls, other: type) -> Any:
        if cls is not DuckArray:
            return NotImplemented
        if issubclass(other, (np.ndarray, np.generic)):
            return False
        return all(any(name in vars(k) for k in other.__mro__) for name in _PROTOCOL) or (
            NotImplemented
        )


ARRAY_TYPES = (np.ndarray, DuckArray)
"""The array types that rules written with numpy functions take, numpy's and duck arrays (for
``isinstance`` tests and rule signatures)."""


def is_duck_array(x: Any) -> bool:
    """Whether ``x`` is an array of another library that numpy dispatches to (see :class:`DuckArray`).

    Cheap for the values rules see most (numbers, ndarrays, tuples): those have no
    ``__array_function__`` or are numpy's own.

    Example:
        >>> import numpy as np
        >>> from chainrules_core.arrays import is_duck_array
        >>> is_duck_array(np.ones(3)), is_duck_array(2.0)
        (False, False)
    """
    kind = type(x)
    return (
        kind is not np.ndarray and hasattr(kind, "__array_function__") and isinstance(x, DuckArray)
    )


def ndarray_method(receiver: Any, name: str) -> Any:
    """The unbound ndarray method that ``receiver.name`` stands for, when ``receiver`` is a duck array.

    Duck arrays mirror the ndarray API, so their ``x.sum(axis=0)`` means what numpy's does, and its
    rule is the rule of ``np.ndarray.sum``. ``None`` for other receivers and for names ndarray lacks.

    Example:
        >>> import numpy as np
        >>> from chainrules_core.arrays import ndarray_method
        >>> ndarray_method(np.ones(3), "sum") is None
        True
    """
    if not is_duck_array(receiver):
        return None
    return getattr(np.ndarray, name, None)
