"""Matrix products and whole-array sums and means differentiated in the generated code itself
(``zygote_engine.array_inline``): gradients against finite differences for every shape the inline
path takes and for operands that must take the rules instead, the generated code computing the
active operands' cotangents only, nesting over the inline path, and the rule table consulted."""

from __future__ import annotations

import numpy as np
import pytest
from fd_check import assert_gradient_matches_fd

from chainrules_core import HasReverseMode, NoTangent, rrule
from chainrules_core.testing import test_frule, test_rrule
from zygote_engine import gradient, hessian, jvp, show_adjoint, withgradient
from zygote_engine import primitives as zy
from zygote_engine.array_inline import (
    READS_INPUT,
    REDUCTIONS,
    _Reductions,
    matmul_left,
    matmul_right,
    on_array,
    on_matrices,
)
from zygote_engine.store import MutationStore
from zygote_engine.transform import transform

RNG = np.random.default_rng(11)


def product_loss(a, b):
    y = a @ b
    return np.sum(np.sin(y))


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((3, 4), (4, 2)), ((3, 4), (4,)), ((4,), (4, 2)), ((4,), (4,)), ((1, 1), (1, 3))],
    ids=["matrix-matrix", "matrix-vector", "vector-matrix", "dot", "one-by-one"],
)
def test_products_of_vectors_and_matrices_match_finite_differences(a_shape, b_shape):
    assert_gradient_matches_fd(product_loss, RNG.normal(size=a_shape), RNG.normal(size=b_shape))


def test_batched_products_take_the_rule():
    assert_gradient_matches_fd(product_loss, RNG.normal(size=(2, 3, 4)), RNG.normal(size=(4, 2)))


@pytest.mark.parametrize("dtype", [np.float32, np.complex128], ids=["float32", "complex"])
def test_products_of_other_dtypes_take_the_rule_and_keep_the_dtype(dtype):
    def loss(a, b):
        return np.sum(np.real(a @ b) ** 2)

    a = RNG.normal(size=(3, 4)) * (1 + 1j) if dtype is np.complex128 else RNG.normal(size=(3, 4))
    a, b = a.astype(dtype), RNG.normal(size=(4, 2))
    da, db = gradient(loss, a, b)
    assert da.dtype == dtype and da.shape == a.shape and db.shape == b.shape
    # b is real, so real(a @ b) = real(a) @ b: the imaginary part of a has no influence
    r = np.real(a) @ b
    np.testing.assert_allclose(da, 2 * r @ b.T, rtol=1e-5)
    np.testing.assert_allclose(db, np.real(a).T @ (2 * r), rtol=1e-5)


def test_data_in_a_product_gets_no_cotangent_computed():
    def layer(w, X):
        return np.sum(np.tanh(X @ w))

    # what ``gradient(lambda w: layer(w, X), w)`` runs: X (argument 2) carries no derivative
    source = transform(layer, (2,)).source
    assert "if __on_matrices(__cx, X, w):" in source
    assert "__matmul_right(X_1, dt1, w_1)" in source  # w's (fitted to w's shape)
    assert "__matmul_left" not in source  # X is data: its cotangent is never written out
    assert "__matmul_left(dt1, w_1, X_1)" in show_adjoint(layer)  # unless asked for
    X, w = RNG.normal(size=(5, 3)), RNG.normal(size=3)
    (dw,) = gradient(lambda w: layer(w, X), w)
    np.testing.assert_allclose(dw, X.T @ (1 - np.tanh(X @ w) ** 2), rtol=1e-12)


def test_both_cotangents_of_a_product_of_active_operands():
    X, w = RNG.normal(size=(5, 3)), RNG.normal(size=3)
    dw, dX = gradient(lambda w, X: np.sum(np.tanh(X @ w)), w, X)
    s = 1 - np.tanh(X @ w) ** 2
    np.testing.assert_allclose(dw, X.T @ s, rtol=1e-12)
    np.testing.assert_allclose(dX, np.outer(s, w), rtol=1e-12)


