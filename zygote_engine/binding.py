"""Which argument of a call each parameter of a Python function receives.

Both call protocols map between the tangents of a call's arguments and those of the transformed
function's parameters (defaults, ``*args``, ``**kwargs`` and keywords included).
"""

from __future__ import annotations

import functools
import inspect
import types

__all__ = ["direct", "parameter_sources"]


def direct(fn: types.FunctionType, nargs: int, kwnames: tuple) -> bool:
    """Whether the call's positional arguments are ``fn``'s parameters one for one.

    Example:
        >>> direct(lambda a, b=1: a, 2, ()), direct(lambda a, b=1: a, 1, ())
        (True, False)
    """
    code = fn.__code__
    simple = not (code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS))
    return simple and not kwnames and nargs == code.co_argcount + code.co_kwonlyargcount


@functools.lru_cache(maxsize=4096)
def _sources(code: types.CodeType, fn: types.FunctionType, nargs: int, kwnames: tuple) -> tuple:
    signature = inspect.signature(fn, follow_wrapped=False)  # its own, not a decorated one's
    bound = signature.bind(*range(nargs), **{k: k for k in kwnames}).arguments
    sources = []
    for name, param in signature.parameters.items():
        if name not in bound:
            sources.append(None)
        elif param.kind is param.VAR_POSITIONAL:
            sources.append(("args", bound[name]))
        elif param.kind is param.VAR_KEYWORD:
            sources.append(("kwargs", tuple(bound[name])))
        elif isinstance(bound[name], int):
            sources.append(("at", bound[name]))
        else:
            sources.append(("key", name))
    return tuple(sources)


def parameter_sources(fn: types.FunctionType, nargs: int, kwnames: tuple) -> tuple:
    """One entry per parameter of ``fn`` in a call with ``nargs`` positional arguments and the
    keywords ``kwnames``: ``None`` (it keeps its default), ``("at", i)`` (positional argument
    ``i``), ``("key", name)`` (a keyword), ``("args", positions)`` (``*args``) or
    ``("kwargs", names)`` (``**kwargs``).

    Example:
        >>> def f(a, *rest, scale=1.0, **options):
        ...     pass
        >>> parameter_sources(f, 3, ("verbose",))
        (('at', 0), ('args', (1, 2)), None, ('kwargs', ('verbose',)))
    """
    return _sources(fn.__code__, fn, nargs, kwnames)
