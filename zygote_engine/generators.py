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
import copy

from zygote_engine.errors import UnsupportedConstructError
from zygote_engine.scopes import copy_tree, own_nodes

__all__ = ["collect_yields", "is_generator", "split_at_yield"]


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


# -- a @contextmanager generator, split at its yield ---------------------------------------------
#
# contextlib runs such a generator up to its one yield at ``__enter__`` and on from there at
# ``__exit__``, throwing into it at the yield an exception the ``with`` body raised. The engine
# differentiates the two runs as two plain functions cut from the generator's code (see
# ``zygote_engine/managers.py``):
#
# * ``<name>__enter(<the generator's parameters>)`` runs the code before the yield and returns
#   the list ``[value, *state]``: the value yielded, then the generator's locals that the code
#   after the yield reads. If the yield is not reached, it raises contextlib's ``RuntimeError``.
# * ``<name>__exit(state, error)`` resumes at the yield, given that list: it raises ``error``
#   there (``None``: the body completed), runs the code after the yield inside the same ``if``
#   and ``try`` blocks, and returns whether it swallowed ``error`` (it returned, not raised).
#
# A list, not a tuple: a list, dict or object among the locals keeps its cotangent in reverse
# mode's store, by identity, and a list's items are read without taking it from there.
#
# A ``finally`` around the yield runs at exit, not at enter: the enter half skips it once paused.


def split_at_yield(
    fn: ast.FunctionDef, namer, filename: str
) -> tuple[ast.FunctionDef, ast.FunctionDef]:
    """The enter and exit halves of the @contextmanager generator function ``fn`` (a definition
    positioned on its file's lines; not modified). ``namer`` supplies the fresh names (the state,
    the error, a flag); a generator that cannot be split raises a located
    :class:`~zygote_engine.errors.UnsupportedConstructError`.

    Example:
        >>> import ast
        >>> from zygote_engine.normalize import Namer, all_names
        >>> fn = ast.parse('''
        ... def scaled(x):
        ...     s = 2.0 * x
        ...     try:
        ...         yield s
        ...     finally:
        ...         print(s)
        ... ''').body[0]
        >>> enter, exit = split_at_yield(fn, Namer(all_names(fn)), "<example>")
        >>> print(ast.unparse(enter))
        def scaled__enter(x):
            paused1 = False
            s = 2.0 * x
            try:
                paused1 = True
                return [s, s]
            finally:
                if not paused1:
                    print(s)
            raise RuntimeError("generator didn't yield")
        >>> print(ast.unparse(exit))
        def scaled__exit(state1, error1):
            value1, s = state1
            try:
                if error1 is not None:
                    raise error1
            finally:
                print(s)
            return error1 is not None
    """
    levels = _path_to_yield(fn, filename)
    block, i, _ = levels[-1]
    at = block[i]
    value = at.value.value if at.value.value is not None else ast.Constant(None)
    state, error = namer.fresh("state"), namer.fresh("error")
    names = _state_names(fn, levels)
    declared = [s for s in own_nodes(fn.body) if isinstance(s, (ast.Global, ast.Nonlocal))]

    # enter: the code up to the yield, which returns there
    paused = None
    if any(isinstance(b[j], ast.Try) and b[j].finalbody for b, j, _ in levels[:-1]):
        paused = namer.fresh("paused")
    stop = ast.Return(value=ast.List(elts=[value, *(_name(n) for n in names)], ctx=ast.Load()))
    pause = [_assign(paused, ast.Constant(True)), stop] if paused else [stop]
    body = _enter_block(levels, 0, [_fill(s, at) for s in pause], paused)
    unbound = [n for n in names if n not in _bound_at_yield(fn, levels)]
    start = [_fill(_assign(n, ast.Constant(None)), fn) for n in unbound]
    if paused:
        start.append(_fill(_assign(paused, ast.Constant(False)), fn))
    no_yield = _fill(_didnt_yield(), fn.body[-1])
    body = _replace_returns([*start, *body], lambda r: r if r is stop else _fill(_didnt_yield(), r))
    enter = _function(f"{fn.name}__enter", fn.args, [*body, no_yield], fn)

    # exit: resumed at the yield, inside the same blocks
    throw = ast.If(
        test=_is_not_none(error), body=[ast.Raise(exc=_name(error), cause=None)], orelse=[]
    )
    rest = [_fill(throw, at), *copy_tree(block[i + 1 :])]
    for b, j, _ in reversed(levels[:-1]):
        s = b[j]
        if isinstance(s, ast.Try):
            resumed = ast.Try(
                body=rest,
                handlers=copy_tree(s.handlers),
                orelse=copy_tree(s.orelse),
                finalbody=copy_tree(s.finalbody),
            )
            rest = [_fill(resumed, s)]
        rest += copy_tree(b[j + 1 :])
    unpack = []
    if names:
        parts = [_name(namer.fresh("value"), True), *(_name(n, True) for n in names)]
        targets = ast.Tuple(elts=parts, ctx=ast.Store())
        unpack = [_fill(ast.Assign(targets=[targets], value=_name(state)), at)]
    swallowed = ast.Return(value=_is_not_none(error))
    body = _replace_returns(rest, lambda r: _fill(copy_tree(swallowed), r))
    args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(arg=state), ast.arg(arg=error)],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    body = [*copy_tree(declared), *unpack, *body, _fill(swallowed, fn.body[-1])]
    return enter, _function(f"{fn.name}__exit", args, body, at)


