"""Engine rules: those that need the engine's state (the mutation store, the tangent table) or
its call protocol.

Registered with ``config=ZygoteRuleConfig`` (reverse) or ``config=ForwardConfig`` (forward), so
they are found only by this engine and are tried before the plain rules of ``chainrules``.
"""

from zygote_engine.lib import (  # noqa: F401 - register rules
    arrays,
    containers,
    exceptions,
    forward,
    managers,
    modes,
    module_state,
    nested_writes,
    nesting,
    objects,
    primitives,
)
