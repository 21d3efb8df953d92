"""Rules for scipy.stats distributions, called through the functional API (``scipy.stats.norm.logpdf(x,
loc, scale)``), not through frozen distributions.

``scipy.stats.norm.logpdf`` is a bound method of the ``norm_gen`` instance; rules are looked up on
the unbound ``rv_continuous.logpdf`` (shared by every continuous distribution) with the instance
first, so they are registered for that function and dispatch on the distribution's class.

Conventions:

* **Pass parameters you differentiate positionally.** Keyword arguments (``loc=``, ``scale=``,
  ``df=``, ``cov=``) are honoured but get no tangent, as everywhere in ChainRules; they reach the
  functions through ``**kwds``, never by position, so zygote_engine refuses a differentiated one
  at its line rather than lose its derivative.
* Continuous location-scale families (``norm``, ``t``, ``gamma``, ``beta``, ``chi2``, ``expon``,
  ``laplace``, ``logistic``, ``cauchy``): ``logpdf`` and ``pdf`` are differentiable in ``x``, every
  shape parameter, ``loc`` and ``scale``; ``cdf``, ``logcdf``, ``sf`` and ``logsf`` in ``x``, ``loc``
  and ``scale``. Their derivatives in the shape parameters (``df`` of ``t`` and ``chi2``, ``a`` of
  ``gamma``, ``a`` and ``b`` of ``beta``) have no closed form: the pullback returns for them a thunk
  that raises ``NotImplementedError`` when unthunked (see ``chainrules.scipy.special``), so the other
  cotangents stay usable.
* ``poisson``: ``logpmf``, ``pmf``, ``cdf``, ``logcdf``, ``sf``, ``logsf`` are differentiable in
  ``mu``; the count ``k`` and ``loc`` are not (``NoTangent()``).
* ``dirichlet.logpdf``/``pdf`` in ``x`` and ``alpha``. ``x`` is differentiated as a point of the
  whole space, not of the simplex; when ``x`` holds ``K - 1`` components, the last one is
  ``1 - sum(x)`` and the derivative includes that dependence.
* ``multivariate_normal.logpdf``/``pdf`` in ``x``, ``mean`` and ``cov`` (a matrix, a vector meaning
  a diagonal matrix, or a scalar meaning a multiple of the identity). scipy reads only the lower
  triangle of a matrix ``cov``, so its cotangent lives there: ``G + G.T`` below the diagonal, the
  diagonal of ``G``, zeros above, where ``G`` is the symmetric gradient. For a symmetric
  parametrisation (``cov = A @ A.T``) this gives the same gradient as the symmetric convention.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.special as sc
import scipy.stats as st
from multipledispatch.variadic import Variadic
from scipy.stats._distn_infrastructure import rv_continuous, rv_discrete

from chainrules.calls import bound_arguments
from chainrules.scipy.special import ComplexInputError, check_no_tangent, no_closed_form_cotangent
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    ZeroTangent,
    frule,
    rrule,
    unbroadcast,
)

_NO = NoTangent()


def _accumulate(partials: list, tangents: tuple, y: Any) -> Any:
    """``sum(p * dx)`` over the positional arguments, of the output ``y``'s shape and dtype."""
    dy = ZeroTangent()
    for p, dx in zip(partials, tangents, strict=False):
        dy = dy + p * dx
    if isinstance(dy, AbstractZero) or not isinstance(y, np.ndarray):
        return dy
    return np.broadcast_to(dy, y.shape).astype(y.dtype)


# --- continuous location-scale families -----------------------------------------------------------


def _t_dlogpdf(z, df):
    z2 = z * z
    dz = -(df + 1) * z / (df + z2)
    ddf = (
        sc.digamma((df + 1) / 2)
        - sc.digamma(df / 2)
        - 1 / df
        - np.log1p(z2 / df)
        + (df + 1) * z2 / (df * (df + z2))
    ) / 2
    return dz, ddf


def _beta_dlogpdf(z, a, b):
    psi_ab = sc.digamma(a + b)
    return (
        (a - 1) / z - (b - 1) / (1 - z),
        np.log(z) - sc.digamma(a) + psi_ab,
        np.log1p(-z) - sc.digamma(b) + psi_ab,
    )


@dataclass(frozen=True)
class _Family:
    """A location-scale family: density ``exp(g(z, *shapes)) / scale`` at ``z = (x - loc) / scale``."""

    shapes: tuple[str, ...]
    dlogpdf: Callable  # (z, *shapes) -> (∂g/∂z, *∂g/∂shape) of the standard log-density g


