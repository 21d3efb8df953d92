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
from zygote_engine.errors import (
    MissingRuleError,
    MutationError,
    NonScalarOutputError,
    UnsupportedConstructError,
    ZygoteError,
)
from zygote_engine.jvp import jvp, pushforward

__all__ = [
    "ForwardConfig",
    "MissingRuleError",
    "MutationError",
    "NonScalarOutputError",
    "UnsupportedConstructError",
    "WithGradient",
    "ZygoteError",
    "ZygoteRuleConfig",
    "derivative",
    "gradient",
    "jvp",
    "pullback",
    "pushforward",
    "refresh",
    "show_adjoint",
    "withgradient",
]
