"""The per-call contexts passed to rules and generated code: ``__cx`` (reverse), ``__fx`` (forward).

One object per differentiation (no global tape, so differentiations may nest, interleave and run
in threads). The reverse context holds the mutation store (:mod:`zygote_engine.store`), the
forward context the tangents of mutable objects (:mod:`zygote_engine.tangent_table`). Each is also
the ``RuleConfig`` through which rules call back into the engine.

Layering: this module sits above both call protocols (``runtime``, ``forward_runtime``), which
never import it; the engine's own rules (``lib``) sit above this module.
"""

from __future__ import annotations

from typing import Any

from chainrules_core import (
    HasForwardsMode,
    HasReverseMode,
    NoReverseMode,
    RuleConfig,
)
from zygote_engine import forward_runtime, runtime
from zygote_engine.store import MutationStore
from zygote_engine.tangent_table import TangentTable

__all__ = ["ForwardConfig", "ZygoteRuleConfig"]


class ZygoteRuleConfig(MutationStore, RuleConfig, HasReverseMode, HasForwardsMode):
    """The rule config of zygote_engine's reverse mode, holding the mutation store.

    It offers forward mode too, so that a rule's pullback can take a Hessian-vector product
    forward over its own ``rrule_via_ad`` (``scipy.optimize.minimize``'s does).

    Example:
        >>> from zygote_engine import ZygoteRuleConfig
        >>> from chainrules_core import NoTangent
        >>> cx = ZygoteRuleConfig()
        >>> y, back = cx.rrule_via_ad(lambda x: x * x, 3.0)
        >>> y, back(1.0)[1]
        (9.0, 6.0)
        >>> cx.frule_via_ad((NoTangent(), 1.0), lambda x: x * x, 3.0)
        (9.0, 6.0)
    """

    __slots__ = ()

    def rrule_via_ad(self, f: Any, *args: Any, **kwargs: Any):
        """``(y, pullback)`` of ``f(*args, **kwargs)``; the pullback covers positional inputs only."""
        y, pullback = runtime.call(self, f, *args, **kwargs)
        return y, runtime.positional_only(pullback, len(args)) if kwargs else pullback

    def frule_via_ad(self, tangents: tuple, f: Any, *args: Any, **kwargs: Any):
        """``(y, dy)`` of ``f(*args, **kwargs)`` along ``tangents``, a forward-mode run of its own
        (its tangents of mutable objects are not this differentiation's cotangents)."""
        return ForwardConfig().frule_via_ad(tangents, f, *args, **kwargs)


class ForwardConfig(TangentTable, RuleConfig, HasForwardsMode, NoReverseMode):
    """The rule config of zygote_engine's forward mode, holding the tangents of mutable objects.

    Example:
        >>> from zygote_engine import ForwardConfig
        >>> from chainrules_core import NoTangent
        >>> fx = ForwardConfig()
        >>> fx.frule_via_ad((NoTangent(), 1.0), lambda x: x * x, 3.0)
        (9.0, 6.0)
    """

    __slots__ = ()

    def frule_via_ad(self, tangents: tuple, f: Any, *args: Any, **kwargs: Any):
        """``(y, dy)`` of ``f(*args, **kwargs)`` along ``tangents`` (``f``'s first, then the args')."""
        return forward_runtime.jcall(self, (f, *args), tangents, kwargs or None)
