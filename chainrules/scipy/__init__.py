"""Rules for scipy, laid out like scipy's namespaces."""

from chainrules.scipy import linalg, signal, special, stats

__all__ = ["linalg", "signal", "special", "stats"]
