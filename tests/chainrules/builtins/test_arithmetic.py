"""Finite-difference tests of the arithmetic builtins' rules (chainrules/builtins/arithmetic.py)."""

import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import AbstractZero, NoTangent, Tangent, ZeroTangent, frule, rrule
from chainrules_core.testing import test_frule, test_rrule

RNG = np.random.default_rng(1729)


def check(f, *args, **kwargs):
    test_rrule(f, *args, **kwargs)
    test_frule(f, *args, **kwargs)


SUMMANDS = {
    "list of floats": [0.5, -1.5, 2.25],
    "tuple of broadcasting arrays": (1.5, RNG.standard_normal(3), RNG.standard_normal((2, 3))),
    "matrix (sums its rows)": RNG.standard_normal((3, 2)),
    "float32 vector": RNG.standard_normal(4).astype(np.float32),
    "empty list": [],
}


@pytest.mark.parametrize("kind", list(SUMMANDS))
def test_sum(kind):
    if kind == "empty list":  # no output tangent to draw: check the rule by hand
        y, back = rrule(sum, [])
        assert y == 0 and back(1.0) == (NoTangent(), ZeroTangent())
        return
    check(sum, SUMMANDS[kind])


@pytest.mark.parametrize("start", [2.0, RNG.standard_normal(3)], ids=["float", "array"])
def test_sum_with_a_positional_start(start):
    check(sum, [0.5, RNG.standard_normal(3)], start)


def test_sum_with_a_keyword_start_gives_it_no_tangent():
    check(sum, [0.5, 1.5], fkwargs={"start": 4.0})


@pytest.mark.parametrize(
    "x",
    [
        -1.5,
        np.float32(2.5),
        3 - 4j,
        RNG.standard_normal((2, 3)),
        RNG.standard_normal(3) + 1j * RNG.standard_normal(3),
    ],
    ids=["float", "float32", "complex", "matrix", "complex vector"],
)
def test_abs(x):
    check(abs, x)


@pytest.mark.parametrize(
    ("x", "p"),
    [(1.5, -0.5), (RNG.uniform(0.5, 2, (2, 3)), 2.5), (1.25, RNG.uniform(-1, 1, 3)), (1 + 1j, 0.5)],
    ids=["floats", "matrix base", "vector exponent", "complex"],
)
def test_pow(x, p):
    check(pow, x, p)


def test_pow_with_a_modulus_is_not_differentiable():
    y, back = rrule(pow, 3, 4, 5)
    assert y == 1 and back(1.0) == (NoTangent(),) * 4


@pytest.mark.parametrize("f", [max, min])
@pytest.mark.parametrize("args", [(1.0, -2.0), (0.5, 3.0, -1.5, 2.0)], ids=str)
def test_min_max_of_arguments(f, args):
    check(f, *args)
    check(f, *args, fkwargs={"key": abs})


@pytest.mark.parametrize("f", [max, min])
@pytest.mark.parametrize(
    "xs",
    [[0.5, 3.0, -1.5], (2.0, -4.0), np.array([1.5, -0.5, 0.25])],
    ids=["list", "tuple", "array"],
)
def test_min_max_of_a_sequence(f, xs):
    check(f, xs)
    check(f, xs, fkwargs={"key": lambda x: (x - 0.3) ** 2})


def test_min_max_of_pairs_by_key():
    pairs = [(1.0, 5.0), (2.0, -1.0), (0.5, 3.0)]
    check(max, pairs, fkwargs={"key": lambda p: p[1]})


def test_min_max_ties_give_the_whole_cotangent_to_the_first():
    _, back = rrule(max, 1.0, 3.0, 3.0)
    assert back(1.0) == (NoTangent(), ZeroTangent(), 1.0, ZeroTangent())
    _, back = rrule(min, [2.0, 1.0, 1.0])
    assert back(1.0)[1] == Tangent(list, 0.0, 1.0, 0.0)


