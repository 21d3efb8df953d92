"""A function's own code and scope: the nodes of a block, not those of the functions nested in
it; the names it binds; what a comprehension's own variables hide.

Each nested ``def`` and ``lambda`` is transformed on its own when it is called, so the stages
that look at a function (the fence, the generator and normalisation passes, the routing of
shared variables) look at its own nodes only.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "all_nodes",
    "bound_names",
    "child_nodes",
    "comprehension_scoped",
    "copy_tree",
    "own_nodes",
    "parameters",
]


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
        if not isinstance(node, _SCOPES):
            _push_children(node, stack)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def all_nodes(node: ast.AST) -> list[ast.AST]:
    """Every node of ``node``'s tree, ``node`` included: what ``ast.walk`` gives, in another
    order, without the contexts and operators (``Load``, ``Add``: look at ``ctx`` and ``op``).

    Example:
        >>> kinds = [type(n).__name__ for n in all_nodes(ast.parse("x = y + 1"))]
        >>> sorted(kinds)
        ['Assign', 'BinOp', 'Constant', 'Module', 'Name', 'Name']
    """
    found, stack = [], [node]
    while stack:
        node = stack.pop()
        found.append(node)
        _push_children(node, stack)
    return found


def copy_tree(node: Any) -> Any:
    """A copy of an AST node (or a list of them) and of every node under it: what
    ``copy.deepcopy`` gives a tree, in a quarter of its time (the stages copy the user's
    function before they rewrite it, on every first call).

    Example:
        >>> tree = ast.parse("x = [y + 1]")
        >>> copied = copy_tree(tree)
        >>> ast.dump(copied) == ast.dump(tree), copied.body[0] is tree.body[0]
        (True, False)
    """
    kind = node.__class__
    if kind is list:
        return [copy_tree(v) for v in node]
    if not isinstance(node, ast.AST):
        return node
    copied = kind.__new__(kind)
    fields = copied.__dict__
    for name, value in node.__dict__.items():
        if value.__class__ is list or isinstance(value, ast.AST):
            value = copy_tree(value)
        fields[name] = value
    return copied


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """The nodes directly under ``node``: ``ast.iter_child_nodes`` without the contexts and
    operators (see :func:`all_nodes`).

    Example:
        >>> [type(n).__name__ for n in child_nodes(ast.parse("x = y").body[0])]
        ['Name', 'Name']
    """
    found: list[ast.AST] = []
    _push_children(node, found)
    return found


def _push_children(node: ast.AST, stack: list) -> None:
    # (ast.iter_child_nodes written out, over the fields that can hold a node other than a
    # context or an operator: the stages walk a function a dozen times on its first call)
    fields = _CHILD_FIELDS.get(node.__class__)
    if fields is None:
        fields = _CHILD_FIELDS[node.__class__] = tuple(
            f for f in node._fields if f not in _LEAF_FIELDS
        )
    for name in fields:
        child = getattr(node, name, None)
        if child.__class__ is list:
            stack.extend([c for c in child if isinstance(c, ast.AST)])
        elif isinstance(child, ast.AST):
            stack.append(child)


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
# Fields that hold no node but a context, an operator, a name or a flag. (Not ``name``: a type
# alias's is a ``Name``.)
_LEAF_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "ops",
        "id",
        "attr",
        "arg",
        "asname",
        "module",
        "level",
        "kind",
        "type_comment",
        "conversion",
        "is_async",
        "simple",
    }
)


# nodes that bind the name in their ``name`` field
_NAMED = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.ExceptHandler,
    ast.MatchAs,
    ast.MatchStar,
)


def parameters(args: ast.arguments) -> set[str]:
    """The names of a function's parameters."""
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    return names


def bound_names(fn: ast.FunctionDef | ast.Lambda, classes: bool = True) -> set[str]:
    """The names ``fn`` binds: its parameters and what its own code assigns, deletes, defines,
    catches, captures in a pattern or imports (with ``classes=False``, a name bound only by a
    ``class`` statement is left out). ``global`` and ``nonlocal`` declarations are not applied.

    Example:
        >>> tree = ast.parse("def f(x):\\n    y = 1\\n    class C: pass\\n    def g(z): w = 2")
        >>> sorted(bound_names(tree.body[0])), sorted(bound_names(tree.body[0], classes=False))
        (['C', 'g', 'x', 'y'], ['g', 'x', 'y'])
    """
    names = parameters(fn.args)
    if isinstance(fn, ast.Lambda):
        return names
    by_class = set()
    for n in own_nodes(fn.body):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, ast.ClassDef):
            by_class.add(n.name)
        elif isinstance(n, _NAMED) and n is not fn and n.name:
            names.add(n.name)
        elif isinstance(n, ast.MatchMapping) and n.rest:
            names.add(n.rest)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
    return names | by_class if classes else names


def comprehension_scoped(node: ast.AST, outside: Callable, inside: Callable) -> ast.AST:
    """A comprehension (``[e for x in xs if c]``) visited by scope: its first iterable is
    evaluated in the enclosing scope (``outside``), the rest sees the comprehension's own
    variables; ``inside(bound)`` gives the visitor for it, ``bound`` being those variables."""
    first = node.generators[0]
    first.iter = outside(first.iter)
    bound = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
    visit = inside(bound)
    for g in node.generators:
        if g is not first:
            g.iter = visit(g.iter)
        g.ifs = [visit(i) for i in g.ifs]
    for field in ("elt", "key", "value"):
        if hasattr(node, field):
            setattr(node, field, visit(getattr(node, field)))
    return node
