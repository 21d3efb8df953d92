"""Stage 2: reject, with a located message, the syntax the engine does not differentiate."""

from __future__ import annotations

import ast

from zygote_engine.errors import UnsupportedConstructError
from zygote_engine.scopes import all_nodes, bound_names, own_nodes

__all__ = ["check_supported"]

# construct -> what to do instead
_REJECTED: dict[type, tuple[str, str]] = {
    ast.Await: ("await", "differentiate the synchronous computation"),
    ast.AsyncFunctionDef: ("an async function", "differentiate a synchronous function"),
    ast.AsyncFor: ("async for", "use a plain for loop"),
    ast.AsyncWith: ("async with", "move the context manager out of the differentiated function"),
}
if hasattr(ast, "TryStar"):
    _REJECTED[ast.TryStar] = (
        "try/except*",
        "move error handling out of the differentiated function",
    )


_STRING_CODE = frozenset({"eval", "exec"})


def _assigned_names(node: ast.FunctionDef) -> set[str]:
    return {
        n.id for n in all_nodes(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }


def check_supported(node: ast.FunctionDef, filename: str) -> None:
    """Raise :class:`UnsupportedConstructError` at the first unsupported construct in ``node``.

    Nested functions and lambdas are checked when they are themselves differentiated, and so are
    the methods of a class defined in ``node`` (see :func:`_check_class`).
    """
    if isinstance(node, ast.AsyncFunctionDef):
        _reject(node, filename, *_REJECTED[ast.AsyncFunctionDef])
    nodes = list(own_nodes(node.body))
    statement_yields = {
        id(child.value)
        for child in nodes
        if isinstance(child, ast.Expr) and isinstance(child.value, (ast.Yield, ast.YieldFrom))
    }
    assigned = None  # (the names the function binds: asked only of a call of eval or exec)
    for child in nodes:
        if isinstance(child, (ast.Yield, ast.YieldFrom)) and id(child) not in statement_yields:
            _reject(
                child,
                filename,
                "a yield used as a value (the send protocol)",
                "yield values as statements; send values in through arguments instead",
            )
        rejected = _REJECTED.get(type(child))
        if rejected is not None:
            _reject(child, filename, *rejected)
        if (
            isinstance(child, ast.Call)
            and isinstance(child.func, ast.Name)
            and child.func.id in _STRING_CODE
        ):
            if assigned is None:
                assigned = _assigned_names(node)
            if child.func.id not in assigned:
                # the string's code reads the frame's variables where the engine cannot see it:
                # its derivative would silently be zero
                _reject(
                    child,
                    filename,
                    f"{child.func.id}() of code in a string",
                    "write the expression as code, or move the call out of the differentiated "
                    "function",
                )
        if isinstance(child, ast.comprehension) and child.is_async:
            _reject(child.iter, filename, "an async comprehension", "use a plain comprehension")
        if isinstance(child, ast.ClassDef):
            _check_class(child, bound_names(node, classes=False), filename)


def _check_class(node: ast.ClassDef, local: set[str], filename: str) -> None:
    """A class defined in the function runs its body as Python does, undifferentiated; its
    methods are differentiated when they are called. So it may read the module and the other
    classes defined in the function, but not the function's variables, whose derivatives the
    class would keep from the function."""
    read = {
        n.id for n in all_nodes(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    captured = sorted(read & local)
    if captured:
        _reject(
            node,
            filename,
            f"a class defined in the function that reads its variable {captured[0]!r}",
            "define the class at module level, or pass the value to its methods",
        )


def _reject(node: ast.AST, filename: str, construct: str, advice: str) -> None:
    line = getattr(node, "lineno", "?")
    raise UnsupportedConstructError(
        f"{filename}:{line}: {construct} is not supported by zygote_engine: {advice}"
    )
