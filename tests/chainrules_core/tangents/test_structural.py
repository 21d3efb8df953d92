from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest

from chainrules_core import Tangent, ZeroTangent, canonicalize


@dataclass
class Point:
    x: float
    y: float


class Pair(NamedTuple):
    a: float
    b: float


def test_field_access_and_missing_fields_are_zero():
    t = Tangent(Point, x=0.5)
    assert t.x == 0.5
    assert t.y is ZeroTangent()


def test_item_access_for_tuples_dicts_and_namedtuples():
    assert Tangent(tuple, 1.0, 2.0)[1] == 2.0
    assert Tangent(dict, {"k": 3.0})["k"] == 3.0
    assert Tangent(dict, {"k": 3.0})["missing"] is ZeroTangent()
    assert Tangent(dict, k=3.0)["k"] == 3.0
    assert Tangent(Pair, b=4.0)[1] == 4.0
    assert Tangent(Pair, b=4.0)[0] is ZeroTangent()


def test_dict_keys_need_not_be_strings():
    t = Tangent(dict, {1: 2.0, (3, 4): 5.0})
    assert t[1] == 2.0
    assert t[(3, 4)] == 5.0


def test_repr_is_readable():
    assert repr(Tangent(Point, x=0.55, y=0.83)) == "Tangent[Point](x=0.55, y=0.83)"
    assert repr(Tangent(tuple, 1.0, 2.0)) == "Tangent[tuple](1.0, 2.0)"
    assert repr(Tangent(dict, {"a": 1.0})) == "Tangent[dict]({'a': 1.0})"


def test_equality_treats_missing_fields_as_zero_and_compares_arrays():
    assert Tangent(Point, x=1.0) == Tangent(Point, x=1.0, y=ZeroTangent())
    assert Tangent(Point, x=1.0) == Tangent(Point, x=1.0, y=0.0)
    assert Tangent(Point, x=1.0) != Tangent(Point, x=2.0)
    assert Tangent(tuple, np.ones(2)) == Tangent(tuple, np.ones(2))
    assert Tangent(tuple, 1.0) != Tangent(list, 1.0)


def test_unknown_field_of_a_dataclass_is_rejected():
    with pytest.raises(TypeError, match="has no field"):
        Tangent(Point, z=1.0)


def test_items_and_fields_cannot_be_mixed():
    with pytest.raises(TypeError, match="either items"):
        Tangent(tuple, 1.0, x=2.0)


def test_primal_type_must_be_a_type():
    with pytest.raises(TypeError, match="primal's type"):
        Tangent(Point(1.0, 2.0), x=1.0)


def test_tangents_are_unhashable():
    with pytest.raises(TypeError):
        hash(Tangent(tuple, 1.0))


def test_iteration_over_positional_and_namedtuple_tangents():
    assert list(Tangent(tuple, 1.0, 2.0)) == [1.0, 2.0]
    assert list(Tangent(Pair, b=2.0)) == [ZeroTangent(), 2.0]
    with pytest.raises(TypeError, match="not iterable"):
        iter(Tangent(Point, x=1.0))


def test_dunder_lookups_are_not_fields():
    with pytest.raises(AttributeError):
        _ = Tangent(Point, x=1.0).__array_interface__


def test_canonicalize_fills_declared_fields_in_order():
    t = canonicalize(Tangent(Point, y=2.0))
    assert list(t.backing) == ["x", "y"]
    assert t.x is ZeroTangent()
    assert canonicalize(Tangent(tuple, 1.0)) == Tangent(tuple, 1.0)


def test_empty_sequence_tangents_are_positional():
    assert Tangent(list).backing == ()
    assert list(Tangent(tuple)) == []
    assert Tangent(list) == Tangent.from_backing(list, ())
