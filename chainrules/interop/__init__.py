"""Use these rules from other AD engines: PyTorch, JAX and HIPS autograd.

``to_torch(f)``, ``to_jax(f)`` and ``to_autograd(f)`` turn a function with a registered ``rrule``
(and ``frule``) into a function of that engine's arrays which the engine's own AD differentiates
through the rule. The engines are optional: importing this package imports none of them; each
``to_*`` imports its engine when it is called.
"""

from chainrules.interop._autograd import to_autograd
from chainrules.interop._jax import to_jax
from chainrules.interop._torch import to_torch

__all__ = ["to_autograd", "to_jax", "to_torch"]
