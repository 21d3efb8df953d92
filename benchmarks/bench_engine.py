"""Benchmark zygote_engine's gradient against hand-written gradients; prints a table of ratios.

Run: ``python benchmarks/bench_engine.py`` (add ``--quick`` for fewer repeats). Reports medians
of repeated timings and the median of the per-round ratios gradient / hand-written. Targets: MLP
within 1.3x of hand-written numpy; scalar code within 20x of hand-written pure-Python derivative
code; the first call (the transform) of a 50-line function under 20 ms.

Each hand-written baseline computes what ``gradient`` returns: for Horner's rule that is the
derivative in ``x`` *and* in every coefficient (a reverse sweep, as one would write it by hand).
The last Horner row compares against forward-mode code for the derivative in ``x`` alone, which
skips the coefficients' gradient: a stricter baseline, shown for reference.
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time
from collections.abc import Callable

import numpy as np

from zygote_engine import gradient, refresh


def mean_time(fn: Callable[[], object], number: int) -> float:
    """The mean time of ``number`` calls of ``fn``, in seconds."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def paired_times(
    ad: Callable[[], object], hand: Callable[[], object], repeats: int, number: int
) -> tuple[float, float, float]:
    """``(ad time, hand time, ratio)``: medians over ``repeats`` rounds that each time ``ad`` and
    ``hand`` (``number`` calls each, in alternating order), the ratio taken round by round, so
    that a machine whose speed drifts (these are shared) affects both sides of each ratio alike."""
    ad(), hand()  # warm up (transforms, caches)
    rounds = []
    for i in range(repeats):
        if i % 2:
            h = mean_time(hand, number)
            rounds.append((mean_time(ad, number), h))
        else:
            rounds.append((mean_time(ad, number), mean_time(hand, number)))
    return (
        statistics.median(a for a, _ in rounds),
        statistics.median(h for _, h in rounds),
        statistics.median(a / h for a, h in rounds),
    )


# --- Horner polynomial ----------------------------------------------------------------------------


def horner(x, coefficients):
    y = 0.0
    for c in coefficients:
        y = y * x + c
    return y


def horner_gradient(x, coefficients):
    ys = []
    y = 0.0
    for c in coefficients:
        ys.append(y)
        y = y * x + c
    dx, dy = 0.0, 1.0
    dcoefficients = [0.0] * len(coefficients)
    for i in range(len(coefficients) - 1, -1, -1):
        dcoefficients[i] = dy
        dx += dy * ys[i]
        dy *= x
    return dx, dcoefficients


def horner_derivative(x, coefficients):
    y = 0.0
    dy = 0.0
    for c in coefficients:
        dy = dy * x + y
        y = y * x + c
    return dy


# --- recursion ------------------------------------------------------------------------------------


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def power_derivative(x, n):
    if n == 0:
        return 1.0, 0.0
    y, dy = power_derivative(x, n - 1)
    return x * y, y + x * dy


# --- a loop of math calls -------------------------------------------------------------------------


def damped_wave(x, n):
    total = 0.0
    for i in range(n):
        total = total + math.sin(x * i) * math.exp(-0.01 * i)
    return total


def damped_wave_derivative(x, n):
    dx = 0.0
    for i in range(n):
        dx += math.cos(x * i) * i * math.exp(-0.01 * i)
    return dx


# --- 2-layer MLP ----------------------------------------------------------------------------------


def mlp_loss(W1, b1, W2, b2, x, target):
    h = np.tanh(x @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - target) ** 2)


def mlp_gradient(W1, b1, W2, b2, x, target, all_arguments=False):
    a = x @ W1 + b1
    h = np.tanh(a)
    out = h @ W2 + b2
    dout = 2.0 * (out - target) / out.size
    dW2 = h.T @ dout
    db2 = dout.sum(axis=0)
    dh = dout @ W2.T
    da = dh * (1.0 - h * h)
    dW1 = x.T @ da
    db1 = da.sum(axis=0)
    if all_arguments:  # what gradient(mlp_loss, ...) returns: the data's gradients too
        return dW1, db1, dW2, db2, da @ W1.T, -dout
    return dW1, db1, dW2, db2


# --- a 50-line function for the transform time ----------------------------------------------------


