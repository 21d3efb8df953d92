"""Operators on user classes: the Python special methods an operator call runs, in Python's order.

``a + b`` is ``operator.add(a, b)`` in the normal form. When no rule applies (the rules cover
numbers, arrays and containers), Python itself would call ``type(a).__add__(a, b)`` and, if that
returns ``NotImplemented``, ``type(b).__radd__(b, a)``; the reflected method goes first when
``type(b)`` is a subclass of ``type(a)`` that overrides it. ``a += b`` tries ``__iadd__`` and
then the binary operator. Both call protocols differentiate these methods like any Python code;
this module only says which methods, in which order, with the arguments in which order.
"""

from __future__ import annotations

import inspect
import operator
import types
from typing import Any

from chainrules_core.rules import HEAPTYPE

__all__ = ["INERT", "overrides_rule", "runs_plainly", "special_methods"]

# values that carry no derivative: indices, flags, names
INERT = frozenset({int, bool, str, bytes, type(None), range, slice})
# a method written in C, bound or not
_C_METHODS = (
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
)

_BINARY = {
    operator.add: ("__add__", "__radd__"),
    operator.sub: ("__sub__", "__rsub__"),
    operator.mul: ("__mul__", "__rmul__"),
    operator.truediv: ("__truediv__", "__rtruediv__"),
    operator.floordiv: ("__floordiv__", "__rfloordiv__"),
    operator.mod: ("__mod__", "__rmod__"),
    operator.pow: ("__pow__", "__rpow__"),
    operator.matmul: ("__matmul__", "__rmatmul__"),
    operator.lshift: ("__lshift__", "__rlshift__"),
    operator.rshift: ("__rshift__", "__rrshift__"),
    operator.and_: ("__and__", "__rand__"),
    operator.or_: ("__or__", "__ror__"),
    operator.xor: ("__xor__", "__rxor__"),
    operator.eq: ("__eq__", "__eq__"),
    operator.ne: ("__ne__", "__ne__"),
    operator.lt: ("__lt__", "__gt__"),
    operator.le: ("__le__", "__ge__"),
    operator.gt: ("__gt__", "__lt__"),
    operator.ge: ("__ge__", "__le__"),
}
_COMPARISONS = frozenset(
    {operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge}
)
_INPLACE = {
    operator.iadd: ("__iadd__", operator.add),
    operator.isub: ("__isub__", operator.sub),
    operator.imul: ("__imul__", operator.mul),
    operator.itruediv: ("__itruediv__", operator.truediv),
    operator.ifloordiv: ("__ifloordiv__", operator.floordiv),
    operator.imod: ("__imod__", operator.mod),
    operator.ipow: ("__ipow__", operator.pow),
    operator.imatmul: ("__imatmul__", operator.matmul),
}
_UNARY = {
    operator.neg: "__neg__",
    operator.pos: "__pos__",
    operator.invert: "__invert__",
    abs: "__abs__",
    len: "__len__",
    operator.getitem: "__getitem__",  # a receiver and a key (and a value): not reflected
    operator.setitem: "__setitem__",
    operator.delitem: "__delitem__",
    operator.contains: "__contains__",
}


def _method(obj: Any, name: str) -> types.FunctionType | None:
    found = inspect.getattr_static(type(obj), name, None)
    return found if type(found) is types.FunctionType else None


def special_methods(f: Any, args: tuple) -> list[tuple[types.FunctionType, tuple[int, ...]]]:
    """``(method, order)`` pairs to try for ``f(*args)``: call ``method(*(args[i] for i in
    order))`` and take the first result that is not ``NotImplemented``. Only methods written in
    Python are listed (a builtin type's are the rules' business).

    Example:
        >>> import operator
        >>> class Money:
        ...     def __init__(self, amount):
        ...         self.amount = amount
        ...     def __add__(self, other):
        ...         return Money(self.amount + other.amount)
        ...     def __rmul__(self, k):
        ...         return Money(k * self.amount)
        >>> [(m.__name__, order) for m, order in special_methods(operator.mul, (2, Money(1.0)))]
        [('__rmul__', (1, 0))]
    """
    try:
        if f in _INPLACE:
            name, binary = _INPLACE[f]
            first = _method(args[0], name) if len(args) == 2 else None
            return [*([(first, (0, 1))] if first else []), *special_methods(binary, args)]
        if f in _UNARY:
            method = _method(args[0], _UNARY[f]) if args else None
            return [(method, tuple(range(len(args))))] if method else []
        if f not in _BINARY or len(args) != 2:
            return []
    except TypeError:  # an unhashable callable
        return []
    name, reflected_name = _BINARY[f]
    a, b = args
    direct, reflected = _method(a, name), _method(b, reflected_name)
    if type(b) is type(a) and f not in _COMPARISONS:
        reflected = None  # Python reflects arithmetic only between operands of different types
    candidates = [(direct, (0, 1)), (reflected, (1, 0))]
    if (
        reflected is not None
        and type(b) is not type(a)
        and issubclass(type(b), type(a))
        and reflected is not _method(a, reflected_name)
    ):
        candidates.reverse()  # a subclass's reflected method goes first
    return [(method, order) for method, order in candidates if method is not None]


def overrides_rule(f: Any, args: tuple) -> bool:
    """Whether ``f(*args)``, which a rule of a builtin container matched, runs a special method
    written in Python: an operator on an instance of a subclass of ``list``, ``dict`` or
    ``tuple`` that overrides it. The rule would run that method as a black box; it is
    differentiated instead.

    Example:
        >>> import operator
        >>> class Scaled(dict):
        ...     def __setitem__(self, key, value):
        ...         super().__setitem__(key, 2.0 * value)
        >>> overrides_rule(operator.setitem, (Scaled(), "a", 1.0))
        True
        >>> overrides_rule(operator.setitem, ({}, "a", 1.0))
        False
    """
    if not args:
        return False
    first, last = args[0].__class__, args[-1].__class__
    # Asked on every call of a rule: classes made in C (arrays, numbers, the containers
    # themselves) are ruled out first, by the flag that made_in_python tests. (Array-likes
    # such as dask's, made in Python too, take the ndarray rules on purpose.)
    subclassed = (first.__flags__ & HEAPTYPE and issubclass(first, _CONTAINERS)) or (
        last.__flags__ & HEAPTYPE and issubclass(last, _CONTAINERS)
    )
    return bool(subclassed and special_methods(f, args))


_CONTAINERS = (list, dict, tuple)


def runs_plainly(f: Any, args: tuple, kwargs: dict) -> bool:
    """Whether ``f(*args, **kwargs)``, which has no rule and no Python code, has nothing to
    differentiate: no input can carry a derivative, or ``f`` is the ``__enter__`` or
    ``__exit__`` of a context manager written in C (a lock's, a file's), which manages a
    resource rather than computing a value.

    Example:
        >>> import threading
        >>> lock = threading.Lock()
        >>> runs_plainly(type(lock).__exit__, (lock, None, None, None), {})
        True
        >>> runs_plainly(divmod, (7.5, 2.0), {})
        False
    """
    receiver = getattr(f, "__self__", None)
    if type(f) in _C_METHODS and f.__name__ in ("__enter__", "__exit__"):
        return True
    inputs = (
        *args,
        *kwargs.values(),
        *(() if isinstance(receiver, types.ModuleType) else (receiver,)),
    )
    return all(type(a) in INERT for a in inputs)
