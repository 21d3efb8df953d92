"""The few helper functions that normalised code calls besides ``operator`` and builtins.

Each is plain Python with the obvious meaning; their rules live in ``zygote_engine.lib``.
Normalised code refers to this module as ``zy``.
"""

from __future__ import annotations

import builtins as _builtins
import sys as _sys
from collections.abc import Mapping, Sequence
from contextlib import _GeneratorContextManager
from inspect import isgeneratorfunction as _isgeneratorfunction
from typing import Any

import numpy as _np

from chainrules_core import ignore_derivatives

__all__ = [
    "MATCH_SELF",
    "Box",
    "append",
    "apply",
    "as_list",
    "as_tuple",
    "collect",
    "concat",
    "delete_cell",
    "delete_global",
    "enter_context",
    "exit_context",
    "generator_halves",
    "ignore_derivatives",
    "import_from",
    "import_name",
    "is_mapping",
    "is_sequence",
    "make_dict",
    "make_list",
    "make_set",
    "make_tuple",
    "mapping_rest",
    "mean_of_second_powers",
    "mean_of_squares",
    "merge_dicts",
    "positional_attribute",
    "read_cell",
    "read_global",
    "sum_of_second_powers",
    "sum_of_squares",
    "times_own_transpose",
    "transpose_times_self",
    "write_cell",
    "write_global",
]


def make_tuple(*items: Any) -> tuple:
    """The tuple display ``(a, b)``."""
    return items


def make_list(*items: Any) -> list:
    """The list display ``[a, b]``."""
    return list(items)


def times_own_transpose(x: Any) -> Any:
    """``x @ x.T`` of one variable ``x`` (its rule's pullback makes one matrix product where
    those of ``@`` and ``.T`` make two). Where the rule declines, this code is differentiated:
    two statements, so that normalisation does not make it a call of itself."""
    transposed = x.T
    return x @ transposed


def transpose_times_self(x: Any) -> Any:
    """``x.T @ x`` of one variable ``x`` (see :func:`times_own_transpose`)."""
    transposed = x.T
    return transposed @ x


# Sums and means of squares of one variable: their derivative is one array operation, 2 dy x,
# where the product's and the reduction's take three (the reduction's cotangent filled in, then
# multiplied by x twice). The generated code differentiates them in place on float64 arrays
# (``array_inline.REDUCTIONS``); elsewhere this code is differentiated, in two statements
# so that normalisation does not make it a call of itself. ``x ** 2`` and ``x * x`` have helpers
# of their own: they are the same on arrays, not on every type.


def sum_of_squares(x: Any) -> Any:
    """``np.sum(x * x)`` of one variable ``x``.

    Example:
        >>> import numpy as np
        >>> from zygote_engine.primitives import sum_of_squares
        >>> float(sum_of_squares(np.array([1.0, 2.0])))
        5.0
    """
    squares = x * x
    return _np.sum(squares)


def sum_of_second_powers(x: Any) -> Any:
    """``np.sum(x ** 2)`` of one variable ``x``."""
    squares = x**2
    return _np.sum(squares)


def mean_of_squares(x: Any) -> Any:
    """``np.mean(x * x)`` of one variable ``x``."""
    squares = x * x
    return _np.mean(squares)


def mean_of_second_powers(x: Any) -> Any:
    """``np.mean(x ** 2)`` of one variable ``x``."""
    squares = x**2
    return _np.mean(squares)


# What each of them stands for: the numpy reduction, and how it squares (``*``: ``x * x``,
# ``**``: ``x ** 2``). Normalisation, the activity analysis, the generated code and the rule
# table of the inline reductions all read it here.
SQUARE_REDUCTIONS = {
    sum_of_squares: (_np.sum, "*"),
    sum_of_second_powers: (_np.sum, "**"),
    mean_of_squares: (_np.mean, "*"),
    mean_of_second_powers: (_np.mean, "**"),
}


def make_set(*items: Any) -> set:
    """The set display ``{a, b}`` (not differentiable)."""
    return set(items)


def make_dict(*keys_and_values: Any) -> dict:
    """The dict display ``{k1: v1, k2: v2}`` from ``k1, v1, k2, v2``."""
    return dict(zip(keys_and_values[::2], keys_and_values[1::2]))


def merge_dicts(*dicts: dict) -> dict:
    """The dict display ``{**a, **b}``."""
    merged: dict = {}
    for d in dicts:
        merged.update(d)
    return merged


def as_tuple(xs: Any) -> tuple:
    """``tuple(xs)`` for the starred parts of a display or a call."""
    return tuple(xs)


def as_list(xs: Any) -> list:
    """``list(xs)`` for a starred assignment target."""
    return list(xs)


def concat(*tuples: tuple) -> tuple:
    """Concatenate tuples: ``(a, *xs, b)`` is ``concat((a,), tuple(xs), (b,))``."""
    return sum(tuples, ())


def collect(iterable: Any) -> list:
    """The items a ``for`` loop visits, materialised so the backward pass can replay them."""
    return list(iterable)


def append(xs: list, item: Any) -> None:
    """``xs.append(item)``, used by lowered comprehensions."""
    xs.append(item)


def apply(f: Any, args: tuple, kwargs: dict) -> Any:
    """``f(*args, **kwargs)``: a call with starred arguments, as one operation."""
    return f(*args, **kwargs)


# -- the module state that differentiated code assigns (see zygote_engine.module_state) --


def read_global(namespace: dict, name: str) -> Any:
    """The global ``name`` of the module whose globals are ``namespace`` (a builtin if none)."""
    found = namespace.get(name, _MISSING)
    if found is _MISSING:
        builtins = namespace.get("__builtins__", _builtins)
        builtins = builtins if isinstance(builtins, dict) else vars(builtins)
        found = builtins.get(name, _MISSING)
        if found is _MISSING:
            raise NameError(f"name {name!r} is not defined", name=name)
    return found


