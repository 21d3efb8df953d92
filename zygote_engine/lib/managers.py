"""Rules for ``@contextlib.contextmanager`` managers (see :mod:`zygote_engine.managers`).

A ``with`` statement that calls a ``@contextmanager`` function by name runs the two halves of its
generator as Python code (``zy.generator_halves``); their tangents are the function's, which
holds the variables its generator captures. A manager made any other way (a method, a manager
created before the ``with``) runs its generator through contextlib, which the engine cannot
differentiate: given a differentiated value, it is a located error.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chainrules_core import AbstractZero, Tangent, add, frule, non_differentiable, rrule, unthunk
from zygote_engine import primitives as zy
from zygote_engine.errors import UnsupportedConstructError, user_location
from zygote_engine.lib.store import NO, ZERO, items_of


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


def _generator_context_manager(*args: Any, **kwargs: Any):
    # contextlib would run the generator, which the engine differentiates only as the two
    # halves that a with statement calling the manager function by name runs
    raise UnsupportedConstructError(
        f"{user_location(skip_file=contextlib.__file__)}: a @contextlib.contextmanager manager "
        "is given a differentiated value outside a with statement that calls its function by "
        "name: zygote_engine differentiates `with manager(x) as v:` where `manager` is a "
        "function of the module (or of an imported module), not a method or a manager made "
        "before the with; write it so, or write the manager as a class with __enter__ and "
        "__exit__"
    )


# Reached only when a differentiated value goes in: a manager given none runs as plain Python,
# its generator included (which yields no derivative).
for _rule in (rrule, frule):
    _rule.add(contextlib._GeneratorContextManager, (), _generator_context_manager)
non_differentiable(contextlib._GeneratorContextManager.__enter__)
