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


def test_nested_gradient_is_a_constant_to_the_outer_gradient():
    def inner_slope(x):
        return gradient(lambda y: y**3, x)[0]  # 3 x^2, treated as a constant outside

    def f(x):
        return x * inner_slope(x)

    # d/dx [x * c] with c = 3 x^2 held constant at x = 2: c = 12
    assert gradient(f, 2.0) == (12.0,)
