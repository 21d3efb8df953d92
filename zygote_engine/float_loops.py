"""Loops of number arithmetic, generated a second time without the type tests.

Reverse mode writes each arithmetic operation out with three arms (numbers, arrays, the call
protocol) and tests at run time which one applies, in the forward pass and again in the
backward pass, for every operation of every iteration. In a loop whose body is nothing but such
arithmetic, numbers in give numbers out (a ``float``, an ``int`` or a numpy ``float64``, the
types the arm for numbers takes, :data:`NUMBERS`): when every value the loop starts from, and
every item it visits, is one, every operation of every iteration takes the arm for numbers.
Such a loop is generated twice: the general loop, and one without the tests, which runs when
:func:`numbers` says it may. The second one records what the arm for numbers records, on the
same tape, so either backward loop can replay either forward loop.

The backward pass has its own version of the loop too. It runs when the forward loop was the
specialised one and every cotangent the loop starts from is in the state the generator
assumed: a ``float``, or the zero where an iteration leaves a cotangent zero (a temporary,
consumed by its definition). Those states are found at transform time by running the backward
body on them (:func:`states`): each contribution is then known to be the first one into a zero
accumulator (an assignment) or one more number (an addition), and no operation's cotangent is
ever zero, so none is skipped. The values computed are those of the general loop, operation for
operation, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ENTRY_TESTS", "NUMBERS", "NumberOp", "numbers", "states"]

# the types of the arm for numbers of inline arithmetic (the generated code's __SCALARS)
NUMBERS = frozenset({float, int, np.float64})
FLOAT, ZERO, OUTER = "float", "zero", "outer"  # the states of a cotangent in the backward loop
# what the backward loop's version for numbers asks of a cotangent ``d`` in each state
ENTRY_TESTS = {
    FLOAT: "{d}.__class__ is float",
    ZERO: "{d} is __zero",
    OUTER: "({d} is __zero or {d}.__class__ is float)",
}


def numbers(items, *values) -> bool:
    """Whether every one of ``values`` and every item of ``items`` is of :data:`NUMBERS` (the
    run-time test of a specialised loop; nested differentiation declines it, see
    ``lib/nesting.py``).

    Example:
        >>> numbers([1.0, 2], 0.5), numbers([1.0, "2"], 0.5), numbers((), 0.5, True)
        (True, False, False)
    """
    for v in values:
        if v.__class__ not in NUMBERS:
            return False
    return NUMBERS.issuperset(map(type, items))


@dataclass
class NumberOp:
    """One arithmetic operation of a loop body, in its arm for numbers: ``forward``, the lines
    that record ``pb`` (the first) and compute ``target``; ``partials``, the lines that compute
    the ``__g<i>`` from the record and the target's cotangent; ``slots``, each ``(__g<i>,
    name)`` that the backward pass adds to ``name``'s cotangent; ``operands``, the names it
    reads; ``lookup``, for a call of a function with scalar partials (``math.sin``), the local
    that holds its partials function and the function, looked up once before the loop."""

    pb: str
    target: str
    forward: list[str]
    partials: list[str]
    operands: list[str]
    slots: list[tuple[str, str]] = field(default_factory=list)
    lookup: tuple[str, str] | None = None


def states(ops: list[NumberOp], item: str | None, reset: set[str]) -> dict[str, str] | None:
    """The state of each cotangent at the start of every backward iteration of a loop whose body
    is ``ops`` (``item``: the loop variable, when its cotangent is kept; ``reset``: the targets
    whose cotangent is zeroed after their definition's pullback), or None where the loop cannot
    be specialised: an operation whose cotangent could be zero (a value nothing reads), or
    states that change from one iteration to the next.

    A name read before it is assigned in an iteration is carried from one iteration to the next
    and starts as a float; a name assigned first, and the item, start as zero. Names the body
    reads but never assigns are ``OUTER``: their cotangent may be zero or a float.

    Example:
        >>> mul = NumberOp("pb2", "t1", [], [], ["y", "x"], [("__g1", "y"), ("__g2", "x")])
        >>> add = NumberOp("pb3", "y", [], [], ["t1", "c"], [("__g1", "t1"), ("__g2", "c")])
        >>> sorted(states([mul, add], "c", {"t1", "y"}).items())
        [('c', 'zero'), ('t1', 'zero'), ('x', 'outer'), ('y', 'float')]
    """
    assigned: set[str] = set()
    start: dict[str, str] = {}
    for op in ops:
        for name in op.operands:
            if name not in assigned and name not in start:
                start[name] = OUTER
        assigned.add(op.target)
        if start.get(op.target) == OUTER:  # read before it is assigned: carried over
            start[op.target] = FLOAT
    for op in ops:  # (in the body's order: the generated code is the same in every process)
        start.setdefault(op.target, ZERO)
    if item is not None:
        start[item] = ZERO
    end = _iteration(ops, item, reset, start)
    return start if end == start else None


def _iteration(
    ops: list[NumberOp], item: str | None, reset: set[str], start: dict[str, str]
) -> dict[str, str] | None:
    """The states at the end of one backward iteration from ``start`` (None if an operation's
    cotangent is not a float when its pullback runs)."""
    state = dict(start)
    for op in reversed(ops):
        if state[op.target] != FLOAT:
            return None
        if op.target in reset:
            state[op.target] = ZERO
        for _, name in op.slots:
            if state[name] == ZERO:
                state[name] = FLOAT
    if item is not None:
        state[item] = ZERO
    return state
