"""Stage 3: lower a function to a small normal form (A-normal form with structured control flow).

After normalisation a function body holds only these statements:

* ``name = atom`` and ``name = f(atom, ..., key=atom)`` (every operation is a call; an atom is a
  name, a constant or an attribute of a module);
* ``f(atom, ...)`` for a call whose result is unused (mutation: ``operator.setitem``, ``append``);
* ``name = <lambda>`` / nested ``def``, ``raise name``, ``del name`` and raw inactive statements
  (``assert``);
* ``if name:``, ``for name in name:`` (over a list made by ``__zy.collect``) and ``while name:``
  (whose condition is recomputed at the end of the body);
* ``try`` / ``except T as name`` / ``else`` / ``finally`` with normal-form blocks (the exception
  types stay expressions, evaluated only when an exception is raised);
* exactly one ``return atom``, the last statement.

``break``, ``continue`` and early ``return`` are first lowered to boolean flags and guarded blocks
(as AutoGraph does), so every loop body runs to its end. A ``with`` becomes a ``try`` around its
body, with the manager's ``__enter__`` and ``__exit__`` called as Python calls them (see
:meth:`_Anf.with_statement`; a ``@contextmanager`` function called in the ``with`` becomes calls
of its generator's two halves, see :meth:`_Anf.generator_with`). User names are kept;
temporaries are ``t1``, ``t2``, ...; every generated statement keeps the line number of the
statement it came from. Two patterns of one variable become one call of a helper whose rule
does the work in fewer array operations: a Gram matrix, ``x @ x.T`` or ``x.T @ x``, and a sum or
mean of squares, ``np.sum(x * x)`` or ``np.mean(e ** 2)`` (see :mod:`zygote_engine.primitives`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import numpy as np

from zygote_engine import primitives as zy
from zygote_engine.generators import collect_yields, is_generator
from zygote_engine.managers import is_manager_function
from zygote_engine.scopes import all_nodes, copy_tree, own_nodes
from zygote_engine.store import is_tracked

__all__ = ["HELPERS_NAME", "OPERATOR_NAME", "Namer", "normalize"]

# Names the normal form uses for the operator module and the engine's primitives module, bound in
# closure cells of the generated code. Dunder names, like the engine's others there: a variable
# or global of the user's called ``operator`` or ``zy`` (``import zygote_engine as zy``) is not
# shadowed by them.
OPERATOR_NAME = "__operator"
HELPERS_NAME = "__zy"

_BINOPS = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "truediv",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
    ast.LShift: "lshift",
    ast.RShift: "rshift",
    ast.BitOr: "or_",
    ast.BitXor: "xor",
    ast.BitAnd: "and_",
}
_INPLACE = {op: "i" + name.rstrip("_") for op, name in _BINOPS.items()}
_UNARY = {ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not_", ast.Invert: "invert"}
_COMPARE = {
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Gt: "gt",
    ast.GtE: "ge",
    ast.Is: "is_",
    ast.IsNot: "is_not",
}


class Namer:
    """Fresh, readable names that clash with nothing the function already uses."""

    def __init__(self, used: set[str]):
        self.used = set(used)
        self.counters: dict[str, int] = {}

    def fresh(self, base: str) -> str:
        n = self.counters.get(base, 0)
        while True:
            n += 1
            name = f"{base}{n}"
            if name not in self.used:
                self.counters[base] = n
                self.used.add(name)
                return name


def all_names(node: ast.AST) -> set[str]:
    names = set()
    for n in all_nodes(node):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, ast.FunctionDef):
            names.add(n.name)
    return names


def normalize(
    fn: ast.FunctionDef,
    is_module: Callable[[str], bool],
    namer: Namer,
    value_of: Callable[[str], object] | None = None,
    owned: bool = False,
) -> ast.FunctionDef:
    """Return the normal form of ``fn`` (a new node; ``fn`` is not modified, unless ``owned``
    says that nothing else holds it, which spares a copy).

    Args:
        fn: the function definition (positioned on the user's lines).
        is_module: tells whether a free name refers to a module, so ``np.sin`` stays an atom.
        namer: supplies fresh names; it must know every name ``fn`` uses.
        value_of: a free name's value: an attribute of a module that holds state (an array, a
            list, an object: ``model.W`` with ``model`` a module) is read with ``getattr``, so
            that its derivative is kept; other module attributes (functions) stay atoms.
        owned: whether ``fn`` may be rewritten in place (its caller parsed it for this call).
    """
    if not owned:
        fn = copy_tree(fn)
    if is_generator(fn):
        collect_yields(fn, namer)
    fn.body = _ControlFlow(namer).function_body(fn.body, fn.lineno)
    local_names = _assigned_names(fn)

    def module_name(name: str) -> bool:
        return name in (OPERATOR_NAME, HELPERS_NAME) or (
            name not in local_names and is_module(name)
        )

    def manager_function(func: ast.expr) -> bool:
        """Whether ``func``, called in a ``with`` item, is a ``@contextmanager`` function (read
        through a name of the module, or an attribute of a module)."""
        if value_of is None:
            return False
        if isinstance(func, ast.Name):
            return func.id not in local_names and is_manager_function(value_of(func.id))
        return (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id not in (OPERATOR_NAME, HELPERS_NAME)
            and module_name(func.value.id)
            and is_manager_function(getattr(value_of(func.value.id), func.attr, None))
        )

    return _Anf(namer, module_name, value_of, manager_function).function(fn)


def _holds_state(value: object) -> bool:
    """Whether a module attribute's value is state that may carry a derivative (an array, a
    list, a dict, an object), not a function, a class or a module."""
    return isinstance(value, np.ndarray) or (is_tracked(value) and not callable(value))


def _assigned_names(fn: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    for node in own_nodes(fn.body):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _at(node: ast.stmt, line: int) -> ast.stmt:
    """Give the statement ``node``, and the statements in its blocks, the user's line where they
    have none. (Expressions need none: the generated code is written out as text, on its
    statements' lines; see ``codegen``.)"""
    if getattr(node, "lineno", None) is None:
        node.lineno = node.end_lineno = line
        node.col_offset = node.end_col_offset = 0
    for field in _BLOCKS:
        for child in getattr(node, field, ()):
            _at(child, line)
    return node


_BLOCKS = ("body", "orelse", "finalbody", "handlers")  # (the fields that hold statements)


def _gram(e: ast.BinOp) -> tuple[str, ast.Name] | None:
    """``(helper, x)`` for ``x @ x.T`` or ``x.T @ x`` of one name ``x`` (a Gram matrix, whose
    derivative needs one matrix product, not two): the helper is ``"times_own_transpose"`` or
    ``"transpose_times_self"`` of :mod:`zygote_engine.primitives`; ``None`` for anything else."""

    def transposed(t: ast.expr, x: ast.expr) -> bool:
        return (
            isinstance(t, ast.Attribute)
            and t.attr == "T"
            and isinstance(t.value, ast.Name)
            and isinstance(x, ast.Name)
            and t.value.id == x.id
        )

    if not isinstance(e.op, ast.MatMult):
        return None
    if transposed(e.right, e.left):
        return "times_own_transpose", e.left
    if transposed(e.left, e.right):
        return "transpose_times_self", e.right
    return None


# np.sum / np.mean of x * x or x ** 2: the helper of zygote_engine.primitives that stands for it
_SQUARE_REDUCTIONS = {
    (reduction, ast.Mult if squaring == "*" else ast.Pow): helper.__name__
    for helper, (reduction, squaring) in zy.SQUARE_REDUCTIONS.items()
}


def _squares(e: ast.expr) -> ast.expr | None:
    """``x`` for ``x * x`` of one name ``x``, or for ``x ** 2`` of any expression ``x``."""
    if not isinstance(e, ast.BinOp):
        return None
    if isinstance(e.op, ast.Mult):
        same = isinstance(e.left, ast.Name) and isinstance(e.right, ast.Name)
        return e.left if same and e.left.id == e.right.id else None
    if isinstance(e.op, ast.Pow) and isinstance(e.right, ast.Constant):
        return e.left if type(e.right.value) is int and e.right.value == 2 else None
    return None


def _name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def _assign(target: str, value: ast.expr, line: int) -> ast.Assign:
    return _at(ast.Assign(targets=[_name(target, True)], value=value), line)


def _not(flags: list[str]) -> ast.expr:
    inner = _name(flags[0]) if len(flags) == 1 else ast.BoolOp(ast.Or(), [_name(f) for f in flags])
    return ast.UnaryOp(ast.Not(), inner)


# ----------------------------------------------------------------------------------------------
# break / continue / return -> flags and guarded blocks


class _ControlFlow:
    def __init__(self, namer: Namer):
        self.namer = namer
        self.result: str | None = None
        self.returned: str | None = None

    def function_body(self, body: list[ast.stmt], line: int) -> list[ast.stmt]:
        body = _lift_rest_into_else(body)
        returns = [n for n in own_nodes(body) if isinstance(n, ast.Return)]
        final = body[-1] if body and isinstance(body[-1], ast.Return) else None
        if all(r is final for r in returns):
            lowered = self.block(body, None)
            if final is None:
                lowered.append(_at(ast.Return(value=None), line))
            return lowered
        self.result = self.namer.fresh("result")
        start = [] if _always_returns(body) else [_assign(self.result, ast.Constant(None), line)]
        if not all(r in _tail_returns(body) for r in returns):
            # a return inside a loop: a flag stops the loop and guards what follows
            self.returned = self.namer.fresh("returned")
            start.append(_assign(self.returned, ast.Constant(False), line))
        lowered = self.block(body, None)
        return [*start, *lowered, _at(ast.Return(value=_name(self.result)), line)]

    def block(self, stmts: list[ast.stmt], loop: tuple[str | None, str | None] | None):
        out: list[ast.stmt] = []
        for i, stmt in enumerate(stmts):
            line = stmt.lineno
            flags = self.flags_set_by(stmt, loop)  # before lowering removes the return/break nodes
            if isinstance(stmt, ast.Return):
                if self.result is None:  # the single final return
                    out.append(stmt)
                    return out
                out.append(_assign(self.result, stmt.value or ast.Constant(None), line))
                if self.returned is not None:
                    out.append(_assign(self.returned, ast.Constant(True), line))
                return out
            if isinstance(stmt, (ast.Break, ast.Continue)):
                flag = loop[0] if isinstance(stmt, ast.Break) else loop[1]
                out.append(_assign(flag, ast.Constant(True), line))
                return out
            if isinstance(stmt, ast.If):
                stmt.body = self.block(stmt.body, loop) or [ast.Pass()]
                stmt.orelse = self.block(stmt.orelse, loop)
                out.append(stmt)
            elif isinstance(stmt, ast.With):
                stmt.body = self.block(stmt.body, loop) or [ast.Pass()]
                out.append(stmt)
            elif isinstance(stmt, ast.Try):
                stmt.body = self.block(stmt.body, loop) or [ast.Pass()]
                for handler in stmt.handlers:
                    handler.body = self.block(handler.body, loop) or [ast.Pass()]
                stmt.orelse = self.block(stmt.orelse, loop)
                stmt.finalbody = self.block(stmt.finalbody, loop)
                out.append(stmt)
            elif isinstance(stmt, (ast.For, ast.While)):
                out += self.loop(stmt, loop)
            else:
                out.append(stmt)
            rest = stmts[i + 1 :]
            if flags and rest:
                guarded = self.block(rest, loop)
                if guarded:
                    out.append(
                        _at(ast.If(test=_not(flags), body=guarded, orelse=[]), rest[0].lineno)
                    )
                return out
        return out

    def flags_set_by(self, stmt: ast.stmt, loop) -> list[str]:
        flags = []
        own = list(own_nodes([stmt]))
        if self.returned and any(isinstance(n, ast.Return) for n in own):
            flags.append(self.returned)
        if loop and not isinstance(stmt, (ast.For, ast.While)):
            loop_own = list(_loop_own_nodes(stmt))
            if loop[0] and any(isinstance(n, ast.Break) for n in loop_own):
                flags.append(loop[0])
            if loop[1] and any(isinstance(n, ast.Continue) for n in loop_own):
                flags.append(loop[1])
        return flags

    def loop(self, stmt: ast.For | ast.While, outer) -> list[ast.stmt]:
        line = stmt.lineno
        own = list(_loop_body_nodes(stmt.body))
        broke = self.namer.fresh("broke") if any(isinstance(n, ast.Break) for n in own) else None
        skip = self.namer.fresh("skip") if any(isinstance(n, ast.Continue) for n in own) else None
        returns = self.returned and any(isinstance(n, ast.Return) for n in own_nodes(stmt.body))
        stop_flags = [f for f in (broke, self.returned if returns else None) if f]
        body = self.block(stmt.body, (broke, skip))
        if skip:
            body.insert(0, _assign(skip, ast.Constant(False), line))
        before = [_assign(broke, ast.Constant(False), line)] if broke else []
        if isinstance(stmt, ast.While):
            if stop_flags:
                stmt.test = ast.BoolOp(ast.And(), [_not(stop_flags), stmt.test])
        elif stop_flags:
            body = [_at(ast.If(test=_not(stop_flags), body=body, orelse=[]), line)]
        stmt.body = body or [ast.Pass()]
        orelse = self.block(stmt.orelse, outer)
        stmt.orelse = []
        after = []
        if orelse:
            after = (
                [_at(ast.If(test=_not([broke]), body=orelse, orelse=[]), line)] if broke else orelse
            )
        return [*before, stmt, *after]


def _always_returns(body: list[ast.stmt]) -> bool:
    """Whether every path through ``body`` ends in a ``return`` or a ``raise``."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return True
    return isinstance(last, ast.If) and _always_returns(last.body) and _always_returns(last.orelse)


def _lift_rest_into_else(body: list[ast.stmt]) -> list[ast.stmt]:
    """``if c: return a`` then ``rest`` becomes ``if c: return a`` / ``else: rest``.

    Outside loops, so that returns end their branch and need no flag (see ``_tail_returns``).
    """
    for i, stmt in enumerate(body):
        if not isinstance(stmt, ast.If):
            continue
        rest = body[i + 1 :]
        if rest and _always_returns(stmt.body):
            stmt.orelse = [*stmt.orelse, *rest]
        elif rest and _always_returns(stmt.orelse):
            stmt.body = [*stmt.body, *rest]
        else:
            rest = []
        stmt.body = _lift_rest_into_else(stmt.body)
        stmt.orelse = _lift_rest_into_else(stmt.orelse)
        if rest:
            return body[: i + 1]
    return body


def _tail_returns(body: list[ast.stmt]) -> set[ast.Return]:
    """The returns that end the function wherever they run: last in their block, in branches."""
    if not body:
        return set()
    last = body[-1]
    if isinstance(last, ast.Return):
        return {last}
    if isinstance(last, ast.If):
        return _tail_returns(last.body) | _tail_returns(last.orelse)
    return set()


def _loop_body_nodes(body: list[ast.stmt]):
    """Nodes of a loop body that belong to this loop (not to nested loops or functions)."""
    for stmt in body:
        yield from _loop_own_nodes(stmt)


def _loop_own_nodes(stmt: ast.AST):
    stack = [stmt]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.For, ast.While, ast.FunctionDef, ast.Lambda)):
            stack.extend(node.orelse if isinstance(node, (ast.For, ast.While)) else [])
            continue
        stack.extend(ast.iter_child_nodes(node))


# ----------------------------------------------------------------------------------------------
# A-normal form


class _Anf:
    def __init__(
        self,
        namer: Namer,
        is_module: Callable[[str], bool],
        value_of: Callable[[str], object] | None = None,
        manager_function: Callable[[ast.expr], bool] | None = None,
    ):
        self.namer = namer
        self.is_module = is_module
        self.value_of = value_of
        self.manager_function = manager_function
        self.out: list[ast.stmt] = []
        self.line = 0
        self.first_param: str | None = None

    def function(self, fn: ast.FunctionDef) -> ast.FunctionDef:
        params = [*fn.args.posonlyargs, *fn.args.args]
        self.first_param = params[0].arg if params else None
        fn.body = self.block(fn.body) or [ast.Pass()]
        return fn

    # -- statements --

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        saved, self.out = self.out, []
        line = self.line  # a compound statement is emitted after its blocks, on its own line
        for stmt in stmts:
            self.line = stmt.lineno
            self.statement(stmt)
        block, self.out = self.out, saved
        self.line = line
        return block

    def emit(self, stmt: ast.stmt) -> None:
        self.out.append(_at(stmt, self.line))

    def statement(self, s: ast.stmt) -> None:
        if isinstance(s, ast.Assign):
            if len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
                self.emit(_assign(s.targets[0].id, self.rhs(s.value), self.line))
                return
            value = self.atom(s.value)
            for target in s.targets:
                self.bind(target, value)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:
                self.statement(ast.Assign(targets=[s.target], value=s.value, lineno=s.lineno))
        elif isinstance(s, ast.AugAssign):
            self.augmented(s)
        elif isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant):
                return  # docstring or bare constant
            value = self.rhs(s.value)
            if isinstance(value, ast.Call):
                self.emit(ast.Expr(value))
            elif isinstance(value, ast.Name):  # a bare name is read: it may be unbound
                self.emit(_assign(self.namer.fresh("t"), value, self.line))
        elif isinstance(s, ast.If):
            test = self.atom(s.test)
            self.emit(
                ast.If(
                    test=test, body=self.block(s.body) or [ast.Pass()], orelse=self.block(s.orelse)
                )
            )
        elif isinstance(s, ast.For):
            self.for_loop(s.target, s.iter, s.body)
        elif isinstance(s, ast.While):
            cond = self.namer.fresh("c")
            self.emit(_assign(cond, self.rhs(s.test), self.line))
            body = self.block(s.body)
            saved, self.out = self.out, body
            self.line = s.lineno
            self.emit(_assign(cond, self.rhs(s.test), self.line))
            self.out = saved
            self.emit(ast.While(test=_name(cond), body=body, orelse=[]))
        elif isinstance(s, ast.Return):
            self.emit(ast.Return(value=self.atom(s.value) if s.value else ast.Constant(None)))
        elif isinstance(s, ast.Delete):
            for target in s.targets:
                self.delete(target)
        elif isinstance(s, ast.With):
            self.with_statement(s.items, s.body)
        elif isinstance(s, ast.Try):
            # the handlers' exception types are evaluated only when an exception is raised,
            # as Python does: they stay expressions (they are never differentiated)
            handlers = [
                ast.ExceptHandler(type=h.type, name=h.name, body=self.block(h.body) or [ast.Pass()])
                for h in s.handlers
            ]
            finalbody = self.block(s.finalbody)
            if not handlers and not finalbody:
                finalbody = [ast.Pass()]  # `finally: pass`: a try needs one or the other
            self.emit(
                ast.Try(
                    body=self.block(s.body) or [ast.Pass()],
                    handlers=handlers,
                    orelse=self.block(s.orelse),
                    finalbody=finalbody,
                )
            )
        elif isinstance(s, ast.Raise) and s.exc is not None:
            # the exception is built like any value: what it carries keeps its derivative
            cause = self.atom(s.cause) if s.cause is not None else None
            self.emit(ast.Raise(exc=self.atom(s.exc), cause=cause))
        elif isinstance(s, (ast.FunctionDef, ast.ClassDef, ast.Raise, ast.Assert)):
            # runs as written; nested functions (and a class's methods) are differentiated when
            # they are called
            self.emit(s)
        elif isinstance(s, (ast.Pass, ast.Global)):
            return
        else:
            raise AssertionError(f"normalize: unexpected statement {type(s).__name__} (fence gap)")

    def delete(self, target: ast.expr) -> None:
        """``del d[k]`` and ``del obj.a`` are operations; ``del name`` stays a statement, which
        unbinds the name as in Python (the backward pass never reads a deleted name: the values
        it needs are kept where it is read, see ``FunctionAnalysis.is_stable``)."""
        if isinstance(target, ast.Name):
            self.emit(ast.Delete(targets=[_name(target.id, store=False)]))
            self.out[-1].targets[0].ctx = ast.Del()
        elif isinstance(target, ast.Subscript):
            obj, key = self.atom(target.value), self.index(target.slice)
            self.emit(ast.Expr(ast.Call(self.op("delitem"), [obj, key], [])))
        elif isinstance(target, ast.Attribute):
            obj = self.atom(target.value)
            self.emit(ast.Expr(ast.Call(_name("delattr"), [obj, ast.Constant(target.attr)], [])))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.delete(elt)

    def with_statement(self, items: list[ast.withitem], body: list[ast.stmt]) -> None:
        """``with a as v, b:`` -> one ``try`` per manager, entered and exited as Python does by
        calls that both modes differentiate (``__enter__`` and ``__exit__`` written in Python
        may compute with the manager's state, a ``@contextmanager`` manager made before the
        ``with`` runs its generator's halves: see :func:`zygote_engine.primitives.enter_context`)::

            t1 = __zy.enter_context(a)
            try:
                v = t1
                <the rest: b, the body>
            except BaseException as error1:
                t2 = __zy.ignore_derivatives(error1)
                swallowed1 = __zy.exit_context(a, t2)
                t3 = operator.not_(swallowed1)
                if t3:
                    raise
            else:
                __zy.exit_context(a, None)

        A ``@contextmanager`` function called by name is :meth:`generator_with`.
        """
        item, rest = items[0], items[1:]
        call = item.context_expr
        if (
            self.manager_function is not None
            and isinstance(call, ast.Call)
            and self.manager_function(call.func)
        ):
            self.generator_with(item, rest, body)
            return
        manager = self.atom(call)
        entered = self.atom(ast.Call(self.helper("enter_context"), [manager], []))

        def on_error(error: str) -> ast.Call:
            # The exception goes to __exit__ without its derivatives: an __exit__ that
            # computes with the values an exception carries is rare, and a library's
            # manager (np.errstate) must not be differentiated for the sake of it.
            passed = ast.Call(self.helper("ignore_derivatives"), [_name(error)], [])
            return ast.Call(self.helper("exit_context"), [manager, self.atom(passed)], [])

        clean_exit = ast.Call(self.helper("exit_context"), [manager, ast.Constant(None)], [])
        self.exit_protected(item.optional_vars, entered, rest, body, on_error, clean_exit)

    def generator_with(
        self, item: ast.withitem, rest: list[ast.withitem], body: list[ast.stmt]
    ) -> None:
        """``with f(a) as v:`` where ``f`` is a ``@contextmanager`` function: the two halves of
        its generator (``zygote_engine/managers.py``) are called like any Python function, so
        that both modes differentiate the code before the yield and the code after it, the
        exception of the body thrown in at the yield as contextlib does::

            halves1 = __zy.generator_halves(f)
            enter1 = operator.getitem(halves1, 0)
            exit1 = operator.getitem(halves1, 1)
            entered1 = enter1(a)
            t1 = operator.getitem(entered1, 0)
            try:
                v = t1
                <body>
            except BaseException as error1:
                swallowed1 = exit1(entered1, error1)
                t2 = operator.not_(swallowed1)
                if t2:
                    raise
            else:
                exit1(entered1, None)

        ``entered1`` is the list of the value yielded and the generator's locals that the exit
        half reads (see ``generators.split_at_yield``).
        """
        call = item.context_expr
        halves, enter, exit_ = (self.namer.fresh(n) for n in ("halves", "enter", "exit"))
        entered = self.namer.fresh("entered")
        found = ast.Call(func=self.helper("generator_halves"), args=[call.func], keywords=[])
        self.emit(_assign(halves, self.rhs(found), self.line))
        for i, name in enumerate((enter, exit_)):
            part = ast.Call(self.op("getitem"), [_name(halves), ast.Constant(i)], [])
            self.emit(_assign(name, part, self.line))
        entering = ast.Call(func=_name(enter), args=call.args, keywords=call.keywords)
        self.emit(_assign(entered, self.rhs(entering), self.line))
        value = None
        if item.optional_vars is not None:
            value = self.atom(ast.Call(self.op("getitem"), [_name(entered), ast.Constant(0)], []))

        def on_error(error: str) -> ast.Call:
            return ast.Call(_name(exit_), [_name(entered), _name(error)], [])

        clean_exit = ast.Call(_name(exit_), [_name(entered), ast.Constant(None)], [])
        self.exit_protected(item.optional_vars, value, rest, body, on_error, clean_exit)

    def exit_protected(
        self,
        target: ast.expr | None,
        entered: ast.expr | None,
        rest: list[ast.withitem],
        body: list[ast.stmt],
        on_error: Callable[[str], ast.Call],
        clean_exit: ast.Call,
    ) -> None:
        """The ``try`` of a ``with`` whose manager was entered: ``target = entered`` (an unpacking
        that fails is an exception of the body), the rest of the ``with``, then the exit, which
        on an exception may swallow it (``on_error(error)`` is the call that says whether).

        The body has no ``return``, ``break`` or ``continue`` left (they are flags by now), so
        it leaves the ``try`` by its end or by an exception.
        """
        saved, self.out = self.out, []
        if target is not None:
            self.bind(target, entered)
        if rest:
            self.with_statement(rest, body)
        else:
            self.out += self.block(body)
        inner, self.out = self.out, []
        error, swallowed = self.namer.fresh("error"), self.namer.fresh("swallowed")
        self.emit(_assign(swallowed, on_error(error), self.line))
        passed = self.atom(ast.Call(self.op("not_"), [_name(swallowed)], []))
        self.emit(ast.If(test=passed, body=[ast.Raise(exc=None, cause=None)], orelse=[]))
        handler, self.out = self.out, []
        self.emit(ast.Expr(clean_exit))
        completed, self.out = self.out, saved
        catch_all = ast.ExceptHandler(type=_name("BaseException"), name=error, body=handler)
        self.emit(
            ast.Try(
                body=inner or [ast.Pass()], handlers=[catch_all], orelse=completed, finalbody=[]
            )
        )

    def augmented(self, s: ast.AugAssign) -> None:
        op = self.op(_INPLACE[type(s.op)])
        value = self.atom(s.value)
        target = s.target
        if isinstance(target, ast.Name):
            self.emit(_assign(target.id, ast.Call(op, [_name(target.id), value], []), self.line))
            return
        if isinstance(target, ast.Subscript):
            obj, key = self.atom(target.value), self.index(target.slice)
            old = self.atom(ast.Call(self.op("getitem"), [obj, key], []))
            new = self.atom(ast.Call(op, [old, value], []))
            self.emit(ast.Expr(ast.Call(self.op("setitem"), [obj, key, new], [])))
        else:  # attribute
            obj, attr = self.atom(target.value), ast.Constant(target.attr)
            old = self.atom(ast.Call(_name("getattr"), [obj, attr], []))
            new = self.atom(ast.Call(op, [old, value], []))
            self.emit(ast.Expr(ast.Call(_name("setattr"), [obj, attr, new], [])))

    def bind(self, target: ast.expr, value: ast.expr) -> None:
        """Assign ``value`` (an atom or a call of atoms) to an assignment target of any shape."""
        if isinstance(target, ast.Name):
            self.emit(_assign(target.id, value, self.line))
            return
        value = value if self.is_atom(value) else self.atom(value)
        if isinstance(target, (ast.Tuple, ast.List)):
            n = len(target.elts)
            for i, elt in enumerate(target.elts):
                if isinstance(elt, ast.Starred):
                    stop = ast.Constant(i - n + 1 if i < n - 1 else None)
                    key = self.atom(ast.Call(_name("slice"), [ast.Constant(i), stop], []))
                    part = self.atom(ast.Call(self.op("getitem"), [value, key], []))
                    self.bind(elt.value, ast.Call(self.helper("as_list"), [part], []))
                else:
                    index = ast.Constant(i if not self.starred_before(target, i) else i - n)
                    self.bind(elt, ast.Call(self.op("getitem"), [value, index], []))
        elif isinstance(target, ast.Subscript):
            obj, key = self.atom(target.value), self.index(target.slice)
            self.emit(ast.Expr(ast.Call(self.op("setitem"), [obj, key, value], [])))
        elif isinstance(target, ast.Attribute):
            obj = self.atom(target.value)
            self.emit(
                ast.Expr(ast.Call(_name("setattr"), [obj, ast.Constant(target.attr), value], []))
            )
        else:
            raise AssertionError(f"normalize: unexpected target {type(target).__name__}")

    @staticmethod
    def starred_before(target: ast.Tuple | ast.List, i: int) -> bool:
        return any(isinstance(e, ast.Starred) for e in target.elts[:i])

    def for_loop(
        self, target: ast.expr, iterable: ast.expr, body: list[ast.stmt] | Callable
    ) -> None:
        items = self.namer.fresh("items")
        self.emit(
            _assign(items, ast.Call(self.helper("collect"), [self.atom(iterable)], []), self.line)
        )
        var = target.id if isinstance(target, ast.Name) else self.namer.fresh("item")
        saved, self.out = self.out, []
        if not isinstance(target, ast.Name):
            self.bind(target, _name(var))
        if callable(body):
            body()
        else:
            self.out += self.block(body)
        loop_body, self.out = self.out, saved
        self.emit(
            ast.For(
                target=_name(var, True),
                iter=_name(items),
                body=loop_body or [ast.Pass()],
                orelse=[],
            )
        )

    # -- expressions --

    def op(self, name: str) -> ast.Attribute:
        return ast.Attribute(value=_name(OPERATOR_NAME), attr=name, ctx=ast.Load())

    def helper(self, name: str) -> ast.Attribute:
        return ast.Attribute(value=_name(HELPERS_NAME), attr=name, ctx=ast.Load())

    def is_atom(self, e: ast.expr) -> bool:
        if isinstance(e, (ast.Name, ast.Constant)):
            return True
        chain = []
        while isinstance(e, ast.Attribute):
            chain.append(e.attr)
            e = e.value
        if not (isinstance(e, ast.Name) and self.is_module(e.id)):
            return False
        if self.value_of is None or not chain:
            return True
        value = self.value_of(e.id)
        for attr in reversed(chain):
            value = getattr(value, attr, None)
        return not _holds_state(value)

    def atom(self, e: ast.expr) -> ast.expr:
        value = self.rhs(e)
        if self.is_atom(value):
            return value
        name = self.namer.fresh("t")
        self.emit(_assign(name, value, self.line))
        return _name(name)

    def square_reduction(self, e: ast.Call) -> tuple[str, ast.expr] | None:
        """``(helper, x)`` for ``np.sum(x * x)``, ``np.mean(x ** 2)`` and the like, with numpy's
        function read as a module's attribute and no other argument (see ``_SQUARE_REDUCTIONS``);
        ``None`` for anything else."""
        f = e.func
        if e.keywords or len(e.args) != 1 or self.value_of is None:
            return None
        x = _squares(e.args[0])
        if x is None or not (
            isinstance(f, ast.Attribute)
            and f.attr in ("sum", "mean")
            and isinstance(f.value, ast.Name)
            and f.value.id not in (OPERATOR_NAME, HELPERS_NAME)
            and self.is_module(f.value.id)
        ):
            return None
        reduction = getattr(self.value_of(f.value.id), f.attr, None)
        if reduction is not np.sum and reduction is not np.mean:
            return None
        return _SQUARE_REDUCTIONS[reduction, type(e.args[0].op)], x

    def result_var(self) -> str:
        return self.namer.fresh("t")

    def rhs(self, e: ast.expr) -> ast.expr:
        """An atom, or a call whose arguments are atoms (statements for its parts are emitted)."""
        if self.is_atom(e):
            return e
        if isinstance(e, ast.Attribute):
            return ast.Call(_name("getattr"), [self.atom(e.value), ast.Constant(e.attr)], [])
        if isinstance(e, ast.BinOp):
            gram = _gram(e)
            if gram is not None:
                helper, x = gram
                return ast.Call(self.helper(helper), [self.atom(x)], [])
            return ast.Call(
                self.op(_BINOPS[type(e.op)]), [self.atom(e.left), self.atom(e.right)], []
            )
        if isinstance(e, ast.UnaryOp):
            return ast.Call(self.op(_UNARY[type(e.op)]), [self.atom(e.operand)], [])
        if isinstance(e, ast.Compare):
            return self.compare(e)
        if isinstance(e, ast.BoolOp):
            return self.boolop(e)
        if isinstance(e, ast.IfExp):
            result = self.result_var()
            test = self.atom(e.test)
            then = self.block_assigning(result, e.body)
            orelse = self.block_assigning(result, e.orelse)
            self.emit(ast.If(test=test, body=then, orelse=orelse))
            return _name(result)
        if isinstance(e, ast.Call):
            squares = self.square_reduction(e)
            if squares is not None:
                helper, x = squares
                return ast.Call(self.helper(helper), [self.atom(x)], [])
            return self.call(e)
        if isinstance(e, ast.Subscript):
            return ast.Call(self.op("getitem"), [self.atom(e.value), self.index(e.slice)], [])
        if isinstance(e, (ast.Tuple, ast.List, ast.Set)):
            return self.sequence(e)
        if isinstance(e, ast.Dict):
            return self.dict_literal(e)
        if isinstance(e, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
            return self.comprehension(e)
        if isinstance(e, ast.NamedExpr):  # (x := value): assign, then use the name
            self.emit(_assign(e.target.id, self.rhs(e.value), self.line))
            return _name(e.target.id)
        if isinstance(e, ast.Lambda):
            return e
        if isinstance(e, ast.JoinedStr):
            for part in e.values:
                if isinstance(part, ast.FormattedValue):
                    part.value = self.atom(part.value)
            return e
        if isinstance(e, ast.Slice):
            return self.index(e)
        raise AssertionError(f"normalize: unexpected expression {type(e).__name__} (fence gap)")

    def block_assigning(self, result: str, e: ast.expr) -> list[ast.stmt]:
        saved, self.out = self.out, []
        self.emit(_assign(result, self.rhs(e), self.line))
        block, self.out = self.out, saved
        return block

    def compare(self, e: ast.Compare) -> ast.expr:
        left = self.atom(e.left)
        parts = list(zip(e.ops, e.comparators))
        if len(parts) == 1:
            return self.comparison(left, *parts[0])
        result = self.result_var()
        self.emit_chain(result, left, parts)
        return _name(result)

    def emit_chain(self, result: str, left: ast.expr, parts: list) -> None:
        (op, comparator), rest = parts[0], parts[1:]
        right = self.atom(comparator)
        self.emit(_assign(result, self.comparison(left, op, right), self.line))
        if rest:
            saved, self.out = self.out, []
            self.emit_chain(result, right, rest)
            body, self.out = self.out, saved
            self.emit(ast.If(test=_name(result), body=body, orelse=[]))

    def comparison(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> ast.Call:
        right = self.atom(right)
        if isinstance(op, (ast.In, ast.NotIn)):
            contains = ast.Call(self.op("contains"), [right, left], [])
            return (
                contains
                if isinstance(op, ast.In)
                else ast.Call(self.op("not_"), [self.atom(contains)], [])
            )
        return ast.Call(self.op(_COMPARE[type(op)]), [left, right], [])

    def boolop(self, e: ast.BoolOp) -> ast.expr:
        """``a and b`` -> ``r = a; if r: r = b`` (``or``: the else branch), preserving short-circuit."""
        result = self.result_var()
        self.emit(_assign(result, self.rhs(e.values[0]), self.line))
        self.emit_boolop(result, isinstance(e.op, ast.And), e.values[1:])
        return _name(result)

    def emit_boolop(self, result: str, is_and: bool, values: list[ast.expr]) -> None:
        if not values:
            return
        saved, self.out = self.out, []
        self.emit(_assign(result, self.rhs(values[0]), self.line))
        self.emit_boolop(result, is_and, values[1:])
        block, self.out = self.out, saved
        if is_and:
            self.emit(ast.If(test=_name(result), body=block, orelse=[]))
        else:
            self.emit(ast.If(test=_name(result), body=[ast.Pass()], orelse=block))

    def index(self, e: ast.expr) -> ast.expr:
        if isinstance(e, ast.Slice):
            parts = [
                self.atom(p) if p is not None else ast.Constant(None)
                for p in (e.lower, e.upper, e.step)
            ]
            return self.atom(ast.Call(_name("slice"), parts, []))
        return self.atom(e)

    def call(self, e: ast.Call) -> ast.Call:
        if (
            isinstance(e.func, ast.Name)
            and e.func.id == "super"
            and not e.args
            and self.first_param
        ):
            # zero-argument super() reads the frame's first argument, which the generated code
            # changes: spell out what the compiler would pass
            e = ast.Call(e.func, [_name("__class__"), _name(self.first_param)], [])
        func = self.atom(e.func)
        starred = any(isinstance(a, ast.Starred) for a in e.args)
        double_starred = any(k.arg is None for k in e.keywords)
        if not (starred or double_starred):
            args = [self.atom(a) for a in e.args]
            keywords = [ast.keyword(arg=k.arg, value=self.atom(k.value)) for k in e.keywords]
            return ast.Call(func, args, keywords)
        # f(*xs, **kw): one call of __zy.apply(f, args_tuple, kwargs_dict), whose rule differentiates f
        args = self.atom(self.sequence(ast.Tuple(elts=e.args, ctx=ast.Load())))
        kwargs = self.atom(
            ast.Dict(
                keys=[k.arg and ast.Constant(k.arg) for k in e.keywords],
                values=[k.value for k in e.keywords],
            )
        )
        return ast.Call(self.helper("apply"), [func, args, kwargs], [])

    def sequence(self, e: ast.Tuple | ast.List | ast.Set) -> ast.Call:
        kind = {ast.Tuple: "make_tuple", ast.List: "make_list", ast.Set: "make_set"}[type(e)]
        if not any(isinstance(x, ast.Starred) for x in e.elts):
            return ast.Call(self.helper(kind), [self.atom(x) for x in e.elts], [])
        # (a, *xs, b) -> concatenation of tuple pieces
        pieces = []
        for x in e.elts:
            if isinstance(x, ast.Starred):
                pieces.append(
                    self.atom(ast.Call(self.helper("as_tuple"), [self.atom(x.value)], []))
                )
            else:
                pieces.append(self.atom(ast.Call(self.helper("make_tuple"), [self.atom(x)], [])))
        joined = self.atom(ast.Call(self.helper("concat"), pieces, []))
        if kind == "make_tuple":
            return ast.Call(self.helper("as_tuple"), [joined], [])
        return ast.Call(
            self.helper("as_list" if kind == "make_list" else "make_set"),
            [joined] if kind == "make_list" else [ast.Starred(joined)],
            [],
        )

    def dict_literal(self, e: ast.Dict) -> ast.Call:
        if any(k is None for k in e.keys):
            parts = []
            for k, v in zip(e.keys, e.values):
                if k is None:
                    parts.append(self.atom(v))
                else:
                    parts.append(
                        self.atom(
                            ast.Call(self.helper("make_dict"), [self.atom(k), self.atom(v)], [])
                        )
                    )
            return ast.Call(self.helper("merge_dicts"), parts, [])
        args = []
        for k, v in zip(e.keys, e.values):
            args += [self.atom(k), self.atom(v)]
        return ast.Call(self.helper("make_dict"), args, [])

    def comprehension(self, e: ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp):
        """Comprehensions become explicit loops filling a list (generators are materialised)."""
        e = self.rename_comprehension_targets(e)
        result = self.result_var()
        is_dict = isinstance(e, ast.DictComp)
        empty = ast.Call(self.helper("make_dict" if is_dict else "make_list"), [], [])
        self.emit(_assign(result, empty, self.line))

        def innermost():
            if is_dict:
                key, value = self.atom(e.key), self.atom(e.value)
                self.emit(ast.Expr(ast.Call(self.op("setitem"), [_name(result), key, value], [])))
            else:
                self.emit(
                    ast.Expr(ast.Call(self.helper("append"), [_name(result), self.atom(e.elt)], []))
                )

        self.generators(e.generators, innermost)
        if isinstance(e, ast.SetComp):
            return ast.Call(_name("set"), [_name(result)], [])
        return _name(result)

    def generators(self, gens: list[ast.comprehension], innermost: Callable) -> None:
        if not gens:
            innermost()
            return
        gen, rest = gens[0], gens[1:]

        def body():
            self.conditions(gen.ifs, lambda: self.generators(rest, innermost))

        self.for_loop(gen.target, gen.iter, body)

    def conditions(self, ifs: list[ast.expr], then: Callable) -> None:
        if not ifs:
            then()
            return
        test = self.atom(ifs[0])
        saved, self.out = self.out, []
        self.conditions(ifs[1:], then)
        block, self.out = self.out, saved
        self.emit(ast.If(test=test, body=block or [ast.Pass()], orelse=[]))

    def rename_comprehension_targets(self, e):
        """Comprehension variables are local to the comprehension: give them fresh names."""
        targets = {
            n.id for g in e.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)
        }
        mapping = {name: self.namer.fresh(name + "_") for name in targets}

        class Rename(ast.NodeTransformer):
            def visit_Name(self, node):
                if node.id in mapping:
                    return ast.copy_location(ast.Name(id=mapping[node.id], ctx=node.ctx), node)
                return node

            def visit_Lambda(self, node):
                # defaults belong to the enclosing scope; the body sees the lambda's own parameters
                node.args = self.visit(node.args)
                shadowed = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
                saved = {name: mapping.pop(name) for name in shadowed if name in mapping}
                node.body = self.visit(node.body)
                mapping.update(saved)
                return node

        renamed = Rename().visit(copy_tree(e))
        # The first iterable is evaluated in the enclosing scope: keep its names.
        renamed.generators[0].iter = e.generators[0].iter
        return renamed
