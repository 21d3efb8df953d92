from dataclasses import dataclass

import numpy as np

from chainrules_core import NoTangent, Tangent
from chainrules_core.testing import rand_tangent


@dataclass
class Point:
    x: float
    y: float


def test_random_tangents_have_the_natural_type_shape_and_dtype():
    rng = np.random.default_rng(3)
    assert isinstance(rand_tangent(1.0, rng), float)
    assert isinstance(rand_tangent(1j, rng), complex)
    t = rand_tangent(np.ones((2, 3), np.float32), rng)
    assert t.shape == (2, 3) and t.dtype == np.float32
    assert rand_tangent(np.arange(3), rng) is NoTangent()
    assert rand_tangent(np.ones(2, np.complex64), rng).dtype == np.complex64


def test_random_tangents_of_composites():
    rng = np.random.default_rng(4)
    p = rand_tangent(Point(1.0, 2.0), rng)
    assert isinstance(p, Tangent) and p.primal_type is Point and isinstance(p.x, float)
    d = rand_tangent({"a": 1.0, "n": 2}, rng)
    assert d.primal_type is dict and d["n"] is NoTangent()
    assert rand_tangent((1.0, [2.0]), rng)[1].primal_type is list


def test_random_tangents_are_random_but_reproducible_with_a_seed():
    a = rand_tangent(np.ones(5), np.random.default_rng(7))
    b = rand_tangent(np.ones(5), np.random.default_rng(7))
    c = rand_tangent(np.ones(5), np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
