"""Stage 1a: ``match`` statements become ``if`` chains, before anything else changes the code.

Each case's pattern becomes statements that set a flag (``matched<k>``) and bind the pattern's
names, testing each part only when the parts before it matched, as Python does; then
``if matched: <body> else: <the next case>``. The subject is evaluated once. The tests use
the structural helpers of :mod:`zygote_engine.primitives` (``is_sequence``, ``is_mapping``,
``mapping_rest``, ``positional_attribute``); the values bound are read with ordinary
subscripts and attributes, so gradients flow through them like through any other read.
"""

from __future__ import annotations

import ast
import copy

from zygote_engine.scopes import all_nodes

__all__ = ["without_matches"]


def without_matches(fn: ast.FunctionDef, namer, helpers: str) -> ast.FunctionDef:
    """``fn`` with every ``match`` statement replaced, in the functions nested in it too (a copy;
    ``fn`` itself when it has none).

    This runs before the variables that the function shares with others (globals, ``nonlocal``
    variables) are routed: a pattern that binds one becomes a plain assignment to it. ``namer``
    is the normaliser's ``Namer`` (fresh names), ``helpers`` the name normalised code gives
    :mod:`zygote_engine.primitives`.
    """
    if not any(isinstance(n, ast.Match) for n in all_nodes(fn)):
        return fn
    fn = copy.deepcopy(fn)
    fn.body = _desugar_matches(fn.body, namer, helpers)
    return fn


def _desugar_matches(body: list[ast.stmt], namer, helpers: str) -> list[ast.stmt]:
    """``body`` with every ``match`` statement replaced (in place)."""
    out = []
    for s in body:
        if isinstance(s, ast.Match):
            out += _Desugar(namer, helpers).match(s)
            continue
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(s, field, None), list):
                setattr(s, field, _desugar_matches(getattr(s, field), namer, helpers))
        for handler in getattr(s, "handlers", []):
            handler.body = _desugar_matches(handler.body, namer, helpers)
        out.append(s)
    return out


def _name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(name), args=list(args), keywords=[])


