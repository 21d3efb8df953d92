"""Finite-difference tests of the container builtins' rules (chainrules/builtins/containers.py)."""

import itertools
from typing import NamedTuple

import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import AbstractZero, NoTangent, Tangent, ZeroTangent, frule, rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

RNG = np.random.default_rng(2718)


def check(f, *args, **kwargs):
    test_rrule(f, *args, **kwargs)
    test_frule(f, *args, **kwargs)


def materialized(f):
    """``list(f(...))``, with rules that forward to ``f``'s (whose primal is already that list)."""

    def list_of(*args, **kwargs):
        return list(f(*args, **kwargs))

    list_of.__qualname__ = f"list_of_{f.__name__}"
    rrule.add(list_of, (), lambda *args, **kwargs: rrule(f, *args, **kwargs))
    frule.add(list_of, (), lambda tangents, *args, **kwargs: frule(tangents, f, *args, **kwargs))
    return list_of


class Pair(NamedTuple):
    a: float
    b: np.ndarray


SEQUENCES = {
    "list": [0.5, RNG.standard_normal(2), -1.5],
    "tuple": (RNG.standard_normal((2, 2)).astype(np.float32), 2.5),
    "namedtuple": Pair(1.5, RNG.standard_normal(3)),
    "matrix": RNG.standard_normal((3, 2)),
}


@pytest.mark.parametrize("f", [tuple, list, materialized(reversed)], ids=lambda f: f.__qualname__)
@pytest.mark.parametrize("kind", list(SEQUENCES))
def test_conversions(f, kind):
    check(f, SEQUENCES[kind])


def test_conversion_of_an_array_stacks_the_item_cotangents():
    _, back = rrule(list, np.zeros((2, 3)))
    np.testing.assert_array_equal(
        back(Tangent(list, np.ones(3), ZeroTangent()))[1], [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    )


def test_reversed_pullback_reverses():
    _, back = rrule(reversed, (1.0, 2.0, 3.0))
    assert back(Tangent(list, 1.0, 2.0, 3.0))[1] == Tangent(tuple, 3.0, 2.0, 1.0)


@pytest.mark.parametrize(
    "source",
    [
        {"a": 1.0, "b": 2},
        [("a", 1.5), ["b", RNG.standard_normal(2)]],
        (("a", 1.0), ("b", 2.0), ("a", 3.0)),
    ],
    ids=["mapping", "pairs", "repeated key"],
)
def test_dict_construction(source):
    check(dict, source)


def test_dict_from_pairs_gives_a_repeated_key_to_its_last_pair():
    _, back = rrule(dict, [("a", 1.0), ("a", 2.0)])
    assert back(Tangent(dict, {"a": 5.0}))[1] == Tangent(
        list, ZeroTangent(), Tangent(tuple, NoTangent(), 5.0)
    )


def test_dict_from_keywords_is_left_to_the_engine():
    assert rrule(dict, a=1.0) is None
    assert rrule(dict, {"a": 1.0}, b=2.0) is None


THETA = {"w": RNG.standard_normal((2, 2)), "b": 0.5, "n": 3}


@pytest.mark.parametrize("method", [dict.items, dict.values], ids=lambda m: m.__name__)
def test_dict_views_return_lists(method):
    # chainrules_core.testing cannot draw an output tangent for a (key, int) pair: leave "n" out.
    check(materialized(method), {k: v for k, v in THETA.items() if k != "n"})
    check(materialized(dict.values), THETA)


def test_dict_keys_have_no_tangent():
    y, back = rrule(dict.keys, THETA)
    assert y == ["w", "b", "n"] and back(Tangent(list)) == (NoTangent(), NoTangent())
    assert frule((NoTangent(), Tangent(dict, {"b": 1.0})), dict.keys, THETA) == (y, NoTangent())


def test_dict_items_pullback_collects_the_values():
    _, back = rrule(dict.items, {"a": 1.0, "b": 2.0})
    dy = Tangent(list, Tangent(tuple, NoTangent(), 3.0), ZeroTangent())
    assert back(dy)[1] == Tangent(dict, {"a": 3.0})


def test_bound_dict_methods_use_the_same_rules():
    d = {"a": 1.0}
    y, back = rrule(d.values)
    assert y == [1.0] and back(Tangent(list, 2.0)) == (Tangent(dict, {"a": 2.0}),)


@pytest.mark.parametrize("args", [("w",), ("b", 4.0), ("missing", 4.0), ("missing",)], ids=str)
def test_dict_get(args):
    check(dict.get, THETA, *args)


@pytest.mark.parametrize(
    "seqs",
    [
        ([0.5, 1.5], (RNG.standard_normal(2), -2.0)),
        ([0.5, 1.5, 2.5], (3.0,), RNG.standard_normal((2, 2))),
        (range(3), [1.0, 2.0]),
    ],
    ids=["two", "three of different lengths", "with a range"],
)
def test_zip(seqs):
    check(materialized(zip), *seqs)


def test_zip_pullback_splits_per_sequence_with_zeros_past_the_shortest():
    _, back = rrule(zip, [1.0, 2.0], (3.0,))
    dy = Tangent(list, Tangent(tuple, 10.0, 30.0))
    assert back(dy) == (NoTangent(), Tangent(list, 10.0, ZeroTangent()), Tangent(tuple, 30.0))


def test_zip_reads_an_iterator_in_step_and_gives_it_no_tangent():
    check(materialized(zip), [0.5, RNG.standard_normal(2)], nondiff(itertools.repeat(3.0)))
    y, back = rrule(zip, [1.0, 2.0], itertools.count())
    assert y == [(1.0, 0), (2.0, 1)]
    dy = Tangent(list, Tangent(tuple, 10.0, 0.0), Tangent(tuple, 20.0, 0.0))
    assert back(dy) == (NoTangent(), Tangent(list, 10.0, 20.0), NoTangent())
    y, dy = frule((NoTangent(), Tangent(list, 1.0), ZeroTangent()), zip, [2.0], (v for v in "a"))
    assert y == [(2.0, "a")] and dy == Tangent(list, Tangent(tuple, 1.0, ZeroTangent()))


class _Repeat:
    """An iterator written in Python: its ``__next__`` might read anything."""

    def __iter__(self):
        return self

    def __next__(self):
        return 1.0


def test_zip_leaves_other_iterators_to_the_engine():
    assert rrule(zip, [1.0], _Repeat()) is None
    assert frule((NoTangent(), ZeroTangent(), ZeroTangent()), zip, [1.0], _Repeat()) is None
    # an iterator given a tangent: nothing here can say how its items move
    assert frule((NoTangent(), ZeroTangent(), 1.0), zip, [1.0], itertools.repeat(2.0)) is None


@pytest.mark.parametrize(
    "args",
    [([0.5, -1.5],), ((RNG.standard_normal(2), 2.0), 1), (RNG.standard_normal((3, 2)),)],
    ids=["list", "start", "matrix"],
)
def test_enumerate(args):
    check(materialized(enumerate), *args)


def test_non_differentiable_conversions():
    for f, x in [(list, {"a": 1.0}), (tuple, range(3)), (list, "ab")]:
        y, back = rrule(f, x)
        assert y == f(x) and back(1.0) == (NoTangent(), NoTangent())
        assert isinstance(frule((NoTangent(), NoTangent()), f, x)[1], AbstractZero)
