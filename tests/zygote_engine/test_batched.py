"""Batches of tangents: a Jacobian's columns through one forward pass, never a wrong number."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from engine_corpus import CASES
from fd_check import fd_gradient

from chainrules_core import Tangent, ZeroTangent
from zygote_engine import hessian, jacobian
from zygote_engine.batched import Batched, BatchingError, column, stacked


def test_a_batch_is_not_one_array():
    b = Batched(np.ones((3, 2)))
    for look_inside in (np.asarray, len, lambda b: b[0], lambda b: b * np.ones((4, 2))):
        with pytest.raises(BatchingError):
            look_inside(b)
    with pytest.raises(BatchingError):
        b * b  # a product of tangents is not a tangent


def test_columns_and_stacks_of_structured_tangents_round_trip():
    t = Tangent(tuple, Batched(np.arange(6.0).reshape(3, 2)), ZeroTangent())
    columns = [column(t, i) for i in range(3)]
    np.testing.assert_array_equal(columns[1][0], [2.0, 3.0])
    back = stacked(columns)
    np.testing.assert_array_equal(back[0].values, np.arange(6.0).reshape(3, 2))
    assert back[1] == ZeroTangent()


ARRAY_CASES = [
    (f, args)
    for f, args in CASES
    if any(isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size > 1 for a in args)
]


@pytest.mark.parametrize(("f", "args"), ARRAY_CASES, ids=[f.__name__ for f, _ in ARRAY_CASES])
def test_batched_forward_jacobian_rows_are_the_gradient(f, args):
    expected = fd_gradient(f, *copy.deepcopy(args))
    rows = jacobian(f, *copy.deepcopy(args), mode="forward")
    for arg, row, partials in zip(args, rows, expected):
        if not (isinstance(arg, np.ndarray) and arg.dtype.kind == "f"):
            continue
        fd = np.array([partials[(("array", index),)] for index in np.ndindex(arg.shape)])
        np.testing.assert_allclose(row.ravel(), fd, rtol=1e-5, atol=1e-6)


def test_batched_hessian_of_a_function_with_containers_closures_and_loops():
    def f(x):
        parts = [x[0] * x[1]]
        scale = {"k": 3.0}
        bump = lambda v: v * scale["k"]  # noqa: E731
        for i in range(2):
            parts.append(bump(x[i] ** 2))
        return sum(parts) + np.sum(np.sin(x))

    x = np.array([0.5, -1.2, 2.0])
    expected = np.diag(-np.sin(x))
    expected[0, 0] += 6.0
    expected[1, 1] += 6.0
    expected[0, 1] = expected[1, 0] = 1.0
    np.testing.assert_allclose(hessian(f, x), expected, rtol=1e-12, atol=1e-12)


def _rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_a_hessian_carries_all_its_columns_through_one_batched_pass():
    # a rule that cannot take a batch makes hessian fall back to one pass per column: still
    # right, but n times the work; the batched pass itself must go through
    from zygote_engine import gradient
    from zygote_engine.jvp import forward_pass

    x = np.array([0.3, -0.7, 1.1, 0.4])
    seeds = Batched(np.eye(4))
    _, columns = forward_pass(lambda a: gradient(_rosenbrock, a)[0], (x,), (seeds,))
    assert type(columns) is Batched
    expected = np.zeros((4, 4))
    i = np.arange(3)
    expected[i, i] += 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    expected[i + 1, i + 1] += 200
    expected[i, i + 1] = expected[i + 1, i] = -400 * x[:-1]
    np.testing.assert_allclose(columns.values, expected)
