"""Binding forms whose target must be a plain name, for a variable that is reached otherwise.

A global routed through ``__zy.write_global``, a ``nonlocal`` variable in a closure cell or in a
box (``total.value``) cannot be the target of ``:=`` or of ``except ... as``: Python wants a
name there. These helpers bind a fresh local instead and assign it to the variable, with the
assignment each rewriting already handles.

Example:
    >>> import ast
    >>> expr = ast.parse("(n := len(a)) > 10", mode="eval").body.left
    >>> write = ast.parse("write('n', t1)", mode="eval").body
    >>> print(ast.unparse(assigned_through(expr, "t1", write)))
    ((t1 := len(a)), write('n', t1))[0]
"""

from __future__ import annotations

import ast

__all__ = ["assigned_through", "caught_as"]


def assigned_through(expr: ast.NamedExpr, temp: str, write: ast.expr) -> ast.expr:
    """``(name := value)`` as ``(temp := value, write)[0]``: ``write`` (an expression that
    assigns ``temp`` to the variable) runs after the value and before anything that reads it."""
    bound = ast.NamedExpr(target=ast.Name(temp, ast.Store()), value=expr.value)
    pair = ast.Tuple(elts=[bound, write], ctx=ast.Load())
    out = ast.Subscript(value=pair, slice=ast.Constant(0), ctx=ast.Load())
    for node in ast.walk(out):
        if "lineno" in node._attributes and not hasattr(node, "lineno"):
            ast.copy_location(node, expr)
    return out


def caught_as(handler: ast.ExceptHandler, temp: str) -> list[ast.stmt]:
    """The body of ``except E as name`` rewritten to catch into ``temp``: it assigns the
    exception to ``name`` first and deletes it at the end, as Python deletes ``name`` there."""
    name, handler.name = handler.name, temp
    assign = ast.Assign(targets=[ast.Name(name, ast.Store())], value=ast.Name(temp, ast.Load()))
    delete = ast.Delete(targets=[ast.Name(name, ast.Del())])
    for statement in (assign, delete):
        ast.copy_location(statement, handler)
        ast.fix_missing_locations(statement)
    return [assign, *handler.body, delete]
