"""Deep recursion: differentiated as deep as the plain function runs, under the user's limit."""

from __future__ import annotations

import sys

import pytest

from zygote_engine import gradient, jvp


def _compound(x, n):
    return x if n == 0 else _compound(x, n - 1) * 1.0001


@pytest.fixture
def recursion_limit():
    """Set the recursion limit for one test and restore it afterwards."""
    saved = sys.getrecursionlimit()
    yield sys.setrecursionlimit
    sys.setrecursionlimit(saved)


@pytest.mark.parametrize(("limit", "depth"), [(1000, 900), (12000, 10_000)])
def test_recursion_as_deep_as_the_plain_function_runs(recursion_limit, limit, depth):
    recursion_limit(limit)
    assert _compound(1.0, depth) > 0  # the plain function runs at this depth
    expected = 1.0001**depth  # d/dx of x * 1.0001^n
    assert gradient(_compound, 1.0, depth)[0] == pytest.approx(expected, rel=1e-12)
    assert jvp(_compound, (1.0, depth), (1.0, None))[1] == pytest.approx(expected, rel=1e-12)
    assert sys.getrecursionlimit() == limit  # the user's limit is back


def test_past_that_the_recursion_error_says_what_to_do(recursion_limit):
    recursion_limit(1000)
    with pytest.raises(RecursionError, match="raise the limit with sys.setrecursionlimit"):
        gradient(_compound, 1.0, 5000)
    assert sys.getrecursionlimit() == 1000