class _Desugar:
    def __init__(self, namer, helpers: str):
        self.namer, self.helpers = namer, helpers

    def helper(self, name: str, *args: ast.expr) -> ast.Call:
        func = ast.Attribute(value=_name(self.helpers), attr=name, ctx=ast.Load())
        return ast.Call(func=func, args=list(args), keywords=[])

    def match(self, s: ast.Match) -> list[ast.stmt]:
        subject = self.namer.fresh("subject")
        chain: list[ast.stmt] = []
        for case in reversed(s.cases):
            ok = self.namer.fresh("matched")
            test = self.pattern(case.pattern, _name(subject), ok)
            if case.guard is not None:
                guard = ast.Assign([_name(ok, True)], _call("bool", case.guard))
                test.append(ast.If(test=_name(ok), body=[guard], orelse=[]))
            body = _desugar_matches(case.body, self.namer, self.helpers)
            chain = [*test, ast.If(test=_name(ok), body=body, orelse=chain)]
            for stmt in chain:
                ast.copy_location(stmt, case.pattern)
        return [ast.copy_location(ast.Assign([_name(subject, True)], s.subject), s), *_at(chain, s)]

    def assign(self, target: str, value: ast.expr) -> ast.Assign:
        return ast.Assign([_name(target, True)], value)

    def then(self, ok: str, stmts: list[ast.stmt]) -> ast.If:
        """``if ok: stmts``: the next test runs only when everything so far matched."""
        return ast.If(test=_name(ok), body=stmts, orelse=[])

    def part(self, value: ast.expr, pattern: ast.pattern, ok: str) -> list[ast.stmt]:
        """Match ``pattern`` against ``value`` held in a fresh name (evaluated once)."""
        held = self.namer.fresh("part")
        return [self.assign(held, value), *self.pattern(pattern, _name(held), ok)]

    def pattern(self, p: ast.pattern, subject: ast.Name, ok: str) -> list[ast.stmt]:
        """Statements that set ``ok`` to whether ``subject`` matches ``p`` (and bind names)."""
        if isinstance(p, ast.MatchValue):
            compare = ast.Compare(left=subject, ops=[ast.Eq()], comparators=[p.value])
            return [self.assign(ok, compare)]
        if isinstance(p, ast.MatchSingleton):
            compare = ast.Compare(left=subject, ops=[ast.Is()], comparators=[ast.Constant(p.value)])
            return [self.assign(ok, compare)]
        if isinstance(p, ast.MatchAs):
            stmts = (
                [self.assign(ok, ast.Constant(True))]
                if p.pattern is None
                else self.pattern(p.pattern, subject, ok)
            )
            if p.name is not None:
                stmts.append(self.then(ok, [self.assign(p.name, subject)]))
            return stmts
        if isinstance(p, ast.MatchOr):
            stmts: list[ast.stmt] = [self.assign(ok, ast.Constant(False))]
            for alternative in p.patterns:
                attempt = self.pattern(alternative, subject, ok)
                test = ast.UnaryOp(op=ast.Not(), operand=_name(ok))
                stmts.append(ast.If(test=test, body=attempt, orelse=[]))
            return stmts
        if isinstance(p, ast.MatchSequence):
            return self.sequence(p, subject, ok)
        if isinstance(p, ast.MatchMapping):
            return self.mapping(p, subject, ok)
        if isinstance(p, ast.MatchClass):
            return self.class_pattern(p, subject, ok)
        raise AssertionError(f"patterns: unexpected pattern {type(p).__name__}")

    def sequence(self, p: ast.MatchSequence, subject: ast.Name, ok: str) -> list[ast.stmt]:
        star = next((i for i, q in enumerate(p.patterns) if isinstance(q, ast.MatchStar)), None)
        n = len(p.patterns)
        size = _call("len", subject)
        if star is None:
            length = ast.Compare(left=size, ops=[ast.Eq()], comparators=[ast.Constant(n)])
        else:
            length = ast.Compare(left=size, ops=[ast.GtE()], comparators=[ast.Constant(n - 1)])
        inner: list[ast.stmt] = []
        for i, q in reversed(list(enumerate(p.patterns))):
            if isinstance(q, ast.MatchStar):
                if q.name is None:
                    continue
                stop = ast.Constant(i - n + 1) if i < n - 1 else ast.Constant(None)
                rest = ast.Subscript(
                    value=subject,
                    slice=ast.Slice(lower=ast.Constant(i), upper=stop),
                    ctx=ast.Load(),
                )
                inner = [self.assign(q.name, _call("list", rest)), *inner]
                continue
            index = ast.Constant(i if star is None or i < star else i - n)
            item = ast.Subscript(value=subject, slice=index, ctx=ast.Load())
            inner = [*self.part(item, q, ok), *([self.then(ok, inner)] if inner else [])]
        stmts = [self.assign(ok, self.helper("is_sequence", subject))]
        stmts.append(
            self.then(ok, [self.assign(ok, length), *([self.then(ok, inner)] if inner else [])])
        )
        return stmts

    def mapping(self, p: ast.MatchMapping, subject: ast.Name, ok: str) -> list[ast.stmt]:
        inner: list[ast.stmt] = []
        if p.rest is not None:
            keys = ast.Tuple(elts=[copy.deepcopy(k) for k in p.keys], ctx=ast.Load())
            inner = [self.assign(p.rest, self.helper("mapping_rest", subject, keys))]
        for key, q in reversed(list(zip(p.keys, p.patterns))):
            present = ast.Compare(left=key, ops=[ast.In()], comparators=[subject])
            item = ast.Subscript(value=subject, slice=copy.deepcopy(key), ctx=ast.Load())
            found = [*self.part(item, q, ok), *([self.then(ok, inner)] if inner else [])]
            inner = [self.assign(ok, present), self.then(ok, found)]
        stmts = [self.assign(ok, self.helper("is_mapping", subject))]
        if inner:
            stmts.append(self.then(ok, inner))
        return stmts

    def class_pattern(self, p: ast.MatchClass, subject: ast.Name, ok: str) -> list[ast.stmt]:
        inner: list[ast.stmt] = []
        for attr, q in reversed(list(zip(p.kwd_attrs, p.kwd_patterns))):
            has = _call("hasattr", subject, ast.Constant(attr))
            value = ast.Attribute(value=subject, attr=attr, ctx=ast.Load())
            found = [*self.part(value, q, ok), *([self.then(ok, inner)] if inner else [])]
            inner = [self.assign(ok, has), self.then(ok, found)]
        for i, q in reversed(list(enumerate(p.patterns))):
            value = self.helper("positional_attribute", subject, p.cls, ast.Constant(i))
            inner = [*self.part(value, q, ok), *([self.then(ok, inner)] if inner else [])]
        stmts = [self.assign(ok, _call("isinstance", subject, p.cls))]
        if inner:
            stmts.append(self.then(ok, inner))
        return stmts


def _at(stmts: list[ast.stmt], where: ast.AST) -> list[ast.stmt]:
    """Give generated nodes without a position the position of ``where``."""
    for stmt in stmts:
        for node in ast.walk(stmt):
            if "lineno" in node._attributes and not hasattr(node, "lineno"):
                ast.copy_location(node, where)
    return stmts
