"""Rules for scipy.special.

Elementwise functions are declared once, in the table ``ELEMENTWISE_PARTIALS`` (function → its
partial derivatives), and registered through ``chainrules_core.scalar_rule``; complex inputs follow
the holomorphic convention (cotangent ``conj(f'(z)) * dy``) wherever scipy accepts them and the
function is holomorphic (``gamma``, ``loggamma``, ``rgamma``, ``erf``, ``erfc``, ``erfcx``,
``ndtr``, ``exp1``, ``jv``, ``yv``, ``iv``, ``kv``, ``kve``, ``xlogy``, ``xlog1py``).

Conventions:

* Orders and counts (``n`` of ``polygamma``, ``expn`` and ``yn``, ``v`` of the Bessel functions,
  ``d`` of ``multigammaln``) are not differentiated: their tangent is ``NoTangent()``, even for
  floats.
* ``gammasgn``, the sign of the gamma function, is piecewise constant: it has no derivative.
* ``gammainc``, ``gammaincc``, ``gammaincinv``, ``gammainccinv`` (in ``a``), ``betainc``,
  ``betaincc`` (in ``a`` and ``b``) and the Hurwitz ``zeta(x, q)`` (in ``x``) have no closed-form
  derivative in those arguments. Their rules are exact in the other arguments and
  return, for the argument without a closed form, a thunk that raises ``NotImplementedError`` when
  unthunked, so the gradient of the other arguments is unaffected as long as that one is not
  needed. (Integer arguments there are non-differentiable and get ``NoTangent()``.) The forward
  rules raise at once if such an argument gets a nonzero tangent.
* ``softmax``, ``log_softmax`` and ``logsumexp`` take ``axis`` (and ``keepdims``, ``b``) as
  documented by scipy. ``logsumexp(a, axis, b, keepdims, return_sign)`` is ``log s`` for
  ``s = Σ b e^a``, holomorphic in ``a`` and ``b`` (complex inputs give ``conj(∂ log s) * dy``); the
  weights ``b`` are differentiated when passed positionally and are constants by keyword. With
  ``return_sign=True`` the outputs are ``log|s|`` and ``sign s``: a real sign is locally constant
  (no tangent), a complex one ``e^(i arg s)`` turns with ``Im(ds / s)``. An entry with
  ``a = -inf`` contributes nothing and gets a zero cotangent; where nothing is left of the sum
  (``s = 0``, ``log|s| = -inf``) every partial is taken as 0.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import scipy.special as sc

from chainrules.calls import bound_arguments
from chainrules_core import (
    AbstractZero,
    NoTangent,
    ProjectTo,
    Tangent,
    Thunk,
    ZeroTangent,
    frule,
    non_differentiable,
    rrule,
    scalar_rule,
    unbroadcast,
    unthunk,
)

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_NO = NoTangent()


def _real_sign(x: Any) -> Any:
    return np.sign(np.real(x))


def _multigammaln_partials(a, d, out):
    j = np.arange(int(d)).reshape((-1,) + (1,) * np.ndim(a))
    return np.sum(sc.digamma(a - j / 2), axis=0), _NO


def _expn_partials(n, x, out):
    # E_n' = -E_{n-1} for n >= 1; E_0(x) = exp(-x)/x.
    e0_prime = -np.exp(-x) * (1 + x) / (x * x)
    return _NO, np.where(n > 0, -sc.expn(np.maximum(n - 1, 0), x), e0_prime)


def _exprel_partials(x, out):
    # exprel' = (exp(x) - exprel(x)) / x cancels near 0: there use its series,
    # 1/2 + x/3 + x²/8 + x³/30 + x⁴/144.
    small = np.abs(x) < 1e-2
    safe_x = np.where(small, 1, x)
    series = 0.5 + x * (1 / 3 + x * (1 / 8 + x * (1 / 30 + x / 144)))
    return np.where(small, series, (np.exp(x) - out) / safe_x)


def _boxcox_partials(x, lmbda, out, shift=0):
    # boxcox(x, λ) = (x^λ - 1)/λ, and log(x) at λ = 0, where ∂λ = log(x)²/2.
    base = x + shift
    log_base = np.log(base)
    zero = lmbda == 0
    safe_lmbda = np.where(zero, 1, lmbda)
    dlmbda = np.where(zero, log_base**2 / 2, (base**lmbda * log_base - out) / safe_lmbda)
    return base ** (lmbda - 1), dlmbda


class ComplexInputError(TypeError):
    """A rule of a scipy function was called with complex input that it does not differentiate."""


def _real_only(fname: str, why: str, partials: Any) -> Any:
    """``partials`` for real arguments; complex ones raise :class:`ComplexInputError`.

    For functions scipy evaluates on complex numbers but whose derivative there the rule cannot
    give, so that the rule fails loudly instead of returning a wrong cotangent.
    """

    def real_partials(*args_and_out):
        if any(np.iscomplexobj(a) for a in args_and_out[:-1]):
            raise ComplexInputError(
                f"the rule of {fname} differentiates real arguments only: {why}. Differentiate "
                f"the real and imaginary parts separately, or register your own rule for {fname}"
            )
        return partials(*args_and_out)

    return real_partials


# Partial derivatives of elementwise functions: ``partials(*args, out)`` with ``out = f(*args)``.
ELEMENTWISE_PARTIALS = {
    # Gamma family.
    sc.gamma: lambda x, out: out * sc.digamma(x),
    sc.gammaln: lambda x, out: sc.digamma(x),
    sc.loggamma: lambda x, out: sc.digamma(x),
    sc.digamma: _real_only(
        "scipy.special.digamma",
        "its derivative, polygamma(1, z), is not computed by scipy for complex z",
        lambda x, out: sc.polygamma(1, x),
    ),
    sc.polygamma: lambda n, x, out: (_NO, sc.polygamma(n + 1, x)),
    sc.multigammaln: _multigammaln_partials,
    sc.rgamma: lambda x, out: -out * sc.digamma(x),
    # Beta family.
    sc.beta: lambda a, b, out: (
        out * (sc.digamma(a) - sc.digamma(a + b)),
        out * (sc.digamma(b) - sc.digamma(a + b)),
    ),
    sc.betaln: lambda a, b, out: (
        sc.digamma(a) - sc.digamma(a + b),
        sc.digamma(b) - sc.digamma(a + b),
    ),
    # Error functions and the normal distribution.
    sc.erf: lambda x, out: 2 / _SQRT_PI * np.exp(-x * x),
    sc.erfc: lambda x, out: -2 / _SQRT_PI * np.exp(-x * x),
    sc.erfinv: lambda x, out: _SQRT_PI / 2 * np.exp(out * out),
    sc.erfcinv: lambda x, out: -_SQRT_PI / 2 * np.exp(out * out),
    sc.erfcx: lambda x, out: 2 * x * out - 2 / _SQRT_PI,
    sc.ndtr: lambda x, out: np.exp(-x * x / 2) / _SQRT_2PI,
    sc.ndtri: lambda y, out: _SQRT_2PI * np.exp(out * out / 2),
    sc.log_ndtr: lambda x, out: np.exp(-x * x / 2 - out) / _SQRT_2PI,
    # Logistic and entropy functions.
    sc.expit: lambda x, out: out * (1 - out),
    sc.logit: lambda p, out: 1 / (p * (1 - p)),
    sc.log_expit: lambda x, out: sc.expit(-x),
    sc.xlogy: lambda x, y, out: (np.log(y), x / y),
    sc.xlog1py: lambda x, y, out: (np.log1p(y), x / (1 + y)),
    sc.entr: lambda x, out: -(1 + np.log(x)),
    sc.rel_entr: lambda x, y, out: (np.log(x / y) + 1, -x / y),
    sc.kl_div: lambda x, y, out: (np.log(x / y), 1 - x / y),
    # Exponential integrals and friends.
    sc.expn: _expn_partials,
    sc.exp1: lambda x, out: -np.exp(-x) / x,
    sc.expi: lambda x, out: np.exp(x) / x,
    sc.exprel: _exprel_partials,
    sc.exp2: lambda x, out: math.log(2) * out,
    sc.exp10: lambda x, out: math.log(10) * out,
    sc.cbrt: lambda x, out: 1 / (3 * out * out),
    sc.boxcox: _boxcox_partials,
    sc.boxcox1p: lambda x, lmbda, out: _boxcox_partials(x, lmbda, out, shift=1),
    # Bessel functions, differentiated in x; the order v is not differentiated.
    sc.j0: lambda x, out: -sc.j1(x),
    sc.j1: lambda x, out: (sc.j0(x) - sc.jv(2, x)) / 2,
    sc.y0: lambda x, out: -sc.y1(x),
    sc.y1: lambda x, out: (sc.y0(x) - sc.yv(2, x)) / 2,
    sc.i0: lambda x, out: sc.i1(x),
    sc.i1: lambda x, out: (sc.i0(x) + sc.iv(2, x)) / 2,
    sc.i0e: lambda x, out: sc.i1e(x) - _real_sign(x) * out,
    sc.i1e: lambda x, out: (sc.i0e(x) + sc.ive(2, x)) / 2 - _real_sign(x) * out,
    sc.k0: lambda x, out: -sc.k1(x),
    sc.k1: lambda x, out: -(sc.k0(x) + sc.kv(2, x)) / 2,
    sc.k0e: lambda x, out: out - sc.k1e(x),
    sc.k1e: lambda x, out: out - (sc.k0e(x) + sc.kve(2, x)) / 2,
    sc.jv: lambda v, x, out: (_NO, (sc.jv(v - 1, x) - sc.jv(v + 1, x)) / 2),
    sc.yv: lambda v, x, out: (_NO, (sc.yv(v - 1, x) - sc.yv(v + 1, x)) / 2),
    sc.yn: lambda n, x, out: (_NO, (sc.yn(n - 1, x) - sc.yn(n + 1, x)) / 2),
    sc.iv: lambda v, x, out: (_NO, (sc.iv(v - 1, x) + sc.iv(v + 1, x)) / 2),
    sc.ive: _real_only(
        "scipy.special.ive",
        "ive(v, z) = iv(v, z) exp(-|Re z|) is not holomorphic in z",
        lambda v, x, out: (
            _NO,
            (sc.ive(v - 1, x) + sc.ive(v + 1, x)) / 2 - _real_sign(x) * out,
        ),
    ),
    sc.kv: lambda v, x, out: (_NO, -(sc.kv(v - 1, x) + sc.kv(v + 1, x)) / 2),
    sc.kve: lambda v, x, out: (_NO, out - (sc.kve(v - 1, x) + sc.kve(v + 1, x)) / 2),
}


class NoClosedFormError(NotImplementedError):
    """The derivative of a scipy function in one of its arguments has no closed form here."""


def _no_closed_form_message(fname: str, name: str) -> str:
    return (
        f"the derivative of {fname} in its argument `{name}` has no closed form, so no rule "
        f"provides it. If you do not need the gradient of `{name}`, make it a constant (an "
        f"integer, or wrap it with chainrules_core.ignore_derivatives); if you do, approximate "
        f"it by finite differences in `{name}`, or register your own rule for {fname}"
    )


def _is_integer(x: Any) -> bool:
    return isinstance(x, (bool, int, np.integer)) or (
        isinstance(x, np.ndarray) and x.dtype.kind in "biu"
    )


def no_closed_form_cotangent(fname: str, name: str, x: Any) -> Any:
    """The cotangent of argument ``name`` (value ``x``) of the function called ``fname``.

    For arguments in which the function's derivative has no closed form.

    A thunk that raises :class:`NoClosedFormError` when unthunked, so the cotangents of the other
    arguments stay usable; ``NoTangent()`` for an integer ``x``, which is not differentiable anyway.

    Example:
        >>> from chainrules_core import unthunk
        >>> dA = no_closed_form_cotangent("scipy.special.gammainc", "a", 2.5)
        >>> try:
        ...     unthunk(dA)
        ... except NoClosedFormError as err:
        ...     print(str(err)[:60])
        the derivative of scipy.special.gammainc in its argument `a`
        >>> no_closed_form_cotangent("scipy.special.gammainc", "a", 2)
        NoTangent()
    """
    if _is_integer(x):
        return _NO
    message = _no_closed_form_message(fname, name)

    def raise_no_closed_form():
        raise NoClosedFormError(message)

    return Thunk(raise_no_closed_form)


def check_no_tangent(fname: str, name: str, dx: Any) -> None:
    """In a forward rule, raise :class:`NoClosedFormError` if ``name`` has a nonzero tangent."""
    if not isinstance(dx, AbstractZero):
        raise NoClosedFormError(_no_closed_form_message(fname, name))


class _NoClosedForm:
    """Marker in a partials table: this argument's derivative has no closed form."""

    def __repr__(self) -> str:
        return "NO_CLOSED_FORM"


