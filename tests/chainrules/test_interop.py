"""The rules through PyTorch, JAX and HIPS autograd (chainrules/interop), against finite differences.

Each case is a function of a few float64 arrays; every engine differentiates it through its
adapter, and the result must match central differences of the plain numpy call.
"""

import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.special as sc

import chainrules  # noqa: F401 - registers the rules
from chainrules.interop import to_autograd, to_jax, to_torch
from chainrules_core import NoTangent, Thunk, ZeroTangent, frule, rrule


@dataclass
class Case:
    """``call(wrapped, *inputs)`` applies the wrapped ``f`` to the differentiated ``inputs``."""

    id: str
    f: Any
    shapes: list
    call: Any
    positive: bool = False  # inputs in (0.5, 1.5), for log, sqrt, gammaln, divisors

    def inputs(self):
        rng = np.random.default_rng(len(self.id))
        if self.positive:
            return [rng.uniform(0.5, 1.5, shape) for shape in self.shapes]
        return [rng.normal(size=shape) for shape in self.shapes]


def _sym(a):
    return a + a.T


CASES = [
    Case("sin", np.sin, [(3,)], lambda g, x: g(x)),
    Case("cos", np.cos, [(2, 3)], lambda g, x: g(x)),
    Case("exp", np.exp, [(3,)], lambda g, x: g(x)),
    Case("tanh", np.tanh, [(4,)], lambda g, x: g(x)),
    Case("log", np.log, [(3,)], lambda g, x: g(x), positive=True),
    Case("sqrt", np.sqrt, [(3,)], lambda g, x: g(x), positive=True),
    Case("arctan", np.arctan, [(3,)], lambda g, x: g(x)),
    Case("multiply", np.multiply, [(2, 3), (3,)], lambda g, x, y: g(x, y)),
    Case("divide", np.divide, [(3,), (3,)], lambda g, x, y: g(x, y), positive=True),
    Case("power-float-constant", np.power, [(3,)], lambda g, x: g(x, 3.0), positive=True),
    Case("hypot", np.hypot, [(3,), (3,)], lambda g, x, y: g(x, y)),
    Case("matmul", np.matmul, [(3, 4), (4, 2)], lambda g, a, b: g(a, b)),
    Case("dot", np.dot, [(3,), (3,)], lambda g, x, y: g(x, y)),
    Case("outer", np.outer, [(3,), (2,)], lambda g, x, y: g(x, y)),
    Case("tensordot", np.tensordot, [(2, 3), (3, 2)], lambda g, a, b: g(a, b, axes=1)),
    Case("einsum-string", np.einsum, [(2, 3), (3, 4)], lambda g, a, b: g("ij,jk->ik", a, b)),
    Case("solve", np.linalg.solve, [(3, 3), (3, 2)], lambda g, a, b: g(_sym(a) + 6 * a**0, b)),
    Case("inv", np.linalg.inv, [(3, 3)], lambda g, a: g(_sym(a) + 6 * a**0)),
    Case("det", np.linalg.det, [(3, 3)], lambda g, a: g(a)),
    Case("slogdet", np.linalg.slogdet, [(3, 3)], lambda g, a: g(a).logabsdet),
    Case("eigh-values", np.linalg.eigh, [(3, 3)], lambda g, a: g(_sym(a))[0]),
    Case("eigh-vectors", np.linalg.eigh, [(3, 3)], lambda g, a: g(_sym(a))[1] ** 2),
    Case("norm", np.linalg.norm, [(2, 3)], lambda g, a: g(a)),
    Case("trace", np.trace, [(3, 3)], lambda g, a: g(a)),
    Case("sum-axis-kwarg", np.sum, [(2, 3)], lambda g, a: g(a, axis=0)),
    Case("sum-keepdims", np.sum, [(2, 3)], lambda g, a: g(a, axis=1, keepdims=True)),
    Case("mean", np.mean, [(2, 3)], lambda g, a: g(a, axis=1)),
    Case("prod", np.prod, [(2, 3)], lambda g, a: g(a, axis=0), positive=True),
    Case("max", np.max, [(2, 3)], lambda g, a: g(a, axis=1)),
    Case("var", np.var, [(4,)], lambda g, a: g(a)),
    Case("cumsum", np.cumsum, [(2, 3)], lambda g, a: g(a, axis=1)),
    Case("transpose", np.transpose, [(2, 3)], lambda g, a: g(a)),
    Case("reshape-tuple-constant", np.reshape, [(2, 3)], lambda g, a: g(a, (3, 2))),
    Case("take-list-constant", np.take, [(2, 3)], lambda g, a: g(a, [0, 2, 2], axis=1)),
    Case("concatenate-tuple", np.concatenate, [(2, 3), (1, 3)], lambda g, a, b: g((a, b))),
    Case("stack-list", np.stack, [(3,), (3,)], lambda g, a, b: g([a, b], axis=1)),
    Case("expit", sc.expit, [(3,)], lambda g, x: g(x)),
    Case("erf", sc.erf, [(3,)], lambda g, x: g(x)),
    Case("gammaln", sc.gammaln, [(3,)], lambda g, x: g(x), positive=True),
    Case("logsumexp", sc.logsumexp, [(2, 3)], lambda g, x: g(x, axis=1)),
    Case("softmax", sc.softmax, [(2, 3)], lambda g, x: g(x, axis=-1)),
]
IDS = [case.id for case in CASES]


