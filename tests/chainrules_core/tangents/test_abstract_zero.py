import copy
import pickle

import numpy as np
import pytest

from chainrules_core import AbstractZero, NoTangent, ZeroTangent


@pytest.mark.parametrize("zero_type", [ZeroTangent, NoTangent])
def test_zeros_are_singletons_that_survive_copy_and_pickle(zero_type):
    z = zero_type()
    assert z is zero_type()
    assert copy.copy(z) is z
    assert copy.deepcopy(z) is z
    assert pickle.loads(pickle.dumps(z)) is z
    assert isinstance(z, AbstractZero)


def test_zero_and_no_tangent_are_distinct():
    assert ZeroTangent() is not NoTangent()
    assert repr(ZeroTangent()) == "ZeroTangent()"
    assert repr(NoTangent()) == "NoTangent()"


@pytest.mark.parametrize("zero", [ZeroTangent(), NoTangent()])
def test_zeros_absorb_linear_operations(zero):
    assert zero[3] is zero
    assert zero.T is zero
    assert zero.real is zero
    assert zero.imag is zero
    assert zero.conj() is zero
    assert zero.sum(axis=0) is zero
    assert zero.reshape(2, 3) is zero
    assert zero.transpose() is zero
    assert float(zero) == 0.0
    assert complex(zero) == 0j


@pytest.mark.parametrize("zero", [ZeroTangent(), NoTangent()])
def test_fields_of_a_zero_are_zero_but_metadata_and_private_names_are_not_fields(zero):
    assert zero.x is zero
    assert zero.weights is zero
    for name in (
        "shape",
        "dtype",
        "ndim",
        "size",
        "astype",
        "_private",
        "__array_interface__",
        "unthunk",
    ):
        assert not hasattr(zero, name)
    assert np.shape(zero) == ()


def test_iterating_a_zero_raises_a_clear_error():
    with pytest.raises(TypeError, match="cannot iterate"):
        iter(ZeroTangent())


def test_numpy_arrays_defer_to_zeros():
    x = np.arange(3.0)
    assert x * ZeroTangent() is ZeroTangent()
    assert np.float64(2.0) * NoTangent() is NoTangent()
