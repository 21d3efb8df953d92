"""The normal form computes what the original computes, using only the small statement set."""

from __future__ import annotations

import ast
import copy
import operator
import types

import pytest
from engine_corpus import CASES

from zygote_engine import primitives
from zygote_engine.module_state import NAMESPACE
from zygote_engine.normalize import HELPERS_NAME, OPERATOR_NAME, normalize
from zygote_engine.transform import prepared

_ALLOWED_STATEMENTS = (
    ast.Assign,
    ast.Expr,
    ast.If,
    ast.For,
    ast.While,
    ast.Try,
    ast.Return,
    ast.FunctionDef,
    ast.ClassDef,  # runs as written (see fence.py)
    ast.Raise,
    ast.Assert,
    ast.Delete,
    ast.Pass,
)
_FORBIDDEN = (
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Subscript,
    ast.ListComp,
    ast.GeneratorExp,
    ast.DictComp,
    ast.SetComp,
    ast.Break,
    ast.Continue,
    ast.AugAssign,
    ast.Tuple,
    ast.List,
    ast.Dict,
)


def _normal_form(f):
    src, namer = prepared(f)
    closure = dict(zip(f.__code__.co_freevars, f.__closure__ or ()))

    def is_module(name):
        value = closure[name].cell_contents if name in closure else f.__globals__.get(name)
        return isinstance(value, types.ModuleType)

    return normalize(src.node, is_module, namer), src


def _own_statements(body):
    for s in body:
        yield s
        if isinstance(s, (ast.If, ast.For, ast.While, ast.Try)):
            yield from _own_statements(s.body)
            yield from _own_statements(getattr(s, "orelse", []))
            yield from _own_statements(getattr(s, "finalbody", []))
            for handler in getattr(s, "handlers", []):
                yield from _own_statements(handler.body)


def _outside_lambdas(node):
    """The nodes of a statement, not entering lambdas (their bodies are normalised when called)."""
    if not isinstance(node, ast.Lambda):
        yield node
        for child in ast.iter_child_nodes(node):
            yield from _outside_lambdas(child)


@pytest.mark.parametrize(("f", "args"), CASES, ids=[f.__name__ for f, _ in CASES])
def test_normal_form_uses_only_the_small_statement_set(f, args):
    nf, _ = _normal_form(f)
    statements = list(_own_statements(nf.body))
    assert all(isinstance(s, _ALLOWED_STATEMENTS) for s in statements)
    assert sum(isinstance(s, ast.Return) for s in statements) == 1 and isinstance(
        nf.body[-1], ast.Return
    )
    for s in statements:
        if isinstance(s, (ast.FunctionDef, ast.ClassDef, ast.Raise, ast.Assert, ast.Try)):
            continue  # (a try's blocks are checked as statements; its exception types stay)
        assert not any(isinstance(n, _FORBIDDEN) for n in _outside_lambdas(s))
        assert s.lineno >= f.__code__.co_firstlineno


@pytest.mark.parametrize(("f", "args"), CASES, ids=[f.__name__ for f, _ in CASES])
def test_normal_form_computes_the_same_value(f, args):
    nf, src = _normal_form(f)
    nf.name = "normalized"
    if f.__code__.co_freevars:
        pytest.skip("closures cannot be re-created by exec")
    namespace = {**f.__globals__, OPERATOR_NAME: operator, HELPERS_NAME: primitives}
    namespace[NAMESPACE] = f.__globals__  # the globals that code assigns are the module's own
    exec(compile(ast.fix_missing_locations(ast.Module([nf], [])), src.filename, "exec"), namespace)
    expected = f(*copy.deepcopy(args))
    assert namespace["normalized"](*copy.deepcopy(args)) == pytest.approx(expected)