def write_global(namespace: dict, name: str, value: Any) -> None:
    """``global name; name = value``."""
    namespace[name] = value


def delete_global(namespace: dict, name: str) -> None:
    """``global name; del name``."""
    try:
        del namespace[name]
    except KeyError:
        raise NameError(f"name {name!r} is not defined", name=name) from None


_MISSING = object()


# -- the closure cells that a closure rebinds with nonlocal (see zygote_engine.nonlocals) --


def read_cell(cells: dict, name: str) -> Any:
    """The variable ``name`` of the enclosing function, in its closure cell ``cells[name]``."""
    try:
        return cells[name].cell_contents
    except ValueError:
        raise NameError(
            f"cannot access free variable {name!r} where it is not associated with a value in "
            "enclosing scope",
            name=name,
        ) from None


def write_cell(cells: dict, name: str, value: Any) -> None:
    """``nonlocal name; name = value``."""
    cells[name].cell_contents = value


def delete_cell(cells: dict, name: str) -> None:
    """``nonlocal name; del name``."""
    read_cell(cells, name)  # unbound: the NameError of Python
    del cells[name].cell_contents


# -- the structural tests and reads of match statements (see zygote_engine.patterns) --


def is_sequence(x: Any) -> bool:
    """Whether a sequence pattern ``[a, b]`` may match ``x`` (strings and bytes never do)."""
    return isinstance(x, Sequence) and not isinstance(x, (str, bytes, bytearray))


def is_mapping(x: Any) -> bool:
    """Whether a mapping pattern ``{"k": v}`` may match ``x``."""
    return isinstance(x, Mapping)


def mapping_rest(d: Any, keys: tuple) -> dict:
    """``**rest`` of a mapping pattern: the items of ``d`` whose keys the pattern did not name."""
    return {k: v for k, v in d.items() if k not in keys}


# Builtin classes whose single positional pattern matches the subject itself: ``case float(x)``.
MATCH_SELF = frozenset({bool, bytearray, bytes, dict, float, frozenset, int, list, set, str, tuple})


def positional_attribute(x: Any, cls: type, i: int) -> Any:
    """What the ``i``-th positional pattern of ``case cls(...)`` matches against ``x``."""
    if i == 0 and cls in MATCH_SELF:
        return x
    names = getattr(cls, "__match_args__", ())
    if i >= len(names):
        raise TypeError(f"{cls.__name__}() accepts {len(names)} positional sub-patterns")
    return getattr(x, names[i])


def generator_halves(manager_function: Any) -> tuple:
    """The ``(enter, exit)`` functions that run a ``@contextmanager`` function's generator (or
    that generator function's) up to its yield and on from there (see
    ``zygote_engine/managers.py``)."""
    from zygote_engine.managers import halves

    return halves(manager_function)


# where enter_context keeps what the exit half of a @contextmanager generator reads
_ENTERED = "_zygote_entered"


def enter_context(manager: Any) -> Any:
    """What ``with manager:`` enters, as Python does: ``type(manager).__enter__(manager)``.

    A manager that ``@contextmanager`` made runs the first half of its generator instead, as
    Python code that the engine differentiates (its arguments may carry derivatives); the
    generator that contextlib made is never started. :func:`exit_context` runs the rest.
    """
    if type(manager) is _GeneratorContextManager and _isgeneratorfunction(manager.func):
        enter, _ = generator_halves(manager.func)
        entered = enter(*manager.args, **manager.kwds)
        setattr(manager, _ENTERED, entered)
        return entered[0]
    return type(manager).__enter__(manager)


def exit_context(manager: Any, error: BaseException | None) -> Any:
    """``manager``'s exit, as ``with`` calls it, for ``error`` (``None``: the body completed);
    what it returns says whether it swallowed ``error``."""
    if type(manager) is _GeneratorContextManager and hasattr(manager, _ENTERED):
        _, exit_ = generator_halves(manager.func)
        return exit_(getattr(manager, _ENTERED), error)
    if error is None:
        return type(manager).__exit__(manager, None, None, None)
    return type(manager).__exit__(manager, type(error), error, error.__traceback__)


class Box:
    """The holder of a variable that nested functions rebind with ``nonlocal`` (see
    ``zygote_engine/nonlocals.py``): normalised code reads and writes its ``value``.

    Example:
        >>> from zygote_engine.primitives import Box
        >>> total = Box(0.0)
        >>> total.value = total.value + 2.0
        >>> total
        Box(2.0)
    """

    def __init__(self, *value: Any):
        if value:
            (self.value,) = value

    def __repr__(self) -> str:
        return f"Box({self.__dict__.get('value', '<unbound>')!r})"


# -- import statements inside differentiated functions (see zygote_engine.imports) --


def import_name(name: str, fromlist: tuple[str, ...] | None, level: int, package: str | None):
    """What an ``import`` statement's ``IMPORT_NAME`` step gives: the top package for ``import
    a.b``, the module ``name`` when ``fromlist`` names what is taken from it; a relative import
    (``level`` > 0) is relative to ``package``, the importing function's."""
    return _builtins.__import__(name, {"__package__": package}, None, fromlist, level)


def import_from(module: Any, name: str) -> Any:
    """``from module import name`` (also each step of ``import a.b as c``): the attribute, or the
    submodule of that name that the import loaded."""
    try:
        return getattr(module, name)
    except AttributeError:
        found = _sys.modules.get(f"{module.__name__}.{name}")
        if found is None:
            raise ImportError(
                f"cannot import name {name!r} from {module.__name__!r}", name=module.__name__
            ) from None
        return found
