"""Forward over reverse across the whole corpus: every construct's Hessian-vector product.

For each corpus function, ``jvp`` of its ``gradient`` along a random direction is checked
against second differences: central differences, along that direction, of the central-difference
gradient. Nothing here compares the engine with itself.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from engine_corpus import CASES
from fd_check import _get, _leaves, _set, fd_gradient
from test_forward import _leaf, _random_tangent

from zygote_engine import MissingRuleError, gradient, jvp

# A literal pattern (``case Point(x=0.0)``) is a jump: differences across it mean nothing.
_DISCONTINUOUS = {"match_class_keyword_pattern_with_literal"}
# A set of differentiated values has no derivative (a set has no order): a located error, never
# a wrong number.
_LOUD = {"set_comprehension_constant": MissingRuleError}

SMOOTH = [(f, args) for f, args in CASES if f.__name__ not in _DISCONTINUOUS | set(_LOUD)]


def _second_differences(f, args, tangents, eps=1e-4):
    def gradient_at(sign):
        shifted = copy.deepcopy(args)
        for i, arg in enumerate(shifted):
            for path in _leaves(arg):
                moved = _get(shifted[i], path) + sign * eps * _leaf(tangents[i], path)
                shifted = (*shifted[:i], _set(shifted[i], path, moved), *shifted[i + 1 :])
        return fd_gradient(f, *shifted, eps=1e-5)

    plus, minus = gradient_at(1.0), gradient_at(-1.0)
    return [{p: (a[p] - b[p]) / (2 * eps) for p in a} for a, b in zip(plus, minus)]


@pytest.mark.parametrize(("f", "args"), SMOOTH, ids=[f.__name__ for f, _ in SMOOTH])
def test_hessian_vector_product_matches_second_differences(f, args):
    rng = np.random.default_rng(0)
    tangents = tuple(_random_tangent(a, rng) for a in args)
    _, hvp = jvp(lambda *a: gradient(f, *a), copy.deepcopy(args), tangents)
    expected = _second_differences(f, args, tangents)
    for i, partials in enumerate(expected):
        for path, value in partials.items():
            got = 0.0 if hvp[i] is None else _leaf(hvp[i], path)
            assert np.isclose(got, value, rtol=1e-3, atol=1e-3), (i, path, got, value)


@pytest.mark.parametrize("name", sorted(_LOUD))
def test_what_nesting_cannot_do_is_a_located_error(name):
    f, args = next((f, a) for f, a in CASES if f.__name__ == name)
    tangents = tuple(_random_tangent(a, np.random.default_rng(0)) for a in args)
    with pytest.raises(_LOUD[name], match=r"(engine_corpus|runtime).py:\d+"):
        jvp(lambda *a: gradient(f, *a), copy.deepcopy(args), tangents)