def _path_to_yield(fn: ast.FunctionDef, filename: str) -> list[tuple[list, int, str]]:
    """The blocks from ``fn``'s body down to its yield: ``(block, index, field)`` per level,
    ``block[index]`` holding the yield in its ``field`` (the last level: the yield statement)."""
    yields = sorted(
        (n for n in own_nodes(fn.body) if isinstance(n, (ast.Yield, ast.YieldFrom))),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for node in yields:
        if isinstance(node, ast.YieldFrom):
            _refuse(node, filename, "yield from in a @contextmanager generator")
    if len(yields) > 1:
        _refuse(
            yields[1],
            filename,
            "a @contextmanager generator with more than one yield (contextlib allows one to run)",
        )
    (target,) = yields
    levels = _find(fn.body, target)
    block, i, _ = levels[-1]
    if not (isinstance(block[i], ast.Expr) and block[i].value is target):
        _refuse(target, filename, "a yield used as a value in a @contextmanager generator")
    for b, j, field in levels[:-1]:
        s = b[j]
        if isinstance(s, (ast.For, ast.While)):
            _refuse(target, filename, "a yield inside a loop of a @contextmanager generator")
        if not (isinstance(s, ast.If) or (isinstance(s, ast.Try) and field == "body")):
            kind = {ast.With: "a with statement", ast.Try: "an except, else or finally block"}
            where = kind.get(type(s), "a match statement")
            _refuse(target, filename, f"a yield inside {where} of a @contextmanager generator")
    return levels


def _find(block: list[ast.stmt], target: ast.AST) -> list[tuple[list, int, str]]:
    for i, s in enumerate(block):
        if isinstance(s, ast.Expr) and s.value is target:
            return [(block, i, "")]
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        inner = [(f, getattr(s, f, None)) for f in ("body", "orelse", "finalbody")]
        inner += [("handlers", h.body) for h in getattr(s, "handlers", [])]
        inner += [("cases", c.body) for c in getattr(s, "cases", [])]
        for field, sub in inner:
            if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                found = _find(sub, target)
                if found:
                    return [(block, i, field), *found]
        if any(n is target for n in own_nodes([s])):  # in an expression: a yield as a value
            return [(block, i, "")]
    return []


def _enter_block(levels, k: int, pause: list[ast.stmt], paused: str | None) -> list[ast.stmt]:
    block, i, field = levels[k]
    if k == len(levels) - 1:
        return [*copy_tree(block[:i]), *pause]
    s = copy.copy(block[i])
    inner = _enter_block(levels, k + 1, pause, paused)
    if isinstance(s, ast.If):
        other = "orelse" if field == "body" else "body"
        setattr(s, field, inner)
        setattr(s, other, copy_tree(getattr(s, other)))
        s.test = copy_tree(s.test)
    else:  # a try around the yield: its finally runs only if the code stops before the yield
        s.body = inner
        s.handlers, s.orelse = copy_tree(s.handlers), copy_tree(s.orelse)
        if s.finalbody:
            guard = ast.If(
                test=ast.UnaryOp(op=ast.Not(), operand=_name(paused)),
                body=copy_tree(s.finalbody),
                orelse=[],
            )
            s.finalbody = [_fill(guard, s.finalbody[0])]
    return [*copy_tree(block[:i]), s, *copy_tree(block[i + 1 :])]


def _state_names(fn: ast.FunctionDef, levels) -> list[str]:
    """The generator's locals that the code after the yield reads: those bound before it."""
    block, i, _ = levels[-1]
    after = list(block[i + 1 :])
    for b, j, _ in levels[:-1]:
        s = b[j]
        if isinstance(s, ast.Try):
            after += [*s.handlers, *s.orelse, *s.finalbody]
        after += b[j + 1 :]
    read = {
        n.id
        for s in after
        for n in ast.walk(s)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)
    }
    declared = {
        name
        for s in own_nodes(fn.body)
        if isinstance(s, (ast.Global, ast.Nonlocal))
        for name in s.names
    }
    local = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)} | _stored(fn.body)
    return sorted((local & read) - declared)


