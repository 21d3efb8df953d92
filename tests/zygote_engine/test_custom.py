"""adjoint, checkpointed and hook: custom gradients and control of the backward pass."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fd_check import assert_gradient_matches_fd

from zygote_engine import MissingRuleError, adjoint, checkpointed, gradient, hook, jvp, pullback

RNG = np.random.default_rng(7)

# --- adjoint ------------------------------------------------------------------------------------


@adjoint
def straight_through_round(x):
    """Rounds, with the identity's gradient (the straight-through estimator)."""
    return np.round(x), lambda dy: (dy,)


@adjoint
def softplus(x):
    y = np.log1p(np.exp(x))
    return y, lambda dy: (dy / (1.0 + np.exp(-x)),)


def test_adjoint_called_plainly_returns_the_value_only():
    assert straight_through_round(np.array([0.4, 1.6])).tolist() == [0.0, 2.0]
    assert straight_through_round.__name__ == "straight_through_round"
    assert "straight-through" in straight_through_round.__doc__


def test_adjoint_gradient_is_the_one_given_not_the_true_one():
    x = np.array([0.4, 1.6, -2.7])
    (dx,) = gradient(lambda x: np.sum(3.0 * straight_through_round(x)), x)
    np.testing.assert_array_equal(dx, [3.0, 3.0, 3.0])  # np.round's own gradient is zero


def test_adjoint_inside_a_loop_with_numpy_matches_finite_differences():
    def loss(x, w):
        h = x
        for i in range(4):
            h = softplus(w * h - 0.5) if i % 2 else np.sin(h) * w
        return np.sum(h**2)

    assert_gradient_matches_fd(loss, RNG.normal(size=3), 0.7)


def test_adjoint_none_means_no_gradient_for_that_argument():
    @adjoint
    def scale(x, factor):
        return x * factor, lambda dy: (dy * factor, None)

    assert gradient(lambda x, k: scale(x, k) ** 2, 3.0, 2.0) == (24.0, None)


def test_adjoint_keyword_arguments_reach_f():
    @adjoint
    def scale(x, *, factor=2.0):
        return x * factor, lambda dy: (dy * factor,)

    assert scale(1.5, factor=4.0) == 6.0
    assert gradient(lambda x: scale(x, factor=5.0), 1.0) == (5.0,)
    assert gradient(lambda x: scale(x), 1.0) == (2.0,)


def test_adjoint_back_gets_dy_in_the_public_form_and_may_run_several_times():
    received = []

    @adjoint
    def both(x, y):
        def both_back(dy):
            received.append(dy)
            da, db = (0.0 if d is None else d for d in dy)
            return da * y + db, da * x + db

        return (x * y, x + y), both_back

    # only the product is used: the sum's cotangent is None
    assert gradient(lambda x, y: 3.0 * both(x, y)[0], 2.0, 5.0) == (15.0, 6.0)
    assert received == [(3.0, None)]
    _, back = pullback(lambda x, y: both(x, y)[1], 2.0, 5.0)
    assert back(1.0) == (1.0, 1.0)
    assert back(4.0) == (4.0, 4.0)


def test_adjoint_on_list_arguments():
    @adjoint
    def total(xs):
        return sum(xs), lambda dy: ([dy] * len(xs),)

    # d/dxs of total(xs) * xs[0] = [total + xs[0], xs[0]]
    assert gradient(lambda xs: total(xs) * xs[0], [1.0, 2.0]) == ([4.0, 1.0],)


def test_adjoint_on_a_method():
    class Scaler:
        def __init__(self, k):
            self.k = k

        @adjoint
        def scaled(self, x):
            return self.k * x, lambda dy: (None, 100.0 * dy)

    s = Scaler(2.0)
    assert s.scaled(3.0) == 6.0
    assert gradient(lambda x: s.scaled(x), 3.0) == (100.0,)


def test_adjoint_wrong_number_of_tangents_names_the_function_and_the_counts():
    @adjoint
    def forgetful(x, y):
        return x * y, lambda dy: (dy * y,)

    with pytest.raises(ValueError, match=r"forgetful.*returned 1 tangent for 2 arguments"):
        gradient(forgetful, 2.0, 3.0)


def test_adjoint_pullback_returning_a_bare_tangent_is_an_error():
    @adjoint
    def bare(x):
        return 2 * x, lambda dy: 2 * dy

    with pytest.raises(ValueError, match=r"bare.*returned a float, not a tuple.*\(dx,\)"):
        gradient(bare, 1.0)


def test_adjoint_function_not_returning_a_pair_is_an_error():
    @adjoint
    def plain(x):
        return 2 * x

    with pytest.raises(TypeError, match=r"plain is decorated with @adjoint.*\(y, back\)"):
        plain(1.0)


def test_adjoint_in_forward_mode_is_a_clear_error():
    with pytest.raises(
        MissingRuleError, match=r"softplus has a custom gradient.*reverse mode only"
    ):
        jvp(softplus, (1.0,), (1.0,))


# --- checkpointed -------------------------------------------------------------------------------


