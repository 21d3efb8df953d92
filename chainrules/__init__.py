"""chainrules: derivative rules for Python builtins, operator, math, numpy and scipy.

Importing the package registers every rule with ``chainrules_core``'s ``rrule`` and ``frule``.
"""

from chainrules import builtins, math, numpy, operator, scipy

__all__ = ["builtins", "math", "numpy", "operator", "scipy"]
