"""Property tests: random compositions of registered rules, end to end, against finite differences.

Hypothesis draws an input shape and a chain of two or three functions from the catalogue below
(elementwise, broadcasting, reductions, element-moving and linear-algebra functions of numpy and
scipy, each in the argument form users write); the composed function's ``gradient`` and its
``jvp`` along a random direction must agree with central differences of the plain function.

CI runs a fixed, bounded set of examples (``derandomize``); ``nox -s properties`` runs many more
(the number comes from ``ZYGOTE_PROPERTY_EXAMPLES``).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.special
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zygote_engine import gradient, jvp

_EXAMPLES = int(os.environ.get("ZYGOTE_PROPERTY_EXAMPLES", "60"))

# Each entry: (name, function of one array, the least ndim it needs). The functions keep values
# bounded (inputs lie in [-1, 1]) and away from kinks and singularities, so that finite
# differences are a fair reference after two or three of them.


def _log_of_positive(a):
    return np.log1p(a * a)


def _root_of_positive(a):
    return np.sqrt(1.0 + a * a)


def _reciprocal(a):
    return 1.0 / (2.0 + np.sin(a))


def _power(a):
    return np.power(1.5 + np.tanh(a), 1.7)


def _hypot(a):
    return np.hypot(a, 0.5)


def _arctan2(a):
    return np.arctan2(a, 2.0 + np.cos(a))


def _expit(a):
    return scipy.special.expit(3.0 * a)


def _erf(a):
    return scipy.special.erf(a)


def _gammaln(a):
    return scipy.special.gammaln(2.0 + a * a)


def _sum_last_axis(a):
    return np.sum(a, axis=-1, keepdims=True)


def _mean_first_axis(a):
    return np.mean(a, axis=0)


def _cumsum(a):
    return np.cumsum(a, axis=-1)


def _cumprod(a):
    return np.cumprod(0.5 + 0.25 * a, axis=0)


def _std(a):
    return np.std(a, axis=-1, keepdims=True) + a


def _var(a):
    return np.var(a, axis=0) * 2.0


def _norm(a):
    return np.linalg.norm(a, axis=-1)


def _logsumexp(a):
    return scipy.special.logsumexp(a, axis=-1, keepdims=True)


def _softmax(a):
    return scipy.special.softmax(a, axis=-1)


def _prod(a):
    return np.prod(1.0 + 0.5 * a, axis=-1)


def _max(a):
    return np.max(a, axis=-1, keepdims=True) - a


def _transpose(a):
    return np.transpose(a)


def _flip(a):
    return np.flip(a, axis=0)


def _roll(a):
    return np.roll(a, 1, axis=-1)


def _ravel(a):
    return np.ravel(a)


def _sort(a):
    return np.sort(a, axis=-1)


def _concatenate(a):
    return np.concatenate([a, 2.0 * a], axis=0)


def _stack(a):
    return np.stack([a, np.sin(a)])


def _tile(a):
    return np.tile(a, 2)


def _pad(a):
    return np.pad(a, 1, mode="constant", constant_values=0.5)


def _reversed_slice(a):
    return a[::-1] * 1.5


def _where(a):
    return np.where(a > 0.0, a, 0.5 * a)


def _matrix(a):
    """``a`` as a matrix: its first axis, then the rest flattened."""
    return np.reshape(a, (np.shape(a)[0], -1))


def _outer(a):
    return np.outer(np.ravel(a), np.ravel(a)[:2])


def _gram(a):
    m = _matrix(a)
    return m @ m.T


def _inverse(a):
    m = _matrix(a)
    square = m.T @ m + 3.0 * np.eye(m.shape[1])
    return np.linalg.inv(square)


def _solve(a):
    m = _matrix(a)
    square = m.T @ m + 2.0 * np.eye(m.shape[1])
    return np.linalg.solve(square, np.ones(m.shape[1]))


def _logdet(a):
    m = _matrix(a)
    return np.linalg.slogdet(m.T @ m + np.eye(m.shape[1]))[1] + a


def _einsum(a):
    m = _matrix(a)
    return np.einsum("ij,ij->j", m, m)


def _broadcast_product(a):
    return a * a[..., :1] + a[:1]


def _eigvalsh(a):
    m = _matrix(a)
    return np.linalg.eigvalsh(m.T @ m + np.diag(np.arange(m.shape[1]) * 2.0))


def _singular_values(a):
    return np.linalg.svd(_matrix(a) + np.eye(*_matrix(a).shape), compute_uv=False)


def _det(a):
    m = _matrix(a)
    return np.linalg.det(m.T @ m + np.eye(m.shape[1])) * a


def _matrix_norm(a):
    return np.linalg.norm(_matrix(a), ord="fro") + a


def _median(a):
    return np.median(a, axis=-1)


def _quantile(a):
    return np.quantile(a, 0.3, axis=0)


def _convolve(a):
    return np.convolve(np.ravel(a), np.array([0.5, -1.0, 2.0]))


def _fft_power(a):
    return np.abs(np.fft.fft(a, axis=-1)) ** 2


def _rfft(a):
    return np.real(np.fft.rfft(a, axis=-1)) + np.imag(np.fft.rfft(a, axis=-1))


def _tensordot(a):
    return np.tensordot(a, a, axes=a.ndim) * np.ones(2)


def _kron(a):
    return np.kron(np.ravel(a)[:2], np.ravel(a))


def _triu(a):
    return np.triu(_matrix(a)) @ _matrix(a).T


def _diag(a):
    return np.diag(np.ravel(a))


def _clip(a):
    return np.clip(a, -0.95, 0.95) * 2.0


def _digamma(a):
    return scipy.special.digamma(2.0 + np.tanh(a))


def _bessel(a):
    return scipy.special.i0(np.tanh(a)) + scipy.special.kv(1.5, 2.0 + np.tanh(a))


def _xlogy(a):
    return scipy.special.xlogy(a, 2.0 + np.tanh(a))


def _log_ndtr(a):
    return scipy.special.log_ndtr(a)


def _trace_of_outer(a):
    return np.trace(np.outer(np.ravel(a), np.ravel(a))) + a


def _cross(a):
    v = np.resize(np.ravel(a), 3)
    return np.cross(v, np.array([0.3, -0.2, 1.0]))


CATALOGUE = [
    ("sin", np.sin),
    ("cos", np.cos),
    ("tanh", np.tanh),
    ("arctan", np.arctan),
    ("exp", np.exp),
    ("square", np.square),
    ("log1p of a square", _log_of_positive),
    ("sqrt", _root_of_positive),
    ("reciprocal", _reciprocal),
    ("power", _power),
    ("hypot", _hypot),
    ("arctan2", _arctan2),
    ("expit", _expit),
    ("erf", _erf),
    ("gammaln", _gammaln),
    ("sum", _sum_last_axis),
    ("mean", _mean_first_axis),
    ("cumsum", _cumsum),
    ("cumprod", _cumprod),
    ("std", _std),
    ("var", _var),
    ("norm", _norm),
    ("logsumexp", _logsumexp),
    ("softmax", _softmax),
    ("prod", _prod),
    ("max", _max),
    ("transpose", _transpose),
    ("flip", _flip),
    ("roll", _roll),
    ("ravel", _ravel),
    ("sort", _sort),
    ("concatenate", _concatenate),
    ("stack", _stack),
    ("tile", _tile),
    ("pad", _pad),
    ("reversed slice", _reversed_slice),
    ("where", _where),
    ("outer", _outer),
    ("gram", _gram),
    ("inverse", _inverse),
    ("solve", _solve),
    ("slogdet", _logdet),
    ("einsum", _einsum),
    ("broadcast product", _broadcast_product),
    ("eigvalsh", _eigvalsh),
    ("singular values", _singular_values),
    ("det", _det),
    ("Frobenius norm", _matrix_norm),
    ("median", _median),
    ("quantile", _quantile),
    ("convolve", _convolve),
    ("fft power", _fft_power),
    ("rfft", _rfft),
    ("tensordot", _tensordot),
    ("kron", _kron),
    ("triu", _triu),
    ("diag", _diag),
    ("clip", _clip),
    ("digamma", _digamma),
    ("bessel", _bessel),
    ("xlogy", _xlogy),
    ("log_ndtr", _log_ndtr),
    ("trace of outer", _trace_of_outer),
    ("cross", _cross),
]


def _chain(functions):
    """The composition of ``functions``, summed with fixed unequal weights to a number."""

    def composed(x):
        for f in functions:
            x = np.atleast_1d(f(x))  # a reduction to a number feeds the next function a vector
        weights = np.linspace(0.5, 1.5, np.size(x)).reshape(np.shape(x))
        return np.sum(weights * x)

    return composed


def _central_differences(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        g[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return g


@st.composite
def compositions(draw):
    shape = tuple(draw(st.lists(st.integers(2, 3), min_size=1, max_size=2)))
    picks = draw(st.lists(st.sampled_from(range(len(CATALOGUE))), min_size=2, max_size=3))
    seed = draw(st.integers(0, 2**32 - 1))
    return shape, [CATALOGUE[i] for i in picks], seed


@settings(
    max_examples=_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(compositions())
def test_a_composition_of_rules_matches_finite_differences_in_both_modes(case):
    shape, chain, seed = case
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=shape)
    names = " -> ".join(name for name, _ in chain)
    f = _chain([fn for _, fn in chain])
    expected = _central_differences(f, x)
    (got,) = gradient(f, x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=f"gradient: {names}")
    direction = rng.normal(size=shape)
    _, along = jvp(f, (x,), (direction,))
    np.testing.assert_allclose(
        along, np.sum(expected * direction), rtol=1e-5, atol=1e-6, err_msg=f"jvp: {names}"
    )


@pytest.mark.parametrize(("name", "function"), CATALOGUE, ids=[name for name, _ in CATALOGUE])
def test_each_catalogue_entry_alone(name, function):
    x = np.random.default_rng(0).uniform(-1.0, 1.0, size=(3, 2))
    f = _chain([function])
    np.testing.assert_allclose(gradient(f, x)[0], _central_differences(f, x), rtol=1e-5, atol=1e-6)
