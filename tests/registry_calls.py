"""Calls of registered functions on generic random inputs, shared by the registry audits
(tests/chainrules/test_registry_audit*.py and tests/chainrules/numpy/test_duck_arrays.py).

An input is described by a :class:`Kind` (a dtype and a shape, or a Python scalar); the values are
drawn from one of a few candidate ranges, and :func:`valid_call` keeps the first range (and number
of arguments) for which the function computes finite values without a floating-point warning: the
audits check rules where the function is defined, nothing more.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import pytest

from chainrules_core import AbstractZero, NoTangent, frule, rrule, unthunk
from chainrules_core.testing import rand_tangent

# Inside (0, 1) and away from its ends: in the domain of log, sqrt and arcsin, away from the kinks
# of abs at 0 and from the integer jumps of floor and round.
LOW, HIGH = 0.2, 0.8

# The candidate ranges, in the order they are tried: (0, 1) first, then above 1 (arccosh, zeta,
# the order-dependent domains of the special functions), then negative (a function defined only
# there). Each keeps away from 0, 1 and -1, where domains end and functions have kinks.
RANGES = ((LOW, HIGH), (1.2, 2.5), (-0.8, -0.2))

# The value given to an argument the audit passes as a Python integer (an order or a count).
INTEGER_ARGUMENT = 2


class Kind(NamedTuple):
    """A kind of input: ``shape=None`` is a Python scalar (``float``, or ``complex``)."""

    name: str
    dtype: Any
    shape: tuple[int, ...] | None


def _spread(shape, count, seed, low, high):
    """``count`` random arrays in [low, high] whose entries are spread at least a tenth of the
    range apart (for six entries), so no finite-difference step reorders them (max, sort, median)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    slots = [rng.permutation(size) + rng.uniform(0.25, 0.75, size) for _ in range(count)]
    return [(low + (high - low) * slot / max(size, 1)).reshape(shape) for slot in slots]


def _inputs(shape, count, seed, low=LOW, high=HIGH, dtype=np.float64):
    """``count`` random inputs of ``shape`` and ``dtype`` in [low, high] (real and imaginary parts),
    or Python scalars for ``shape=None``."""
    dtype = np.dtype(dtype)
    arrays = _spread(() if shape is None else shape, count, seed, low, high)
    if dtype.kind == "c":
        imaginary = _spread(() if shape is None else shape, count, seed + 100, low, high)
        arrays = [a + 1j * b for a, b in zip(arrays, imaginary)]
    arrays = [a.astype(dtype) for a in arrays]
    if shape is None:
        return [a.item() for a in arrays]
    return arrays


def _copied(a):
    return a.copy() if isinstance(a, np.ndarray) else a


