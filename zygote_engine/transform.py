"""The transform pipeline: source -> fence -> normal form -> generated function -> code object.

Both modes share every stage but generation: ``reverse`` makes the forward pass with its nested
backward (:func:`transform`), ``forward`` the tangent function (:func:`transform_jvp`).
"""

from __future__ import annotations

import ast
import builtins
import types
from dataclasses import dataclass

from zygote_engine import forward, reverse
from zygote_engine.activity import FunctionInfo
from zygote_engine.codegen import compile_generated, render
from zygote_engine.fence import check_supported
from zygote_engine.normalize import Namer, all_names, normalize
from zygote_engine.source import get_source

__all__ = ["Transformed", "transform", "transform_jvp"]


@dataclass(frozen=True)
class Transformed:
    """The result of transforming one code object in one mode."""

    code: types.CodeType  # of ``<name>__forward(__cx, *params)`` or ``<name>__jvp(...)``
    tree: ast.FunctionDef
    origin: str

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
        return render(self.tree, self.origin)


def transform(fn: types.FunctionType) -> Transformed:
    """Reverse mode: run every stage on ``fn`` (see the package docs, "How it works")."""
    return _run(fn, reverse.generate, reverse.RUNTIME_NAMES)


def transform_jvp(fn: types.FunctionType) -> Transformed:
    """Forward mode: run every stage on ``fn``, generating the tangent function."""
    return _run(fn, forward.generate_jvp, forward.RUNTIME_NAMES)


def _run(fn: types.FunctionType, generate, runtime_names: tuple[str, ...]) -> Transformed:
    src = get_source(fn)
    check_supported(src.node, src.filename)
    namer = Namer(all_names(src.node))
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

    nf = normalize(src.node, is_module, namer)
    name = "lambda" if src.name == "<lambda>" else src.name
    info = FunctionInfo(name, frozenset(src.freevars), is_global, is_module, value_of)
    tree = generate(nf, info, namer)
    code = compile_generated(tree, src.filename, src.freevars, runtime_names)
    return Transformed(code, tree, f"{fn.__qualname__} ({src.filename}:{src.node.lineno})")
