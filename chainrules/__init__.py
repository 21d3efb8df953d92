"""chainrules: derivative rules for Python builtins, operator, math, numpy and scipy.

Importing the package registers every rule with ``chainrules_core``'s ``rrule`` and ``frule``.
"""

from chainrules import builtins, numpy, scipy
from chainrules import math as _math
from chainrules import operator as _operator

__all__ = ["builtins", "numpy", "scipy"]
