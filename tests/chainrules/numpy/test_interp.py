"""Finite-difference tests of the numpy.interp rules."""

import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

XP = np.array([0.0, 0.7, 1.5, 2.0, 3.2])


def _both(*args, **kw):
    test_rrule(np.interp, *args, **kw)
    test_frule(np.interp, *args, **kw)


def test_interp_in_x_and_fp():
    rng = np.random.default_rng(3)
    fp = rng.standard_normal(XP.size)
    # queries inside segments and beyond both ends (kept off the knots, where x has no derivative)
    x = np.array([-0.5, 0.2, 1.1, 1.9, 2.6, 4.0])
    _both(x, nondiff(XP), fp)
    _both(0.35, nondiff(XP), fp)


def test_interp_with_left_and_right_values():
    fp = np.array([1.0, -2.0, 0.5, 3.0, 2.0])
    _both(np.array([-1.0, 0.4, 2.5, 5.0]), nondiff(XP), fp, -3.0, 4.0)


def test_interp_with_period_is_refused():
    with pytest.raises(NotImplementedError, match="period"):
        rrule(np.interp, np.array([0.5]), XP, XP, period=2.0)
