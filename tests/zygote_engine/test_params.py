"""Implicit parameters: ``gradient(loss, Params([...]))`` and the ``Grads`` it returns.

Every expected gradient is analytic or central finite differences over the parameter arrays,
never the engine's own output.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import scipy.optimize

from zygote_engine import (
    Grads,
    NonScalarOutputError,
    Params,
    gradient,
    pullback,
    withgradient,
)
from zygote_engine.params import params_pullback

_rng = np.random.default_rng(7)
# module globals that losses below read directly
W_GLOBAL = _rng.standard_normal((3, 2))
B_GLOBAL = _rng.standard_normal(3)
X_GLOBAL = _rng.standard_normal(2)


def fd_grads(loss, params, eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences of the argument-free ``loss`` for each array parameter, in place."""
    grads = []
    for p in params:
        g = np.zeros(p.shape)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = float(loss())
            p[i] = old - eps
            down = float(loss())
            p[i] = old
            g[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def assert_matches_fd(loss, params: list, gs: Grads) -> None:
    for p, expected in zip(params, fd_grads(loss, params)):
        assert gs[p].shape == p.shape
        np.testing.assert_allclose(gs[p], expected, rtol=1e-6, atol=1e-8)


class Layer:
    def __init__(self, n_out: int, n_in: int):
        self.W = _rng.standard_normal((n_out, n_in))
        self.b = _rng.standard_normal(n_out)

    def __call__(self, x):
        return np.tanh(self.W @ x + self.b)


class Chain:
    def __init__(self, *layers: Layer):
        self.layers = list(layers)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


# -- where the parameters are found --


def test_flux_documentation_example():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([5.0, 6.0])
    z = np.array([7.0, 8.0])
    gs = gradient(lambda: np.sum(x * y[:, None] * z[None, :]), Params([x, y]))
    np.testing.assert_allclose(gs[x], np.outer(y, z))  # [[35, 40], [42, 48]]
    np.testing.assert_allclose(gs[y], x @ z)  # [23, 53]
    assert z not in gs
    with pytest.raises(KeyError):
        gs[z]


def test_the_readme_example_with_module_globals():
    def loss():
        return np.sum(np.tanh(W_GLOBAL @ X_GLOBAL + B_GLOBAL) ** 2)

    gs = gradient(loss, Params([W_GLOBAL, B_GLOBAL]))
    t = np.tanh(W_GLOBAL @ X_GLOBAL + B_GLOBAL)
    db = 2 * t * (1 - t**2)  # analytic
    np.testing.assert_allclose(gs[B_GLOBAL], db)
    np.testing.assert_allclose(gs[W_GLOBAL], np.outer(db, X_GLOBAL))


def test_closure_cells_and_nested_closures():
    def make_loss():
        V = _rng.standard_normal((2, 2))
        c = _rng.standard_normal(2)

        def inner():
            return np.sum(np.sin(V @ c))

        def loss():
            return inner() * np.sum(c**2)

        return loss, V, c

    loss, V, c = make_loss()
    assert_matches_fd(loss, [V, c], gradient(loss, Params([V, c])))


def test_object_attributes_through_call():
    layer = Layer(3, 2)
    x = _rng.standard_normal(2)

    def loss():
        return np.sum(layer(x) ** 2)

    assert_matches_fd(loss, [layer.W, layer.b], gradient(loss, Params([layer.W, layer.b])))


def test_nested_objects_and_a_list_of_layers():
    model = Chain(Layer(4, 3), Layer(2, 4), Layer(1, 2))
    x = _rng.standard_normal(3)
    params = [a for layer in model.layers for a in (layer.W, layer.b)]

    def loss():
        return np.sum(model(x))

    assert_matches_fd(loss, params, gradient(loss, Params(params)))


def test_callable_object_and_bound_method_as_the_loss():
    class Quadratic:
        def __init__(self):
            self.w = np.array([1.0, -2.0, 3.0])

        def __call__(self):
            return np.sum(self.w**2)

        def cubic(self):
            return np.sum(self.w**3)

    q = Quadratic()
    np.testing.assert_allclose(gradient(q, Params([q.w]))[q.w], 2 * q.w)
    np.testing.assert_allclose(gradient(q.cubic, Params([q.w]))[q.w], 3 * q.w**2)


def test_dict_items():
    weights = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, -1.0])}
    gs = gradient(lambda: np.sum(weights["a"] * weights["b"] ** 2), Params(weights.values()))
    np.testing.assert_allclose(gs[weights["a"]], weights["b"] ** 2)
    np.testing.assert_allclose(gs[weights["b"]], 2 * weights["a"] * weights["b"])


