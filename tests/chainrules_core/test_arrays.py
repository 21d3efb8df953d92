"""Duck arrays: types that follow numpy's dispatch protocols, in rule signatures, projection and
method lookup (tests/duck_array.py's ``Wrapped`` stands for dask and CuPy)."""

import numpy as np
import pytest
from duck_array import Wrapped

import chainrules  # noqa: F401 - registers the rules looked up below
from chainrules_core import NoTangent, ProjectionError, ProjectTo, rrule
from chainrules_core.arrays import ARRAY_TYPES, DuckArray, is_duck_array, ndarray_method
from chainrules_core.rules import resolve_receiver


class Subclass(np.ndarray):
    pass


def test_a_type_with_the_dispatch_protocols_is_a_duck_array():
    assert isinstance(Wrapped(np.ones(2)), DuckArray)
    assert is_duck_array(Wrapped(np.ones(2)))
    assert issubclass(Wrapped, ARRAY_TYPES) and issubclass(np.ndarray, ARRAY_TYPES)


@pytest.mark.parametrize(
    "value",
    [np.ones(2), np.ones(2).view(Subclass), np.float64(1.0), 1.0, [1.0], (np.ones(2),), "a"],
    ids=["ndarray", "ndarray subclass", "numpy scalar", "float", "list", "tuple", "str"],
)
def test_numpy_values_and_python_values_are_not_duck_arrays(value):
    assert not is_duck_array(value)
    assert not isinstance(value, DuckArray)


def test_half_the_protocol_is_not_enough():
    class OnlyFunctions:
        shape, dtype = (2,), np.dtype(float)

        def __array_function__(self, func, types, args, kwargs):
            return NotImplemented

    assert not is_duck_array(OnlyFunctions())


def test_projection_keeps_the_duck_array_type():
    x = Wrapped(np.ones((2, 3)))
    project = ProjectTo(x)
    dx = project(np.full((2, 3), 2.0))  # a numpy cotangent becomes one of x's type
    assert type(dx) is Wrapped and np.array_equal(dx.data, np.full((2, 3), 2.0))
    same = Wrapped(np.ones((2, 3)))
    assert project(same) is same


def test_projection_onto_a_duck_array_broadcasts_scalars_and_takes_real_parts():
    project = ProjectTo(Wrapped(np.ones((2, 2), np.float32)))
    dx = project(3.0)
    assert type(dx) is Wrapped and dx.dtype == np.float32
    assert np.array_equal(dx.data, np.full((2, 2), 3.0))
    real = project(Wrapped(np.full((2, 2), 1 + 2j)))
    assert real.dtype == np.float32 and np.array_equal(real.data, np.ones((2, 2)))


def test_projection_onto_a_duck_array_checks_the_shape():
    with pytest.raises(ProjectionError, match=r"shape \(3,\) onto an array of shape \(2, 2\)"):
        ProjectTo(Wrapped(np.ones((2, 2))))(np.ones(3))


def test_integer_duck_arrays_have_no_tangent():
    assert ProjectTo(Wrapped(np.arange(3)))(np.ones(3)) == NoTangent()


def test_a_duck_cotangent_of_a_numpy_value_stays_lazy():
    # converting it would compute a dask graph in the middle of the backward pass
    dx = Wrapped(np.full(3, 2.0))
    assert ProjectTo(np.ones(3))(dx) is dx
    scalar = ProjectTo(1.0)(Wrapped(np.array([5.0])))
    assert type(scalar) is Wrapped and scalar.shape == () and scalar.data == 5.0
    with pytest.raises(ProjectionError, match="must be a scalar"):
        ProjectTo(1.0)(Wrapped(np.ones(2)))


def test_a_duck_arrays_method_is_looked_up_as_the_ndarray_method():
    x = Wrapped(np.arange(6.0).reshape(2, 3))
    f, args, bound = resolve_receiver(x.sum, (0,))
    assert f is np.ndarray.sum and args[0] is x and bound
    assert ndarray_method(x, "no_such_method") is None
    assert ndarray_method(np.ones(2), "sum") is None  # numpy's own need no mapping
    y, pullback = rrule(x.sum, 0)
    assert np.array_equal(y.data, [3.0, 5.0, 7.0])
    dx = pullback(np.array([1.0, 2.0, 3.0]))[0]  # a bound method's tangent is its receiver's
    assert type(dx) is Wrapped and np.array_equal(dx.data, [[1.0, 2.0, 3.0]] * 2)


def test_operator_rules_apply_to_duck_arrays():
    x, y = Wrapped(np.array([1.0, 2.0])), np.array([3.0, 4.0])
    _, pullback = rrule(np.multiply, x, y)
    _, dx, dy = pullback(np.ones(2))
    assert type(dx) is Wrapped and np.array_equal(dx.data, [3.0, 4.0])
    assert type(dy) is Wrapped and np.array_equal(dy.data, [1.0, 2.0])  # d(x*y)/dy = x
