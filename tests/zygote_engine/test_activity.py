"""What the activity analysis leaves out of the backward pass, and what it must not.

Values that no differentiated input reaches get no pullback: sizes and ranges, and (through
``runtime.call_masked``) the data a gradient's function captures or reads from the module, and
the arguments a caller knows to be constants. Writes into containers, by the function or by
anything it calls, keep everything they may reach differentiated. Every gradient is checked
against an analytic value or finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from fd_check import assert_gradient_matches_fd

from chainrules_core import NoTangent, rrule
from zygote_engine import Params, gradient, pullback, show_adjoint

PULLBACKS_RUN: list[str] = []


def prepared(x):
    """A function whose rule's pullback records that it ran."""
    return 2.0 * x


@rrule.register(prepared)
def _(x):
    def prepared_pullback(dy):
        PULLBACKS_RUN.append("prepared")
        return NoTangent(), 2.0 * dy

    return prepared(x), prepared_pullback


def weighted(w, data):
    return np.sum(prepared(data) * w)


DATA = np.array([1.0, -2.0, 0.5])  # module state a loss reads


def test_captured_data_gets_no_pullback():
    data, w = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.5, 0.5])
    PULLBACKS_RUN.clear()
    (dw,) = gradient(lambda w: weighted(w, data), w)
    np.testing.assert_array_equal(dw, 2.0 * data)
    assert PULLBACKS_RUN == []
    # an argument of the gradient is differentiated: there the pullback runs
    assert gradient(weighted, w, data)[1].tolist() == [1.0, 1.0, 1.0]
    assert PULLBACKS_RUN == ["prepared"]


def test_module_state_read_by_a_loss_gets_no_pullback():
    PULLBACKS_RUN.clear()
    (dw,) = gradient(lambda w: np.sum(prepared(DATA) * w), 1.5)
    assert dw == 2.0 * np.sum(DATA) and PULLBACKS_RUN == []


def test_what_a_gradient_captures_gets_no_cotangent():
    from zygote_engine.api import ARGUMENTS_ONLY
    from zygote_engine.transform import transform

    data = np.array([1.0, 2.0])

    def loss(w):
        return weighted(w, data)

    # the forward gradient runs: neither data nor weighted is collected, and df is no tangent
    source = transform(loss, ARGUMENTS_ONLY).source
    assert "_, __g1, _ = pb1(dt1)" in source and "return (__no, dw)" in source
    assert "__closure_tangent" not in source and "ddata = __g" not in source
    assert gradient(loss, 3.0) == (pytest.approx(6.0),)
    # pullback asks for them: the closure's tangent has its captured variables
    assert "return (__closure_tangent(data=ddata), dw)" in (transform(loss).source)


def test_pullback_still_gives_what_the_function_captures():
    # pullback keeps the closure's tangent (nested differentiation reads it)
    data = np.array([1.0, 2.0])
    _, back = pullback(lambda w: weighted(w, data), 3.0)
    assert back(1.0) == (6.0,)


def test_params_still_reach_module_state_through_helpers():
    def loss():
        return weighted(2.0, DATA)

    grads = gradient(loss, Params([DATA]))
    np.testing.assert_array_equal(grads[DATA], [4.0, 4.0, 4.0])


def fill(items, w):
    items.append(w * 3.0)


def first_squared(items):
    return items[0] * items[0]


def test_a_container_a_callee_filled_is_differentiated_where_it_is_read():
    def f(w):
        items = []
        fill(items, w)  # a call that may write: from here on the list is not a constant
        return first_squared(items)

    assert gradient(f, 2.0) == (36.0,)  # d/dw (3w)^2


SHARED: list = []


def stash(w):
    SHARED.append(w * 2.0)


def read_shared():
    return SHARED[-1] * SHARED[-1]


def test_module_state_written_before_a_call_is_differentiated_in_it():
    def f(w):
        stash(w)
        return read_shared()

    SHARED.clear()
    assert gradient(f, 1.5) == (12.0,)  # d/dw (2w)^2 = 8w
    SHARED.clear()


