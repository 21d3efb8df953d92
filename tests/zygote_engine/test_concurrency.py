"""No global tape: gradients may run in threads and nest."""

from __future__ import annotations

import threading

from zygote_engine import gradient


def poly(x, n):
    total = 0.0
    for i in range(n):
        total = total + x**i
    return total


def test_two_threads_take_gradients_concurrently():
    results = {}

    def work(name, x):
        results[name] = [gradient(poly, x, 30)[0] for _ in range(50)]

    threads = [threading.Thread(target=work, args=(k, x)) for k, x in (("a", 1.01), ("b", 0.5))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {
        k: sum(i * x ** (i - 1) for i in range(1, 30)) for k, x in (("a", 1.01), ("b", 0.5))
    }
    for k in results:
        assert all(abs(g - expected[k]) < 1e-9 * abs(expected[k]) for g in results[k])
