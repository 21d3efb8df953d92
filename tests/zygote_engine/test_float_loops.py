"""Loops of number arithmetic, generated a second time without the type tests
(zygote_engine.float_loops): the same derivatives as the general loop, bit for bit, and the
general loop wherever a value is not a number of the arm for numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fd_check import assert_gradient_matches_fd

from zygote_engine import cache, gradient, hessian, hessian_reverse, jvp, pullback, refresh
from zygote_engine.float_loops import numbers, states
from zygote_engine.transform import transform


def horner(x, coefficients):
    y = 0.0
    for c in coefficients:
        y = y * x + c
    return y


def horner_by_hand(x, coefficients):
    """The reverse sweep, as one writes it: the derivative in ``x`` and in every coefficient."""
    ys, y = [], 0.0
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


def compound_interest(rate, deposits):
    """A loop-carried balance, a temporary read twice, an outer rate read in two operations."""
    balance = 100.0
    for d in deposits:
        growth = balance * rate
        balance = balance + growth + d - growth * growth / 1000.0
    return balance


def item_used_twice(x, items):
    total = 0.0
    for v in items:
        total = total + v * v * x
    return total


def item_read_after_the_loop(x, items):
    total = 0.0
    for v in items:
        total = total + v * x
    return total * v


def loop_with_a_dead_temporary(x, items):
    total = 0.0
    for v in items:
        unused = v * 3.0  # noqa: F841 (its cotangent stays zero: the general loop runs)
        total = total + v * x
    return total


def damped_wave(x, n):
    """Calls of math's functions and a constant besides the arithmetic."""
    total = 0.0
    for i in range(n):
        total = total + math.sin(x * i) * math.exp(-0.01 * i)
    return total


def distances(x, items):
    """A function of two numbers with partials (math.hypot) in the loop."""
    total = 0.0
    for v in items:
        total = total + math.hypot(v, x) * v
    return total


def loop_calling_numpy(x, items):
    total = 0.0
    for v in items:
        total = total + np.sin(v * x)
    return total


def loop_with_a_branch(x, items):
    total = 0.0
    for v in items:
        if v > 0.0:
            total = total + v * x
    return total


def nested_loops(x, rows):
    total = 0.0
    for row in rows:
        for v in row:
            total = total * x + v
    return total


@pytest.fixture
def counted(monkeypatch):
    """The number of times the generated code asks whether a loop may run for numbers, and how
    often it may (``__numbers``, replaced for the test); with ``decline`` set, it may not (the
    general loops run on the same values)."""
    asked = {"asked": 0, "yes": 0, "decline": False}

    def counting(items, *values):
        asked["asked"] += 1
        found = numbers(items, *values) and not asked["decline"]
        asked["yes"] += found
        return found

    gradient(horner, 0.5, [1.0])  # (the run-time objects' cells exist once a transform ran)
    monkeypatch.setattr(cache._runtime_cells["__numbers"], "cell_contents", counting)
    refresh()
    yield asked


def test_horner_is_the_hand_written_sweep_bit_for_bit(counted):
    coefficients = [float(c) for c in np.random.default_rng(0).normal(size=40)]
    assert gradient(horner, 0.93, coefficients) == horner_by_hand(0.93, coefficients)
    assert counted["asked"] == counted["yes"] == 1


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (horner, (0.7, [0.5, -1.0, 2.0, 0.25])),
        (horner, (2, [1, -3, 2])),
        (horner, (np.float64(0.7), [0.5, np.float64(-1.0), 2, 0.25])),
        (compound_interest, (0.03, [10.0, -5.0, 20.0, 7.5])),
        (item_used_twice, (1.5, [0.5, -2.0, 3.0])),
        (distances, (0.5, [1.0, -2.0, 3.0])),
    ],
)
def test_the_number_loop_gives_the_general_loops_derivatives(counted, f, args):
    x, items = args
    fast = gradient(f, x, items)
    assert counted["yes"] == 1
    counted["decline"] = True
    general = gradient(f, x, items)
    assert counted["yes"] == 1 and counted["asked"] == 2
    assert fast == general
    assert [type(d) for d in fast[1]] == [type(d) for d in general[1]]
    assert_gradient_matches_fd(lambda x, *items: f(float(x), list(items)), float(x), *items)


def test_math_calls_and_constants_in_the_number_loop(counted):
    fast = gradient(damped_wave, 0.3, 40)
    assert counted["yes"] == 1
    counted["decline"] = True
    assert gradient(damped_wave, 0.3, 40) == fast
    by_hand = sum(math.cos(0.3 * i) * i * math.exp(-0.01 * i) for i in range(40))
    assert fast[0] == pytest.approx(by_hand, rel=1e-12)
    assert "__numbers(" in transform(damped_wave).source
    # numpy's functions give numpy scalars of other types for some numbers: general loop only
    assert "__numbers(" not in transform(loop_calling_numpy).source
    assert gradient(loop_calling_numpy, 0.5, [1.0, 2.0])[0] == pytest.approx(
        math.cos(0.5) + 2.0 * math.cos(1.0)
    )


def test_a_loop_over_items_that_are_not_all_numbers_runs_the_general_loop(counted):
    dx, dcoefficients = gradient(horner, 0.5, [True, 2.0, 3.0])
    by_hand = horner_by_hand(0.5, [1.0, 2.0, 3.0])
    assert dx == by_hand[0]
    assert dcoefficients == [None, *by_hand[1][1:]]  # (a bool carries no derivative)
    assert counted == {"asked": 1, "yes": 0, "decline": False}