def test_a_product_of_an_array_with_itself():
    a = RNG.normal(size=(3, 3))
    (da,) = gradient(lambda a: np.sum(a @ a), a)
    ones = np.ones((3, 3))
    np.testing.assert_allclose(da, ones @ a.T + a.T @ ones, rtol=1e-12)


def test_products_of_arrays_written_in_place_take_the_rule():
    def f(a, b):
        c = a * 1.0
        c[0, 0] = b[0, 0] * 2.0
        return np.sum((c @ b) ** 2)

    assert_gradient_matches_fd(f, RNG.normal(size=(2, 3)), RNG.normal(size=(3, 2)))


@pytest.mark.parametrize("reduce", [np.sum, np.mean], ids=["sum", "mean"])
@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 1, 3)])
def test_whole_array_sums_and_means_match_finite_differences(reduce, shape):
    def f(x):
        return reduce(x * x) * 3.0 + reduce(np.exp(x))

    assert_gradient_matches_fd(f, RNG.normal(size=shape))


def test_reductions_with_more_arguments_and_other_types_take_the_rules():
    def f(x, k):
        return np.sum(np.mean(x, axis=0) ** 2) + np.sum(x, 0)[0] + np.sum(x, axis=k)[1]

    source = show_adjoint(f)
    assert "__REDUCTIONS.get(__zy.sum_of_second_powers)" in source  # the outer sum of squares
    assert "t1 = x.mean(axis=0)" in source  # a literal axis, by keyword: inline
    assert "__call2(__cx, np.sum, x, 0)" in source  # an axis by position: the protocol
    assert "np.sum, x, axis=k)" in source and "x.sum(axis=k)" not in source  # a variable axis
    assert_gradient_matches_fd(lambda x: f(x, 0), RNG.normal(size=(3, 2)))
    x32 = RNG.normal(size=3).astype(np.float32)
    (dx,) = gradient(lambda x: np.sum(x * x), x32)
    assert dx.dtype == np.float32
    np.testing.assert_allclose(dx, 2 * x32, rtol=1e-6)
    assert gradient(lambda x: np.sum(x), 2.5) == (1.0,)  # a Python number: the rule


# sum(sin(reduction)) with the reduction's options written as literals, which the generated code
# differentiates inline (a reduction passed in as a variable would take the protocol)
LITERAL_AXES = {
    "x.sum(axis=0)": lambda x: np.sum(np.sin(np.sum(x, axis=0))),
    "x.sum(axis=1, keepdims=True)": lambda x: np.sum(np.sin(np.sum(x, axis=1, keepdims=True))),
    "x.mean(axis=1)": lambda x: np.sum(np.sin(np.mean(x, axis=1))),
    "x.mean(keepdims=True)": lambda x: np.sum(np.sin(np.mean(x, keepdims=True))),
    "x.max()": lambda x: np.sum(np.sin(np.max(x))),
    "x.max(axis=0)": lambda x: np.sum(np.sin(np.max(x, axis=0))),
    "x.max(axis=1, keepdims=True)": lambda x: np.sum(np.sin(np.amax(x, axis=1, keepdims=True))),
    "x.min(axis=1)": lambda x: np.sum(np.sin(np.min(x, axis=1))),
    "x.min(axis=None, keepdims=True)": lambda x: np.sum(
        np.sin(np.amin(x, axis=None, keepdims=True))
    ),
}


@pytest.mark.parametrize("inline", LITERAL_AXES)
def test_reductions_over_literal_axes_match_finite_differences(inline):
    f = LITERAL_AXES[inline]
    assert f"t1 = {inline}" in show_adjoint(f)  # what the forward computes in place
    assert_gradient_matches_fd(f, RNG.normal(size=(3, 4)))


