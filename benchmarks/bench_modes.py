"""Benchmark ``jacobian`` (both modes), Hessians and ``checkpointed``; prints tables of ratios.

Run: ``python benchmarks/bench_modes.py`` (add ``--quick`` for fewer repeats). Times are medians
of repeated rounds, ratios the median of the per-round ratios (see ``bench_engine.paired_times``).

- ``jacobian`` of the 100 -> 100 map ``tanh(A @ x)`` in each mode, against the hand-written
  Jacobian ``(1 - y**2)[:, None] * A``. Reverse mode runs one pullback and 100 backward passes,
  forward mode 100 ``jvp`` s; neither can come near the closed form, which is one matrix scaling:
  the ratio says what computing a Jacobian by AD costs here.
- Hessians of the 100-dimensional Rosenbrock function: a Hessian-vector product
  (``jvp`` of ``gradient``, forward over reverse) against one ``gradient`` of the same function,
  and ``hessian`` / ``hessian_reverse`` against the hand-written Hessian and counted in
  gradients (the issue's targets: an HVP at most 5 gradients, a Hessian about n x (2 to 4)).
- PyTorch (``torch.func``) and JAX, eager, float64, when they are installed: the same
  Jacobians (``jacrev``/``jacfwd``), Hessian-vector product (``jvp`` of ``grad``) and Hessian
  (``hessian``), each as a ratio to the same baseline, for columns beside ours.
- ``checkpointed``: the gradient of 2,000 steps of ``h = tanh(W @ h)``, once plainly and once in
  ``checkpointed`` blocks of 100 steps: the time ratio (the blocks run their forward pass twice)
  and the ratio of peak memory during the gradient (``tracemalloc``; the plain gradient keeps
  every step's values until the backward pass, the checkpointed one one block's).
"""

from __future__ import annotations

import argparse
import tracemalloc
from collections.abc import Callable

import numpy as np
from bench_engine import paired_times  # the script's own folder is on sys.path

from zygote_engine import checkpointed, gradient, hessian, hessian_reverse, jacobian, jvp

# --- jacobian of a 100 -> 100 map -----------------------------------------------------------------


def tanh_layer(A, x):
    return np.tanh(A @ x)


def tanh_layer_jacobian(A, x):
    y = np.tanh(A @ x)
    return (1.0 - y * y)[:, None] * A


# --- Hessians of Rosenbrock's function in 100 dimensions --------------------------------------------


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    """The Hessian by hand: tridiagonal."""
    h = np.zeros((x.size, x.size))
    i = np.arange(x.size - 1)
    h[i, i] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    h[i + 1, i + 1] += 200
    h[i, i + 1] = h[i + 1, i] = -400 * x[:-1]
    return h


