"""Array workloads through zygote_engine and its Python peers, as ratios to hand-written numpy.

Run: ``python benchmarks/bench_arrays.py`` (``--quick`` for fewer rounds; ``--plot PATH`` writes
the figure, ``--markdown PATH`` the tables too). ``nox -s bench`` runs it for the documentation.

What is measured (issue #10), and why this way:

- Workloads in plain numpy: an MLP 128x784 -> 256 -> 10 (tanh, softmax cross-entropy), logistic
  regression 32x10 (about a dozen numpy operations, so bookkeeping per operation dominates), a tanh
  RNN with a loss at every step, logdet(AAᵀ + I) + sum(solve(AAᵀ + I, b)), and two scalar
  programs: recursion to depth 50 and Horner's rule of degree 1000.
- Every ratio divides by a hand-written numpy gradient of the parameters, timed in the same round.
  The forward column (the loss alone) is a second reference: a reverse sweep costs at least one
  forward pass, so it shows how much of the hand-written time any AD system must spend anyway.
- "ours" differentiates only the parameters, the data captured by a closure, the way a training
  step is written; "ours (all args)" passes the data as arguments too, so their gradients are
  computed as well, and is still divided by the hand-written gradient of the parameters alone: it
  shows what gradients nobody asked for cost. The peers (autograd, PyTorch eager, JAX eager,
  ``jax.jit(jax.grad)``) run the closure style, each on its own arrays, converted before timing.
  ``jax.jit`` compiles on its first call; that time is in a table of its own, as it is paid once
  per shape.
- Each column is checked against the hand-written gradient before it is timed; a mismatch stops the
  run with the column and the workload named.
- One pinned core and single-threaded BLAS, XLA and PyTorch: parallel BLAS would measure the
  machine, and on a shared two-core machine the threads of one library slow the next one down.
- In each round every column is timed (``number`` calls, chosen per column so that a measurement
  takes about 10 ms), in an order rotated by one from round to round, so that drift in the
  machine's speed touches every column alike; each time is divided by the hand-written time of the
  same round and the median of those ratios is reported.
- Memory: the ``tracemalloc`` peak of one gradient of ours over that of the hand-written gradient
  (tracemalloc sees numpy's allocations, not PyTorch's or XLA's: the peers have no memory column).
- Sweeps: RNN length T = 25 ... 400, where AD should stay linear in T as the hand-written code is,
  and Horner degree 10 ... 1000.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import statistics
import sys
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument(
        "--core",
        type=int,
        default=max(os.sched_getaffinity(0)),
        help="the CPU core to run on (default: the last one available)",
    )
    parser.add_argument("--plot", metavar="PATH", help="write the sweeps' figure (PNG) here")
    parser.add_argument("--markdown", metavar="PATH", help="also write the tables here")
    return parser.parse_args()


def run_single_threaded_on_one_core(core: int) -> None:
    """Pin this process to ``core`` and ask every library for one thread.

    Must run before numpy, PyTorch or JAX is imported: each reads its thread count when it loads,
    and threads started before the pinning would keep running on every core.
    """
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    xla_flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {xla_flags}".strip()
    os.sched_setaffinity(0, {core})


ARGUMENTS = parse_arguments()
run_single_threaded_on_one_core(ARGUMENTS.core)

import numpy as np  # noqa: E402
from bench_engine import (  # noqa: E402  (the script's own folder is on sys.path)
    horner,
    horner_gradient,
    mean_time,
    power,
    power_derivative,
    rnn_gradient,
    rnn_loss,
)
from bench_modes import peak_memory  # noqa: E402

from zygote_engine import gradient  # noqa: E402

# The peers are optional (the ``interop`` extra): a missing one loses its column, not the run.
try:
    import autograd
    import autograd.numpy as anp
except ImportError:
    autograd = anp = None
try:
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
except ImportError:
    torch = None
try:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # float64, like numpy and the hand-written code
except ImportError:
    jax = jnp = None

# (column name, distribution, module or None): for the versions in the tables
PEERS = (("autograd", "autograd", autograd), ("PyTorch", "torch", torch), ("JAX", "jax", jax))
HAND, ALL_ARGUMENTS = "hand-written", "ours (all args)"  # column names the code refers to
MEASUREMENT_SECONDS = 0.01
RTOL = 1e-6


# --- the workloads --------------------------------------------------------------------------------


def as_is(loss: Callable[..., Any]) -> Callable[..., Any]:
    """A loss without data is already a function of the parameters alone."""
    return loss


@dataclass
class Workload:
    """A loss of ``(*parameters, *data)``, its hand-written gradient and what the table needs."""

    name: str
    loss: Callable[..., Any]
    # (*parameters, *data) -> the parameters' gradients, by hand in numpy
    gradient_by_hand: Callable[..., tuple]
    parameters: tuple
    data: tuple = ()
    # (loss, *data) -> the loss as a function of the parameters alone, the data captured
    of_parameters: Callable[..., Callable[..., Any]] = as_is
    # the same loss written with PyTorch's functions; None: the loss itself runs on tensors
    torch_loss: Callable[..., Any] | None = None
    target: float | None = None
    on_arrays: bool = True  # gets the "all args" and memory columns

    def loss_for_torch(self) -> Callable[..., Any]:
        return self.torch_loss or self.loss


def mlp_loss(W1, b1, W2, b2, X, Y):
    """Softmax cross-entropy of a tanh MLP, mean over the batch; ``Y`` holds one-hot rows."""
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - np.max(z, axis=1, keepdims=True)  # the shift keeps exp from overflowing
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * log_p) / X.shape[0]


def mlp_gradient(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    p = np.exp(z - np.max(z, axis=1, keepdims=True))
    p /= np.sum(p, axis=1, keepdims=True)
    dz = (p - Y) / X.shape[0]  # the rows of Y sum to one
    da = (dz @ W2.T) * (1.0 - h * h)
    return X.T @ da, da.sum(axis=0), h.T @ dz, dz.sum(axis=0)


def mlp_of_parameters(loss, X, Y):
    return lambda W1, b1, W2, b2: loss(W1, b1, W2, b2, X, Y)


def torch_mlp_loss(W1, b1, W2, b2, X, Y):
    h = torch.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - torch.amax(z, dim=1, keepdim=True)
    log_p = z - torch.log(torch.sum(torch.exp(z), dim=1, keepdim=True))
    return -torch.sum(Y * log_p) / X.shape[0]


def mlp_workload() -> Workload:
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(size=(784, 256)) * 0.05, rng.normal(size=256) * 0.1
    W2, b2 = rng.normal(size=(256, 10)) * 0.05, rng.normal(size=10) * 0.1
    X, Y = rng.normal(size=(128, 784)), np.eye(10)[rng.integers(0, 10, size=128)]
    return Workload(
        "MLP 128×784→256→10, tanh, softmax cross-entropy",
        mlp_loss,
        mlp_gradient,
        (W1, b1, W2, b2),
        (X, Y),
        mlp_of_parameters,
        torch_mlp_loss,
        target=1.10,
    )


def logistic_loss(w, b, X, y):
    """Mean of log(1 + exp(-margin)), in the form that neither overflows nor loses small terms."""
    margin = y * (X @ w + b)
    return np.mean(np.maximum(-margin, 0.0) + np.log1p(np.exp(-np.abs(margin))))


def logistic_gradient(w, b, X, y):
    margin = y * (X @ w + b)
    # d/dm log(1 + exp(-m)) = -sigmoid(-m), through tanh so that no exp can overflow
    dmargin = -0.5 * (1.0 - np.tanh(0.5 * margin)) * y / len(y)
    return X.T @ dmargin, float(np.sum(dmargin))


def logistic_of_parameters(loss, X, y):
    return lambda w, b: loss(w, b, X, y)


def torch_logistic_loss(w, b, X, y):
    margin = y * (X @ w + b)
    return torch.mean(torch.clamp(-margin, min=0.0) + torch.log1p(torch.exp(-torch.abs(margin))))


def logistic_workload() -> Workload:
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(32, 10)), rng.choice([-1.0, 1.0], size=32)
    return Workload(
        "logistic regression 32×10",
        logistic_loss,
        logistic_gradient,
        (rng.normal(size=10), 0.1),
        (X, y),
        logistic_of_parameters,
        torch_logistic_loss,
        target=5.0,
    )


def rnn_of_parameters(loss, xs):
    return lambda W, U: loss(W, U, xs)


def torch_rnn_loss(W, U, xs):
    h = torch.zeros((xs.shape[1], W.shape[0]), dtype=torch.float64)
    total = 0.0
    for t in range(len(xs)):
        h = torch.tanh(h @ W + xs[t] @ U)
        total = total + torch.sum(h * h)
    return total


RNN_TARGET_STEPS = (50, 400)  # the target holds at both: cost linear in T


def rnn_workload(steps: int) -> Workload:
    rng = np.random.default_rng(2)
    W, U = rng.normal(size=(64, 64)) * 0.1, rng.normal(size=(32, 64)) * 0.1
    return Workload(
        f"RNN, {steps} steps, batch 16, hidden 64, loss at every step",
        rnn_loss,
        rnn_gradient,
        (W, U),
        (rng.normal(size=(steps, 16, 32)),),
        rnn_of_parameters,
        torch_rnn_loss,
        target=1.5 if steps in RNN_TARGET_STEPS else None,
    )


def logdet_solve_loss(A, b):
    M = A @ A.T + np.eye(A.shape[0])
    _sign, logdet = np.linalg.slogdet(M)
    return logdet + np.sum(np.linalg.solve(M, b))


def logdet_solve_gradient(A, b):
    M = A @ A.T + np.eye(A.shape[0])
    M_inv = np.linalg.inv(M)  # one factorisation serves both terms
    x = M_inv @ b
    db = M_inv.sum(axis=0)  # solve(Mᵀ, ones)
    dM = M_inv - np.outer(db, x)  # M is symmetric: M⁻ᵀ = M⁻¹
    return (dM + dM.T) @ A, db


def torch_logdet_solve_loss(A, b):
    M = A @ A.T + torch.eye(A.shape[0], dtype=torch.float64)
    _sign, logdet = torch.linalg.slogdet(M)
    return logdet + torch.sum(torch.linalg.solve(M, b))


def logdet_solve_workload() -> Workload:
    rng = np.random.default_rng(3)
    return Workload(
        "logdet(AAᵀ+I) + sum(solve(AAᵀ+I, b)), 100×100",
        logdet_solve_loss,
        logdet_solve_gradient,
        (rng.normal(size=(100, 100)) * 0.1, rng.normal(size=100)),
        torch_loss=torch_logdet_solve_loss,
        target=1.5,
    )


def power_gradient(x, n):
    return (power_derivative(x, n)[1],)


def power_of_parameters(loss, n):
    return lambda x: loss(x, n)


def recursion_workload() -> Workload:
    return Workload(
        "recursion depth 50 (scalar)",
        power,
        power_gradient,
        (1.01,),
        (50,),
        power_of_parameters,
        target=8.0,
        on_arrays=False,
    )


def horner_workload(degree: int) -> Workload:
    """Horner's rule differentiated in ``x`` and in every coefficient, as ``horner_gradient`` is."""
    coefficients = [float(c) for c in np.linspace(-1.0, 1.0, degree + 1)]
    return Workload(
        f"Horner's rule, degree {degree} (scalar)",
        horner,
        horner_gradient,
        (0.9, coefficients),
        target=5.0 if degree == 1000 else None,
        on_arrays=False,
    )


