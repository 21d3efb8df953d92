"""Engine rules: those that need the engine's state (the mutation store) or its call protocol.

Registered with ``config=ZygoteRuleConfig``, so they are found only by this engine and are tried
before the plain rules of ``chainrules``.
"""

from zygote_engine.lib import containers, objects, primitives  # noqa: F401 - register rules
