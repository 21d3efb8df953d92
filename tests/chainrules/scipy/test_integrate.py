"""Finite-difference tests of the ODE rules: the whole solver call, re-solved at tight tolerances."""

import numpy as np
import pytest
import scipy.integrate

import chainrules  # noqa: F401 - registers the rules
import zygote_engine
from chainrules_core import NoTangent, ZeroTangent, frule, rrule
from chainrules_core.testing import WithTangent, nondiff, test_frule, test_rrule
from zygote_engine import ForwardConfig, ZygoteRuleConfig

TIGHT = {"rtol": 1e-12, "atol": 1e-12}
# The solves carry errors near 1e-11, which finite differences amplify by 1/step.
CHECK = {"rtol": 1e-5, "atol": 1e-6}


def damped_oscillator(y, t, k, c):
    return np.array([y[1], -k * y[0] - c * y[1]])


def lotka_volterra(t, y, alpha, beta, delta):
    prey, predator = y
    return np.array([alpha * prey - beta * prey * predator, delta * prey * predator - predator])


def forced_decay(y, t, rate):
    return -rate * y + np.sin(t)  # explicitly time-dependent, scalar state


@pytest.mark.parametrize("times", [np.linspace(0.0, 3.0, 5), np.array([0.5, 1.0, 1.7, 2.5])])
def test_odeint_damped_oscillator(times):
    args = (nondiff(damped_oscillator), np.array([1.0, -0.4]), times, (1.5, 0.3))
    test_rrule(scipy.integrate.odeint, *args, config=ZygoteRuleConfig(), fkwargs=TIGHT, **CHECK)
    test_frule(scipy.integrate.odeint, *args, config=ForwardConfig(), fkwargs=TIGHT, **CHECK)


def test_odeint_time_dependent_scalar_state():
    args = (nondiff(forced_decay), 0.8, np.linspace(0.0, 2.0, 4), (0.7,))
    test_rrule(scipy.integrate.odeint, *args, config=ZygoteRuleConfig(), fkwargs=TIGHT, **CHECK)
    test_frule(scipy.integrate.odeint, *args, config=ForwardConfig(), fkwargs=TIGHT, **CHECK)


def test_solve_ivp_lotka_volterra_with_positional_args():
    # solve_ivp(fun, t_span, y0, method, t_eval, dense_output, events, vectorized, args)
    args = (
        nondiff(lotka_volterra),
        (0.0, 2.2),  # beyond the last output, so finite differences of t_eval stay inside
        np.array([2.0, 1.0]),
        "DOP853",
        np.array([0.3, 1.1, 2.0]),
        False,
        None,
        False,
        (1.1, 0.4, 0.3),
    )
    test_rrule(scipy.integrate.solve_ivp, *args, config=ZygoteRuleConfig(), fkwargs=TIGHT, **CHECK)
    test_frule(scipy.integrate.solve_ivp, *args, config=ForwardConfig(), fkwargs=TIGHT, **CHECK)


def test_solve_ivp_with_keyword_t_eval():
    args = (
        nondiff(lambda t, y: -0.5 * y + np.cos(t) * y[::-1]),
        (0.0, 1.5),
        np.array([1.0, 2.0]),
    )
    fkwargs = {"t_eval": np.array([0.2, 0.4, 1.2]), **TIGHT}
    test_rrule(
        scipy.integrate.solve_ivp, *args, config=ZygoteRuleConfig(), fkwargs=fkwargs, **CHECK
    )
    test_frule(scipy.integrate.solve_ivp, *args, config=ForwardConfig(), fkwargs=fkwargs, **CHECK)


def test_solve_ivp_frule_when_the_first_output_is_the_start():
    # t_eval[0] == t_span[0]: moving both together (finite differences must stay inside the
    # span) leaves the first output at y0
    args = (
        nondiff(lotka_volterra),
        WithTangent((0.0, 2.0), (0.5, 0.0)),
        np.array([1.5, 0.5]),
        "RK45",
        WithTangent(np.array([0.0, 0.6, 1.8]), np.array([0.5, 1.0, -0.7])),
        False,
        None,
        False,
        (1.1, 0.4, 0.3),
    )
    test_frule(scipy.integrate.solve_ivp, *args, config=ForwardConfig(), fkwargs=TIGHT, **CHECK)


