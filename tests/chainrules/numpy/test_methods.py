"""Tests of the ndarray method and attribute rules (chainrules/numpy/methods.py).

Routed methods are checked against finite differences and against the rule of the function they
route to; the reductions (this file's twin, chainrules/numpy/reductions.py) thoroughly, the others
(whose rules live in shape.py, indexing.py, linalg.py and ufuncs.py) once each.
"""

import functools
import warnings

import array_specs
import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules.numpy.methods import InPlaceMethodError
from chainrules_core import NoTangent, Tangent, ZeroTangent, frule, rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

RNG = np.random.default_rng(11)


random = functools.partial(array_specs.random_array, RNG)
distinct = functools.partial(array_specs.distinct, RNG)


def check(f, *args, tolerances=None, **fkwargs):
    tolerances = tolerances or {}
    test_rrule(f, *args, fkwargs=fkwargs, **tolerances)
    test_frule(f, *args, fkwargs=fkwargs, **tolerances)


# --------------------------------------------------------------------------------------------------
# Reductions: the method's rule is the function's rule


REDUCTION_CALLS = [
    ("sum", (), {}),
    ("sum", (nondiff(1),), {}),
    ("sum", (), {"axis": (0, 2), "keepdims": True}),
    ("sum", (), {"axis": -1, "dtype": np.float64}),
    ("mean", (), {}),
    ("mean", (nondiff(0),), {"keepdims": True}),
    ("prod", (), {"axis": 1}),
    ("prod", (nondiff(None),), {}),
    ("max", (), {}),
    ("max", (nondiff(-1),), {"keepdims": True}),
    ("min", (), {"axis": (0, 1)}),
    ("std", (), {}),
    ("std", (nondiff(2),), {"ddof": 1}),
    ("var", (), {"axis": 0, "ddof": 1, "keepdims": True}),
    ("var", (nondiff(1), nondiff(None), nondiff(None), nondiff(1)), {}),
    ("cumsum", (), {}),
    ("cumsum", (nondiff(1),), {}),
    ("cumprod", (), {"axis": -1}),
    ("cumprod", (), {}),
    ("trace", (), {}),
    ("trace", (nondiff(1), nondiff(2), nondiff(0)), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), REDUCTION_CALLS, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_reduction_method_matches_finite_differences(name, args, kwargs, dtype):
    check(getattr(np.ndarray, name), distinct((2, 3, 2), dtype), *args, **kwargs)


@pytest.mark.parametrize(
    "name", ["sum", "mean", "prod", "std", "var", "cumsum", "cumprod", "trace"]
)
def test_complex_reduction_method(name):
    check(getattr(np.ndarray, name), random((3, 3), np.complex128), nondiff(0))


@pytest.mark.parametrize(("name", "args", "kwargs"), REDUCTION_CALLS, ids=str)
def test_reduction_method_pullback_is_the_functions(name, args, kwargs):
    x = distinct((2, 3, 2))
    args = tuple(a.value for a in args)
    y, back = rrule(getattr(np.ndarray, name), x, *args, **kwargs)
    expected_y, expected_back = rrule(getattr(np, name), x, *args, **kwargs)
    np.testing.assert_array_equal(y, expected_y)
    dy = random(np.shape(y))
    got, expected = back(dy), expected_back(dy)
    assert len(got) == len(expected) == len(args) + 2
    np.testing.assert_array_equal(got[1], expected[1])
    assert all(t is NoTangent() for t in got[2:])


def test_bound_method_call_routes_to_the_function():
    x = distinct((3, 4))
    y, back = rrule(x.max, 1)
    np.testing.assert_array_equal(y, x.max(1))
    dx, d_axis = back(np.ones(3))
    np.testing.assert_array_equal(dx, rrule(np.max, x, 1)[1](np.ones(3))[1])
    assert d_axis is NoTangent()
    y, dy = frule((np.ones((3, 4)), NoTangent()), x.cumsum, 0)
    np.testing.assert_array_equal(dy, np.cumsum(np.ones((3, 4)), 0))


def test_method_ties_follow_the_function_convention():
    x = np.array([3.0, 1.0, 3.0])
    np.testing.assert_allclose(rrule(x.max)[1](1.0)[0], [0.5, 0.0, 0.5])


def test_method_passes_unsupported_options_errors_through():
    with pytest.raises(NotImplementedError, match="sum"):
        rrule(np.ndarray.sum, np.ones(3), out=np.empty(()))


# --------------------------------------------------------------------------------------------------
# Methods routed to other files' rules (each fails here until its target rule exists)


OTHER_ROUTED_CALLS = [
    ("reshape", (nondiff(6),), {}),
    ("reshape", (nondiff(3), nondiff(2)), {}),
    ("reshape", (nondiff((2, 3)),), {"order": "F"}),
    ("transpose", (), {}),
    ("transpose", (nondiff(1), nondiff(0)), {}),
    ("transpose", (nondiff((1, 0)),), {}),
    ("ravel", (), {}),
    ("ravel", (nondiff("F"),), {}),
    ("flatten", (), {}),
    ("squeeze", (), {}),
    ("swapaxes", (nondiff(0), nondiff(1)), {}),
    ("repeat", (nondiff(2),), {"axis": 0}),
    ("take", (nondiff(np.array([2, 0, 2])),), {}),
    ("diagonal", (), {"offset": 1}),
    ("clip", (-0.5, 0.5), {}),
    ("clip", (), {"min": -0.5}),
    ("conj", (), {}),
    ("conjugate", (), {}),
    ("copy", (), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), OTHER_ROUTED_CALLS, ids=str)
def test_other_routed_method(name, args, kwargs):
    check(getattr(np.ndarray, name), distinct((2, 3)), *args, **kwargs)


def test_dot_method_is_differentiable_in_both():
    check(np.ndarray.dot, random((2, 3)), random((3, 2)))
    check(np.ndarray.dot, random(3), random(3))


def test_complex_conj_method():
    check(np.ndarray.conj, random((2, 2), np.complex128))


def test_flatten_and_copy_return_new_arrays():
    x = distinct((2, 3))
    for method in (np.ndarray.flatten, np.ndarray.copy):
        y, _ = rrule(method, x)
        assert not np.shares_memory(y, x)
        y, _ = frule((NoTangent(), np.ones((2, 3))), method, x)
        assert not np.shares_memory(y, x)
    fortran = np.asfortranarray(x)
    assert rrule(fortran.copy)[0].flags.c_contiguous  # ndarray.copy defaults to C order


@pytest.mark.parametrize(
    ("name", "args"),
    [("argmax", ()), ("argmin", (1,)), ("argsort", ()), ("nonzero", ()), ("round", (1,))],
)
def test_non_differentiable_method(name, args):
    x = distinct((2, 3))
    method = getattr(np.ndarray, name)
    y, back = rrule(method, x, *args)
    np.testing.assert_array_equal(y, method(x, *args))
    assert all(t is NoTangent() for t in back(np.ones(np.shape(y))))
    assert (
        frule((NoTangent(), np.ones((2, 3)), *(NoTangent() for _ in args)), method, x, *args)[1]
        is NoTangent()
    )


# --------------------------------------------------------------------------------------------------
# astype, item, tolist


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (np.float64, np.float32),
        (np.float32, np.float64),
        (np.float64, np.complex128),
        (np.float32, "float64"),
    ],
)
def test_astype_casts_the_cotangent_back(source, target):
    # The dtype is passed as an np.dtype: chainrules_core.testing cannot take a scalar type
    # (np.float32) as an argument (its tolerance guess reads `.dtype` of every argument).
    x, target = random((2, 3), source), np.dtype(target)
    # A float32 result carries single-precision rounding whatever the input's precision.
    single = {"rtol": 2e-3, "atol": 1e-4} if np.float32 in (source, target) else {}
    check(np.ndarray.astype, x, nondiff(target), tolerances=single)
    check(np.ndarray.astype, x, dtype=target, tolerances=single)
    assert rrule(x.astype, target)[1](np.ones((2, 3), target))[0].dtype == source


