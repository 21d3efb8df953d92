"""Stage 1, finding a lambda's source: several lambdas on one line must each get their own body.

Several tests deliberately put two or three lambdas with the same parameters on one line; the
engine must differentiate the one it was given, not the first one on the line. The expected values
are the analytic derivatives.
"""

from __future__ import annotations

import ast
import math
import textwrap
import types

import pytest

from zygote_engine import UnsupportedConstructError, gradient, jvp
from zygote_engine.source import _match_by_bytecode, get_source

# ruff: noqa: E731 - lambdas assigned to names are the subject of these tests


def _body(fn) -> str:
    """The returned expression of the ``def`` that ``get_source`` made of a lambda."""
    return ast.unparse(get_source(fn).node.body[0].value)


# --- reverse mode ----------------------------------------------------------------------------------


def test_two_lambdas_differing_in_closure_use_and_constant():
    c = 2.0
    first, second = gradient(lambda x: x * 3.0 * c, 1.0), gradient(lambda x: x * x * c, 1.0)
    assert first == (6.0,)
    assert second == (4.0,)  # d/dx c x^2 = 2 c x


def test_three_lambdas_differing_in_closure_variables():
    c, d = 2.0, 5.0
    fs = [lambda x: x * c, lambda x: x * d, lambda x: x * x * c * d]
    assert [gradient(f, 3.0) for f in fs] == [(2.0,), (5.0,), (60.0,)]  # c, d, 2 x c d


def test_lambdas_differing_only_in_constants():
    fs = (lambda x: x * 2.0, lambda x: x * 3.0, lambda x: x * 4.0)
    assert [gradient(f, 1.0) for f in fs] == [(2.0,), (3.0,), (4.0,)]


def test_lambdas_differing_only_in_attribute_names():
    x0 = 0.5
    fs = [lambda x: math.sin(x), lambda x: math.cos(x), lambda x: math.exp(x)]
    grads = [gradient(f, x0)[0] for f in fs]
    assert grads == pytest.approx([math.cos(x0), -math.sin(x0), math.exp(x0)])


def test_lambdas_reading_different_attributes_of_a_closure_object():
    p = types.SimpleNamespace(a=2.0, b=7.0)
    fs = [lambda x: x * p.a, lambda x: x * p.b]
    assert [gradient(f, 1.0) for f in fs] == [(2.0,), (7.0,)]


def test_module_level_lambdas_on_one_line():
    assert [gradient(f, 2.0) for f in _MODULE_LAMBDAS] == [(1.0,), (4.0,)]  # 1, 2 x


_MODULE_LAMBDAS = [lambda x: x + 1.0, lambda x: x * x]


def test_lambda_nested_in_a_lambda_with_the_same_parameter():
    c = 3.0
    outer = lambda x: (lambda x: x * c)(x) * x + (lambda x: x)(x)
    assert gradient(outer, 2.0) == (2 * 3.0 * 2.0 + 1.0,)  # d/dx (c x^2 + x) = 2 c x + 1


def test_lambdas_with_defaults():
    c, d = 2.0, 5.0
    fs = [lambda x, a=c: x * a, lambda x, a=d: x * x * a]
    assert gradient(fs[0], 3.0) == (2.0,)
    assert gradient(fs[1], 3.0) == (30.0,)  # 2 x d


def test_lambdas_made_in_comprehensions():
    # Each lambda captures its comprehension's variable k (one value each: no late binding).
    fs = [lambda x: x * k for k in (3.0,)] + [lambda x: x * x * k for k in (5.0,)]  # noqa: B023
    assert [gradient(f, 1.0) for f in fs] == [(3.0,), (10.0,)]
    gs = [lambda x, k=k: x * k for k in (2.0, 3.0)] + [lambda x, k=k: x * x * k for k in (5.0,)]
    assert [gradient(g, 1.0) for g in gs] == [(2.0,), (3.0,), (10.0,)]


def test_lambdas_passed_as_keyword_arguments():
    c = 2.0
    table = dict(lin=lambda x: x * c, quad=lambda x: x * x * c)
    assert gradient(table["lin"], 3.0) == (2.0,)
    assert gradient(table["quad"], 3.0) == (12.0,)  # 2 c x
    order = sorted([3.0, 1.0, 2.0], key=lambda v: -v)
    assert order == [3.0, 2.0, 1.0]
    assert gradient(lambda x: sum(sorted([x, 2 * x], key=lambda v: -v)), 1.0) == (3.0,)


def test_lambda_spanning_several_lines():
    c = 2.0
    fs = (lambda x: x * c, lambda x: (x * x
                                      * c))  # fmt: skip
    assert gradient(fs[0], 3.0) == (2.0,)
    assert gradient(fs[1], 3.0) == (12.0,)


def test_textually_identical_lambdas_are_interchangeable():
    c = 2.0
    fs = [lambda x: x * c, lambda x: x * c]
    assert [gradient(f, 1.0) for f in fs] == [(2.0,), (2.0,)]


# --- forward mode ----------------------------------------------------------------------------------


def test_jvp_two_lambdas_on_one_line():
    c = 2.0
    t = (1.0,)
    first, second = jvp(lambda x: x * 3.0 * c, t, t), jvp(lambda x: x * x * c, t, t)
    assert first == (6.0, 6.0)
    assert second == (2.0, 4.0)


def test_jvp_three_lambdas_on_one_line():
    c, d = 2.0, 5.0
    fs = [lambda x: x * c, lambda x: x * d, lambda x: x * x * c * d]
    assert [jvp(f, (3.0,), (1.0,)) for f in fs] == [(6.0, 2.0), (15.0, 5.0), (90.0, 60.0)]


