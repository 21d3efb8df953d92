"""Fast rules for arithmetic on Python floats and ints.

The generic rules (``chainrules_core.scalar_rule``) handle numpy broadcasting, projection and
complex numbers, which costs about 14 us per pullback; two Python numbers need none of that, and
scalar code (loop counters included) is dominated by these operations. The derivatives are the
same, and an integer gets a float cotangent like any number.
"""

from __future__ import annotations

import math
import operator

from chainrules_core import rrule
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.lib.store import NO

_PAIRS = ((float, float), (float, int), (int, float), (int, int))


def _register(op, *inplace):
    def decorator(rule):
        for f in (op, *inplace):
            for types in _PAIRS:
                rrule.add(f, types, rule, config=ZygoteRuleConfig)
        return rule

    return decorator


@_register(operator.add, operator.iadd)
def _add(cx, a, b):
    return a + b, lambda dy: (NO, dy, dy)


@_register(operator.sub, operator.isub)
def _sub(cx, a, b):
    return a - b, lambda dy: (NO, dy, -dy)


@_register(operator.mul, operator.imul)
def _mul(cx, a, b):
    return a * b, lambda dy: (NO, dy * b, dy * a)


@_register(operator.truediv, operator.itruediv)
def _truediv(cx, a, b):
    y = a / b
    return y, lambda dy: (NO, dy / b, -dy * y / b)


@_register(operator.pow, operator.ipow)
def _pow(cx, a, b):
    y = a**b
    if isinstance(y, complex):  # a negative base with a fractional exponent
        return rrule(operator.pow, a, b)

    def pow_pullback(dy):
        da = dy * b * a ** (b - 1) if b != 0 else 0.0
        db = dy * y * math.log(abs(a)) if a != 0 else 0.0
        return NO, da, db

    return y, pow_pullback


def _neg(cx, a):
    return -a, lambda dy: (NO, -dy)


for _number in (float, int):
    rrule.add(operator.neg, (_number,), _neg, config=ZygoteRuleConfig)