def test_astype_complex_to_real_keeps_the_real_part():
    z = random(3, np.complex128)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        check(np.ndarray.astype, z, nondiff(np.dtype(np.float64)))
        dz = rrule(np.ndarray.astype, z, np.float64)[1](np.array([1.0, 2.0, 3.0]))[1]
    np.testing.assert_array_equal(dz, [1.0 + 0j, 2.0, 3.0])


def test_astype_to_integer_is_not_differentiable():
    x = random(4) * 10
    _, back = rrule(np.ndarray.astype, x, np.int64)
    assert back(np.ones(4)) == (NoTangent(), NoTangent(), NoTangent())
    assert (
        frule((NoTangent(), np.ones(4), NoTangent()), np.ndarray.astype, x, np.int64)[1]
        is NoTangent()
    )
    _, back = rrule(np.ndarray.astype, np.arange(3), np.float64)
    assert back(np.ones(3))[1] is NoTangent()


@pytest.mark.parametrize(
    ("source", "scalar_type"),
    [
        (np.float64, np.float32),
        (np.float32, np.float64),
        (np.float64, np.complex128),
        (np.complex64, np.complex128),
        (np.float32, np.longdouble),
    ],
)
@pytest.mark.parametrize("shape", [(2, 3), ()], ids=["array", "scalar"])
def test_inexact_scalar_types_cast_like_astype(source, scalar_type, shape):
    x = random(shape, source)
    x = x if shape else x[()]  # a numpy scalar: np.float32(x) of it is a numpy scalar too
    single = {"rtol": 2e-3, "atol": 1e-4} if np.float32 in (source, scalar_type) else {}
    check(scalar_type, x, tolerances=single)
    _, back = rrule(scalar_type, x)
    assert np.result_type(back(np.ones(shape, scalar_type))[1]) == source


