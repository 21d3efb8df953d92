"""Finite-difference tests of the operator rules (chainrules/operator.py)."""

import operator
from typing import NamedTuple

import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import AbstractZero, NoTangent, Tangent, ZeroTangent, frule, rrule, unthunk
from chainrules_core.testing import test_frule, test_rrule

RNG = np.random.default_rng(20240604)


def sample(shape, dtype=np.float64, low=-2.0, high=2.0):
    """A random input: a Python number for shape None, else an array (0-d for shape ())."""
    x = RNG.uniform(low, high, size=shape or ())
    if np.dtype(dtype).kind == "c":
        x = x + 1j * RNG.uniform(low, high, size=shape or ())
    if shape is None:
        return complex(x) if np.dtype(dtype).kind == "c" else float(x)
    return np.asarray(x, dtype=dtype)


SHAPE_PAIRS = [
    (None, None),
    ((), ()),
    ((3,), (3,)),
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((2, 1), (1, 3)),
    (None, (3,)),
    ((2, 2), None),
]

# operator: (domain of x, domain of y, supports complex)
BINARY = {
    operator.add: ((-2, 2), (-2, 2), True),
    operator.sub: ((-2, 2), (-2, 2), True),
    operator.mul: ((-2, 2), (-2, 2), True),
    operator.truediv: ((-2, 2), (0.5, 2), True),
    operator.mod: ((-3, 3), (0.7, 1.3), False),
    operator.pow: ((0.5, 2), (-2, 2), True),
}


@pytest.mark.parametrize("f", list(BINARY), ids=lambda f: f.__name__)
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_arithmetic_on_numbers_and_arrays(f, shapes, dtype):
    (x_domain, y_domain, _) = BINARY[f]
    x, y = sample(shapes[0], dtype, *x_domain), sample(shapes[1], dtype, *y_domain)
    test_rrule(f, x, y)
    test_frule(f, x, y)


COMPLEX_BINARY = [f for f, (_, _, supports_complex) in BINARY.items() if supports_complex]


