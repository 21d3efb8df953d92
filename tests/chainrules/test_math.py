"""Finite-difference tests of the math rules (chainrules/math.py)."""

import math

import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import AbstractZero, NoTangent, Tangent, ZeroTangent, frule, rrule, unthunk
from chainrules_core.testing import WithTangent, test_frule, test_rrule, test_scalar

RNG = np.random.default_rng(31415)

# function: intervals of its domain to sample from
UNARY = {
    math.sin: [(-3, 3)],
    math.cos: [(-3, 3)],
    math.tan: [(-1.2, 1.2)],
    math.asin: [(-0.9, 0.9)],
    math.acos: [(-0.9, 0.9)],
    math.atan: [(-3, 3)],
    math.sinh: [(-2, 2)],
    math.cosh: [(-2, 2)],
    math.tanh: [(-2, 2)],
    math.asinh: [(-3, 3)],
    math.acosh: [(1.2, 3)],
    math.atanh: [(-0.9, 0.9)],
    math.exp: [(-2, 2)],
    math.expm1: [(-2, 2)],
    math.log: [(0.3, 3)],
    math.log2: [(0.3, 3)],
    math.log10: [(0.3, 3)],
    math.log1p: [(-0.5, 2)],
    math.sqrt: [(0.3, 3)],
    math.erf: [(-2, 2)],
    math.erfc: [(-2, 2)],
    math.gamma: [(0.5, 3), (-1.8, -1.2)],
    math.lgamma: [(0.5, 3), (-1.8, -1.2)],
    math.degrees: [(-3, 3)],
    math.radians: [(-3, 3)],
    math.fabs: [(0.3, 3), (-3, -0.3)],
}
if hasattr(math, "exp2"):  # Python 3.11 and later
    UNARY[math.exp2] = [(-2, 2)]
    UNARY[math.cbrt] = [(0.3, 3), (-3, -0.3)]
UNARY_CASES = [(f, interval) for f, intervals in UNARY.items() for interval in intervals]


def _name(v):
    return getattr(v, "__name__", str(v))


@pytest.mark.parametrize(("f", "interval"), UNARY_CASES, ids=_name)
def test_unary_functions(f, interval):
    test_scalar(f, RNG.uniform(*interval))


@pytest.mark.parametrize(("f", "interval"), UNARY_CASES, ids=_name)
def test_unary_functions_keep_a_float32_input_float32(f, interval):
    # math computes in double precision: only the rrule's cotangent is rounded to float32, so the
    # rrule and the frule (whose tangent is a Python float, like the output) agree to float32.
    test_scalar(f, np.float32(RNG.uniform(*interval)), rtol=1e-6, atol=1e-6)
    assert type(rrule(f, np.float32(interval[0]))[1](1.0)[1]) is np.float32


# function: intervals of each argument
BINARY = {
    math.log: [(0.3, 3), (1.5, 4)],
    math.atan2: [(-2, 2), (0.5, 2)],
    math.hypot: [(-2, 2), (-2, 2)],
    math.copysign: [(0.3, 2), (-2, 2)],
    math.fmod: [(-3, 3), (0.7, 1.3)],
    math.remainder: [(-3, 3), (0.7, 1.3)],
    math.pow: [(0.5, 2), (-2, 2)],
}


@pytest.mark.parametrize("f", list(BINARY), ids=lambda f: f.__name__)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_functions(f, seed):
    rng = np.random.default_rng(seed)
    args = [float(rng.uniform(*interval)) for interval in BINARY[f]]
    test_rrule(f, *args)
    test_frule(f, *args)


@pytest.mark.parametrize(
    "coordinates", [(), (1.5,), (-0.5, 2.0, 1.25), (0.3, -0.4, 0.5, 0.6)], ids=str
)
def test_hypot_of_any_number_of_coordinates(coordinates):
    test_rrule(math.hypot, *coordinates)
    test_frule(math.hypot, *coordinates)


def test_hypot_and_dist_at_the_origin_have_zero_derivative():
    _, back = rrule(math.hypot, 0.0, 0.0)
    assert back(1.0) == (NoTangent(), 0.0, 0.0)
    _, back = rrule(math.dist, [1.0, 2.0], [1.0, 2.0])
    assert back(1.0)[1] == Tangent(list, 0.0, 0.0)


def test_pow_with_a_negative_base_and_an_integer_valued_exponent():
    # Only x can move: math.pow(-1.5, 3.0 + h) is a domain error.
    test_frule(math.pow, -1.5, WithTangent(3.0, ZeroTangent()))
    _, back = rrule(math.pow, -1.5, 3.0)
    _, dx, dp = back(1.0)
    assert dx == pytest.approx(6.75)
    assert unthunk(dp) == pytest.approx(-3.375 * math.log(1.5))


