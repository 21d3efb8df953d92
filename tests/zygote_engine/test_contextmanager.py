"""``with manager(x) as v:`` where ``manager`` is a ``@contextlib.contextmanager`` function.

The generator runs as contextlib runs it (up to its yield at enter, on from there at exit, the
body's exception thrown in at the yield), and both modes differentiate the code on both sides
of the yield. Expected derivatives are worked out by hand.
"""

from __future__ import annotations

import contextlib
import math
import traceback

import engine_corpus
import pytest
from engine_corpus import accumulating

from zygote_engine import UnsupportedConstructError, gradient, jvp

HERE = __file__


def _differentiations(f):
    """``f``'s gradient and its jvp at 1.0, to be called: the two modes, for behaviour that both
    must show."""
    return (lambda: gradient(f, 1.0), lambda: jvp(f, (1.0,), (1.0,)))


def _both_modes(f, *args):
    """``f``'s gradient by reverse mode, and the same by forward mode, one argument at a time."""
    reverse = gradient(f, *args)
    forward = tuple(
        jvp(f, args, tuple(1.0 if j == i else 0.0 for j in range(len(args))))[1]
        for i in range(len(args))
    )
    return reverse, forward


def _assert_derivatives(f, args, expected):
    reverse, forward = _both_modes(f, *args)
    assert reverse == pytest.approx(expected)
    assert forward == pytest.approx(expected)


# --- the forms of a generator -------------------------------------------------------------------


@contextlib.contextmanager
def _squared(x, events):
    events.append("enter")
    k = 3.0 * x
    yield k * x
    events.append("exit")


def test_the_code_before_the_yield_runs_at_enter_and_the_code_after_at_exit():
    events = []

    def f(x):
        with _squared(x, events) as v:  # v = 3 x²
            events.append("body")
            y = v * x
        events.append("after")
        return y  # 3 x³

    _assert_derivatives(f, (2.0,), (36.0,))
    assert events == ["enter", "body", "exit", "after"] * 2  # gradient, then jvp


def test_code_after_the_yield_uses_what_the_body_computed():
    def f(x, w):
        total = [x]
        with accumulating(total, w) as box:
            box.append(x * x)
            box.append(w * x)
        return total[0] * total[1]  # x · w (x² + w x) = w x³ + w² x²

    x, w = 1.5, 0.5
    _assert_derivatives(f, (x, w), (3 * w * x**2 + 2 * w**2 * x, x**3 + 2 * w * x**2))


@contextlib.contextmanager
def _scaling(state, k):
    before = state["value"]
    yield state
    state["value"] = k * state["value"] + before


def test_a_manager_that_scales_what_the_body_left():
    def f(x, k):
        state = {"value": x}
        with _scaling(state, k) as s:
            s["value"] = s["value"] * x  # x²
        return state["value"]  # k x² + x

    _assert_derivatives(f, (1.2, 3.0), (2 * 3.0 * 1.2 + 1.0, 1.2**2))


@contextlib.contextmanager
def _logging_sine(log, x):
    s = math.sin(x)
    yield
    log.append(s * x)


def test_a_yield_without_a_value_and_a_with_without_as():
    def f(x):
        log = []
        with _logging_sine(log, x):
            y = x * x
        return log[0] + y  # x sin x + x²

    x = 0.7
    _assert_derivatives(f, (x,), (math.sin(x) + x * math.cos(x) + 2 * x,))


@contextlib.contextmanager
def _powered(x, power=2, *, scale=1.0):
    yield scale * x**power


def test_keywords_defaults_unpacking_and_several_managers():
    def f(x, y):
        with _powered(x, power=3) as a, _powered(y, scale=x) as b:  # x³, x y²
            (c, d) = (a, b)
            return c + d

    x, y = 1.3, 0.4
    _assert_derivatives(f, (x, y), (3 * x**2 + y**2, 2 * x * y))


def test_a_manager_of_a_module_and_in_a_loop():
    def f(x):
        total = 0.0
        for i in range(3):
            with engine_corpus._scaled_by(x, power=i) as v:  # 2 x^(i+1)
                total = total + v
        return total  # 2x + 2x² + 2x³

    x = 0.9
    _assert_derivatives(f, (x,), (2 + 4 * x + 6 * x**2,))


# --- exceptions of the body, thrown into the generator at its yield ------------------------------


@contextlib.contextmanager
def _forgiving(scale, log):
    try:
        yield 2.0 * scale
    except ValueError as error:
        log.append(error.args[0] * scale)
    finally:
        log.append("finally")


def test_an_exception_the_generator_catches_is_swallowed():
    log = []

    def f(x):
        del log[:]
        y = x
        with _forgiving(x, log) as s:
            y = s * x
            raise ValueError(y)
        return y + log[0]  # 2x² + 2x³

    x = 1.1
    _assert_derivatives(f, (x,), (4 * x + 6 * x**2,))
    assert log[1] == "finally"


def test_an_exception_the_generator_does_not_catch_goes_on_after_its_finally():
    log = []

    def f(x):
        with _forgiving(x, log) as s:
            return {}[s]

    for differentiate in _differentiations(f):
        log.clear()
        with pytest.raises(KeyError):
            differentiate()
        assert log == ["finally"]


@contextlib.contextmanager
def _rethrowing(log):
    try:
        yield
    except KeyError:
        log.append("caught")
        raise


def test_an_exception_the_generator_catches_and_raises_again_propagates():
    log = []

    def f(x):
        with _rethrowing(log):
            raise KeyError(x)

    for differentiate in _differentiations(f):
        log.clear()
        with pytest.raises(KeyError):
            differentiate()
        assert log == ["caught"]


