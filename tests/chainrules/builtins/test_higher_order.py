"""Finite-difference tests of the higher-order builtins' rules (chainrules/builtins/higher_order.py).

The rules of ``map`` and ``functools.reduce`` call back into an AD engine; here the engine is a
config that only uses rules, so the functions handed to them have rules of their own.
"""

import functools
import itertools
import math
import operator

import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import (
    HasForwardsMode,
    HasReverseMode,
    NoForwardsMode,
    NoReverseMode,
    NoTangent,
    RuleConfig,
    Tangent,
    ZeroTangent,
    frule,
    rrule,
    scalar_rule,
)
from chainrules_core.testing import nondiff, test_frule, test_rrule

RNG = np.random.default_rng(161803)


class _RulesOnly(RuleConfig, HasReverseMode, NoForwardsMode):
    def rrule_via_ad(self, f, *args, **kwargs):
        return rrule(self, f, *args, **kwargs)


class _ForwardRulesOnly(RuleConfig, HasForwardsMode, NoReverseMode):
    def frule_via_ad(self, tangents, f, *args, **kwargs):
        return frule(self, tangents, f, *args, **kwargs)


def through_rules(f):
    """``list(f(...))`` (or ``f(...)``), with rules forwarding to ``f``'s, passing the test configs."""

    def call(*args, **kwargs):
        y = f(*args, **kwargs)
        return list(y) if isinstance(y, (map, filter)) else y

    call.__qualname__ = f"through_rules_{f.__name__}"
    rrule.add(call, (), lambda *args, **kwargs: rrule(_RulesOnly(), f, *args, **kwargs))
    frule.add(
        call,
        (),
        lambda tangents, *args, **kwargs: frule(_ForwardRulesOnly(), tangents, f, *args, **kwargs),
    )
    return call


def check(f, *args, **kwargs):
    test_rrule(f, *args, **kwargs)
    test_frule(f, *args, **kwargs)


def affine_step(acc, x):
    return acc * x + x


scalar_rule(affine_step, lambda acc, x, out: (x, acc + 1))
cube = scalar_rule(lambda x: x**3, lambda x, out: 3 * x**2)

MAP = through_rules(map)
REDUCE = through_rules(functools.reduce)


@pytest.mark.parametrize(
    ("f", "seqs"),
    [
        (math.sin, ([0.5, -1.0, 2.0],)),
        (cube, ((0.5, 1.5),)),
        (cube, (RNG.standard_normal((2, 3)),)),
        (operator.mul, ([0.5, 1.5, 2.5], (RNG.standard_normal(2), -2.0))),
        (operator.add, (range(3), [0.5, 1.5])),
    ],
    ids=["sin of list", "lambda of tuple", "rows of a matrix", "two sequences", "with a range"],
)
def test_map(f, seqs):
    check(MAP, f, *seqs)


def test_map_reads_an_iterator_in_step_with_the_sequences():
    check(MAP, operator.mul, [0.5, -1.0, 2.0], nondiff(itertools.repeat(3.0)))
    y, back = rrule(_RulesOnly(), map, operator.mul, [0.5, 2.0], itertools.count(1.0))
    assert y == [0.5, 4.0]
    assert back(Tangent(list, 1.0, 1.0))[2:] == (Tangent(list, 1.0, 2.0), NoTangent())


def test_map_pullback_skips_zero_cotangents():
    _, back = rrule(_RulesOnly(), map, math.sin, [0.0, 1.0])
    assert back(Tangent(list, ZeroTangent(), 2.0))[2] == Tangent(
        list, ZeroTangent(), 2.0 * math.cos(1.0)
    )


def test_map_needs_an_engine():
    assert rrule(map, math.sin, [0.0]) is None


@pytest.mark.parametrize(
    ("f", "seq", "initial"),
    [
        (operator.mul, [1.5, -0.5, 2.0], ()),
        (operator.mul, (0.5, 2.0), (3.0,)),
        (affine_step, [0.5, 1.5, -1.0, 0.25], ()),
        (operator.add, [RNG.standard_normal(2), 1.5], (RNG.standard_normal(2),)),
        (operator.mul, [2.5], ()),
        (operator.mul, [], (2.0,)),
    ],
    ids=["product", "with initial", "affine steps", "arrays", "one item", "empty with initial"],
)
def test_reduce(f, seq, initial):
    check(REDUCE, f, seq, *initial)


def test_reduce_of_an_empty_sequence_raises_reduces_error():
    with pytest.raises(TypeError, match="empty"):
        rrule(_RulesOnly(), functools.reduce, operator.add, [])


@pytest.mark.parametrize(
    "kwargs", [{}, {"reverse": True}, {"key": abs}, {"key": lambda x: -x, "reverse": True}], ids=str
)
@pytest.mark.parametrize(
    "xs",
    [[0.5, -2.0, 1.5, 0.25], (3.0, -1.0), np.array([2.0, -1.0, 0.5])],
    ids=["list", "tuple", "array"],
)
def test_sorted(xs, kwargs):
    check(sorted, xs, fkwargs=kwargs)


def test_sorted_keeps_ties_in_their_original_order():
    _, back = rrule(sorted, [1.0, -1.0, 2.0], key=abs)
    assert back(Tangent(list, 10.0, 20.0, 30.0))[1] == Tangent(list, 10.0, 20.0, 30.0)
    # reversed, equal items still keep their original order: each gets its own position's cotangent
    _, back = rrule(sorted, (1.0, 2.0, 1.0), reverse=True)  # [2.0, first 1.0, last 1.0]
    assert back(Tangent(list, 10.0, 20.0, 30.0))[1] == Tangent(tuple, 20.0, 10.0, 30.0)


@pytest.mark.parametrize("predicate", [None, lambda x: x > 0], ids=["truth", "positive"])
def test_filter(predicate):
    check(through_rules(filter), predicate, [0.5, -2.0, 1.5])  # no item at the predicate's jump


def test_filter_gives_dropped_items_zero_cotangents():
    _, back = rrule(filter, None, (1.0, 0.0, 2.0))
    assert back(Tangent(list, 10.0, 20.0)) == (
        NoTangent(),
        NoTangent(),
        Tangent(tuple, 10.0, ZeroTangent(), 20.0),
    )
