"""Which argument of a call each parameter of a Python function receives.

Both call protocols map between the tangents of a call's arguments and those of the transformed
function's parameters (defaults, ``*args``, ``**kwargs`` and keywords included).
"""

from __future__ import annotations

import functools
import inspect
import types

__all__ = ["direct", "parameter_sources", "per_call_shape"]


def direct(fn: types.FunctionType, nargs: int, kwnames: tuple) -> bool:
    """Whether the call's positional arguments are ``fn``'s parameters one for one.

    Example:
        >>> direct(lambda a, b=1: a, 2, ()), direct(lambda a, b=1: a, 1, ())
        (True, False)
    """
    code = fn.__code__
    simple = not (code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS))
    return simple and not kwnames and nargs == code.co_argcount + code.co_kwonlyargcount


def parameter_sources(fn: types.FunctionType, nargs: int, kwnames: tuple) -> tuple:
    """One entry per parameter of ``fn`` in a call with ``nargs`` positional arguments and the
    keywords ``kwnames``: ``None`` (it keeps its default), ``("at", i)`` (positional argument
    ``i``), ``("key", name)`` (a keyword), ``("args", positions)`` (``*args``) or
    ``("kwargs", names)`` (``**kwargs``). Callers cache what they build from it per call shape.

    Example:
        >>> def f(a, *rest, scale=1.0, **options):
        ...     pass
        >>> parameter_sources(f, 3, ("verbose",))
        (('at', 0), ('args', (1, 2)), None, ('kwargs', ('verbose',)))
    """
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


def per_call_shape(build):
    """Cache ``build(fn, nargs, kwnames)`` per code object and call shape.

    The call protocols look up a call's argument mapping on every call of a Python function:
    it is built once per shape.

    Example:
        >>> @per_call_shape
        ... def arity(fn, nargs, kwnames):
        ...     print("built")
        ...     return nargs + len(kwnames)
        >>> def f(*args, **kwargs):
        ...     pass
        >>> arity(f, 2, ("k",))
        built
        3
        >>> arity(f, 2, ("k",))
        3
    """
    built: dict[tuple, object] = {}

    @functools.wraps(build)
    def cached(fn: types.FunctionType, nargs: int, kwnames: tuple):
        key = (fn.__code__, nargs, kwnames)
        found = built.get(key)
        if found is None:
            found = built[key] = build(fn, nargs, kwnames)
        return found

    return cached
