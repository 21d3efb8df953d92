"""Deep recursion: differentiated as deep as the plain function runs, under the user's limit."""

from __future__ import annotations

import math
import sys
import traceback

import numpy as np
import pytest

from chainrules_core import NoTangent, rrule
from zygote_engine import derivative, gradient, hessian, jvp
from zygote_engine.transform import transform


def _compound(x, n):
    return x if n == 0 else _compound(x, n - 1) * 1.0001


@pytest.fixture
def recursion_limit():
    """Set the recursion limit for one test and restore it afterwards."""
    saved = sys.getrecursionlimit()
    yield sys.setrecursionlimit
    sys.setrecursionlimit(saved)


@pytest.mark.parametrize(("limit", "depth"), [(1000, 900), (12000, 10_000)])
def test_recursion_as_deep_as_the_plain_function_runs(recursion_limit, limit, depth):
    recursion_limit(limit)
    assert _compound(1.0, depth) > 0  # the plain function runs at this depth
    expected = 1.0001**depth  # d/dx of x * 1.0001^n
    assert gradient(_compound, 1.0, depth)[0] == pytest.approx(expected, rel=1e-12)
    assert jvp(_compound, (1.0, depth), (1.0, None))[1] == pytest.approx(expected, rel=1e-12)
    assert sys.getrecursionlimit() == limit  # the user's limit is back


def test_past_that_the_recursion_error_says_what_to_do(recursion_limit):
    recursion_limit(1000)
    with pytest.raises(RecursionError, match="raise the limit with sys.setrecursionlimit"):
        gradient(_compound, 1.0, 5000)
    assert sys.getrecursionlimit() == 1000


# --- a recursive call runs the caller's own forward (reverse.recursion_test) ---------------------


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def scaled_power(x, c, n):
    if n == 0:
        return 1.0
    return c * x * scaled_power(x, c, n - 1)


def doubled(x, n):
    if n == 0:
        return x
    return 2.0 * doubled(x, n - 1)


def test_a_recursive_call_runs_the_forward_directly():
    source = transform(power, (2, 1002)).source  # (what lambda x: power(x, 5) runs)
    assert "if t2.__class__ in __ATOMS and __itself(__SELF, power):" in source
    assert "t3, pb1 = __SELF.run(__cx, x, t2)" in source
    assert "__callm2(__cx, (2, 1002) if t2.__class__ in __ATOMS else (2,), power, x, t2)" in source
    assert "__SELF" in transform(power).source  # the plain forward calls itself too
    assert gradient(lambda x: power(x, 5), 1.3) == (pytest.approx(5 * 1.3**4, rel=1e-12),)
    assert gradient(power, 1.3, 5) == (pytest.approx(5 * 1.3**4, rel=1e-12), None)


def test_a_rule_registered_later_is_found_by_the_recursive_calls():
    def rec(x, n):
        return 1.0 if n == 0 else x * rec(x, n - 1)

    assert gradient(lambda x: rec(x, 3), 2.0) == (pytest.approx(12.0),)  # 3 x^2

    def rule(x, n):  # for n == 1 only, with a marked derivative (100 instead of 1)
        return None if n != 1 else (x, lambda dy: (NoTangent(), 100.0 * dy, NoTangent()))

    rrule.add(rec, (float, int), rule)
    # rec(x, 3) = x * x * r with r = rec(x, 1): x r + x (r + x dr) = 4 + 2 (2 + 200) at x = 2
    assert gradient(lambda x: rec(x, 3), 2.0) == (pytest.approx(408.0),)


def test_a_rebound_name_is_not_the_function_itself(monkeypatch):
    original = doubled
    assert gradient(lambda x: original(x, 3), 1.5) == (8.0,)  # 2^3 x
    monkeypatch.setitem(globals(), "doubled", lambda x, n: x**3)
    # original(x, 2) = 2 * doubled(x, 1), which is now x^3: 6 x^2
    assert gradient(lambda x: original(x, 2), 1.5) == (pytest.approx(6 * 1.5**2),)


def test_nested_differentiation_of_a_recursion():
    # d2/dx2 x^5, and d/dc d/dx (c x)^3 = 9 c^2 x^2, whose inner call treats c as constant
    second = derivative(lambda x: derivative(lambda y: power(y, 5), x), 1.3)
    assert second == pytest.approx(20 * 1.3**3, rel=1e-12)
    mixed = derivative(lambda c: derivative(lambda x: scaled_power(x, c, 3), 1.5), 0.7)
    assert mixed == pytest.approx(9 * 0.7**2 * 1.5**2, rel=1e-12)
    assert jvp(lambda x: gradient(power, x, 4)[0], (1.3,), (1.0,))[1] == pytest.approx(
        12 * 1.3**2, rel=1e-12
    )
    x, c = 1.3, 0.6  # x^3 (c x)^2 = c^2 x^5
    expected = [[20 * x**3 * c**2, 10 * x**4 * c], [10 * x**4 * c, 2 * x**5]]
    h = hessian(lambda v: power(v[0], 3) * scaled_power(v[0], v[1], 2), np.array([x, c]))
    np.testing.assert_allclose(h, expected, rtol=1e-12)


