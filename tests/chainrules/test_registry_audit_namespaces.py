"""The registry audit beyond numpy: every function of the coverage table in ``math``, ``operator``,
the builtins and scipy, checked against finite differences on every kind of input it computes.

The numpy namespaces are audited by ``test_registry_audit.py``; this module walks the rest of the
table the same way (``coverage.rows()``, whose other namespaces list the functions with a rule):

* a function registered as **non-differentiable** must leave its output unchanged by a small step
  of its float inputs, away from jumps;
* a function with an **rrule** or **frule** must match finite differences in ``test_rrule`` and
  ``test_frule``.

Each kind of input of ``registry_calls`` is tried where the function computes it: Python floats
and complex numbers (the scalar functions of ``math`` and ``scipy.special``, the operators), and
float64, float32, complex128, 0-d and empty arrays (the ufuncs of ``scipy.special``, the operators
on arrays, ``scipy.linalg`` and ``scipy.signal``). Values come from a few candidate ranges, the
first in which the function is finite without a warning. Orders and counts, which the rules do not
differentiate (``n`` of ``polygamma``, ``v`` of ``jv``), are passed as integers
(:data:`INTEGER_ARGUMENTS`); ``scipy.stats`` distributions get inputs built from their shape
parameters (:func:`_stats_call`). Functions the generic calls cannot reach are listed in
:data:`NOT_AUDITED` with the reason, and a test pins the share of each namespace the audit reaches.
"""

import numpy as np
import pytest
import scipy.stats
from registry_calls import (
    COMPLEX128,
    EMPTY,
    FLOAT32,
    FLOAT64,
    INTEGER_ARGUMENT,
    PYTHON_COMPLEX,
    PYTHON_FLOAT,
    STEP,
    ZERO_D,
    Kind,
    _inputs,
    audit_param,
    call_refusing_warnings,
    check_tangents_fit,
    moving_entries,
    numbers_of,
    rule_claims,
    valid_call_of_kind,
)
from scipy.stats._distn_infrastructure import rv_continuous, rv_discrete

from chainrules import coverage
from chainrules.scipy.linalg import NotAMatrixError
from chainrules.scipy.special import ComplexInputError
from chainrules_core.testing import test_frule, test_rrule

KINDS = [PYTHON_FLOAT, PYTHON_COMPLEX, FLOAT64, FLOAT32, COMPLEX128, ZERO_D, EMPTY]


def _namespace(name: str) -> str:
    return "scipy.stats" if name.startswith("scipy.stats.") else coverage._namespace_of(name)


OTHER_ROWS = [
    row for row in coverage.rows() if _namespace(row.function) not in coverage.LISTED_IN_FULL
]

# Arguments passed as the integer INTEGER_ARGUMENT: orders and counts, and the arguments whose
# derivative has no closed form (the rules give an integer there no tangent, a float a thunk that
# raises NoClosedFormError; see chainrules/scipy/special.py).
INTEGER_ARGUMENTS = {
    "scipy.special.polygamma": (0,),
    "scipy.special.expn": (0,),
    "scipy.special.yn": (0,),
    "scipy.special.jn / scipy.special.jv": (0,),
    "scipy.special.yv": (0,),
    "scipy.special.iv": (0,),
    "scipy.special.ive": (0,),
    "scipy.special.kv": (0,),
    "scipy.special.kve": (0,),
    "scipy.special.multigammaln": (1,),
    "scipy.special.gammainc": (0,),
    "scipy.special.gammaincc": (0,),
    "scipy.special.gammaincinv": (0,),
    "scipy.special.gammainccinv": (0,),
    "scipy.special.betainc": (0, 1),
    "scipy.special.betaincc": (0, 1),
    "scipy.special.zeta": (0,),
    "math.ldexp": (1,),
}

# Functions the generic calls cannot audit, each group with its reason.
NOT_AUDITED = {
    # Higher-order functions and containers: their inputs are functions, dicts, attribute names
    # or iterators, not numbers (tests/chainrules/builtins/test_higher_order.py and
    # test_containers.py check them on the calls they are made for).
    "builtins.map",
    "builtins.filter",
    "builtins.zip",
    "builtins.enumerate",
    "builtins.dict",
    "builtins.getattr",
    "dict.get",
    "dict.items",
    "dict.keys",
    "dict.values",
    "functools.reduce",
    # returns an iterator, which finite differences cannot read (its rule returns the list the
    # engine iterates over: tests/chainrules/builtins/test_higher_order.py)
    "builtins.reversed",
    # Identities and hashes: every step changes them by a whole jump, so there is nothing to
    # measure; and functions whose output holds no number (strings, None).
    "builtins.id",
    "builtins.hash",
    "builtins.print",
    "builtins.repr",
    "builtins.str",
    "builtins.ascii",
    "builtins.format",
    # Solvers and integrators of a user's function (scipy.integrate, scipy.optimize), and
    # constructors of objects (splines, interpolators, sparse matrices) that are not arrays:
    # tests/chainrules/scipy/test_{integrate,optimize,interpolate,sparse}.py.
    "scipy.integrate.odeint",
    "scipy.integrate.solve_ivp",
    "scipy.optimize.fsolve",
    "scipy.optimize.minimize",
    "scipy.optimize.root",
    "scipy.interpolate.CubicSpline",
    "scipy.interpolate.RegularGridInterpolator",
    "scipy.interpolate.interpn",
    "scipy.interpolate.make_interp_spline",
    "scipy.interpolate.splev",
    "scipy.interpolate.splrep",
    "scipy.sparse.csc_array",
    "scipy.sparse.csc_matrix",
    "scipy.sparse.csr_array",
    "scipy.sparse.csr_matrix",
}

