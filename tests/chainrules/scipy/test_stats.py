"""Finite-difference tests of the scipy.stats rules."""

import numpy as np
import pytest
import scipy.stats as st

import chainrules  # noqa: F401 - registers the rules
from chainrules.scipy.special import NoClosedFormError
from chainrules_core import NoTangent, ZeroTangent, frule, rrule, unthunk
from chainrules_core.testing import nondiff, test_frule, test_rrule

DENSITY = ["logpdf", "pdf"]
DISTRIBUTION_FUNCTIONS = ["cdf", "logcdf", "sf", "logsf"]

# (distribution, x range in standard units, float shape parameters, integer shape parameters)
FAMILIES = [
    (st.norm, (-2, 2), (), ()),
    (st.t, (-2, 2), (3.5,), (3,)),
    (st.gamma, (0.3, 3), (2.5,), (2,)),
    (st.beta, (0.1, 0.9), (2.5, 1.5), (2, 3)),
    (st.chi2, (0.3, 3), (3.5,), (4,)),
    (st.expon, (0.2, 3), (), ()),
    (st.laplace, (0.1, 2), (), ()),
    (st.logistic, (-2, 2), (), ()),
    (st.cauchy, (-2, 2), (), ()),
]


def _points(rng, support, shape, loc=0.3, scale=1.7):
    return loc + scale * rng.uniform(*support, shape)


def _both(f, *args, **kw):
    test_rrule(f, *args, **kw)
    test_frule(f, *args, **kw)


@pytest.mark.parametrize("method", DENSITY)
@pytest.mark.parametrize("family", FAMILIES, ids=lambda c: c[0].name)
def test_density_in_x_shapes_loc_and_scale(family, method):
    dist, support, shapes, _ = family
    f = getattr(dist, method)
    rng = np.random.default_rng(0)
    _both(f, float(_points(rng, support, ())), *shapes, 0.3, 1.7)
    x = _points(rng, support, (2, 3))
    _both(f, x, *(np.full(3, s) + rng.uniform(0, 0.5, 3) for s in shapes), 0.3, np.full(3, 1.7))
    _both(f, x.astype(np.float32), *map(np.float32, shapes), np.float32(0.3), np.float32(1.7))
    _both(f, _points(rng, support, (3,), loc=0, scale=1), *shapes)  # default loc and scale
    _both(
        f,
        _points(rng, support, (3,), loc=1.0, scale=2.0),
        *shapes,
        fkwargs={"loc": 1.0, "scale": 2.0},
    )


@pytest.mark.parametrize("method", DISTRIBUTION_FUNCTIONS)
@pytest.mark.parametrize("family", FAMILIES, ids=lambda c: c[0].name)
def test_distribution_functions_in_x_loc_and_scale(family, method):
    dist, support, shapes, int_shapes = family
    f = getattr(dist, method)
    rng = np.random.default_rng(1)
    x = _points(rng, support, (2, 3))
    # Integer shape parameters are not differentiable, which test_rrule can check.
    test_rrule(f, x, *int_shapes, 0.3, np.full(3, 1.7))
    test_frule(f, x, *map(nondiff, shapes), 0.3, np.full(3, 1.7))
    _both(f, float(_points(rng, support, ())), *int_shapes, 0.3, 1.7)
    _both(f, _points(rng, support, (2, 3), loc=0, scale=1).astype(np.float32), *int_shapes)


@pytest.mark.parametrize(
    ("f", "args", "name"),
    [
        (st.t.cdf, (np.array([0.5, 1.5]), 3.5), "df"),
        (st.gamma.logcdf, (np.array([0.5, 1.5]), 2.5), "a"),
        (st.beta.sf, (np.array([0.2, 0.7]), 2.5, 1.5), "a"),
    ],
)
def test_shape_parameters_of_distribution_functions_raise_only_when_used(f, args, name):
    y, back = rrule(f, *args)
    tangents = back(np.ones_like(y))
    _, dy = frule((NoTangent(), np.ones(2), *(ZeroTangent() for _ in args[1:])), f, *args)
    np.testing.assert_allclose(tangents[1], dy)
    with pytest.raises(NoClosedFormError, match=f"scipy.stats.{f.__self__.name}.*`{name}`"):
        unthunk(tangents[2])
    with pytest.raises(NotImplementedError):
        frule((NoTangent(), np.ones(2), *(1.0 for _ in args[1:])), f, *args)


def test_keyword_parameters_get_no_tangent():
    _, back = rrule(st.norm.logpdf, np.array([0.5, 1.0]), loc=0.1, scale=2.0)
    assert len(back(np.ones(2))) == 2  # the distribution, then x


@pytest.mark.parametrize("method", ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"])
def test_poisson_in_mu(method):
    f = getattr(st.poisson, method)
    k = np.array([0, 1, 3, 6])
    _both(f, k, 2.5)
    _both(f, k, np.array([1.5, 2.5, 3.5, 4.5]))
    _both(f, 4, np.array([[1.5], [3.0]]))
    _both(f, k.reshape(2, 2), np.float32(2.5))
    _both(f, k + 1, 2.5, 1)  # loc, an integer shift
    _both(f, k, fkwargs={"mu": 2.5})


@pytest.mark.parametrize("method", ["logpdf", "pdf"])
def test_dirichlet(method):
    f = getattr(st.dirichlet, method)
    rng = np.random.default_rng(3)
    alpha = rng.uniform(0.5, 3, 3)
    x = rng.dirichlet(alpha, 4).T  # components on the first axis
    # scipy rejects points off the simplex, so finite differences in all of x cannot run;
    # with K - 1 components given, the last one follows and x moves freely.
    test_frule(f, nondiff(x), alpha)
    _both(f, x[:-1], alpha)
    _both(f, x[:-1, 0], alpha.astype(np.float32))
    # With all K components: the same function on the simplex, so the same alpha cotangent.
    dy = rng.standard_normal(4)
    _, dx, dalpha = rrule(f, x, alpha)[1](dy)
    np.testing.assert_allclose(dalpha, rrule(f, x[:-1], alpha)[1](dy)[2])
    y = f(x, alpha)
    np.testing.assert_allclose(dx, (alpha[:, None] - 1) / x * dy * (1 if method == "logpdf" else y))


def _spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + d * np.eye(d)


@pytest.mark.parametrize("method", ["logpdf", "pdf"])
def test_multivariate_normal(method):
    f = getattr(st.multivariate_normal, method)
    rng = np.random.default_rng(4)
    mean, cov = rng.standard_normal(3), _spd(rng, 3)
    x = mean + rng.standard_normal((4, 3))
    _both(f, x, mean, cov)
    _both(f, x[0], mean, cov)
    _both(f, x, mean, np.diag(cov).copy())  # a diagonal covariance given as a vector
    _both(f, x, mean, 1.7)  # a multiple of the identity
    _both(f, x.astype(np.float32), mean.astype(np.float32), cov.astype(np.float32))
    _both(f, x, mean, fkwargs={"cov": cov})
    _both(f, x, fkwargs={"mean": mean, "cov": cov})
    _both(f, rng.standard_normal(5), 0.5, 2.0)  # one dimension: x holds 5 samples


def test_multivariate_normal_covariance_cotangent_is_lower_triangular():
    rng = np.random.default_rng(5)
    cov = _spd(rng, 3)
    _, back = rrule(st.multivariate_normal.logpdf, rng.standard_normal(3), np.zeros(3), cov)
    dcov = back(1.0)[3]
    np.testing.assert_array_equal(np.triu(dcov, 1), 0)