def test_list_items_read_by_index_and_by_iteration():
    ws = [np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([2.0, 2.0])]

    def loss():
        total = np.sum(ws[0] * ws[1])
        for w in ws:
            total = total + np.sum(w**2)
        return total

    gs = gradient(loss, Params(ws))
    np.testing.assert_allclose(gs[ws[0]], ws[1] + 2 * ws[0])
    np.testing.assert_allclose(gs[ws[1]], ws[0] + 2 * ws[1])
    np.testing.assert_allclose(gs[ws[2]], 2 * ws[2])


def test_arrays_in_a_tuple_attribute():
    class Pair:
        def __init__(self):
            self.ws = (np.array([1.0, 2.0]), np.array([3.0, 4.0]))

    pair = Pair()
    w0, w1 = pair.ws
    gs = gradient(lambda: np.sum(pair.ws[0] * pair.ws[1]), Params([w0, w1]))
    np.testing.assert_allclose(gs[w0], w1)
    np.testing.assert_allclose(gs[w1], w0)


def test_parameter_reached_through_global_and_attribute_adds_up():
    holder = Layer(3, 2)
    holder.W = W_GLOBAL  # the same array, reached two ways
    c = np.arange(6.0).reshape(3, 2)
    gs = gradient(lambda: np.sum(W_GLOBAL * c) + np.sum(holder.W**2), Params([W_GLOBAL]))
    np.testing.assert_allclose(gs[W_GLOBAL], c + 2 * W_GLOBAL)


def test_parameter_reached_through_closure_and_list_adds_up():
    w = np.array([1.0, 2.0])
    ws = [w]
    gs = gradient(lambda: np.sum(w * 3.0) + np.sum(ws[0] ** 2), Params([w]))
    np.testing.assert_allclose(gs[w], 3.0 + 2 * w)


def test_two_equal_arrays_are_two_keys():
    a, b = np.ones(2), np.ones(2)
    gs = gradient(lambda: np.sum(2.0 * a) + np.sum(3.0 * b), Params([a, b]))
    np.testing.assert_allclose(gs[a], [2.0, 2.0])
    np.testing.assert_allclose(gs[b], [3.0, 3.0])


def test_float32_parameter_keeps_its_dtype():
    w = np.array([1.0, 2.0], dtype=np.float32)
    g = gradient(lambda: np.sum(w * w), Params([w]))[w]
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, [2.0, 4.0])


def test_list_of_floats_parameter_gets_a_list_gradient():
    coeffs = [2.0, 3.0, 5.0]
    gs = gradient(lambda: coeffs[0] * coeffs[1] ** 2, Params([coeffs]))
    assert gs[coeffs] == [9.0, 12.0, None]


def test_dict_parameter_gets_a_dict_gradient_and_its_arrays_their_own():
    d = {"a": np.array([1.0, 2.0]), "s": 4.0, "unused": np.zeros(2)}
    gs = gradient(lambda: np.sum(d["a"] ** 2) * d["s"], Params([d, d["a"]]))
    assert set(gs[d]) == {"a", "s", "unused"}
    np.testing.assert_allclose(gs[d]["a"], 2 * d["a"] * d["s"])
    assert gs[d]["s"] == pytest.approx(np.sum(d["a"] ** 2))
    assert gs[d]["unused"] is None
    np.testing.assert_allclose(gs[d["a"]], 2 * d["a"] * d["s"])


def test_object_parameter_gets_a_tangent():
    class Affine:
        def __init__(self):
            self.w = np.array([1.0, 2.0])
            self.s = 2.0
            self.name = "affine"

    m = Affine()
    gs = gradient(lambda: m.s * np.sum(m.w**2), Params([m]))
    np.testing.assert_allclose(gs[m].w, 2 * m.s * m.w)
    assert gs[m].s == pytest.approx(np.sum(m.w**2))
    np.testing.assert_array_equal(Params([m]).to_vector(), [1.0, 2.0, 2.0])  # w, then s
    np.testing.assert_allclose(gs.to_vector(), [4.0, 8.0, 5.0])


def test_tuple_and_namedtuple_in_a_closure():
    class Pair(NamedTuple):
        a: np.ndarray
        b: np.ndarray

    pair = Pair(np.array([1.0, 2.0]), np.array([3.0]))
    ws = (np.array([0.5, -1.0]), np.array([2.0]))
    gs = gradient(
        lambda: np.sum(pair.a * pair.b) + np.sum(ws[0] ** 2) * ws[1][0], Params([*pair, *ws])
    )
    np.testing.assert_allclose(gs[pair.a], [3.0, 3.0])
    np.testing.assert_allclose(gs[pair.b], [3.0])
    np.testing.assert_allclose(gs[ws[0]], 2 * ws[0] * ws[1][0])
    np.testing.assert_allclose(gs[ws[1]], [np.sum(ws[0] ** 2)])


