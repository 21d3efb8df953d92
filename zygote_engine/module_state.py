"""Stage 1c: the module globals that differentiated code assigns are read and written as state.

``global g; g = v`` changes the module, as in plain Python, and a later read of ``g`` (in the
same function, in a function it calls, or in a later call) must carry its cotangent back to
``v``. So, in every function the engine transforms, the globals that some code of the module
assigns (found in the module's byte code: ``STORE_GLOBAL``, ``DELETE_GLOBAL``) are routed
through three helpers of :mod:`zygote_engine.primitives`:

.. code-block:: python

    def step(x):                         def step(x):
        global scale                         t1 = __zy.read_global(__globals, "scale") * x
        scale = scale * x         ->         __zy.write_global(__globals, "scale", t1)
        del cache                            __zy.delete_global(__globals, "cache")

``__globals`` is the module's namespace (a closure cell of the generated code). Their rules
(``zygote_engine/lib/module_state.py``) treat the global as an item of the module: a write keeps
what it wrote, a read after a write hands its cotangent to that write, a read before any write
is a read of module state like any other (its cotangent goes to the value, by identity, where
``Params`` finds it). Globals that nothing assigns are read as before, at no extra cost.

A function transformed before the function that assigns one of the globals it reads was
defined read that global as a constant: the assigning function's transform then raises a
located error (the stale transforms are forgotten, so differentiating again works).
"""

from __future__ import annotations

import ast
import dis
import functools
import itertools
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from zygote_engine.errors import UnsupportedConstructError, user_location
from zygote_engine.normalize import HELPERS_NAME
from zygote_engine.rebinding import assigned_through, caught_as
from zygote_engine.scopes import bound_names, comprehension_scoped, copy_tree, own_nodes

__all__ = [
    "GLOBALS",
    "NAMESPACE",
    "Routing",
    "assigned_globals",
    "deposit_global",
    "forget",
    "module_codes",
    "owner_of",
    "route",
    "route_globals",
]

NAMESPACE = "__globals"  # the name of the module's namespace in generated code


@dataclass(frozen=True)
class Routing:
    """How generated code reaches one kind of state that outlives a call (module globals, the
    closure cells of ``nonlocal`` variables): the name of the place that holds it (a closure
    cell of the generated code), the helpers that read, write and delete one of its items."""

    place: str
    read: str
    write: str
    delete: str
    noun: str  # "global"
    temp: str  # the prefix of the fresh locals that a part of a bigger target becomes


GLOBALS = Routing(NAMESPACE, "read_global", "write_global", "delete_global", "global", "__global")

_STORE_OPS = frozenset({dis.opmap["STORE_GLOBAL"], dis.opmap["DELETE_GLOBAL"]})
_STORE_BYTES = tuple(bytes([op]) for op in _STORE_OPS)
_stored_by_code: dict[types.CodeType, frozenset[str]] = {}
# id(namespace) -> (namespace, the names transformed code read from it as constants)
_plain_reads: dict[int, tuple[dict, set[str]]] = {}
# called when a transform read as a constant a global that is assigned after all
on_stale: list[Callable[[], None]] = []

_NOT_EVALUATED = frozenset(
    {"body", "orelse", "finalbody", "handlers", "cases", "targets", "target", "items"}
)


def forget() -> None:
    """Forget what transforms read (``refresh``)."""
    _plain_reads.clear()


def assigned_globals(namespace: dict) -> frozenset[str]:
    """The globals of ``namespace`` that the module's functions (and the functions and methods
    defined in them) assign or delete with ``global``."""
    names: set[str] = set()
    for code in module_codes(namespace):
        names |= _stored(code)
    return frozenset(names)


def module_codes(namespace: dict):
    """The code objects of the module's functions, methods and properties (and of the functions
    they wrap), the code nested in them not included."""
    seen: set[int] = set()
    for value in list(namespace.values()):
        yield from _codes_of(value, namespace, seen)


def _codes_of(value, namespace: dict, seen: set[int]):
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, functools.partial):
        value = value.func
    if isinstance(value, types.FunctionType):
        if value.__globals__ is namespace:
            yield value.__code__
        wrapped = getattr(value, "__wrapped__", None)
        if wrapped is not None:
            yield from _codes_of(wrapped, namespace, seen)
    elif isinstance(value, property):
        for accessor in (value.fget, value.fset, value.fdel):
            yield from _codes_of(accessor, namespace, seen)
    elif isinstance(value, type) and value.__module__ == namespace.get("__name__"):
        for member in list(vars(value).values()):
            yield from _codes_of(member, namespace, seen)


