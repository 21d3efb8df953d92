"""Helpers of the generation stages: generated statements as text, placed on the user's lines.

A generated statement carries ``user_line``, the line of the user's statement it came from;
``codegen.place`` gives that line to its parts when the function is compiled, so tracebacks and
error messages point into the user's file.
"""

from __future__ import annotations

import ast

__all__ = ["function_def", "located", "parse", "strip_defaults", "text", "with_leading"]


def text(node: ast.AST) -> str:
    """Source text of an atom of the normal form (``ast.unparse``, quicker for the common ones)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return ast.unparse(node)


def parse(source: str, line: int) -> list[ast.stmt]:
    """The statements of ``source``, marked to be placed on the user's ``line`` when compiled."""
    body = ast.parse(source).body
    _mark(body, line)
    return body


def _mark(body: list[ast.stmt], line: int) -> None:
    """Give generated statements their user line (``codegen.place`` gives it to their parts)."""
    for stmt in body:
        stmt.user_line = line
        if isinstance(stmt, (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef)):
            _mark(stmt.body, line)
            _mark(getattr(stmt, "orelse", []), line)
            _mark(getattr(stmt, "finalbody", []), line)
            for handler in getattr(stmt, "handlers", []):
                _mark(handler.body, line)


def located(node: ast.stmt, line: int) -> ast.stmt:
    """``node``, a compound statement built from the normal form, placed on the user's ``line``."""
    node.user_line = line
    return node


def strip_defaults(args: ast.arguments) -> ast.arguments:
    """Parameters without defaults or annotations: defaults are the live ones of the user's function."""

    def bare(a: ast.arg | None) -> ast.arg | None:
        return None if a is None else ast.arg(arg=a.arg)

    return ast.arguments(
        posonlyargs=[bare(a) for a in args.posonlyargs],
        args=[bare(a) for a in args.args],
        vararg=bare(args.vararg),
        kwonlyargs=[bare(a) for a in args.kwonlyargs],
        kw_defaults=[None] * len(args.kwonlyargs),
        kwarg=bare(args.kwarg),
        defaults=[],
    )


def with_leading(args: ast.arguments, names: tuple[str, ...]) -> ast.arguments:
    """``args`` with the positional parameters ``names`` first (before positional-only ones)."""
    leading = [ast.arg(arg=name) for name in names]
    if args.posonlyargs:
        args.posonlyargs[:0] = leading
    else:
        args.args[:0] = leading
    return args


def function_def(
    name: str, args: ast.arguments, body: list[ast.stmt], line: int
) -> ast.FunctionDef:
    """A plain ``def`` (no decorators or annotations) on the user's ``line``."""
    return ast.FunctionDef(
        name=name,
        args=args,
        body=body,
        decorator_list=[],
        returns=None,
        type_comment=None,
        lineno=line,
        col_offset=0,
    )
