"""The shape of the generated code: locals for straight-line code, a tape for control flow,
no pullback where none can be needed."""

from __future__ import annotations

from zygote_engine import gradient, show_adjoint


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
    assert "z = x * y" in text and "z, pb1 = __call2(__cx, operator.mul, x, y)" in text
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
