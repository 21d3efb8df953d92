"""The shape of the generated code: locals for straight-line code, a tape for control flow,
no pullback where none can be needed."""

from __future__ import annotations

import numpy as np
import pytest

import zygote_engine as zy
from zygote_engine import gradient, pullback, show_adjoint


def straight_line(x, y):
    z = x * y
    return z + x


def with_loop(x, n):
    total = 0.0
    for i in range(n):
        total = total + x * i
    return total


def constants_and_tests(x):
    n = len("abc") + 2
    if x > 0:
        return x * n
    return x


def test_straight_line_code_keeps_pullbacks_in_locals():
    text = show_adjoint(straight_line)
    assert "__tape" not in text
    assert "z = x * y" in text and "pb1) = __call2(__cx, __operator.mul, x, y)" in text.replace(
        "z, pb1 =",
        "(z, pb1) =",  # Python 3.10's ast.unparse puts tuple targets in parentheses
    )
    assert "def straight_line__backward(" in text


def test_loops_record_pullbacks_on_a_tape_and_replay_in_reverse():
    text = show_adjoint(with_loop)
    assert "__tape.append(" in text and "__stack.pop()" in text
    assert "range(n1 - 1, -1, -1)" in text


def test_operations_on_constants_and_branch_tests_build_no_pullback():
    text = show_adjoint(constants_and_tests)
    assert "= len('abc')" in text
    assert "= x > 0" in text and "operator.gt" not in text
    assert gradient(constants_and_tests, 2.0) == (5.0,)


def test_zero_cotangents_skip_the_pullback():
    text = show_adjoint(straight_line)
    assert "not in __ZEROS" in text


def test_lambda_and_method_adjoints_are_shown():
    class Model:
        def __init__(self, w):
            self.w = w

        def predict(self, x):
            return self.w * x

    assert "def predict__forward(__cx, self, x):" in show_adjoint(Model(2.0).predict)
    assert "def lambda__forward(__cx, v):" in show_adjoint(lambda v: v * v)


def test_generated_code_is_positioned_on_the_user_lines():
    text = show_adjoint(straight_line)
    line = straight_line.__code__.co_firstlineno
    assert f"{__file__}:{line}" in text


def early_returns(x, n):
    if n == 0:
        return x
    if n < 0:
        raise ValueError("negative")
    y = x * x
    if n == 1:
        return y
    return y * x


def falls_through(x, flag):
    if flag:
        return x * 2.0
    x * 3.0  # no return on this path: the result is None


def test_early_returns_outside_loops_need_no_flags():
    text = show_adjoint(early_returns)
    assert "returned" not in text and "__tape" not in text
    assert gradient(early_returns, 1.5, 0) == (1.0, None)
    assert gradient(early_returns, 1.5, 1) == (3.0, None)
    assert gradient(early_returns, 1.5, 2) == (3 * 1.5**2, None)
    with pytest.raises(ValueError, match="negative"):
        gradient(early_returns, 1.5, -1)


def test_a_path_without_return_gives_none():
    assert gradient(falls_through, 1.5, True) == (2.0, None)
    y, _ = pullback(falls_through, 1.5, False)
    assert y is None


def returns_inside_loop(xs):
    for x in xs:
        if x > 1.0:
            return x * x
    return 0.0


def test_a_return_inside_a_loop_still_stops_it():
    assert "returned" in show_adjoint(returns_inside_loop)
    assert gradient(returns_inside_loop, [0.5, 2.0, 3.0]) == ([None, 4.0, None],)


def test_branches_outside_loops_keep_their_record_in_locals():
    text = show_adjoint(constants_and_tests)
    assert "__tape" not in text and "taken1 = True" in text


def _store_thrice(d, x):
    d["v"] = x * 3.0
    return 0.0


def writes_through_a_helper(x):
    d = {}
    unused = _store_thrice(d, x)  # noqa: F841  (its cotangent is zero; the write still counts)
    return d["v"]


def test_a_helper_that_writes_a_container_runs_backward_with_a_zero_cotangent():
    assert gradient(writes_through_a_helper, 2.0) == (3.0,)


def writes_through_a_starred_call(x):
    d = {}
    args = (d, x)
    unused = _store_thrice(*args)  # noqa: F841
    return d["v"]


def test_a_starred_call_may_write_its_arguments_too():
    assert gradient(writes_through_a_starred_call, 2.0) == (3.0,)


def _sum_into_the_last(state):
    box, total = state
    total.append(sum(box))


def list_filled_after_it_was_put_in_a_tuple(x):
    total, box = [x], []
    state = (box, total)
    box.append(x * x)  # after the tuple was made: the tuple holds the list, not a copy
    _sum_into_the_last(state)
    return total[0] * total[1]


def test_a_list_read_out_of_a_tuple_keeps_the_cotangents_of_what_filled_it():
    # x * x² = x³: 3x² = 12 at 2 (the read used to take the list's cotangent before the append's
    # backward pass could: 4.0, silently)
    assert gradient(list_filled_after_it_was_put_in_a_tuple, 2.0) == (12.0,)


def _smooth_abs(x):
    return (x * x + 1e-3) ** 0.5


def test_scalar_rule_on_a_python_function_is_used_inline_in_both_modes():
    from chainrules_core import scalar_rule
    from zygote_engine import jvp

    scalar_rule(_smooth_abs, lambda x, out: x / out)  # a function of this test's alone
    expected = 2.0 * 2.0 / (4.0 + 1e-3) ** 0.5
    assert gradient(lambda x: 2.0 * _smooth_abs(x), 2.0)[0] == pytest.approx(expected)
    assert jvp(lambda x: 2.0 * _smooth_abs(x), (2.0,), (1.0,))[1] == pytest.approx(expected)


def scaled_by(x, operator):
    return np.sum(x * operator)


def second_derivative_of_cube(x):
    return zy.gradient(lambda y: y**3, x)[0]


def test_the_users_own_operator_and_zy_are_not_shadowed_by_the_engines():
    # The generated code names the operator module and the engine's helpers __operator and __zy:
    # a parameter called operator (read by the rule path, which float32 takes) and a module
    # alias zy (import zygote_engine as zy) are the user's own
    x = np.ones(2, np.float32)
    dx, doperator = gradient(scaled_by, x, 3.0)
    assert dx.dtype == np.float32 and dx.tolist() == [3.0, 3.0] and doperator == 2.0
    assert gradient(second_derivative_of_cube, 2.0) == (12.0,)  # d/dx 3x² = 6x
