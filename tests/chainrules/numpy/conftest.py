"""Fixtures shared by the numpy rule tests."""

import pytest
from scipy.linalg import lapack


@pytest.fixture
def getrf_calls(monkeypatch) -> list:
    """Count LU factorizations: scipy's ``dgetrf`` and ``zgetrf``, which
    chainrules.numpy.factorization calls, append one entry per call to the list returned."""
    calls = []
    for name in ("dgetrf", "zgetrf"):
        routine = getattr(lapack, name)

        def counted(*args, _routine=routine, **kwargs):
            calls.append(_routine)
            return _routine(*args, **kwargs)

        monkeypatch.setattr(lapack, name, counted)
    return calls
