"""Rules for scipy, laid out like scipy's namespaces."""

from chainrules.scipy import (
    integrate,
    interpolate,
    linalg,
    optimize,
    signal,
    sparse,
    special,
    stats,
)

__all__ = ["integrate", "interpolate", "linalg", "optimize", "signal", "sparse", "special", "stats"]
