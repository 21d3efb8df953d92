"""Stage 1b: the variables that nested functions rebind with ``nonlocal`` become boxes.

A variable that an inner function rebinds (``nonlocal total; total = total + v``) is one value
shared by two functions, changed by a call: to the engine, whose (co)tangents follow variables
within one function, it is state. So in the function that owns it, such a variable holds a
:class:`~zygote_engine.primitives.Box` from the start, and every use of it, there and in the
nested functions that see it, reads or writes the box's ``value``:

.. code-block:: python

    def outer(x):                        def outer(x):
        total = 0.0                          total = __zy.Box()
        def add(v):                          total.value = 0.0
            nonlocal total          ->       def add(v):
            total = total + v                    total.value = total.value + v
        add(x)                               add(x)
        return total                         return total.value

An attribute of an object is something both modes already differentiate through calls, aliases
and closures (the mutation store, the tangent table). The nested functions are transformed, when
they are called, from this rewritten code.

A closure differentiated on its own, without the function that owns the variable (an
accumulator returned by a factory), cannot box it: the variable is in a closure cell that
outlives the call. :func:`route_cells` makes it state like a module global (see
``module_state.py``, whose routing it reuses): its reads, writes and deletions go through
``__zy.read_cell(__cells, "total")``, ``__zy.write_cell`` and ``__zy.delete_cell``, where
``__cells`` (filled by ``cache._build``) is the closure's cells by name, and their rules
(``lib/module_state.py``) treat the cell as an object with one item.
"""

from __future__ import annotations

import ast
import dis
import functools
import itertools
import types
from collections.abc import Iterator

from zygote_engine.errors import UnsupportedConstructError
from zygote_engine.module_state import Routing, module_codes, route
from zygote_engine.normalize import HELPERS_NAME
from zygote_engine.rebinding import assigned_through, caught_as
from zygote_engine.scopes import bound_names, comprehension_scoped, copy_tree, own_nodes, parameters

__all__ = ["CELLS", "box_nonlocals", "rebound_by_closures", "route_cells"]

# ``__cells``: the closure cells of the function transformed, by name (a closure cell of the
# generated code, filled in ``cache._build``)
CELLS = Routing("__cells", "read_cell", "write_cell", "delete_cell", "nonlocal variable", "__cell")

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
# binding statements whose target must be a plain name, so cannot become ``name.value``
_BINDINGS = {ast.FunctionDef: "a def statement", ast.ClassDef: "a class statement"}


def box_nonlocals(node: ast.FunctionDef, filename: str) -> ast.FunctionDef:
    """``node`` with its variables that nested functions declare ``nonlocal`` boxed (a copy; the
    node itself when there are none).

    Example:
        >>> tree = ast.parse(
        ...     "def f(x):\\n    def g():\\n        nonlocal x\\n        x = x * 2\\n"
        ...     "    g()\\n    return x"
        ... )
        >>> print(ast.unparse(box_nonlocals(tree.body[0], "<doc>")))
        def f(x):
            x = __zy.Box(x)
        <BLANKLINE>
            def g():
                x.value = x.value * 2
            g()
            return x.value
    """
    boxed = _rebound_inside(node)
    if not boxed:
        return node
    node = copy_tree(node)
    params = parameters(node.args)
    _Boxer(boxed, filename).rewrite_body(node)
    prologue = [
        ast.Assign(
            targets=[ast.Name(name, ast.Store())],
            value=ast.Call(
                func=ast.Attribute(ast.Name(HELPERS_NAME, ast.Load()), "Box", ast.Load()),
                args=[ast.Name(name, ast.Load())] if name in params else [],
                keywords=[],
            ),
        )
        for name in sorted(boxed)
    ]
    for statement in prologue:
        ast.copy_location(statement, node.body[0])
        ast.fix_missing_locations(statement)
    node.body = [*_docstring(node.body), *prologue, *node.body[len(_docstring(node.body)) :]]
    return node