def _stored(body: list[ast.stmt]) -> set[str]:
    names = set()
    for n in own_nodes(body):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or (
            isinstance(n, ast.ExceptHandler) and n.name
        ):
            names.add(n.name)
        elif isinstance(n, ast.alias):
            names.add((n.asname or n.name).split(".")[0])
    return names


def _bound_at_yield(fn: ast.FunctionDef, levels) -> set[str]:
    """Names surely bound when the yield runs: parameters, and what the simple statements
    before it on its way assign (those in branches or loops may not have run)."""
    bound = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    simple = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.FunctionDef, ast.Import)
    for b, j, _ in levels:
        bound |= _stored([s for s in b[:j] if isinstance(s, (*simple, ast.ImportFrom))])
    return bound


def _replace_returns(body: list[ast.stmt], replacement) -> list[ast.stmt]:
    """``body`` with each ``return`` of the function's own (not of nested functions) replaced."""
    out = []
    for s in body:
        if isinstance(s, ast.Return):
            out.append(replacement(s))
            continue
        if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody"):
                block = getattr(s, field, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    setattr(s, field, _replace_returns(block, replacement))
            for part in (*getattr(s, "handlers", []), *getattr(s, "cases", [])):
                part.body = _replace_returns(part.body, replacement)
        out.append(s)
    return out


def _didnt_yield() -> ast.Raise:
    """contextlib's error for a generator that returns before its yield."""
    error = ast.Call(
        func=_name("RuntimeError"), args=[ast.Constant("generator didn't yield")], keywords=[]
    )
    return ast.Raise(exc=error, cause=None)


def _is_not_none(name: str) -> ast.Compare:
    return ast.Compare(left=_name(name), ops=[ast.IsNot()], comparators=[ast.Constant(None)])


def _function(name: str, args: ast.arguments, body: list[ast.stmt], where: ast.AST):
    fn = ast.FunctionDef(
        name=name,
        args=copy_tree(args),
        body=body,
        decorator_list=[],
        returns=None,
        type_comment=None,
    )
    if "type_params" in ast.FunctionDef._fields:
        fn.type_params = []
    return _fill(fn, where)


def _refuse(node: ast.AST, filename: str, construct: str) -> None:
    raise UnsupportedConstructError(
        f"{filename}:{node.lineno}: {construct} is not supported by zygote_engine: write the "
        "manager's generator with one yield, outside loops, with statements and except, else "
        "or finally blocks (a try around it is fine), or write the manager as a class with "
        "__enter__ and __exit__"
    )


def _fill(node: ast.AST, where: ast.AST) -> ast.AST:
    """Give ``node`` and its parts ``where``'s position where they have none (the code copied
    from the generator keeps its own)."""
    for child in ast.walk(node):
        if "lineno" in child._attributes and getattr(child, "lineno", None) is None:
            child.lineno = child.end_lineno = where.lineno
            child.col_offset = child.end_col_offset = 0
    return node