def recurrence(x, w):
    """A first-order filter written into an array in place: ``a[i] = a[i - 1] * w + x[i]``."""
    a = np.zeros(len(x))
    a[0] = x[0]
    for i in range(1, len(x)):
        a[i] = a[i - 1] * w + x[i]
    return np.sum(a * a)


def recurrence_gradient(x, w):
    """The reverse sweep of :func:`recurrence`, by hand."""
    a = np.zeros(len(x))
    a[0] = x[0]
    for i in range(1, len(x)):
        a[i] = a[i - 1] * w + x[i]
    da = 2.0 * a
    dx, dw = np.zeros(len(x)), 0.0
    for i in range(len(x) - 1, 0, -1):
        dx[i] = da[i]
        da[i - 1] += da[i] * w
        dw += da[i] * a[i - 1]
    dx[0] = da[0]
    return dx, dw


def weighted_elements(x, w):
    """A loop that reads a vector element by element: ``sum(x[i] * w**i)``."""
    total, scale = 0.0, 1.0
    for i in range(len(x)):
        total = total + x[i] * scale
        scale = scale * w
    return total


def weighted_elements_gradient(x, w):
    """The reverse sweep of :func:`weighted_elements`, by hand."""
    scales = [1.0]
    for _ in range(len(x) - 1):
        scales.append(scales[-1] * w)
    dx, dw, dscale = np.zeros(len(x)), 0.0, 0.0
    for i in range(len(x) - 1, -1, -1):
        dx[i] = scales[i]
        dscale += x[i]
        if i > 0:
            dw += dscale * scales[i - 1]
            dscale *= w
    return dx, dw


def rnn_loss(W, U, xs):
    """A tanh RNN over the steps ``xs[t]``, with a loss at every step."""
    h = np.zeros((xs.shape[1], W.shape[0]))
    total = 0.0
    for t in range(len(xs)):
        h = np.tanh(h @ W + xs[t] @ U)
        total = total + np.sum(h * h)
    return total


def rnn_gradient(W, U, xs):
    """Backpropagation through time of :func:`rnn_loss`, by hand."""
    hs = [np.zeros((xs.shape[1], W.shape[0]))]
    for t in range(len(xs)):
        hs.append(np.tanh(hs[-1] @ W + xs[t] @ U))
    dW, dU, dh = np.zeros_like(W), np.zeros_like(U), np.zeros_like(hs[0])
    for t in range(len(xs), 0, -1):
        dz = (dh + 2.0 * hs[t]) * (1.0 - hs[t] ** 2)
        dW += hs[t - 1].T @ dz
        dU += xs[t - 1].T @ dz
        dh = dz @ W.T
    return dW, dU


def fifty_lines(x, y, zs):
    a = x * y + 1.0
    b = a * a - x
    c = b / (1.0 + y * y)
    d = c * 2.0 if c > 0 else -c
    total = 0.0
    for z in zs:
        total = total + z * d
        if z > 1.0:
            total = total * 0.5
    k = 0
    while k < 3:
        total = total + k * a
        k += 1
    e = [total, a, b, c]
    f = e[0] * e[1] + e[2] - e[3]
    g, h = f * 2.0, f * 3.0
    g += h
    h *= g
    m = {"g": g, "h": h}
    n = m["g"] + m["h"]
    p = [v * v for v in e]
    q = p[0] + p[1] + p[2] + p[3]
    r = n * q if n > q else n + q
    s = r / 10.0
    t = s**2
    u = t - s
    v = u * x
    w = v + y
    aa = w * w
    bb = aa - w
    cc = bb * 0.5
    dd = cc + aa
    ee = dd * x
    ff = ee - y
    gg = ff * ff
    hh = gg / (1.0 + gg)
    ii = hh * a
    jj = ii + b
    kk = jj * c
    ll = kk - d
    mm = ll * ll
    nn = mm + 1.0
    return nn * 0.001


