"""Tests of chainrules/numpy/ufuncs.py: the table against finite differences, and conventions."""

import numpy as np
import pytest
from array_specs import A, realize

from chainrules.numpy.ufuncs import PARTIALS
from chainrules_core import NoTangent, Tangent, ZeroTangent, frule, rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

# Domain samplers: (rng, shape) -> values inside the function's domain, away from kinks and jumps.


def between(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def signed(lo, hi):
    """Magnitudes in [lo, hi) with a random sign: away from 0."""
    return lambda rng, shape: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def integers(lo, hi):
    sample = lambda rng, shape: rng.integers(lo, hi, shape)  # noqa: E731
    sample.integer = True
    return sample


def box(re, im):
    """Complex values with real part in ``re`` and imaginary part in ``im``."""
    return lambda rng, shape: rng.uniform(*re, shape) + 1j * rng.uniform(*im, shape)


UNIT = between(-2, 2)
AWAY = signed(0.5, 2)
POSITIVE = between(0.5, 2)
SEPARATED = (signed(1, 2), between(-0.5, 0.5))  # never within a finite-difference step of a tie
DISK = box((0.2, 0.8), (-0.8, 0.8))  # off every branch cut of the holomorphic functions below

REAL_DOMAINS = {
    np.add: (UNIT, UNIT),
    np.subtract: (UNIT, UNIT),
    np.multiply: (UNIT, UNIT),
    np.divide: (UNIT, AWAY),
    np.negative: (UNIT,),
    np.positive: (UNIT,),
    np.reciprocal: (AWAY,),
    np.square: (UNIT,),
    np.sqrt: (POSITIVE,),
    np.cbrt: (AWAY,),
    np.power: (POSITIVE, UNIT),
    np.float_power: (POSITIVE, UNIT),
    np.exp: (UNIT,),
    np.exp2: (UNIT,),
    np.expm1: (UNIT,),
    np.log: (POSITIVE,),
    np.log2: (POSITIVE,),
    np.log10: (POSITIVE,),
    np.log1p: (between(-0.5, 2),),
    np.logaddexp: (UNIT, UNIT),
    np.logaddexp2: (UNIT, UNIT),
    np.sin: (UNIT,),
    np.cos: (UNIT,),
    np.tan: (between(-1.2, 1.2),),
    np.arcsin: (between(-0.8, 0.8),),
    np.arccos: (between(-0.8, 0.8),),
    np.arctan: (UNIT,),
    np.sinh: (UNIT,),
    np.cosh: (UNIT,),
    np.tanh: (UNIT,),
    np.arcsinh: (UNIT,),
    np.arccosh: (between(1.2, 3),),
    np.arctanh: (between(-0.8, 0.8),),
    np.arctan2: (AWAY, AWAY),
    np.hypot: (AWAY, AWAY),
    np.sinc: (UNIT,),
    np.deg2rad: (UNIT,),
    np.radians: (UNIT,),
    np.rad2deg: (UNIT,),
    np.degrees: (UNIT,),
    np.absolute: (AWAY,),
    np.fabs: (AWAY,),
    np.copysign: (AWAY, AWAY),
    np.nextafter: (AWAY, AWAY),
    np.real: (UNIT,),
    np.imag: (UNIT,),
    np.angle: (AWAY,),
    np.maximum: SEPARATED,
    np.minimum: SEPARATED,
    np.fmax: SEPARATED,
    np.fmin: SEPARATED,
    # x1 / x2 stays within (2.05, 2.95) in magnitude: floor and trunc are constant and differ.
    np.remainder: (signed(4.3, 5.6), signed(1.9, 2.1)),
    np.fmod: (signed(4.3, 5.6), signed(1.9, 2.1)),
    np.heaviside: (AWAY, UNIT),
    np.ldexp: (UNIT, integers(-3, 4)),
}

HOLOMORPHIC_UNARY = (
    np.negative,
    np.positive,
    np.reciprocal,
    np.square,
    np.sqrt,
    np.exp,
    np.exp2,
    np.expm1,
    np.log,
    np.log2,
    np.log10,
    np.log1p,
    np.sin,
    np.cos,
    np.tan,
    np.arcsin,
    np.arccos,
    np.arctan,
    np.sinh,
    np.cosh,
    np.tanh,
    np.arcsinh,
    np.arctanh,
    np.sinc,
)
HOLOMORPHIC_BINARY = (np.add, np.subtract, np.multiply, np.divide, np.power, np.float_power)
REAL_VALUED_OF_COMPLEX = (np.absolute, np.angle, np.real, np.imag)
COMPLEX_DOMAINS = {
    **{f: (DISK,) for f in HOLOMORPHIC_UNARY + REAL_VALUED_OF_COMPLEX},
    **{f: (DISK, DISK) for f in HOLOMORPHIC_BINARY},
    np.arccosh: (box((1.5, 2.5), (-0.8, 0.8)),),
}

UNARY_SHAPES = ["py", "0d", (3,), (2, 3)]
BINARY_SHAPES = [
    ("py", "py"),
    ("0d", "0d"),
    ((3,), (3,)),
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((2, 3), "py"),
    ("py", (2, 3)),
]


def sample(domain, spec, dtype, rng):
    """One argument: a Python number for ``"py"``, a 0-d array for ``"0d"``, else an array."""
    values = domain(rng, () if spec in ("py", "0d") else spec)
    if getattr(domain, "integer", False):
        return int(values) if spec == "py" else np.asarray(values)
    if spec == "py":
        return complex(values) if np.dtype(dtype).kind == "c" else float(values)
    return np.asarray(values, dtype=dtype)


def cases(domains, dtypes, restrict=None):
    for f, domain in domains.items():
        shapes = UNARY_SHAPES if len(domain) == 1 else BINARY_SHAPES
        for dtype in dtypes:
            for spec in shapes:
                specs = spec if isinstance(spec, tuple) and len(domain) == 2 else (spec,)
                python_only = all(s == "py" for s in specs)
                if dtype in (np.float32, np.complex64) and python_only:
                    continue  # a Python number has no single-precision form
                if restrict is not None and not restrict(dtype, specs):
                    continue
                label = "-".join(s if isinstance(s, str) else "x".join(map(str, s)) for s in specs)
                name = f"{f.__name__}-{np.dtype(dtype)}-{label}"
                yield pytest.param(f, domain, dtype, specs, id=name)


def check_against_finite_differences(f, domain, dtype, specs):
    rng = np.random.default_rng(20261122)
    args = [sample(d, s, dtype, rng) for d, s in zip(domain, specs, strict=True)]
    test_rrule(f, *args)
    test_frule(f, *args)


def test_every_table_entry_has_a_test_domain():
    assert set(PARTIALS) == set(REAL_DOMAINS)


@pytest.mark.parametrize(
    ("f", "domain", "dtype", "specs"), list(cases(REAL_DOMAINS, [np.float64, np.float32]))
)
def test_real_rules_match_finite_differences(f, domain, dtype, specs):
    check_against_finite_differences(f, domain, dtype, specs)


@pytest.mark.parametrize(
    ("f", "domain", "dtype", "specs"),
    list(
        cases(
            COMPLEX_DOMAINS,
            [np.complex128, np.complex64],
            restrict=lambda dtype, specs: dtype == np.complex128 or specs[0] == (2, 3),
        )
    ),
)
def test_complex_rules_match_finite_differences(f, domain, dtype, specs):
    check_against_finite_differences(f, domain, dtype, specs)


def test_real_and_complex_arguments_mix():
    rng = np.random.default_rng(1)
    x, z = rng.uniform(0.5, 2, 3), DISK(rng, (3,))
    for args in [(np.multiply, x, z), (np.power, z, 1.5), (np.divide, 2.0, z)]:
        test_rrule(*args)
        test_frule(*args)


def test_abs_of_complex_pulls_back_to_z_over_abs_z():
    z = np.array([3 + 4j, -1j])
    _, back = rrule(np.abs, z)
    np.testing.assert_allclose(back(np.array([1.0, 2.0]))[1], [0.6 + 0.8j, -2j])
    _, dy = frule((NoTangent(), np.array([1j, 1.0])), np.abs, z)
    np.testing.assert_allclose(dy, [0.8, 0.0])
    assert dy.dtype == np.float64


def test_abs_at_zero_has_zero_derivative():
    _, back = rrule(np.abs, np.array([0.0, 0j]))
    np.testing.assert_array_equal(back(np.ones(2))[1], [0, 0])


@pytest.mark.parametrize("f", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_ties_split_the_cotangent_evenly(f):
    x = np.array([1.0, 2.0, 3.0], np.float32)
    y = np.array([1.0, 0.0, 3.0], np.float32)
    _, back = rrule(f, x, y)
    _, dx, dy = back(np.full(3, 4.0, np.float32))
    winner_is_x = f in (np.maximum, np.fmax)
    np.testing.assert_array_equal(dx, [2.0, 4.0 if winner_is_x else 0.0, 2.0])
    np.testing.assert_array_equal(dy, [2.0, 0.0 if winner_is_x else 4.0, 2.0])
    assert dx.dtype == dy.dtype == np.float32
    _, d_out = frule((NoTangent(), np.ones(3, np.float32), np.zeros(3, np.float32)), f, x, y)
    np.testing.assert_array_equal(d_out, [0.5, 1.0 if winner_is_x else 0.0, 0.5])


@pytest.mark.parametrize(
    ("f", "nan_gets_it"),
    [
        (np.maximum, True),
        (np.minimum, True),
        (np.fmax, False),
        (np.fmin, False),
    ],
)
def test_nan_cotangent_follows_the_returned_argument(f, nan_gets_it):
    _, back = rrule(f, np.nan, 1.0)
    _, d_nan, d_one = back(1.0)
    assert (d_nan, d_one) == ((1.0, 0.0) if nan_gets_it else (0.0, 1.0))


@pytest.mark.parametrize("f", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_infinite_ties_split_and_a_nan_entry_goes_to_the_returned_argument(f):
    x = np.array([np.inf, -np.inf, np.nan, 1.0, 2.0])
    y = np.array([np.inf, -np.inf, 1.0, np.nan, 2.0])
    _, back = rrule(f, x, y)
    _, dx, dy = back(np.ones(5))
    # maximum and minimum return a NaN argument, fmax and fmin the other one
    nan_x, nan_y = (1.0, 0.0) if f in (np.maximum, np.minimum) else (0.0, 1.0)
    np.testing.assert_array_equal(dx, [0.5, 0.5, nan_x, nan_y, 0.5])
    np.testing.assert_array_equal(dy, 1 - dx)


@pytest.mark.parametrize("f", [np.maximum, np.minimum, np.fmax, np.fmin])
@pytest.mark.parametrize("zero", [0.0, -0.0, 0])
def test_selection_against_zero_ties_at_zero_and_gives_a_nan_entry_its_due(f, zero):
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.inf, -np.inf])
    larger = f in (np.maximum, np.fmax)
    wins = np.array([0.0, 0.5, 0.5, 1.0, 1.0, 0.0]) if larger else [1.0, 0.5, 0.5, 0.0, 0.0, 1.0]
    for first in (True, False):  # f(x, 0) and f(0, x)
        _, back = rrule(f, x, zero) if first else rrule(f, zero, x)
        _, d1, d2 = back(np.ones(6))
        dx, dzero = (d1, d2) if first else (d2, d1)
        np.testing.assert_array_equal(dx, wins)
        assert dzero == 6 - np.sum(wins)
    # a NaN: maximum and minimum return it, fmax and fmin the zero
    _, back = rrule(f, np.array([np.nan, 1.0]), zero)
    _, dx, dzero = back(np.ones(2))
    nan_share = 1.0 if f in (np.maximum, np.minimum) else 0.0
    np.testing.assert_array_equal(dx, [nan_share, 1.0 if larger else 0.0])
    assert dzero == 2 - np.sum(dx)


@pytest.mark.parametrize("f", [np.maximum, np.minimum])
def test_selection_of_broadcast_arrays_with_ties(f):
    rng = np.random.default_rng(11)
    x = np.round(rng.normal(size=(3, 1)))  # integers as floats: many ties
    y = np.round(rng.normal(size=(1, 4)))
    _, back = rrule(f, x, y)
    _, dx, dy = back(np.ones((3, 4)))
    wins = (x > y) if f is np.maximum else (x < y)
    share = np.where(x == y, 0.5, wins)  # 1 where x is returned, 1/2 at a tie
    np.testing.assert_array_equal(dx, share.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(dy, (1 - share).sum(axis=0, keepdims=True))


def test_ties_with_a_broadcast_scalar_are_summed():
    _, back = rrule(np.maximum, np.array([0.0, 1.0, 0.0]), 0.0)
    _, dx, d_scalar = back(np.ones(3))
    np.testing.assert_array_equal(dx, [0.5, 1.0, 0.5])
    assert d_scalar == 1.0


def test_power_at_zero_and_negative_bases():
    x = np.array([0.0, -2.0, 0.0, 0.0])
    p = np.array([2.0, 3.0, 1.0, 0.0])
    _, back = rrule(np.power, x, p)
    _, dx, dp = back(np.ones(4))
    np.testing.assert_allclose(dx, [0.0, 12.0, 1.0, 0.0])
    # At x1 = 0 the derivative in x2 exists only for x2 > 0.
    np.testing.assert_allclose(dp[:3], [0.0, -8.0 * np.log(2.0), 0.0])


def test_heaviside_is_differentiable_only_in_its_value_at_zero():
    x1 = np.array([0.0, 1.5, -1.0, 0.0])
    test_rrule(np.heaviside, nondiff(x1), np.array([0.3, 0.6, 0.2, 0.9]))
    test_frule(np.heaviside, nondiff(x1), np.array([0.3, 0.6, 0.2, 0.9]))
    _, back = rrule(np.heaviside, x1, 0.5)
    assert back(np.ones(4))[1:] == (ZeroTangent(), 2.0)


def test_ldexp_exponent_has_no_tangent():
    _, back = rrule(np.ldexp, np.ones(2, np.float32), 3)
    _, dx, d_exponent = back(np.ones(2, np.float32))
    np.testing.assert_array_equal(dx, [8.0, 8.0])
    assert d_exponent == NoTangent()


@pytest.mark.parametrize(
    "x",
    [
        np.array([1.0, -2.0]),
        np.array([1 + 2j, -3j]),
        2.5 - 1j,
        np.array([1 + 2j], np.complex64),
    ],
)
def test_conjugate(x):
    for f in (np.conjugate, np.conj):
        test_rrule(f, x)
        test_frule(f, x)


def test_conjugate_cotangent_is_conjugated():
    _, back = rrule(np.conj, np.array([1 + 1j]))
    np.testing.assert_array_equal(back(np.array([2 + 3j]))[1], [2 - 3j])


@pytest.mark.parametrize(
    "z",
    [
        np.array([1 + 2j, -3j, 0.5 - 0.1j]),
        np.array([[1 - 1j, 2 + 0.5j]], np.complex64),
        np.complex128(-1.5 + 2j),
        2.5 - 1j,
    ],
    ids=["vector", "complex64", "numpy scalar", "python complex"],
)
def test_sign_of_complex_matches_finite_differences(z):
    test_rrule(np.sign, z)
    test_frule(np.sign, z)


def test_sign_of_complex_turns_only_with_the_argument():
    # a step along z leaves z/|z| unchanged; a step along iz turns it by that step over |z|
    z = np.array([3 + 4j, 0j])
    _, back = rrule(np.sign, z)
    np.testing.assert_allclose(back(np.array([0.6 + 0.8j, 1.0]))[1], [0, 0], atol=1e-15)
    expected = [1j * (0.6 + 0.8j) / 5, 0]
    np.testing.assert_allclose(back(np.array([1j * (0.6 + 0.8j), 1j]))[1], expected, atol=1e-15)


def test_sign_of_real_input_stays_non_differentiable():
    x = np.array([-2.0, 0.0, 3.0])
    _, back = rrule(np.sign, x)
    assert back(np.ones(3)) == (NoTangent(), NoTangent())
    assert frule((NoTangent(), np.ones(3)), np.sign, x)[1] == NoTangent()
    out = np.empty(3)
    _, back = rrule(np.sign, x, out)  # options pass through, as for any non-differentiable call
    assert back(np.ones(3)) == (NoTangent(), NoTangent(), NoTangent())
    np.testing.assert_array_equal(out, [-1, 0, 1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_nan_to_num_at_finite_inputs_is_the_identity(shape, dtype):
    x = realize(A(*shape), dtype, np.random.default_rng(3))
    for kwargs in ({}, {"nan": 1.0, "posinf": 5.0}):
        test_rrule(np.nan_to_num, x, fkwargs=kwargs)
        test_frule(np.nan_to_num, x, fkwargs=kwargs)


def test_nan_to_num_of_a_python_float():
    test_rrule(np.nan_to_num, 1.5)
    test_frule(np.nan_to_num, 1.5)


def test_nan_to_num_gives_replaced_entries_zero_derivative():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    dy = np.arange(1.0, 6.0)
    _, back = rrule(np.nan_to_num, x)
    np.testing.assert_array_equal(back(dy)[1], [1, 0, 0, 0, 5])
    np.testing.assert_array_equal(frule((NoTangent(), dy), np.nan_to_num, x)[1], [1, 0, 0, 0, 5])
    z = np.array([complex(np.nan, 2.0), complex(3.0, np.inf)])
    _, back = rrule(np.nan_to_num, z)
    np.testing.assert_array_equal(back(np.array([1 + 1j, 1 + 1j]))[1], [1j, 1])


def test_nan_to_num_with_copy_false_masks_what_it_replaced():
    x = np.array([np.nan, 2.0])
    _, back = rrule(np.nan_to_num, x, False)
    np.testing.assert_array_equal(x, [0.0, 2.0])  # replaced in place
    np.testing.assert_array_equal(back(np.ones(2))[1], [0, 1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.complex64])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_real_if_close_of_real_or_complex_input_is_the_identity(shape, dtype):
    # random complex entries have imaginary parts far from negligible: nothing is dropped
    x = realize(A(*shape), dtype, np.random.default_rng(4))
    test_rrule(np.real_if_close, x)
    test_frule(np.real_if_close, x)
    test_rrule(np.real_if_close, x, fkwargs={"tol": 1000})


def test_real_if_close_dropping_the_imaginary_parts():
    z = np.array([1.0 + 1e-18j, -2.0])
    y, back = rrule(np.real_if_close, z)
    assert y.dtype == np.float64
    dz = back(np.array([3.0, 4.0]))[1]
    assert dz.dtype == np.complex128
    np.testing.assert_array_equal(dz, [3.0, 4.0])
    _, dy = frule((NoTangent(), np.array([1 + 2j, 3 - 1j])), np.real_if_close, z)
    assert dy.dtype == np.float64
    np.testing.assert_array_equal(dy, [1.0, 3.0])


def test_real_if_close_of_a_list_gives_a_list_cotangent():
    _, back = rrule(np.real_if_close, [1.0, 2.0])
    assert back(np.array([3.0, 4.0]))[1] == Tangent(list, 3.0, 4.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("a_min", "a_max"),
    [
        (-1.0, 1.0),
        (np.array([-1.0, -0.5, -1.5]), 1.0),
        (np.array([[-1.0], [-0.5]]), np.array([1.0, 0.5, 1.5])),
        (None, 0.5),
        (-0.5, None),
    ],
)
def test_clip_matches_finite_differences(dtype, a_min, a_max):
    x = np.array([[-2.0, -0.25, 0.3], [1.8, 0.1, -0.9]], dtype)
    test_rrule(np.clip, x, a_min, a_max)
    test_frule(np.clip, x, a_min, a_max)


def test_clip_with_keyword_bounds_differentiates_x_only():
    x = np.array([-2.0, 0.25, 2.0])
    test_rrule(np.clip, x, fkwargs={"a_min": -1.0, "a_max": 1.0})
    test_frule(np.clip, x, fkwargs={"min": -1.0, "max": 1.0})
    _, back = rrule(np.clip, x, a_min=-1.0, a_max=1.0)
    np.testing.assert_array_equal(back(np.ones(3))[1], [0.0, 1.0, 0.0])


def test_clip_gives_ties_and_crossed_bounds_to_the_bound():
    _, back = rrule(np.clip, np.array([-1.0, 0.0, 1.0]), -1.0, 1.0)
    assert [float(np.sum(d)) for d in back(np.ones(3))[1:]] == [1.0, 1.0, 1.0]
    np.testing.assert_array_equal(back(np.ones(3))[1], [0.0, 1.0, 0.0])
    _, back = rrule(np.clip, np.array([0.0, 5.0]), 2.0, 1.0)
    dx, d_min, d_max = back(np.ones(2))[1:]
    np.testing.assert_array_equal(dx, [0.0, 0.0])
    assert (d_min, d_max) == (0.0, 2.0)


@pytest.mark.parametrize(
    ("call", "args", "kwargs"),
    [
        (np.add, (np.ones(2), np.ones(2)), {"out": np.empty(2)}),
        (np.sin, (np.ones(2),), {"where": np.array([True, False])}),
        (np.multiply, (np.ones(2), np.ones(2), np.empty(2)), {}),
        (np.exp, (np.ones(2),), {"dtype": np.float32}),
        (np.angle, (np.ones(2),), {"deg": True}),
        (np.angle, (np.ones(2), True), {}),
        (np.conjugate, (np.ones(2),), {"out": np.empty(2)}),
        (np.conj, (np.ones(2), np.empty(2)), {}),
        (np.clip, (np.ones(2), 0.0, 1.0), {"out": np.empty(2)}),
        (np.clip, (np.ones(2), 0.0, 1.0, np.empty(2)), {}),
        (np.sign, (np.ones(2, complex),), {"out": np.empty(2, complex)}),
    ],
)
def test_calls_with_out_or_where_raise_a_clear_error(call, args, kwargs):
    with pytest.raises(TypeError, match="plain calls only"):
        rrule(call, *args, **kwargs)
    with pytest.raises(TypeError, match="plain calls only"):
        frule((NoTangent(), *(ZeroTangent() for _ in args)), call, *args, **kwargs)
