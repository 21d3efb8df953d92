import numpy as np
import pytest

from chainrules_core import (
    NoTangent,
    ProjectionError,
    ProjectTo,
    Tangent,
    Thunk,
    ZeroTangent,
    thunk,
)


def test_real_scalars_project_to_real_scalars():
    assert ProjectTo(1.0)(2 + 3j) == 2.0
    assert type(ProjectTo(1.0)(np.float64(2.0))) is float
    assert ProjectTo(3)(1.5) == 1.5 and type(ProjectTo(3)(1.5)) is float
    assert ProjectTo(1.0)(np.array([4.0])) == 4.0
    assert type(ProjectTo(np.float32(1.0))(2.0)) is np.float32


def test_a_real_scalar_rejects_an_array_tangent():
    with pytest.raises(ProjectionError, match="must be a scalar"):
        ProjectTo(1.0)(np.ones(3))


def test_complex_scalars_keep_complex():
    assert ProjectTo(1j)(2.0) == 2 + 0j and isinstance(ProjectTo(1j)(2.0), complex)
    assert type(ProjectTo(np.complex64(1j))(1.0)) is np.complex64


@pytest.mark.parametrize("x", [True, np.bool_(True), np.arange(3), np.array([True, False])])
def test_integer_and_boolean_values_project_to_no_tangent(x):
    assert ProjectTo(x)(np.ones(3)) is NoTangent()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_arrays_keep_their_dtype(dtype):
    x = np.ones((2, 3), dtype)
    dx = ProjectTo(x)(np.full((2, 3), 2.0))
    assert dx.dtype == dtype and dx.shape == (2, 3)


def test_real_arrays_take_the_real_part_of_complex_tangents():
    dx = ProjectTo(np.ones(2))(np.array([1 + 2j, 3 - 1j]))
    np.testing.assert_array_equal(dx, [1.0, 3.0])
    assert dx.dtype == np.float64


def test_scalar_and_size_one_tangents_broadcast_back_to_the_array_shape():
    p = ProjectTo(np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(p(3.0), np.full((2, 2), 3.0))
    np.testing.assert_array_equal(p(np.array([[5.0]])), np.full((2, 2), 5.0))
    assert p(np.float64(1.0)).dtype == np.float32


def test_same_size_tangents_are_reshaped_and_others_rejected():
    p = ProjectTo(np.ones((2, 3)))
    assert p(np.arange(6.0)).shape == (2, 3)
    with pytest.raises(ProjectionError, match="shape"):
        p(np.ones(4))


def test_zero_dimensional_arrays_stay_arrays():
    dx = ProjectTo(np.array(1.0))(2.0)
    assert isinstance(dx, np.ndarray) and dx.shape == ()


@pytest.mark.parametrize("x", [1.0, np.ones(2), (1.0, 2.0), {"a": 1.0}, "s"])
def test_zeros_pass_through(x):
    assert ProjectTo(x)(ZeroTangent()) is ZeroTangent()


def test_thunks_are_projected_lazily():
    calls = []
    t = thunk(lambda: calls.append(1) or np.ones(1))
    projected = ProjectTo(np.ones((2, 2)))(t)
    assert isinstance(projected, Thunk) and calls == []
    assert projected.unthunk().shape == (2, 2)


def test_sequences_project_item_by_item():
    p = ProjectTo((1.0, np.ones(2, np.float32), 3))
    t = p((1 + 1j, np.ones(2), 5.0))
    assert t.primal_type is tuple
    assert t[0] == 1.0 and t[1].dtype == np.float32 and t[2] == 5.0
    assert p(Tangent(tuple, 1.0, np.ones(2), 1.0))[1].dtype == np.float32
    assert ProjectTo([1.0, True])([2.0, 3.0]) == Tangent(list, 2.0, NoTangent())
    with pytest.raises(ProjectionError, match="length"):
        p((1.0,))


def test_other_values_pass_through_unchanged():
    t = Tangent(dict, {"a": 1.0})
    assert ProjectTo({"a": 1.0})(t) is t


def test_projector_reprs_name_the_target():
    assert repr(ProjectTo(np.ones(2))) == "ProjectTo(ndarray[float64, (2,)])"
    assert repr(ProjectTo(1.0)) == "ProjectTo(float)"
    assert repr(ProjectTo(True)) == "ProjectTo(NoTangent)"
