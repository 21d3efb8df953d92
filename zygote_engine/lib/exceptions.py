"""Rules for the ``__init__`` of Python's exceptions, reached from an exception class's own Python
``__init__`` (``super().__init__(value, label)``): the values it keeps in ``args`` carry their
derivatives, as they do for an exception class without an ``__init__`` (``runtime._construct``).

Each builtin exception class has its own ``__init__`` (``ValueError.__init__`` is not
``Exception.__init__``), and most their own ``__new__``, so the rules are registered for all of
them.
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


def _register_new(new: Any) -> None:
    # Differentiated again (nesting), the engine's construction of such a class runs its
    # ``__new__``, which keeps the arguments in ``args`` too.
    @forward_rule(new)
    def _exception_new_forward(fx, tangents, cls: type, *args: Any, **kwargs: Any):
        error = new(cls, *args, **kwargs)
        fx.entry(error)["args"] = Tangent(tuple, *tangents[2:])
        return error, ZERO


def _own(name: str) -> dict[int, Any]:
    """The distinct ``__init__`` or ``__new__`` methods of the builtin exceptions, by identity."""
    return {
        id(method): method
        for kind in vars(builtins).values()
        if isinstance(kind, type) and issubclass(kind, BaseException)
        for method in [vars(kind).get(name)]
        if method is not None
    }


for _init in _own("__init__").values():
    _register(_init)
for _new in _own("__new__").values():
    _register_new(_new)
