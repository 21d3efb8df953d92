"""The examples of Zygote's README and docs, translated to Python."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
import pytest

from chainrules_core import Tangent
from zygote_engine import gradient, withgradient


def test_affine_function_has_constant_gradient():
    assert gradient(lambda x: 5 * x + 3, 2.0) == (5.0,)


def test_polynomial_gradient_at_five():
    assert gradient(lambda x: 3 * x**2 + 2 * x + 1, 5.0) == (32.0,)


def test_product_gradient_is_swapped_arguments():
    assert gradient(lambda a, b: a * b, 2.0, 3.0) == (3.0, 2.0)


def pow_loop(x, n):
    r = 1.0
    for _ in range(n):
        r *= x
    return r


def pow_recursive(x, n):
    if n <= 0:
        return 1.0
    return x * pow_recursive(x, n - 1)


@pytest.mark.parametrize("power", [pow_loop, pow_recursive])
def test_power_by_loop_and_by_recursion(power):
    assert gradient(power, 5.0, 3) == (75.0, None)


d = {}


def store_and_square(x):
    d["x"] = x
    return d["x"] * d["x"]


def test_global_dict_mutation_gives_gradient_and_keeps_the_value():
    assert gradient(store_and_square, 5.0) == (10.0,)
    assert d["x"] == 5


@dataclass
class Point:
    x: float
    y: float


def dist(p):
    return math.sqrt(p.x**2 + p.y**2)


def test_dataclass_gradient_is_a_tangent_of_point():
    (g,) = gradient(dist, Point(1.0, 2.0))
    assert isinstance(g, Tangent) and g.primal_type is Point
    assert g.x == pytest.approx(1 / math.sqrt(5)) and g.y == pytest.approx(2 / math.sqrt(5))


def test_parameter_dict_gradient_is_a_dict():
    theta = {"a": 17.0, "b": 23.0}
    dx, dtheta = gradient(lambda x, θ: θ["a"] * x + θ["b"], 2.0, theta)
    assert dx == 17.0
    assert dtheta == {"a": 2.0, "b": 1.0}


class Linear:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return self.W @ x + self.b


def test_callable_linear_model_gradient_reaches_its_fields():
    rng = np.random.default_rng(0)
    model = Linear(rng.normal(size=(2, 3)), rng.normal(size=2))
    x = rng.normal(size=3)
    (g,) = gradient(lambda m: np.sum(m(x)), model)
    np.testing.assert_allclose(g.W, np.tile(x, (2, 1)))
    np.testing.assert_allclose(g.b, np.ones(2))


def test_withgradient_of_operator_truediv():
    result = withgradient(operator.truediv, 1, 2)
    assert result == (0.5, (0.5, -0.25))
    assert result.val == 0.5 and result.grad == (0.5, -0.25)
