"""chainrules_core.testing must pass correct rules and catch each kind of wrong rule."""

from dataclasses import dataclass

import numpy as np
import pytest

from chainrules_core import NoTangent, ProjectTo, Tangent, ZeroTangent, frule, rrule, thunk
from chainrules_core.testing import (
    WithTangent,
    nondiff,
    test_frule,
    test_rrule,
    test_scalar,
)


def register_square(name, pullback_math, frule_math=None):
    """A fresh ``x -> x**2`` whose rules use the given (possibly wrong) maths."""

    def square(x):
        return x * x

    square.__qualname__ = name

    @rrule.register(square)
    def _(x):
        def square_pullback(dy):
            return pullback_math(x, dy)

        return square(x), square_pullback

    @frule.register(square)
    def _(tangents, x):
        return square(x), (frule_math or (lambda x, dx: 2 * x * dx))(x, tangents[1])

    return square


X = np.array([0.5, -1.0, 2.0])


def test_a_correct_rule_passes():
    square = register_square("square", lambda x, dy: (NoTangent(), 2 * x * dy))
    test_rrule(square, X)
    test_frule(square, X)


def test_a_sign_error_is_caught_naming_the_argument():
    bad = register_square("bad_sign", lambda x, dy: (NoTangent(), -2 * x * dy))
    with pytest.raises(
        AssertionError, match=r"rrule of bad_sign: the cotangent of argument 1 \(x\)"
    ):
        test_rrule(bad, X)


def test_expected_and_got_are_both_shown():
    bad = register_square("bad_factor", lambda x, dy: (NoTangent(), 3 * x * dy))
    with pytest.raises(AssertionError, match=r"(?s)expected: .*got: "):
        test_rrule(bad, X)


def test_a_missing_function_tangent_is_caught():
    bad = register_square("no_f", lambda x, dy: (2 * x * dy,))
    with pytest.raises(AssertionError, match="tangent of f itself first"):
        test_rrule(bad, X)


def test_a_wrong_shape_is_caught():
    bad = register_square("bad_shape", lambda x, dy: (NoTangent(), np.sum(2 * x * dy)))
    with pytest.raises(AssertionError, match=r"shape \(3,\)"):
        test_rrule(bad, X)


def test_a_wrong_dtype_is_caught():
    bad = register_square("bad_dtype", lambda x, dy: (NoTangent(), (2 * x * dy).astype(np.float64)))
    with pytest.raises(AssertionError, match="float32.*ProjectTo"):
        test_rrule(bad, X.astype(np.float32))


def test_a_complex_tangent_for_a_real_input_is_caught():
    bad = register_square("bad_complex", lambda x, dy: (NoTangent(), complex(2 * x * dy)))
    with pytest.raises(AssertionError, match="complex"):
        test_rrule(bad, 1.5)


def test_a_wrong_primal_is_caught():
    def twice(x):
        return 2 * x

    @rrule.register(twice)
    def _(x):
        return 3 * x, lambda dy: (NoTangent(), 2 * dy)

    with pytest.raises(AssertionError, match="primal output"):
        test_rrule(twice, 1.0)


def test_a_missing_rule_is_reported():
    def nothing(x):
        return x

    with pytest.raises(AssertionError, match="no rrule is registered for argument types"):
        test_rrule(nothing, 1.0)
    with pytest.raises(AssertionError, match="no frule is registered"):
        test_frule(nothing, 1.0)


def test_a_wrong_frule_is_caught():
    bad = register_square(
        "bad_frule", lambda x, dy: (NoTangent(), 2 * x * dy), lambda x, dx: x * dx
    )
    with pytest.raises(AssertionError, match="frule of bad_frule: the output tangent is wrong"):
        test_frule(bad, X)


def test_an_frule_that_fails_on_zero_tangents_is_caught():
    bad = register_square(
        "zero_frule",
        lambda x, dy: (NoTangent(), 2 * x * dy),
        lambda x, dx: 2 * x * dx + (1.0 if dx is ZeroTangent() else 0.0),
    )
    with pytest.raises(AssertionError, match="zero input tangents"):
        test_frule(bad, 1.5)


def test_thunked_cotangents_are_unthunked():
    lazy = register_square("lazy", lambda x, dy: (NoTangent(), thunk(lambda: 2 * x * dy)))
    test_rrule(lazy, X)


def scaled(x, n):
    return x * n


