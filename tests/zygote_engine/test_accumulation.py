"""Cotangents accumulated in a loop: an accumulator's array that nothing else refers to is added
into in place (``runtime.accumulate``); these tests pin down that no array anyone else can see
changes, and that the sums are right. Expected values are analytic."""

from __future__ import annotations

import numpy as np

from zygote_engine import gradient, hook, pullback

W = np.array([[0.5, -1.0], [2.0, 0.25]])
XS = [np.array([1.0, 2.0]), np.array([-0.5, 3.0]), np.array([4.0, 0.0])]


def _accumulating(W):
    total = 0.0
    for x in XS:
        total = total + np.sum((W + W) @ x)  # W's cotangent: twice per step, one array shared
    return total


def test_a_parameter_used_in_every_step_gets_the_sum_of_its_cotangents():
    (dW,) = gradient(_accumulating, W)
    expected = 2.0 * np.outer(np.ones(2), sum(XS))  # d/dW sum(2 W x) = 2 · 1 xᵀ, per step
    np.testing.assert_allclose(dW, expected)


def test_the_seed_and_earlier_results_are_never_added_into():
    _, back = pullback(lambda W: W * 1.0 + W + W, W)
    seed = np.ones((2, 2))
    (first,) = back(seed)
    (second,) = back(seed)
    np.testing.assert_array_equal(seed, np.ones((2, 2)))
    np.testing.assert_array_equal(first, np.full((2, 2), 3.0))
    np.testing.assert_array_equal(second, np.full((2, 2), 3.0))
    assert first is not second


def test_cotangents_a_hook_kept_are_not_changed_by_later_accumulation():
    seen = []

    def loss(W):
        total = 0.0
        for x in XS:
            total = total + np.sum(hook(lambda d: seen.append(d) or d, W) @ x)
        return total

    (dW,) = gradient(loss, W)
    np.testing.assert_allclose(dW, np.outer(np.ones(2), sum(XS)))
    for d, x in zip(reversed(seen), XS):  # the backward pass sees the last step first
        np.testing.assert_array_equal(d, np.outer(np.ones(2), x))
