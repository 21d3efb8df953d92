"""Forward mode: ``jvp`` and ``pushforward`` against finite-difference directional derivatives."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from engine_corpus import CASES, Affine
from fd_check import fd_gradient

from chainrules_core import ProjectTo, Tangent
from zygote_engine import jvp, pushforward


def _random_tangent(x, rng):
    """A random tangent with the structure of ``x`` (ints and strings get ``None``)."""
    if isinstance(x, (bool, int, np.integer, str)) or x is None:
        return None
    if isinstance(x, (float, np.floating)):
        return float(rng.standard_normal())
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape) if x.dtype.kind == "f" else None
    if isinstance(x, tuple) and hasattr(type(x), "_fields"):
        return type(x)(*(_random_tangent(v, rng) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_random_tangent(v, rng) for v in x)
    if isinstance(x, dict):
        return {k: _random_tangent(v, rng) for k, v in x.items()}
    fields = {k: _random_tangent(v, rng) for k, v in vars(x).items()}
    return Tangent(type(x), **{k: v for k, v in fields.items() if v is not None})


def _leaf(t, path):
    """The tangent ``t`` at a leaf path (``None`` and missing fields are zero)."""
    for kind, key in path:
        if t is None:
            return 0.0
        if kind == "array":
            return float(np.asarray(t)[key])
        t = getattr(t, key) if kind == "attr" else t[key]
    return 0.0 if t is None else float(t)


@pytest.mark.parametrize(("f", "args"), CASES, ids=[f.__name__ for f, _ in CASES])
def test_jvp_matches_directional_finite_differences(f, args):
    rng = np.random.default_rng(0)
    tangents = tuple(_random_tangent(a, rng) for a in args)
    expected = sum(
        value * _leaf(tangents[i], path)
        for i, partials in enumerate(fd_gradient(f, *args))
        for path, value in partials.items()
    )
    y, dy = jvp(f, copy.deepcopy(args), tangents)
    assert np.isclose(float(y), float(f(*copy.deepcopy(args))))
    assert np.isclose(float(dy), expected, rtol=1e-5, atol=1e-6), (dy, expected)


def _fd(f, primals, tangents, eps=1e-6):
    """Central-difference directional derivative of ``f`` (floats and float arrays only)."""
    plus = f(*(x + eps * t for x, t in zip(primals, tangents)))
    minus = f(*(x - eps * t for x, t in zip(primals, tangents)))
    return (np.asarray(plus) - np.asarray(minus)) / (2 * eps)


def _sin_in_place(x):
    x = math.sin(x)
    return x


def _atan2_in_place(x):
    y = 0.3
    x = math.atan2(x, y)
    return x


@pytest.mark.parametrize(
    ("f", "derivative"),
    [
        (_sin_in_place, math.cos),
        (_atan2_in_place, lambda x: 0.3 / (x * x + 0.09)),  # y / (x^2 + y^2)
    ],
)
def test_a_scalar_function_assigned_to_its_own_argument_is_differentiated_at_the_argument(
    f, derivative
):
    # the inlined partials were taken at the new value of x (cos(sin 0.5), not cos 0.5)
    assert jvp(f, (0.5,), (1.0,))[1] == pytest.approx(derivative(0.5), rel=1e-12)


def test_array_output_tangent_has_the_output_shape():
    a = np.arange(6.0).reshape(2, 3) / 7
    v = np.linspace(-1.0, 1.0, 6).reshape(2, 3)

    def f(a):
        return np.tanh(a @ a.T) * 2.0

    _, dy = jvp(f, (a,), (v,))
    assert dy.shape == (2, 2)
    np.testing.assert_allclose(dy, _fd(f, (a,), (v,)), rtol=1e-6, atol=1e-8)


def test_untouched_output_gets_zeros_of_its_shape_and_float_zero():
    _, dy = jvp(lambda x, c: c * 1.0, (1.0, np.ones(3)), (1.0, None))
    np.testing.assert_array_equal(dy, np.zeros(3))
    assert jvp(lambda x: 5.0, (1.0,), (1.0,)) == (5.0, 0.0)


def test_structured_outputs_map_item_by_item():
    def f(x):
        return [x, 2.0 * x], {"sq": x * x, "n": 3}, (x, "label")

    _, dy = jvp(f, (3.0,), (1.0,))
    assert dy == ([1.0, 2.0], {"sq": 6.0, "n": None}, (1.0, None))


def test_pushforward_is_the_jvp_along_each_tangent():
    df = pushforward(lambda x, y: np.sin(x) * y, 0.5, 2.0)
    assert np.isclose(df(1.0, 0.0), 2.0 * np.cos(0.5))
    assert np.isclose(df(0.0, 1.0), np.sin(0.5))


def test_keyword_arguments_defaults_and_varargs_carry_tangents():
    def scaled(x, scale=2.0, *, power=2):
        return scale * x**power

    def total(*xs, **weights):
        return sum(w * x for x, w in zip(xs, weights.values()))

    def f(x, w):
        return scaled(x, scale=w) + scaled(x, power=3) + total(x, w, a=w, b=x)

    primals, tangents = (1.5, 0.7), (0.3, -1.1)
    _, dy = jvp(f, primals, tangents)
    assert np.isclose(dy, _fd(f, primals, tangents))


def test_closure_sees_the_tangent_its_variable_has_when_it_runs():
    def f(x):
        y = x
        g = lambda z: z * y  # noqa: E731 - the late binding is the point
        y = x * x
        return g(1.0)

    assert np.isclose(jvp(f, (3.0,), (1.0,))[1], 6.0)


def test_recursion_and_mutual_recursion():
    def power(x, n):
        return 1.0 if n == 0 else x * power(x, n - 1)

    assert np.isclose(jvp(power, (1.3, 6), (1.0, None))[1], 6 * 1.3**5)


class Squared(Affine):
    def __call__(self, x):
        return super().__call__(x) ** 2

    @property
    def slope(self):
        return self.w


def test_objects_methods_properties_and_inheritance():
    def f(w, x):
        layer = Squared(w, 1.0)
        layer.b = layer.b + w
        return layer(x) + layer.slope

    primals, tangents = (0.8, 1.7), (1.0, 0.5)
    assert np.isclose(jvp(f, primals, tangents)[1], _fd(f, primals, tangents))


STATE = {"history": []}


def test_mutation_of_a_global_container_keeps_tangents_with_the_items():
    def f(x):
        STATE["history"].append(x * 2.0)
        STATE["history"].insert(0, x)
        last = STATE["history"].pop()
        return last * STATE["history"][-1]

    STATE["history"] = []
    assert jvp(f, (3.0,), (1.0,)) == (18.0, 12.0)  # 2x * x
    assert STATE["history"] == [3.0]
    assert jvp(f, (3.0,), (1.0,)) == (18.0, 6.0)  # 2x * 3.0, the first call's x a constant now


def test_list_argument_mutated_in_place():
    def f(xs):
        xs[0] = xs[0] * xs[1]
        xs.extend([xs[0], 2.0])
        return sum(xs)

    y, dy = jvp(f, ([2.0, 3.0],), ([1.0, 0.5],))
    # f = 2 * x0 * x1 + x1 + 2
    assert y == 2 * 2.0 * 3.0 + 3.0 + 2.0
    assert np.isclose(dy, 2 * (1.0 * 3.0 + 2.0 * 0.5) + 0.5)


def test_tangent_count_and_shape_are_checked():
    with pytest.raises(ValueError, match="one tangent per primal"):
        jvp(lambda x, y: x, (1.0, 2.0), (1.0,))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        jvp(np.sum, (np.ones(3),), (np.ones(2),))


def test_compiled_function_without_a_rule_names_the_line_and_the_fix():
    import math

    def f(x):
        return math.gamma(x) + _opaque(np.array([x]))

    from zygote_engine import MissingRuleError

    with pytest.raises(
        MissingRuleError, match=r"(?s)test_forward.py:\d+: no frule for .*frule\.register"
    ):
        jvp(f, (1.5,), (1.0,))


_opaque = np.frompyfunc(lambda v: v, 1, 1)


def test_in_place_operators_on_numbers_still_differentiate():
    def f(x):
        y = x
        y += x
        y *= x
        return y  # 2 x²

    assert jvp(f, (3.0,), (1.0,)) == (18.0, 12.0)


class _Model:
    pass


_MODEL = _Model()
_X0 = np.array([0.5, -1.0])


def _loss_of_the_global_model(x):
    return np.sum(_MODEL.W * x**2)


def _set_then_call(w):
    _MODEL.W = w
    return _loss_of_the_global_model(_X0)  # constant arguments: the tangent is in the state


def test_code_called_with_constants_sees_the_tangent_of_state_this_pass_set():
    # d/dw sum(w x0²) along e0 = x0[0]² = 0.25 (it was 0: the call ran plainly)
    _, dy = jvp(_set_then_call, (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    assert dy == 0.25


def _items_by_bound_method(a, b):
    d = {0: a, 1: b}
    items = list(map(d.get, range(2)))
    return items[0] * 2.0 + items[1]


def test_a_bound_method_passed_as_an_argument_carries_its_receivers_tangent():
    # map(d.get, keys): d's items' tangents are in the table, reached through the method (it
    # ran plainly, and gave 0.0)
    assert jvp(_items_by_bound_method, (1.0, 2.0), (1.0, 1.0)) == (4.0, 3.0)
    assert jvp(_items_by_bound_method, (1.0, 2.0), (0.0, 1.0)) == (4.0, 1.0)


def _first_of_projected_list(a, project):
    return np.sum(project([a, 2.0 * a])[0] * 3.0)


def test_a_projection_of_a_list_keeps_its_items_tangents():
    # (the pullbacks that project a list of cotangents, multi_dot's, differentiated again)
    x = np.array([1.0, -2.0])
    project = ProjectTo([x, x])
    _, dy = jvp(lambda a: _first_of_projected_list(a, project), (x,), (np.array([1.0, 1.0]),))
    assert dy == 6.0


def _affine_power(x):
    return 1.0 - 2.0 * x**3 / 4.0


@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.float32, np.float64)])
def test_array_arithmetic_with_literal_numbers_is_written_out_and_exact(dtypes):
    # d/dx (1 - x³/2) = -3x²/2 (written out for an array tangent of the array's dtype; the
    # protocol, which projects, for any other)
    x = np.array([0.5, -1.0, 2.0], dtype=dtypes[0])
    dx = np.array([1.0, 2.0, -1.0], dtype=dtypes[1])
    y, dy = jvp(_affine_power, (x,), (dx,))
    np.testing.assert_allclose(y, 1.0 - x**3 / 2, rtol=1e-6)
    np.testing.assert_allclose(dy, -1.5 * x.astype(np.float64) ** 2 * dx, rtol=1e-6)
    assert dy.dtype == x.dtype
