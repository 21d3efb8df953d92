"""Which argument of a call each parameter of a Python function receives.

Both call protocols map between the tangents of a call's arguments and those of the transformed
function's parameters (defaults, ``*args``, ``**kwargs`` and keywords included).
"""

from __future__ import annotations

import functools
import inspect
import types

__all__ = ["by_position", "direct", "parameter_sources", "per_call_shape"]


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


def by_position(f: object, given: int, names: list[str], kwargs: dict) -> list[tuple] | str:
    """How to pass the keyword arguments ``names`` of a call of ``f`` with ``given`` positional
    arguments by position: ``(name, default)`` for each parameter from position ``given`` up to
    the last of them, in order (the call gives the keyword's value where it has one, else the
    default); or the name of the first keyword that ``f`` does not take by position.

    Rules differentiate positional arguments only: this is how both protocols give a keyword
    that carries a derivative one. (The values stay with the caller, which differentiates what
    it passes.)

    Example:
        >>> import numpy as np
        >>> by_position(np.clip, 1, ["a_max"], {"a_max": 2.0})
        [('a_min', <no value>), ('a_max', <no value>)]
        >>> by_position(max, 1, ["key"], {"key": abs})
        'key'
    """
    parameters = _positional_parameters(f) or ()
    position = {name: i for i, (name, _) in enumerate(parameters)}
    for name in names:
        if position.get(name, -1) < given:
            return name
    if not names:
        return []
    last = max(position[name] for name in names)
    for name, default in parameters[given : last + 1]:
        if name not in kwargs and default is inspect.Parameter.empty:
            raise TypeError(f"{getattr(f, '__name__', f)}() missing required argument {name!r}")
    return list(parameters[given : last + 1])


@functools.lru_cache(maxsize=512)
def _positional_parameters(f: object) -> tuple | None:
    """``(name, default)`` of the parameters of ``f`` that can be given by position, in order
    (``None`` when Python cannot read a signature)."""
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    found = []
    for p in signature.parameters.values():
        if p.kind not in kinds:
            break
        found.append((p.name, p.default))
    return tuple(found)
