"""What the engine needs to know about Python classes: how to create instances, and properties.

Pure introspection of classes, shared by both call protocols. A class with no rule is
constructed by the engine: a dataclass or ``NamedTuple`` is built from its fields (its
``__init__``/``__new__`` is generated code with no source to differentiate); another class is
created with ``__new__`` and its Python ``__init__`` is differentiated like any method. Reading a
property runs its Python getter, which is differentiated like any method.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from typing import Any

from chainrules_core.rules import HEAPTYPE

__all__ = [
    "constructible",
    "init_fields",
    "is_exception_class",
    "made_in_python",
    "new_instance",
    "property_getter",
    "property_setter",
]


def is_exception_class(cls: type) -> bool:
    """Whether ``cls`` is an exception class whose instances keep their arguments in ``args``
    (no Python ``__init__`` of its own): the engine builds it from ``args``.

    Example:
        >>> class Found(Exception):
        ...     pass
        >>> is_exception_class(Found), is_exception_class(dict)
        (True, False)
    """
    return (
        isinstance(cls, type)
        and issubclass(cls, BaseException)
        and not isinstance(cls.__init__, types.FunctionType)
        and not isinstance(cls.__new__, types.FunctionType)
    )


def constructible(cls: type) -> bool:
    """Whether the engine can construct ``cls`` itself (a Python class with no rule).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Point:
        ...     x: float
        >>> constructible(Point), constructible(dict)
        (True, False)
    """
    init = cls.__init__
    return (
        init_fields(cls) is not None
        or is_exception_class(cls)
        or isinstance(init, types.FunctionType)
        or (
            init is object.__init__
            and cls.__new__ is object.__new__
            and cls.__module__ != "builtins"
        )
    )


def init_fields(cls: type) -> list[str] | None:
    """The fields that ``cls(...)`` takes, in order, for a dataclass or ``NamedTuple``; else ``None``.

    Example:
        >>> from typing import NamedTuple
        >>> class Pair(NamedTuple):
        ...     a: float
        ...     b: float
        >>> init_fields(Pair)
        ['a', 'b']
    """
    # (a subclass that is not a dataclass itself inherits the generated __init__ and the fields)
    if dataclasses.is_dataclass(cls) and _generated(cls.__init__):
        return [f.name for f in dataclasses.fields(cls) if f.init]
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return list(cls._fields)
    return None


def new_instance(cls: type, args: tuple, kwargs: dict) -> Any:
    """An instance of ``cls`` made by its ``__new__``, before its ``__init__`` runs."""
    if cls.__new__ is object.__new__:
        return cls.__new__(cls)
    return cls.__new__(cls, *args, **kwargs)


def property_setter(obj: Any, name: str) -> types.FunctionType | None:
    """The Python setter of the property ``name`` of ``obj``'s class, or ``None``.

    Example:
        >>> class Box:
        ...     @property
        ...     def side(self):
        ...         return self._side
        ...     @side.setter
        ...     def side(self, value):
        ...         self._side = value
        >>> property_setter(Box(), "side").__name__
        'side'
    """
    return _property_function(obj, name, "fset")


def property_getter(obj: Any, name: str) -> types.FunctionType | None:
    """The Python getter of the property ``name`` of ``obj``'s class, or ``None``.

    Example:
        >>> class Circle:
        ...     def __init__(self, r):
        ...         self.r = r
        ...     @property
        ...     def area(self):
        ...         return 3.14 * self.r**2
        >>> property_getter(Circle(1.0), "area").__name__, property_getter(Circle(1.0), "r")
        ('area', None)
    """
    return _property_function(obj, name, "fget")


def made_in_python(kind: type) -> bool:
    """Whether the class ``kind`` was made by Python code (a ``class`` statement), so that its
    methods may be Python functions.

    Example:
        >>> class Log(list):
        ...     pass
        >>> made_in_python(Log), made_in_python(list)
        (True, False)
    """
    return bool(kind.__flags__ & HEAPTYPE)


def _property_function(obj: Any, name: str, role: str) -> types.FunctionType | None:
    kind = type(obj)
    if not made_in_python(kind) or kind is super or isinstance(obj, type):
        return None
    found = inspect.getattr_static(kind, name, None)
    function = getattr(found, role, None) if type(found) is property else None
    return function if type(function) is types.FunctionType else None


def _generated(fn: Any) -> bool:
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename.startswith("<")