# (function, kind) pairs that finite differences cannot check, with the reason.
_SIGN = (
    "eigenvectors are defined up to a sign (a phase for complex ones) each, which LAPACK chooses "
    "afresh at every call: finite differences of the random matrix jump with it, the rule's "
    "cotangent is right for losses blind to it (tests/chainrules/scipy/test_linalg.py)"
)
NOT_COMPARABLE: dict[tuple[str, str], str] = {
    ("scipy.linalg.eigh", "float64"): _SIGN,
    ("scipy.linalg.eigh", "float32"): _SIGN,
    ("scipy.linalg.eigh", "complex128"): _SIGN,
}

# Kinds of input a rule refuses on purpose, with a clear error instead of a wrong value (the
# decisions of issue #11):
# * complex input to a distribution of scipy.stats: scipy evaluates the formulas on it, but the
#   distributions are functions of real arguments, and so are the rules' derivatives;
# * complex input to digamma (its derivative, polygamma(1, z), is not computed by scipy for complex
#   z) and to ive (iv(v, z) exp(-|Re z|) is not holomorphic, so no complex derivative exists);
# * scalars, 0-d and 1-d arrays to the matrix functions of scipy.linalg, which scipy reads as
#   1 x 1 matrices (or, for lu_factor, a row): the rules are written for matrices.
COMPLEX_REFUSED = {"scipy.special.digamma / scipy.special.psi", "scipy.special.ive"}
MATRIX_FUNCTIONS = {
    f"scipy.linalg.{name}"
    for name in ("cholesky", "cho_factor", "lu_factor", "solve", "expm", "sqrtm", "solve_sylvester")
}


def refusal(name: str, kind: str, args: list):
    """The error a rule must raise for this call, or None when it must differentiate it."""
    if "complex" in kind and (
        name in COMPLEX_REFUSED
        or (
            name.startswith("scipy.stats.")
            and isinstance(function_of(name).__self__, rv_continuous)
        )
    ):
        return ComplexInputError
    if name in MATRIX_FUNCTIONS and np.ndim(args[0]) < 2:
        return NotAMatrixError
    if name == "scipy.linalg.lu_factor" and np.shape(args[0])[-1] != np.shape(args[0])[-2]:
        return NotAMatrixError  # scipy factors rectangular matrices too; the rule square ones
    return None


# Registrations the audit found wrong, all fixed since (see the closing note of issue #11). Any
# entry here is strict, so a fix shows up as an unexpected pass that asks for the entry's removal.
KNOWN_WRONG: dict[tuple[str, str], str] = {}


def function_of(name: str):
    """The callable of a row: ``scipy.stats.norm.pdf`` is the method of the ``norm`` instance."""
    if name.startswith("scipy.stats."):
        _, _, distribution, method = name.split(".")
        return getattr(getattr(scipy.stats, distribution), method)
    return coverage.lookup(name)


# Location and scale of the continuous distributions: Python floats, so x - loc stays positive
# for the inputs in (0.2, 0.8) and the result stays inside the support of gamma, beta or chi2.
LOC, SCALE = 0.1, 1.3


def _stats_arguments(name: str, kind: Kind) -> list | None:
    """Arguments of ``scipy.stats.<distribution>.<method>`` of ``kind``, or None.

    Continuous families get ``x`` of the kind and their shape parameters as integers (their
    derivatives have no closed form), then ``loc`` and ``scale``; ``poisson`` gets integer counts
    and ``mu`` of the kind; ``dirichlet`` gets ``K - 1`` components of a point of the simplex;
    ``multivariate_normal`` gets ``x``, ``mean`` and a diagonal ``cov`` of the kind.
    """
    _, _, dist_name, _ = name.split(".")
    distribution = getattr(scipy.stats, dist_name)
    shape = kind.shape if kind.shape is not None else None
    if isinstance(distribution, rv_continuous):
        (x,) = _inputs(shape, 1, seed=1, dtype=kind.dtype)
        shapes = [INTEGER_ARGUMENT] * distribution.numargs
        return [x, *shapes, LOC, SCALE]
    if isinstance(distribution, rv_discrete):
        (mu,) = _inputs(shape, 1, seed=1, low=1.2, high=2.5, dtype=kind.dtype)
        counts = np.arange(int(np.prod(shape or ()))).reshape(shape or ()) % 4
        return [counts if shape is not None else 2, mu]
    if kind.shape is None or kind.shape == ():
        return None
    if dist_name == "dirichlet":
        x, alpha = _inputs((2,), 1, seed=1, low=0.2, high=0.4, dtype=kind.dtype) + _inputs(
            (3,), 1, seed=2, low=1.2, high=2.5, dtype=kind.dtype
        )
        return [x, alpha]
    return _inputs((3,), 3, seed=3, dtype=kind.dtype)  # multivariate_normal: x, mean, diag(cov)