def test_an_extremum_over_an_axis_is_inline_and_splits_ties():
    def f(z):
        return np.sum(np.max(z, axis=1, keepdims=True) * np.array([[1.0], [10.0]]))

    source = show_adjoint(f)
    assert "t1 = z.max(axis=1, keepdims=True)" in source
    assert "__g1 = __p(dt1, z_1, t1_1, axis=1, keepdims=True)" in source
    z = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 0.0, 5.0, 5.0]])
    (dz,) = gradient(f, z)  # each row's weight split evenly among its tied maxima
    np.testing.assert_allclose(dz, [[0, 0.5, 0.5, 0], [10 / 3, 0, 10 / 3, 10 / 3]], rtol=1e-15)
    with_nan = np.array([[1.0, np.nan, 3.0], [4.0, 6.0, 5.0]])
    (dz,) = gradient(lambda z: np.sum(np.min(z, axis=1)), with_nan)  # a NaN holds its minimum
    np.testing.assert_array_equal(dz, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def test_hessian_and_hessian_vector_product_through_the_inline_paths():
    A = RNG.normal(size=(4, 3))

    def f(x):
        return np.sum(np.tanh(A @ x)) + np.mean(x * x)

    x, v = RNG.normal(size=3), RNG.normal(size=3)
    t = np.tanh(A @ x)
    # the Hessian of sum(tanh(A x)) is Aᵀ diag(-2 t (1 - t²)) A; of mean(x²) it is 2/n I
    expected = A.T @ np.diag(-2 * t * (1 - t**2)) @ A + 2.0 / 3 * np.eye(3)
    np.testing.assert_allclose(hessian(f, x), expected, rtol=1e-10, atol=1e-12)
    _, hv = jvp(lambda x: gradient(f, x)[0], (x,), (v,))
    np.testing.assert_allclose(hv, expected @ v, rtol=1e-10, atol=1e-12)


def test_reverse_over_reverse_through_the_inline_paths():
    A = RNG.normal(size=(3, 3))

    def g(x):
        return np.sum(gradient(lambda y: np.sum((A @ y) ** 2), x)[0])

    x = RNG.normal(size=3)
    # gradient of sum(|Ay|²) is 2 AᵀA y; the sum of it has gradient 2 AᵀA 1
    (dx,) = gradient(g, x)
    np.testing.assert_allclose(dx, 2 * A.T @ A @ np.ones(3), rtol=1e-10)


def test_the_tests_of_the_inline_paths():
    cx = MutationStore()
    assert on_matrices(cx, np.ones((2, 3)), np.ones(3))
    assert not on_matrices(cx, np.ones((2, 3)), np.ones((3, 2), np.float32))
    assert not on_matrices(cx, np.ones((2, 2, 2)), np.ones((2, 2)))
    assert not on_matrices(cx, np.array(1.0), np.ones(2))
    assert on_array(cx, np.ones((2, 2))) and not on_array(cx, np.array(1.0))
    assert not on_array(cx, np.ones(2, np.complex128))
    cx.array_writes()
    assert not on_matrices(cx, np.ones((2, 3)), np.ones(3)) and not on_array(cx, np.ones(2))


def test_product_cotangents_by_shape():
    a, b, dy = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2)), RNG.normal(size=(3, 2))
    np.testing.assert_allclose(matmul_left(dy, b, a), dy @ b.T)
    np.testing.assert_allclose(matmul_right(a, dy, b.shape), a.T @ dy)
    v, u = RNG.normal(size=4), RNG.normal(size=3)
    np.testing.assert_allclose(matmul_left(u, v, (3, 4)), np.outer(u, v))  # (3, 4) @ (4,)
    np.testing.assert_allclose(matmul_right(v, dy[0], (4, 2)), np.outer(v, dy[0]))  # (4,) @ (4, 2)
    assert np.allclose(matmul_left(2.0, v, v), 2 * v) and np.allclose(
        matmul_right(v, 2.0, v), 2 * v
    )
    # a complex cotangent is projected onto the real operand, as the rule's would be
    fitted = matmul_left(dy + 1j, b, a.shape)
    assert fitted.dtype == np.float64
    np.testing.assert_allclose(fitted, dy @ b.T)


