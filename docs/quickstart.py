"""Quickstart: the gradient of a small numpy function, next to its analytic value."""

import numpy as np

from zygote_engine import gradient


def loss(w, x):
    """Mean squared error of a linear model with a tanh output."""
    y = np.tanh(x @ w)
    return np.mean((y - 1.0) ** 2)


def analytic_grad(w, x):
    y = np.tanh(x @ w)
    dy = 2.0 * (y - 1.0) / y.size
    return x.T @ (dy * (1.0 - y**2))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    w = rng.standard_normal(3)
    x = rng.standard_normal((5, 3))
    (dw, _) = gradient(loss, w, x)
    print("zygote_engine.gradient:", np.round(dw, 6))
    print("analytic gradient:     ", np.round(analytic_grad(w, x), 6))
    print("max difference:        ", float(np.max(np.abs(dw - analytic_grad(w, x)))))
