from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest

from chainrules_core import NoTangent, Tangent, ZeroTangent, thunk
from chainrules_core.testing.flatten import layout_of, tangent_vector


@dataclass(frozen=True)
class Frozen:
    w: np.ndarray
    n: int


class Pair(NamedTuple):
    a: float
    b: complex


class Box:
    def __init__(self, v):
        self.v = v


PRIMALS = [
    1.5,
    2 + 3j,
    np.arange(6.0).reshape(2, 3),
    np.array([1 + 1j, 2 - 1j], np.complex64),
    (1.0, "s", np.ones(2)),
    [1.0, 2.0],
    {"a": 1.0, "k": 3},
    Frozen(np.ones(2), 4),
    Pair(1.0, 1j),
    Box(np.ones((1, 2))),
]


@pytest.mark.parametrize("x", PRIMALS, ids=lambda x: type(x).__name__)
def test_values_and_rebuild_round_trip(x):
    layout = layout_of(x)
    v = layout.values(x)
    assert v.dtype == np.float64 and v.size == layout.size
    rebuilt = layout.rebuild(x, v + 1.0, promote=False)
    assert type(rebuilt) is type(x)
    np.testing.assert_allclose(layout.values(rebuilt), v + 1.0)


@pytest.mark.parametrize("x", PRIMALS, ids=lambda x: type(x).__name__)
def test_tangents_round_trip(x):
    layout = layout_of(x)
    v = np.arange(layout.size, dtype=float)
    t = layout.tangent(v)
    np.testing.assert_allclose(tangent_vector(layout, t, "t"), v)


def test_complex_entries_are_real_then_imaginary():
    np.testing.assert_array_equal(layout_of(2 + 3j).values(2 + 3j), [2.0, 3.0])


def test_promotion_rebuilds_single_precision_in_double():
    x = np.ones(2, np.float32)
    assert layout_of(x).rebuild(x, np.ones(2), promote=True).dtype == np.float64
    assert layout_of(x).rebuild(x, np.ones(2), promote=False).dtype == np.float32


@pytest.mark.parametrize("x", [3, True, "s", None, np.arange(3), len])
def test_non_differentiable_values_take_no_entries(x):
    layout = layout_of(x)
    assert layout.size == 0
    assert layout.tangent(np.empty(0)) is NoTangent()


def test_empty_float_arrays_take_no_entries_but_accept_array_tangents():
    layout = layout_of(np.empty((0, 3)))
    assert layout.size == 0
    assert tangent_vector(layout, np.empty((0, 3)), "t").size == 0


def test_zero_and_thunk_tangents_flatten():
    layout = layout_of(np.ones(3))
    np.testing.assert_array_equal(tangent_vector(layout, ZeroTangent(), "t"), np.zeros(3))
    np.testing.assert_array_equal(
        tangent_vector(layout, thunk(lambda: np.ones(3)), "t"), np.ones(3)
    )


def test_tangent_errors_name_the_place():
    with pytest.raises(TypeError, match=r"x\[0\]: tangent has shape"):
        tangent_vector(layout_of((np.ones(2),)), Tangent(tuple, np.ones(3)), "x")
    with pytest.raises(TypeError, match=r"x.w: tangent has shape"):
        tangent_vector(layout_of(Frozen(np.ones(2), 1)), Tangent(Frozen, w=np.ones(3)), "x")
    with pytest.raises(TypeError, match="fields"):
        tangent_vector(layout_of({"a": 1.0}), Tangent(dict, {"b": 1.0}), "x")
    with pytest.raises(TypeError, match="must get NoTangent"):
        tangent_vector(layout_of("s"), 1.0, "x")
    with pytest.raises(TypeError, match="an integer input got"):
        tangent_vector(layout_of(3), np.ones(2), "x")
