"""Calls of registered functions on generic random float arrays, shared by the registry audits
(tests/chainrules/test_registry_audit.py and tests/chainrules/numpy/test_duck_arrays.py)."""

import warnings

import numpy as np

# Inside (0, 1) and away from its ends: in the domain of log, sqrt and arcsin, away from the kinks
# of abs at 0 and from the integer jumps of floor and round.
LOW, HIGH = 0.2, 0.8


def _inputs(shape, count, seed):
    """``count`` random arrays in [LOW, HIGH] whose entries are spread at least a tenth of the
    range apart (for six entries), so no finite-difference step reorders them (max, sort, median)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    slots = [rng.permutation(size) + rng.uniform(0.25, 0.75, size) for _ in range(count)]
    return [(LOW + (HIGH - LOW) * slot / size).reshape(shape) for slot in slots]


def call_refusing_warnings(f, args):
    """``f(*args)`` with floating-point warnings raised, so a call outside the domain is refused."""
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        return f(*(a.copy() for a in args))


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


def valid_call(f, shape):
    """The arguments (one float array, else two) for which numpy computes ``f``, or ``None``."""
    for count in (1, 2):
        args = _inputs(shape, count, seed=count)
        try:
            y = call_refusing_warnings(f, args)
        except Exception:  # numpy refuses this call: wrong arity, shape or domain
            continue
        if np.all(np.isfinite(numbers_of(y))):
            return args
    return None