_NO_CLOSED_FORM = _NoClosedForm()


def _conj(p: Any) -> Any:
    return np.conj(p) if np.iscomplexobj(p) else p


def _register_partly_closed_form(f: Any, partials: Any) -> None:
    """``rrule`` and ``frule`` of elementwise ``f`` with some partials marked ``_NO_CLOSED_FORM``.

    ``scalar_rule`` cannot return a lazy cotangent (it sums every cotangent at once), so these
    functions get the same rule written out with :func:`no_closed_form_cotangent` for the marked
    arguments.
    """
    names = list(inspect.signature(partials).parameters)[:-1]  # the last one is `out`
    fname = f"scipy.special.{f.__name__}"

    @rrule.register(f)
    def _(*args):
        y = f(*args)
        projectors = [ProjectTo(x) for x in args]

        def partly_closed_form_pullback(dy):
            ps = partials(*args, y)
            return (
                NoTangent(),
                *(
                    no_closed_form_cotangent(fname, name, x)
                    if p is _NO_CLOSED_FORM
                    else project(unbroadcast(x, dy * _conj(p)))
                    for name, x, p, project in zip(names, args, ps, projectors, strict=False)
                ),
            )

        return y, partly_closed_form_pullback

    @frule.register(f)
    def _(tangents, *args):
        y = f(*args)
        dy = ZeroTangent()
        for name, dx, p in zip(names, tangents[1:], partials(*args, y), strict=False):
            if p is _NO_CLOSED_FORM:
                check_no_tangent(fname, name, dx)
            else:
                dy = dy + p * dx
        if isinstance(dy, AbstractZero):
            return y, dy
        if np.shape(dy) != np.shape(y):
            dy = np.broadcast_to(dy, np.shape(y)).copy()
        return y, ProjectTo(y)(dy)