def test_partials_that_read_only_the_result_keep_the_shape():
    assert not READS_INPUT[lambda x, out: 1 - out**2]
    assert READS_INPUT[lambda x, out: np.cos(x)]
    assert READS_INPUT[np.cos]  # not Python code: assumed to read it
    assert READS_INPUT[lambda x, out: (lambda: x)()]  # read by a nested function
    # the forward keeps an array's shape where the partials read only the result, a number
    source = show_adjoint(lambda x: np.sum(np.tanh(x)), np.ones(2))
    assert "pb1 = (pb1, x if x.__class__ in __SCALARS or __READS_INPUT[pb1] else x.shape" in source
    x = RNG.normal(size=(2, 3))
    for v in (x, 0.3):  # d/dx sum(tanh(x)) = 1 - tanh(x)^2, on the array arm and the number arm
        (dv,) = gradient(lambda v: np.sum(np.tanh(v)), v)
        np.testing.assert_allclose(dv, 1 - np.tanh(v) ** 2, rtol=1e-12)


def _register_for_arrays(total):
    rrule.add(total, (np.ndarray,), lambda x: (total(x), lambda dy: (NoTangent(), 2 * dy)))


def _register_for_the_engine(total):
    def rule(cx, x):
        return total(x), lambda dy: (NoTangent(), 2 * dy)

    rrule.add(total, (np.ndarray,), rule, config=HasReverseMode)


@pytest.mark.parametrize("register", [_register_for_arrays, _register_for_the_engine])
def test_the_reductions_follow_the_rule_table(register):
    def total(x):
        return np.sum(x)

    rrule.add(total, (), lambda x: (total(x), lambda dy: (NoTangent(), dy * np.ones_like(x))))
    table = _Reductions({total: lambda dy, shape: np.full(shape, dy)})
    assert table.get(total) is not None
    register(total)  # a later rule for arrays, plain or the engine's: the rule, not the inline path
    assert table.get(total) is None
    assert REDUCTIONS.get(np.sum) is not None and REDUCTIONS.get(np.prod) is None


@pytest.mark.parametrize(
    "f, derivative",
    [
        (lambda x: np.sum(x * x), lambda x: 2 * x),
        (lambda x: np.sum(x + x), lambda x: 2 * np.ones_like(x)),
        (lambda x: np.sum(x - x) + np.sum(x * 0.5), lambda x: 0.5 * np.ones_like(x)),
        (lambda x: np.sum(x / x) + np.sum(x * 0.5), lambda x: 0.5 * np.ones_like(x)),
    ],
    ids=["x*x", "x+x", "x-x", "x/x"],
)
def test_an_operand_used_twice_gets_both_terms(f, derivative):
    x = RNG.uniform(0.5, 1.5, size=(3, 2))
    (dx,) = gradient(f, x)
    np.testing.assert_allclose(dx, derivative(x), rtol=1e-12, atol=1e-15)


def test_a_square_is_one_array_operation_in_the_backward_pass():
    def f(x):
        squares = x * x
        return np.sum(squares)

    source = show_adjoint(f)
    assert "__g1 = __fit(2.0 * (dsquares * x_1), x_1)" in source
    assert "__g2 = __zero" in source
    assert "t1 = squares.sum()" in source  # np.sum of an ndarray through its method


