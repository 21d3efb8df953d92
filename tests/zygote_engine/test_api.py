"""The public functions' conventions: result shapes and types, pullback, derivative, show_adjoint."""

from __future__ import annotations

import numpy as np
import pytest

from zygote_engine import derivative, gradient, pullback, show_adjoint, withgradient


def test_one_gradient_per_argument_and_none_without_gradient():
    assert gradient(lambda x, n, s: x * 3.0 if n > 0 and s else x, 2.0, 3, "s") == (3.0, None, None)


def test_integer_argument_used_as_number_gets_float_gradient():
    (g,) = gradient(lambda x: x * x, 3)
    assert g == 6.0 and isinstance(g, float)


def test_array_gradient_has_shape_and_float_dtype():
    a = np.ones((2, 3), dtype=np.float32)
    (g,) = gradient(lambda a: np.sum(a * 2.0), a)
    assert g.shape == (2, 3) and g.dtype == np.float32


def test_list_gradient_is_list_with_none_for_unused_items():
    (g,) = gradient(lambda xs: xs[0] * 2.0, [1.0, 2.0])
    assert g == [2.0, None]


def test_tuple_gradient_is_tuple():
    (g,) = gradient(lambda t: t[0] * t[1], (2.0, 3.0))
    assert g == (3.0, 2.0)


def test_dict_gradient_has_same_keys_with_none():
    (g,) = gradient(lambda d: d["a"] * 3.0, {"a": 1.0, "b": 2.0})
    assert g == {"a": 3.0, "b": None}


def test_unused_argument_gives_none():
    assert gradient(lambda x, y: x * 2.0, 1.0, 5.0) == (2.0, None)


def test_pullback_back_can_be_called_several_times():
    def f(x, y):
        total = 0.0
        for i in range(3):
            total = total + x * y * i
        return total

    y, back = pullback(f, 2.0, 3.0)
    assert y == 18.0
    assert back(1.0) == (9.0, 6.0)
    assert back(2.0) == (18.0, 12.0)


def test_withgradient_returns_value_and_gradient():
    result = withgradient(lambda x: x**2, 3.0)
    assert result.val == 9.0 and result.grad == (6.0,)


def test_derivative_of_value_and_as_function():
    assert derivative(lambda x: x**3, 2.0) == 12.0
    assert derivative(lambda x: x**3)(1.0) == 3.0


def test_derivative_of_constant_function_is_zero():
    assert derivative(lambda x: 1.0, 2.0) == 0.0


def test_show_adjoint_is_readable_python_with_user_names():
    def scaled_square(value, scale):
        y = value * value
        return y * scale

    text = show_adjoint(scaled_square, 1.0, 2.0)
    assert "def scaled_square__forward(__cx, value, scale):" in text
    assert "def scaled_square__backward(" in text
    assert "dvalue" in text and "dscale" in text
    compile(text, "<adjoint>", "exec")


def test_closure_gradient_reaches_captured_variable():
    def outer(w):
        def f(x):
            return w * x

        return gradient(f, 3.0)

    (g,) = outer(2.0)
    assert g == 2.0


def test_pullback_gives_function_tangent_with_captured_fields():
    from zygote_engine.config import ZygoteRuleConfig
    from zygote_engine.runtime import call

    w = 2.0

    def f(x):
        return w * x

    _, back = call(ZygoteRuleConfig(), f, 3.0)
    df, dx = back(1.0)
    assert df.w == 3.0 and dx == 2.0


@pytest.mark.parametrize("dy", [1.0, -2.0])
def test_pullback_of_vector_output(dy):
    _, back = pullback(lambda a: a * 2.0, np.array([1.0, 2.0]))
    (g,) = back(np.full(2, dy))
    np.testing.assert_allclose(g, np.full(2, 2.0 * dy))