def _gammainc_partial_x(a, x, out):
    # x^(a-1) e^(-x) / Γ(a), in logarithms so that large a and x do not overflow.
    return np.exp(sc.xlogy(a - 1, x) - x - sc.gammaln(a))


def _betainc_partial_x(a, b, x, out):
    return np.exp(sc.xlogy(a - 1, x) + sc.xlog1py(b - 1, -x) - sc.betaln(a, b))


def _zeta_partials(x, q, out=None):
    # Hurwitz ζ(x, q): ∂q = -x ζ(x + 1, q). The Riemann ζ(x) is called with one argument, so
    # partials(x, out) arrives with out in q's place.
    if out is None:
        return (_NO_CLOSED_FORM,)
    return _NO_CLOSED_FORM, -x * sc.zeta(x + 1, q)


# Elementwise functions differentiable in some arguments only (see the module docstring).
PARTLY_CLOSED_FORM_PARTIALS = {
    sc.gammainc: lambda a, x, out: (_NO_CLOSED_FORM, _gammainc_partial_x(a, x, out)),
    sc.gammaincc: lambda a, x, out: (_NO_CLOSED_FORM, -_gammainc_partial_x(a, x, out)),
    sc.betainc: lambda a, b, x, out: (
        _NO_CLOSED_FORM,
        _NO_CLOSED_FORM,
        _betainc_partial_x(a, b, x, out),
    ),
    sc.betaincc: lambda a, b, x, out: (
        _NO_CLOSED_FORM,
        _NO_CLOSED_FORM,
        -_betainc_partial_x(a, b, x, out),
    ),
    # The inverses in their second argument: 1 / ∂x gammainc(a, x) at x = out.
    sc.gammaincinv: lambda a, y, out: (_NO_CLOSED_FORM, 1 / _gammainc_partial_x(a, out, y)),
    sc.gammainccinv: lambda a, y, out: (_NO_CLOSED_FORM, -1 / _gammainc_partial_x(a, out, y)),
    sc.zeta: _zeta_partials,
}