def test_inexact_scalar_type_of_a_python_float_and_of_complex_input():
    check(np.float32, 1.5, tolerances={"rtol": 2e-3, "atol": 1e-4})
    z = random(3, np.complex128)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        check(np.float64, z)  # numpy keeps the real part
        _, dz = frule((NoTangent(), np.full(3, 1.0 + 2.0j)), np.float64, z)
    np.testing.assert_array_equal(dz, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("scalar_type", [np.int64, np.int32, np.uint8, np.bool_])
def test_integer_scalar_types_are_not_differentiable(scalar_type):
    x = np.array([0.5, 2.7, 3.0])
    y, back = rrule(scalar_type, x)
    np.testing.assert_array_equal(y, scalar_type(x))
    assert back(np.ones(3)) == (NoTangent(), NoTangent())
    assert frule((NoTangent(), np.ones(3)), scalar_type, x)[1] is NoTangent()
    assert rrule(scalar_type, 2.5)[1](1.0) == (NoTangent(), NoTangent())


@pytest.mark.parametrize(
    ("shape", "args"),
    [
        ((), ()),
        ((1, 1), ()),
        ((2, 3), (4,)),
        ((2, 3), (-1,)),
        ((2, 3), ((1, 0),)),
        ((2, 3), (0, 2)),
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_item(shape, args, dtype):
    check(np.ndarray.item, random(shape, dtype), *map(nondiff, args))


def test_item_cotangent_is_an_array_zero_but_at_the_item():
    x = random((2, 3))
    y, back = rrule(x.item, 1, 2)
    assert type(y) is float
    dx, _, _ = back(5.0)
    expected = np.zeros((2, 3))
    expected[1, 2] = 5.0
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 1, 2)], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_tolist(shape, dtype):
    check(np.ndarray.tolist, random(shape, dtype))


def test_tolist_cotangent_from_lists_with_zero_parts():
    x = random((2, 2))
    _, back = rrule(np.ndarray.tolist, x)
    _, dx = back([ZeroTangent(), [1.0, ZeroTangent()]])
    np.testing.assert_array_equal(dx, [[0.0, 0.0], [1.0, 0.0]])
    _, dx = back(Tangent(list, Tangent(list, 2.0, 3.0), ZeroTangent()))
    np.testing.assert_array_equal(dx, [[2.0, 3.0], [0.0, 0.0]])
    assert back([[1.0, 1.0], [1.0, 1.0]])[1].dtype == np.float64


@pytest.mark.parametrize("name", ["fill", "sort", "resize", "partition", "put"])
def test_in_place_methods_raise_naming_the_method(name):
    method = getattr(np.ndarray, name)
    with pytest.raises(InPlaceMethodError, match=f"ndarray.{name} modifies the array in place"):
        rrule(method, np.ones(3), 0)
    with pytest.raises(InPlaceMethodError, match=name):
        frule((NoTangent(), np.ones(3), NoTangent()), method, np.ones(3), 0)
    with pytest.raises(InPlaceMethodError, match=name):
        rrule(getattr(np.ones(3), name), 0)


# --------------------------------------------------------------------------------------------------
# Attributes


@pytest.mark.parametrize(
    ("name", "shape", "dtype"),
    [
        ("T", (2, 3), np.float64),
        ("T", (2, 3, 2), np.float32),
        ("T", (3,), np.float64),
        ("mT", (2, 3, 2), np.float64),
        ("real", (2, 3), np.complex128),
        ("imag", (2, 3), np.complex128),
        ("real", (3,), np.float32),
        ("imag", (3,), np.float64),
    ],
    ids=str,
)
def test_differentiable_attribute(name, shape, dtype):
    x = random(shape, dtype)
    check(getattr, x, name)
    y, _ = rrule(getattr, x, name)
    np.testing.assert_array_equal(y, getattr(x, name))


def test_attribute_with_default():
    x = random((2, 3))
    check(getattr, x, "T", nondiff(None))
    y, back = rrule(getattr, x, "no_such_attribute", None)
    assert y is None and back(1.0) == (NoTangent(),) * 4


@pytest.mark.parametrize(
    "name", ["shape", "dtype", "size", "ndim", "itemsize", "nbytes", "strides", "flags", "device"]
)
def test_non_differentiable_attribute(name):
    x = random((2, 3))
    y, back = rrule(getattr, x, name)
    assert y is getattr(x, name) or y == getattr(x, name)
    assert back(1.0) == (NoTangent(), NoTangent(), NoTangent())
    assert frule((NoTangent(), np.ones((2, 3)), NoTangent()), getattr, x, name)[1] is NoTangent()


def test_bound_method_attribute_has_the_receivers_tangent():
    x = random((2, 3))
    y, back = rrule(getattr, x, "sum")
    assert y() == x.sum()
    dx = np.ones((2, 3))
    np.testing.assert_array_equal(back(dx)[1], dx)
    assert frule((NoTangent(), dx, NoTangent()), getattr, x, "sum")[1] is dx


def test_unknown_array_valued_attribute_refuses_to_drop_a_gradient():
    base = random(6)
    x = base[1:4]
    y, back = rrule(getattr, x, "base")
    assert y is base
    with pytest.raises(NotImplementedError, match="'base'"):
        back(np.ones(6))
    assert frule((NoTangent(), ZeroTangent(), NoTangent()), getattr, x, "base")[1] is ZeroTangent()
    with pytest.raises(NotImplementedError, match="'flat'"):
        frule((NoTangent(), np.ones(3), NoTangent()), getattr, x, "flat")