def test_an_item_read_after_the_loop_runs_the_general_backward_loop(counted):
    x, items = 0.5, [1.0, 2.0, 4.0]
    # total * v: d/dx = v_last * sum(v); the last item's cotangent has x * sum(v) besides x * v
    dx, ditems = gradient(item_read_after_the_loop, x, items)
    assert dx == 4.0 * 7.0
    assert ditems == [4.0 * x, 4.0 * x, 4.0 * x + x * 7.0]
    assert counted["yes"] == 1  # (the forward loop was the number one; its tape serves both)


def test_a_loop_with_a_dead_temporary_or_a_branch_has_no_number_version():
    for f in (loop_with_a_dead_temporary, loop_with_a_branch):
        assert "__numbers(" not in transform(f).source
    assert "__numbers(" in transform(horner).source
    assert gradient(loop_with_a_dead_temporary, 2.0, [1.0, 3.0]) == (4.0, [2.0, 2.0])


def test_a_number_loop_inside_another_loop_records_its_way_on_the_tape(counted):
    rows = [[1.0, 2.0], [3.0], [], [0.5, -1.0, 4.0]]
    fast = gradient(nested_loops, 2.0, rows)
    assert counted["asked"] == counted["yes"] == len(rows)  # (once per run of the inner loop)
    counted["decline"] = True
    assert gradient(nested_loops, 2.0, rows) == fast
    # x² + 2x + 3 for the rows [[1, 2], [3]] at x = 2
    assert gradient(nested_loops, 2.0, [[1.0, 2.0], [3.0]]) == (6.0, [[4.0, 2.0], [1.0]])
    counted["decline"] = False
    # the inner loop over a row of numbers and one over a row with a bool, in one call
    mixed = [[1.0, 2.0], [True, 3.0], [0.5]]
    dx, drows = gradient(nested_loops, 2.0, mixed)
    counted["decline"] = True
    assert gradient(nested_loops, 2.0, mixed) == (dx, drows)


def test_a_seed_that_is_not_a_float_gives_the_derivatives_times_the_seed(counted):
    coefficients = [0.5, -1.0, 2.0]
    _, back = pullback(horner, 0.9, coefficients)
    by_hand = horner_by_hand(0.9, coefficients)
    dx, dcoefficients = back(np.float64(2.0))
    assert dx == pytest.approx(2.0 * by_hand[0])
    assert dcoefficients == pytest.approx([2.0 * d for d in by_hand[1]])
    assert counted["yes"] == 1


def test_an_empty_loop(counted):
    assert gradient(horner, 0.9, []) == (None, None)  # (no derivative reaches either)
    assert counted["asked"] == counted["yes"] == 1


def test_an_error_in_the_loop_is_raised_as_plain_python_raises_it():
    def reciprocal_sum(x, items):
        total = 0.0
        for v in items:
            total = total + x / v
        return total

    with pytest.raises(ZeroDivisionError):
        gradient(reciprocal_sum, 1.0, [1.0, 0.0])


@pytest.mark.parametrize("second_order", [hessian, hessian_reverse])
def test_second_derivatives_through_a_number_loop(second_order):
    coefficients = [0.5, -1.0, 2.0, 0.3]
    polynomial = np.polynomial.Polynomial(coefficients[::-1])

    def f(x):
        return horner(x, coefficients)

    assert second_order(f, 0.7) == pytest.approx(polynomial.deriv(2)(0.7), rel=1e-12)


@pytest.mark.parametrize("second_order", [hessian, hessian_reverse])
def test_second_derivatives_through_a_number_loop_inside_a_loop(second_order):
    def f(x):
        # ((x + 2) x + 3) x + 0.5 = x³ + 2x² + 3x + 0.5: f'' = 6x + 4
        return nested_loops(x, [[1.0, 2.0], [3.0, 0.5]])

    assert second_order(f, 1.5) == pytest.approx(6 * 1.5 + 4, rel=1e-12)


def test_forward_mode_over_a_number_loop():
    coefficients = [0.5, -1.0, 2.0, 0.3]
    polynomial = np.polynomial.Polynomial(coefficients[::-1])

    def derivative(x):
        return gradient(horner, x, coefficients)[0]

    value, tangent = jvp(derivative, (0.7,), (1.0,))
    assert value == pytest.approx(polynomial.deriv(1)(0.7))
    assert tangent == pytest.approx(polynomial.deriv(2)(0.7))


def test_the_states_the_iterations_keep():
    from zygote_engine.float_loops import NumberOp

    def op(target, *operands):
        return NumberOp("pb", target, [], [], list(operands), [("g", o) for o in operands])

    # y = y * x + c: y carried as a float, t and the item zero at every iteration's start
    found = states([op("t", "y", "x"), op("y", "t", "c")], "c", {"t", "y"})
    assert found == {"y": "float", "x": "outer", "t": "zero", "c": "zero"}
    assert list(found) == ["y", "x", "c", "t"]  # (in the body's order: the same in every process)
    # a value nothing reads: its cotangent is zero when its definition's pullback would run
    assert states([op("u", "c"), op("y", "y", "c")], "c", {"u", "y"}) is None


def test_numbers():
    assert numbers([1.0, 2, np.float64(3.0)], 3.0, 4)
    assert not numbers([1.0, np.float32(2.0)], 3.0)
    assert not numbers([1.0], np.array(3.0))
    assert not numbers((), 3.0, True)
    assert numbers((), math.pi)