def route_cells(
    node: ast.FunctionDef, filename: str, rebound: frozenset[str] = frozenset()
) -> ast.FunctionDef:
    """``node`` with the variables it declares ``nonlocal`` (whose owner is not transformed with
    it) read, written and deleted in their closure cells, through the helpers of ``CELLS`` (a
    copy; the node itself when it declares none). The variables in ``rebound``, which another
    closure of the same owner rebinds (:func:`rebound_by_closures`), are read there too: a sibling
    ``get()`` that reads what ``step`` wrote.

    Example:
        >>> tree = ast.parse("def step(x):\\n    nonlocal total\\n    total = total + x\\n")
        >>> print(ast.unparse(route_cells(tree.body[0], "<doc>")))
        def step(x):
            __cell1 = __zy.read_cell(__cells, 'total') + x
            __zy.write_cell(__cells, 'total', __cell1)
    """
    declared = _declared(node.body, ast.Nonlocal)
    read: set[str] = set()
    if rebound:
        read = {n.id for n in own_nodes(node.body) if isinstance(n, ast.Name)} & rebound
    if not declared and not read:
        return node
    node = route(node, filename, declared | read, CELLS)
    blocks = [n for n in own_nodes(node.body) if not isinstance(n, (*_FUNCTIONS, ast.ClassDef))]
    for n in [node, *blocks]:  # the nested functions keep theirs (transformed on their own)
        for field in ("body", "orelse", "finalbody"):
            block = getattr(n, field, None)
            if isinstance(block, list) and any(isinstance(s, ast.Nonlocal) for s in block):
                kept = [s for s in block if not isinstance(s, ast.Nonlocal)]
                setattr(n, field, kept or [ast.copy_location(ast.Pass(), block[0])])
    return node


def rebound_by_closures(fn: types.FunctionType) -> frozenset[str]:
    """The variables ``fn`` captures that a closure of their owner rebinds with ``nonlocal``.

    Read as plain captured values, what such a closure wrote in the same differentiation would
    not reach them (see :func:`route_cells`). The owner is found among the module's functions,
    by the code objects nested in theirs; code the engine generated is not found (its owner was
    transformed with it, and boxed the variable).

    Example:
        >>> def make():
        ...     total = 0.0
        ...     def step(x):
        ...         nonlocal total
        ...         total = total + x
        ...     def get():
        ...         return total
        ...     return step, get
        >>> step, get = make()
        >>> sorted(rebound_by_closures(get)), sorted(rebound_by_closures(make))
        (['total'], [])
    """
    names = set(fn.__code__.co_freevars)
    if not names:
        return frozenset()
    parents = _parents(fn.__globals__)
    found: set[str] = set()
    owner = parents.get(fn.__code__)
    while owner is not None and names:
        owned = names.intersection(owner.co_cellvars)
        found |= owned & _rebound_in(owner)
        names -= owned
        owner = parents.get(owner)
    return frozenset(found)


def _parents(namespace: dict) -> dict[types.CodeType, types.CodeType]:
    """The code object that encloses each code object nested in the module's functions."""
    parents: dict[types.CodeType, types.CodeType] = {}
    for top in module_codes(namespace):
        stack = [top]
        while stack:
            code = stack.pop()
            for child in _children(code):
                parents[child] = code
                stack.append(child)
    return parents


@functools.cache
def _children(code: types.CodeType) -> tuple[types.CodeType, ...]:
    return tuple(c for c in code.co_consts if isinstance(c, types.CodeType))


@functools.cache
def _rebound_in(owner: types.CodeType) -> frozenset[str]:
    """The variables of ``owner`` that code nested in it rebinds or deletes (``nonlocal``)."""
    found: set[str] = set()
    stack = list(_children(owner))
    while stack:
        code = stack.pop()
        found.update(
            i.argval
            for i in dis.get_instructions(code)
            if i.opname in ("STORE_DEREF", "DELETE_DEREF") and i.argval in code.co_freevars
        )
        stack.extend(_children(code))
    return frozenset(found)


def _docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    is_doc = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    return [first] if is_doc else []


def _declared(body: list[ast.stmt], kind: type) -> set[str]:
    return {n for s in own_nodes(body) if isinstance(s, kind) for n in s.names}


