"""Finite-difference tests of the two-output ufuncs and i0 (numpy/pairs.py)."""

import numpy as np
import pytest

import chainrules.numpy.pairs  # noqa: F401 - registers the rules
from chainrules_core import NoTangent, rrule
from chainrules_core.testing import test_frule, test_rrule

X = np.array([0.3, 1.7, -2.5, 6.2])
Y = np.array([0.7, 0.4, 1.1, -1.3])


@pytest.mark.parametrize(
    ("f", "args"),
    [
        (np.frexp, (X,)),
        (np.frexp, (np.float32(1.25),)),
        (np.modf, (X,)),
        (np.divmod, (X, Y)),
        (np.divmod, (X, 0.9)),
        (np.i0, (X,)),
    ],
)
def test_rules_match_finite_differences(f, args):
    test_rrule(f, *args)
    test_frule(f, *args)


def test_the_mantissa_moves_at_two_to_the_minus_exponent_and_options_are_refused():
    # x = m 2**e with e fixed between powers of two: dm/dx = 2**-e
    _, back = rrule(np.frexp, X)
    np.testing.assert_allclose(back((np.ones(4), NoTangent()))[1], np.ldexp(1.0, -np.frexp(X)[1]))
    with pytest.raises(TypeError, match="plain calls only"):
        rrule(np.modf, X, out=(np.empty(4), np.empty(4)))
