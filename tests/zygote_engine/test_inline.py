"""Scalar code differentiated in place for Python numbers, with the call protocol as the fallback:
arithmetic operators, and calls of functions whose only rule comes from ``scalar_rule``.

Every gradient here is checked against finite differences or an analytic derivative, for operand
kinds that take the inline path (floats, ints) and kinds that must not (numpy scalars, arrays,
bools, complex numbers), including loops whose operands change kind between iterations.
"""

from __future__ import annotations

import math
import traceback
from math import sin

import numpy as np
import pytest
from fd_check import assert_gradient_matches_fd

from chainrules_core import NoTangent, rrule, scalar_rule
from zygote_engine import gradient, pullback, show_adjoint


def arithmetic(a, b):
    c = a * b - a / b
    d = -c + b
    return d * d / (1.0 + a * a)


@pytest.mark.parametrize(
    "a, b",
    [
        (1.5, -0.7),  # floats: the inline path
        (np.float64(1.5), np.float64(-0.7)),  # numpy scalars: the rules
        (np.array([1.5, 0.2]), np.array([-0.7, 2.0])),  # arrays: the rules
        (1.5, np.array([-0.7, 2.0])),  # mixed: the rules
    ],
)
def test_arithmetic_matches_finite_differences_on_every_kind_of_operand(a, b):
    if np.ndim(a) or np.ndim(b):
        assert_gradient_matches_fd(lambda a, b: np.sum(arithmetic(a, b)), a, b)
    else:
        assert_gradient_matches_fd(arithmetic, a, b)


def test_int_operands_give_float_gradients():
    da, db = gradient(lambda a, b: a * b + a - b, 3, 4)
    assert (da, db) == (5.0, 2.0)
    assert type(da) is float and type(db) is float


def test_bool_and_complex_operands_take_the_rules():
    # bool is not inlined: True * x goes through the rules, and the bool gets no gradient
    assert gradient(lambda flag, x: flag * x, True, 2.0) == (None, 1.0)
    (dz,) = gradient(lambda z: (z * z).real, 1.0 + 2.0j)
    assert dz == pytest.approx(2.0 - 4.0j)  # d/dz Re(z^2) in the dL/dRe + i dL/dIm convention


def loop_over_mixed_values(values, x):
    acc = 1.0
    for v in values:
        acc = acc * v + x
    return np.sum(acc)


def test_a_loop_whose_operands_change_kind_between_iterations():
    # acc is a float, then an array, then stays an array: inline and rule records share the tape
    assert_gradient_matches_fd(loop_over_mixed_values, [2.0, np.array([1.0, 3.0]), 0.5], 0.3)


def reassigned_operand(x):
    y = x
    for _ in range(3):
        y = y * y
        y *= x
    return y


def loop_variable_operand(x, weights):
    total = 0.0
    for w in weights:
        total = total + x * w
    return total


@pytest.mark.parametrize(
    "f, args",
    [(reassigned_operand, (1.1,)), (loop_variable_operand, (0.5, [1.0, -2.0, 3.0]))],
)
def test_operands_that_change_later_are_kept_for_the_backward_pass(f, args):
    assert_gradient_matches_fd(f, *args)


def test_a_captured_variable_rebound_after_the_forward_pass_does_not_leak_in():
    w = 2.0

    def f(x):
        return x * w

    _, back = pullback(f, 3.0)
    w = 100.0
    assert back(1.0) == (2.0,)


@pytest.mark.parametrize("power", [0, 1, 2, 3, -2])
def test_integer_literal_powers(power):
    f = {
        0: lambda x: x**0,
        1: lambda x: x**1,
        2: lambda x: x**2,
        3: lambda x: x**3,
        -2: lambda x: x**-2,
    }[power]
    assert gradient(f, 1.7) == (pytest.approx(power * 1.7 ** (power - 1)),)


def test_other_powers_take_the_rules():
    assert gradient(lambda x: x**2.5, 1.7) == (pytest.approx(2.5 * 1.7**1.5),)
    (dx, dy) = gradient(lambda x, y: x**y, 1.7, 3)
    assert dx == pytest.approx(3 * 1.7**2) and dy == pytest.approx(1.7**3 * np.log(1.7))


def divide(a, b):
    return a / b


def test_an_error_in_inline_arithmetic_names_the_user_line():
    with pytest.raises(ZeroDivisionError) as info:
        gradient(divide, 1.0, 0.0)
    frames = traceback.extract_tb(info.value.__traceback__)
    line = divide.__code__.co_firstlineno + 1
    assert any(fr.filename == __file__ and fr.lineno == line for fr in frames)


