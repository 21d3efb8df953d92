"""The transform pipeline: source -> fence -> normal form -> generated function -> code object.

Both modes share every stage but generation: ``reverse`` makes the forward pass with its nested
backward (:func:`transform`), ``forward`` the tangent function (:func:`transform_jvp`).
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import inspect
import os
import types
from collections.abc import Callable
from dataclasses import dataclass

from zygote_engine import forward, reverse
from zygote_engine.activity import FunctionInfo
from zygote_engine.codegen import (
    Compiled,
    compile_generated,
    definition_paths,
    follow,
    generated_codes,
    render,
    reparsed,
)
from zygote_engine.emit import function_def
from zygote_engine.errors import ENGINE_DIRECTORY, UnsupportedConstructError, user_location
from zygote_engine.fence import check_supported
from zygote_engine.imports import without_imports
from zygote_engine.module_state import route_globals
from zygote_engine.nonlocals import CELLS, box_nonlocals, rebound_by_closures, route_cells
from zygote_engine.normalize import HELPERS_NAME, Namer, all_names, normalize
from zygote_engine.patterns import without_matches
from zygote_engine.source import FunctionSource, get_source

__all__ = [
    "Transformed",
    "forget_generated",
    "note_origin",
    "prepared",
    "register_definition",
    "source_of",
    "transform",
    "transform_jvp",
]


@dataclass(frozen=True)
class Transformed:
    """The result of transforming one code object in one mode."""

    compiled: Compiled  # ``<name>__forward(__cx, *params)`` or ``<name>__jvp(...)``
    origin: str

    @property
    def code(self) -> types.CodeType:
        return self.compiled.code

    @property
    def backward_code(self) -> types.CodeType | None:
        """The code of the backward pass that a reverse-mode forward defines and returns."""
        name = self.code.co_name.replace("__forward", "__backward")
        return next(
            (c for c in self.code.co_consts if isinstance(c, types.CodeType) and c.co_name == name),
            None,
        )

    @property
    def source(self) -> str:
        """The readable generated source (rendered on demand: most transforms are never shown)."""
        return render(self.compiled, self.origin)


# The run-time objects generated code reads through closure cells: constants to a transform of
# generated code (nested differentiation).
_RUNTIME_NAMES = frozenset(reverse.RUNTIME_NAMES) | frozenset(forward.RUNTIME_NAMES)
# Code reverse mode never transforms: what the generated code runs on (forward mode does, for
# nested derivatives, with the rules of lib/nesting.py).
_MACHINERY_FILES = frozenset(
    os.path.join(ENGINE_DIRECTORY, f"{name}.py")
    for name in (
        "runtime",
        "cache",
        "config",
        "forward_runtime",
        "store",
        "tangent_table",
        "array_writes",
        "binding",
        "elementwise",
    )
)


def transform(fn: types.FunctionType, inactive: tuple[int, ...] = ()) -> Transformed:
    """Reverse mode: run every stage on ``fn`` (see the package docs, "How it works");
    ``inactive``: the positions whose values carry no derivative (see ``reverse.generate``)."""
    if _is_engine_machinery(fn):
        raise UnsupportedConstructError(
            f"{user_location()}: reverse mode cannot differentiate the engine's own machinery "
            f"({fn.__module__}.{fn.__qualname__}), which this code calls directly: differentiate "
            "through gradient, pullback, withgradient, derivative or jvp, which nest to any "
            "order, or use forward mode (jvp), which differentiates the machinery too"
        )
    generate = (
        functools.partial(reverse.generate, inactive=inactive) if inactive else reverse.generate
    )
    return _run(fn, generate, reverse.RUNTIME_NAMES)


def _is_engine_machinery(fn: types.FunctionType) -> bool:
    """Whether ``fn`` is the engine's call protocols and their state (contexts, caches, stores),
    which reverse mode reaches only through the rules of the public functions (the functions the
    public API hands out, ``derivative(f)`` say, are ordinary code)."""
    return fn.__code__.co_filename in _MACHINERY_FILES


def transform_jvp(fn: types.FunctionType) -> Transformed:
    """Forward mode: run every stage on ``fn``, generating the tangent function."""
    return _run(fn, forward.generate_jvp, forward.RUNTIME_NAMES)


def _run(fn: types.FunctionType, generate, runtime_names: tuple[str, ...]) -> Transformed:
    src, tree = _generate(fn, generate)
    compiled = compile_generated(tree, src.filename, src.freevars, runtime_names)
    code = compiled.code
    origin = _ORIGINS.setdefault(id(fn.__code__), [None, fn.__code__])
    origin[0] = _stand_in(fn)
    # where each definition is in the tree is found only if nested differentiation asks
    for nested in generated_codes(code):
        _GENERATED[nested] = (origin, generate, code)
    return Transformed(compiled, f"{fn.__qualname__} ({src.filename}:{src.node.lineno})")


# Code compiled from generated trees: how to find its definition again (nested differentiation
# transforms it), as (the function transformed, the generation stage, the code compiled from the
# whole tree, whose definition paths say where in the tree each code's definition is).
# The trees themselves are not kept (they are large); a definition is regenerated when asked,
# from a function with the transformed code: the one the cache bound last (see
# :func:`note_origin`), in a holder that every entry of that code shares. The holder keeps a
# stand-in for that one function (per code object) alive: generated code may outlive it.
_GENERATED: dict[types.CodeType, tuple[list, Callable, tuple]] = {}
_GENERATED_SOURCES: dict[types.CodeType, FunctionSource] = {}
_ORIGINS: dict[int, list] = {}  # by id of the code (equal code of other files is other code)


def note_origin(fn: types.FunctionType) -> None:
    """Remember ``fn``, whose code was transformed before, as the one to regenerate from."""
    origin = _ORIGINS.get(id(fn.__code__))
    if origin is not None and origin[0].__closure__ is not fn.__closure__:
        origin[0] = _stand_in(fn)


def _stand_in(fn: types.FunctionType) -> types.FunctionType:
    """A function like ``fn`` to regenerate from: the same code, globals and closure cells, but
    not ``fn`` itself, which the caches hold weakly."""
    stand_in = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, None, fn.__closure__)
    # Before 3.11 the code does not record its qualified name, and finding a lambda's source
    # among several on one line needs it.
    stand_in.__qualname__ = fn.__qualname__
    return stand_in


def forget_generated() -> None:
    """Forget every generated definition (``refresh``)."""
    _GENERATED.clear()
    _GENERATED_SOURCES.clear()
    _ORIGINS.clear()


# Definitions the engine built from the user's code before the transform (the halves of a
# @contextmanager generator, see managers.py), by their compiled code.
_BUILT: dict[types.CodeType, FunctionSource] = {}


def register_definition(code: types.CodeType, source: FunctionSource) -> None:
    """Record ``source`` as the definition of ``code``, compiled from a tree the engine built."""
    _BUILT[code] = source


def _parsed_anew(code: types.CodeType) -> bool:
    """Whether :func:`source_of` parses the source of ``code`` for each call (a function's own
    code), rather than handing back a definition it keeps (generated code, a built half)."""
    return code not in _GENERATED and code not in _BUILT


def source_of(fn: types.FunctionType) -> FunctionSource:
    """Stage 1 for any function: its own source, or the definition the engine generated for it."""
    code = fn.__code__
    if _parsed_anew(code):
        return get_source(fn)
    entry = _GENERATED.get(code)
    if entry is None:
        return _BUILT[code]
    found = _GENERATED_SOURCES.get(code)
    if found is None:
        origin, generate, top = entry
        tree = reparsed(_generate(origin[0], generate)[1])
        path = definition_paths(top, tree).get(code)
        if path is None:  # a definition the paths cannot tell from another (never seen)
            return get_source(fn)
        node = follow(tree, path)
        if isinstance(node, ast.Lambda):
            body = [ast.Return(value=node.body, lineno=node.lineno, col_offset=0)]
            node = function_def("<lambda>", node.args, body, node.lineno)
        found = FunctionSource(node, code.co_filename, code.co_name, code.co_freevars)
        _GENERATED_SOURCES[code] = found
    return found


def prepared(fn: types.FunctionType) -> tuple[FunctionSource, Namer]:
    """``fn``'s source as normalisation takes it: ``match`` and ``import`` statements rewritten,
    the variables it shares with other code (``nonlocal`` variables, assigned globals) routed,
    and checked for what is not supported; with a ``Namer`` that knows every name in it."""
    src = source_of(fn)
    namer = Namer(all_names(src.node))
    node = without_matches(src.node, namer, HELPERS_NAME)
    node = without_imports(node, fn.__globals__.get("__package__"), HELPERS_NAME)
    src = dataclasses.replace(src, node=box_nonlocals(node, src.filename))
    celled = route_cells(src.node, src.filename, rebound_by_closures(fn))
    if celled is not src.node:  # reached through its closure cells (see nonlocals.py)
        src = dataclasses.replace(src, node=celled, freevars=(*src.freevars, CELLS.place))
    node = route_globals(src.node, src.filename, fn.__globals__, src.freevars)
    src = dataclasses.replace(src, node=node)
    check_supported(src.node, src.filename)
    # (the locals that routing made, __global1 and the like, are dunder names: never a Namer's)
    return src, namer


def _generate(fn: types.FunctionType, generate) -> tuple[FunctionSource, ast.FunctionDef]:
    src, namer = prepared(fn)
    closure = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))

    def value_of(name: str):
        if name in closure:
            try:
                return closure[name].cell_contents
            except ValueError:  # cell not yet filled (a function defined later)
                return None
        return fn.__globals__.get(name, getattr(builtins, name, None))

    def is_module(name: str) -> bool:
        return isinstance(value_of(name), types.ModuleType)

    def is_global(name: str) -> bool:
        # Global state that may carry a derivative: not a module, function, class or builtin.
        if name not in fn.__globals__ or name in closure:
            return False
        return not isinstance(
            fn.__globals__[name],
            (types.ModuleType, types.FunctionType, type, types.BuiltinFunctionType),
        )

    # (a tree parsed for this transform is held by nothing else: normalised in place)
    nf = normalize(src.node, is_module, namer, value_of, owned=_parsed_anew(fn.__code__))
    name = "lambda" if src.name == "<lambda>" else src.name
    code = fn.__code__
    positional = not code.co_kwonlyargcount and not code.co_flags & (
        inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
    )

    def recursive(callee: str, n: int) -> bool:
        found = value_of(callee)
        return (
            positional
            and n == code.co_argcount
            and type(found) is types.FunctionType
            and found.__code__ is code
        )

    constants = frozenset(src.freevars) & (_RUNTIME_NAMES | {CELLS.place})
    info = FunctionInfo(
        name, frozenset(src.freevars), is_global, is_module, value_of, constants, recursive
    )
    return src, generate(nf, info, namer)