def _stats_call(name: str, kind: Kind):
    args = _stats_arguments(name, kind)
    if args is None:
        return None
    try:
        y = call_refusing_warnings(function_of(name), args)
    except Exception:  # scipy refuses this kind (complex input, say)
        return None
    if np.all(np.isfinite(numbers_of(y))):
        return np.shape(args[0]), args
    return None


def _call_of_kind(name: str, kind: Kind):
    if name.startswith("scipy.stats."):
        return _stats_call(name, kind)
    return valid_call_of_kind(function_of(name), kind, integers=INTEGER_ARGUMENTS.get(name, ()))


def _param(name, kind, shape, args):
    return audit_param(name, kind, shape, args, KNOWN_WRONG)


def _audit_cases(names: list) -> list:
    """``(name, kind, shape, arguments)`` for every audited function and every kind of input it
    computes on: the calls the function refuses are left out."""
    cases = []
    for name in names:
        for kind in KINDS:
            found = _call_of_kind(name, kind)
            if found is not None and (name, kind.name) not in NOT_COMPARABLE:
                cases.append(_param(name, kind.name, *found))
    return cases


NON_DIFFERENTIABLE = [
    row.function
    for row in OTHER_ROWS
    if row.non_differentiable == "yes" and row.function not in NOT_AUDITED
]
DIFFERENTIABLE = [
    row.function
    for row in OTHER_ROWS
    if (row.rrule == "yes" or row.frule == "yes") and row.function not in NOT_AUDITED
]
CONSTANT_CASES = _audit_cases(NON_DIFFERENTIABLE)
# the cases a registered rule takes: divmod and the in-place operators have rules for numbers only
RULE_CASES = [
    case
    for case in _audit_cases(DIFFERENTIABLE)
    if rule_claims(function_of(case.values[0]), case.values[3])
]


@pytest.mark.parametrize(("name", "kind", "shape", "args"), CONSTANT_CASES)
def test_non_differentiable_registration_is_constant_away_from_jumps(name, kind, shape, args):
    moving = moving_entries(function_of(name), args)
    assert not moving, (
        f"{name} is registered as non-differentiable, but its output changes smoothly with its "
        f"input (argument, entry, change over a step of {2 * STEP:g}): {moving}"
    )


@pytest.mark.parametrize(("name", "kind", "shape", "args"), RULE_CASES)
def test_rules_match_finite_differences(name, kind, shape, args):
    f = function_of(name)
    row = coverage.status(name)
    refused = refusal(name, kind, args)
    if refused is not None:
        if row.rrule == "yes":
            with pytest.raises(refused):
                test_rrule(f, *args)
        if row.frule == "yes":
            with pytest.raises(refused):
                test_frule(f, *args)
        return
    if row.rrule == "yes":
        test_rrule(f, *args)
    if row.frule == "yes":
        test_frule(f, *args)
    if kind == EMPTY.name:
        check_tangents_fit(f, args, reverse=row.rrule == "yes", forward=row.frule == "yes")


def _audited_names(cases) -> set:
    return {case.values[0] for case in cases}


# The least share of each namespace's registrations (rules, and non-differentiable ones) the audit
# reaches. The rest are refused by every generic call or listed in NOT_AUDITED: the functions of
# integers only (math.gcd, math.comb, operator.and_, builtins.hex, ...), whose registrations have
# no float input to step; operator.getitem and operator.concat, which need an index or sequences;
# and cho_solve and lu_solve, which take a factorisation (tests/chainrules/scipy/test_linalg.py).
SHARE_OF_NAMESPACE = {
    "math": 0.5,
    "operator": 0.6,
    "builtins": 0.45,
    "scipy.special": 0.95,
    "scipy.linalg": 0.8,
    "scipy.signal": 1.0,
    "scipy.stats": 0.95,
    "scipy.integrate": 1.0,
}


@pytest.mark.parametrize("namespace", list(SHARE_OF_NAMESPACE))
def test_the_audit_reaches_most_registrations_of_each_namespace(namespace):
    # a change that made the functions refuse the generic inputs would empty the audit silently
    for names, cases in ((DIFFERENTIABLE, RULE_CASES), (NON_DIFFERENTIABLE, CONSTANT_CASES)):
        registered = {name for name in names if _namespace(name) == namespace}
        audited = {name for name in _audited_names(cases) if _namespace(name) == namespace}
        assert len(audited) >= SHARE_OF_NAMESPACE[namespace] * len(registered), (
            namespace,
            sorted(registered - audited),
        )
