"""A function's own code: the nodes of a block, not those of the functions nested in it.

Each nested ``def`` and ``lambda`` is transformed on its own when it is called, so the stages
that look at a function (the fence, the generator and normalisation passes) look at its own
nodes only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

__all__ = ["own_nodes"]


def own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of ``body``, nested functions and lambdas themselves but not their insides.

    Example:
        >>> tree = ast.parse("x = 1\\ndef g():\\n    y = 2")
        >>> sorted(n.id for n in own_nodes(tree.body) if isinstance(n, ast.Name))
        ['x']
    """
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