def test_a_closure_over_an_argument_is_differentiated():
    def apply(fn, x):
        return fn(x)

    def f(w, x):
        return apply(lambda v: v * w, x)

    assert gradient(f, 2.0, 3.0) == (3.0, 2.0)


def test_arrays_captured_and_passed_on_match_finite_differences():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=6)

    def residual(w, b, X, y):
        return np.mean((X @ w + b - y) ** 2)

    assert_gradient_matches_fd(lambda w, b: residual(w, b, X, y), rng.normal(size=3), 0.2)


def test_sizes_and_ranges_get_no_pullbacks():
    def total(xs, w):
        s = 0.0
        for i in range(len(xs)):
            s = s + xs[i] * w
        return s

    source = show_adjoint(total)
    assert "range, " not in source and "zy.collect, " not in source  # not through __call
    assert gradient(total, np.array([1.0, 2.0, 3.0]), 2.0)[1] == 6.0


def test_numpy_calls_that_write_their_arguments_keep_the_containers_active():
    def via_copyto(x):
        buffer = np.zeros(2)
        np.copyto(buffer, x * 2.0)
        return np.sum(buffer * buffer)

    assert_gradient_matches_fd(via_copyto, np.array([0.5, -1.5]))


def data_loss():
    return np.sum(DATA * DATA)


class Scaled:
    """A model whose constructor reads a module global: what it holds carries its derivative."""

    def __init__(self):
        self.weights = DATA * 3.0

    def __call__(self, x):
        return np.sum(self.weights * x)


def test_a_helper_without_arguments_that_reads_parameters_is_differentiated():
    # Flux's style: the loss reaches the parameters through module globals only
    grads = gradient(lambda: data_loss() * 2.0, Params([DATA]))
    np.testing.assert_array_equal(grads[DATA], 4.0 * DATA)
    grads = gradient(lambda: Scaled()(2.0), Params([DATA]))
    np.testing.assert_array_equal(grads[DATA], [6.0, 6.0, 6.0])


# --- immutable arguments that a caller knows to be constant (activity.ATOM) ----------------------


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def test_an_int_argument_of_a_recursive_call_gets_no_pullback():
    from zygote_engine.transform import transform

    # what gradient(lambda x: power(x, 5), x) runs: n (position 2) is constant and an int
    source = transform(power, (2, 1002)).source
    assert "t2 = n - 1" in source and "__on_array(__cx, n)" not in source  # plain: no pullback
    assert "power, x, t2)" in source and "if t2.__class__ in __ATOMS else (2,)" in source
    assert gradient(lambda x: power(x, 5), 1.3) == (pytest.approx(5 * 1.3**4, rel=1e-12),)
    # without the atom, n is re-activated by the recursive call (it might alias a container)
    assert "__on_array(__cx, n)" in transform(power, (2,)).source


def stash_into(buffer, w):
    buffer[0] = w * 3.0


def read_after_stashing(w, buffer):
    stash_into(buffer, w)  # writes a derivative into buffer, which the caller passed as constant
    return buffer[0] * buffer[0]


def test_a_container_argument_passed_as_constant_is_still_reached_by_writes():
    # the list is constant when passed, but not an atom: the write through the call is followed
    assert gradient(lambda w: read_after_stashing(w, [0.0]), 2.0) == (36.0,)
    buffer = np.zeros(1)
    (dw,) = gradient(lambda w: read_after_stashing(w, buffer), 2.0)
    assert dw == pytest.approx(36.0, rel=1e-12)


def scaled_by_count(x, n):
    total = x * n
    n = total  # rebinds the atom to a differentiated value
    return n * x


def test_an_atom_parameter_that_is_rebound_is_differentiated():
    # f(x) = (x * 3) * x = 3x²: the rebound n carries x's derivative
    assert gradient(lambda x: scaled_by_count(x, 3), 2.0) == (12.0,)
    assert_gradient_matches_fd(lambda x: scaled_by_count(x, 4), 1.7)
