"""Stage 1: from a Python function object to its AST, positioned on the user's real file lines."""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from dataclasses import dataclass

from zygote_engine.errors import UnsupportedConstructError

__all__ = ["FunctionSource", "get_source"]


@dataclass(frozen=True)
class FunctionSource:
    """A function's definition as an ``ast.FunctionDef`` whose line numbers are the file's."""

    node: ast.FunctionDef
    filename: str
    name: str
    freevars: tuple[str, ...]


def get_source(fn: types.FunctionType) -> FunctionSource:
    """Parse ``fn``'s source; lambdas become a one-statement ``def`` returning their body."""
    code = fn.__code__
    filename = code.co_filename
    try:
        lines, first_line = inspect.getsourcelines(fn)
    except (OSError, TypeError) as error:
        raise UnsupportedConstructError(
            f"{filename}:{code.co_firstlineno}: function {fn.__qualname__} has no readable source "
            "(defined in a REPL, by exec, or compiled); zygote_engine needs the source to "
            "differentiate it: define it in a file or register an rrule for it"
        ) from error
    source = textwrap.dedent("".join(lines))
    tree = _parse(source, filename, first_line)
    ast.increment_lineno(tree, first_line - 1)
    is_lambda = code.co_name == "<lambda>"
    node = _lambda_as_def(tree, fn, filename) if is_lambda else _find_def(tree, code.co_name)
    node.decorator_list = []
    return FunctionSource(node, filename, code.co_name, code.co_freevars)


def _parse(source: str, filename: str, first_line: int) -> ast.Module:
    try:
        return ast.parse(source, filename)
    except SyntaxError:
        # A lambda inside a multi-line expression yields a fragment such as "key=lambda x: x)":
        # wrapping it in brackets usually makes it parse.
        for prefix, suffix in (("(", ")"), ("(", ""), ("[", "]"), ("{", "}")):
            try:
                return ast.parse(prefix + source.strip() + suffix, filename)
            except SyntaxError:
                continue
        raise UnsupportedConstructError(
            f"{filename}:{first_line}: the source around this function could not be parsed on its "
            "own; define the function with `def` on lines of its own"
        ) from None


def _find_def(tree: ast.Module, name: str) -> ast.FunctionDef:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
        if isinstance(node, ast.AsyncFunctionDef) and node.name == name:
            return node  # rejected with a located message by the fence
    raise UnsupportedConstructError(f"could not find the definition of {name} in its source")


def _lambda_as_def(tree: ast.Module, fn: types.FunctionType, filename: str) -> ast.FunctionDef:
    code = fn.__code__
    line = code.co_firstlineno
    candidates = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == line]
    params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    candidates = [c for c in candidates if tuple(_arg_names(c.args)) == params] or candidates
    if not candidates:
        raise UnsupportedConstructError(f"{filename}:{line}: could not find this lambda's source")
    lam = candidates[0]
    if len(candidates) > 1:
        lam = _match_by_bytecode(candidates, code) or lam
    node = ast.FunctionDef(
        name="<lambda>",
        args=lam.args,
        body=[ast.Return(value=lam.body, lineno=lam.lineno, col_offset=lam.col_offset)],
        decorator_list=[],
        returns=None,
        type_comment=None,
        lineno=lam.lineno,
        col_offset=lam.col_offset,
    )
    return ast.fix_missing_locations(node)


def _arg_names(args: ast.arguments):
    for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        yield a.arg


def _match_by_bytecode(candidates: list[ast.Lambda], code: types.CodeType) -> ast.Lambda | None:
    """Several lambdas with the same parameters on one line: pick the one whose body compiles alike."""
    for lam in candidates:
        try:
            compiled = compile(ast.Expression(lam), "<lambda>", "eval")
        except (SyntaxError, ValueError):
            continue
        inner = next((c for c in compiled.co_consts if isinstance(c, types.CodeType)), None)
        if (
            inner is not None
            and inner.co_names == code.co_names
            and inner.co_consts == code.co_consts
        ):
            return lam
    return None