def test_generated_code_shows_the_inline_path_and_the_fallback():
    text = show_adjoint(divide)
    assert "if a.__class__ in __SCALARS and b.__class__ in __SCALARS:" in text
    assert "t1 = a / b" in text
    assert "__call2(__cx, __operator.truediv, a, b)" in text


# --- calls of functions with scalar partials ------------------------------------------------------


def math_functions(x, y):
    a = math.sin(x) * math.exp(-y) + math.log(x + 2.0) * math.tanh(y)
    b = math.atan2(y, x) + math.hypot(x, y) + sin(a)  # two arguments; an imported name
    return b + np.sin(x)  # a numpy ufunc on a float


@pytest.mark.parametrize("x, y", [(0.7, -0.4), (2, 1), (0.3, np.float64(0.5))])
def test_math_functions_match_finite_differences(x, y):
    assert_gradient_matches_fd(math_functions, float(x), float(y))
    (dx, dy) = gradient(math_functions, x, y)
    assert type(dx) is float and type(dy) is float


def sines(xs):
    total = 0.0
    for v in xs:
        total = total + math.sin(v) * v
    return total


def test_a_loop_of_calls_matches_the_analytic_gradient():
    xs = [0.1, 0.7, -1.3]
    (dxs,) = gradient(sines, xs)
    assert dxs == pytest.approx([math.cos(v) * v + math.sin(v) for v in xs])


def test_calls_on_arrays_take_the_rules():
    def f(a):
        return np.sum(np.sin(a) * np.exp(a))

    a = np.array([0.1, 0.5, -0.3])
    (da,) = gradient(f, a)
    np.testing.assert_allclose(da, np.exp(a) * (np.cos(a) + np.sin(a)))


def test_generated_code_asks_the_rule_table_at_run_time():
    text = show_adjoint(sines)
    assert "__PARTIALS.get(math.sin)" in text and "__call1(__cx, math.sin, v)" in text


def calls_a_replaced_function(x):
    return _replaceable(x) * 2.0


_replaceable = math.sin


def _triple(v):
    return 3.0 * v


def test_a_name_rebound_to_another_function_is_followed(monkeypatch):
    assert gradient(calls_a_replaced_function, 0.5) == (pytest.approx(2 * math.cos(0.5)),)
    monkeypatch.setitem(globals(), "_replaceable", math.cos)  # another scalar rule
    assert gradient(calls_a_replaced_function, 0.5) == (pytest.approx(-2 * math.sin(0.5)),)
    monkeypatch.setitem(globals(), "_replaceable", _triple)  # Python code, differentiated
    assert gradient(calls_a_replaced_function, 0.5) == (6.0,)


def cube_of(x):
    return _cube(x) + 1.0


def _cube(x):
    return x**3


def test_a_rule_registered_later_for_a_scalar_function_takes_effect():
    scalar_rule(_cube, lambda x, out: 3 * x * x)
    assert gradient(cube_of, 2.0) == (12.0,)
    rrule.add(_cube, (float,), lambda x: (_cube(x), lambda dy: (NoTangent(), 100.0 * dy)))
    assert gradient(cube_of, 2.0) == (100.0,)


def imaginary_part_plus(x):
    return np.imag(x) * 3.0 + x


def test_a_complex_partial_of_a_real_argument_is_projected_to_a_real_cotangent():
    (dx,) = gradient(imaginary_part_plus, 2.0)  # np.imag's partial is 1j: the real part is 0
    assert dx == 1.0 and type(dx) is float


def _doubled_through(fn):
    def g(x):
        return np.sum(fn(x) * 2.0)

    return g


@pytest.mark.parametrize(
    "fn, derivative",
    [(np.sin, np.cos), (np.tanh, lambda x: 1 - np.tanh(x) ** 2), (np.sum, np.ones_like)],
    ids=["sin", "tanh", "sum"],
)
def test_a_captured_callee_with_an_inline_adjoint(fn, derivative):
    # a captured function may be a closure, so it gets a cotangent slot of its own; the inline
    # paths, which write none, are not taken for it (they left that slot unbound)
    x = np.array([0.3, -1.2])
    (dx,) = gradient(_doubled_through(fn), x)
    np.testing.assert_allclose(dx, 2.0 * derivative(x), rtol=1e-12)
    (d,) = gradient(_doubled_through(math.sin), 0.4)
    assert d == pytest.approx(2.0 * math.cos(0.4), rel=1e-12)
