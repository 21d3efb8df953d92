"""Differentiate a loss over data that does not fit in the memory allowed: dask, chunk by chunk.

Run: ``python benchmarks/bench_dask.py`` (``--quick`` for a smaller problem). Each measurement
runs in a fresh process whose data segment is capped (``RLIMIT_DATA``) below the size of the
data, and reports that process's peak resident memory (``ru_maxrss``), how much of it the
computation added to what the imports left resident, and its wall time:

- **numpy**: allocating the data as one numpy array under the cap (expected: ``MemoryError``);
- **forward**: the logistic-regression loss alone, computed by dask (the baseline);
- **hand-written**: the gradient ``Xᵀ (sigmoid(X w) - y) / n`` written with dask by hand;
- **gradient**: ``zygote_engine.gradient`` of the loss, then ``dask.compute``.

The data are generated lazily (``da.random``) in chunks of ``--chunk-rows`` rows, so no process
ever holds them whole. Times are reported as ratios to the forward pass measured in the same run,
memory against the data's size and one chunk's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

MB = 2**20


def logistic_loss(w, X, labels):
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - labels * z)


def _data(rows: int, features: int, chunk_rows: int):
    import dask.array as da

    rng = da.random.default_rng(0)
    X = rng.standard_normal((rows, features), chunks=(chunk_rows, features))
    labels = (X @ np.linspace(-1.0, 1.0, features) > 0).astype(float)
    return X, labels


def _child(what: str, rows: int, features: int, chunk_rows: int, cap_mb: int) -> dict:
    """One measurement, in this (fresh) process, under the memory cap."""
    import dask

    from zygote_engine import gradient

    resource.setrlimit(resource.RLIMIT_DATA, (cap_mb * MB, cap_mb * MB))
    imported_mb = _peak_mb()
    w = np.full(features, 0.1)
    start = time.perf_counter()
    result = None
    try:
        if what == "numpy":
            result = float(np.ones((rows, features)).sum())
        else:
            X, labels = _data(rows, features, chunk_rows)
            if what == "forward":
                lazy = logistic_loss(w, X, labels)
            elif what == "hand-written":
                z = X @ w
                lazy = X.T @ (1.0 / (1.0 + np.exp(-z)) - labels) / rows
            else:
                (lazy,) = gradient(logistic_loss, w, X, labels)[:1]
            # two threads: each holds a chunk or two at a time, whatever the machine's cores
            computed = dask.compute(lazy, scheduler="threads", num_workers=2)[0]
            result = np.asarray(computed).tolist()
    except MemoryError:
        result = "MemoryError"
    seconds = time.perf_counter() - start
    return {
        "what": what,
        "seconds": seconds,
        "peak_mb": _peak_mb(),
        "imported_mb": imported_mb,
        "result": result,
    }


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _measure(what: str, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        what,
        *("--rows", str(args.rows), "--features", str(args.features)),
        *("--chunk-rows", str(args.chunk_rows), "--cap-mb", str(args.cap_mb)),
    ]
    # one BLAS thread per dask thread: OpenBLAS reserves buffers per thread, under the cap too
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller problem")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--cap-mb", type=int, default=None, help="default: half the data")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rows is None:
        args.rows = 5_000_000 if args.quick else 12_500_000
    data_mb = args.rows * args.features * 8 / MB
    chunk_mb = args.chunk_rows * args.features * 8 / MB
    if args.cap_mb is None:
        args.cap_mb = int(data_mb / 2)
    if args.child:
        print(
            json.dumps(_child(args.child, args.rows, args.features, args.chunk_rows, args.cap_mb))
        )
        return

    print(
        f"logistic regression over {args.rows:,} x {args.features} float64 "
        f"({data_mb:,.0f} MB of data, chunks of {chunk_mb:,.0f} MB), "
        f"each run capped at {args.cap_mb:,} MB (RLIMIT_DATA)"
    )
    runs = {what: _measure(what, args) for what in ("numpy", "forward", "hand-written", "gradient")}
    forward = runs["forward"]["seconds"]
    print()
    print(
        "| run | result | time | peak memory | of which the computation | in chunks | of the data |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for what, run in runs.items():
        failed = run["result"] == "MemoryError"
        ratio = "—" if failed else f"×{run['seconds'] / forward:.2f} of forward"
        used = run["peak_mb"] - run["imported_mb"]  # above what the imports left resident
        print(
            f"| {what} | {'MemoryError' if failed else 'ok'} | {ratio} | "
            f"{run['peak_mb']:,.0f} MB | {used:,.0f} MB | {used / chunk_mb:.1f} | "
            f"{used / data_mb:.2f} |"
        )
    ours, hand = runs["gradient"]["result"], runs["hand-written"]["result"]
    if "MemoryError" not in (ours, hand):
        print(f"\ngradient equals the hand-written one: {np.allclose(ours, hand, rtol=1e-10)}")


if __name__ == "__main__":
    main()