for _f, _partials in ELEMENTWISE_PARTIALS.items():
    scalar_rule(_f, _partials)
non_differentiable(sc.gammasgn)
for _f, _partials in PARTLY_CLOSED_FORM_PARTIALS.items():
    _register_partly_closed_form(_f, _partials)


# --- softmax, log_softmax, logsumexp: reductions along an axis ---------------------------------


def _nondiff_rest(args: tuple) -> tuple:
    """``NoTangent()`` for each positional argument after the first (axis, keepdims, ...)."""
    return (_NO,) * (len(args) - 1)


@rrule.register(sc.softmax)
def _(*args, **kwargs):
    x, axis = bound_arguments(sc.softmax, args, kwargs).values()
    y = sc.softmax(x, axis=axis)
    project_x = ProjectTo(x)

    def softmax_pullback(dy):
        # holomorphic in x: the transposed Jacobian diag(y) - y y^T, conjugated for complex x
        y_bar = np.conj(y)
        dx = y_bar * (dy - np.sum(dy * y_bar, axis=axis, keepdims=True))
        return (NoTangent(), project_x(dx), *_nondiff_rest(args))

    return y, softmax_pullback


@frule.register(sc.softmax)
def _(tangents, *args, **kwargs):
    x, axis = bound_arguments(sc.softmax, args, kwargs).values()
    y = sc.softmax(x, axis=axis)
    dx = tangents[1]
    if isinstance(dx, AbstractZero):
        return y, dx
    return y, y * (dx - np.sum(dx * y, axis=axis, keepdims=True))


