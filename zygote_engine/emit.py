"""Helpers of the generation stages: generated statements as text, placed on the user's lines.

The generators write statements as source text (:func:`generated`) and keep it as text: the
whole function is written out and compiled once (``codegen``), which is several times quicker
than parsing each piece and compiling the tree. Only the compound statements whose bodies the
generators fill in are parsed (:func:`compound`). A generated statement carries ``user_line``,
the line of the user's statement it came from; ``codegen`` moves the compiled code onto those
lines, so tracebacks and error messages point into the user's file.
"""

from __future__ import annotations

import ast

__all__ = [
    "Generated",
    "compound",
    "function_def",
    "generated",
    "located",
    "strip_defaults",
    "text",
    "tuple_of",
    "unpacked",
    "with_leading",
]


def text(node: ast.AST) -> str:
    """Source text of an atom of the normal form (``ast.unparse``, quicker for the common ones)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return ast.unparse(node)


def tuple_of(items: list[str]) -> str:
    """The text of a tuple display of ``items``: ``(a, b)``, ``(a,)``, ``()``."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def unpacked(names: list[str]) -> str:
    """The text of targets that unpack a sequence into ``names``: ``a, b``, ``a,``."""
    return f"{names[0]}," if len(names) == 1 else ", ".join(names)


class Generated(ast.stmt):
    """Statements a generator wrote, as source text (one or more lines, indented from column 0),
    in the tree of the function being generated; ``codegen`` writes them out as they are."""

    _fields = ("source",)


def generated(source: str, line: int) -> list[ast.stmt]:
    """The statements of ``source``, to be placed on the user's ``line`` (none if it is empty)."""
    if not source:
        return []
    node = Generated(source=source)
    node.user_line = line
    return [node]


def compound(source: str, line: int) -> ast.stmt:
    """The compound statement of ``source`` (``if t:\\n    pass``, say), parsed, for the caller
    to fill its bodies in; placed on the user's ``line``."""
    (node,) = ast.parse(source).body
    _mark([node], line)
    return node


def _mark(body: list[ast.stmt], line: int) -> None:
    for stmt in body:
        stmt.user_line = line
        if isinstance(stmt, ast.If):
            _mark(stmt.body, line)
            _mark(stmt.orelse, line)
        else:
            _mark(getattr(stmt, "body", []), line)


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