def _stored(code: types.CodeType) -> frozenset[str]:
    """The globals ``code`` (and the code nested in it) stores or deletes (cached)."""
    found = _stored_by_code.get(code)
    if found is None:
        names = set()
        raw = code.co_code
        if any(op in raw for op in _STORE_BYTES):
            names = {i.argval for i in dis.get_instructions(code) if i.opcode in _STORE_OPS}
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names |= _stored(const)
        found = _stored_by_code[code] = frozenset(names)
    return found


def route_globals(
    node: ast.FunctionDef, filename: str, namespace: dict, freevars: tuple[str, ...]
) -> ast.FunctionDef:
    """``node`` with its reads, writes and deletions of assigned globals routed through the
    helpers (a copy; ``node`` itself when it touches none)."""
    declared = {n for s in own_nodes(node.body) if isinstance(s, ast.Global) for n in s.names}
    bound = bound_names(node)
    assigned_here = declared & bound
    known = assigned_globals(namespace) | assigned_here
    local = bound - declared
    loads = {
        n.id
        for n in own_nodes([*node.body, *_enclosing_parts(node)])
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    outside = loads - local - set(freevars)
    routed = {
        name
        for name in (outside & known) | assigned_here
        if not isinstance(namespace.get(name), types.ModuleType) or name in assigned_here
    }
    _note_plain_reads(namespace, outside - routed)
    if assigned_here:
        _check_fresh(node, filename, namespace, assigned_here)
    return route(node, filename, routed, GLOBALS)


def route(node: ast.FunctionDef, filename: str, routed: set[str], how: Routing) -> ast.FunctionDef:
    """``node`` with its reads, writes and deletions of the names ``routed`` made calls of the
    helpers of ``how`` (a copy; ``node`` itself when ``routed`` is empty)."""
    if not routed:
        return node
    node = _Router(routed, filename, how).rewrite(node)
    ast.fix_missing_locations(node)
    return node


def _enclosing_parts(node: ast.FunctionDef) -> list[ast.AST]:
    """What the function's nested definitions evaluate in its scope: decorators, defaults."""
    parts: list[ast.AST] = []
    for n in own_nodes(node.body):
        if isinstance(n, (ast.FunctionDef, ast.Lambda)):
            parts += getattr(n, "decorator_list", [])
            parts += [d for d in (*n.args.defaults, *n.args.kw_defaults) if d is not None]
    return parts


def _note_plain_reads(namespace: dict, names: set[str]) -> None:
    entry = _plain_reads.get(id(namespace))
    if entry is None:
        entry = _plain_reads[id(namespace)] = (namespace, set())
    entry[1].update(names)


def _check_fresh(node: ast.FunctionDef, filename: str, namespace: dict, names: set[str]) -> None:
    """Forget the transforms that read one of ``names`` as a constant (they are transformed
    again when next called); refuse the function if one of them is running now (it may read
    the global after this function assigns it)."""
    entry = _plain_reads.get(id(namespace))
    stale = names & entry[1] if entry is not None else set()
    if not stale:
        return
    entry[1].difference_update(stale)
    for forget_transforms in on_stale:
        forget_transforms()
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if (
            frame.f_globals is namespace
            and code.co_name.endswith(_GENERATED)
            and not stale.isdisjoint(code.co_names)
        ):
            name = sorted(stale.intersection(code.co_names))[0]
            line = next(
                s.lineno
                for s in own_nodes(node.body)
                if isinstance(s, ast.Global) and name in s.names
            )
            raise UnsupportedConstructError(
                f"{filename}:{line}: the global {name!r} assigned here is read, as a constant, "
                f"by {code.co_name}, which zygote_engine differentiated before this function "
                "was defined and which is running: differentiate again (its transform is now "
                "forgotten), or define the functions that assign globals before "
                "differentiating the functions that read them"
            )
        frame = frame.f_back


_GENERATED = ("__forward", "__jvp", "__backward")


def owner_of(namespace: dict) -> object:
    """The module whose globals are ``namespace`` (``othermodule.g`` is the same state), or the
    namespace itself (the globals of a doctest, of ``exec``)."""
    found = _owners.get(id(namespace))
    if found is None or found[0] is not namespace:
        module = sys.modules.get(namespace.get("__name__"))
        owner = module if module is not None and vars(module) is namespace else namespace
        found = _owners[id(namespace)] = (namespace, owner)
    return found[1]


_owners: dict[int, tuple[dict, object]] = {}


def deposit_global(cx, value: object, dx: object, namespace: dict, name: str) -> None:
    """The backward pass of a function that reads the global ``name`` as module state that
    nothing assigns: ``dx`` goes to the value read, by identity. If code assigned the global
    in this differentiation after all (code defined after this function was transformed), the
    value read is not known: refused rather than guessed."""
    assigned = cx.assigned
    if assigned is not None and (id(owner_of(namespace)), name) in assigned:
        raise UnsupportedConstructError(
            f"{user_location()}: the global {name!r} was assigned in this differentiation by a "
            "function defined after this one was differentiated, which read it as module state "
            "that nothing assigns: differentiate again (its transform is now forgotten)"
        )
    cx.deposit(value, dx)


class _Router(ast.NodeTransformer):
    """Reads of the routed names become ``__zy.read_global`` (the read helper of the routing),
    assignments ``__zy.write_global`` (through a fresh local where the target is part of a bigger
    one), ``del`` of them ``__zy.delete_global``."""

    def __init__(
        self, routed: set[str], filename: str, how: Routing, count: Iterator[int] | None = None
    ) -> None:
        self.routed, self.filename, self.how = routed, filename, how
        self.count = itertools.count(1) if count is None else count

    def helper(self, name: str, *args: ast.expr) -> ast.Call:
        func = ast.Attribute(value=ast.Name(HELPERS_NAME, ast.Load()), attr=name, ctx=ast.Load())
        return ast.Call(func=func, args=[ast.Name(self.how.place, ast.Load()), *args], keywords=[])

    def rewrite(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node = copy_tree(node)
        node.body = self.block(node.body)
        return node

    # -- statements --

    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in body:
            out += self.statement(s)
        return out

    def statement(self, s: ast.stmt) -> list[ast.stmt]:
        if isinstance(s, ast.Delete):
            return self.delete(s)
        if isinstance(s, ast.AugAssign) and self.is_routed(s.target):
            name, temp = s.target.id, self.temp()
            read = self.helper(self.how.read, ast.Constant(name))
            return self.located(
                [
                    ast.Assign(targets=[ast.Name(temp, ast.Store())], value=read),
                    ast.AugAssign(
                        target=ast.Name(temp, ast.Store()), op=s.op, value=self.visit(s.value)
                    ),
                    self.write(name, temp),
                ],
                s,
            )
        if isinstance(s, ast.AnnAssign) and self.is_routed(s.target):
            if s.value is None:
                return []
            s = ast.copy_location(ast.Assign(targets=[s.target], value=s.value), s)
        if isinstance(s, ast.FunctionDef):
            # transformed on its own when called; its decorators and defaults are evaluated here
            self.refuse_def(s)
            return [self.visit_FunctionDef(s)]
        if isinstance(s, ast.ClassDef):
            return [s]  # refused by the fence
        for field in ("body", "orelse", "finalbody"):
            block = getattr(s, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(s, field, self.block(block))
        for handler in getattr(s, "handlers", []):
            if handler.type is not None:
                handler.type = self.visit(handler.type)
            if handler.name in self.routed:
                handler.body = caught_as(handler, self.temp())
            handler.body = self.block(handler.body)
        writes: list[ast.stmt] = []
        targets: list[ast.expr] = []
        if isinstance(s, ast.Assign):
            s.targets = [self.target(t, writes) for t in s.targets]
            targets = s.targets
        elif isinstance(s, ast.For):
            s.target = self.target(s.target, writes)
            s.body = self.located(writes, s) + s.body
            targets, writes = [s.target], []
        elif isinstance(s, ast.With):
            for item in s.items:
                item.context_expr = self.visit(item.context_expr)
                if item.optional_vars is not None:
                    item.optional_vars = self.target(item.optional_vars, writes)
                    targets.append(item.optional_vars)
            s.body = self.located(writes, s) + s.body
            writes = []
        elif isinstance(s, (ast.AugAssign, ast.AnnAssign)):
            targets = [s.target]
        # what the statement evaluates besides its blocks and targets
        for field, value in ast.iter_fields(s):
            if field in _NOT_EVALUATED:
                continue
            if isinstance(value, ast.AST):
                setattr(s, field, self.visit(value))
            elif isinstance(value, list):
                setattr(s, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
        for t in targets:  # the objects and keys of subscript and attribute targets
            self.visit_target_parts(t)
        return [s, *self.located(writes, s)]

    def delete(self, s: ast.Delete) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        kept: list[ast.expr] = []

        def split(target: ast.expr) -> None:
            if isinstance(target, (ast.Tuple, ast.List)):
                for elt in target.elts:
                    split(elt)
            elif self.is_routed(target):
                flush()
                out.append(ast.Expr(self.helper(self.how.delete, ast.Constant(target.id))))
            else:
                self.visit_target_parts(target)
                kept.append(target)

        def flush() -> None:
            if kept:
                out.append(ast.Delete(targets=list(kept)))
                kept.clear()

        for target in s.targets:
            split(target)
        flush()
        return self.located(out, s)

    def target(self, t: ast.expr, writes: list[ast.stmt]) -> ast.expr:
        """An assignment target with each routed name replaced by a fresh local, whose value
        ``writes`` then writes to the global."""
        if self.is_routed(t):
            temp = self.temp()
            writes.append(self.write(t.id, temp))
            return ast.copy_location(ast.Name(temp, ast.Store()), t)
        if isinstance(t, (ast.Tuple, ast.List)):
            t.elts = [self.target(e, writes) for e in t.elts]
        elif isinstance(t, ast.Starred):
            t.value = self.target(t.value, writes)
        return t

    def visit_target_parts(self, t: ast.expr) -> None:
        if isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self.visit_target_parts(e)
        elif isinstance(t, ast.Starred):
            self.visit_target_parts(t.value)
        elif isinstance(t, (ast.Subscript, ast.Attribute)):
            t.value = self.visit(t.value)
            if isinstance(t, ast.Subscript):
                t.slice = self.visit(t.slice)

    def write(self, name: str, temp: str) -> ast.stmt:
        return ast.Expr(self.helper(self.how.write, ast.Constant(name), ast.Name(temp, ast.Load())))

    def temp(self) -> str:
        return f"{self.how.temp}{next(self.count)}"

    def is_routed(self, t: ast.expr) -> bool:
        return isinstance(t, ast.Name) and t.id in self.routed

    def refuse_def(self, node: ast.FunctionDef) -> None:
        if node.name in self.routed:
            raise UnsupportedConstructError(
                f"{self.filename}:{node.lineno}: the {self.how.noun} {node.name!r} is bound here "
                "by a def statement, which zygote_engine does not differentiate: define the "
                f"function under another name, then assign it to the {self.how.noun}"
            )

    @staticmethod
    def located(stmts: list[ast.stmt], where: ast.stmt) -> list[ast.stmt]:
        for s in stmts:
            for child in ast.walk(s):
                if "lineno" in child._attributes and not hasattr(child, "lineno"):
                    ast.copy_location(child, where)
        return stmts

    # -- expressions --

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.routed and isinstance(node.ctx, ast.Load):
            return ast.copy_location(self.helper(self.how.read, ast.Constant(node.id)), node)
        return node

    def visit_NamedExpr(self, node: ast.NamedExpr) -> ast.AST:
        node.value = self.visit(node.value)
        name = node.target.id
        if name not in self.routed:
            return node
        temp = self.temp()
        write = self.helper(self.how.write, ast.Constant(name), ast.Name(temp, ast.Load()))
        return assigned_through(node, temp, write)

    def _comprehension(self, node: ast.AST) -> ast.AST:
        # its variables are its own, not the routed names they may share a name with
        def inside(bound: set[str]):
            if not bound & self.routed:
                return self.visit
            return _Router(self.routed - bound, self.filename, self.how, self.count).visit

        return comprehension_scoped(node, self.visit, inside)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        # a nested function is transformed on its own; its decorators and defaults are
        # evaluated here
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        self.defaults(node.args)
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.defaults(node.args)
        return node

    def defaults(self, args: ast.arguments) -> None:
        args.defaults = [self.visit(d) for d in args.defaults]
        args.kw_defaults = [d if d is None else self.visit(d) for d in args.kw_defaults]
