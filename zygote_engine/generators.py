"""Stage 3b: a generator function, called in differentiated code, collects what it yields.

The engine differentiates a generator function as the function that runs it to the end and
returns the list of the values it yielded (``yield v`` appends ``v`` to that list, ``yield from
xs`` extends it, ``return`` stops it): ``for``, ``sum``, ``list`` and ``zip`` then consume a list,
through the same rules as any list, and the values' gradients flow back through the appends.
Outside differentiation the function is untouched. A generator is thus run to completion when
it is called: an endless one never returns (see the engine's limitations). A ``yield`` used as a
value (``x = yield``, the ``send`` protocol) is rejected by the fence.
"""

from __future__ import annotations

import ast

from zygote_engine.scopes import own_nodes

__all__ = ["collect_yields", "is_generator"]


def is_generator(fn: ast.FunctionDef) -> bool:
    """Whether ``fn``'s own body (not its nested functions') yields."""
    return any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in own_nodes(fn.body))


def collect_yields(fn: ast.FunctionDef, namer) -> None:
    """Rewrite the generator function ``fn`` in place to return the list of what it yields.

    ``namer`` is the normaliser's ``Namer`` (the list gets a fresh name).
    """
    yielded = namer.fresh("yielded")
    fn.body = [
        _located(_assign(yielded, ast.List(elts=[], ctx=ast.Load())), fn.body[0]),
        *_rewrite(fn.body, yielded),
        _located(ast.Return(value=_name(yielded)), fn.body[-1]),
    ]


def _rewrite(body: list[ast.stmt], yielded: str) -> list[ast.stmt]:
    out = []
    for s in body:
        if isinstance(s, ast.Expr) and isinstance(s.value, (ast.Yield, ast.YieldFrom)):
            method = "append" if isinstance(s.value, ast.Yield) else "extend"
            value = s.value.value if s.value.value is not None else ast.Constant(None)
            call = ast.Call(
                func=ast.Attribute(value=_name(yielded), attr=method, ctx=ast.Load()),
                args=[value],
                keywords=[],
            )
            out.append(_located(ast.Expr(call), s))
            continue
        if isinstance(s, ast.Return):  # a generator's return stops it; its value is unused
            out.append(_located(ast.Return(value=_name(yielded)), s))
            continue
        if not isinstance(s, (ast.FunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(s, field, None)
                if isinstance(block, list):
                    setattr(s, field, _rewrite(block, yielded))
            for handler in getattr(s, "handlers", []):
                handler.body = _rewrite(handler.body, yielded)
            for case in getattr(s, "cases", []):
                case.body = _rewrite(case.body, yielded)
        out.append(s)
    return out


def _name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def _assign(target: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[_name(target, True)], value=value)


def _located(node: ast.stmt, where: ast.AST) -> ast.stmt:
    for child in ast.walk(node):
        if "lineno" in child._attributes:
            ast.copy_location(child, where)
    return node