# -- Grads as a mapping --


def test_unused_parameter_gets_none_and_is_still_a_key():
    w, unused = np.array([1.0, 2.0]), np.zeros(3)
    gs = gradient(lambda: np.sum(w), Params([w, unused]))
    assert gs[unused] is None
    assert unused in gs and w in gs


def test_non_parameter_is_not_a_key():
    w = np.array([1.0, 2.0])
    gs = gradient(lambda: np.sum(w), Params([w]))
    copy = w.copy()  # equal, but not the parameter
    assert copy not in gs
    with pytest.raises(KeyError, match="identity"):
        gs[copy]


def test_iteration_keys_values_items_follow_the_params():
    a, b, c = np.array([1.0]), np.array([2.0]), np.array([3.0])
    ps = Params([c, a, b])
    gs = gradient(lambda: a[0] * 10.0 + b[0] * 20.0, ps)
    assert gs.params is ps
    assert len(gs) == 3
    assert [id(p) for p in gs] == [id(c), id(a), id(b)]
    keys, values, items = gs.keys(), gs.values(), gs.items()
    assert [id(p) for p in keys] == [id(c), id(a), id(b)]
    assert values[0] is None
    np.testing.assert_allclose(values[1:], [[10.0], [20.0]])
    assert [(id(p), id(g)) for p, g in items] == [(id(p), id(g)) for p, g in zip(keys, values)]


def test_grads_add_and_scale():
    w, v = np.array([1.0, 2.0]), np.array([3.0])
    ps = Params([w, v])
    g1 = gradient(lambda: np.sum(w**2), ps)  # v: None
    g2 = gradient(lambda: np.sum(w * 3.0) + v[0] * 5.0, ps)
    total = g1 + g2
    np.testing.assert_allclose(total[w], 2 * w + 3.0)
    np.testing.assert_allclose(total[v], [5.0])
    np.testing.assert_allclose((2 * g2)[w], [6.0, 6.0])
    np.testing.assert_allclose((g2 * 0.5)[v], [2.5])
    assert (g1 * 3.0)[v] is None


def test_grads_of_container_parameters_add_with_none_as_zero():
    coeffs = [1.0, 2.0]
    ps = Params([coeffs])
    g1 = gradient(lambda: coeffs[0] * 3.0, ps)  # coeffs[1]: None
    g2 = gradient(lambda: coeffs[0] * coeffs[1], ps)
    assert (g1 + g2)[coeffs] == [5.0, 1.0]


def test_adding_grads_of_different_params_raises():
    w = np.ones(2)
    g1 = gradient(lambda: np.sum(w), Params([w]))
    g2 = gradient(lambda: np.sum(w), Params([w, np.ones(1)]))
    with pytest.raises(ValueError, match="same parameters"):
        g1 + g2


# -- flat vectors, for scipy.optimize --


def test_vector_round_trip():
    W, b = np.arange(6.0).reshape(2, 3), np.array([-1.0, -2.0])
    coeffs = [0.5, {"k": 1.5, "name": "not a number"}]
    ps = Params([W, b, coeffs])
    vector = ps.to_vector()
    np.testing.assert_array_equal(vector, [0, 1, 2, 3, 4, 5, -1, -2, 0.5, 1.5])
    ps.copy_from(vector * 10)
    np.testing.assert_array_equal(W, np.arange(60.0, step=10).reshape(2, 3))  # in place
    np.testing.assert_array_equal(b, [-10.0, -20.0])
    assert coeffs == [5.0, {"k": 15.0, "name": "not a number"}]
    with pytest.raises(ValueError, match="length 10"):
        ps.copy_from(np.zeros(3))


