"""Differentiating code over CuPy arrays on a GPU: the rules and the engine run unchanged (CuPy
follows numpy's dispatch protocols), cotangents stay on the GPU as CuPy arrays, and the gradients
equal the numpy ones. Runs only where CuPy and a GPU are present."""

import operator

import numpy as np
import pytest

from chainrules_core import AbstractZero, Tangent, rrule, unthunk
from zygote_engine import gradient, jvp

cp = pytest.importorskip("cupy")
try:
    GPUS = cp.cuda.runtime.getDeviceCount()
except Exception:  # a CuPy without a driver or a device
    GPUS = 0
pytestmark = pytest.mark.skipif(not GPUS, reason="CuPy is installed but no GPU is present")

RNG = np.random.default_rng(0)
X_NUMPY, W_NUMPY = RNG.standard_normal((64, 8)), RNG.standard_normal(8)
LABELS_NUMPY = (RNG.random(64) > 0.5).astype(float)


def logistic_loss(w, X, labels):
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - labels * z)


def two_layer(params, X):
    W1, W2 = params
    h = np.tanh(X @ W1)
    return np.sum((h @ W2) ** 2) / X.shape[0] + 0.1 * np.sum(W1 * W1)


def test_logistic_regression_gradient_on_the_gpu():
    X, labels, w = cp.asarray(X_NUMPY), cp.asarray(LABELS_NUMPY), cp.asarray(W_NUMPY)
    (g,) = gradient(logistic_loss, w, X, labels)[:1]
    assert isinstance(g, cp.ndarray)
    z = X_NUMPY @ W_NUMPY  # by hand: the mean of (sigmoid(z) - label) x
    expected = X_NUMPY.T @ (1 / (1 + np.exp(-z)) - LABELS_NUMPY) / len(z)
    np.testing.assert_allclose(cp.asnumpy(g), expected, rtol=1e-10)


def two_layer_gradient(W1, W2, X):
    """Backpropagation by hand."""
    h = np.tanh(X @ W1)
    dout = 2 * (h @ W2) / X.shape[0]
    dh = dout @ W2.T
    return [X.T @ (dh * (1 - h * h)) + 0.2 * W1, h.T @ dout]


def test_a_two_layer_network_on_the_gpu():
    W1, W2 = RNG.standard_normal((8, 16)), RNG.standard_normal((16, 3))
    on_gpu = gradient(two_layer, [cp.asarray(W1), cp.asarray(W2)], cp.asarray(X_NUMPY))[0]
    for got, want in zip(on_gpu, two_layer_gradient(W1, W2, X_NUMPY), strict=True):
        assert isinstance(got, cp.ndarray)
        np.testing.assert_allclose(cp.asnumpy(got), want, rtol=1e-10)


def test_forward_mode_on_the_gpu():
    X, labels, w = cp.asarray(X_NUMPY), cp.asarray(LABELS_NUMPY), cp.asarray(W_NUMPY)
    direction = RNG.standard_normal(8)
    _, dy = jvp(lambda w: logistic_loss(w, X, labels), (w,), (cp.asarray(direction),))
    _, expected = jvp(lambda w: logistic_loss(w, X_NUMPY, LABELS_NUMPY), (W_NUMPY,), (direction,))
    assert float(dy) == pytest.approx(expected, rel=1e-10)


CALLS = {
    "sum": (np.sum, (X_NUMPY,)),
    "mean over an axis": (np.mean, (X_NUMPY, 0)),
    "std": (np.std, (X_NUMPY,)),
    "exp": (np.exp, (X_NUMPY,)),
    "tanh": (np.tanh, (X_NUMPY,)),
    "matmul": (np.matmul, (X_NUMPY, X_NUMPY.T)),
    "concatenate": (np.concatenate, ([X_NUMPY, X_NUMPY],)),
    "reshape": (np.reshape, (X_NUMPY, (32, 16))),
    "transpose": (np.transpose, (X_NUMPY,)),
    "maximum": (np.maximum, (X_NUMPY, 0.0)),
    "slice": (operator.getitem, (X_NUMPY, (slice(2, 5), 1))),
    "integer array": (operator.getitem, (X_NUMPY, np.array([3, 0, 7]))),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_rules_on_cupy_arrays_stay_on_the_gpu_and_agree_with_numpy(name):
    f, args = CALLS[name]

    def to_gpu(a):
        if isinstance(a, list):
            return [to_gpu(v) for v in a]
        return cp.asarray(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a

    y, pullback = rrule(f, *map(to_gpu, args))
    expected_y, expected_pullback = rrule(f, *args)
    assert isinstance(y, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(y), expected_y, rtol=1e-10)
    dy = RNG.standard_normal(np.shape(expected_y))
    got = [unthunk(d) for d in pullback(cp.asarray(dy))[1:]]
    want = [unthunk(d) for d in expected_pullback(dy)[1:]]
    for g, w in zip(got, want, strict=True):
        if isinstance(w, AbstractZero):
            assert isinstance(g, AbstractZero)
        elif isinstance(w, Tangent):  # of the list that concatenate joins
            for gi, wi in zip(g, w, strict=True):
                np.testing.assert_allclose(cp.asnumpy(gi), wi, rtol=1e-10)
        else:
            assert isinstance(g, cp.ndarray), type(g)
            np.testing.assert_allclose(cp.asnumpy(g), w, rtol=1e-10)