@pytest.mark.parametrize(
    "a_shape, b_shape", [((3, 4), (4, 2)), ((3, 4), (4,)), ((4,), (4, 2))], ids=str
)
def test_forward_over_reverse_when_both_operands_of_a_product_move(a_shape, b_shape):
    a, b = RNG.normal(size=a_shape), RNG.normal(size=b_shape)
    va, vb = RNG.normal(size=a_shape), RNG.normal(size=b_shape)

    def grads(a, b):
        return gradient(lambda a, b: np.sum(np.sin(a @ b)) + np.mean(a * a), a, b)

    _, (dga, dgb) = jvp(grads, (a, b), (va, vb))
    h = 1e-6
    plus, minus = grads(a + h * va, b + h * vb), grads(a - h * va, b - h * vb)
    np.testing.assert_allclose(dga, (plus[0] - minus[0]) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dgb, (plus[1] - minus[1]) / (2 * h), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("n", [1, 7, 9, 100, 1001])
def test_inline_reductions_give_numpys_values_exactly(n):
    x = RNG.normal(size=(n, 3)) * 1e3
    assert withgradient(lambda x: np.mean(x), x).val == np.mean(x)
    assert withgradient(lambda x: np.sum(x), x).val == np.sum(x)


# --- Gram matrices: x @ x.T and x.T @ x of one variable are one call, with a rule --------------


def gram_loss(x):
    return np.sum(np.sin(x @ x.T)) + np.sum((x.T @ x) ** 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("gram", [zy.times_own_transpose, zy.transpose_times_self])
def test_gram_rules_match_finite_differences(gram, dtype):
    x = RNG.normal(size=(3, 4)).astype(dtype)
    test_rrule(gram, x, rng=RNG)
    test_frule(gram, x, rng=RNG)


def test_gram_matrices_are_one_call_and_differentiate_in_every_mode():
    source = show_adjoint(gram_loss)
    assert "__zy.times_own_transpose, x)" in source and "__zy.transpose_times_self, x)" in source
    assert "'T'" not in source  # no transpose of its own, so no second product in the backward
    x = RNG.normal(size=(3, 4))
    assert_gradient_matches_fd(gram_loss, x)
    v = RNG.normal(size=(3, 4))
    h = 1e-6
    expected = (gram_loss(x + h * v) - gram_loss(x - h * v)) / (2 * h)
    assert np.isclose(jvp(gram_loss, (x,), (v,))[1], expected, rtol=1e-7)
    # a Hessian-vector product, against differences of the gradient (checked above)
    grad = lambda x: gradient(gram_loss, x)[0]  # noqa: E731
    _, hvp = jvp(grad, (x,), (v,))
    np.testing.assert_allclose(
        hvp, (grad(x + h * v) - grad(x - h * v)) / (2 * h), rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize(
    "x",
    [
        RNG.normal(size=4),
        RNG.normal(size=(3, 3, 3)),
        RNG.normal(size=(3, 2)) + 1j,
        np.arange(6.0).reshape(2, 3).astype(np.int64),
    ],
    ids=["vector", "stack", "complex", "integer"],
)
def test_gram_of_other_operands_is_the_code_it_replaces(x):
    # the rule declines; the helper's own code (x @ x.T) is differentiated
    def loss(x):
        return np.sum(np.real(x @ x.T) ** 2) + np.sum(np.real(x.T @ x))

    if x.dtype.kind == "i":  # no derivative, as for the product it replaces
        assert gradient(loss, x) == (None,)
        return
    assert_gradient_matches_fd(loss, x)


# --- sums and means of squares: np.sum(x * x), np.mean((a - b) ** 2) are one call ---------------


def squares_loss(x, y):
    r = x - y
    return np.sum(x * x) + np.mean((x - y) ** 2) + 0.5 * np.mean(r * r) + np.sum(np.sin(x) ** 2)


def squares_gradient(x, y):
    r = x - y
    dr = 2 * r / r.size
    return 2 * x + dr + 0.5 * dr + 2 * np.sin(x) * np.cos(x), -dr - 0.5 * dr


def test_sums_and_means_of_squares_are_one_call_each():
    source = show_adjoint(squares_loss)
    for helper in ("sum_of_squares", "mean_of_second_powers", "mean_of_squares"):
        assert f"__REDUCTIONS.get(__zy.{helper})" in source
    assert "__REDUCTIONS.get(__zy.sum_of_second_powers)" in source  # of sin(x), made a name
    # the squares' cotangent reads x: no product of its own in the forward or backward pass
    assert "__operator.mul, x, x" not in source and "__operator.pow" not in source


def test_other_products_and_powers_under_a_sum_are_left_alone():
    def f(x, y):
        return np.sum(x * y) + np.sum(x**3) + np.sum(x * x, axis=0)[0] + np.mean(x**2.0)

    source = show_adjoint(f)
    assert "_squares" not in source and "_second_powers" not in source
    assert_gradient_matches_fd(f, RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3)))


def test_a_local_named_like_numpy_is_not_numpy():
    class Reductions:
        @staticmethod
        def sum(x):
            return x[0]

    def f(x):
        np = Reductions()
        return np.sum(x * x)

    assert "sum_of_squares" not in show_adjoint(f)
    x = RNG.normal(size=3)
    np.testing.assert_allclose(gradient(f, x)[0], [2 * x[0], 0.0, 0.0])


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 1, 3)], ids=str)
def test_sums_and_means_of_squares_match_their_derivative(shape):
    x, y = RNG.normal(size=shape), RNG.normal(size=shape)
    dx, dy = gradient(squares_loss, x, y)
    expected_dx, expected_dy = squares_gradient(x, y)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12)
    np.testing.assert_allclose(dy, expected_dy, rtol=1e-12)
    assert_gradient_matches_fd(squares_loss, x, y)
    assert withgradient(squares_loss, x, y).val == squares_loss(x, y)  # numpy's value exactly