def _tanh_chain_jacobian_product(W, h, steps):
    """Hand-written reverse pass of ``steps`` of ``h = tanh(W @ h)`` then ``sum``: (dW, dh)."""
    hs = [h]
    for _ in range(steps):
        hs.append(np.tanh(W @ hs[-1]))
    dh, dW = np.ones_like(h), np.zeros_like(W)
    for t in range(steps, 0, -1):
        da = dh * (1.0 - hs[t] ** 2)
        dW += np.outer(da, hs[t - 1])
        dh = W.T @ da
    return dW, dh


def test_checkpointed_runs_the_forward_again_and_gets_the_gradient_right():
    W = RNG.normal(size=(4, 4)) * 0.5
    h0 = RNG.normal(size=4)
    calls = []

    def loss(W, h):
        def block(h):
            calls.append(1)
            for _ in range(3):
                h = np.tanh(W @ h)  # W is captured: its gradient comes through block's tangent
            return h

        for _ in range(2):
            h = checkpointed(block, h)
        return np.sum(h)

    dW, dh = gradient(loss, W, h0)
    assert len(calls) == 4  # two blocks, each run forward twice
    expected_dW, expected_dh = _tanh_chain_jacobian_product(W, h0, 6)
    np.testing.assert_allclose(dW, expected_dW, rtol=1e-12)
    np.testing.assert_allclose(dh, expected_dh, rtol=1e-12)


def test_checkpointed_called_plainly_runs_f_once():
    calls = []

    def double(x):
        calls.append(x)
        return 2 * x

    assert checkpointed(double, 4.0) == 8.0
    assert calls == [4.0]


def test_checkpointed_with_an_unused_result_does_not_run_f_again():
    calls = []

    def double(x):
        calls.append(1)
        return 2 * x

    def loss(x):
        checkpointed(double, x)
        return 3 * x

    assert gradient(loss, 1.0) == (3.0,)
    assert len(calls) == 1


def test_checkpointed_several_arguments_and_a_tuple_result():
    def loss(x, y):
        a, b = checkpointed(lambda x, y: (x * y, math.sin(x) + y), x, y)
        return a * b

    # a * b = x y (sin x + y): d/dx = y (sin x + y) + x y cos x, d/dy = x (sin x + y) + x y
    x, y = 0.7, 1.3
    dx, dy = gradient(loss, x, y)
    assert dx == pytest.approx(y * (math.sin(x) + y) + x * y * math.cos(x), rel=1e-12)
    assert dy == pytest.approx(x * (math.sin(x) + y) + x * y, rel=1e-12)


def test_checkpointed_list_argument():
    def loss(xs):
        return checkpointed(lambda xs: xs[0] * xs[1], xs) * xs[0]

    assert gradient(loss, [2.0, 3.0]) == ([12.0, 4.0],)  # d/dxs of xs0^2 xs1


def test_checkpointed_list_result():
    def loss(x):
        ys = checkpointed(lambda x: [x * 2, x * 3], x)
        return ys[0] * ys[1]

    assert gradient(loss, 2.0) == (24.0,)  # d/dx 6 x^2


def test_checkpointed_in_a_loop_with_a_branch_matches_finite_differences():
    def loss(x, c):
        def step(x):
            return np.sin(x) * c if c > 0 else x * c

        for _ in range(3):
            x = checkpointed(step, x) + 0.1
        return np.sum(x**2)

    assert_gradient_matches_fd(loss, RNG.normal(size=3), 0.9)
    assert_gradient_matches_fd(loss, RNG.normal(size=3), -0.9)


# --- hook ---------------------------------------------------------------------------------------


def test_hook_returns_x_unchanged():
    x = np.array([1.0, 2.0])
    assert hook(lambda dx: 2 * dx, x) is x


def test_hook_doubles_the_gradient():
    x = np.array([1.0, -2.0])
    (dx,) = gradient(lambda x: np.sum(hook(lambda dx: 2 * dx, x) ** 2), x)
    np.testing.assert_array_equal(dx, 2 * 2 * x)


def test_hook_changes_only_the_gradient_through_its_result():
    # x * hook(-, x): the gradient through the hooked factor is negated, x - x = 0
    assert gradient(lambda x: x * hook(lambda dx: -dx, x), 3.0) == (0.0,)


def test_hook_observes_the_cotangent_inside_a_loop():
    seen = []

    def loss(x):
        total = 0.0
        for k in range(1, 4):
            total = total + k * hook(lambda dx: seen.append(dx) or dx, x) ** 2
        return total

    (dx,) = gradient(loss, 2.0)
    assert dx == 2 * 2.0 * (1 + 2 + 3)
    assert sorted(seen) == [4.0, 8.0, 12.0]  # k * 2x for each use


def test_hook_returning_none_stops_the_gradient():
    assert gradient(lambda x: hook(lambda dx: None, x) * 2.0, 1.0) == (None,)


def test_hook_is_not_called_when_no_cotangent_reaches_it():
    def loss(x):
        hook(lambda dx: 1 / 0, x)
        return 5.0 * x

    assert gradient(loss, 1.0) == (5.0,)


def test_hook_on_a_list_gets_and_returns_a_list():
    seen = []

    def loss(xs):
        ys = hook(lambda dxs: seen.append(dxs) or [3 * d for d in dxs], xs)
        return ys[0] * ys[1]

    assert gradient(loss, [2.0, 5.0]) == ([15.0, 6.0],)
    assert seen == [[5.0, 2.0]]
