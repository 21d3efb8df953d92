"""The precedence table of tangent arithmetic, pinned pair by pair (see chainrules_core/arithmetic.py)."""

import operator
from dataclasses import dataclass

import numpy as np
import pytest

from chainrules_core import NoTangent, Tangent, Thunk, ZeroTangent, thunk
from chainrules_core.arithmetic import NO_TANGENT, STRUCTURAL, THUNK, VALUE, ZERO, kind


@dataclass
class Point:
    x: float
    y: float


def samples():
    """One representative of every kind, including both numpy and Python values on either side."""
    return {
        "no": NoTangent(),
        "zero": ZeroTangent(),
        "thunk": thunk(lambda: 2.0),
        "tangent": Tangent(Point, x=1.0, y=2.0),
        "array": np.array([1.0, 2.0]),
        "float": 3.0,
        "np_float": np.float64(4.0),
    }


def test_kinds_are_ordered_as_documented():
    s = samples()
    assert [
        kind(s[k]) for k in ("no", "zero", "thunk", "tangent", "array", "float", "np_float")
    ] == [NO_TANGENT, ZERO, THUNK, STRUCTURAL, VALUE, VALUE, VALUE]
    assert NO_TANGENT > ZERO > THUNK > STRUCTURAL > VALUE


VALUES = ["array", "float", "np_float"]
ALL = ["no", "zero", "thunk", "tangent", *VALUES]


@pytest.mark.parametrize("other", ALL)
@pytest.mark.parametrize("op", [operator.add, lambda a, b: b + a], ids=["left", "right"])
def test_zero_is_the_identity_of_addition(other, op):
    s = samples()
    result = op(ZeroTangent(), s[other])
    if other == "no":
        assert result is NoTangent()
    else:
        assert result is s[other]


@pytest.mark.parametrize("other", [k for k in ALL if k not in ("no", "zero")])
def test_no_tangent_is_the_identity_of_addition_with_non_zeros(other):
    s = samples()
    assert NoTangent() + s[other] is s[other]
    assert s[other] + NoTangent() is s[other]


def test_no_tangent_wins_over_zero_tangent():
    assert NoTangent() + ZeroTangent() is NoTangent()
    assert ZeroTangent() + NoTangent() is NoTangent()
    assert NoTangent() * ZeroTangent() is NoTangent()
    assert ZeroTangent() * NoTangent() is NoTangent()


@pytest.mark.parametrize("other", ALL)
def test_no_tangent_absorbs_multiplication(other):
    s = samples()
    assert NoTangent() * s[other] is NoTangent()
    assert s[other] * NoTangent() is NoTangent()


@pytest.mark.parametrize("other", [k for k in ALL if k != "no"])
def test_zero_absorbs_multiplication(other):
    s = samples()
    assert ZeroTangent() * s[other] is ZeroTangent()
    assert s[other] * ZeroTangent() is ZeroTangent()


@pytest.mark.parametrize("other", VALUES)
def test_thunks_are_unthunked_in_arithmetic(other):
    s = samples()
    np.testing.assert_array_equal(s["thunk"] + s[other], 2.0 + s[other])
    np.testing.assert_array_equal(s[other] + s["thunk"], s[other] + 2.0)
    np.testing.assert_array_equal(s["thunk"] * s[other], 2.0 * s[other])
    np.testing.assert_array_equal(s[other] - s["thunk"], s[other] - 2.0)
    assert not isinstance(s["thunk"] + s[other], Thunk)


def test_thunk_of_a_tangent_adds_structurally():
    t = thunk(lambda: Tangent(Point, x=1.0))
    assert t + Tangent(Point, y=2.0) == Tangent(Point, x=1.0, y=2.0)


def test_tangents_add_fieldwise():
    a = Tangent(Point, x=1.0)
    b = Tangent(Point, x=2.0, y=3.0)
    assert a + b == Tangent(Point, x=3.0, y=3.0)
    assert b - a == Tangent(Point, x=1.0, y=3.0)
    assert -a == Tangent(Point, x=-1.0)
    assert Tangent(tuple, 1.0, 2.0) + Tangent(tuple, 10.0, 20.0) == Tangent(tuple, 11.0, 22.0)


def test_tangent_addition_does_not_modify_operands():
    a = Tangent(dict, {"k": 1.0})
    b = Tangent(dict, {"k": 2.0, "j": 3.0})
    a + b
    assert a.backing == {"k": 1.0}


@pytest.mark.parametrize("scale", [2.0, np.float64(2.0), 2, np.array(2.0)])
def test_tangents_scale_by_numbers_on_either_side(scale):
    t = Tangent(Point, x=1.0, y=ZeroTangent())
    assert t * scale == Tangent(Point, x=2.0)
    assert scale * t == Tangent(Point, x=2.0)
    assert (t * scale).y is ZeroTangent()
    assert t / 2.0 == Tangent(Point, x=0.5)


@pytest.mark.parametrize("other", VALUES)
def test_tangent_plus_a_plain_value_is_an_error(other):
    s = samples()
    with pytest.raises(TypeError, match="cannot add a Tangent"):
        s["tangent"] + s[other]
    with pytest.raises(TypeError, match="cannot add a Tangent"):
        s[other] + s["tangent"]


def test_tangent_times_an_array_or_tangent_is_an_error():
    t = Tangent(Point, x=1.0)
    with pytest.raises(TypeError, match="scaled by a number"):
        t * np.ones(2)
    with pytest.raises(TypeError, match="cannot multiply two structural"):
        t * t


def test_tangents_of_different_types_do_not_add():
    with pytest.raises(TypeError, match="different types"):
        Tangent(Point, x=1.0) + Tangent(tuple, 1.0)
    with pytest.raises(ValueError, match="lengths"):
        Tangent(tuple, 1.0) + Tangent(tuple, 1.0, 2.0)


def test_division_and_matrix_product_follow_precedence():
    a = np.eye(2)
    assert ZeroTangent() / 3.0 is ZeroTangent()
    assert ZeroTangent() @ a is ZeroTangent()
    assert a @ NoTangent() is NoTangent()
    np.testing.assert_array_equal(thunk(lambda: a) @ a, a)
    with pytest.raises(ZeroDivisionError):
        1.0 / ZeroTangent()
    with pytest.raises(TypeError):
        Tangent(Point, x=1.0) @ a


def test_unary_operators():
    assert -ZeroTangent() is ZeroTangent()
    assert -thunk(lambda: 2.0) == -2.0
    assert +Tangent(Point, x=1.0) == Tangent(Point, x=1.0)
    assert 1.0 - ZeroTangent() == 1.0
    assert ZeroTangent() - 1.0 == -1.0
