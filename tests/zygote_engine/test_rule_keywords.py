"""Keyword arguments of rules that carry a derivative: passed by position, never silently zero.

Rules differentiate positional arguments only. Before, ``logsumexp(a, b=w)`` differentiated in
reverse mode gave ``w`` a zero gradient without a word. Expected values here are analytic.
"""

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as st

from zygote_engine import UnsupportedConstructError, gradient, hessian, jvp

X = np.array([0.3, -1.2, 2.0])
W = np.array([0.5, 1.5, 2.0])


def weighted_logsumexp(w):
    return sc.logsumexp(X, b=w)


def clipped_total(lo):
    return np.sum(np.clip(X, a_min=lo, a_max=None))


def weighted_mean(w):
    return np.average(X, weights=w)


def both_keywords(lo, hi):
    return np.sum(np.clip(X, a_max=hi, a_min=lo))


@pytest.mark.parametrize(
    ("f", "arg", "expected"),
    [
        # d/dw log sum w e^x = e^x / sum w e^x
        (weighted_logsumexp, W, np.exp(X) / np.sum(W * np.exp(X))),
        # one entry (-1.2) lies below the bound: it moves with it
        (clipped_total, 0.0, 1.0),
        # d/dw (sum w x / sum w) = (x - average) / sum w
        (weighted_mean, W, (X - np.average(X, weights=W)) / np.sum(W)),
    ],
    ids=["logsumexp b=", "clip a_min=", "average weights="],
)
def test_a_differentiated_keyword_of_a_rule_gets_its_gradient_in_both_modes(f, arg, expected):
    (g,) = gradient(f, arg)
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    direction = np.linspace(0.5, 1.5, np.size(arg)).reshape(np.shape(arg))
    _, dy = jvp(f, (arg,), (direction,))
    np.testing.assert_allclose(dy, np.sum(expected * direction), rtol=1e-12)


def test_keywords_given_out_of_order_each_get_their_own_gradient():
    # X = [0.3, -1.2, 2.0] clipped to [0, 1]: -1.2 follows lo, 2.0 follows hi
    assert gradient(both_keywords, 0.0, 1.0) == (1.0, 1.0)


def test_constant_keywords_take_the_plain_call():
    def f(x):
        return np.sum(np.sum(x.reshape(3, 1) * W, axis=0, keepdims=True))

    np.testing.assert_allclose(gradient(f, X)[0], np.full(3, W.sum()))


def test_a_keyword_the_function_does_not_take_by_position_is_refused_in_both_modes():
    def log_density(mu):
        return st.norm.logpdf(1.0, loc=mu, scale=2.0)

    # (in reverse mode when the cotangent is read: a constant that the analysis could not
    # prove constant never reads it, see the last test)
    with pytest.raises(UnsupportedConstructError, match=r"test_rule_keywords.py:\d+: .*loc="):
        gradient(log_density, 0.5)
    with pytest.raises(UnsupportedConstructError, match=r"loc=.*pass it positionally"):
        jvp(log_density, (0.5,), (1.0,))


def test_the_same_call_by_position_is_differentiated():
    # d/dmu log N(1 | mu, 2) = (1 - mu) / 4
    assert gradient(lambda mu: st.norm.logpdf(1.0, mu, 2.0), 0.5)[0] == pytest.approx(0.125)


def test_a_keyword_that_is_a_constant_where_it_is_called_is_not_refused():
    def log_density(x, mu):
        return st.norm.logpdf(x, loc=mu, scale=2.0)

    # mu is a constant of the differentiated function: no derivative is lost
    # d/dx log N(x | 0.5, 2) = -(x - 0.5) / 4
    g = gradient(lambda x: log_density(x, 0.5), 1.0)[0]
    assert g == pytest.approx(-0.125)


def test_second_derivatives_through_a_moved_keyword():
    # the Hessian of log sum w e^x in w is -p pᵀ with p = e^x / sum w e^x
    p = np.exp(X) / np.sum(W * np.exp(X))
    np.testing.assert_allclose(hessian(weighted_logsumexp, W), -np.outer(p, p), rtol=1e-12)
    (g,) = gradient(lambda w: np.sum(gradient(weighted_logsumexp, w)[0]), W)
    np.testing.assert_allclose(g, -p * p.sum(), rtol=1e-12)


def _updated_by_keyword(x):
    d = {"a": x}
    d.update(b=2.0 * x)
    return d["a"] * d["b"]  # 2x²


def test_dict_update_by_keyword():
    # forward mode's rule sees the keywords' tangents; in reverse mode dict.update's rule can
    # give a keyword no cotangent (rules differentiate positions), so it is refused where read
    assert jvp(_updated_by_keyword, (1.5,), (1.0,))[1] == pytest.approx(6.0)
    with pytest.raises(UnsupportedConstructError, match=r"test_rule_keywords.py:\d+: .*b= of "):
        gradient(_updated_by_keyword, 1.5)
