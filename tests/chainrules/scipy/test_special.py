"""Finite-difference tests of the scipy.special rules."""

import numpy as np
import pytest
import scipy.special as sc

import chainrules  # noqa: F401 - registers the rules
from chainrules.scipy.special import NoClosedFormError
from chainrules_core import NoTangent, ZeroTangent, frule, rrule, unthunk
from chainrules_core.testing import nondiff, test_frule, test_rrule

DTYPES = [np.float64, np.float32]
UNARY_SHAPES = [None, (), (3,), (2, 3)]  # None: a plain scalar
BINARY_SHAPES = [(None, None), ((3,), (3,)), ((2, 3), (3,)), ((), (2, 1))]


class U:
    """A differentiable argument drawn uniformly from ``[lo, hi]``."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def draw(self, rng, shape, dtype):
        if shape is None:
            value = rng.uniform(self.lo, self.hi)
            return float(value) if dtype is np.float64 else dtype(value)
        return rng.uniform(self.lo, self.hi, shape).astype(dtype)


class Fixed:
    """A non-differentiable argument (an order, a count), passed as it is."""

    def __init__(self, value):
        self.value = value

    def draw(self, rng, shape, dtype):
        return nondiff(self.value)


UNARY = [
    (sc.gamma, U(0.2, 4)),
    (sc.gammaln, U(0.2, 5)),
    (sc.loggamma, U(0.2, 5)),
    (sc.digamma, U(0.3, 5)),
    (sc.rgamma, U(0.2, 4)),
    (sc.erf, U(-2, 2)),
    (sc.erfc, U(-2, 2)),
    (sc.erfinv, U(-0.9, 0.9)),
    (sc.erfcinv, U(0.1, 1.9)),
    (sc.erfcx, U(-1, 3)),
    (sc.ndtr, U(-3, 3)),
    (sc.ndtri, U(0.05, 0.95)),
    (sc.log_ndtr, U(-5, 3)),
    (sc.expit, U(-4, 4)),
    (sc.logit, U(0.05, 0.95)),
    (sc.log_expit, U(-5, 5)),
    (sc.entr, U(0.1, 3)),
    (sc.exp1, U(0.2, 3)),
    (sc.expi, U(0.2, 3)),
    (sc.exprel, U(-2, 2)),
    (sc.exprel, U(-5e-3, 5e-3)),
    (sc.exp2, U(-2, 2)),
    (sc.exp10, U(-1, 1)),
    (sc.cbrt, U(0.2, 3)),
    (sc.j0, U(0.1, 5)),
    (sc.j1, U(0.1, 5)),
    (sc.y0, U(0.5, 5)),
    (sc.y1, U(0.5, 5)),
    (sc.i0, U(-3, 3)),
    (sc.i1, U(-3, 3)),
    (sc.i0e, U(-3, 3)),
    (sc.i1e, U(-3, 3)),
    (sc.k0, U(0.2, 4)),
    (sc.k1, U(0.2, 4)),
    (sc.k0e, U(0.2, 4)),
    (sc.k1e, U(0.2, 4)),
]

BINARY = [
    (sc.polygamma, Fixed(1), U(0.3, 4)),
    (sc.polygamma, Fixed(2), U(0.5, 4)),
    (sc.multigammaln, U(2, 5), Fixed(3)),
    (sc.jv, Fixed(1.5), U(0.1, 5)),
    (sc.jv, Fixed(2), U(0.1, 5)),
    (sc.yv, Fixed(0.5), U(0.5, 5)),
    (sc.yn, Fixed(0), U(0.5, 5)),
    (sc.yn, Fixed(3), U(0.5, 5)),
    (sc.iv, Fixed(1.3), U(0.1, 3)),
    (sc.ive, Fixed(0.4), U(0.1, 3)),
    (sc.ive, Fixed(1), U(-3, 3)),
    (sc.kv, Fixed(0.7), U(0.2, 4)),
    (sc.kve, Fixed(2.5), U(0.2, 4)),
    (sc.expn, Fixed(2), U(0.2, 3)),
    (sc.expn, Fixed(0), U(0.2, 3)),
    (sc.beta, U(0.5, 3), U(0.5, 3)),
    (sc.betaln, U(0.5, 3), U(0.5, 3)),
    (sc.xlogy, U(-2, 2), U(0.2, 3)),
    (sc.xlog1py, U(-2, 2), U(-0.5, 2)),
    (sc.rel_entr, U(0.2, 3), U(0.2, 3)),
    (sc.kl_div, U(0.2, 3), U(0.2, 3)),
    (sc.boxcox, U(0.2, 3), U(-1, 1)),
    (sc.boxcox1p, U(-0.5, 2), U(-1, 1)),
]

# Integer a and b are non-differentiable, which lets test_rrule check these rules in x.
PARTLY_CLOSED_FORM = [
    (sc.gammainc, Fixed(2), U(0.2, 4)),
    (sc.gammaincc, Fixed(3), U(0.2, 4)),
    (sc.gammaincinv, Fixed(2), U(0.1, 0.9)),
    (sc.gammainccinv, Fixed(3), U(0.1, 0.9)),
    (sc.betainc, Fixed(2), Fixed(3), U(0.1, 0.9)),
    (sc.betaincc, Fixed(3), Fixed(2), U(0.1, 0.9)),
    (sc.zeta, Fixed(3), U(0.5, 3)),
]

COMPLEX = [
    (sc.gamma, U(0.5, 3)),
    (sc.loggamma, U(0.5, 3)),
    (sc.rgamma, U(0.5, 3)),
    (sc.erf, U(-1, 1)),
    (sc.erfc, U(-1, 1)),
    (sc.erfcx, U(0.2, 2)),
    (sc.ndtr, U(-1, 1)),
    (sc.exp1, U(0.5, 2)),
    (sc.jv, Fixed(1.5), U(0.5, 3)),
    (sc.yv, Fixed(0.5), U(0.5, 3)),
    (sc.iv, Fixed(1), U(0.5, 3)),
    (sc.kv, Fixed(0.5), U(0.5, 3)),
    (sc.kve, Fixed(0.5), U(0.5, 3)),
    (sc.xlogy, U(-1, 1), U(0.5, 2)),
    (sc.xlog1py, U(-1, 1), U(0.5, 2)),
]


def _id(case):
    return case[0].__name__


def _draw(specs, shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    return [spec.draw(rng, shape, dtype) for spec, shape in zip(specs, shapes, strict=True)]


def _check_both(f, *args, **kw):
    test_rrule(f, *args, **kw)
    test_frule(f, *args, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", UNARY, ids=_id)
def test_unary_rules_match_finite_differences(case, dtype):
    f, spec = case
    for i, shape in enumerate(UNARY_SHAPES):
        _check_both(f, *_draw([spec], [shape], dtype, i))


def _binary_shapes(specs):
    # A non-differentiable order is a plain scalar; the other argument takes every shape.
    if any(isinstance(s, Fixed) for s in specs):
        return [
            tuple(None if isinstance(s, Fixed) else shape for s in specs) for shape in UNARY_SHAPES
        ]
    return BINARY_SHAPES


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", BINARY + PARTLY_CLOSED_FORM, ids=_id)
def test_multi_argument_rules_match_finite_differences(case, dtype):
    f, *specs = case
    for i, shapes in enumerate(_binary_shapes(specs)):
        if f is sc.polygamma and shapes[1] in (None, ()):
            # polygamma returns a 0-d array for a scalar, and scalar_rule's frule a numpy scalar.
            test_rrule(f, *_draw(specs, shapes, dtype, i))
            continue
        _check_both(f, *_draw(specs, shapes, dtype, i))


@pytest.mark.parametrize("case", COMPLEX, ids=_id)
def test_holomorphic_rules_on_complex_inputs(case):
    f, *specs = case
    for i, shape in enumerate([None, (3,)]):
        shapes = [None if isinstance(s, Fixed) else shape for s in specs]
        args = _draw(specs, shapes, np.float64, i)
        args = [a if isinstance(a, type(nondiff(0))) else a + 0.3j * np.sign(a) for a in args]
        _check_both(f, *args)


def test_boxcox_at_lambda_zero_is_the_log():
    x = np.array([0.5, 1.5, 2.5])
    _check_both(sc.boxcox, x, np.zeros(3))
    _check_both(sc.boxcox1p, x, np.zeros(3))


def test_orders_get_no_tangent_even_as_floats():
    _, back = rrule(sc.jv, 1.5, np.array([1.0, 2.0]))
    assert back(np.ones(2))[1] == NoTangent()
    _, back = rrule(sc.polygamma, 1, 2.5)
    assert back(1.0)[1] == NoTangent()


@pytest.mark.parametrize(
    ("f", "args", "name"),
    [
        (sc.gammainc, (2.5, np.array([0.5, 1.5])), "a"),
        (sc.gammaincc, (np.array([1.5, 3.5]), np.array([0.5, 1.5])), "a"),
        (sc.betainc, (2.5, 1.5, np.array([0.2, 0.7])), "b"),
        (sc.zeta, (2.5, np.array([0.5, 1.5])), "x"),
        (sc.zeta, (np.array([2.5, 3.5]),), "x"),
    ],
)
def test_no_closed_form_argument_raises_only_when_its_cotangent_is_used(f, args, name):
    y, back = rrule(f, *args)
    tangents = back(np.ones_like(y))
    if len(args) == 1:  # the Riemann zeta: nothing else to differentiate
        with pytest.raises(NoClosedFormError, match=f"`{name}`"):
            unthunk(tangents[1])
        return
    dx = unthunk(tangents[-1])
    forward = frule((NoTangent(), *(ZeroTangent() for _ in args[:-1]), np.ones(2)), f, *args)
    np.testing.assert_allclose(dx, forward[1])
    position = {"a": 1, "b": 2, "x": 1}[name]
    with pytest.raises(NoClosedFormError, match=f"`{name}`"):
        unthunk(tangents[position])
    with pytest.raises(NotImplementedError, match="finite differences"):
        frule((NoTangent(), *(1.0 for _ in args[:-1]), np.ones(2)), f, *args)


# --- softmax, log_softmax, logsumexp ------------------------------------------------------------

AXIS_CASES = [((4,), None), ((2, 3), None), ((2, 3), 0), ((2, 3), 1), ((2, 3, 2), (0, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "axis"), AXIS_CASES)
@pytest.mark.parametrize("f", [sc.softmax, sc.log_softmax], ids=lambda f: f.__name__)
def test_softmax_family(f, shape, axis, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    _check_both(f, x, fkwargs={"axis": axis})
    _check_both(f, x, nondiff(axis))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize(("shape", "axis"), AXIS_CASES)
def test_logsumexp(shape, axis, keepdims, dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal(shape).astype(dtype)
    _check_both(sc.logsumexp, a, fkwargs={"axis": axis, "keepdims": keepdims})
    b = rng.uniform(0.5, 2, shape[-1:]).astype(dtype)
    _check_both(sc.logsumexp, a, nondiff(axis), b, nondiff(keepdims))
    _check_both(sc.logsumexp, a, fkwargs={"axis": axis, "b": b, "keepdims": keepdims})


def test_logsumexp_on_a_scalar():
    _check_both(sc.logsumexp, 0.7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize(("shape", "axis"), AXIS_CASES)
def test_logsumexp_with_return_sign_and_negative_weights(shape, axis, keepdims, dtype):
    rng = np.random.default_rng(4)
    a = rng.standard_normal(shape).astype(dtype)
    # mixed signs, the positive ones larger: no sum comes near 0, where log|s| has a pole
    b = np.where(np.arange(shape[-1]) % 2, -0.4, 1.5).astype(dtype)
    options = {"axis": axis, "keepdims": keepdims, "return_sign": True}
    _check_both(sc.logsumexp, a, fkwargs=options)
    _check_both(sc.logsumexp, a, fkwargs={**options, "b": -b})  # b by keyword: a constant
    _check_both(sc.logsumexp, a, nondiff(axis), -b, nondiff(keepdims), nondiff(True))


@pytest.mark.parametrize("return_sign", [False, True])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize(("shape", "axis"), AXIS_CASES)
def test_logsumexp_of_complex_input_is_holomorphic(shape, axis, keepdims, return_sign):
    rng = np.random.default_rng(5)
    a = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    options = {"axis": axis, "keepdims": keepdims, "return_sign": return_sign}
    _check_both(sc.logsumexp, a, fkwargs=options)
    for b in (rng.uniform(0.5, 2, shape[-1:]), rng.uniform(0.5, 2, shape) + 0.5j):
        _check_both(sc.logsumexp, a, nondiff(axis), b, nondiff(keepdims), nondiff(return_sign))


def test_logsumexp_of_complex_input_follows_the_cotangent_convention_of_log():
    a = np.array([0.3 + 1.0j, -0.5 + 0.2j])
    dy = 0.7 - 0.4j
    _, back = rrule(sc.logsumexp, a)
    _, log_back = rrule(np.log, np.sum(np.exp(a)))
    _, exp_back = rrule(np.exp, a)
    np.testing.assert_allclose(back(dy)[1], exp_back(log_back(dy)[1])[1])


@pytest.mark.parametrize("return_sign", [False, True])
@pytest.mark.parametrize(("axis", "keepdims"), [(None, False), (1, False), (0, True)])
def test_logsumexp_with_minus_infinity_entries(axis, keepdims, return_sign):
    # Finite differences cannot step from -inf: the rules at a must agree with the rules at a
    # stand-in with -800 for -inf (e^-800 underflows to 0: the same sums), which they check.
    a = np.array([[-np.inf, 0.3, 1.2], [0.5, -np.inf, -0.7]])
    stand_in = np.where(np.isneginf(a), -800.0, a)
    b = np.array([1.0, -0.3 if return_sign else 0.3, 2.0])  # a negative sum's log is nan
    options = {"axis": axis, "keepdims": keepdims, "return_sign": return_sign}
    positional = (nondiff(axis), b, nondiff(keepdims), nondiff(return_sign))
    _check_both(sc.logsumexp, stand_in, fkwargs=options)
    _check_both(sc.logsumexp, stand_in, *positional)
    da = np.random.default_rng(6).standard_normal(a.shape)
    for rest, kwargs in [((), options), ((axis, b, keepdims, return_sign), {})]:
        y, back = rrule(sc.logsumexp, a, *rest, **kwargs)
        _, back_stand_in = rrule(sc.logsumexp, stand_in, *rest, **kwargs)
        dy = (np.ones_like(y[0]), np.zeros_like(y[1])) if return_sign else np.ones_like(y)
        for got, expected in zip(back(dy), back_stand_in(dy)):
            if isinstance(expected, np.ndarray):
                np.testing.assert_array_equal(got, expected)
        tangents = (NoTangent(), da, *(NoTangent() if r is not b else b for r in rest))
        dy = frule(tangents, sc.logsumexp, a, *rest, **kwargs)[1]
        dy_stand_in = frule(tangents, sc.logsumexp, stand_in, *rest, **kwargs)[1]
        np.testing.assert_array_equal(
            dy[0] if return_sign else dy, (dy_stand_in[0] if return_sign else dy_stand_in)
        )


def test_logsumexp_cotangent_of_an_empty_sum_is_zero_not_nan():
    a = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    y, back = rrule(sc.logsumexp, a, 1)
    np.testing.assert_array_equal(y, [-np.inf, 0.0])
    np.testing.assert_array_equal(back(np.ones(2))[1], [[0, 0], [1, 0]])
    _, dy = frule((NoTangent(), np.ones((2, 2)), NoTangent()), sc.logsumexp, a, 1)
    np.testing.assert_array_equal(dy, [0, 1])
    # b = [1, -1] cancels the sum exactly: s = 0, taken to have zero partials
    _, back = rrule(sc.logsumexp, np.ones(2), None, np.array([1.0, -1.0]), False, True)
    _, da, _, db, *_ = back((1.0, 0.0))
    np.testing.assert_array_equal(da, [0, 0])
    np.testing.assert_array_equal(db, [0, 0])


def test_logsumexp_sign_of_real_input_has_no_tangent():
    tangents = (NoTangent(), np.ones(3))
    (_, sign), (_, dsign) = frule(tangents, sc.logsumexp, np.arange(3.0), return_sign=True)
    assert sign == 1.0
    assert dsign == ZeroTangent()


def test_yn_order_is_not_differentiated():
    _, back = rrule(sc.yn, 2, np.array([1.5, 3.0]))
    assert back(np.ones(2))[1] == NoTangent()


def test_gammasgn_is_non_differentiable():
    x = np.array([-1.5, 0.5, 2.5])
    y, back = rrule(sc.gammasgn, x)
    np.testing.assert_array_equal(y, [1.0, 1.0, 1.0])
    assert back(np.ones(3)) == (NoTangent(), NoTangent())
    assert frule((NoTangent(), np.ones(3)), sc.gammasgn, x)[1] == NoTangent()
