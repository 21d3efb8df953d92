"""The registry audit: every numpy function of the coverage table, checked against finite differences.

The hand-written tests check the calls their authors thought of. This audit walks the registry
itself, so a rule nobody wrote a test for is still checked:

* every numpy function registered as **non-differentiable** is called on random float arrays (one
  argument, else two), and a central difference must find that its output does not move (a jump
  is allowed; a small, steady change is a derivative the registration throws away);
* every numpy function with an **rrule** or **frule** that accepts one float array ``f(x)`` (else
  two, ``f(x, y)``) is put through ``test_rrule`` and ``test_frule`` on such arrays, whether or
  not a hand-written test exists.

A call that numpy itself refuses (wrong arity, wrong shape, values outside the domain) is skipped
for that shape: the audit checks rules where the function is defined, nothing more.
"""

import warnings

import numpy as np
import pytest

from registry_calls import call_refusing_warnings, numbers_of, valid_call

from chainrules import coverage
from chainrules_core.testing import test_frule, test_rrule

SHAPES = [(3,), (2, 3)]
STEP = 1e-6
# A jump moves the output by far more than STEP times any slope the audited functions have.
JUMP = 1e-3

TABLE = list(coverage.rows())
NUMPY_ROWS = [
    row for row in TABLE if coverage._namespace_of(row.function) in coverage.LISTED_IN_FULL
]

# Non-differentiable registrations that are not functions of one or two float arrays.
NOT_FUNCTIONS_OF_AN_ARRAY = {
    # Uninitialised memory: the values are whatever was there, not a function of anything.
    "numpy.empty",
    "numpy.empty_like",
}

# Casts to half precision: their derivative is 1, but a float16 result rounds away a difference
# of STEP, so finite differences of it measure the rounding (the float16 rule's own tests use
# float16-sized steps).
LOW_PRECISION = {"numpy.float16 / numpy.half"}

# Histograms without range= refuse a derivative through their bin edges, which follow the data's
# extremes (tests/chainrules/numpy/test_structure.py checks the refusal and the counts).
NEEDS_A_RANGE = {"numpy.histogram", "numpy.histogram2d", "numpy.histogramdd"}

# Rules that refuse by design: these ndarray methods overwrite their array, which reverse mode
# cannot track, so their rules raise InPlaceMethodError.
IN_PLACE_METHODS = {
    "numpy.ndarray.fill",
    "numpy.ndarray.sort",
    "numpy.ndarray.resize",
    "numpy.ndarray.partition",
    "numpy.ndarray.put",
}

# Registrations the audit found wrong on its first run, all fixed since: full/full_like and
# unique were registered non-differentiable, and quantile/percentile gave q no tangent. Any entry
# here is strict, so a fix shows up as an unexpected pass that asks for the entry's removal.
KNOWN_WRONG: dict[str, str] = {}


def _is_random(name):
    """Random draws depend on the generator's state, not on the input: they are excluded."""
    return coverage._namespace_of(name) in ("numpy.random", "numpy.random.Generator")


def _moving_entries(f, args):
    """``(argument, entry, change)`` for each input entry that moves the output by a small step."""
    moving = []
    for i, a in enumerate(args):
        for j in range(a.size):
            outputs = []
            for sign in (1, -1):
                stepped = [b.copy() for b in args]
                stepped[i].flat[j] += sign * STEP
                outputs.append(numbers_of(call_refusing_warnings(f, stepped)))
            change = np.max(np.abs(outputs[0] - outputs[1]), initial=0.0)
            if 0 < change < JUMP:
                moving.append((i, j, change))
    return moving


NON_DIFFERENTIABLE = [
    row.function
    for row in NUMPY_ROWS
    if row.non_differentiable == "yes"
    and not _is_random(row.function)
    and row.function not in NOT_FUNCTIONS_OF_AN_ARRAY
]


def _audit_cases(names: list) -> list:
    """``(name, shape)`` for every audited function and every shape numpy computes it at: the
    calls numpy refuses (wrong arity, shape or domain) are left out when the cases are made."""
    cases = []
    for name in names:
        marks = (
            [pytest.mark.xfail(strict=True, reason=KNOWN_WRONG[name])]
            if name in KNOWN_WRONG
            else []
        )
        f = coverage.lookup(name)
        for shape in SHAPES:
            if valid_call(f, shape) is not None:
                cases.append(pytest.param(name, shape, marks=marks, id=f"{name}-{shape}"))
    return cases


CONSTANT_CASES = _audit_cases(NON_DIFFERENTIABLE)


@pytest.mark.parametrize(("name", "shape"), CONSTANT_CASES)
def test_non_differentiable_registration_is_constant_away_from_jumps(name, shape):
    f = coverage.lookup(name)
    moving = _moving_entries(f, valid_call(f, shape))
    assert not moving, (
        f"{name} is registered as non-differentiable, but its output changes smoothly with its "
        f"input (argument, entry, change over a step of {2 * STEP:g}): {moving}"
    )


DIFFERENTIABLE = [
    row.function
    for row in NUMPY_ROWS
    if (row.rrule == "yes" or row.frule == "yes")
    and row.function not in IN_PLACE_METHODS | LOW_PRECISION | NEEDS_A_RANGE
]
RULE_CASES = _audit_cases(DIFFERENTIABLE)


@pytest.mark.parametrize(("name", "shape"), RULE_CASES)
def test_rules_match_finite_differences_on_float_arrays(name, shape):
    f = coverage.lookup(name)
    args = valid_call(f, shape)
    row = coverage.status(name)
    if row.rrule == "yes":
        test_rrule(f, *args)
    if row.frule == "yes":
        test_frule(f, *args)


def test_the_audit_reaches_most_registrations():
    # a change that made numpy refuse the generic inputs would empty the audit without failing it
    audited = {case.values[0] for case in RULE_CASES}
    constant = {case.values[0] for case in CONSTANT_CASES}
    assert len(audited) >= 0.6 * len(DIFFERENTIABLE), (len(audited), len(DIFFERENTIABLE))
    assert len(constant) >= 0.5 * len(NON_DIFFERENTIABLE), (len(constant), len(NON_DIFFERENTIABLE))