@contextlib.contextmanager
def _maybe(x, ready):
    if ready:
        yield x * x


def test_a_generator_that_returns_before_its_yield_is_contextlibs_runtime_error():
    def f(x, ready):
        with _maybe(x, ready) as v:
            return v * x

    assert gradient(f, 2.0, True) == (12.0, None)
    assert jvp(f, (2.0, True), (1.0, None)) == (8.0, 12.0)
    for differentiate in (
        lambda: gradient(f, 2.0, False),
        lambda: jvp(f, (2.0, False), (1.0, None)),
    ):
        with pytest.raises(RuntimeError, match="generator didn't yield"):
            differentiate()


@contextlib.contextmanager
def _checked(x):
    if x < 0:
        raise ValueError("negative")
    yield x


def test_an_error_before_the_yield_points_at_the_generators_line():
    def f(x):
        with _checked(x) as v:
            return v

    with pytest.raises(ValueError, match="negative") as info:
        gradient(f, -1.0)
    line = _checked.__wrapped__.__code__.co_firstlineno + 3  # after the decorator's line
    frames = traceback.extract_tb(info.value.__traceback__)
    assert (HERE, line) in [(frame.filename, frame.lineno) for frame in frames]


# --- closures and nested differentiation ----------------------------------------------------------


def _make_model(w):
    @contextlib.contextmanager
    def weighted(a):
        yield a * w

    def model(x):
        with weighted(x) as v:
            return v * x

    return model


def test_a_generator_that_captures_a_variable_passes_its_gradient_on():
    def f(w):
        return _make_model(w)(3.0)  # 9 w

    assert gradient(f, 2.0) == (9.0,)
    assert jvp(f, (2.0,), (1.0,)) == (18.0, 9.0)


def test_second_derivatives_through_a_generator_manager():
    def f(x, w):
        total = [x]
        with accumulating(total, w) as box:
            box.append(x * x)
        return total[0] * total[1]  # w x³

    x, w = 1.5, 0.5
    hessian = [[6 * w * x, 3 * x**2], [3 * x**2, 0.0]]
    direction = (0.3, 0.7)
    _, hvp = jvp(lambda a, b: gradient(f, a, b), (x, w), direction)
    assert hvp == pytest.approx(tuple(r[0] * direction[0] + r[1] * direction[1] for r in hessian))
    assert gradient(lambda a, b: gradient(f, a, b)[0], x, w) == pytest.approx(hessian[0])
    assert gradient(lambda a, b: gradient(f, a, b)[1], x, w) == pytest.approx(hessian[1])


# --- what stays refused ---------------------------------------------------------------------------


@contextlib.contextmanager
def _twice(x):
    yield x
    yield x  # line + 3


@contextlib.contextmanager
def _in_a_loop(x):
    for _ in range(1):
        yield x  # line + 3


@contextlib.contextmanager
def _delegating(x):
    yield from [x]  # line + 2


@contextlib.contextmanager
def _inside_a_with(x):
    with contextlib.nullcontext():
        yield x  # line + 3


@contextlib.contextmanager
def _in_a_handler(x):
    try:
        pass
    except ValueError:
        yield x  # line + 5
    else:
        yield x  # line + 7


@pytest.mark.parametrize(
    ("manager", "offset", "what"),
    [
        (_twice, 3, "more than one yield"),
        (_in_a_loop, 3, "a yield inside a loop"),
        (_delegating, 2, "yield from"),
        (_inside_a_with, 3, "a yield inside a with statement"),
        (_in_a_handler, 7, "more than one yield"),
    ],
)
def test_a_generator_that_cannot_be_split_is_a_located_error(manager, offset, what):
    def f(x):
        with manager(x) as v:
            return v * x

    line = manager.__wrapped__.__code__.co_firstlineno + offset  # from the decorator's line
    for differentiate in _differentiations(f):
        with pytest.raises(UnsupportedConstructError, match=what) as info:
            differentiate()
        assert str(info.value).startswith(f"{HERE}:{line}:")


@contextlib.contextmanager
def _in_an_else(x):
    try:
        pass
    except ValueError:
        pass
    else:
        yield x  # line + 7


def test_a_yield_in_an_else_block_is_a_located_error():
    def f(x):
        with _in_an_else(x) as v:
            return v

    line = _in_an_else.__wrapped__.__code__.co_firstlineno + 7
    with pytest.raises(UnsupportedConstructError, match="except, else or finally") as info:
        gradient(f, 1.0)
    assert str(info.value).startswith(f"{HERE}:{line}:")


class _Model:
    def __init__(self, w):
        self.w = w

    @contextlib.contextmanager
    def scaled(self, x):
        yield self.w * x


def _by_method(x):
    with _Model(2.0).scaled(x) as v:
        return v * x  # 2x²


_EVENTS: list = []


def _made_before(x):
    manager = _squared(x, _EVENTS)
    with manager as v:
        return v * x  # 3x³


@pytest.mark.parametrize(
    ("f", "derivative"), [(_by_method, 4.0 * 1.5), (_made_before, 9.0 * 1.5**2)]
)
def test_a_manager_made_before_the_with_or_by_a_method_runs_its_generator_differentiated(
    f, derivative
):
    _EVENTS.clear()
    _assert_derivatives(f, (1.5,), (derivative,))
    if f is _made_before:  # the generator's code ran, once in each mode
        assert _EVENTS == ["enter", "exit", "enter", "exit"]