def test_jvp_lambdas_differing_in_constants_and_attributes():
    x0 = 0.5
    fs = [lambda x: x * 2.0, lambda x: x * 3.0, lambda x: math.sin(x), lambda x: math.cos(x)]
    results = [jvp(f, (x0,), (2.0,)) for f in fs]
    assert results[0] == (1.0, 4.0)
    assert results[1] == (1.5, 6.0)
    assert results[2] == pytest.approx((math.sin(x0), 2.0 * math.cos(x0)))
    assert results[3] == pytest.approx((math.cos(x0), -2.0 * math.sin(x0)))


def test_jvp_nested_lambda_with_the_same_parameter():
    c = 3.0
    outer = lambda x: (lambda x: x * c)(x) * x
    assert jvp(outer, (2.0,), (1.0,)) == (12.0, 12.0)  # c x^2, 2 c x


# --- the matching itself ---------------------------------------------------------------------------


class _Private:
    def __init__(self):
        self.__a, self.__b = 1.0, 2.0

    def lambdas(self):
        return [lambda x: x * self.__a, lambda x: x * self.__b]

    def supers(self):
        return [lambda x: super(_Private, self).__hash__(), lambda x: super().__hash__()]


def test_source_of_lambdas_in_methods():
    # Private names are mangled and zero-argument super() reads __class__: the candidates are
    # compiled inside a class so that they compile alike.
    assert [_body(f) for f in _Private().lambdas()] == ["x * self.__a", "x * self.__b"]
    assert [_body(f) for f in _Private().supers()] == [
        "super(_Private, self).__hash__()",
        "super().__hash__()",
    ]


def test_source_of_signed_zeros():
    fs = [lambda x: x * -0.0, lambda x: x * 0.0]  # equal constants, different code
    assert [_body(f) for f in fs] == ["x * -0.0", "x * 0.0"]


def test_source_of_inner_lambdas():
    c, made = 2.0, []
    outer = lambda x: made.append(lambda x: x * c) or made.append(lambda x: x + c) or x
    outer(1.0)
    assert _body(outer) == "made.append(lambda x: x * c) or made.append(lambda x: x + c) or x"
    assert [_body(f) for f in made] == ["x * c", "x + c"]


def _lambdas_of(source: str) -> list[ast.Lambda]:
    tree = ast.parse(source)
    return [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)]


_SOURCE_OF_TWO = "fs = [lambda x: x * 2.0, lambda x: x + 2.0]\n"


def test_match_by_bytecode_returns_none_when_nothing_compiles_alike():
    candidates = _lambdas_of(_SOURCE_OF_TWO)
    unrelated = (lambda x: x - 2.0).__code__
    assert _match_by_bytecode(candidates, unrelated) is None
    namespace: dict = {}
    exec(compile(_SOURCE_OF_TWO, "<two>", "exec"), namespace)
    assert _match_by_bytecode(candidates, namespace["fs"][1].__code__) is candidates[1]
    assert _match_by_bytecode(candidates, namespace["fs"][0].__code__) is candidates[0]


def test_unidentifiable_lambda_raises_instead_of_guessing():
    # The code of an unrelated lambda, relocated to a line holding two other lambdas with the same
    # parameters: neither compiles to it, and picking the first would differentiate the wrong body.
    line = _TWO_ON_A_LINE_LINENO
    code = (lambda x: x - 2.0).__code__.replace(co_firstlineno=line)
    impostor = types.FunctionType(code, globals())
    with pytest.raises(UnsupportedConstructError) as error:
        get_source(impostor)
    message = str(error.value)
    assert f"{__file__}:{line}" in message
    assert "separate lines" in message
    assert "`def`" in message
    with pytest.raises(UnsupportedConstructError):
        gradient(impostor, 1.0)


_TWO_ON_A_LINE = [lambda x: x * 2.0, lambda x: x + 2.0]
_TWO_ON_A_LINE_LINENO = _TWO_ON_A_LINE[0].__code__.co_firstlineno


# --- a def's extent, found by indentation (inspect.getblock where that is not enough) ---------


# fmt: off
def _one_line(x): return x * 2.0  # a one-line def, followed by another def
# fmt: on


def _after_one_line(x):
    return x * 3.0


def _long_signature(
    x,
    y=1.0,
):
    return x * y


def _string_at_column_zero(x):
    label = """a label
that continues at column 0"""
    return x * len(label)


# fmt: off
def _continued_expression(x):
    y = (x *
2.0)  # a continuation line less indented than the body
    return y
# fmt: on


def _twice(fn):
    return fn


@_twice
@_twice
def _decorated(x):
    return x * 5.0


@pytest.mark.parametrize(
    "fn",
    [
        _one_line,
        _after_one_line,
        _long_signature,
        _string_at_column_zero,
        _continued_expression,
        _decorated,
    ],
)
def test_a_definitions_source_is_its_whole_def_on_its_lines(fn):
    node = get_source(fn).node
    found = ast.parse(ast.unparse(node)).body[0]
    import inspect

    lines, first = inspect.getsourcelines(fn.__code__)
    expected = ast.parse(textwrap.dedent("".join(lines))).body[0]
    expected.decorator_list = []
    assert ast.dump(found) == ast.dump(expected)
    body_lines = [s.lineno for s in node.body]
    expected_lines = [s.lineno + first - 1 for s in expected.body]
    assert body_lines == expected_lines


def test_definitions_found_by_indentation_differentiate():
    assert gradient(_one_line, 1.0) == (2.0,)
    assert gradient(_long_signature, 3.0, 2.0) == (2.0, 3.0)
    assert gradient(_string_at_column_zero, 1.0) == (
        float(len("a label\nthat continues at column 0")),
    )
    assert gradient(_continued_expression, 1.0) == (2.0,)
    assert gradient(_decorated, 1.0) == (5.0,)
