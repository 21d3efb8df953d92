"""``RuleConfig``: what an AD engine tells rules about itself, and the calls back into the engine."""

from __future__ import annotations

from typing import Any


class RuleConfig:
    """Base class of the configuration object an AD engine passes as a rule's first argument.

    An engine subclasses it together with the capability markers that describe it, for example
    ``class MyConfig(RuleConfig, HasReverseMode, NoForwardsMode)``, and implements
    :meth:`rrule_via_ad` (and :meth:`frule_via_ad` if it has forward mode). Rules registered with
    ``config=HasReverseMode`` are then found only when such a config is passed.

    Example:
        >>> from chainrules_core import RuleConfig, HasReverseMode, NoForwardsMode
        >>> class Engine(RuleConfig, HasReverseMode, NoForwardsMode):
        ...     def rrule_via_ad(self, f, *args, **kwargs):
        ...         raise NotImplementedError
        >>> isinstance(Engine(), HasReverseMode)
        True
    """

    def rrule_via_ad(self, f: Any, *args: Any, **kwargs: Any):
        """Differentiate ``f(*args, **kwargs)`` in reverse mode with the engine; ``(y, pullback)``."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot differentiate a function it is handed: it does not "
            "implement rrule_via_ad (it has no reverse mode)"
        )

    def frule_via_ad(self, tangents: tuple, f: Any, *args: Any, **kwargs: Any):
        """Differentiate ``f(*args, **kwargs)`` in forward mode with the engine; ``(y, dy)``."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot differentiate a function it is handed: it does not "
            "implement frule_via_ad (it has no forward mode)"
        )


class HasReverseMode:
    """Capability marker: the engine can run reverse mode (``rrule_via_ad`` works)."""


class NoReverseMode:
    """Capability marker: the engine has no reverse mode."""


class HasForwardsMode:
    """Capability marker: the engine can run forward mode (``frule_via_ad`` works)."""


class NoForwardsMode:
    """Capability marker: the engine has no forward mode."""


def rrule_via_ad(config: RuleConfig, f: Any, *args: Any, **kwargs: Any):
    """Ask the engine behind ``config`` for ``(y, pullback)`` of ``f(*args, **kwargs)``.

    A rule registered with ``config=HasReverseMode`` uses this to differentiate a function it was
    handed (the ``f`` of ``map(f, xs)``, say).

    Example:
        >>> from chainrules_core import RuleConfig, HasReverseMode, NoForwardsMode, rrule, rrule_via_ad
        >>> from chainrules_core import scalar_rule
        >>> class RulesOnly(RuleConfig, HasReverseMode, NoForwardsMode):
        ...     def rrule_via_ad(self, f, *args, **kwargs):
        ...         return rrule(self, f, *args, **kwargs)
        >>> def triple(x):
        ...     return 3 * x
        >>> _ = scalar_rule(triple, lambda x, out: 3.0)
        >>> y, back = rrule_via_ad(RulesOnly(), triple, 2.0)
        >>> y, back(1.0)[1]
        (6.0, 3.0)
    """
    return config.rrule_via_ad(f, *args, **kwargs)


def frule_via_ad(config: RuleConfig, tangents: tuple, f: Any, *args: Any, **kwargs: Any):
    """Ask the engine behind ``config`` for ``(y, dy)`` of ``f(*args, **kwargs)`` along ``tangents``.

    Example:
        >>> from chainrules_core import RuleConfig, HasForwardsMode, NoReverseMode, NoTangent
        >>> from chainrules_core import frule, frule_via_ad
        >>> from chainrules_core import scalar_rule
        >>> class RulesOnly(RuleConfig, HasForwardsMode, NoReverseMode):
        ...     def frule_via_ad(self, tangents, f, *args, **kwargs):
        ...         return frule(self, tangents, f, *args, **kwargs)
        >>> def halve(x):
        ...     return x / 2
        >>> _ = scalar_rule(halve, lambda x, out: 0.5)
        >>> frule_via_ad(RulesOnly(), (NoTangent(), 2.0), halve, 3.0)
        (1.5, 1.0)
    """
    return config.frule_via_ad(tangents, f, *args, **kwargs)
