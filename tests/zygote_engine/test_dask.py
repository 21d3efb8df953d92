"""Differentiating code over dask arrays: the graph stays lazy and chunked, the gradients are dask
arrays equal to the numpy results, computed on the threaded scheduler or on a local cluster."""

import numpy as np
import pytest
from duck_array import Wrapped

from zygote_engine import Params, gradient, jvp, withgradient

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("dask.distributed")

RNG = np.random.default_rng(0)
N, D, CHUNK = 1000, 5, 250
X_NUMPY = RNG.standard_normal((N, D))
LABELS_NUMPY = (RNG.random(N) > 0.5).astype(float)
TARGETS_NUMPY = X_NUMPY @ RNG.standard_normal(D) + 0.1 * RNG.standard_normal(N)
X = da.from_array(X_NUMPY, chunks=(CHUNK, D))
LABELS = da.from_array(LABELS_NUMPY, chunks=CHUNK)
TARGETS = da.from_array(TARGETS_NUMPY, chunks=CHUNK)
W0 = RNG.standard_normal(D)


def logistic_loss(w, X, labels):
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - labels * z)


def least_squares(w, X, targets):
    residual = X.dot(w) - targets
    return (residual**2).sum() / X.shape[0]


def logistic_gradient(w):
    """By hand: the mean of (sigmoid(z) - label) x."""
    z = X_NUMPY @ w
    return X_NUMPY.T @ (1 / (1 + np.exp(-z)) - LABELS_NUMPY) / N


def least_squares_gradient(w):
    return 2 * X_NUMPY.T @ (X_NUMPY @ w - TARGETS_NUMPY) / N


def _refuse(dsk, keys, **kwargs):
    raise AssertionError("a dask array was computed while differentiating")


@pytest.fixture
def no_computing():
    """Differentiating must only build the graph: any compute fails the test."""
    with dask.config.set(scheduler=_refuse):
        yield


def chunked_logistic(w):
    return logistic_loss(w, X, LABELS)


def chunked_least_squares(w):
    return least_squares(w, X, TARGETS)


PROBLEMS = {
    "logistic regression": (chunked_logistic, logistic_gradient),
    "least squares": (chunked_least_squares, least_squares_gradient),
}


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_the_gradient_over_chunked_data_is_a_lazy_dask_array(problem, no_computing):
    loss, _ = PROBLEMS[problem]
    (g,) = gradient(loss, W0)
    assert isinstance(g, da.Array) and g.shape == (D,)


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_the_gradient_over_chunked_data_equals_the_analytic_one_on_threads(problem):
    loss, by_hand = PROBLEMS[problem]
    (g,) = gradient(loss, W0)
    np.testing.assert_allclose(dask.compute(g, scheduler="threads")[0], by_hand(W0), rtol=1e-12)


@pytest.fixture(scope="module")
def cluster_client():
    """A local cluster of two worker processes, on the loopback interface only."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield client


@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_the_gradient_computes_on_a_local_cluster(problem, cluster_client):
    loss, by_hand = PROBLEMS[problem]
    (g,) = gradient(loss, W0)
    np.testing.assert_allclose(cluster_client.compute(g).result(), by_hand(W0), rtol=1e-12)


def test_withgradient_gives_a_loss_and_gradient_computed_in_one_pass(no_computing):
    value, (g,) = withgradient(chunked_least_squares, W0)
    with dask.config.set(scheduler="threads"):
        value, g = dask.compute(value, g)
    assert value == pytest.approx(np.sum((X_NUMPY @ W0 - TARGETS_NUMPY) ** 2) / N)
    np.testing.assert_allclose(g, least_squares_gradient(W0), rtol=1e-12)


def test_a_dask_parameter_gets_a_dask_gradient():
    w = da.from_array(W0, chunks=D)
    (g,) = gradient(lambda w: least_squares(w, X, TARGETS), w)
    assert isinstance(g, da.Array)
    np.testing.assert_allclose(g.compute(), least_squares_gradient(W0), rtol=1e-12)


def test_the_data_as_an_argument_gets_its_gradient_too():
    # d/dX of mean(logaddexp(0, Xw) - label Xw) = (sigmoid(Xw) - label) w^T / N
    _, gx, _ = gradient(logistic_loss, W0, X, LABELS)
    assert isinstance(gx, da.Array) and gx.chunks == X.chunks
    z = X_NUMPY @ W0
    expected = np.outer(1 / (1 + np.exp(-z)) - LABELS_NUMPY, W0) / N
    np.testing.assert_allclose(gx.compute(), expected, rtol=1e-12)


def test_forward_mode_over_chunked_data():
    direction = RNG.standard_normal(D)
    _, dy = jvp(chunked_logistic, (W0,), (direction,))
    assert isinstance(dy, da.Array)
    assert dy.compute() == pytest.approx(logistic_gradient(W0) @ direction, rel=1e-12)


def test_implicit_parameters_over_chunked_data():
    w = W0.copy()
    grads = gradient(lambda: chunked_least_squares(w), Params([w]))
    np.testing.assert_allclose(dask.compute(grads[w])[0], least_squares_gradient(W0), rtol=1e-12)


def test_methods_and_attributes_of_dask_arrays_use_the_ndarray_rules():
    def loss(w):
        scores = (X * w).sum(axis=1)
        return (scores.T @ scores) / X.shape[0] + X[:10, 0].mean() * w[0]

    # d/dw of |X w|^2 / N + mean(X[:10, 0]) w[0]
    expected = 2 * X_NUMPY.T @ (X_NUMPY @ W0) / N
    expected[0] += X_NUMPY[:10, 0].mean()
    np.testing.assert_allclose(gradient(loss, W0)[0].compute(), expected, rtol=1e-12)


def test_any_array_type_that_follows_the_protocols_works_unchanged():
    # tests/duck_array.py's Wrapped refuses np.asarray: the rules and the engine stay generic
    data = Wrapped(X_NUMPY)
    (g,) = gradient(lambda w: logistic_loss(w, data, LABELS_NUMPY), W0)
    assert type(g) is Wrapped
    np.testing.assert_allclose(g.data, logistic_gradient(W0), rtol=1e-12)