def test_min_max_of_an_empty_sequence_gives_the_default():
    y, back = rrule(max, [], default=7.0)
    assert y == 7.0 and back(1.0) == (NoTangent(), ZeroTangent())
    assert frule((NoTangent(), ZeroTangent()), min, (), default=7.0) == (7.0, ZeroTangent())


@pytest.mark.parametrize("x", [1.5, np.float32(-0.5), np.array(2.0)], ids=str)
def test_float(x):
    check(float, x)


@pytest.mark.parametrize("args", [(1.5,), (2 - 1j,), (1.5, -0.5), (0.5, 1 + 2j)], ids=str)
def test_complex(args):
    check(complex, *args)


@pytest.mark.parametrize(
    "call", [(round, 2.7), (round, 2.71828, 2), (int, 3.9), (int, "12")], ids=str
)
def test_non_differentiable_arithmetic(call):
    f, *args = call
    y, back = rrule(f, *args)
    assert y == f(*args) and back(1.0) == (NoTangent(),) * (len(args) + 1)
    assert isinstance(frule((NoTangent(),) * (len(args) + 1), f, *args)[1], AbstractZero)


# --- attributes of Python numbers ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["real", "imag"])
@pytest.mark.parametrize("kind", [complex, float])
def test_real_and_imaginary_parts_of_numbers(name, kind):
    a, b = RNG.standard_normal(2)
    x = complex(a, b) if kind is complex else float(a)
    check(getattr, x, name)
    assert rrule(getattr, x, name)[0] == getattr(x, name)


def test_imaginary_part_of_a_complex_number_hands_back_i_dy():
    # x = a + ib, L = 3 b: the cotangent dL/da + i dL/db is 3i
    _, back = rrule(getattr, 1.0 + 2.0j, "imag")
    assert back(3.0)[1] == 3.0j


def test_a_bound_method_of_a_number_has_its_receivers_tangent():
    x = 1.0 + 2.0j
    y, back = rrule(getattr, x, "conjugate")
    assert y() == x.conjugate()
    assert back(0.5 - 1.0j)[1] == 0.5 - 1.0j
    assert frule((NoTangent(), 0.25j, NoTangent()), getattr, x, "conjugate")[1] == 0.25j


def test_numerator_of_an_int_has_no_derivative():
    y, back = rrule(getattr, 6, "numerator")
    assert y == 6 and back(1.0)[1] is NoTangent()
    assert frule((NoTangent(), 1.0, NoTangent()), getattr, 6, "numerator")[1] is NoTangent()


def test_a_missing_attribute_gives_the_default_and_its_cotangent():
    check(getattr, 2.0, "no_such_attribute", 1.5)
    _, back = rrule(getattr, 2.0, "no_such_attribute", 1.5)
    assert back(4.0)[3] == 4.0


@pytest.mark.parametrize("x", [1.5 - 2.0j, 0.7, 3])
def test_conjugate_of_a_number(x):
    test_rrule(type(x).conjugate, x)
    test_frule(type(x).conjugate, x)


# away from the jumps of the quotient, where a / b is an integer
@pytest.mark.parametrize(
    ("a", "b"), [(7.3, 2.0), (-7.3, 2.1), (5.5, -1.7), (4, 1.5), (3.25, 2)], ids=str
)
def test_divmod(a, b):
    check(divmod, a, b)


def test_divmod_quotient_is_piecewise_constant():
    _, back = rrule(divmod, 7.5, 2.0)  # (3.0, 1.5)
    assert back(Tangent(tuple, 1.0, ZeroTangent())) == (NoTangent(), ZeroTangent(), ZeroTangent())
    assert back(Tangent(tuple, ZeroTangent(), 1.0)) == (NoTangent(), 1.0, -3.0)
    _, (dquotient, dremainder) = frule((NoTangent(), 1.0, 1.0), divmod, 7.5, 2.0)
    assert isinstance(dquotient, AbstractZero) and dremainder == -2.0


def test_divmod_of_ints_has_no_rule():
    assert rrule(divmod, 7, 2) is None
