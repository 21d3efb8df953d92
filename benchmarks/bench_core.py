"""Cost of the rule machinery in chainrules_core.

Prints, for one run on this machine:

* the cost of a cached ``rrule`` lookup (``RuleTable.resolve``), and of a whole ``rrule`` call, as
  nanoseconds and as a ratio against calling the rule's implementation directly;
* the cost of ``test_rrule`` on a rule of a 100x100 matrix function, against one primal call.

Run: ``python benchmarks/bench_core.py``.
"""

from __future__ import annotations

import timeit

import numpy as np

from chainrules_core import HasReverseMode, NoForwardsMode, NoTangent, RuleConfig, rrule
from chainrules_core.testing import test_rrule


def scale(x):
    return 2.0 * x


def scale_rule(x):
    def scale_pullback(dy):
        return NoTangent(), 2.0 * dy

    return 2.0 * x, scale_pullback


rrule.add(scale, (float,), scale_rule)


class Engine(RuleConfig, HasReverseMode, NoForwardsMode):
    pass


def mat_square(a):
    return a @ a


@rrule.register(mat_square, np.ndarray)
def _(a):
    def mat_square_pullback(dy):
        return NoTangent(), dy @ a.T + a.T @ dy

    return a @ a, mat_square_pullback


def per_call_ns(stmt, number=200_000, repeat=7) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e9


def main() -> None:
    config = Engine()
    x = 1.5
    args = (x,)
    direct = per_call_ns(lambda: scale_rule(x))
    lookup = per_call_ns(lambda: rrule.resolve(None, scale, args))
    whole = per_call_ns(lambda: rrule(scale, x))
    with_config = per_call_ns(lambda: rrule(config, scale, x))
    v = np.ones(3)
    method = per_call_ns(lambda: rrule.resolve(None, np.ndarray.sum, (v,)))

    print("cached rule lookup (min of 7 repeats)")
    print(f"  rule implementation called directly    {direct:8.0f} ns   1.00x")
    print(f"  RuleTable.resolve (lookup only)        {lookup:8.0f} ns   {lookup / direct:.2f}x")
    print(f"  rrule(f, x) (lookup + rule)            {whole:8.0f} ns   {whole / direct:.2f}x")
    print(
        f"  rrule(config, f, x)                    {with_config:8.0f} ns   {with_config / direct:.2f}x"
    )
    print(f"  resolve on a method descriptor (miss)  {method:8.0f} ns   {method / direct:.2f}x")

    a = np.random.default_rng(0).standard_normal((100, 100))
    primal = min(timeit.repeat(lambda: mat_square(a), number=20, repeat=5)) / 20
    check = min(timeit.repeat(lambda: test_rrule(mat_square, a), number=1, repeat=3))
    print("test_rrule on a 100x100 matrix rule (a -> a @ a)")
    print(f"  one primal call                        {primal * 1e3:8.3f} ms   1x")
    print(f"  test_rrule                             {check * 1e3:8.1f} ms   {check / primal:.0f}x")


if __name__ == "__main__":
    main()