@pytest.mark.parametrize(
    "x",
    [
        RNG.normal(size=4).astype(np.float32),
        RNG.normal(size=(2, 2)) + 1j * RNG.normal(size=(2, 2)),
        np.float64(1.5),
        2.5,
        np.array(1.5),
    ],
    ids=["float32", "complex", "numpy-scalar", "float", "zero-dim"],
)
def test_squares_of_other_operands_are_the_code_they_replace(x):
    def loss(x):
        return np.real(np.sum(x * x) + np.mean(x**2))

    (dx,) = gradient(loss, x)
    # d/dx Re(x²)·(1 + 1/n), as the conjugated cotangent of a holomorphic square: 2 conj(x) ...
    expected = np.conj(2 * np.asarray(x)) * (1 + 1 / np.size(x))
    np.testing.assert_allclose(dx, expected, rtol=1e-6)
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        assert dx.dtype == np.float32


def test_an_integer_array_squared_has_no_gradient():
    assert gradient(lambda x: np.sum(x * x), np.arange(3)) == (None,)


def test_squares_of_an_array_written_in_place_take_the_code():
    def f(x):
        y = x * 1.0
        y[0] = 3.0 * x[1]
        return np.sum(y * y) + np.mean(y**2)

    assert_gradient_matches_fd(f, RNG.normal(size=3))


def test_squares_differentiate_in_every_mode():
    x, y, v = RNG.normal(size=4), RNG.normal(size=4), RNG.normal(size=4)
    h = 1e-6
    plus, minus = squares_loss(x + h * v, y), squares_loss(x - h * v, y)
    assert np.isclose(jvp(squares_loss, (x, y), (v, np.zeros(4)))[1], (plus - minus) / (2 * h))
    # the Hessian in x: 2 I from the sum, 3/n I from the means, 2 cos(2x) on the diagonal
    expected = np.diag(2 + 3 / 4 + 2 * np.cos(2 * x))
    np.testing.assert_allclose(hessian(lambda x: squares_loss(x, y), x), expected, rtol=1e-10)

    def g(x):  # reverse over reverse: the sum of the gradient 2x + 1.5 (x - y) / 2 + sin(2x)
        return np.sum(gradient(lambda x: squares_loss(x, y), x)[0])

    np.testing.assert_allclose(gradient(g, x)[0], 2 + 0.75 + 2 * np.cos(2 * x), rtol=1e-10)


def test_squares_follow_the_rule_of_their_reduction():
    def total(x):
        return np.sum(x)

    def squares(x):
        return total(x * x)

    rrule.add(total, (), lambda x: (total(x), lambda dy: (NoTangent(), dy * np.ones_like(x))))
    table = _Reductions({squares: lambda dy, x: 2 * dy * x}, via={squares: total})
    assert table.get(squares) is not None
    _register_for_arrays(total)  # a later rule for np.sum on arrays: no inline path for squares
    assert table.get(squares) is None
    for helper in (zy.sum_of_squares, zy.mean_of_second_powers):
        assert REDUCTIONS.get(helper) is not None


def test_the_square_helpers_are_what_they_stand_for():
    x = RNG.normal(size=(2, 3))
    assert zy.sum_of_squares(x) == np.sum(x * x)
    assert zy.sum_of_second_powers(x) == np.sum(x**2)
    assert zy.mean_of_squares(x) == np.mean(x * x)
    assert zy.mean_of_second_powers(x) == np.mean(x**2)