# --- one gradient call per column -----------------------------------------------------------------


def converted(value: Any, convert: Callable[[Any], Any]) -> Any:
    """``value`` with ``convert`` applied to every float and array in it; integers (loop counts,
    recursion depths) stay Python integers, as the code branches on them."""
    if isinstance(value, (tuple, list)):
        return type(value)(converted(v, convert) for v in value)
    return convert(value) if isinstance(value, (float, np.ndarray)) else value


def leaves(value: Any) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in leaves(v)]
    return [value]


def flat(gradients: Any) -> np.ndarray:
    """Every number of ``gradients`` (nested tuples and lists of floats and of any framework's
    arrays) in one float64 vector, in order; a None gradient contributes nothing."""
    parts = [
        np.ravel(np.asarray(g.detach() if hasattr(g, "detach") else g, dtype=np.float64))
        for g in leaves(gradients)
        if g is not None
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def with_numpy(function: Callable, numpy_module: types.ModuleType) -> Callable:
    """``function`` with its global ``np`` bound to ``numpy_module``: the very source we
    differentiate runs on autograd's or JAX's arrays, so that every engine does the same work."""
    namespace = {**function.__globals__, "np": numpy_module}
    return types.FunctionType(function.__code__, namespace, function.__name__)


def argument_numbers(workload: Workload) -> tuple[int, ...]:
    return tuple(range(len(workload.parameters)))


def ours(workload: Workload) -> Callable[[], Any]:
    # One closure for every call, as a training loop that defines its loss once does.
    of_parameters = workload.of_parameters(workload.loss, *workload.data)
    return lambda: gradient(of_parameters, *workload.parameters)


def ours_all_arguments(workload: Workload) -> Callable[[], Any]:
    arguments = workload.parameters + workload.data
    return lambda: gradient(workload.loss, *arguments)


def autograd_gradient(workload: Workload) -> Callable[[], Any]:
    loss = workload.of_parameters(with_numpy(workload.loss, anp), *workload.data)
    grad = autograd.grad(loss, argnum=argument_numbers(workload))
    return lambda: grad(*workload.parameters)


def torch_gradient(workload: Workload) -> Callable[[], Any]:
    def tensor(value, requires_grad: bool):
        return torch.tensor(value, dtype=torch.float64, requires_grad=requires_grad)

    parameters = converted(workload.parameters, lambda v: tensor(v, True))
    data = converted(workload.data, lambda v: tensor(v, False))
    loss = workload.of_parameters(workload.loss_for_torch(), *data)
    inputs = leaves(parameters)
    return lambda: torch.autograd.grad(loss(*parameters), inputs)


def jax_gradient(workload: Workload, jit: bool) -> Callable[[], Any]:
    parameters = converted(workload.parameters, jnp.asarray)
    data = converted(workload.data, jnp.asarray)
    loss = workload.of_parameters(with_numpy(workload.loss, jnp), *data)
    grad = jax.grad(loss, argnums=argument_numbers(workload))
    if jit:
        grad = jax.jit(grad)
    # JAX dispatches asynchronously: a call is over when its result is ready.
    return lambda: jax.block_until_ready(grad(*parameters))


def peer_columns() -> tuple[dict[str, Callable[[Workload], Callable[[], Any]]], list[str]]:
    """The peers' columns that can run here, and a note for each one that cannot."""
    columns, notes = {}, []
    if autograd is not None:
        columns["autograd"] = autograd_gradient
    else:
        notes.append("autograd is not installed: no autograd column.")
    if torch is not None:
        columns["PyTorch"] = torch_gradient
    else:
        notes.append("PyTorch is not installed: no PyTorch column.")
    if jax is not None:
        columns["JAX"] = lambda workload: jax_gradient(workload, jit=False)
        columns["jax.jit"] = lambda workload: jax_gradient(workload, jit=True)
    else:
        notes.append("JAX is not installed: no JAX or jax.jit column.")
    return columns, notes


# --- checking and timing --------------------------------------------------------------------------


class WrongGradientError(Exception):
    """A column's gradient differs from the hand-written one, or the column failed to give one."""


def check(column: str, workload: Workload, call: Callable[[], Any], expected: np.ndarray) -> None:
    """Raise ``WrongGradientError`` unless ``call()`` gives the parameters' gradients ``expected``
    (the "all args" column gives the data's too, after them: those are not compared)."""
    try:
        got = flat(call())
        if column == ALL_ARGUMENTS:
            got = got[: expected.size]
    except Exception as error:
        raise WrongGradientError(f"{column} failed on {workload.name}: {error!r}") from error
    if got.size != expected.size:
        raise WrongGradientError(
            f"{column} on {workload.name}: {got.size} numbers in the gradient where the"
            f" hand-written one has {expected.size}"
        )
    atol = 1e-9 * max(1.0, float(np.max(np.abs(expected))))  # for entries that are almost zero
    if not np.allclose(got, expected, rtol=RTOL, atol=atol):
        raise WrongGradientError(
            f"{column} on {workload.name}: the gradient differs from the hand-written one by up"
            f" to {np.max(np.abs(got - expected)):.3g} (largest entry {np.max(np.abs(expected)):.3g})"
        )


def calls_per_measurement(call: Callable[[], Any]) -> int:
    """How many calls of ``call`` take about ``MEASUREMENT_SECONDS``."""
    number = 1
    while (elapsed := mean_time(call, number) * number) < MEASUREMENT_SECONDS / 5:
        number *= 4
    return max(1, round(number * MEASUREMENT_SECONDS / elapsed))


def rotated_rounds(
    calls: dict[str, Callable[[], Any]], baseline: str, rounds: int
) -> dict[str, tuple[float, float]]:
    """``{column: (median seconds per call, median ratio to baseline)}`` over ``rounds`` rounds,
    each timing every column once, starting one column later than the round before."""
    numbers = {name: calls_per_measurement(call) for name, call in calls.items()}
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        start = i % len(names)
        for name in names[start:] + names[:start]:
            times[name].append(mean_time(calls[name], numbers[name]))
    return {
        name: (
            statistics.median(seconds),
            statistics.median(t / b for t, b in zip(seconds, times[baseline])),
        )
        for name, seconds in times.items()
    }


@dataclass
class Row:
    """What one workload measured: the hand-written time, and ratios to it."""

    workload: Workload
    hand_seconds: float
    ratios: dict[str, float]
    memory: float | None  # ours' peak over the hand-written gradient's
    compile_seconds: float | None  # jax.jit's first call


def measure(workload: Workload, peers: dict, rounds: int) -> Row:
    print(f"measuring {workload.name}", file=sys.stderr, flush=True)
    arguments = workload.parameters + workload.data

    def hand():
        return workload.gradient_by_hand(*arguments)

    expected = flat(hand())
    calls = {HAND: hand, "forward": lambda: workload.loss(*arguments), "ours": ours(workload)}
    if workload.on_arrays:
        calls[ALL_ARGUMENTS] = ours_all_arguments(workload)
    compile_seconds = None
    for name, make_call in peers.items():
        try:
            calls[name] = make_call(workload)
            if name == "jax.jit":  # the first call traces and compiles
                start = time.perf_counter()
                calls[name]()
                compile_seconds = time.perf_counter() - start
        except Exception as error:
            raise WrongGradientError(f"{name} failed on {workload.name}: {error!r}") from error
    for name, call in calls.items():
        if name not in (HAND, "forward"):
            check(name, workload, call, expected)
    timings = rotated_rounds(calls, HAND, rounds)
    memory = None
    if workload.on_arrays:
        memory = peak_memory(calls["ours"]) / peak_memory(hand)
    return Row(
        workload,
        timings[HAND][0],
        {name: ratio for name, (_, ratio) in timings.items() if name != HAND},
        memory,
        compile_seconds,
    )


# --- tables and the figure ------------------------------------------------------------------------


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def decimals(ratio: float) -> int:
    """How precisely the tables show a ratio: two decimals below 10, one below 100."""
    return 2 if ratio < 10 else 1 if ratio < 100 else 0


def ratio_cell(ratio: float | None) -> str:
    return "—" if ratio is None else f"×{ratio:,.{decimals(ratio)}f}"


def target_cell(row: Row) -> str:
    """The target, met or not by the ratio as the table shows it."""
    target, ours = row.workload.target, row.ratios["ours"]
    if target is None:
        return ""
    return f"≤ ×{target:.2f} {'✓' if round(ours, decimals(ours)) <= target else '✗'}"


def results_table(first: str, rows: list[tuple[str, Row]], columns: list[str]) -> str:
    """One line per row: the hand-written µs, each column's ratio, memory (where measured) and
    the target."""
    with_memory = any(row.memory is not None for _, row in rows)
    lines = []
    for label, row in rows:
        cells = [label, f"{row.hand_seconds * 1e6:,.1f}"]
        cells += [ratio_cell(row.ratios.get(name)) for name in columns]
        cells += [ratio_cell(row.memory)] if with_memory else []
        lines.append([*cells, target_cell(row)])
    header = [first, "hand-written µs", *columns, *(["memory"] if with_memory else [])]
    return markdown_table([*header, "target (ours)"], lines)


def compile_table(rows: list[tuple[str, Row]]) -> str:
    lines = [[label, f"{row.compile_seconds:.2f}"] for label, row in rows]
    return markdown_table(["workload", "jax.jit first call, s"], lines)


def versions() -> str:
    found = [("numpy", "numpy")]
    found += [(name, package) for name, package, module in PEERS if module is not None]
    return ", ".join(f"{name} {importlib.metadata.version(package)}" for name, package in found)


def plot(path: str, rnn_rows: list[tuple[int, Row]], horner_rows: list[tuple[int, Row]]) -> None:
    """Two panels: the ratio to hand-written against RNN length, and against Horner degree."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    panels = (
        (axes[0], rnn_rows, "RNN length T (steps)", 1.5),
        (axes[1], horner_rows, "Horner degree", 5.0),
    )
    for ax, rows, xlabel, target in panels:
        xs = [x for x, _ in rows]
        for name in rows[0][1].ratios:
            if name == ALL_ARGUMENTS:
                continue
            style = {"linewidth": 2.5, "color": "black"} if name == "ours" else {}
            if name == "forward":
                style = {"linestyle": ":", "color": "grey"}
            ax.plot(xs, [row.ratios[name] for _, row in rows], marker="o", label=name, **style)
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.axhline(target, color="tab:red", linestyle="--", linewidth=0.8, label="target (ours)")
        ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="time / hand-written gradient")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.xaxis.set_minor_locator(NullLocator())  # the measured points label the axis
        ax.grid(True, which="major", alpha=0.3)
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside right center")
    figure.suptitle(f"Gradient time over the hand-written numpy gradient\n{versions()}")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def report(
    arguments: argparse.Namespace,
    rounds: int,
    notes: list[str],
    main_rows: list[Row],
    rnn_rows: list[tuple[int, Row]],
    horner_rows: list[tuple[int, Row]],
) -> str:
    """The tables, in markdown."""
    columns = [name for name in main_rows[0].ratios]
    sweep_columns = [name for name in columns if name != ALL_ARGUMENTS]
    labelled = [(row.workload.name, row) for row in main_rows]
    sections = [
        f"Ratios to a hand-written numpy gradient of the parameters, median of {rounds} rounds,"
        f" one pinned core (core {arguments.core}), single-threaded BLAS, float64; {versions()}."
        f' "{ALL_ARGUMENTS}" also computes the data\'s gradients, still divided by the'
        ' parameters\' hand-written gradient; "memory" is the tracemalloc peak of ours over that'
        " of the hand-written gradient.",
        *notes,
        results_table("workload", labelled, columns),
        "RNN length sweep (batch 16, hidden 64; the target applies at T = 50 and T = 400):",
        results_table("steps T", [(str(t), row) for t, row in rnn_rows], sweep_columns),
        "Horner degree sweep (gradient in x and in every coefficient):",
        results_table("degree", [(str(d), row) for d, row in horner_rows], sweep_columns),
    ]
    if main_rows[0].compile_seconds is not None:
        swept = [row for _, row in rnn_rows + horner_rows if all(row is not r for r in main_rows)]
        sections += [
            "jax.jit's first call (tracing and compilation), paid once per shape:",
            compile_table(labelled + [(row.workload.name, row) for row in swept]),
        ]
    return "\n\n".join(sections) + "\n"


def main(arguments: argparse.Namespace) -> None:
    started = time.perf_counter()
    rounds = 5 if arguments.quick else 15
    peers, notes = peer_columns()

    def measured(workload: Workload) -> Row:
        return measure(workload, peers, rounds)

    mlp, logistic = measured(mlp_workload()), measured(logistic_workload())
    logdet_solve, recursion = measured(logdet_solve_workload()), measured(recursion_workload())
    rnn_rows = [(steps, measured(rnn_workload(steps))) for steps in (25, 50, 100, 200, 400)]
    horner_rows = [(degree, measured(horner_workload(degree))) for degree in (10, 100, 1000)]
    main_rows = [
        mlp,
        logistic,
        dict(rnn_rows)[50],
        logdet_solve,
        recursion,
        dict(horner_rows)[1000],
    ]
    tables = report(arguments, rounds, notes, main_rows, rnn_rows, horner_rows)
    print(tables)
    if arguments.markdown:
        with open(arguments.markdown, "w", encoding="utf-8") as file:
            file.write(tables)
    if arguments.plot:
        plot(arguments.plot, rnn_rows, horner_rows)
    print(f"whole run: {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main(ARGUMENTS)