def hessians(rng, repeats: int) -> None:
    x, v = rng.uniform(-1.5, 1.5, 100), rng.normal(size=100)
    expected = rosenbrock_hessian(x)

    def hvp():
        return jvp(lambda x: gradient(rosenbrock, x)[0], (x,), (v,))[1]

    hvp_time, gradient_time, ratio = paired_times(hvp, lambda: gradient(rosenbrock, x), repeats, 3)
    error = np.max(np.abs(hvp() - expected @ v))
    print()
    print(f"{'Rosenbrock, n = 100':36} {'AD':>12} {'baseline':>14} {'ratio':>8}")
    print(
        f"{f'HVP / gradient (max error {error:.0e})':36} {hvp_time * 1e3:10.2f}ms"
        f" {gradient_time * 1e3:12.2f}ms {ratio:7.1f}x"
    )
    for name, full in (("hessian", hessian), ("hessian_reverse", hessian_reverse)):
        error = np.max(np.abs(full(rosenbrock, x) - expected))
        ad, hand, ratio = paired_times(
            lambda full=full: full(rosenbrock, x),
            lambda: rosenbrock_hessian(x),
            max(3, repeats // 5),
            1,
        )
        print(
            f"{f'{name} / by hand (max error {error:.0e})':36} {ad * 1e3:10.1f}ms"
            f" {hand * 1e6:12.1f}us {ratio:7.0f}x  = {ad / gradient_time:.0f} gradients"
        )


# --- a long loop, plainly and in checkpointed blocks ----------------------------------------------

STEPS, BLOCK = 2000, 100


def tanh_chain(W, h):
    for _ in range(STEPS):
        h = np.tanh(W @ h)
    return np.sum(h)


def tanh_chain_checkpointed(W, h):
    def block(h):
        for _ in range(BLOCK):
            h = np.tanh(W @ h)
        return h

    for _ in range(STEPS // BLOCK):
        h = checkpointed(block, h)
    return np.sum(h)


def peak_memory(fn: Callable[[], object]) -> int:
    """Bytes allocated at the peak of one call of ``fn``, above what was allocated before."""
    fn()  # warm up: transforms and caches are not part of the peak
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def print_peer(title: str, cases: list, repeats: int) -> None:
    print()
    print(f"{title:36} {'peer':>12} {'baseline':>14} {'ratio':>8}")
    for name, peer, baseline in cases:
        peer_time, base_time, ratio = paired_times(peer, baseline, repeats, 3)
        print(f"{name:36} {peer_time * 1e3:10.2f}ms {base_time * 1e3:12.3f}ms {ratio:7.1f}x")


def torch_peer(A, x, v, rx, repeats: int) -> None:
    """The workloads in PyTorch's ``torch.func`` (eager), if PyTorch is installed."""
    try:
        import torch
        from torch.func import grad, hessian, jacfwd, jacrev, jvp
    except ImportError:
        print("\nPyTorch is not installed: no PyTorch column")
        return
    torch.set_num_threads(1)
    At, xt, vt, rxt = (torch.tensor(a, dtype=torch.float64) for a in (A, x, v, rx))

    def layer(x):
        return torch.tanh(At @ x)

    def rosen(x):
        return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    print_peer(
        f"PyTorch {torch.__version__} (torch.func)",
        [
            ("jacrev / formula", lambda: jacrev(layer)(xt), lambda: tanh_layer_jacobian(A, x)),
            ("jacfwd / formula", lambda: jacfwd(layer)(xt), lambda: tanh_layer_jacobian(A, x)),
            (
                "HVP / its gradient",
                lambda: jvp(grad(rosen), (rxt,), (vt,)),
                lambda: grad(rosen)(rxt),
            ),
            ("hessian / by hand", lambda: hessian(rosen)(rxt), lambda: rosenbrock_hessian(rx)),
        ],
        repeats,
    )


def jax_peer(A, x, v, rx, repeats: int) -> None:
    """The workloads in JAX, eager (no jit: like ours, nothing is compiled), if installed."""
    try:
        import jax
    except ImportError:
        print("\nJAX is not installed: no JAX column")
        return
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    Aj, xj, vj, rxj = (jnp.asarray(a) for a in (A, x, v, rx))

    def layer(x):
        return jnp.tanh(Aj @ x)

    def rosen(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def block(f):
        return lambda: jax.block_until_ready(f())

    grad = jax.grad(rosen)
    print_peer(
        f"JAX {jax.__version__} (eager)",
        [
            (
                "jacrev / formula",
                block(lambda: jax.jacrev(layer)(xj)),
                lambda: tanh_layer_jacobian(A, x),
            ),
            (
                "jacfwd / formula",
                block(lambda: jax.jacfwd(layer)(xj)),
                lambda: tanh_layer_jacobian(A, x),
            ),
            (
                "HVP / its gradient",
                block(lambda: jax.jvp(grad, (rxj,), (vj,))),
                block(lambda: grad(rxj)),
            ),
            (
                "hessian / by hand",
                block(lambda: jax.hessian(rosen)(rxj)),
                lambda: rosenbrock_hessian(rx),
            ),
        ],
        repeats,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    repeats = 5 if parser.parse_args().quick else 15
    rng = np.random.default_rng(0)

    A, x = rng.normal(size=(100, 100)) / 10.0, rng.normal(size=100)
    expected = tanh_layer_jacobian(A, x)
    modes = ["reverse", "forward"]
    print(f"{'jacobian, tanh(A @ x), 100 -> 100':36} {'AD':>12} {'hand-written':>14} {'ratio':>8}")

    def layer_of_x(x):  # A is a constant: the Jacobian in x alone, 100 x 100
        return tanh_layer(A, x)

    for mode in modes:
        (J,) = jacobian(layer_of_x, x, mode=mode)
        error = np.max(np.abs(J - expected))
        ad, hand, ratio = paired_times(
            lambda mode=mode: jacobian(layer_of_x, x, mode=mode),
            lambda: tanh_layer_jacobian(A, x),
            repeats,
            3,
        )
        print(
            f"{mode + f' mode (max error {error:.0e})':36} {ad * 1e3:10.2f}ms {hand * 1e6:12.1f}us"
            f" {ratio:7.0f}x"
        )
    hessians(rng, repeats)
    v, rx = rng.normal(size=100), rng.uniform(-1.5, 1.5, 100)
    torch_peer(A, x, v, rx, repeats)
    jax_peer(A, x, v, rx, repeats)

    W, h0 = rng.normal(size=(100, 100)) / 10.0, rng.normal(size=100)
    plain_grads = gradient(tanh_chain, W, h0)
    checkpointed_grads = gradient(tanh_chain_checkpointed, W, h0)
    error = max(np.max(np.abs(p - c)) for p, c in zip(plain_grads, checkpointed_grads))
    checkpointed_time, plain_time, time_ratio = paired_times(
        lambda: gradient(tanh_chain_checkpointed, W, h0),
        lambda: gradient(tanh_chain, W, h0),
        max(3, repeats // 3),
        1,
    )
    plain_peak = peak_memory(lambda: gradient(tanh_chain, W, h0))
    checkpointed_peak = peak_memory(lambda: gradient(tanh_chain_checkpointed, W, h0))
    print()
    print(
        f"{f'gradient, {STEPS} steps of tanh(W @ h)':36} {'time':>12} {'peak memory':>14}"
        f"  (blocks of {BLOCK}; checkpointed / plain, max difference {error:.0e})"
    )
    print(f"{'plain':36} {plain_time * 1e3:10.1f}ms {plain_peak / 2**20:11.2f}MiB")
    print(
        f"{'checkpointed':36} {checkpointed_time * 1e3:10.1f}ms"
        f" {checkpointed_peak / 2**20:11.2f}MiB"
    )
    print(f"{'ratio':36} {time_ratio:11.2f}x {checkpointed_peak / plain_peak:13.2f}x")


if __name__ == "__main__":
    main()
