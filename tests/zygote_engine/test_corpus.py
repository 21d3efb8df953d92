"""Every corpus function's gradient agrees with central finite differences."""

from __future__ import annotations

import pytest
from engine_corpus import CASES
from fd_check import assert_gradient_matches_fd


@pytest.mark.parametrize(("f", "args"), CASES, ids=[f.__name__ for f, _ in CASES])
def test_gradient_matches_finite_differences(f, args):
    assert_gradient_matches_fd(f, *args)