# --- recursion on numbers: a second pair of passes without type tests (float_recursion) ----------


def tree(x, y, n):
    """Two calls of itself, a reassigned local, ``**`` and both arguments differentiated."""
    if n <= 0:
        return x * y
    a = tree(x, y + x, n - 1)
    b = tree(y, x, n - 2) * 0.5
    a += b - x**2
    return a / 2.0


def central_differences(f, args, i, h=1e-6):
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def test_recursion_on_numbers_runs_its_own_pair_of_passes():
    source = transform(power, (2, 1002)).source
    assert "if __numbers((), x, n) and __itself(__SELF, power):" in source
    assert "def power__numbers(x, n):" in source
    assert "t3, pb1 = power__numbers(x, t2)" in source
    assert "_, __g1, _ = power__numbers_backward(pb1, dt3)" in source
    for x in (1.3, np.float64(1.3), 2):  # d/dx x^7 = 7 x^6
        assert gradient(lambda v, x=x: power(v, 7), x)[0] == pytest.approx(7 * x**6, rel=1e-12)


def test_recursion_on_numbers_agrees_with_finite_differences_and_the_general_passes():
    assert "def tree__numbers(x, y, n):" in transform(tree).source
    for n in (0, 1, 4, 7):
        grads = gradient(tree, 0.7, -1.2, n)
        general = gradient(tree, np.array(0.7), np.array(-1.2), n)  # (arrays: no second pair)
        for i in (0, 1):
            expected = central_differences(tree, (0.7, -1.2, n), i)
            assert grads[i] == pytest.approx(expected, rel=1e-7, abs=1e-9)
            assert grads[i] == pytest.approx(float(general[i]), rel=1e-12, abs=1e-15)
        assert grads[2] is None


def stepped(x, y):
    if y > 5.0:
        return x * y
    return stepped(x, y + x)


def test_a_derivative_passed_where_the_pair_takes_a_constant_is_not_lost():
    # lambda x: stepped(x, 1.0) runs the forward where y is constant, whose call of itself
    # passes y + x, which carries x's derivative: no second pair there
    assert "__numbers((), x, y)" not in transform(stepped, (2, 1002)).source
    assert "__numbers((), x, y)" in transform(stepped).source
    # y: 1.0, 1.7, ..., 5.2 after k = 6 steps; x * (1 + k x) has derivative 1 + 2 k x
    assert gradient(lambda x: stepped(x, 1.0), 0.7) == (pytest.approx(1 + 12 * 0.7, rel=1e-12),)
    assert gradient(stepped, 0.7, 1.0) == (
        pytest.approx(1 + 12 * 0.7, rel=1e-12),
        pytest.approx(0.7, rel=1e-12),
    )


def sine_tower(x, n):
    return x if n == 0 else math.sin(sine_tower(x, n - 1))


def test_recursion_through_math_functions_runs_the_pair_with_their_partials():
    source = transform(sine_tower).source
    # looked up once, at the outermost call: the rule table cannot change inside the pair
    assert "(partials1 := __PARTIALS.get(math.sin)) is not None" in source
    assert "pb3 = (partials1, t4, math.sin(t4))" in source
    for n in (0, 1, 2, 5):  # the chain rule, level by level
        value, derivative = 0.5, 1.0
        for _ in range(n):
            value, derivative = math.sin(value), derivative * math.cos(value)
        assert gradient(sine_tower, 0.5, n) == (pytest.approx(derivative, rel=1e-12), None)


def counted_power(x, n):
    total = 1.0
    for _ in range(1):
        total = total * x
    return total if n == 0 else total * counted_power(x, n - 1)


def halved(x):
    return x / 2.0


def halving_tower(x, n):
    return x if n == 0 else halved(halving_tower(x, n - 1))


def test_recursion_through_loops_or_other_functions_keeps_the_general_passes():
    for f in (counted_power, halving_tower):
        assert "__numbers((), x, n)" not in transform(f).source
    assert gradient(counted_power, 1.1, 3)[0] == pytest.approx(4 * 1.1**3, rel=1e-12)
    assert gradient(halving_tower, 1.1, 3) == (0.125, None)


def reciprocal_power(x, n):
    if n == 0:
        return 1.0 / x
    return x * reciprocal_power(x, n - 1)


def test_an_error_in_the_passes_on_numbers_names_the_user_line():
    with pytest.raises(ZeroDivisionError) as info:
        gradient(reciprocal_power, 0.0, 3)
    frames = traceback.extract_tb(info.value.__traceback__)
    line = reciprocal_power.__code__.co_firstlineno + 2
    assert (frames[-1].filename, frames[-1].lineno) == (__file__, line)
    # raised by the passes on numbers: every level ran there, in one frame each
    names = [frame.name for frame in frames]
    assert names[-1] == "reciprocal_power__numbers"
    assert names.count("reciprocal_power__numbers") == 4  # depths 3, 2, 1, 0