@pytest.mark.parametrize("i", [-2, 0, 3])
def test_ldexp_scales_by_a_power_of_two(i):
    test_rrule(math.ldexp, 0.7, i)
    test_frule(math.ldexp, 0.7, i)


# away from the powers of two, where the exponent jumps
@pytest.mark.parametrize("x", [0.7, -3.3, 0.023, 1234.5, np.float32(6.1)])
def test_frexp_mantissa_scales_by_a_power_of_two(x):
    test_rrule(math.frexp, x)
    test_frule(math.frexp, x)


def test_frexp_exponent_has_no_tangent():
    _, back = rrule(math.frexp, 12.0)  # 0.75 * 2**4
    assert back(Tangent(tuple, 1.0, NoTangent())) == (NoTangent(), 1 / 16)
    assert back(Tangent(tuple, ZeroTangent(), NoTangent()))[1] == ZeroTangent()
    _, (dmantissa, dexponent) = frule((NoTangent(), 2.0), math.frexp, 12.0)
    assert dmantissa == 0.125 and dexponent == NoTangent()


# away from the integers, where the parts jump
@pytest.mark.parametrize("x", [0.3, -2.6, 41.25, np.float32(-0.4)])
def test_modf(x):
    test_rrule(math.modf, x)
    test_frule(math.modf, x)


def test_modf_integral_part_has_zero_derivative():
    _, back = rrule(math.modf, 2.5)
    assert isinstance(back(Tangent(tuple, ZeroTangent(), 1.0))[1], AbstractZero)
    _, (dfractional, dintegral) = frule((NoTangent(), 3.0), math.modf, 2.5)
    assert dfractional == 3.0 and isinstance(dintegral, AbstractZero)


SEQUENCES = {
    "list": [0.5, -1.25, 2.0],
    "tuple": (1.5, 0.25),
    "array": np.array([0.5, 1.5, -2.0]),
    "float32 array": np.array([0.5, 1.5], dtype=np.float32),
}


@pytest.mark.parametrize("kind", list(SEQUENCES))
def test_fsum(kind):
    test_rrule(math.fsum, SEQUENCES[kind])
    test_frule(math.fsum, SEQUENCES[kind])


@pytest.mark.parametrize("kind", list(SEQUENCES))
@pytest.mark.parametrize("start", [1, 2.5])
def test_prod(kind, start):
    test_rrule(math.prod, SEQUENCES[kind], fkwargs={"start": start})
    test_frule(math.prod, SEQUENCES[kind], fkwargs={"start": start})


def test_prod_with_zeros_is_exact():
    _, back = rrule(math.prod, [2.0, 0.0, 3.0, 0.5])
    assert back(1.0)[1] == Tangent(list, 0.0, 3.0, 0.0, 0.0)
    test_rrule(math.prod, [2.0, 0.0, 3.0])


def test_prod_of_arrays_broadcasts():
    xs = [RNG.standard_normal((2, 3)), RNG.standard_normal(3), 1.5]
    test_rrule(math.prod, xs)
    test_frule(math.prod, xs)


@pytest.mark.parametrize(
    ("p_kind", "q_kind"), [("list", "list"), ("tuple", "array"), ("array", "array")]
)
def test_dist(p_kind, q_kind):
    p = type(SEQUENCES[p_kind])([0.5, -1.0, 2.0]) if p_kind != "array" else RNG.standard_normal(3)
    q = type(SEQUENCES[q_kind])([1.5, 0.25, -1.0]) if q_kind != "array" else RNG.standard_normal(3)
    test_rrule(math.dist, p, q)
    test_frule(math.dist, p, q)


NON_DIFFERENTIABLE = [
    (math.floor, 1.5),
    (math.ceil, 1.5),
    (math.trunc, -1.5),
    (math.isnan, 1.0),
    (math.isinf, 1.0),
    (math.isfinite, 1.0),
    (math.isclose, 1.0, 1.0 + 1e-12),
    (math.gcd, 12, 18),
    (math.lcm, 4, 6),
    (math.factorial, 5),
    (math.comb, 5, 2),
    (math.perm, 5, 2),
    (math.isqrt, 17),
]


@pytest.mark.parametrize("call", NON_DIFFERENTIABLE, ids=lambda call: call[0].__name__)
def test_non_differentiable_functions(call):
    f, *args = call
    y, back = rrule(f, *args)
    assert y == f(*args)
    assert back(1.0) == (NoTangent(),) * (len(args) + 1)
    assert isinstance(frule((NoTangent(), *(1.0 for _ in args)), f, *args)[1], AbstractZero)
