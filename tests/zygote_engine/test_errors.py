"""Every error path names the user's file and line and says what to do."""

from __future__ import annotations

import contextlib
import traceback

import numpy as np
import pytest
import scipy.stats

from zygote_engine import (
    MissingRuleError,
    NonScalarOutputError,
    UnsupportedConstructError,
    ZygoteRuleConfig,
    gradient,
    jvp,
)

HERE = __file__


def with_send(x):
    def gen():
        received = yield x
        yield received

    return sum(gen())


def with_yield(x):
    yield x


@pytest.mark.parametrize(
    ("f", "construct"),
    [
        (with_send, "a yield used as a value"),
    ],
)
def test_unsupported_construct_names_file_line_and_construct(f, construct):
    with pytest.raises(UnsupportedConstructError) as info:
        gradient(f, 1.0)
    message = str(info.value)
    assert f"{HERE}:" in message and construct in message
    assert "not supported by zygote_engine" in message


def test_unsupported_construct_line_is_the_offending_line():
    with pytest.raises(UnsupportedConstructError) as info:
        gradient(with_send, 1.0)
    line = with_send.__code__.co_firstlineno + 2
    assert f"{HERE}:{line}:" in str(info.value)


def test_a_generator_function_itself_is_not_differentiable_its_consumer_is():
    from zygote_engine import jvp

    for differentiate in (
        lambda: gradient(with_yield, 1.0),
        lambda: jvp(with_yield, (1.0,), (1.0,)),
    ):
        with pytest.raises(UnsupportedConstructError, match=r"consumes what it yields"):
            differentiate()
    assert gradient(lambda x: sum(with_yield(x)), 1.0) == (1.0,)


_no_rule_ufunc = np.frompyfunc(lambda v: v * 2.0, 1, 1)


def test_missing_rule_for_compiled_function_names_it_and_shows_a_rule():
    def f(x):
        return _no_rule_ufunc(x) * 1.0

    with pytest.raises(MissingRuleError) as info:
        gradient(f, 1.0)
    message = str(info.value)
    assert f"{HERE}:{f.__code__.co_firstlineno + 1}:" in message
    assert "@rrule.register(" in message


def test_non_scalar_output_names_jacobian():
    with pytest.raises(NonScalarOutputError, match="jacobian"):
        gradient(lambda a: a * 2.0, np.ones(3))


def test_tuple_output_is_not_a_scalar():
    with pytest.raises(NonScalarOutputError):
        gradient(lambda x: (x, x), 1.0)


def test_float_augmented_assignment_is_fine():
    def f(x):
        y = 1.0
        y += x
        return y * x

    assert gradient(f, 2.0) == (5.0,)


def test_error_inside_user_code_shows_the_user_line_in_the_traceback():
    def f(x):
        y = x * 2.0
        return y / 0.0

    with pytest.raises(ZeroDivisionError) as info:
        gradient(f, 1.0)
    frames = traceback.extract_tb(info.tb)
    line = f.__code__.co_firstlineno + 2
    assert any(fr.filename == HERE and fr.lineno == line for fr in frames)


def test_function_without_source_is_reported():
    namespace = {}
    exec("def g(x):\n    return x * 2.0\n", namespace)
    with pytest.raises(UnsupportedConstructError, match="no readable source"):
        gradient(namespace["g"], 1.0)


def test_a_value_given_as_the_function_is_a_type_error_saying_so():
    from zygote_engine import jvp, pullback

    for differentiate in (gradient, pullback):
        with pytest.raises(TypeError, match="differentiates a function, but it was given int 3"):
            differentiate(3, 1.0)
    with pytest.raises(TypeError, match=r"jvp differentiates a function.*jvp\(f, x\)"):
        jvp(3, (1.0,), (1.0,))


def _eval_inside(x):
    return eval("x * 2")


def test_eval_of_a_string_is_rejected_at_its_line_not_silently_zero():
    with pytest.raises(UnsupportedConstructError) as info:
        gradient(_eval_inside, 1.0)
    line = _eval_inside.__code__.co_firstlineno + 1
    assert f"test_errors.py:{line}: eval() of code in a string" in str(info.value)


def test_missing_rule_for_a_method_names_its_class():
    from zygote_engine import MissingRuleError

    def f(x):
        return np.frompyfunc(lambda v: v, 1, 1).reduce(np.array([x, x]))

    with pytest.raises(MissingRuleError, match=r"rrule\.register\(numpy\.ufunc\.reduce\)"):
        gradient(f, 1.0)


@contextlib.contextmanager
def _scaled_by(s):
    yield 2.0 * s


def test_a_generator_context_manager_given_no_differentiated_value_runs():
    def f(x):
        with _scaled_by(1.5) as k:
            return k * x * x

    assert gradient(f, 2.0) == (12.0,)  # d/dx 3 x^2 = 6 x


def _clipped_below(lo):
    return np.sum(np.clip(np.array([0.3, 0.7]), a_min=lo, a_max=0.5))


def _log_density(mu):
    return scipy.stats.norm.logpdf(1.0, loc=mu)


def test_a_rule_keyword_that_carries_a_derivative_is_passed_by_position_or_refused():
    # 0.3 lies below lo = 0.4 and follows it; 0.7 is clipped to the constant 0.5
    assert jvp(_clipped_below, (0.4,), (1.0,))[1] == 1.0
    assert gradient(_clipped_below, 0.4) == (1.0,)
    # norm.logpdf takes loc through **kwds, never by position: refused at the user's line
    line = _log_density.__code__.co_firstlineno + 1
    for differentiate in (
        lambda: jvp(_log_density, (0.4,), (1.0,)),
        lambda: gradient(_log_density, 0.4),
    ):
        with pytest.raises(UnsupportedConstructError, match="loc= of scipy.stats") as info:
            differentiate()
        assert str(info.value).startswith(f"{HERE}:{line}:")


def _sine_times_x(x):
    return np.sin(x) * x


def _calls_the_engine_directly(x):
    _, back = ZygoteRuleConfig().rrule_via_ad(_sine_times_x, x)
    return back(1.0)[1]


def test_reverse_mode_refuses_the_engines_machinery_at_the_users_line():
    line = _calls_the_engine_directly.__code__.co_firstlineno + 1
    with pytest.raises(UnsupportedConstructError, match="engine's own machinery") as info:
        gradient(_calls_the_engine_directly, 0.7)
    assert str(info.value).startswith(f"{HERE}:{line}:")
    # forward mode differentiates it: (sin x + x cos x)' = 2 cos x - x sin x
    _, d = jvp(_calls_the_engine_directly, (0.7,), (1.0,))
    assert np.isclose(d, 2 * np.cos(0.7) - 0.7 * np.sin(0.7))


def _class_reading_a_variable(x):
    scale = x * 2.0

    class Scaled:
        def times(self, v):
            return v * scale

    return Scaled().times(x)


def test_a_class_defined_in_the_function_that_reads_its_variables_is_a_located_error():
    line = _class_reading_a_variable.__code__.co_firstlineno + 3
    for differentiate in (
        lambda: gradient(_class_reading_a_variable, 1.0),
        lambda: jvp(_class_reading_a_variable, (1.0,), (1.0,)),
    ):
        with pytest.raises(UnsupportedConstructError) as info:
            differentiate()
        message = str(info.value)
        assert message.startswith(f"{HERE}:{line}: a class defined in the function that reads")
        assert "'scale'" in message