@pytest.mark.parametrize("f", COMPLEX_BINARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shapes", [(None, None), ((3,), (3,)), ((2, 3), (3,))], ids=str)
def test_binary_arithmetic_on_complex(f, shapes):
    x_domain, y_domain, _ = BINARY[f]
    x, y = sample(shapes[0], np.complex128, *x_domain), sample(shapes[1], np.complex128, *y_domain)
    test_rrule(f, x, y)
    test_frule(f, x, y)


@pytest.mark.parametrize(
    ("f", "plain"),
    [
        (operator.iadd, operator.add),
        (operator.isub, operator.sub),
        (operator.imul, operator.mul),
        (operator.itruediv, operator.truediv),
        (operator.imod, operator.mod),
        (operator.ipow, operator.pow),
    ],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("scalar_type", [float, np.float32])
def test_inplace_operators_on_numbers(f, plain, scalar_type):
    x_domain, y_domain, _ = BINARY[plain]
    x, y = (
        scalar_type(sample(None, low=x_domain[0], high=x_domain[1])),
        scalar_type(sample(None, low=y_domain[0], high=y_domain[1])),
    )
    test_rrule(f, x, y)
    test_frule(f, x, y)


def test_inplace_operators_have_no_array_rule():
    assert rrule(operator.iadd, np.ones(2), np.ones(2)) is None


@pytest.mark.parametrize("f", [operator.neg, operator.pos, operator.abs], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [None, (), (3,), (2, 3)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_unary_arithmetic(f, shape, dtype):
    x = sample(shape, dtype)
    x = x + np.sign(np.real(x)) * 0.1  # keep abs away from its kink
    test_rrule(f, x)
    test_frule(f, x)


def test_abs_at_zero_has_zero_derivative():
    _, back = rrule(operator.abs, np.array([0.0, -2.0, 0j + 0]))
    np.testing.assert_array_equal(back(np.ones(3))[1], [0.0, -1.0, 0.0])
    assert frule((NoTangent(), 1.0), operator.abs, 0.0)[1] == 0.0


def test_pow_with_an_integer_exponent_gives_the_exponent_a_float_cotangent():
    y, back = rrule(operator.pow, -2.0, 3)
    _, dx, dp = back(1.0)
    assert (y, dx) == (-8.0, 12.0)
    assert unthunk(dp) == pytest.approx(-8.0 * np.log(2.0))
    test_frule(operator.pow, -1.5, 3)


def test_pow_derivatives_are_finite_at_a_zero_base():
    _, back = rrule(operator.pow, 0.0, 0.0)
    _, dx, dp = back(1.0)
    assert dx == 0.0 and unthunk(dp) == 0.0
    _, back = rrule(operator.pow, np.zeros(2), np.array([1.0, 2.0]))
    _, dx, dp = back(np.ones(2))
    np.testing.assert_array_equal(dx, [1.0, 0.0])
    np.testing.assert_array_equal(unthunk(dp), [0.0, 0.0])


def test_pow_of_integer_arrays_gives_no_tangent():
    _, back = rrule(operator.pow, np.arange(3), np.arange(3))
    assert back(np.ones(3))[1:] == (NoTangent(), NoTangent())


def test_mod_and_floordiv():
    _, back = rrule(operator.mod, 7.5, 2.0)
    assert back(1.0) == (NoTangent(), 1.0, -3.0)
    _, back = rrule(operator.floordiv, 7.5, 2.0)
    assert back(1.0) == (NoTangent(),) * 3


# --- sequences --------------------------------------------------------------------------------


class Pair(NamedTuple):
    a: float
    b: np.ndarray


SEQUENCES = {
    "list": [1.5, sample((2,)), -0.5],
    "tuple": (sample((2, 2), np.float32), 2.5),
}


@pytest.mark.parametrize("f", [operator.add, operator.concat], ids=lambda f: f.__name__)
@pytest.mark.parametrize("kind", ["list", "tuple"])
def test_concatenation(f, kind):
    xs = SEQUENCES[kind]
    ys = type(xs)([0.25, sample((3,))])
    test_rrule(f, xs, ys)
    test_frule(f, xs, ys)


def test_tuple_iadd_concatenates():
    test_rrule(operator.iadd, (1.0, 2.0), (3.0,))
    test_frule(operator.iadd, (1.0, 2.0), (3.0,))


@pytest.mark.parametrize("kind", ["list", "tuple"])
@pytest.mark.parametrize("count", [1, 3])
def test_repetition(kind, count):
    xs = SEQUENCES[kind]
    test_rrule(operator.mul, xs, count)
    test_frule(operator.mul, xs, count)
    test_rrule(operator.mul, count, xs)
    test_frule(operator.mul, count, xs)


def test_repetition_zero_times_gives_zero_cotangents():
    y, back = rrule(operator.mul, [1.0, 2.0], 0)
    assert y == [] and back(Tangent(list)) == (NoTangent(), ZeroTangent(), NoTangent())


def test_repetition_pullback_sums_the_copies():
    _, back = rrule(operator.imul, (1.0, 2.0), 2)
    assert back(Tangent(tuple, 1.0, 2.0, 10.0, 20.0)) == (
        NoTangent(),
        Tangent(tuple, 11.0, 22.0),
        NoTangent(),
    )


@pytest.mark.parametrize("kind", ["list", "tuple"])
@pytest.mark.parametrize("index", [0, 1, -1, slice(1, None), slice(None, None, -2)], ids=str)
def test_getitem_on_sequences(kind, index):
    xs = SEQUENCES[kind]
    test_rrule(operator.getitem, xs, index)
    test_frule(operator.getitem, xs, index)


def test_getitem_cotangent_has_zeros_elsewhere():
    _, back = rrule(operator.getitem, [1.0, 2.0, 3.0], -1)
    assert back(5.0) == (NoTangent(), Tangent(list, ZeroTangent(), ZeroTangent(), 5.0), NoTangent())
    y, back = rrule(operator.getitem, (1.0, 2.0), slice(5, 9))
    assert y == () and back(Tangent(tuple))[1] == ZeroTangent()


def test_getitem_on_a_namedtuple_gives_a_named_tangent():
    pair = Pair(1.0, sample((2,)))
    test_rrule(operator.getitem, pair, 1)
    test_frule(operator.getitem, pair, 0)
    _, back = rrule(operator.getitem, pair, 0)
    assert back(2.0)[1] == Tangent(Pair, a=2.0)


def test_getitem_on_dicts():
    d = {"w": sample((2, 3)), "b": 0.5, "n": 3}
    for key in d:
        test_rrule(operator.getitem, d, key)
        test_frule(operator.getitem, d, key)
    _, back = rrule(operator.getitem, d, "b")
    assert back(1.0) == (NoTangent(), Tangent(dict, {"b": 1.0}), NoTangent())


# --- no derivative ----------------------------------------------------------------------------

NON_DIFFERENTIABLE = [
    (operator.floordiv, 7.0, 2.0),
    (operator.ifloordiv, 7.0, 2.0),
    (operator.lt, 1.0, 2.0),
    (operator.le, 1.0, 2.0),
    (operator.eq, 1.0, 2.0),
    (operator.ne, 1.0, 2.0),
    (operator.gt, np.ones(2), 0.5),
    (operator.ge, 1.0, 2.0),
    (operator.not_, 1.0),
    (operator.truth, 0.0),
    (operator.is_, 1.0, None),
    (operator.is_not, 1.0, None),
    (operator.contains, [1.0, 2.0], 2.0),
    (operator.countOf, [1.0, 2.0], 2.0),
    (operator.indexOf, [1.0, 2.0], 2.0),
    (operator.index, 3),
    (operator.length_hint, [1.0]),
    (operator.and_, 6, 3),
    (operator.or_, 6, 3),
    (operator.xor, 6, 3),
    (operator.invert, 6),
    (operator.inv, 6),
    (operator.lshift, 6, 1),
    (operator.rshift, 6, 1),
]


@pytest.mark.parametrize("call", NON_DIFFERENTIABLE, ids=lambda call: call[0].__name__)
def test_non_differentiable_operators(call):
    f, *args = call
    y, back = rrule(f, *args)
    np.testing.assert_array_equal(y, f(*args))
    assert all(isinstance(t, NoTangent) for t in back(1.0))
    assert len(back(1.0)) == len(args) + 1
    tangents = (NoTangent(), *(1.0 for _ in args))
    assert isinstance(frule(tangents, f, *args)[1], AbstractZero)