def first_call_times(repeats: int) -> tuple[float, float]:
    """Median seconds of a first call (the transform plus one gradient): wall-clock, and CPU time
    of this process, which leaves out the time other tenants of a shared machine take."""
    wall, cpu = [], []
    for _ in range(repeats):
        refresh()
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        gradient(fifty_lines, 1.5, 0.5, [0.5, 2.0])
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    repeats = 5 if parser.parse_args().quick else 15
    # First, before any numpy work: BLAS threads that spin after a matrix product slow the
    # pure-Python transform that follows on a two-core machine.
    wall, cpu = first_call_times(repeats)
    rows = []

    def row(name: str, ad, hand, number: int, target: str) -> None:
        rows.append((name, *paired_times(ad, hand, repeats, number), target))

    for degree in (10, 100, 1000):
        c = [float(v) for v in np.linspace(-1.0, 1.0, degree + 1)]
        number = max(1, 5000 // degree)
        ad = functools.partial(gradient, horner, 0.9, c)
        row(
            f"Horner polynomial, degree {degree}",
            ad,
            lambda c=c: horner_gradient(0.9, c),
            number,
            "20x",
        )
    row("  degree 1000 vs d/dx alone", ad, lambda: horner_derivative(0.9, c), number, "")
    row(
        "recursive power, depth 50",
        lambda: gradient(power, 1.01, 50),
        lambda: power_derivative(1.01, 50),
        100,
        "20x",
    )
    row(
        "loop of math calls, 100 iterations",
        lambda: gradient(damped_wave, 0.3, 100),
        lambda: damped_wave_derivative(0.3, 100),
        20,
        "20x",
    )
    for n in (100, 10000):  # the reads of one vector add into one buffer: ratios stay flat
        xs = np.linspace(-1.0, 1.0, n)
        row(
            f"vector read by element, n = {n}",
            lambda xs=xs: gradient(weighted_elements, xs, 0.999),
            lambda xs=xs: weighted_elements_gradient(xs, 0.999),
            max(1, 2000 // n),
            "",
        )
    for n in (100, 1000, 10000):  # the cost of a write is that of what it writes: ratios stay flat
        xs = np.linspace(-1.0, 1.0, n)
        row(
            f"array written in place, n = {n}",
            lambda xs=xs: gradient(recurrence, xs, 0.9),
            lambda xs=xs: recurrence_gradient(xs, 0.9),
            max(1, 2000 // n),
            "",
        )
    rng = np.random.default_rng(0)
    W, U = rng.normal(size=(64, 64)) * 0.1, rng.normal(size=(32, 64)) * 0.1
    for steps in (25, 100, 400):  # reads xs[t] add into one buffer: ratios stay flat in T
        xs = rng.normal(size=(steps, 16, 32))
        row(
            f"RNN, {steps} steps (data captured)",
            lambda xs=xs: gradient(lambda W, U: rnn_loss(W, U, xs), W, U),
            lambda xs=xs: rnn_gradient(W, U, xs),
            max(1, 200 // steps),
            "",
        )
    W1, b1 = rng.normal(size=(784, 256)) * 0.05, np.zeros(256)
    W2, b2 = rng.normal(size=(256, 10)) * 0.05, np.zeros(10)
    x, target = rng.normal(size=(128, 784)), rng.normal(size=(128, 10))
    row(
        "MLP 784-256-10 b128, all 6 args",
        lambda: gradient(mlp_loss, W1, b1, W2, b2, x, target),
        lambda: mlp_gradient(W1, b1, W2, b2, x, target, True),
        5,
        "1.3x",
    )

    def loss_of_parameters(W1, b1, W2, b2):
        return mlp_loss(W1, b1, W2, b2, x, target)

    row(
        "MLP, parameters only",
        lambda: gradient(loss_of_parameters, W1, b1, W2, b2),
        lambda: mlp_gradient(W1, b1, W2, b2, x, target),
        5,
        "1.3x",
    )

    print(f"{'benchmark':38} {'gradient':>12} {'hand-written':>14} {'ratio':>8} {'target':>7}")
    for name, ad, hand, ratio, target in rows:
        print(f"{name:38} {ad * 1e6:10.1f}us {hand * 1e6:12.1f}us {ratio:7.2f}x {target:>7}")
    print(
        f"{'first call, 50-line function':38} {wall * 1e3:10.1f}ms"
        f" {f'(CPU {cpu * 1e3:.1f}ms)':>14} {'':>8} {'20 ms':>7}"
    )


if __name__ == "__main__":
    main()
