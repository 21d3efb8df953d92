"""Generator context managers: a ``@contextlib.contextmanager`` function as two plain functions.

contextlib runs the manager's generator up to its ``yield`` at ``__enter__`` and on from there at
``__exit__``. The engine differentiates plain code, so a ``with`` statement that calls such a
function by name (``with scaled(x) as v:``) is normalised into calls of the generator's two
halves (``normalize.py``), which :func:`halves` makes here: the generator's code cut at its
yield (``generators.split_at_yield``), compiled on the generator's own file and lines, bound to
its globals, closure cells and defaults, and registered with the transform as their
definitions (``transform.register_definition``), so that both modes, and nested
differentiation, transform them like any other code.

Example:
    >>> import contextlib
    >>> @contextlib.contextmanager
    ... def doubled(x):
    ...     yield 2.0 * x
    >>> enter, exit = halves(doubled)
    >>> entered = enter(1.5)  # the value yielded, then what the exit half reads
    >>> entered
    [3.0]
    >>> exit(entered, None)  # completed: nothing to swallow
    False
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
import weakref
from typing import Any

from zygote_engine.codegen import compile_generated
from zygote_engine.generators import split_at_yield
from zygote_engine.scopes import copy_tree
from zygote_engine.source import FunctionSource

__all__ = ["exit_manager", "generator_of", "halves", "is_manager_function"]


@contextlib.contextmanager
def _probe():
    yield


# Every function that @contextmanager returns runs the same code: its ``helper``.
_HELPER_CODE = _probe.__code__


def is_manager_function(value: Any) -> bool:
    """Whether ``value`` is a function made by ``@contextlib.contextmanager``."""
    return type(value) is types.FunctionType and value.__code__ is _HELPER_CODE


def generator_of(manager_function: types.FunctionType) -> Any:
    """The function ``@contextmanager`` wrapped (from its helper's closure)."""
    cells = dict(zip(manager_function.__code__.co_freevars, manager_function.__closure__))
    return cells["func"].cell_contents


# The compiled halves per generator code (the code does not change), and the halves bound to
# each generator function (its globals, cells and defaults), while it lives.
_CODES: dict[types.CodeType, tuple[types.CodeType, types.CodeType]] = {}
_BOUND: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def halves(manager_function: Any) -> tuple[Any, Any]:
    """``(enter, exit)`` for the ``@contextmanager`` function ``manager_function`` (or for the
    generator function it wraps).

    ``enter(*args, **kwargs)`` runs the generator up to its yield and returns the list of the
    value yielded and the locals the rest reads; ``exit(entered, error)`` resumes it there, given
    that list, throwing ``error`` (``None`` when the ``with`` body completed), and returns
    whether it swallowed it. Anything else (a manager
    function rebound since the code was transformed, a ``@contextmanager`` of a function that is
    not a generator) gets halves that enter and exit its manager as Python's ``with`` does.
    """
    func = (
        generator_of(manager_function)
        if is_manager_function(manager_function)
        else manager_function
    )
    if not inspect.isgeneratorfunction(func):
        return functools.partial(_enter_manager, manager_function), _exit_manager
    found = _BOUND.get(func)
    if found is None:
        codes = _CODES.get(func.__code__)
        if codes is None:
            codes = _CODES[func.__code__] = _compile_halves(func)
        found = _BOUND[func] = tuple(_bind(code, func) for code in codes)
    return found


def _compile_halves(func: types.FunctionType) -> tuple[types.CodeType, types.CodeType]:
    from zygote_engine.normalize import Namer, all_names
    from zygote_engine.transform import register_definition, source_of

    src = source_of(func)
    compiled = []
    for half in split_at_yield(src.node, Namer(all_names(src.node)), src.filename):
        code = compile_generated(half, src.filename, src.freevars, ()).code
        definition = FunctionSource(copy_tree(half), src.filename, half.name, code.co_freevars)
        register_definition(code, definition)
        compiled.append(code)
    return tuple(compiled)


def _bind(code: types.CodeType, func: types.FunctionType) -> types.FunctionType:
    cells = dict(zip(func.__code__.co_freevars, func.__closure__ or ()))
    closure = tuple(cells[name] for name in code.co_freevars) or None
    entering = code.co_name.endswith("__enter")
    defaults = func.__defaults__ if entering else None
    half = types.FunctionType(code, func.__globals__, code.co_name, defaults, closure)
    half.__kwdefaults__ = func.__kwdefaults__ if entering else None
    half.__qualname__ = f"{func.__qualname__}{code.co_name[len(func.__name__) :]}"
    return half


def _enter_manager(manager_function: Any, *args: Any, **kwargs: Any) -> list:
    manager = manager_function(*args, **kwargs)
    return [manager.__enter__(), manager]


def _exit_manager(entered: list, error: BaseException | None) -> Any:
    return exit_manager(entered[1], error)


def exit_manager(manager: Any, error: BaseException | None) -> Any:
    """``manager``'s ``__exit__`` for ``error`` (``None``: the body completed), as ``with`` calls
    it; what it returns says whether it swallowed ``error``."""
    if error is None:
        return type(manager).__exit__(manager, None, None, None)
    return type(manager).__exit__(manager, type(error), error, error.__traceback__)