def _locals(fn: ast.FunctionDef | ast.Lambda) -> set[str]:
    """The names local to the function ``fn``: its parameters and what its own code binds."""
    if isinstance(fn, ast.Lambda):
        return parameters(fn.args)
    return bound_names(fn) - _declared(fn.body, ast.Nonlocal) - _declared(fn.body, ast.Global)


def _nested(body: list[ast.stmt]):
    """The functions defined directly in ``body`` (not inside those)."""
    return (n for n in own_nodes(body) if isinstance(n, _FUNCTIONS))


def _rebound_inside(fn: ast.FunctionDef) -> set[str]:
    """The locals of ``fn`` that a function nested in it (at any depth) declares ``nonlocal``."""
    nested = list(_nested(fn.body))
    if not nested:
        return set()
    owned = _locals(fn)
    found: set[str] = set()

    def search(inner: ast.FunctionDef | ast.Lambda, visible: set[str]) -> None:
        if isinstance(inner, ast.Lambda):
            return
        found.update(_declared(inner.body, ast.Nonlocal) & visible)
        still_visible = visible - _locals(inner)
        for deeper in _nested(inner.body):
            search(deeper, still_visible)

    for inner in nested:
        search(inner, owned)
    return found


class _Boxer(ast.NodeTransformer):
    """Uses of the boxed names become ``name.value``, in the owner and in the nested functions
    that see the owner's variable; their ``nonlocal`` declarations go."""

    def __init__(self, boxed: set[str], filename: str, count: Iterator[int] | None = None) -> None:
        self.boxed, self.filename = boxed, filename
        self.count = itertools.count(1) if count is None else count  # of the fresh locals

    def temp(self) -> str:
        return f"__box{next(self.count)}"

    def rewrite_body(self, fn: ast.FunctionDef | ast.Lambda) -> None:
        if isinstance(fn, ast.Lambda):
            fn.body = self.visit(fn.body)
            return
        body = []
        for statement in fn.body:
            if isinstance(statement, ast.Nonlocal):
                kept = [n for n in statement.names if n not in self.boxed]
                if not kept:
                    continue
                statement.names = kept
            body.append(self.visit(statement))
        fn.body = body or [ast.Pass()]

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in self.boxed:
            return node
        box = ast.Name(node.id, ast.Load())
        return ast.copy_location(ast.Attribute(box, "value", node.ctx), node)

    def _function(self, node: ast.FunctionDef | ast.Lambda) -> ast.AST:
        # decorators and defaults are evaluated where the function is defined
        if not isinstance(node, ast.Lambda):
            node.decorator_list = [self.visit(d) for d in node.decorator_list]
            self._refuse_binding(node, node.name)
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        node.args.kw_defaults = [d if d is None else self.visit(d) for d in node.args.kw_defaults]
        visible = self.boxed - _locals(node)
        if visible:
            _Boxer(visible, self.filename, self.count).rewrite_body(node)
        return node

    visit_FunctionDef = visit_Lambda = _function

    def _comprehension(self, node: ast.AST) -> ast.AST:
        def inside(bound: set[str]):
            return _Boxer(self.boxed - bound, self.filename, self.count).visit

        return comprehension_scoped(node, self.visit, inside)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def _refuse_binding(self, node: ast.AST, name: str | None) -> None:
        if name in self.boxed:
            raise UnsupportedConstructError(
                f"{self.filename}:{node.lineno}: {name!r}, which a nested function rebinds with "
                f"nonlocal, is bound here by {_BINDINGS[type(node)]}, which zygote_engine does not "
                "follow into the nested function: bind it with an assignment"
            )

    def visit_NamedExpr(self, node: ast.NamedExpr) -> ast.AST:
        node.value = self.visit(node.value)
        name = node.target.id
        if name not in self.boxed:
            return node
        temp = self.temp()
        store = ast.Call(
            func=ast.Name("setattr", ast.Load()),
            args=[ast.Name(name, ast.Load()), ast.Constant("value"), ast.Name(temp, ast.Load())],
            keywords=[],
        )
        return assigned_through(node, temp, store)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        if node.name in self.boxed:
            node.body = caught_as(node, self.temp())
        return self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self._refuse_binding(node, node.name)
        return self.generic_visit(node)