def test_solve_ivp_frule_without_t_eval_is_refused():
    tangents = (NoTangent(), NoTangent(), ZeroTangent(), np.ones(2))
    with pytest.raises(NotImplementedError, match="t_eval"):
        frule(ForwardConfig(), tangents, scipy.integrate.solve_ivp, lotka_volterra, (0, 1), [1, 1])


def test_solve_ivp_without_t_eval_is_refused():
    with pytest.raises(NotImplementedError, match="t_eval"):
        rrule(ZygoteRuleConfig(), scipy.integrate.solve_ivp, lotka_volterra, (0, 1), [1.0, 1.0])


def test_odeint_full_output_is_refused():
    with pytest.raises(NotImplementedError, match="full_output"):
        rrule(
            ZygoteRuleConfig(),
            scipy.integrate.odeint,
            damped_oscillator,
            [1.0, 0.0],
            [0.0, 1.0],
            (1.0, 0.1),
            full_output=True,
        )


T_OBSERVED = np.linspace(0.0, 2.0, 6)
Y_OBSERVED = np.cos(T_OBSERVED)


def _central_differences(f, x, step=1e-6):
    return np.array([(f(x + step * e) - f(x - step * e)) / (2 * step) for e in np.eye(x.size)])


def odeint_loss(theta):
    ys = scipy.integrate.odeint(
        damped_oscillator, np.array([1.0, 0.0]), T_OBSERVED, (theta[0], theta[1]), **TIGHT
    )
    return np.sum((ys[:, 0] - Y_OBSERVED) ** 2)


def closure_odeint_loss(theta):
    def model(y, t):
        return np.array([y[1], -theta[0] * y[0] - theta[1] * y[1]])

    ys = scipy.integrate.odeint(model, np.array([1.0, 0.0]), T_OBSERVED, **TIGHT)
    return np.sum((ys[:, 0] - Y_OBSERVED) ** 2)


def solve_ivp_loss(theta):
    solution = scipy.integrate.solve_ivp(
        lambda t, y: np.array([y[1], -theta[0] * y[0] - theta[1] * y[1]]),
        (0.0, 2.0),
        np.array([1.0, 0.0]),
        t_eval=T_OBSERVED,
        **TIGHT,
    )
    return np.sum((solution.y[0] - Y_OBSERVED) ** 2)


@pytest.mark.parametrize("loss", [odeint_loss, closure_odeint_loss, solve_ivp_loss])
def test_gradient_of_least_squares_fit(loss):
    theta = np.array([1.5, 0.3])
    (grad,) = zygote_engine.gradient(loss, theta)
    np.testing.assert_allclose(grad, _central_differences(loss, theta), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss", [odeint_loss, closure_odeint_loss, solve_ivp_loss])
def test_forward_mode_derivative_of_least_squares_fit(loss):
    theta, direction = np.array([1.5, 0.3]), np.array([0.7, -1.2])
    _, derivative = zygote_engine.jvp(loss, (theta,), (direction,))
    expected = _central_differences(loss, theta) @ direction
    np.testing.assert_allclose(derivative, expected, rtol=1e-5, atol=1e-7)


class _Decay:
    def __init__(self, k):
        self.k = k

    def __call__(self, y, t):
        return -self.k * y


def test_what_the_rules_would_silently_miss_is_refused():
    y0, t = np.array([1.0]), np.array([0.0, 1.0])
    with pytest.raises(TypeError, match="pass args positionally"):
        rrule(
            ZygoteRuleConfig(), scipy.integrate.odeint, lambda y, s, k: -k * y, y0, t, args=(2.0,)
        )
    with pytest.raises(NotImplementedError, match="callable object"):
        rrule(ZygoteRuleConfig(), scipy.integrate.odeint, _Decay(2.0), y0, t)
