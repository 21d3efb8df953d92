"""jacobian and withjacobian, in reverse and forward mode and in Params, against analytic
Jacobians and finite differences.

The forward-mode cases need ``zygote_engine.jvp``.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

import zygote_engine.jacobians as jacobians_module
from chainrules_core import frule
from zygote_engine import (
    Grads,
    MissingRuleError,
    Params,
    WithJacobian,
    jacobian,
    withjacobian,
)

RNG = np.random.default_rng(3)
MODES = ["reverse", "forward", None]


def fd_jacobian(f, args: tuple, position: int, eps: float = 1e-6) -> np.ndarray:
    """Central differences: the ``(y.size, x.size)`` Jacobian in argument ``position`` (C order)."""
    x = args[position]
    flat = np.array(x, dtype=float).ravel()
    columns = []
    for i in range(flat.size):
        values = []
        for step in (eps, -eps):
            shifted = flat.copy()
            shifted[i] += step
            arg = shifted.reshape(np.shape(x)) if isinstance(x, np.ndarray) else shifted[0]
            moved = (*copy.deepcopy(args[:position]), arg, *copy.deepcopy(args[position + 1 :]))
            values.append(np.ravel(f(*moved)))
        columns.append((values[0] - values[1]) / (2 * eps))
    return np.stack(columns, axis=1)


# --- against analytic Jacobians -----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_linear_map(mode):
    A, x = RNG.normal(size=(3, 4)), RNG.normal(size=4)
    jA, jx = jacobian(lambda A, x: A @ x, A, x, mode=mode)
    np.testing.assert_allclose(jx, A, rtol=1e-14)
    # y[k] = sum_j A[k, j] x[j], and A.ravel()[k' * 4 + j] = A[k', j]
    np.testing.assert_allclose(jA, np.kron(np.eye(3), x[None, :]), rtol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_elementwise_sin_is_diagonal(mode):
    x = RNG.normal(size=5)
    (J,) = jacobian(np.sin, x, mode=mode)
    np.testing.assert_allclose(J, np.diag(np.cos(x)), rtol=1e-14)


def iterate(x, c):
    y = x
    for _ in range(3):
        if c > 0:
            s = np.sin(y)
            y = c * y + s
        else:
            y = y - c * y**2
    return y


def iterate_jacobian(x, c):
    """Hand-written forward derivatives of ``iterate``: (diag of dy/dx, dy/dc)."""
    y, dy_dx, dy_dc = x, np.ones_like(x), np.zeros_like(x)
    for _ in range(3):
        if c > 0:
            dy_dx, dy_dc = (c + np.cos(y)) * dy_dx, y + (c + np.cos(y)) * dy_dc
            y = c * y + np.sin(y)
        else:
            dy_dx, dy_dc = (1 - 2 * c * y) * dy_dx, -(y**2) + (1 - 2 * c * y) * dy_dc
            y = y - c * y**2
    return np.diag(dy_dx), dy_dc


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("c", [0.8, -0.3])
def test_map_with_a_loop_and_a_branch(mode, c):
    x = RNG.normal(size=4) * 0.5
    jx, jc = jacobian(iterate, x, c, mode=mode)
    expected_jx, expected_jc = iterate_jacobian(x, c)
    np.testing.assert_allclose(jx, expected_jx, rtol=1e-12)
    np.testing.assert_allclose(jc, expected_jc, rtol=1e-12)
    np.testing.assert_allclose(jx, fd_jacobian(iterate, (x, c), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jc, fd_jacobian(iterate, (x, c), 1)[:, 0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_matrix_arguments_and_outputs_flatten_in_c_order(mode):
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    # y = X.T, of shape (3, 2): y.ravel() = [X00, X10, X01, X11, X02, X12], X.ravel() = row by row
    (J,) = jacobian(lambda X: X.T, X, mode=mode)
    expected = np.zeros((6, 6))
    for k, i in enumerate([0, 3, 1, 4, 2, 5]):
        expected[k, i] = 1.0
    np.testing.assert_array_equal(J, expected)
    # column sums: y[j] = X[0, j] + X[1, j]
    (J,) = jacobian(lambda X: X.sum(axis=0), X, mode=mode)
    np.testing.assert_array_equal(
        J,
        [
            [1, 0, 0, 1, 0, 0],
            [0, 1, 0, 0, 1, 0],
            [0, 0, 1, 0, 0, 1],
        ],
    )


@pytest.mark.parametrize("mode", MODES)
def test_matrix_to_matrix_matches_finite_differences(mode):
    X, W = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2))

    def f(X, W):
        return np.tanh(X @ W) * X[:, :2]

    jX, jW = jacobian(f, X, W, mode=mode)
    assert jX.shape == (4, 6) and jW.shape == (4, 6)
    np.testing.assert_allclose(jX, fd_jacobian(f, (X, W), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jW, fd_jacobian(f, (X, W), 1), rtol=1e-6, atol=1e-8)


def test_forward_and_reverse_mode_give_the_same_matrices():
    X, c = RNG.normal(size=(2, 3)) * 0.5, 0.8

    def f(X, c):
        return iterate(X, c)[:, ::-1] @ np.ones((3, 4))

    forward = jacobian(f, X, c, mode="forward")
    reverse = jacobian(f, X, c, mode="reverse")
    assert forward[0].shape == reverse[0].shape == (8, 6)
    for position, (jf, jr) in enumerate(zip(forward, reverse)):
        np.testing.assert_allclose(jf, jr, rtol=1e-12, atol=1e-15)
        expected = fd_jacobian(f, (X, c), position).reshape(jf.shape)  # a scalar's: a vector
        np.testing.assert_allclose(jf, expected, rtol=1e-6, atol=1e-8)


# --- Zygote's docstring examples, in C order ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_zygote_example_slice_squared(mode):
    (J,) = jacobian(lambda a: 100 * a[:3] ** 2, np.arange(1.0, 8.0), mode=mode)
    expected = np.zeros((3, 7))
    expected[0, 0], expected[1, 1], expected[2, 2] = 200, 400, 600
    np.testing.assert_array_equal(J, expected)


@pytest.mark.parametrize("mode", MODES)
def test_zygote_example_scalar_argument_gives_a_vector(mode):
    ja, jx = jacobian(lambda a, x: a**2 * x, np.array([1.0, 2.0, 3.0]), 1.0, mode=mode)
    np.testing.assert_array_equal(ja, np.diag([2.0, 4.0, 6.0]))
    np.testing.assert_array_equal(jx, [1.0, 4.0, 9.0])


@pytest.mark.parametrize("mode", MODES)
def test_zygote_example_prod_along_an_axis(mode):
    a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ja, jd = jacobian(lambda a, d: np.prod(a, axis=d), a, 1, mode=mode)
    # y[r] = a[r, 0] * a[r, 1]; a.ravel()[2 r] = a[r, 0], a.ravel()[2 r + 1] = a[r, 1]
    np.testing.assert_array_equal(ja, [[2, 1, 0, 0, 0, 0], [0, 0, 4, 3, 0, 0], [0, 0, 0, 0, 6, 5]])
    np.testing.assert_array_equal(jd, [0.0, 0.0, 0.0])  # the axis is a number with no effect


@pytest.mark.parametrize("mode", MODES)
def test_zygote_example_withjacobian(mode):
    a = np.array([1.0, 2.0, 3.0, 4.0])
    result = withjacobian(lambda a, x: 100 * a[:3] ** 2 + x**2, a, 5.0, mode=mode)
    assert isinstance(result, WithJacobian)
    np.testing.assert_array_equal(result.val, [125.0, 425.0, 925.0])
    ja, jx = result.grad
    np.testing.assert_array_equal(ja, [[200, 0, 0, 0], [0, 400, 0, 0], [0, 0, 600, 0]])
    np.testing.assert_array_equal(jx, [10.0, 10.0, 10.0])


# --- shapes and argument kinds ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_scalar_output_gives_one_row(mode):
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    (J,) = jacobian(lambda x: np.sum(x**3), x, mode=mode)
    np.testing.assert_array_equal(J, (3 * x**2).reshape(1, 4))
    assert jacobian(lambda t: t**3, 2.0, mode=mode)[0].tolist() == [12.0]


@pytest.mark.parametrize("mode", MODES)
def test_arguments_that_are_not_numbers_or_float_arrays_give_none(mode):
    x = np.array([1.0, 2.0])
    others = (
        np.array([1, 2]),
        True,
        "label",
        [1.0, 2.0],
        SimpleNamespace(w=1.0),
        None,
        np.array([True, False]),
    )
    result = jacobian(lambda x, *rest: 3 * x, x, *others, mode=mode)
    np.testing.assert_array_equal(result[0], 3 * np.eye(2))
    assert result[1:] == (None,) * len(others)


@pytest.mark.parametrize("mode", MODES)
def test_integer_and_numpy_scalars_are_numbers(mode):
    x = np.array([1.0, 2.0])
    for k in (3, np.int64(3), np.float32(3.0)):
        jx, jk = jacobian(lambda x, k: x * k, x, k, mode=mode)
        np.testing.assert_array_equal(jx, 3 * np.eye(2))
        np.testing.assert_array_equal(jk, x)


@pytest.mark.parametrize("mode", MODES)
def test_float32_stays_float32(mode):
    x = np.array([1.0, 2.0], dtype=np.float32)
    (J,) = jacobian(lambda x: 2 * x, x, mode=mode)
    assert J.dtype == np.float32
    np.testing.assert_array_equal(J, 2 * np.eye(2))


@pytest.mark.parametrize("mode", MODES)
def test_empty_array_argument(mode):
    jx, je = jacobian(lambda x, e: 2 * x + np.sum(e), np.array([1.0, 2.0]), np.zeros(0), mode=mode)
    np.testing.assert_array_equal(jx, 2 * np.eye(2))
    assert je.shape == (2, 0)


def test_no_differentiable_argument_gives_the_value_and_nones():
    val, grad = withjacobian(lambda i, s: np.arange(4.0)[i], np.array([1, 3]), "text")
    np.testing.assert_array_equal(val, [1.0, 3.0])
    assert grad == (None, None)
    with pytest.raises(TypeError, match="return a real number or a real numpy array"):
        withjacobian(lambda s: [1.0], "text")


# --- choosing the mode and counting passes ------------------------------------------------------


def _counting(monkeypatch, name: str, counts: dict) -> None:
    """Count the calls of ``jacobians_module.<name>`` (``pullback`` also counts its ``back``)."""
    real = getattr(jacobians_module, name)

    def counted(f, *args):
        counts[name] = counts.get(name, 0) + 1
        result = real(f, *args)
        if name != "pullback":
            return result
        y, back = result

        def counting_back(dy):
            counts["back"] = counts.get("back", 0) + 1
            return back(dy)

        return y, counting_back

    monkeypatch.setattr(jacobians_module, name, counted)


def test_automatic_mode_runs_only_reverse_when_outputs_are_fewer(monkeypatch):
    counts = {}
    _counting(monkeypatch, "pullback", counts)
    _counting(monkeypatch, "jvp", counts)
    (J,) = jacobian(lambda x: x[:3] * 2, np.ones(5))  # 5 inputs, 3 outputs: reverse
    assert counts == {"pullback": 1, "back": 3}
    np.testing.assert_array_equal(J, 2 * np.eye(3, 5))


def test_automatic_mode_runs_only_forward_when_inputs_are_fewer(monkeypatch):
    counts = {}
    _counting(monkeypatch, "pullback", counts)
    _counting(monkeypatch, "jvp", counts)
    _counting(monkeypatch, "forward_pass", counts)
    x = np.array([1.0, 2.0, 3.0])
    (J,) = jacobian(lambda x: np.outer(x, x), x)  # 3 inputs, 9 outputs: forward
    assert counts == {"forward_pass": 1}  # the three columns in one batched pass
    # y[i, j] = x[i] x[j]: ∂y[i, j]/∂x[m] = δ(i, m) x[j] + x[i] δ(j, m)
    expected = np.einsum("im,j->ijm", np.eye(3), x) + np.einsum("i,jm->ijm", x, np.eye(3))
    np.testing.assert_array_equal(J, expected.reshape(9, 3))


class _ChoseForward(Exception):
    pass


def _refuse_forward(*args):
    raise _ChoseForward


def test_a_batch_that_cannot_pass_falls_back_to_one_pass_per_column(monkeypatch):
    from zygote_engine.batched import BatchingError

    def refuse_batches(f, primals, tangents):
        raise BatchingError("no batches here")

    counts = {}
    monkeypatch.setattr(jacobians_module, "forward_pass", refuse_batches)
    _counting(monkeypatch, "jvp", counts)
    x = np.array([1.0, 2.0, 3.0])
    (J,) = jacobian(lambda x: np.sin(x) * x[0], x, mode="forward")
    assert counts == {"jvp": 3}
    expected = np.diag(np.cos(x) * x[0])
    expected[:, 0] += np.sin(x)
    np.testing.assert_allclose(J, expected)


def test_automatic_mode_picks_forward_when_inputs_are_fewer(monkeypatch):
    monkeypatch.setattr(jacobians_module, "_forward", _refuse_forward)
    with pytest.raises(_ChoseForward):
        jacobian(lambda x: np.outer(x, x), np.ones(3))  # 3 inputs, 9 outputs
    with pytest.raises(_ChoseForward):
        jacobian(lambda x, t: x * t, np.ones(3), 2.0, mode="forward")
    np.testing.assert_array_equal(jacobian(lambda x: x * 2, np.ones(3))[0], 2 * np.eye(3))


_opaque_cube = np.frompyfunc(lambda v: v**3, 1, 1)  # compiled, with no rule of its own


def forward_only_cube(x):
    """``x ** 3`` through compiled code: only its frule lets the engine differentiate it."""
    return _opaque_cube(x).astype(float)


@frule.register(forward_only_cube)
def _(tangents, x):
    return x**3, 3 * x**2 * tangents[1]


def outer_cube(x):
    return np.outer(forward_only_cube(x), x)


def test_automatic_mode_differentiates_code_that_only_forward_mode_can():
    x = np.array([1.0, 2.0])
    with pytest.raises(MissingRuleError):
        jacobian(outer_cube, x, mode="reverse")
    (J,) = jacobian(outer_cube, x)  # 2 inputs, 4 outputs: forward, with no reverse pass
    # y[i, j] = x[i]^3 x[j]: ∂y[i, j]/∂x[m] = 3 x[i]^2 δ(i, m) x[j] + x[i]^3 δ(j, m)
    np.testing.assert_array_equal(J, [[4, 0], [6, 1], [8, 12], [0, 32]])


def test_unknown_mode_is_a_value_error():
    with pytest.raises(ValueError, match="mode must be 'forward', 'reverse' or None, got 'fwd'"):
        jacobian(np.sin, np.ones(2), mode="fwd")


# --- Params ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reverse", None])
def test_params_flux_example(mode):
    # Flux's `jacobian(() -> ys[1:2] .+ sum(xs.^2), Params([xs, ys]))`, in C order
    xs, ys = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    J = jacobian(lambda: ys[0:2] + np.sum(xs**2), Params([xs, ys]), mode=mode)
    assert isinstance(J, Grads)
    assert [id(p) for p in J] == [id(xs), id(ys)]
    # y[k] = ys[k] + Σ xs[i]²: ∂y[k]/∂xs[i] = 2 xs[i] for every k, ∂y[k]/∂ys[i] = δ(k, i)
    np.testing.assert_array_equal(J[xs], [[2.0, 4.0, 6.0], [2.0, 4.0, 6.0]])
    np.testing.assert_array_equal(J[ys], [[1, 0, 0], [0, 1, 0]])


class Layer:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def __call__(self, x):
        return self.W @ x + self.b


def test_params_reached_through_an_object_with_a_matrix_parameter_in_c_order():
    W, b = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([0.5, -0.5, 1.0])
    layer, x = Layer(W, b), np.array([7.0, -1.0])
    val, J = withjacobian(lambda: layer(x) ** 2, Params([W, b]))
    z = W @ x + b
    np.testing.assert_array_equal(val, z**2)
    # y[k] = z[k]², z[k] = Σ_j W[k, j] x[j] + b[k]; W.ravel()[2 k' + j] = W[k', j]
    np.testing.assert_array_equal(J[W], np.kron(np.diag(2 * z), x[None, :]))
    np.testing.assert_array_equal(J[b], np.diag(2 * z))


def test_params_that_do_not_reach_the_output_map_to_none():
    w, unused, counts = np.array([1.0, 2.0]), np.ones(3), np.array([1, 2])
    J = jacobian(lambda: w * counts, Params([w, unused, counts]))
    np.testing.assert_array_equal(J[w], np.diag([1.0, 2.0]))
    assert J[unused] is None
    assert J[counts] is None  # an integer array has no gradient


def test_params_with_a_scalar_output_give_one_row():
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    J = jacobian(lambda: np.sum(w**3), Params([w]))
    np.testing.assert_array_equal(J[w], (3 * w**2).reshape(1, 4))


def test_params_float32_stays_float32():
    w = np.array([1.0, 2.0], dtype=np.float32)
    J = jacobian(lambda: 2 * w, Params([w]))
    assert J[w].dtype == np.float32
    np.testing.assert_array_equal(J[w], 2 * np.eye(2))


def test_params_pull_back_once_per_output_element(monkeypatch):
    calls = {"params_pullback": 0, "back": 0}
    real = jacobians_module.params_pullback

    def counting_params_pullback(f, params):
        calls["params_pullback"] += 1
        y, back = real(f, params)

        def counting_back(dy):
            calls["back"] += 1
            return back(dy)

        return y, counting_back

    monkeypatch.setattr(jacobians_module, "params_pullback", counting_params_pullback)
    w = np.ones(4)
    jacobian(lambda: w[:3] * 2, Params([w]))
    assert calls == {"params_pullback": 1, "back": 3}


def test_params_errors():
    w = np.ones(2)
    with pytest.raises(ValueError, match="jacobian with Params runs in reverse mode only"):
        jacobian(lambda: w * 2, Params([w]), mode="forward")
    with pytest.raises(TypeError, match="needs array parameters, but parameter 1 is a list"):
        jacobian(lambda: w * 2, Params([w, [1.0]]))
    with pytest.raises(TypeError, match="does not support complex values yet: parameter 0"):
        jacobian(lambda: w * 2, Params([np.ones(2, dtype=complex)]))
    with pytest.raises(TypeError, match="a Params as its only argument after the function"):
        jacobian(lambda x, ps: x * 2, w, Params([w]))
    with pytest.raises(TypeError, match="return a real number or a real numpy array"):
        jacobian(lambda: [w], Params([w]))


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("output", [[1.0, 2.0], (1.0, 2.0), "y", {"y": 1.0}, True])
def test_output_must_be_a_real_number_or_array(mode, output):
    def returns_output(x):
        return output

    with pytest.raises(TypeError, match="returns_output to return a real number or a real numpy"):
        jacobian(returns_output, np.ones(2), mode=mode)


def test_complex_values_are_rejected():
    with pytest.raises(TypeError, match="does not support complex values yet: argument 1"):
        jacobian(lambda x, z: x, np.ones(2), 1j)
    with pytest.raises(TypeError, match="does not support complex values yet: argument 0"):
        jacobian(lambda z: z, np.ones(2, dtype=complex))
    with pytest.raises(TypeError, match=r"complex values are not supported yet"):
        jacobian(lambda x: x * 1j, np.ones(2), mode="reverse")