@rrule.register(sc.log_softmax)
def _(*args, **kwargs):
    x, axis = bound_arguments(sc.log_softmax, args, kwargs).values()
    y = sc.log_softmax(x, axis=axis)
    project_x = ProjectTo(x)

    def log_softmax_pullback(dy):
        # holomorphic in x: the softmax exp(y) is conjugated for complex x
        dx = dy - np.conj(np.exp(y)) * np.sum(dy, axis=axis, keepdims=True)
        return (NoTangent(), project_x(dx), *_nondiff_rest(args))

    return y, log_softmax_pullback


@frule.register(sc.log_softmax)
def _(tangents, *args, **kwargs):
    x, axis = bound_arguments(sc.log_softmax, args, kwargs).values()
    y = sc.log_softmax(x, axis=axis)
    dx = tangents[1]
    if isinstance(dx, AbstractZero):
        return y, dx
    return y, dx - np.sum(np.exp(y) * dx, axis=axis, keepdims=True)


def _logsumexp_parts(args: tuple, kwargs: dict):
    """The arguments of a ``logsumexp`` call, its value, and ``e^a / s`` (see :func:`_exp_over_sum`)."""
    params = bound_arguments(sc.logsumexp, args, kwargs)
    a, axis, b, keepdims, return_sign = params.values()
    y = sc.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
    return a, axis, b, keepdims, return_sign, y, _exp_over_sum(a, axis, b)


