"""The registry audit: every numpy function of the coverage table, checked against finite differences.

The hand-written tests check the calls their authors thought of. This audit walks the registry
itself, so a rule nobody wrote a test for is still checked:

* every numpy function registered as **non-differentiable** is called on random inputs (one
  argument, else two, else three), and a central difference must find that its output does not
  move (a jump is allowed; a small, steady change is a derivative the registration throws away);
* every numpy function with an **rrule** or **frule** is put through ``test_rrule`` and
  ``test_frule`` on such inputs, whether or not a hand-written test exists.

Both are done for every kind of input numpy computes the function on (``registry_calls.Kind``):
float64 arrays of shapes (3,) and (2, 3) (a 3 x 3 matrix where numpy wants a square one), float32
and complex128 arrays, 0-d arrays, and empty arrays, whose cotangents must still have their
inputs' shape and dtype. The values are drawn from a few candidate ranges, (0.2, 0.8) first (see
``registry_calls.RANGES``).

A call that numpy itself refuses (wrong arity, shape, dtype, values outside the domain, a
floating-point warning) is skipped for that kind: the audit checks rules where the function is
defined, nothing more. The other namespaces (math, operator, builtins, scipy) are audited by
``test_registry_audit_namespaces.py``.
"""

import pytest
from registry_calls import (
    COMPLEX128,
    EMPTY,
    FLOAT32,
    RANGES,
    STEP,
    ZERO_D,
    audit_param,
    check_tangents_fit,
    moving_entries,
    rule_claims,
    valid_call,
    valid_call_of_kind,
)

from chainrules import coverage
from chainrules_core.testing import test_frule, test_rrule

SHAPES = [(3,), (2, 3)]
# For the functions of a square matrix (inv, det, eig, matrix_power, ...), which refuse SHAPES.
SQUARE = (3, 3)
OTHER_KINDS = [FLOAT32, COMPLEX128, ZERO_D, EMPTY]

TABLE = list(coverage.rows())
NUMPY_ROWS = [
    row for row in TABLE if coverage._namespace_of(row.function) in coverage.LISTED_IN_FULL
]

# Non-differentiable registrations that are not functions of their float inputs.
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

# (function, kind) pairs that finite differences cannot check, with the reason.
_UNSORTED_XP = (
    "interp(x, xp, fp) needs an increasing xp, which numpy does not check: random xp gives a "
    "meaningless result (tests/chainrules/numpy/test_interp.py checks sorted ones)"
)
_PHASE = (
    "complex eigenvectors and singular vectors are defined up to a phase each, which LAPACK "
    "chooses: finite differences follow LAPACK's choice, the rule's cotangent is right for losses "
    "blind to it (tests/chainrules/numpy/test_linalg.py checks such losses)"
)
NOT_COMPARABLE: dict[tuple[str, str], str] = {
    ("numpy.interp", "float64"): _UNSORTED_XP,
    ("numpy.interp", "float32"): _UNSORTED_XP,
    ("numpy.linalg.eig", "complex128"): _PHASE,
    ("numpy.linalg.eigh", "complex128"): _PHASE,
    ("numpy.linalg.svd", "complex128"): _PHASE,
    # numpy 2.4 returns unique complex values in hash order, which a step can change: the output
    # is not a continuous function of the input there (real values come sorted, and are checked)
    ("numpy.unique_values", "complex128"): "complex values come in hash order",
    # float32 rounding leaves the cancelled leading remainder entry at about 1e-8, which numpy
    # trims or keeps step by step: the output's length is not locally constant (and the float64
    # finite differences trim it); tests/chainrules/numpy/test_polynomial.py checks the rule
    ("numpy.polydiv", "float32"): "numpy's float32 remainder changes length under a step",
}

# Rules the audit found wrong and that are not fixed yet (issue #11: all those it found are fixed).
# Each entry is strict, so a fix shows up as an unexpected pass that asks for its removal.
KNOWN_WRONG: dict[tuple[str, str], str] = {}


def _is_random(name):
    """Random draws depend on the generator's state, not on the input: they are excluded."""
    return coverage._namespace_of(name) in ("numpy.random", "numpy.random.Generator")


