"""zygote_engine: source-to-source automatic differentiation for Python, reverse and forward."""

from __future__ import annotations

import chainrules  # noqa: F401 - registers the rules for builtins, operator, math, numpy, scipy
from zygote_engine import lib  # noqa: F401 - registers the engine's own rules
from zygote_engine.api import (
    WithGradient,
    derivative,
    gradient,
    pullback,
    refresh,
    show_adjoint,
    withgradient,
)
from zygote_engine.config import ForwardConfig, ZygoteRuleConfig
from zygote_engine.custom import adjoint, checkpointed, hook
from zygote_engine.errors import (
    MissingRuleError,
    MutationError,
    NonScalarOutputError,
    UnsupportedConstructError,
    ZygoteError,
)
from zygote_engine.jacobians import (
    WithJacobian,
    diaghessian,
    hessian,
    hessian_reverse,
    jacobian,
    withjacobian,
)
from zygote_engine.jvp import jvp, pushforward
from zygote_engine.params import Grads, Params

__all__ = [
    "ForwardConfig",
    "Grads",
    "MissingRuleError",
    "MutationError",
    "NonScalarOutputError",
    "Params",
    "UnsupportedConstructError",
    "WithGradient",
    "WithJacobian",
    "ZygoteError",
    "ZygoteRuleConfig",
    "adjoint",
    "checkpointed",
    "derivative",
    "diaghessian",
    "gradient",
    "hessian",
    "hessian_reverse",
    "hook",
    "jacobian",
    "jvp",
    "pullback",
    "pushforward",
    "refresh",
    "show_adjoint",
    "withgradient",
    "withjacobian",
]
