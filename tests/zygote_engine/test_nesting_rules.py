"""Second derivatives through the rule library: nested differentiation of each rule.

For each case, a small smooth scalar loss built from one library function (a numpy ufunc, an
operator, a reduction or method, a shape operation, a linear-algebra routine, a ``scipy.special``
function, a ``math`` function), the Hessian-vector product is computed

* forward over reverse: ``jvp`` of ``gradient(loss, ·)`` along a fixed random direction ``v``;
* reverse over reverse: ``hessian_reverse(loss, x) @ v``, for every linear-algebra case and a
  sample of the others (it costs about twice as much);
* and, for a number ``x`` (the ``math`` cases), reverse over reverse again: ``gradient`` of
  ``gradient(loss, ·)``;

and each is checked against second differences of the loss itself, computed with plain numpy
and never with the engine: ``H v ≈ (g(x + h v) - g(x - h v)) / 2h`` with ``g`` the
central-difference gradient of the loss. Inputs are float64, inside each function's domain, away
from its kinks and branch points; matrices are well conditioned, and eigenvalues and singular
values distinct.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from zygote_engine import gradient, hessian_reverse, jvp

_rng = np.random.default_rng(20240607)

# weights that make each loss asymmetric
W2 = _rng.standard_normal(2)
W3 = _rng.standard_normal(3)
W4 = _rng.standard_normal(4)
W6 = _rng.standard_normal(6)
W23 = _rng.standard_normal((2, 3))
W32 = _rng.standard_normal((3, 2))
W33 = _rng.standard_normal((3, 3))
W44 = _rng.standard_normal((4, 4))
# constants combined with the input
P3 = _rng.uniform(0.5, 1.5, 3)
Q3 = _rng.uniform(0.5, 1.5, 3)
B3 = _rng.standard_normal(3)
B32 = _rng.standard_normal((3, 2))
B33 = _rng.standard_normal((3, 3))
B22 = _rng.standard_normal((2, 2))
MASK3 = np.array([True, False, True])
INDEX = np.array([2, 0, 2, 1])

# inputs
X_UNIT = _rng.uniform(0.2, 0.8, 3)  # inside (-1, 1) and (0, 1): arcsin, arctanh, logit, ...
X_POS = _rng.uniform(0.5, 1.5, 3)  # positive: log, sqrt, power, gammaln, ...
X_BIG = _rng.uniform(1.2, 2.0, 3)  # above 1: arccosh
X_ANY = _rng.standard_normal(3)  # anywhere
X_SIGNED = np.array([0.7, -0.4, 1.1])  # away from 0, both signs: abs
X23 = _rng.uniform(0.5, 1.5, (2, 3))
X23_ANY = _rng.standard_normal((2, 3))
X32 = _rng.standard_normal((3, 2))
X22 = _rng.standard_normal((2, 2))
X4 = _rng.uniform(0.5, 1.5, 4)
X_DISTINCT = np.array([0.3, 1.1, -0.6, 0.8])  # a clear maximum and minimum, sorted order fixed
X_MAXMIN = np.array([0.3, 0.7, 0.5])  # against K_MAXMIN: each side chosen somewhere
K_MAXMIN = np.array([0.5, 0.4, 0.6])
X_CLIP = np.array([0.1, 0.5, 0.9])  # clipped to (0.3, 0.7) at both ends, one inside
MATRIX = np.eye(3) * 2.0 + 0.4 * _rng.standard_normal((3, 3))  # well conditioned
MATRIX_SMALL = 0.3 * _rng.standard_normal((3, 3))  # for expm and matrix powers

# every case draws its direction afresh from this seed: it depends on the input's shape only
_DIRECTION_SEED = 7


def _case(name, loss, x):
    return pytest.param(loss, x, id=name)


NUMPY_UFUNCS = [
    _case("np.sin", lambda x: np.sum(W3 * np.sin(x)), X_ANY),
    _case("np.cos", lambda x: np.sum(W3 * np.cos(x)), X_ANY),
    _case("np.tan", lambda x: np.sum(W3 * np.tan(x)), X_UNIT),
    _case("np.arcsin", lambda x: np.sum(W3 * np.arcsin(x)), X_UNIT),
    _case("np.arccos", lambda x: np.sum(W3 * np.arccos(x)), X_UNIT),
    _case("np.arctan", lambda x: np.sum(W3 * np.arctan(x)), X_ANY),
    _case("np.sinh", lambda x: np.sum(W3 * np.sinh(x)), X_ANY),
    _case("np.cosh", lambda x: np.sum(W3 * np.cosh(x)), X_ANY),
    _case("np.tanh", lambda x: np.sum(W3 * np.tanh(x)), X_ANY),
    _case("np.arcsinh", lambda x: np.sum(W3 * np.arcsinh(x)), X_ANY),
    _case("np.arccosh", lambda x: np.sum(W3 * np.arccosh(x)), X_BIG),
    _case("np.arctanh", lambda x: np.sum(W3 * np.arctanh(x)), X_UNIT),
    _case("np.exp", lambda x: np.sum(W3 * np.exp(x)), X_ANY),
    _case("np.exp2", lambda x: np.sum(W3 * np.exp2(x)), X_ANY),
    _case("np.expm1", lambda x: np.sum(W3 * np.expm1(x)), X_ANY),
    _case("np.log", lambda x: np.sum(W3 * np.log(x)), X_POS),
    _case("np.log2", lambda x: np.sum(W3 * np.log2(x)), X_POS),
    _case("np.log10", lambda x: np.sum(W3 * np.log10(x)), X_POS),
    _case("np.log1p", lambda x: np.sum(W3 * np.log1p(x)), X_POS),
    _case("np.sqrt", lambda x: np.sum(W3 * np.sqrt(x)), X_POS),
    _case("np.cbrt", lambda x: np.sum(W3 * np.cbrt(x)), X_POS),
    _case("np.square", lambda x: np.sum(W3 * np.square(np.sin(x))), X_ANY),
    _case("np.reciprocal", lambda x: np.sum(W3 * np.reciprocal(x)), X_POS),
    _case("np.abs", lambda x: np.sum(W3 * np.abs(x) ** 3), X_SIGNED),
    _case("np.negative", lambda x: np.sum(W3 * np.exp(np.negative(x))), X_ANY),
    _case("np.power_array_array", lambda x: np.sum(W3 * np.power(x, P3 * x + Q3)), X_POS),
    _case("np.power_array_scalar", lambda x: np.sum(W3 * np.power(x, 2.5)), X_POS),
    _case("np.power_scalar_array", lambda x: np.sum(W3 * np.power(2.5, x)), X_ANY),
    _case("np.float_power", lambda x: np.sum(W3 * np.float_power(x, P3 * x)), X_POS),
    _case("np.hypot", lambda x: np.sum(W3 * np.hypot(x, P3 * x + Q3)), X_ANY),
    _case("np.arctan2", lambda x: np.sum(W3 * np.arctan2(x, P3 * x + Q3)), X_POS),
    _case("np.logaddexp", lambda x: np.sum(W3 * np.logaddexp(x, P3 * x**2)), X_ANY),
    _case("np.logaddexp2", lambda x: np.sum(W3 * np.logaddexp2(x, P3 * x**2)), X_ANY),
    _case("np.maximum", lambda x: np.sum(W3 * np.maximum(x, K_MAXMIN) ** 3), X_MAXMIN),
    _case("np.minimum", lambda x: np.sum(W3 * np.minimum(x, K_MAXMIN) ** 3), X_MAXMIN),
    _case("np.true_divide", lambda x: np.sum(W3 * np.true_divide(x, P3 * x + Q3)), X_POS),
    _case("np.multiply", lambda x: np.sum(W3 * np.multiply(x, np.sin(x))), X_ANY),
    _case("np.add", lambda x: np.sum(W3 * np.sin(np.add(x, x**2))), X_ANY),
    _case("np.subtract", lambda x: np.sum(W3 * np.sin(np.subtract(x, x**2))), X_ANY),
    _case("np.deg2rad", lambda x: np.sum(W3 * np.sin(np.deg2rad(60.0 * x))), X_ANY),
    _case("np.rad2deg", lambda x: np.sum(W3 * np.sin(np.rad2deg(x) / 60.0)), X_ANY),
    _case("np.sinc", lambda x: np.sum(W3 * np.sinc(x)), X_POS),
    _case("np.broadcast_binary", lambda x: np.sum(W23 * np.hypot(x, x[0])), X23),
]

OPERATORS = [
    _case("op.add", lambda x: np.sum(W3 * np.sin(x + x**2)), X_ANY),
    _case("op.sub", lambda x: np.sum(W3 * np.sin(x - x**2)), X_ANY),
    _case("op.mul", lambda x: np.sum(W3 * x * np.cos(x)), X_ANY),
    _case("op.truediv", lambda x: np.sum(W3 * np.sin(x) / (x + Q3)), X_POS),
    _case("op.rtruediv", lambda x: np.sum(W3 * (2.0 / x)), X_POS),
    _case("op.pow_array_array", lambda x: np.sum(W3 * x ** (P3 * x)), X_POS),
    _case("op.pow_array_scalar", lambda x: np.sum(W3 * x**3.5), X_POS),
    _case("op.pow_scalar_array", lambda x: np.sum(W3 * 1.7**x), X_ANY),
    _case("op.matmul_matrix", lambda x: np.sum(W33 * np.sin(x @ x)), MATRIX_SMALL),
    _case("op.matmul_vector", lambda x: np.sin(x @ B33 @ x), X_ANY),
    _case("op.neg", lambda x: np.sum(W3 * np.exp(-x)), X_ANY),
    _case("op.shifted_products", lambda x: np.sum(W2 * x[1:] * x[:-1]), X_ANY),
    _case("op.fancy_index", lambda x: np.sum(W4 * np.sin(x[INDEX])), X_ANY),
    _case("op.mask_index", lambda x: np.sum(W2 * np.sin(x[MASK3]) ** 2), X_ANY),
    _case("op.newaxis", lambda x: np.sum(W3 * np.sin(x[None]) ** 2), X_ANY),
    _case("op.T", lambda x: np.sum(W32 * np.sin(x.T) * x.T), X23_ANY),
]

REDUCTIONS = [
    _case("np.sum_axis", lambda x: np.sum(W3 * np.sum(x**2, axis=0) ** 2), X23_ANY),
    _case("np.mean", lambda x: np.mean(x) ** 3 + np.sum(W3 * np.mean(x**3, axis=0)), X23_ANY),
    _case("np.prod", lambda x: np.prod(x), X23),
    _case("np.var", lambda x: np.var(W3 * x), X_ANY),
    _case("np.std", lambda x: np.std(W3 * x), X_ANY),
    _case("np.max", lambda x: np.max(np.sin(x)) ** 2, X_DISTINCT),
    _case("np.min", lambda x: np.min(np.sin(x)) ** 2, X_DISTINCT),
    _case("np.cumsum", lambda x: np.sum(W3 * np.cumsum(x) ** 2), X_ANY),
    _case("np.cumprod", lambda x: np.sum(W3 * np.cumprod(x)), X_POS),
    _case("np.diff", lambda x: np.sum(W3 * np.diff(x) ** 3), X4),
    _case("np.dot", lambda x: np.dot(x, B33 @ x) * np.dot(B3, x), X_ANY),
    _case("np.vdot", lambda x: np.vdot(x, x) * np.vdot(B3, x), X_ANY),
    _case("np.inner", lambda x: np.inner(x, np.sin(x)), X_ANY),
    _case("np.outer", lambda x: np.sum(W33 * np.outer(x, x**2)), X_ANY),
    _case("np.einsum", lambda x: np.einsum("ij,ik,jk->", x, x, B33), X23_ANY),
    _case("np.tensordot", lambda x: np.sum(W33 * np.tensordot(x, x, axes=(0, 0))), X23_ANY),
    _case("np.trace", lambda x: np.trace(x @ x @ B33), MATRIX_SMALL),
    _case("np.linalg.norm_vector", lambda x: np.linalg.norm(W3 * x), X_ANY),
    _case("np.linalg.norm_vector_ord1", lambda x: np.linalg.norm(x, 1) ** 2, X_SIGNED),
    _case("np.linalg.norm_matrix", lambda x: np.linalg.norm(W23 * x), X23_ANY),
    _case("np.linalg.norm_matrix_ord2", lambda x: np.linalg.norm(x, 2), X23_ANY),
    _case("np.linalg.norm_matrix_ord1", lambda x: np.linalg.norm(x, 1) ** 2, X23_ANY),
    _case("np.linalg.norm_nuc", lambda x: np.linalg.norm(x, "nuc"), X23_ANY),
]

METHODS = [
    _case("ndarray.sum", lambda x: np.sin(x.sum()) + np.sum(W3 * x.sum(axis=0) ** 2), X23_ANY),
    _case("ndarray.prod", lambda x: x.prod() + np.sum(W3 * x.prod(axis=0)), X23),
    _case("ndarray.var", lambda x: (W3 * x).var(), X_ANY),
    _case("ndarray.mean", lambda x: np.sum(W2 * x.mean(axis=1) ** 3), X23_ANY),
    _case("ndarray.std", lambda x: (W3 * x).std(), X_ANY),
    _case("ndarray.min", lambda x: np.sin(x).min() ** 2, X_DISTINCT),
    _case("ndarray.cumsum", lambda x: np.sum(W3 * x.cumsum() ** 2), X_ANY),
    _case("ndarray.ravel", lambda x: np.sum(W6 * x.ravel() ** 3), X23_ANY),
    _case("ndarray.transpose", lambda x: np.sum(W32 * x.transpose() ** 3), X23_ANY),
    _case("ndarray.copy", lambda x: np.sum(W3 * x.copy() ** 3), X_ANY),
    _case("ndarray.squeeze", lambda x: np.sum(W3 * x[None].squeeze() ** 3), X_ANY),
    _case("ndarray.max", lambda x: np.sin(x).max() ** 2, X_DISTINCT),
    _case("ndarray.dot", lambda x: np.sum(W3 * np.sin(x.dot(B33))), X_ANY),
    _case(
        "ndarray.reshape",
        lambda x: np.sum(W32 * np.sin(x.reshape(3, 2)) * x.reshape(3, 2)),
        X23_ANY,
    ),
    _case("ndarray.flatten", lambda x: np.sum(W6 * x.flatten() ** 3), X23_ANY),
    _case("ndarray.T", lambda x: np.sum(W32 * np.exp(x.T)), X23_ANY),
    _case("ndarray.clip", lambda x: np.sum(W3 * x.clip(0.3, 0.7) * x), X_CLIP),
    _case("np.clip", lambda x: np.sum(W3 * np.clip(x, 0.3, 0.7) * x), X_CLIP),
    _case("ndarray.astype", lambda x: np.sum(W3 * x.astype(np.float64) ** 3), X_ANY),
    _case("ndarray.repeat", lambda x: np.sum(W6 * x.repeat(2) ** 3), X_ANY),
    _case("ndarray.take", lambda x: np.sum(W4 * x.take(INDEX) ** 3), X_ANY),
    _case("ndarray.diagonal", lambda x: np.sum(W3 * x.diagonal() ** 3), MATRIX),
    _case("ndarray.trace", lambda x: (x @ x).trace(), MATRIX_SMALL),
]

SHAPE_OPS = [
    _case("np.reshape", lambda x: np.sum(W32 * np.reshape(x, (3, 2)) ** 3), X23_ANY),
    _case("np.transpose", lambda x: np.sum(W32 * np.transpose(x) ** 3), X23_ANY),
    _case("np.concatenate", lambda x: np.sum(W6 * np.sin(np.concatenate([x, x**2]))), X_ANY),
    _case("np.stack", lambda x: np.sum(W23 * np.stack([x, np.sin(x)]) ** 2), X_ANY),
    _case("np.hstack", lambda x: np.sum(W6 * np.hstack([x**2, x]) ** 2), X_ANY),
    _case("np.vstack", lambda x: np.sum(W23 * np.vstack([x, x**2]) ** 2), X_ANY),
    _case(
        "np.split_sum", lambda x: sum(np.sum(w * p**3) for w, p in zip(W3, np.split(x, 3))), X_ANY
    ),
    _case("np.tile", lambda x: np.sum(W6 * np.tile(x, 2) ** 3), X_ANY),
    _case("np.repeat", lambda x: np.sum(W6 * np.repeat(x, 2) ** 3), X_ANY),
    _case("np.flip", lambda x: np.sum(W3 * x * np.flip(x) ** 2), X_ANY),
    _case("np.roll", lambda x: np.sum(W3 * x * np.roll(x, 1) ** 2), X_ANY),
    _case("np.pad", lambda x: np.sum(W6 * np.pad(x, (1, 2)) ** 3), X_ANY),
    _case("np.where", lambda x: np.sum(W3 * np.where(MASK3, x**2, np.sin(x))), X_ANY),
    _case("np.expand_dims", lambda x: np.sum(W3 * np.expand_dims(x, 0) ** 3), X_ANY),
    _case("np.squeeze", lambda x: np.sum(W3 * np.squeeze(x[:, None]) ** 3), X_ANY),
    _case("np.broadcast_to", lambda x: np.sum(W23 * np.broadcast_to(x, (2, 3)) ** 3), X_ANY),
    _case("np.triu", lambda x: np.sum(W33 * np.triu(x) ** 3), MATRIX),
    _case("np.tril", lambda x: np.sum(W33 * np.tril(x) ** 3), MATRIX),
    _case("np.diag_vector", lambda x: np.sum(W33 * np.sin(np.diag(x))), X_ANY),
    _case("np.diag_matrix", lambda x: np.sum(W3 * np.diag(x) ** 3), MATRIX),
    _case("np.kron", lambda x: np.sum(W44 * np.kron(x, B22 + x**2)), X22),
    _case("np.sort", lambda x: np.sum(W4 * np.sort(x) ** 3), X_DISTINCT),
]

LINALG = [
    _case("np.linalg.inv", lambda x: np.sum(W33 * np.linalg.inv(x)), MATRIX),
    _case("np.linalg.det", lambda x: np.linalg.det(x), MATRIX),
    _case("np.linalg.slogdet", lambda x: np.linalg.slogdet(x)[1], MATRIX),
    _case("np.linalg.solve_matrix", lambda x: np.sum(W3 * np.linalg.solve(x, B3)), MATRIX),
    _case("np.linalg.solve_rhs", lambda x: np.sum(W3 * np.linalg.solve(MATRIX, x) ** 3), X_ANY),
    _case("np.linalg.solve_both", lambda x: np.sum(W32 * np.linalg.solve(x, x @ B32)), MATRIX),
    _case(
        "np.linalg.cholesky",
        lambda x: np.sum(W33 * np.linalg.cholesky(x @ x.T + np.eye(3))),
        MATRIX,
    ),
    _case("np.linalg.qr_r", lambda x: np.sum(W33 * np.linalg.qr(x)[1]), MATRIX),
    _case("np.linalg.qr_q", lambda x: np.sum(W33 * np.linalg.qr(x)[0]), MATRIX),
    _case("np.linalg.eigh_values", lambda x: np.sum(W3 * np.linalg.eigh(x + x.T)[0]), MATRIX),
    _case("np.linalg.eigvalsh", lambda x: np.sum(W3 * np.linalg.eigvalsh(x + x.T)), MATRIX),
    _case("np.linalg.svd_values", lambda x: np.sum(W2 * np.linalg.svd(x)[1]), X23_ANY),
    _case(
        "np.linalg.svd_compute_uv_false",
        lambda x: np.sum(W2 * np.linalg.svd(x, compute_uv=False)),
        X23_ANY,
    ),
    _case("np.linalg.pinv", lambda x: np.sum(W32 * np.linalg.pinv(x)), X23_ANY),
    _case(
        "np.linalg.matrix_power", lambda x: np.sum(W33 * np.linalg.matrix_power(x, 3)), MATRIX_SMALL
    ),
    _case("np.linalg.lstsq", lambda x: np.sum(W2 * np.linalg.lstsq(x, B3)[0]), X32),
    _case(
        "np.linalg.multi_dot",
        lambda x: np.sum(W33 * np.linalg.multi_dot([x, B32, B32.T, x])),
        MATRIX_SMALL,
    ),
    _case("scipy.linalg.expm", lambda x: np.sum(W33 * scipy.linalg.expm(x)), MATRIX_SMALL),
    _case("scipy.linalg.inv", lambda x: np.sum(W33 * scipy.linalg.inv(x)), MATRIX),
    _case("scipy.linalg.det", lambda x: scipy.linalg.det(x) ** 2, MATRIX),
    _case("scipy.linalg.solve", lambda x: np.sum(W3 * scipy.linalg.solve(x, B3)), MATRIX),
    _case(
        "scipy.linalg.cholesky",
        lambda x: np.sum(W33 * scipy.linalg.cholesky(x @ x.T + np.eye(3), lower=True)),
        MATRIX,
    ),
    _case(
        "scipy.linalg.solve_triangular",
        lambda x: np.sum(W3 * scipy.linalg.solve_triangular(np.triu(x), B3) ** 2),
        MATRIX,
    ),
]

SCIPY_SPECIAL = [
    _case("special.gammaln", lambda x: np.sum(W3 * scipy.special.gammaln(x)), X_POS),
    _case("special.digamma", lambda x: np.sum(W3 * scipy.special.digamma(x)), X_POS),
    _case("special.erf", lambda x: np.sum(W3 * scipy.special.erf(x)), X_ANY),
    _case("special.erfc", lambda x: np.sum(W3 * scipy.special.erfc(x)), X_ANY),
    _case("special.ndtr", lambda x: np.sum(W3 * scipy.special.ndtr(x)), X_ANY),
    _case("special.log_ndtr", lambda x: np.sum(W3 * scipy.special.log_ndtr(x)), X_ANY),
    _case("special.expit", lambda x: np.sum(W3 * scipy.special.expit(x)), X_ANY),
    _case("special.logit", lambda x: np.sum(W3 * scipy.special.logit(x)), X_UNIT),
    _case("special.logsumexp", lambda x: scipy.special.logsumexp(W3 * x), X_ANY),
    _case(
        "special.logsumexp_axis",
        lambda x: np.sum(W2 * scipy.special.logsumexp(x, axis=1)),
        X23_ANY,
    ),
    _case("special.softmax", lambda x: np.sum(W3 * scipy.special.softmax(x)), X_ANY),
    _case("special.log_softmax", lambda x: np.sum(W3 * scipy.special.log_softmax(x)), X_ANY),
    _case("special.xlogy", lambda x: np.sum(W3 * scipy.special.xlogy(x, P3 * x + Q3)), X_POS),
    _case("special.betaln", lambda x: np.sum(W3 * scipy.special.betaln(x, P3 + x**2)), X_POS),
    _case("special.i0", lambda x: np.sum(W3 * scipy.special.i0(x)), X_ANY),
    _case("special.i1", lambda x: np.sum(W3 * scipy.special.i1(x)), X_ANY),
]

MATH = [
    _case("math.sin", lambda x: math.sin(x), 0.7),
    _case("math.cos", lambda x: math.cos(x), 0.7),
    _case("math.tan", lambda x: math.tan(x), 0.7),
    _case("math.asin", lambda x: math.asin(x), 0.4),
    _case("math.atan", lambda x: math.atan(x), 0.7),
    _case("math.tanh", lambda x: math.tanh(x), 0.7),
    _case("math.exp", lambda x: math.exp(x), 0.7),
    _case("math.expm1", lambda x: math.expm1(x), 0.7),
    _case("math.log", lambda x: math.log(x), 0.7),
    _case("math.log_base", lambda x: math.log(x, 3.0), 0.7),
    _case("math.log1p", lambda x: math.log1p(x), 0.7),
    _case("math.sqrt", lambda x: math.sqrt(x), 0.7),
    *([_case("math.cbrt", lambda x: math.cbrt(x), 0.7)] if hasattr(math, "cbrt") else []),  # 3.11+
    _case("math.erf", lambda x: math.erf(x), 0.7),
    _case("math.gamma", lambda x: math.gamma(x), 1.7),
    _case("math.lgamma", lambda x: math.lgamma(x), 1.7),
    _case("math.atan2", lambda x: math.atan2(x, 1.3 * x + 0.4), 0.7),
    _case("math.hypot", lambda x: math.hypot(x, 1.3 * x**2 + 0.4), 0.7),
    _case("math.pow", lambda x: math.pow(x, 1.3 * x + 0.4), 0.7),
    _case("math.dist", lambda x: math.dist((x, 2.0 * x), (0.3, x**2)), 0.7),
    _case("builtins.pow", lambda x: pow(x, 1.3 * x + 0.4), 0.7),
    _case("builtins.abs", lambda x: abs(x) ** 3, -0.7),
    _case("float.pow", lambda x: x ** (1.3 * x), 0.7),
]

CASES = NUMPY_UFUNCS + OPERATORS + REDUCTIONS + METHODS + SHAPE_OPS + LINALG + SCIPY_SPECIAL + MATH

# Reverse over reverse costs about twice forward over reverse; for the module's running time it
# checks every linear-algebra rule but only a sample of the others (the math cases have their
# own reverse over reverse check, gradient of gradient).
_REVERSE_OVER_REVERSE = {
    *(case.id for case in LINALG),
    "np.sin",
    "np.power_array_array",
    "np.hypot",
    "np.sinc",
    "np.broadcast_binary",
    "op.matmul_matrix",
    "op.fancy_index",
    "np.prod",
    "np.max",
    "ndarray.flatten",
    "np.where",
    "special.logsumexp",
}
REVERSE_CASES = [case for case in CASES if case.id in _REVERSE_OVER_REVERSE]
assert len(REVERSE_CASES) == len(_REVERSE_OVER_REVERSE), "an unknown case id"


# --- the reference: second differences of the loss, with plain numpy --------------------------


def _copy(x):
    return x.copy() if isinstance(x, np.ndarray) else x


def _fd_gradient(loss, x, h=1e-5):
    """Central differences of ``loss`` at ``x`` (a float or a float array)."""
    if not isinstance(x, np.ndarray):
        return (float(loss(x + h)) - float(loss(x - h))) / (2 * h)
    g = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        g[index] = (float(loss(plus)) - float(loss(minus))) / (2 * h)
    return g


def _second_differences(loss, x, v, h=1e-4):
    """``H v`` from central differences, along ``v``, of the central-difference gradient."""
    return (_fd_gradient(loss, x + h * v) - _fd_gradient(loss, x - h * v)) / (2 * h)


def _direction(x):
    rng = np.random.default_rng(_DIRECTION_SEED)
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape)
    return float(rng.standard_normal())


def _assert_close(got, expected):
    assert got is not None, "no Hessian-vector product (None)"
    got = np.asarray(got, dtype=float)
    assert got.shape == np.shape(expected), (got.shape, np.shape(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


# --- the checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(("loss", "x"), CASES)
def test_forward_over_reverse_hessian_vector_product(loss, x):
    v = _direction(x)
    expected = _second_differences(loss, x, v)
    _, hvp = jvp(lambda y: gradient(loss, y)[0], (_copy(x),), (_copy(v),))
    _assert_close(hvp, expected)


@pytest.mark.parametrize(("loss", "x"), REVERSE_CASES)
def test_reverse_over_reverse_hessian_times_direction(loss, x):
    v = _direction(x)
    expected = _second_differences(loss, x, v)
    h = hessian_reverse(loss, _copy(x))  # (x.size, x.size), of the raveled x; a number for a number
    got = np.reshape(np.reshape(h, (np.size(x), np.size(x))) @ np.ravel(v), np.shape(x))
    _assert_close(got, expected)


@pytest.mark.parametrize(("loss", "x"), MATH)
def test_gradient_of_gradient_of_a_number(loss, x):
    expected = _second_differences(loss, x, 1.0)
    got = gradient(lambda y: gradient(loss, y)[0], x)[0]
    _assert_close(got, expected)
