"""chainrules_core: the rule interface of the Python ChainRules ecosystem.

Tangent types, the ``rrule``/``frule`` registries, rule-definition helpers, ``RuleConfig`` and
projection. Rule libraries depend on this package alone; any AD engine can consume the rules.
"""

from chainrules_core import arithmetic as _arithmetic  # noqa: F401 - installs the tangent operators
from chainrules_core.accumulation import add, zero_tangent
from chainrules_core.config import (
    HasForwardsMode,
    HasReverseMode,
    NoForwardsMode,
    NoReverseMode,
    RuleConfig,
    frule_via_ad,
    rrule_via_ad,
)
from chainrules_core.projection import ProjectionError, ProjectTo
from chainrules_core.rule_helpers import (
    ignore_derivatives,
    linear_pullback,
    non_differentiable,
    opt_out,
    scalar_cotangents,
    scalar_rule,
    unbroadcast,
)
from chainrules_core.rules import AmbiguousRuleWarning, frule, rrule
from chainrules_core.tangents import (
    AbstractZero,
    InplaceableThunk,
    NoTangent,
    Tangent,
    Thunk,
    ZeroTangent,
    canonicalize,
    thunk,
    unthunk,
)

__all__ = [
    "AbstractZero",
    "AmbiguousRuleWarning",
    "HasForwardsMode",
    "HasReverseMode",
    "InplaceableThunk",
    "NoForwardsMode",
    "NoReverseMode",
    "NoTangent",
    "ProjectTo",
    "ProjectionError",
    "RuleConfig",
    "Tangent",
    "Thunk",
    "ZeroTangent",
    "add",
    "canonicalize",
    "frule",
    "frule_via_ad",
    "ignore_derivatives",
    "linear_pullback",
    "non_differentiable",
    "opt_out",
    "rrule",
    "rrule_via_ad",
    "scalar_cotangents",
    "scalar_rule",
    "thunk",
    "unbroadcast",
    "unthunk",
    "zero_tangent",
]