CONTINUOUS_FAMILIES = {
    st.norm: _Family((), lambda z: (-z,)),
    st.t: _Family(("df",), _t_dlogpdf),
    st.gamma: _Family(("a",), lambda z, a: ((a - 1) / z - 1, np.log(z) - sc.digamma(a))),
    st.beta: _Family(("a", "b"), _beta_dlogpdf),
    st.chi2: _Family(
        ("df",), lambda z, df: ((df / 2 - 1) / z - 0.5, (np.log(z / 2) - sc.digamma(df / 2)) / 2)
    ),
    st.expon: _Family((), lambda z: (-np.ones_like(z),)),
    st.laplace: _Family((), lambda z: (-np.sign(z),)),
    st.logistic: _Family((), lambda z: (-np.tanh(z / 2),)),
    st.cauchy: _Family((), lambda z: (-2 * z / (1 + z * z),)),
}


def _standard_density_ratio(dist, z, shapes, log_value):
    """``f(z) / value`` for the standard density ``f``, computed in logarithms."""
    return np.exp(dist.logpdf(z, *shapes) - log_value)


def _location_scale_partials(method: str, dist, family: _Family, params: dict, y):
    """Partials of ``dist.<method>`` in the order (x, *shapes, loc, scale); ``None``: no closed form.

    With ``k`` the derivative in ``z`` and ``c`` the part that ``scale`` has outside ``z`` (the
    ``-log(scale)`` of a log-density), ``∂x = k / scale``, ``∂loc = -k / scale`` and
    ``∂scale = -(k z + c) / scale``.
    """
    x, loc, scale = params["x"], params["loc"], params["scale"]
    shapes = [params[name] for name in family.shapes]
    z = (x - loc) / scale
    if method in ("logpdf", "pdf"):
        dz, *dshapes = family.dlogpdf(z, *shapes)
        weight = 1 if method == "logpdf" else y
        k, c = weight * dz, weight
        dshapes = [weight * d for d in dshapes]
    else:
        # cdf, logcdf, sf, logsf: k is ±(the standard density) divided by the value for logs.
        log_value = {"cdf": 0, "sf": 0, "logcdf": y, "logsf": y}[method]
        sign = -1 if method in ("sf", "logsf") else 1
        k, c = sign * _standard_density_ratio(dist, z, shapes, log_value), 0
        dshapes = [None] * len(shapes)
    return [k / scale, *dshapes, -k / scale, -(k * z + c) / scale]


def _check_real(fname: str, args: tuple) -> None:
    """Refuse complex arguments: scipy evaluates the formulas of a distribution on them, but the
    distribution, and the rule's derivative, are those of real arguments."""
    if any(np.iscomplexobj(a) for a in args):
        raise ComplexInputError(
            f"{fname} is a function of real arguments and its rule differentiates only those; "
            "scipy computes its formula on complex input too, but that is not a derivative the "
            "rule gives. Pass real arrays"
        )


def _register_location_scale(method: str, dist, family: _Family) -> None:
    unbound = getattr(rv_continuous, method)
    names = ("x", *family.shapes, "loc", "scale")
    signature = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names[:-2]]
        + [
            inspect.Parameter("loc", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=0),
            inspect.Parameter("scale", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=1),
        ]
    )
    fname = f"scipy.stats.{dist.name}.{method}"
    dist_type = type(dist)

    @rrule.register(unbound, dist_type, Variadic[object])
    def _(self, *args, **kwargs):
        _check_real(fname, args)
        y = unbound(self, *args, **kwargs)
        params = bound_arguments(signature, args, kwargs)
        projectors = [ProjectTo(a) for a in args]

        def location_scale_pullback(dy):
            partials = _location_scale_partials(method, self, family, params, y)
            return (
                NoTangent(),
                NoTangent(),
                *(
                    no_closed_form_cotangent(fname, name, a)
                    if p is None
                    else project(unbroadcast(a, dy * p))
                    for name, a, p, project in zip(names, args, partials, projectors, strict=False)
                ),
            )

        return y, location_scale_pullback

    @frule.register(unbound, dist_type, Variadic[object])
    def _(tangents, self, *args, **kwargs):
        _check_real(fname, args)
        y = unbound(self, *args, **kwargs)
        params = bound_arguments(signature, args, kwargs)
        partials = _location_scale_partials(method, self, family, params, y)
        dargs = tangents[2:]
        for name, p, da in zip(names, partials, dargs, strict=False):
            if p is None:
                check_no_tangent(fname, name, da)
        kept = [(p, da) for p, da in zip(partials, dargs, strict=False) if p is not None]
        return y, _accumulate([p for p, _ in kept], tuple(da for _, da in kept), y)