def _numpy_call(case, inputs):
    return np.asarray(case.call(case.f, *inputs), dtype=float)


def _finite_difference_gradients(case, inputs, dy, h=1e-6):
    """Central differences of ``sum(dy * F(inputs))`` in each input."""
    gradients = []
    for k, x in enumerate(inputs):
        gradient = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            shifted = []
            for step in (h, -h):
                xs = [a.copy() for a in inputs]
                xs[k][index] += step
                shifted.append(np.sum(dy * _numpy_call(case, xs)))
            gradient[index] = (shifted[0] - shifted[1]) / (2 * h)
        gradients.append(gradient)
    return gradients


def _finite_difference_tangent(case, inputs, dxs, h=1e-6):
    forward = _numpy_call(case, [x + h * dx for x, dx in zip(inputs, dxs)])
    backward = _numpy_call(case, [x - h * dx for x, dx in zip(inputs, dxs)])
    return (forward - backward) / (2 * h)


def _output_cotangent(case, inputs):
    return np.random.default_rng(7).normal(size=_numpy_call(case, inputs).shape)


# --------------------------------------------------------------------------------------------------
# PyTorch


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_gradcheck_reverse_and_forward_mode(case):
    torch = pytest.importorskip("torch")
    wrapped = to_torch(case.f)
    tensors = [torch.tensor(x, requires_grad=True) for x in case.inputs()]
    assert torch.autograd.gradcheck(
        lambda *xs: case.call(wrapped, *xs), tensors, check_forward_ad=frule.has_rules(case.f)
    )


def test_torch_gradients_keep_the_inputs_dtype_and_integer_tensors_get_none():
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float32, requires_grad=True)
    indices = torch.tensor([2, 0])
    y = to_torch(np.take)(x, indices, axis=1)
    assert y.dtype == torch.float32
    (dx,) = torch.autograd.grad(y.sum(), x)
    assert dx.dtype == torch.float32
    np.testing.assert_array_equal(dx.numpy(), [[1.0, 0.0, 1.0]])


def test_torch_forward_ad_through_the_frule():
    torch = pytest.importorskip("torch")
    import torch.autograd.forward_ad as fwAD

    x = torch.tensor([0.5, 1.0], dtype=torch.float64)
    with fwAD.dual_level():
        y = to_torch(np.sin)(fwAD.make_dual(x, torch.ones_like(x)))
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.numpy(), np.cos(x.numpy()))


# --------------------------------------------------------------------------------------------------
# JAX


@pytest.fixture
def jax64():
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        yield jax


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jax_grad_matches_finite_differences(case, jit, jax64):
    jax = jax64
    inputs = case.inputs()
    dy = _output_cotangent(case, inputs)
    wrapped = to_jax(case.f)

    def loss(*xs):
        return jax.numpy.sum(dy * case.call(wrapped, *xs))

    grad = jax.grad(loss, argnums=tuple(range(len(inputs))))
    gradients = (jax.jit(grad) if jit else grad)(*map(jax.numpy.asarray, inputs))
    expected = _finite_difference_gradients(case, inputs, dy)
    for gradient, want in zip(gradients, expected):
        np.testing.assert_allclose(np.asarray(gradient), want, rtol=1e-5, atol=1e-7)


def test_jax_vjp_of_a_tuple_output_and_vmap(jax64):
    jax = jax64
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    y, vjp = jax.vjp(to_jax(np.linalg.slogdet), jax.numpy.asarray(a))
    assert float(y.sign) == 1.0 and np.isclose(float(y.logabsdet), np.log(5.0))
    (da,) = vjp(y._replace(sign=0.0, logabsdet=1.0))  # a NamedTuple output keeps its type
    np.testing.assert_allclose(np.asarray(da), np.linalg.inv(a).T)
    dets = jax.vmap(to_jax(np.linalg.det))(jax.numpy.stack([a, 2 * a]))
    np.testing.assert_allclose(np.asarray(dets), [5.0, 20.0])


def test_jax_integer_arrays_get_no_cotangent(jax64):
    jax = jax64
    indices = jax.numpy.array([2, 0])
    dx = jax.grad(lambda x: to_jax(np.take)(x, indices).sum())(jax.numpy.arange(3.0))
    np.testing.assert_array_equal(np.asarray(dx), [1.0, 0.0, 1.0])


