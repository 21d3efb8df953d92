"""Closures that rebind a ``nonlocal`` variable, differentiated without the function that owns it.

The variable lives in a closure cell that outlives the call (a counter or an accumulator
returned by a factory): the cell changes as in plain Python, and a read of it after a write in
the same differentiation carries its (co)tangent back to what was written. Expected values are
analytic derivatives or finite differences, never the engine's own output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from fd_check import fd_gradient

from zygote_engine import gradient, jvp


def make_accumulator():
    total = 0.0

    def step(x):
        nonlocal total
        total = total + x * x
        return total * x

    return step


def make_memory():
    last = 0.0

    def remember(v):
        nonlocal last
        previous = last  # read before the write: state from before
        last = v
        return previous

    return remember


def _cell(closure, name):
    return closure.__closure__[closure.__code__.co_freevars.index(name)].cell_contents


def test_gradient_of_a_closure_from_a_factory_follows_its_cell():
    step = make_accumulator()
    assert gradient(step, 2.0) == pytest.approx((0.0 + 3 * 2.0**2,))  # d/dx (t0 + x²)·x
    assert _cell(step, "total") == 4.0  # the cell changed, as in plain Python
    assert gradient(step, 2.0) == pytest.approx((4.0 + 3 * 2.0**2,))  # t0 = 4 now
    assert _cell(step, "total") == 8.0


def test_jvp_of_a_closure_from_a_factory_follows_its_cell():
    step = make_accumulator()
    assert jvp(step, (2.0,), (1.0,)) == pytest.approx((8.0, 12.0))
    assert jvp(step, (2.0,), (1.0,)) == pytest.approx(((4.0 + 4.0) * 2.0, 4.0 + 12.0))
    assert _cell(step, "total") == 8.0


def _twice(step):
    def f(x):
        return step(x) + step(2.0 * x)  # the second call reads what the first wrote

    return f


@pytest.mark.parametrize("x", [0.5, 1.5])
def test_a_second_call_reads_the_first_calls_write_in_both_modes(x):
    # a = x³, the cell holds x², b = (x² + 4x²)·2x = 10x³: d/dx = 33x²
    expected = 33 * x**2
    assert gradient(_twice(make_accumulator()), x) == pytest.approx((expected,))
    value, tangent = jvp(_twice(make_accumulator()), (x,), (1.0,))
    assert (value, tangent) == pytest.approx((11 * x**3, expected))


def test_a_read_before_the_write_matches_finite_differences():
    remember = make_memory()

    def f(x):
        remember(x * x)
        y = remember(math.sin(x))  # x²
        z = remember(0.0)  # sin x
        return y * z

    x = 0.7
    (expected,) = fd_gradient(f, x)
    expected = expected[()]
    assert expected == pytest.approx(2 * x * math.sin(x) + x * x * math.cos(x), rel=1e-6)
    assert gradient(f, x) == pytest.approx((expected,), rel=1e-6)
    assert jvp(f, (x,), (1.0,)) == pytest.approx((x * x * math.sin(x), expected), rel=1e-6)
    second = 2 * math.sin(x) + 4 * x * math.cos(x) - x * x * math.sin(x)
    assert jvp(lambda x: gradient(f, x)[0], (x,), (1.0,))[1] == pytest.approx(second)


def test_a_list_rebound_with_nonlocal():
    def make():
        xs = []

        def push(v):
            nonlocal xs
            xs = xs + [v * v]  # noqa: RUF005 - a new list: rebinding
            return sum(xs)

        return push

    def f(push):
        return lambda x: push(x) + push(3.0 * x)  # x² + (x² + 9x²)

    assert gradient(f(make()), 2.0) == pytest.approx((22 * 2.0,))
    assert jvp(f(make()), (2.0,), (1.0,)) == pytest.approx((11 * 4.0, 44.0))


def test_a_list_mutated_without_nonlocal():
    def make():
        buf = [0.0]

        def put(v):
            buf[0] = buf[0] + v * v  # mutation: the cell is not rebound
            return buf[0] * v

        return put

    assert gradient(make(), 2.0) == pytest.approx((12.0,))
    assert jvp(make(), (2.0,), (1.0,)) == pytest.approx((8.0, 12.0))


def test_an_array_rebound_with_nonlocal():
    def make():
        a = np.zeros(2)

        def update(v):
            nonlocal a
            a = a + v
            return a @ a

        return update

    update = make()
    v = np.array([1.0, 2.0])
    np.testing.assert_allclose(gradient(update, v)[0], 2 * v)  # a = v
    np.testing.assert_allclose(gradient(update, v)[0], 4 * v)  # a = 2v
    value, tangent = jvp(make(), (v,), (np.array([1.0, 0.0]),))
    assert (value, tangent) == pytest.approx((5.0, 2.0))


def test_augmented_assignment_and_a_nested_closure_that_rebinds_too():
    def make():
        t = 1.0

        def step(x):
            nonlocal t

            def scale(v):
                nonlocal t
                t = t * v

            scale(x)
            scale(x)
            t += x
            return t  # t0·x² + x

        return step

    assert gradient(make(), 2.0) == pytest.approx((2 * 2.0 + 1,))
    assert jvp(make(), (2.0,), (1.0,)) == pytest.approx((6.0, 5.0))


def test_deleting_the_variable_then_reading_it_is_pythons_name_error():
    def make():
        t = 0.0

        def drop(x):
            nonlocal t
            del t
            return x * t  # noqa: F821 - read after the deletion, as Python reads it

        return drop

    with pytest.raises(NameError, match="'t'"):
        gradient(make(), 1.0)


def make_walrus_and_handler():
    t = 0.0

    def walrus(x):
        nonlocal t
        y = (t := x * 2.0)
        return y * t  # 4x²

    def handler(x):
        nonlocal t
        try:
            raise ValueError(x * x)
        except ValueError as t:
            y = t.args[0] * x  # x³
        return y

    return walrus, handler


def test_an_assignment_expression_and_except_as_bind_the_cell_in_both_modes():
    walrus, handler = make_walrus_and_handler()
    assert gradient(walrus, 1.5) == (12.0,)
    assert _cell(walrus, "t") == 3.0
    assert jvp(walrus, (2.0,), (1.0,)) == (16.0, 16.0)
    assert _cell(walrus, "t") == 4.0
    assert gradient(handler, 2.0) == (12.0,)
    with pytest.raises(ValueError, match="empty"):  # Python unbinds it after the handler
        _cell(handler, "t")
    assert jvp(handler, (2.0,), (1.0,)) == (8.0, 12.0)


def make_writer_and_reader():
    total = 0.0

    def add(x):
        nonlocal total
        total = total + x * x

    def read():  # a sibling: it reads the cell, without declaring it nonlocal
        return total

    return add, read


def test_a_sibling_closure_reads_what_the_other_wrote_in_both_modes():
    add, read = make_writer_and_reader()

    def f(x):
        add(x)
        return read() * x  # (t0 + x²) x

    # t0 = 0 for the first call: d/dx x³ = 3x² = 12 at 2 (the sibling read a constant: 4.0)
    assert gradient(f, 2.0) == (12.0,)
    add2, read2 = make_writer_and_reader()

    def g(x):
        add2(x)
        return read2() * x

    assert jvp(g, (2.0,), (1.0,)) == (8.0, 12.0)
