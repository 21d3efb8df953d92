import numpy as np
import pytest

from chainrules_core import (
    NoTangent,
    ZeroTangent,
    frule,
    ignore_derivatives,
    non_differentiable,
    opt_out,
    rrule,
    scalar_cotangents,
    scalar_rule,
    unbroadcast,
)
from chainrules_core.testing import test_frule, test_rrule


def test_unbroadcast_sums_leading_and_singleton_dimensions():
    dx = unbroadcast(np.ones((3, 1)), np.ones((2, 3, 4)))
    np.testing.assert_array_equal(dx, np.full((3, 1), 8.0))
    assert unbroadcast(np.ones(4), np.ones((5, 4))).shape == (4,)
    assert float(unbroadcast(1.0, np.ones((2, 2)))) == 4.0


def test_unbroadcast_leaves_matching_shapes_and_zeros_alone():
    dx = np.ones((2, 3))
    assert unbroadcast(np.ones((2, 3)), dx) is dx
    assert unbroadcast(np.ones(3), ZeroTangent()) is ZeroTangent()


def mul(x, y):
    return x * y


scalar_rule(mul, lambda x, y, out: (y, x))


def logistic(x):
    return 1 / (1 + np.exp(-x))


scalar_rule(logistic, lambda x, out: out * (1 - out))


@pytest.mark.parametrize(
    "x, y",
    [
        (2.0, 3.0),
        (np.array(2.0), 3.0),
        (np.ones((2, 3)) * 1.5, np.arange(3.0)),
        (np.arange(3.0).reshape(3, 1), np.ones((2, 1, 4))),
        (np.ones(3, np.float32), np.float32(2.0)),
    ],
)
def test_scalar_rule_broadcasts_and_sums_cotangents_back(x, y):
    test_rrule(mul, x, y)
    test_frule(mul, x, y)


def test_scalar_rule_keeps_float32():
    x = np.ones(3, np.float32)
    _, back = rrule(logistic, x)
    assert back(np.ones(3, np.float32))[1].dtype == np.float32


def test_scalar_rule_conjugates_partials_for_complex_inputs():
    test_rrule(mul, np.array([1 + 2j, 3 - 1j]), np.array([0.5 - 1j, 2 + 0j]))
    test_frule(mul, np.array([1 + 2j, 3 - 1j]), np.array([0.5 - 1j, 2 + 0j]))


def test_scalar_rule_unary_partial_may_be_a_bare_value():
    test_rrule(logistic, np.linspace(-2, 2, 5))
    test_frule(logistic, 0.3)


def test_scalar_rule_with_types_only_applies_to_those_types():
    def halve(x):
        return x / 2

    scalar_rule(halve, lambda x, out: 0.5, float)
    assert rrule(halve, 1.0) is not None
    assert rrule(halve, np.ones(2)) is None


def test_scalar_frule_broadcasts_a_scalar_tangent_to_the_output_shape():
    _, dy = frule((NoTangent(), ZeroTangent(), 1.0), mul, np.ones(3), 2.0)
    np.testing.assert_array_equal(dy, np.ones(3))


def test_non_differentiable_as_call_and_decorator():
    @non_differentiable
    def count(xs):
        return len(xs)

    y, back = rrule(count, [1.0, 2.0])
    assert y == 2
    assert back(1.0) == (NoTangent(), NoTangent())
    assert frule((NoTangent(), ZeroTangent()), count, [1.0]) == (1, NoTangent())

    def label(x, y):
        return f"{x}:{y}"

    assert non_differentiable(label, float, float) is label
    assert rrule(label, 1.0, 2.0)[1](1.0) == (NoTangent(), NoTangent(), NoTangent())
    assert rrule(label, "a", "b") is None


def test_opt_out_disables_a_generic_rule_for_given_types():
    def double(x):
        return 2 * x

    scalar_rule(double, lambda x, out: 2)

    class MyFloat(float):
        pass

    opt_out(double, MyFloat)
    assert rrule(double, MyFloat(1.0)) is None
    assert frule((NoTangent(), 1.0), double, MyFloat(1.0)) is None
    assert rrule(double, 1.0) is not None


def test_opt_out_needs_types():
    with pytest.raises(TypeError, match="argument types"):
        opt_out(mul)


def test_ignore_derivatives_calls_functions_and_returns_values():
    assert ignore_derivatives(lambda: 3.0) == 3.0

    def make():
        return [1.0]

    assert ignore_derivatives(make) == [1.0]
    assert ignore_derivatives(4.0) == 4.0
    assert ignore_derivatives(np.sin) is np.sin  # not a plain function: a value


def test_ignore_derivatives_stops_all_tangents():
    y, back = rrule(ignore_derivatives, lambda: 2.0)
    assert y == 2.0
    assert back(1.0) == (NoTangent(), NoTangent())
    assert frule((NoTangent(), 1.0), ignore_derivatives, 5.0) == (5.0, NoTangent())


def test_non_differentiable_registrations_are_marked():
    def flag(x):
        return x > 0

    non_differentiable(flag)
    assert all(getattr(impl, "non_differentiable", False) for impl in rrule.implementations(flag))
    assert all(getattr(impl, "non_differentiable", False) for impl in frule.implementations(flag))


def test_scalar_rules_reject_keyword_arguments_and_extra_positional_arguments():
    ufunc = np.frompyfunc(lambda x, y: x * y, 2, 1)
    scalar_rule(ufunc, lambda x, y, out: (y, x))
    with pytest.raises(TypeError, match="keyword argument"):
        rrule(mul, 1.0, 2.0, out=None)
    with pytest.raises(TypeError, match="keyword argument"):
        frule((NoTangent(), 1.0, 1.0), mul, 1.0, 2.0, where=True)
    with pytest.raises(TypeError, match="with 2 input"):
        rrule(ufunc, 1.0, 2.0, np.empty(()))
    with pytest.raises(TypeError, match="with 1 input"):
        rrule(logistic, 1.0, True)


def test_scalar_rule_partials_must_match_the_arguments():
    def f3(x, y, z):
        return x + y + z

    scalar_rule(f3, lambda *args: (1.0, 1.0))
    _, back = rrule(f3, 1.0, 2.0, 3.0)
    with pytest.raises(TypeError, match="gave 2 derivative"):
        back(1.0)


def test_scalar_frule_projects_onto_the_output():
    def real_part(z):
        return np.real(z)

    scalar_rule(real_part, lambda z, out: 1.0)
    _, dy = frule((NoTangent(), np.array([1 + 2j])), real_part, np.array([3 + 4j]))
    assert dy.dtype == np.float64
    _, dy32 = frule((NoTangent(), np.float64(2.0)), logistic, np.ones(2, np.float32))
    assert dy32.dtype == np.float32


def test_scalar_cotangents_of_numbers():
    assert scalar_cotangents(lambda x, y, out: (y, x), (2.0, 3), 6.0, 0.5) == (1.5, 1.0)
    # a complex partial of a real argument: its conjugate times dy, projected onto the reals
    assert scalar_cotangents(lambda x, out: 2 + 1j, (2.0,), 0.0, 3.0) == (6.0,)
    # a complex argument keeps the conjugated product
    assert scalar_cotangents(lambda z, out: 2 + 1j, (1j,), 0.0, 3.0) == (6 - 3j,)
    with pytest.raises(TypeError, match="one partial per argument"):
        scalar_cotangents(lambda x, y, out: 1.0, (1.0, 2.0), 0.0, 1.0)
