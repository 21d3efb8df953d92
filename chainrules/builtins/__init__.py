"""Rules for Python builtins, grouped by topic."""

from chainrules.builtins import arithmetic, containers, higher_order, nondifferentiable

__all__ = ["arithmetic", "containers", "higher_order", "nondifferentiable"]
