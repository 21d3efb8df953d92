"""The numpy rules on dask arrays: lazy, in dask's type, and equal to the rules on numpy arrays.

Walks the registry like the registry audit (tests/chainrules/test_registry_audit.py): every numpy
function with an rrule that dask itself computes lazily on a chunked float array (one argument,
else two) is called through its rule on dask arrays with a scheduler that refuses to compute.
The rule must not compute either (no ``np.asarray`` of data it does not own), its result and
cotangents must be dask arrays, and once computed they must equal the rule's on numpy arrays.
"""

import operator
import warnings

import numpy as np
import pytest
from registry_calls import valid_call

from chainrules import coverage
from chainrules_core import AbstractZero, rrule, unthunk

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")


SHAPE = (2, 3)
CHUNKS = (1, 3)


class Computed(AssertionError):
    pass


def _refuse(dsk, keys, **kwargs):
    raise Computed("a dask array was computed")


def _lazily(f, *args):
    """``f(*args)`` with computing refused and numpy's fallbacks for dask (warnings) as errors."""
    with dask.config.set(scheduler=_refuse), warnings.catch_warnings():
        warnings.simplefilter("error")
        return f(*args)


def _is_dask_result(y):
    if isinstance(y, tuple):
        return bool(y) and all(isinstance(v, da.Array) for v in y)
    return isinstance(y, da.Array)


def _dask_cases():
    cases = []
    for row in coverage.rows():
        name = row.function
        if row.rrule != "yes" or not name.startswith("numpy.") or ".ndarray." in name:
            continue  # (the ndarray methods are the functions' rules: see test_arrays.py)
        f = coverage.lookup(name)
        args = valid_call(f, SHAPE)
        if args is None:
            continue
        if _dask_computes_it_lazily(f, args):
            cases.append(pytest.param(name, id=name))
    return cases


def _dask_computes_it_lazily(f, args):
    """Whether dask's own implementation of ``f`` is lazy on these arrays and computes what numpy
    does (dask's QR and SVD of wide matrices, for instance, differ from numpy's)."""
    try:
        y = _lazily(f, *[da.from_array(a, chunks=CHUNKS) for a in args])
    except Exception:
        return False
    if not _is_dask_result(y) or not all(np.isfinite(s) for v in _items(y) for s in v.shape):
        return False
    computed, expected = _items(dask.compute(y)[0]), _items(f(*args))
    return len(computed) == len(expected) and all(
        np.shape(c) == np.shape(e) and np.allclose(c, e)
        for c, e in zip(computed, expected, strict=True)
    )


def _items(y):
    return y if isinstance(y, tuple) else (y,)


def _ones_like(y):
    return tuple(map(np.ones_like, y)) if isinstance(y, tuple) else np.ones_like(y)


CASES = _dask_cases()


@pytest.mark.parametrize("name", CASES)
def test_rule_stays_lazy_on_dask_arrays_and_agrees_with_numpy(name):
    f = coverage.lookup(name)
    _check_lazy_rule(f, valid_call(f, SHAPE))


RNG = np.random.default_rng(0)
X, Y, M = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2))
# calls with options or shapes that the registry walk does not make: (f, args, which are chunked)
EXPLICIT = {
    "matmul": (np.matmul, (X, M), (0, 1)),
    "@ of dask and numpy": (operator.matmul, (X, M), (0,)),
    "dot": (np.dot, (X, M), (0, 1)),
    "einsum": (np.einsum, ("ij,jk->ik", X, M), (1, 2)),
    "tensordot": (np.tensordot, (X, Y, ([0, 1], [0, 1])), (0, 1)),
    "reshape": (np.reshape, (X, (2, 2, 3)), (0,)),
    "transpose": (np.transpose, (X, (1, 0)), (0,)),
    "where": (np.where, (X > 0, X, Y), (1, 2)),
    "sum over an axis": (np.sum, (X, 0), (0,)),
    "mean keepdims": (np.mean, (X,), (0,), {"axis": 1, "keepdims": True}),
    "norm over rows": (np.linalg.norm, (X,), (0,), {"axis": 1}),
    "maximum": (np.maximum, (X, 0.0), (0,)),
    "logaddexp": (np.logaddexp, (0.0, X), (1,)),
    "slice": (operator.getitem, (X, (slice(1, 3), 0)), (0,)),
    "integer array": (operator.getitem, (X, np.array([2, 0])), (0,)),
    "* of dask and a number": (operator.mul, (X, 2.0), (0,)),
}


@pytest.mark.parametrize("name", list(EXPLICIT))
def test_rules_stay_lazy_on_dask_arrays_in_common_calls(name):
    f, args, chunked, *kwargs = EXPLICIT[name]
    _check_lazy_rule(f, args, chunked, *kwargs)


def test_an_index_that_names_an_entry_twice_is_a_clear_error_on_dask():
    x = da.from_array(X, chunks=(2, 3))
    _, pullback = rrule(operator.getitem, x, np.array([1, 1]))
    with pytest.raises(NotImplementedError, match="may name an entry twice.*np.add.at"):
        pullback(np.ones((2, 3)))


def test_a_boolean_selection_is_a_clear_error_on_dask():
    # its length is unknown until computed, so its cotangent has nowhere to go
    x = da.from_array(X, chunks=(2, 3))
    y, pullback = rrule(operator.getitem, x, X > 0)
    with pytest.raises(NotImplementedError, match=r"x\[mask\].*np.where\(mask, x, 0\)"):
        pullback(np.ones_like(y))


def _check_lazy_rule(f, args, chunked=None, kwargs=None):
    """``rrule(f, *args, **kwargs)`` with the arguments at ``chunked`` (all) made dask arrays: lazy,
    dask results and cotangents, and once computed the rule's values on the numpy arrays."""
    chunked = range(len(args)) if chunked is None else chunked
    kwargs = kwargs or {}
    lazy_args = [
        da.from_array(a, chunks=CHUNKS if np.ndim(a) == 2 else -1) if i in chunked else a
        for i, a in enumerate(args)
    ]
    y, pullback = _lazily(lambda: rrule(f, *lazy_args, **kwargs))
    cotangents = _lazily(lambda: [unthunk(d) for d in pullback(_ones_like(y))[1:]])
    assert _is_dask_result(y), type(y)
    for i in chunked:
        assert isinstance(cotangents[i], (AbstractZero, da.Array)), (i, type(cotangents[i]))

    expected_y, expected_pullback = rrule(f, *args, **kwargs)
    expected = [unthunk(d) for d in expected_pullback(_ones_like(expected_y))[1:]]
    for got, want in zip(_items(dask.compute(y)[0]), _items(expected_y), strict=True):
        np.testing.assert_allclose(got, want)
    for got, want in zip(cotangents, expected, strict=True):
        if isinstance(want, AbstractZero):
            assert isinstance(got, AbstractZero)
        else:
            np.testing.assert_allclose(dask.compute(got)[0], want)


def test_the_dask_audit_reaches_the_common_functions():
    names = {case.values[0] for case in CASES}
    common = {"numpy.sum", "numpy.mean", "numpy.std", "numpy.exp", "numpy.tanh", "numpy.outer"}
    common |= {"numpy.concat / numpy.concatenate", "numpy.stack", "numpy.diff", "numpy.cumsum"}
    assert common <= names, common - names
    assert len(names) >= 100, len(names)