for _dist, _family in CONTINUOUS_FAMILIES.items():
    for _method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
        _register_location_scale(_method, _dist, _family)


# --- poisson --------------------------------------------------------------------------------------

_POISSON_SIGNATURE = inspect.Signature(
    [
        inspect.Parameter("k", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("mu", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("loc", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=0),
    ]
)


def _poisson_dmu(method: str, k, mu, loc, y):
    """The derivative of ``poisson.<method>(k, mu, loc)`` in ``mu``."""
    if method in ("logpmf", "pmf"):
        dlog = (k - loc) / mu - 1
        return dlog if method == "logpmf" else y * dlog
    # d/dmu P(K <= k) = -pmf(floor(k)), which holds for the regularised gamma at any k.
    log_pmf_at_k = st.poisson.logpmf(np.floor(k - loc), mu)
    log_value = {"cdf": 0, "sf": 0, "logcdf": y, "logsf": y}[method]
    sign = 1 if method in ("sf", "logsf") else -1
    return sign * np.exp(log_pmf_at_k - log_value)


def _register_poisson(method: str) -> None:
    unbound = getattr(rv_discrete, method)

    @rrule.register(unbound, type(st.poisson), Variadic[object])
    def _(self, *args, **kwargs):
        y = unbound(self, *args, **kwargs)
        params = bound_arguments(_POISSON_SIGNATURE, args, kwargs)
        mu = params["mu"]
        project_mu = ProjectTo(mu)
        mu_is_positional = len(args) > 1

        def poisson_pullback(dy):
            tangents = [NoTangent()] * (2 + len(args))  # f, the distribution, k, mu, loc
            if mu_is_positional:
                dmu = dy * _poisson_dmu(method, *params.values(), y)
                tangents[3] = project_mu(unbroadcast(mu, dmu))
            return tuple(tangents)

        return y, poisson_pullback

    @frule.register(unbound, type(st.poisson), Variadic[object])
    def _(tangents, self, *args, **kwargs):
        y = unbound(self, *args, **kwargs)
        params = bound_arguments(_POISSON_SIGNATURE, args, kwargs)
        dmu = tangents[3] if len(args) > 1 else ZeroTangent()
        if isinstance(dmu, AbstractZero):
            return y, dmu
        return y, _accumulate([_poisson_dmu(method, *params.values(), y)], (dmu,), y)


for _method in ("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"):
    _register_poisson(_method)


# --- dirichlet ------------------------------------------------------------------------------------


def _dirichlet_parts(x, alpha):
    """``(log of the full x, ∂logpdf/∂x, ∂logpdf/∂alpha per sample)``; components on axis 0."""
    alpha = np.asarray(alpha)
    shape = (-1,) + (1,) * (np.ndim(x) - 1)
    a = np.reshape(alpha, shape)
    dx = (a[: len(x)] - 1) / x
    if len(x) == len(alpha) - 1:
        last = 1 - np.sum(x, axis=0, keepdims=True)
        dx = dx - (a[-1:] - 1) / last
        x = np.concatenate([x, last])
    dalpha = np.log(x) - sc.digamma(a) + sc.digamma(np.sum(alpha))
    return dx, dalpha


def _register_dirichlet(method: str) -> None:
    unbound = getattr(type(st.dirichlet), method)

    @rrule.register(unbound)
    def _(self, x, alpha):
        y = unbound(self, x, alpha)
        project_x, project_alpha = ProjectTo(x), ProjectTo(alpha)

        def dirichlet_pullback(dy):
            weight = dy if method == "logpdf" else dy * y
            dx, dalpha = _dirichlet_parts(x, alpha)
            sample_axes = tuple(range(1, np.ndim(dalpha)))
            return (
                NoTangent(),
                NoTangent(),
                project_x(weight * dx),
                project_alpha(np.sum(weight * dalpha, axis=sample_axes)),
            )

        return y, dirichlet_pullback

    @frule.register(unbound)
    def _(tangents, self, x, alpha):
        y = unbound(self, x, alpha)
        _, _, dx, dalpha = tangents
        partial_x, partial_alpha = _dirichlet_parts(x, alpha)
        dalpha = (
            dalpha
            if isinstance(dalpha, AbstractZero)
            else np.reshape(dalpha, (-1,) + (1,) * (np.ndim(partial_alpha) - 1))
        )
        dlog = ZeroTangent()
        for p, d in ((partial_x, dx), (partial_alpha, dalpha)):
            if not isinstance(d, AbstractZero):
                dlog = dlog + np.sum(p * d, axis=0)
        if isinstance(dlog, AbstractZero):
            return y, dlog
        return y, dlog if method == "logpdf" else y * dlog


for _method in ("logpdf", "pdf"):
    _register_dirichlet(_method)


# --- multivariate_normal --------------------------------------------------------------------------

_MVN = st.multivariate_normal


def _effective_cov(cov, full):
    """The matrix scipy uses: the lower triangle of a matrix ``cov`` mirrored, else ``full``."""
    if np.ndim(cov) == 2:
        return np.tril(full) + np.tril(full, -1).T
    return full


def _cov_tangent_to_matrix(cov, dcov, dim):
    """The tangent of the effective covariance matrix for a tangent ``dcov`` of the argument ``cov``."""
    if np.ndim(cov) == 2:
        return _effective_cov(cov, dcov)
    if np.ndim(cov) == 1:
        return np.diag(dcov)
    return dcov * np.eye(dim)


def _matrix_cotangent_to_cov(cov, g):
    """The cotangent of argument ``cov`` for a symmetric cotangent ``g`` of the effective matrix."""
    if np.ndim(cov) == 2:
        return np.tril(g + g.T) - np.diag(np.diag(g))
    if np.ndim(cov) == 1:
        return np.diag(g)
    return np.trace(g)


def _mvn_setup(x, mean, cov):
    """``(dim, residuals r of shape (n, dim), precision matrix)`` as scipy processes the inputs."""
    dim, mean_full, cov_full = _MVN._process_parameters_psd(None, mean, cov)
    xs = _MVN._process_quantiles(x, dim)
    precision = np.linalg.inv(_effective_cov(cov, cov_full))
    return dim, xs - mean_full, precision


def _register_multivariate_normal(method: str) -> None:
    unbound = getattr(type(_MVN), method)
    signature = inspect.signature(unbound)

    @rrule.register(unbound)
    def _(self, *args, **kwargs):
        y = unbound(self, *args, **kwargs)
        params = bound_arguments(signature, (self, *args), kwargs)
        x, mean, cov = params["x"], params["mean"], params["cov"]
        projectors = [ProjectTo(a) for a in args]

        def multivariate_normal_pullback(dy):
            _, r, precision = _mvn_setup(x, mean, cov)
            w = np.reshape(dy if method == "logpdf" else dy * y, (-1, 1))
            a = r @ precision  # Σ⁻¹ r per sample (Σ⁻¹ is symmetric)
            dx = -w * a
            g = ((a * w).T @ a - np.sum(w) * precision) / 2
            cotangents = [np.reshape(dx, np.shape(x))]
            if len(args) > 1:
                dmean = -np.sum(dx, axis=0)
                cotangents.append(
                    _NO
                    if mean is None
                    else np.reshape(dmean if np.ndim(mean) else np.sum(dmean), np.shape(mean))
                )
            if len(args) > 2:
                cotangents.append(_matrix_cotangent_to_cov(cov, g))
            cotangents = [p(c) for p, c in zip(projectors, cotangents, strict=False)]
            return (NoTangent(), NoTangent(), *cotangents, *(_NO,) * (len(args) - len(cotangents)))

        return y, multivariate_normal_pullback

    @frule.register(unbound)
    def _(tangents, self, *args, **kwargs):
        y = unbound(self, *args, **kwargs)
        params = bound_arguments(signature, (self, *args), kwargs)
        x, mean, cov = params["x"], params["mean"], params["cov"]
        dx, dmean, dcov = (*tangents[2:5], *(ZeroTangent(),) * (5 - len(tangents)))
        if all(isinstance(d, AbstractZero) for d in (dx, dmean, dcov)):
            return y, ZeroTangent()
        dim, r, precision = _mvn_setup(x, mean, cov)
        a = r @ precision
        dr = ZeroTangent()
        if not isinstance(dx, AbstractZero):
            dr = np.reshape(dx, r.shape)
        if not isinstance(dmean, AbstractZero) and mean is not None:
            dr = dr - np.broadcast_to(dmean, (dim,))
        dlog = np.zeros(len(r))
        if not isinstance(dr, AbstractZero):
            dlog = dlog - np.sum(a * dr, axis=1)
        if not isinstance(dcov, AbstractZero):
            dsigma = _cov_tangent_to_matrix(cov, dcov, dim)
            dlog = dlog + (np.sum((a @ dsigma) * a, axis=1) - np.sum(precision * dsigma.T)) / 2
        dlog = np.reshape(dlog, np.shape(y))
        return y, dlog if method == "logpdf" else y * dlog


for _method in ("logpdf", "pdf"):
    _register_multivariate_normal(_method)
