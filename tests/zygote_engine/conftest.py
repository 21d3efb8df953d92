"""Shared fixtures of the engine tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zygote_engine import refresh

# The tests import their helpers (fd_check, engine_corpus) as top-level modules; pytest runs with
# --import-mode=importlib, which does not put test directories on sys.path.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _fresh_transforms():
    """Each test starts without cached transforms, so tests do not depend on their order."""
    refresh()
    yield
