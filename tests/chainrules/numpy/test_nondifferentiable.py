"""Tests of chainrules/numpy/nondifferentiable.py: every registration exists and stops gradients."""

import warnings

import numpy as np
import pytest

from chainrules.numpy.nondifferentiable import NON_DIFFERENTIABLE, random_methods
from chainrules_core import AbstractZero, NoTangent, frule, rrule

X = np.array([0.5, -1.5, 2.0])
Y = np.array([1.0, -1.5, 3.0])
I = np.array([6, 3, 12])
J = np.array([4, 9, 1])

CALLS = {
    **{
        f: (X, Y)
        for f in (
            np.greater,
            np.less,
            np.equal,
            np.not_equal,
            np.greater_equal,
            np.less_equal,
            np.isclose,
            np.allclose,
            np.array_equal,
            np.array_equiv,
            np.logical_and,
            np.logical_or,
            np.logical_xor,
            np.floor_divide,
        )
    },
    **{
        f: (X,)
        for f in (
            np.logical_not,
            np.floor,
            np.ceil,
            np.trunc,
            np.rint,
            np.round,
            np.around,
            np.fix,
            np.isnan,
            np.isfinite,
            np.isinf,
            np.isposinf,
            np.isneginf,
            np.signbit,
            np.isreal,
            np.iscomplex,
            np.isrealobj,
            np.iscomplexobj,
            np.isscalar,
            np.argmax,
            np.argmin,
            np.argsort,
            np.argwhere,
            np.nonzero,
            np.flatnonzero,
            np.count_nonzero,
            np.shape,
            np.size,
            np.ndim,
            np.zeros_like,
            np.ones_like,
            np.empty_like,
        )
    },
    **{
        f: (I, J)
        for f in (
            np.bitwise_and,
            np.bitwise_or,
            np.bitwise_xor,
            np.left_shift,
            np.right_shift,
            np.gcd,
            np.lcm,
        )
    },
    np.invert: (I,),
    np.ndarray.all: (X,),
    np.ndarray.any: (X,),
    np.ndarray.argpartition: (X, 1),
    np.ndarray.searchsorted: (np.sort(X), Y),
    np.searchsorted: (np.sort(X), Y),
    np.digitize: (X, np.array([-1.0, 0.0, 1.0])),
    np.broadcast_shapes: ((2, 1), (3,)),
    np.zeros: (3,),
    np.ones: (3,),
    np.empty: (3,),
    np.arange: (0.0, 3.0, 0.5),
    np.eye: (3,),
    np.identity: (3,),
    np.random.default_rng: (0,),
    np.random.seed: (0,),
    np.random.get_bit_generator: (),
    np.random.set_bit_generator: (np.random.PCG64(0),),
    np.random.Generator.normal: (np.random.default_rng(0), 0.5, 2.0),
    np.random.RandomState.uniform: (np.random.RandomState(0), -1.0, 1.0),
    # A legacy module function and a generator's method are bound methods: they resolve to the
    # unbound method's rule.
    np.random.normal: (0.5, 2.0),
    np.random.default_rng(0).standard_normal: (3,),
}


@pytest.fixture(autouse=True)
def _restore_global_random_state():
    state, bit_generator = np.random.get_state(), np.random.get_bit_generator()
    yield
    np.random.set_bit_generator(bit_generator)
    np.random.set_state(state)


def tangent_for(x):
    return np.ones_like(x) if isinstance(x, (float, np.ndarray)) else NoTangent()


@pytest.mark.parametrize("f", NON_DIFFERENTIABLE, ids=lambda f: getattr(f, "__qualname__", repr(f)))
def test_every_registration_has_a_no_tangent_rule(f):
    for table in (rrule, frule):
        impl = table.resolve(None, f, ())[0]
        assert impl.__name__.startswith("non_differentiable"), f"{table.__name__} of {f}: {impl}"


@pytest.mark.parametrize("f", CALLS, ids=lambda f: getattr(f, "__qualname__", repr(f)))
def test_calls_return_no_tangent(f):
    args = CALLS[f]
    with warnings.catch_warnings():
        # numpy 2.5 deprecates some of these (np.fix); their rules stay while numpy has them
        warnings.simplefilter("ignore", DeprecationWarning)
        _, back = rrule(f, *args)
        _, dy = frule((NoTangent(), *map(tangent_for, args)), f, *args)
    assert all(t is NoTangent() for t in back(1.0))
    assert isinstance(dy, AbstractZero)


def test_rules_leave_the_primal_unchanged():
    np.testing.assert_array_equal(rrule(np.argsort, X)[0], np.argsort(X))
    assert rrule(np.shape, np.ones((2, 3)))[0] == (2, 3)


def test_every_call_example_is_registered():
    unbound = {getattr(f, "__func__", f) for f in CALLS}
    assert unbound <= set(NON_DIFFERENTIABLE)


def test_keyword_arguments_pass_through():
    y, back = rrule(np.argmax, np.array([[1.0, 3.0], [4.0, 2.0]]), axis=1)
    np.testing.assert_array_equal(y, [1, 0])
    assert back(1.0) == (NoTangent(), NoTangent())


def test_bound_ndarray_methods_resolve_to_the_unbound_registrations():
    _, back = rrule(X.any)
    assert back(1.0) == (NoTangent(),)
    _, back = rrule(np.sort(X).searchsorted, Y)
    assert back(1.0) == (NoTangent(), NoTangent())


def test_random_methods_cover_generator_and_legacy_routines():
    methods = set(random_methods())
    for name in ("normal", "uniform", "standard_normal", "choice", "permutation", "shuffle"):
        assert getattr(np.random.Generator, name) in methods
        assert getattr(np.random.RandomState, name) in methods
    assert np.random.Generator.integers in methods
    assert np.random.RandomState.randn in methods