def call_refusing_warnings(f, args):
    """``f(*args)`` with floating-point warnings raised, so a call outside the domain is refused."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        return f(*(_copied(a) for a in args))


def numbers_of(y):
    """The numeric content of an output as one float vector (tuples and lists are walked)."""
    if isinstance(y, (tuple, list)):
        parts = [numbers_of(v) for v in y]
        return np.concatenate(parts) if parts else np.empty(0)
    if isinstance(y, (bool, int, float, complex, np.ndarray, np.generic)):
        a = np.asarray(y)
        if a.dtype.kind in "biufc":
            return np.ascontiguousarray(a, dtype=complex).view(float).ravel()
    return np.empty(0)


def candidate_calls(shape, dtype=np.float64, *, ranges=RANGES[:1], counts=(1, 2), integers=()):
    """The argument lists :func:`valid_call` tries, in order: for each count of arguments and each
    range, random inputs of ``shape`` and ``dtype``, with :data:`INTEGER_ARGUMENT` at the positions
    ``integers`` (orders and counts, which rules do not differentiate)."""
    for count in counts:
        for k, (low, high) in enumerate(ranges):
            args = _inputs(shape, count, seed=count + 10 * k, low=low, high=high, dtype=dtype)
            if all(i in integers for i in range(count)):
                continue  # nothing left to differentiate
            yield [INTEGER_ARGUMENT if i in integers else a for i, a in enumerate(args)]


def valid_call(f, shape, dtype=np.float64, *, ranges=RANGES[:1], counts=(1, 2), integers=()):
    """The first of :func:`candidate_calls` for which numpy computes ``f``, or ``None``.

    By default: one float64 array of ``shape`` in [LOW, HIGH], else two.
    """
    for args in candidate_calls(shape, dtype, ranges=ranges, counts=counts, integers=integers):
        try:
            y = call_refusing_warnings(f, args)
        except Exception:  # numpy refuses this call: wrong arity, shape, dtype or domain
            continue
        if np.all(np.isfinite(numbers_of(y))):
            return args
    return None


# --- kinds of input --------------------------------------------------------------------------

# The kinds of input the audits try, each where numpy computes the function on it. ``shapes`` are
# tried in order, the first one numpy computes is kept; one shape per kind keeps the audit fast.
FLOAT64 = Kind("float64", np.float64, (3,))
FLOAT32 = Kind("float32", np.float32, (2, 3))
COMPLEX128 = Kind("complex128", np.complex128, (2, 3))
ZERO_D = Kind("0-d", np.float64, ())
EMPTY = Kind("empty", np.float64, (0,))
PYTHON_FLOAT = Kind("python float", np.float64, None)
PYTHON_COMPLEX = Kind("python complex", np.complex128, None)

# Fallback shapes for a kind whose own shape numpy refuses: the shapes of the numpy audit, and a
# square matrix for the linear algebra (inv, det, expm, solve, ...).
FALLBACK_SHAPES = {
    "float64": [(2, 3), (3, 3)],
    "float32": [(3,), (3, 3)],
    "complex128": [(3,), (3, 3)],
    "empty": [(0, 3), (0, 0)],
}


def valid_call_of_kind(f, kind, *, integers=()):
    """``(shape, arguments)`` of the first call of ``kind`` numpy computes, or ``None``."""
    shapes = [kind.shape, *FALLBACK_SHAPES.get(kind.name, [])]
    for shape in shapes:
        args = valid_call(f, shape, kind.dtype, ranges=RANGES, counts=(1, 2, 3), integers=integers)
        if args is not None:
            return shape, args
    return None


# --- the checks ------------------------------------------------------------------------------

STEP = 1e-6
# A jump moves the output by far more than STEP times any slope the audited functions have.
JUMP = 1e-3


def _stepped(args, i, j, step):
    """``args`` with entry ``j`` of argument ``i`` moved by ``step`` (a complex step for ``j``
    odd on complex inputs: real and imaginary parts are entries of their own)."""
    stepped = [_copied(b) for b in args]
    a = stepped[i]
    move = step * (1j if np.iscomplexobj(a) and j % 2 else 1)
    if isinstance(a, np.ndarray):
        a.flat[j // 2 if np.iscomplexobj(a) else j] += move
    else:
        stepped[i] = a + move
    return stepped


def _real_entries(a):
    """How many real numbers finite differences can step in ``a`` (none in integers)."""
    if isinstance(a, (bool, int, np.integer)) or not isinstance(
        a, (float, complex, np.ndarray, np.floating, np.complexfloating)
    ):
        return 0
    if isinstance(a, np.ndarray) and a.dtype.kind not in "fc":
        return 0
    return np.size(a) * (2 if np.iscomplexobj(a) else 1)


def moving_entries(f, args):
    """``(argument, entry, change)`` for each real input entry that moves the output by a small step."""
    moving = []
    for i, a in enumerate(args):
        for j in range(_real_entries(a)):
            outputs = [
                numbers_of(call_refusing_warnings(f, _stepped(args, i, j, sign * STEP)))
                for sign in (1, -1)
            ]
            change = np.max(np.abs(outputs[0] - outputs[1]), initial=0.0)
            if 0 < change < JUMP:
                moving.append((i, j, change))
    return moving


def _fits(primal, tangent):
    """Whether ``tangent`` is a zero, or an array of the float or complex array ``primal``'s shape
    and dtype (anything goes for other primals: test_rrule checks those)."""
    if isinstance(tangent, AbstractZero) or not (
        isinstance(primal, np.ndarray) and primal.dtype.kind in "fc"
    ):
        return True
    return (
        isinstance(tangent, np.ndarray)
        and tangent.shape == primal.shape
        and tangent.dtype == primal.dtype
    )


def _describe(x):
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return repr(x)


def check_tangents_fit(f, args, *, reverse=True, forward=True):
    """The rules of ``f`` on ``args`` (empty arrays, whose entries finite differences cannot
    check) return, for each float input and the output, a zero or an array of its shape and dtype.

    ``test_rrule`` treats an argument without entries as a constant and does not look at its
    cotangent's dtype; an empty cotangent still has to fit its input for the engine to add it up.
    """
    name = getattr(f, "__qualname__", repr(f))
    if reverse:
        y, pullback = rrule(f, *args)
        tangents = pullback(unthunk(rand_tangent(y, np.random.default_rng(0))))
        for i, (a, dx) in enumerate(zip(args, tangents[1:], strict=True), start=1):
            dx = unthunk(dx)
            assert _fits(a, dx), (
                f"rrule of {name}: the cotangent of argument {i}, {_describe(a)}, is {_describe(dx)}"
            )
    if forward:
        dargs = tuple(rand_tangent(a, np.random.default_rng(0)) for a in args)
        y, dy = frule((NoTangent(), *dargs), f, *args)
        for k, (out, dout) in enumerate(_outputs(y, unthunk(dy))):
            assert _fits(out, unthunk(dout)), (
                f"frule of {name}: the tangent of output {k}, {_describe(out)}, is {_describe(dout)}"
            )


def _outputs(y, dy):
    """``(output, tangent)`` pairs of a single output or a tuple of outputs."""
    if isinstance(y, tuple) and not isinstance(dy, AbstractZero):
        return list(zip(y, dy, strict=False))
    return [(y, dy)]


def rule_claims(f, args):
    """Whether a registered rule takes a call of ``f`` on ``args``: a rule registered for numbers
    only (``divmod``, the in-place operators) does not claim arrays, and is not audited on them."""
    try:
        if rrule(f, *args) is not None:
            return True
        zeros = tuple(NoTangent() for _ in range(len(args) + 1))
        return frule(zeros, f, *args) is not None
    except Exception:  # the rule was found, and refused the call: the audit will say how
        return True


def audit_param(name, kind, shape, args, known_wrong: dict):
    """One audit case as a pytest parameter: strictly expected to fail while ``(name, kind)`` is
    listed in ``known_wrong`` (a fix then shows as an unexpected pass, asking for its removal)."""
    marks = []
    if (name, kind) in known_wrong:
        marks = [pytest.mark.xfail(strict=True, reason=known_wrong[name, kind])]
    return pytest.param(name, kind, shape, args, marks=marks, id=f"{name}-{kind}-{shape}")
