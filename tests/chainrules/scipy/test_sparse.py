"""The scipy.sparse rules against finite differences, on random sparse matrices."""

import operator

import numpy as np
import pytest
import scipy.sparse as sp

import chainrules  # noqa: F401 - registers the rules
import zygote_engine
from chainrules.scipy.sparse import COMPRESSED
from chainrules_core import Tangent, rrule
from chainrules_core.testing import jvp, test_frule, test_rrule


def random_sparse(kind, shape=(5, 4), seed=0):
    return kind(sp.random(*shape, density=0.4, random_state=seed))


def kind_id(kind):
    return kind.__name__


@pytest.mark.parametrize("kind", COMPRESSED, ids=kind_id)
@pytest.mark.parametrize("columns", [None, 2])
@pytest.mark.parametrize("product", [operator.matmul, sp.csr_matrix.dot], ids=["matmul", "dot"])
def test_product_with_a_dense_operand(product, columns, kind):
    a = random_sparse(kind)
    x = np.random.default_rng(1).standard_normal((4,) if columns is None else (4, columns))
    test_rrule(product, a, x)
    test_frule(product, a, x)


def test_cotangent_covers_the_stored_entries_only():
    a = random_sparse(sp.csr_matrix)
    x, dy = np.ones(4), np.ones(5)
    _, back = rrule(operator.matmul, a, x)
    da = back(dy)[1]
    assert isinstance(da, Tangent) and da.data.shape == a.data.shape


@pytest.mark.parametrize("kind", COMPRESSED, ids=kind_id)
def test_construction_from_data_indices_indptr(kind):
    a = random_sparse(kind, seed=2)
    arguments = ((a.data, a.indices, a.indptr),)
    test_rrule(kind, *arguments, fkwargs={"shape": a.shape})
    test_frule(kind, *arguments, fkwargs={"shape": a.shape})


def test_coordinate_construction_is_not_differentiated():
    with pytest.raises(NotImplementedError, match=r"\(data, indices, indptr\)"):
        rrule(sp.csr_matrix, (np.ones(2), (np.array([0, 1]), np.array([1, 0]))))


def test_gradient_of_a_loss_through_sparse_products():
    pattern = random_sparse(sp.csr_array, seed=3)

    def loss(data, x):
        a = sp.csr_array((data, pattern.indices, pattern.indptr), shape=pattern.shape)
        return np.sum(np.sin(a @ x)) + np.sum(a.dot(x) ** 2)

    rng = np.random.default_rng(4)
    data, x = pattern.data.copy(), rng.standard_normal(4)
    ddata, dx = zygote_engine.gradient(loss, data, x)
    for value, grad, other in ((data, ddata, x), (x, dx, data)):
        direction = rng.standard_normal(value.shape)

        def along(v, value=value, other=other):
            return np.atleast_1d(loss(v, other) if value is data else loss(other, v))

        np.testing.assert_allclose(grad @ direction, jvp(along, value, direction)[0], rtol=1e-6)