NON_DIFFERENTIABLE = [
    row.function
    for row in NUMPY_ROWS
    if row.non_differentiable == "yes"
    and not _is_random(row.function)
    and row.function not in NOT_FUNCTIONS_OF_AN_ARRAY
]
DIFFERENTIABLE = [
    row.function
    for row in NUMPY_ROWS
    if (row.rrule == "yes" or row.frule == "yes")
    and row.function not in IN_PLACE_METHODS | LOW_PRECISION | NEEDS_A_RANGE
]


def _float64_call(f, shape):
    return valid_call(f, shape, ranges=RANGES, counts=(1, 2, 3))


def _param(name, kind, shape, args):
    return audit_param(name, kind, shape, args, KNOWN_WRONG)


def _audit_cases(names: list) -> list:
    """``(name, kind, shape, arguments)`` for every audited function and every kind of input (and
    float64 shape) numpy computes it on: the calls numpy refuses are left out."""
    cases = []
    for name in names:
        f = coverage.lookup(name)
        shapes = [s for s in SHAPES if _float64_call(f, s) is not None]
        if not shapes and _float64_call(f, SQUARE) is not None:
            shapes = [SQUARE]
        cases += [
            _param(name, "float64", s, _float64_call(f, s))
            for s in shapes
            if (name, "float64") not in NOT_COMPARABLE
        ]
        for kind in OTHER_KINDS:
            found = valid_call_of_kind(f, kind)
            if found is not None and (name, kind.name) not in NOT_COMPARABLE:
                cases.append(_param(name, kind.name, *found))
    return cases


def _claimed(cases: list) -> list:
    """The cases a registered rule takes (a rule registered for some types only claims those)."""
    return [case for case in cases if rule_claims(coverage.lookup(case.values[0]), case.values[3])]


CONSTANT_CASES = _audit_cases(NON_DIFFERENTIABLE)
RULE_CASES = _claimed(_audit_cases(DIFFERENTIABLE))


@pytest.mark.parametrize(("name", "kind", "shape", "args"), CONSTANT_CASES)
def test_non_differentiable_registration_is_constant_away_from_jumps(name, kind, shape, args):
    moving = moving_entries(coverage.lookup(name), args)
    assert not moving, (
        f"{name} is registered as non-differentiable, but its output changes smoothly with its "
        f"input (argument, entry, change over a step of {2 * STEP:g}): {moving}"
    )


@pytest.mark.parametrize(("name", "kind", "shape", "args"), RULE_CASES)
def test_rules_match_finite_differences(name, kind, shape, args):
    f = coverage.lookup(name)
    row = coverage.status(name)
    if row.rrule == "yes":
        test_rrule(f, *args)
    if row.frule == "yes":
        test_frule(f, *args)
    if kind == EMPTY.name:
        check_tangents_fit(f, args, reverse=row.rrule == "yes", forward=row.frule == "yes")


def _audited(cases, kind):
    return {case.values[0] for case in cases if case.values[1] == kind}


def test_the_audit_reaches_most_registrations():
    # a change that made numpy refuse the generic inputs would empty the audit without failing it
    audited, constant = _audited(RULE_CASES, "float64"), _audited(CONSTANT_CASES, "float64")
    assert len(audited) >= 0.8 * len(DIFFERENTIABLE), (len(audited), len(DIFFERENTIABLE))
    assert len(constant) >= 0.6 * len(NON_DIFFERENTIABLE), (len(constant), len(NON_DIFFERENTIABLE))


# The least share of the differentiable functions each other kind of input reaches (numpy refuses
# the rest: complex input for floor or arccosh, an empty array for max, a 0-d one for stack).
SHARE_OF_KIND = {"float32": 0.8, "complex128": 0.6, "0-d": 0.4, "empty": 0.3}


@pytest.mark.parametrize("kind", list(SHARE_OF_KIND))
def test_the_audit_reaches_most_registrations_with_each_kind_of_input(kind):
    audited = _audited(RULE_CASES, kind)
    assert len(audited) >= SHARE_OF_KIND[kind] * len(DIFFERENTIABLE), (len(audited), kind)
