"""Rules for the ``__init__`` of Python's exceptions, reached from an exception class's own Python
``__init__`` (``super().__init__(value, label)``): the values it keeps in ``args`` carry their
derivatives, as they do for an exception class without an ``__init__`` (``runtime._construct``).

Each builtin exception class has its own ``__init__`` (``ValueError.__init__`` is not
``Exception.__init__``), so the rules are registered for all of them.
"""

from __future__ import annotations

import builtins
from typing import Any

from chainrules_core import Tangent, rrule
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.lib.forward import forward_rule
from zygote_engine.lib.store import NO, ZERO, items_of
from zygote_engine.runtime import MustRun


def _register(init: Any) -> None:
    @rrule.register(init, config=ZygoteRuleConfig)
    def _exception_init(cx, error: BaseException, *args: Any, **kwargs: Any):
        init(error, *args, **kwargs)

        def exception_init_pullback(_):
            # what the reads of error.args after this left for them
            return (NO, ZERO, *items_of(cx.take(error, "args"), len(args)))

        return None, MustRun(exception_init_pullback)

    @forward_rule(init)
    def _exception_init_forward(fx, tangents, error: BaseException, *args: Any, **kwargs: Any):
        init(error, *args, **kwargs)
        fx.entry(error)["args"] = Tangent(tuple, *tangents[2:])
        return None, NO


_INITS = {
    id(init): init
    for kind in vars(builtins).values()
    if isinstance(kind, type) and issubclass(kind, BaseException)
    for init in [vars(kind).get("__init__")]
    if init is not None
}
for _init in _INITS.values():
    _register(_init)