def test_grads_vector_round_trip():
    W, b = np.ones((2, 2)), np.ones(3)
    ps = Params([W, b])
    gs = gradient(lambda: np.sum(W * 4.0), ps)  # b: None
    np.testing.assert_array_equal(gs.to_vector(), [4, 4, 4, 4, 0, 0, 0])
    gs.copy_from(np.arange(7.0))
    np.testing.assert_array_equal(gs[W], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(gs[b], [4, 5, 6])


def test_scipy_minimize_fits_least_squares():
    A = _rng.standard_normal((20, 3))
    y = A @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * _rng.standard_normal(20)

    class Linear:
        def __init__(self):
            self.w = np.zeros(3)
            self.b = np.zeros(1)

        def __call__(self, A):
            return A @ self.w + self.b

    model = Linear()
    ps = Params([model.w, model.b])

    def loss():
        return np.sum((model(A) - y) ** 2)

    def value_and_gradient(vector):
        ps.copy_from(vector)
        val, gs = withgradient(loss, ps)
        return val, gs.to_vector()

    result = scipy.optimize.minimize(value_and_gradient, ps.to_vector(), jac=True, method="BFGS")
    expected, *_ = np.linalg.lstsq(np.column_stack([A, np.ones(20)]), y, rcond=None)
    assert result.success
    np.testing.assert_allclose(result.x, expected, rtol=1e-5, atol=1e-6)
    ps.copy_from(result.x)
    np.testing.assert_allclose(model.w, expected[:3], rtol=1e-5, atol=1e-6)


# -- withgradient, pullback, params_pullback --


def test_withgradient_with_params():
    w = np.array([1.0, 2.0, 3.0])
    val, gs = withgradient(lambda: np.sum(np.exp(w)), Params([w]))
    assert val == pytest.approx(np.sum(np.exp(w)))
    np.testing.assert_allclose(gs[w], np.exp(w))


def test_pullback_with_params_and_several_cotangents():
    A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    w = np.array([0.5, -1.0])
    y, back = pullback(lambda: np.tanh(A @ w), Params([A, w]))
    np.testing.assert_allclose(y, np.tanh(A @ w))
    for dy in (np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, -1.0]), np.ones(3)):
        gs = back(dy)
        d = dy * (1 - y**2)  # analytic
        np.testing.assert_allclose(gs[w], A.T @ d)
        np.testing.assert_allclose(gs[A], np.outer(d, w))


def test_params_pullback_is_the_pullback_for_params():
    w = np.array([2.0, 3.0])
    y, back = params_pullback(lambda: w * w, Params([w]))
    np.testing.assert_allclose(y, [4.0, 9.0])
    np.testing.assert_allclose(back(np.array([1.0, 0.0]))[w], [4.0, 0.0])
    np.testing.assert_allclose(back(np.array([0.0, 1.0]))[w], [0.0, 6.0])


def test_gradient_with_params_of_a_non_scalar_loss_names_jacobian():
    w = np.ones(2)
    with pytest.raises(NonScalarOutputError, match="jacobian"):
        gradient(lambda: w * 2.0, Params([w]))


# -- Params --


def test_params_dedups_keeps_order_and_compares_by_identity():
    a, b = np.zeros(2), np.zeros(2)
    ps = Params([b, a, b])
    assert len(ps) == 2
    assert [id(p) for p in ps] == [id(b), id(a)]
    assert a in ps and np.zeros(2) not in ps
    ps.add(a)
    c = [1.0]
    ps.add(c)
    assert len(ps) == 3 and c in ps


def test_params_repr_is_readable():
    ps = Params([np.zeros((2, 3)), [1.0], {"k": np.ones(1)}])
    assert repr(ps) == (
        "Params([ndarray(shape=(2, 3), dtype=float64), list(len=1), dict(keys=['k'])])"
    )


@pytest.mark.parametrize("number", [1.5, 3, np.float64(2.0)])
def test_number_parameter_raises_type_error_saying_to_wrap_it(number):
    with pytest.raises(TypeError, match=r"identity.*np\.array"):
        Params([np.ones(2), number])


def test_tuple_parameter_raises_type_error():
    with pytest.raises(TypeError, match="tuple"):
        Params([(np.ones(2),)])


def test_params_of_one_bare_array_raises():
    with pytest.raises(TypeError, match=r"Params\(\[x\]\)"):
        Params(np.ones(3))


def test_parameters_held_by_another_module_are_found(tmp_path):
    import importlib.util

    path = tmp_path / "weights_module.py"
    path.write_text(
        "import numpy as np\n"
        "W = np.array([1.0, 2.0])\n"
        "class Layer:\n"
        "    def __init__(self):\n"
        "        self.b = np.array([0.5])\n"
        "layer = Layer()\n"
    )
    spec = importlib.util.spec_from_file_location("weights_module", path)
    weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(weights)

    def loss():
        return np.sum(weights.W**2) + 3.0 * np.sum(weights.layer.b)

    g = gradient(loss, Params([weights.W, weights.layer.b]))
    np.testing.assert_array_equal(g[weights.W], 2 * weights.W)  # d/dW sum(W^2) = 2W
    np.testing.assert_array_equal(g[weights.layer.b], [3.0])