@rrule.register(scaled)
def _(x, n):
    return scaled(x, n), lambda dy: (NoTangent(), dy * n, NoTangent())


@frule.register(scaled)
def _(tangents, x, n):
    return scaled(x, n), tangents[1] * n


def test_integer_arguments_are_not_differentiated_and_must_get_zero_tangents():
    test_rrule(scaled, X, 3)
    test_frule(scaled, X, 3)


def test_nondiff_marks_a_float_argument_as_non_differentiable():
    test_rrule(scaled, X, nondiff(2.5))
    test_frule(scaled, X, nondiff(2.5))
    with pytest.raises(AssertionError, match=r"argument 2 \(n\)"):
        test_rrule(scaled, X, 2.5)


def test_a_nonzero_tangent_for_a_non_differentiable_argument_is_caught():
    def leak(x, label):
        return 2 * x

    @rrule.register(leak)
    def _(x, label):
        return leak(x, label), lambda dy: (NoTangent(), 2 * dy, 1.0)

    with pytest.raises(AssertionError, match="must be NoTangent"):
        test_rrule(leak, 1.0, "a label")


def test_fixed_output_tangent_and_input_tangents_are_used():
    square = register_square("square_fixed", lambda x, dy: (NoTangent(), 2 * x * dy))
    test_rrule(square, X, output_tangent=np.array([1.0, 0.0, 0.0]))
    test_frule(square, WithTangent(X, np.array([0.0, 1.0, 0.0])))


def test_keyword_arguments_reach_the_function_and_the_rule():
    def power(x, p=2.0):
        return x**p

    @rrule.register(power)
    def _(x, p=2.0):
        return power(x, p), lambda dy: (NoTangent(), p * x ** (p - 1) * dy)

    test_rrule(power, X + 3.0, fkwargs={"p": 3.0})


def test_large_arguments_are_checked_along_random_directions():
    square = register_square("square_large", lambda x, dy: (NoTangent(), 2 * x * dy))
    bad = register_square("bad_large", lambda x, dy: (NoTangent(), 2.001 * x * dy))
    big = np.random.default_rng(1).standard_normal((30, 30))
    test_rrule(square, big)
    with pytest.raises(AssertionError, match="random direction"):
        test_rrule(bad, big)


def test_float32_is_held_to_float32_tolerances():
    square = register_square(
        "square32", lambda x, dy: (NoTangent(), ProjectTo(x)((2 * x * dy).astype(np.float32)))
    )
    test_rrule(square, np.linspace(0.1, 3.0, 7, dtype=np.float32))


@dataclass
class Point:
    x: float
    y: float


def norm2(p):
    return p.x**2 + p.y**2


@rrule.register(norm2, Point)
def _(p):
    return norm2(p), lambda dy: (NoTangent(), Tangent(Point, x=2 * p.x * dy, y=2 * p.y * dy))


def wrong_norm2(p):
    return p.x**2 + p.y**2


@rrule.register(wrong_norm2, Point)
def _(p):
    return wrong_norm2(p), lambda dy: (NoTangent(), Tangent(Point, x=2 * p.x * dy))


def test_structured_inputs_are_differentiated_field_by_field():
    test_rrule(norm2, Point(1.5, -0.5))
    with pytest.raises(AssertionError, match=r"argument 1 \(p\)"):
        test_rrule(wrong_norm2, Point(1.5, -0.5))


def pair_sum(pair):
    return pair[0] + 2 * pair[1]


@rrule.register(pair_sum, tuple)
def _(pair):
    return pair_sum(pair), lambda dy: (NoTangent(), Tangent(tuple, float(np.sum(dy)), 2 * dy))


@frule.register(pair_sum, tuple)
def _(tangents, pair):
    dpair = tangents[1]
    return pair_sum(pair), dpair[0] + 2 * dpair[1]


def test_tuple_inputs_and_outputs():
    test_rrule(pair_sum, (1.0, np.array([1.0, 2.0])))
    test_frule(pair_sum, (1.0, np.array([1.0, 2.0])))


def test_a_wrong_kind_of_structural_tangent_is_caught():
    def first(pair):
        return pair[0]

    @rrule.register(first, tuple)
    def _(pair):
        return pair[0], lambda dy: (NoTangent(), Tangent(list, dy, 0.0))

    with pytest.raises(AssertionError, match="Tangent\\[list\\] for a tuple"):
        test_rrule(first, (1.0, 2.0))