def _exp_over_sum(a: Any, axis: Any, b: Any) -> Any:
    """``e^a / s`` for ``s = Σ b e^a`` along ``axis`` (its axes kept): ``log s`` has the partials
    ``b e^a / s`` in ``a`` and ``e^a / s`` in ``b``.

    ``e^a / s = e^(a - log|s|) conj(sign s)`` stays finite for large ``a`` and is 0 for ``a = -inf``.
    Where nothing is left of the sum (every ``a = -inf``, or ``b`` cancels it) ``log|s| = -inf``,
    and the partials are taken as 0 there (``sign s = 0``), not the nan of ``-inf - (-inf)``.
    """
    log_abs, sign = sc.logsumexp(a, axis=axis, b=b, keepdims=True, return_sign=True)
    return np.exp(a - np.where(np.isneginf(log_abs), 0, log_abs)) * np.conj(sign)


def _keep_reduced_axes(dy: Any, ndim: int, axis: Any, keepdims: bool) -> Any:
    """``dy`` of a reduction reshaped so that it broadcasts against the reduced input."""
    if keepdims:
        return dy
    if axis is None:
        return np.reshape(dy, (1,) * ndim)
    return np.expand_dims(dy, axis)


def _log_sum_cotangent(dy: Any, y: Any, return_sign: bool) -> Any:
    """The cotangent of the holomorphic ``log s`` from that of ``logsumexp``'s output ``y``.

    With ``return_sign``, ``y = (log|s|, sign)`` and ``log s = log|s| + i arg s`` with
    ``sign = e^(i arg s)``: a complex sign adds ``i Im(dsign conj(sign))``; a real sign is locally
    constant and its cotangent is ignored.
    """
    if not return_sign:
        return dy
    (log_abs, sign), (dlog_abs, dsign) = y, (unthunk(dy[0]), unthunk(dy[1]))
    dlog = np.zeros(np.shape(log_abs)) if isinstance(dlog_abs, AbstractZero) else dlog_abs
    if np.iscomplexobj(sign) and not isinstance(dsign, AbstractZero):
        dlog = dlog + 1j * np.imag(dsign * np.conj(sign))
    return dlog


@rrule.register(sc.logsumexp)
def _(*args, **kwargs):
    a, axis, b, keepdims, return_sign, y, exp_over_sum = _logsumexp_parts(args, kwargs)
    project_a, project_b = ProjectTo(a), ProjectTo(b)
    b_position = 2  # b's position in logsumexp(a, axis, b, ...): it may be passed positionally

    def logsumexp_pullback(dy):
        dlog = _log_sum_cotangent(dy, y, return_sign)
        dlog = _keep_reduced_axes(dlog, np.ndim(exp_over_sum), axis, keepdims)
        # log s is holomorphic in a and b: the cotangent is conj(partial) * dlog
        da_partial = exp_over_sum if b is None else b * exp_over_sum
        tangents = [NoTangent(), project_a(unbroadcast(a, np.conj(da_partial) * dlog))]
        tangents += _nondiff_rest(args)
        if len(args) > b_position and b is not None:
            tangents[1 + b_position] = project_b(unbroadcast(b, np.conj(exp_over_sum) * dlog))
        return tuple(tangents)

    return y, logsumexp_pullback


@frule.register(sc.logsumexp)
def _(tangents, *args, **kwargs):
    _, axis, b, keepdims, return_sign, y, exp_over_sum = _logsumexp_parts(args, kwargs)
    da = tangents[1]
    db = tangents[3] if len(tangents) > 3 else NoTangent()
    dterms = (da if b is None else b * da) + db  # d(b e^a) / e^a
    if isinstance(dterms, AbstractZero):
        return y, ZeroTangent()
    dlog = np.sum(exp_over_sum * dterms, axis=axis, keepdims=keepdims)  # d log s = ds / s
    if not return_sign:
        return y, dlog
    log_abs, sign = y
    dsign = 1j * sign * np.imag(dlog) if np.iscomplexobj(sign) else ZeroTangent()
    return y, Tangent(type(y), ProjectTo(log_abs)(np.real(dlog)), ProjectTo(sign)(dsign))