def test_jax_default_float32_gives_float32_results():
    jax = pytest.importorskip("jax")
    x = jax.numpy.array([0.0, 1.0])  # float32 unless x64 is on
    dx = jax.grad(lambda x: to_jax(np.exp)(x).sum())(x)
    assert dx.dtype == x.dtype
    np.testing.assert_allclose(np.asarray(dx), np.exp([0.0, 1.0]), rtol=1e-6)


def not_at_one(x):
    """A function that fails on to_jax's stand-ins (arrays of ones)."""
    if np.any(x == 1.0):
        raise ValueError("x must not be 1")
    return 2 * x


@rrule.register(not_at_one)
def _(x):
    return not_at_one(x), lambda dy: (NoTangent(), 2 * dy)


def test_jax_result_shape_replaces_the_stand_in_call(jax64):
    jax = jax64
    x = jax.numpy.array([0.5, 2.0])
    with pytest.raises(ValueError, match="result_shape"):
        to_jax(not_at_one)(x)
    wrapped = to_jax(not_at_one, result_shape=lambda x: x)
    np.testing.assert_array_equal(np.asarray(jax.grad(lambda x: wrapped(x).sum())(x)), [2, 2])


# --------------------------------------------------------------------------------------------------
# HIPS autograd


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_autograd_grad_and_make_jvp_match_finite_differences(case):
    autograd = pytest.importorskip("autograd")
    inputs = case.inputs()
    dy = _output_cotangent(case, inputs)
    wrapped = to_autograd(case.f)
    expected = _finite_difference_gradients(case, inputs, dy)
    for k, want in enumerate(expected):
        gradient = autograd.grad(lambda *xs: np.sum(dy * case.call(wrapped, *xs)), k)(*inputs)
        np.testing.assert_allclose(gradient, want, rtol=1e-5, atol=1e-7)

    dxs = [np.random.default_rng(k + 3).normal(size=x.shape) for k, x in enumerate(inputs)]

    def along(t):
        return case.call(wrapped, *(x + t * dx for x, dx in zip(inputs, dxs)))

    _, tangent = autograd.make_jvp(along)(0.0)(1.0)
    np.testing.assert_allclose(
        tangent, _finite_difference_tangent(case, inputs, dxs), rtol=1e-5, atol=1e-7
    )


def test_autograd_python_float_arguments():
    autograd = pytest.importorskip("autograd")
    assert np.isclose(autograd.grad(to_autograd(np.sin))(2.0), np.cos(2.0))
    assert to_autograd(np.sin)(0.0) == 0.0  # nothing boxed: f itself


# --------------------------------------------------------------------------------------------------
# Conventions every engine shares: thunks, zeros, constants, the missing rule, optional engines


def scale_by(x, y, n, label):
    """``n * x`` (``y`` and ``label`` unused): a rule whose pullback returns every kind of tangent."""
    return n * x


@rrule.register(scale_by)
def _(x, y, n, label):
    def scale_by_pullback(dy):
        return NoTangent(), Thunk(lambda: n * dy), ZeroTangent(), NoTangent(), NoTangent()

    return scale_by(x, y, n, label), scale_by_pullback


def test_torch_thunks_zero_and_no_tangents():
    torch = pytest.importorskip("torch")
    x, y = (torch.ones(2, dtype=torch.float64, requires_grad=True) for _ in range(2))
    dx, dy = torch.autograd.grad(to_torch(scale_by)(x, y, 3, "label").sum(), (x, y))
    np.testing.assert_array_equal(dx.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(dy.numpy(), [0.0, 0.0])  # ZeroTangent: zeros of y's shape


def test_jax_thunks_zero_and_no_tangents(jax64):
    jax = jax64
    loss = lambda x, y: to_jax(scale_by)(x, y, 3, "label").sum()  # noqa: E731
    dx, dy = jax.jit(jax.grad(loss, argnums=(0, 1)))(jax.numpy.ones(2), jax.numpy.ones(2))
    np.testing.assert_array_equal(np.asarray(dx), [3.0, 3.0])
    np.testing.assert_array_equal(np.asarray(dy), [0.0, 0.0])


def test_autograd_thunks_zero_and_no_tangents():
    autograd = pytest.importorskip("autograd")
    loss = lambda x, y: np.sum(to_autograd(scale_by)(x, y, 3, "label"))  # noqa: E731
    dx, dy = autograd.grad(loss, (0, 1))(np.ones(2), np.ones(2))
    np.testing.assert_array_equal(dx, [3.0, 3.0])
    np.testing.assert_array_equal(dy, [0.0, 0.0])


def no_rule(x):
    return x


@pytest.mark.parametrize("adapter", [to_torch, to_jax, to_autograd])
def test_a_function_without_a_rule_is_a_type_error_at_wrap_time(adapter):
    with pytest.raises(TypeError, match=r"no_rule has no rrule.*register one"):
        adapter(no_rule)


def test_importing_interop_imports_no_engine():
    script = (
        "import sys, chainrules.interop; "
        "print([m for m in ('torch', 'jax', 'autograd') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