def cube(x):
    return x**3


@rrule.register(cube)
def _(x):
    return cube(x), lambda dy: (NoTangent(), 3 * x**2 * dy)


@frule.register(cube)
def _(tangents, x):
    return cube(x), 3 * x**2 * tangents[1]


def test_test_scalar_checks_both_rules():
    test_scalar(cube, 1.3)
    with pytest.raises(TypeError, match="needs a number"):
        test_scalar(cube, np.ones(2))


def holomorphic_cube(z):
    return z**3


@rrule.register(holomorphic_cube)
def _(z):
    return holomorphic_cube(z), lambda dy: (NoTangent(), np.conj(3 * z**2) * dy)


def test_complex_inputs_use_the_conjugate_convention():
    z = np.array([1 + 1j, 0.5 - 2j])
    test_rrule(holomorphic_cube, z)
    with pytest.raises(AssertionError, match="cotangent of argument 1"):
        test_rrule(cube, z)  # its pullback forgets to conjugate f'(z)


def test_the_checkers_are_not_collected_by_pytest():
    assert test_rrule.__test__ is False
    assert test_frule.__test__ is False
    assert test_scalar.__test__ is False


def int_scaled(x, n):
    return x * n


@rrule.register(int_scaled)
def _(x, n):
    return int_scaled(x, n), lambda dy: (NoTangent(), dy * n, ProjectTo(n)(np.sum(dy * x)))


def test_integer_arguments_may_get_the_real_cotangent_projection_gives():
    test_rrule(int_scaled, X, 3)
    with pytest.raises(AssertionError, match="must be NoTangent"):
        test_rrule(int_scaled, X, nondiff(3))


def test_an_integer_argument_rejects_an_array_cotangent():
    def broadcast_leak(x, n):
        return x * n

    @rrule.register(broadcast_leak)
    def _(x, n):
        return broadcast_leak(x, n), lambda dy: (NoTangent(), dy * n, dy * x)

    with pytest.raises(AssertionError, match="not differentiable"):
        test_rrule(broadcast_leak, X, 3)


def test_nan_from_finite_differences_fails_instead_of_passing():
    square = register_square("square_nan", lambda x, dy: (NoTangent(), 2 * x * dy))
    with pytest.raises(AssertionError, match="non-finite"):
        test_rrule(square, np.array([1.0, np.nan]))
    with pytest.raises(AssertionError, match="non-finite"):
        test_frule(square, np.array([1.0, np.nan]))


def test_a_nan_cotangent_is_reported():
    nan_rule = register_square("square_gives_nan", lambda x, dy: (NoTangent(), np.nan * x * dy))
    with pytest.raises(AssertionError, match="is wrong"):
        test_rrule(nan_rule, X)


def to_single(x):
    return x.astype(np.float32)


@rrule.register(to_single)
def _(x):
    return to_single(x), lambda dy: (NoTangent(), dy.astype(x.dtype))


def test_single_precision_outputs_get_single_precision_tolerances():
    test_rrule(to_single, np.array([0.1, 1.0 / 3.0, 2.7]))


def pass_type(x, dtype):
    return x.astype(dtype)


@rrule.register(pass_type)
def _(x, dtype):
    return pass_type(x, dtype), lambda dy: (NoTangent(), dy.astype(x.dtype), NoTangent())


def test_numpy_scalar_types_as_arguments_are_constants():
    test_rrule(pass_type, np.array([0.5, 1.5]), np.float64)


def mapped_square(xs):
    return [x * x for x in xs]


def test_config_rules_are_checked_through_the_config_option():
    from chainrules_core import HasForwardsMode, HasReverseMode, RuleConfig

    class Engine(RuleConfig, HasReverseMode, HasForwardsMode):
        pass

    def twice(config, x):
        return 2 * x, lambda dy: (NoTangent(), 2 * dy)

    def twice_forward(config, tangents, x):
        return 2 * x, 2 * tangents[1]

    def needs_engine(x):
        return 2 * x

    rrule.add(needs_engine, (), twice, config=HasReverseMode)
    frule.add(needs_engine, (), twice_forward, config=HasForwardsMode)
    test_rrule(needs_engine, 1.5, config=Engine())
    test_frule(needs_engine, 1.5, config=Engine())
    with pytest.raises(AssertionError, match="no rrule"):
        test_rrule(needs_engine, 1.5)
