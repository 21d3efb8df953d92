from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest

from chainrules_core import (
    InplaceableThunk,
    NoTangent,
    Tangent,
    ZeroTangent,
    add,
    thunk,
    zero_tangent,
)


@dataclass
class Point:
    x: float
    y: float


class Pair(NamedTuple):
    a: float
    b: np.ndarray


def test_add_handles_every_kind():
    assert add(ZeroTangent(), 1.0) == 1.0
    assert add(1.0, NoTangent()) == 1.0
    assert add(thunk(lambda: 1.0), thunk(lambda: 2.0)) == 3.0
    assert add(Tangent(Point, x=1.0), Tangent(Point, y=1.0)) == Tangent(Point, x=1.0, y=1.0)
    np.testing.assert_array_equal(add(np.ones(2), 1.0), [2.0, 2.0])


def test_add_of_plain_lists_is_elementwise_not_concatenation():
    assert add([1.0, ZeroTangent()], [2.0, 3.0]) == [3.0, 3.0]
    with pytest.raises(ValueError, match="lengths"):
        add([1.0], [1.0, 2.0])


def test_add_without_inplace_never_modifies_the_accumulator():
    acc = np.zeros(2)
    out = add(acc, np.ones(2))
    assert out is not acc
    np.testing.assert_array_equal(acc, [0.0, 0.0])


def test_inplace_add_reuses_a_writeable_buffer():
    acc = np.zeros(3)
    assert add(acc, np.ones(3), inplace=True) is acc
    assert add(acc, thunk(lambda: np.ones(3)), inplace=True) is acc
    assert add(acc, ZeroTangent(), inplace=True) is acc
    np.testing.assert_array_equal(acc, [2.0, 2.0, 2.0])


def test_inplace_add_allocates_when_the_buffer_cannot_hold_the_sum():
    ints_to_float = np.zeros(2, dtype=np.float32)
    out = add(ints_to_float, np.ones(2, dtype=np.float64), inplace=True)
    assert out is not ints_to_float and out.dtype == np.float64
    small = np.zeros(1)
    assert add(small, np.ones(3), inplace=True).shape == (3,)
    readonly = np.zeros(2)
    readonly.flags.writeable = False
    assert add(readonly, np.ones(2), inplace=True) is not readonly


def test_inplace_add_uses_inplaceable_thunks_without_computing_the_value():
    def value():
        raise AssertionError("the value should not be computed")

    t = InplaceableThunk(lambda buf: np.add(buf, 5.0, out=buf), value)
    acc = np.zeros(2)
    assert add(acc, t, inplace=True) is acc
    np.testing.assert_array_equal(acc, [5.0, 5.0])


def test_zero_tangent_of_numbers_and_arrays():
    assert zero_tangent(3.5) == 0.0 and isinstance(zero_tangent(3.5), float)
    assert zero_tangent(3) == 0.0
    assert zero_tangent(1 + 2j) == 0j
    assert zero_tangent(np.float32(1.0)).dtype == np.float32
    z = zero_tangent(np.ones((2, 3), np.float32))
    assert z.shape == (2, 3) and z.dtype == np.float32 and not z.any()
    assert zero_tangent(np.arange(3)) is NoTangent()


@pytest.mark.parametrize("x", [True, "s", None, len, np.sin, lambda v: v])
def test_zero_tangent_of_non_differentiable_values(x):
    assert zero_tangent(x) is NoTangent()


def test_zero_tangent_of_composites():
    assert zero_tangent((1.0, "a")) == Tangent(tuple, 0.0, NoTangent())
    assert zero_tangent([1.0]) == Tangent(list, 0.0)
    assert zero_tangent({"k": 2.0}) == Tangent(dict, {"k": 0.0})
    assert zero_tangent(Point(1.0, 2.0)) == Tangent(Point, x=0.0, y=0.0)
    pair = zero_tangent(Pair(1.0, np.ones(2)))
    assert pair.primal_type is Pair and pair.a == 0.0


def test_zero_tangent_of_a_plain_object_uses_its_attributes():
    class Box:
        def __init__(self):
            self.w = 2.0

    assert zero_tangent(Box()) == Tangent(Box, w=0.0)
