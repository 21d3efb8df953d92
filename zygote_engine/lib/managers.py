"""Rules for ``@contextlib.contextmanager`` managers (see :mod:`zygote_engine.managers`).

A ``with`` statement runs the two halves of a ``@contextmanager`` generator as Python code
(``zy.generator_halves``): called by name in the ``with``, directly; a manager made any other way
(before the ``with``, by a method) through ``zy.enter_context`` and ``zy.exit_context``, with
the arguments the manager keeps. The halves' tangents are the function's, which holds the
variables its generator captures.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chainrules_core import AbstractZero, Tangent, add, frule, non_differentiable, rrule, unthunk
from zygote_engine import primitives as zy
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.lib.forward import forward_rule
from zygote_engine.lib.store import NO, ZERO, items_of
from zygote_engine.runtime import MustRun


@rrule.register(zy.generator_halves)
def _generator_halves(manager_function: Any):
    pair = zy.generator_halves(manager_function)

    def generator_halves_pullback(dpair):
        # each half captures some of the generator's variables: its tangent is the function's
        denter, dexit = items_of(dpair, 2)
        return NO, add(unthunk(denter), unthunk(dexit))

    return pair, generator_halves_pullback


@frule.register(zy.generator_halves)
def _generator_halves_frule(tangents: tuple, manager_function: Any):
    pair = zy.generator_halves(manager_function)
    dfunction = tangents[1]
    if isinstance(unthunk(dfunction), AbstractZero):
        return pair, ZERO
    return pair, Tangent(tuple, dfunction, dfunction)


# A manager made by calling a @contextmanager function anywhere but in the with statement (made
# before it, a method): ``zy.enter_context`` and ``zy.exit_context`` run its generator's halves
# with the arguments it keeps, whose derivatives go back to where it was made.


@rrule.register(contextlib._GeneratorContextManager, config=ZygoteRuleConfig)
def _generator_context_manager(cx, func: Any, args: tuple, kwds: dict):
    manager = contextlib._GeneratorContextManager(func, args, kwds)  # (its generator never runs)

    def generator_context_manager_pullback(_):
        return NO, *(cx.take(manager, name) for name in ("func", "args", "kwds"))

    return manager, MustRun(generator_context_manager_pullback)


@forward_rule(contextlib._GeneratorContextManager)
def _generator_context_manager_forward(fx, tangents, func: Any, args: tuple, kwds: dict):
    manager = contextlib._GeneratorContextManager(func, args, kwds)
    entry = fx.entry(manager)
    entry["func"], entry["args"], entry["kwds"] = tangents[1:4]
    return manager, ZERO


# contextlib's own entry runs the generator, which yields no derivative: what a manager whose
# function is not a generator function gets (zy.enter_context runs the halves of the others)
non_differentiable(contextlib._GeneratorContextManager.__enter__)
