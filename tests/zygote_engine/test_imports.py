"""``import`` statements inside differentiated functions import as Python does.

The finite-difference checks of imports in both modes are in the corpus
(``imports_inside_the_function`` and the cases after it); these tests pin down relative
imports, which need the package of the function's module, and failed imports.
"""

from __future__ import annotations

import importlib
import math
import sys

import pytest

from zygote_engine import gradient, jvp


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package ``relpkg`` with a module ``model`` that imports its sibling ``scales``."""
    root = tmp_path / "relpkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "scales.py").write_text("FACTOR = 3.0\n\ndef twice(v):\n    return 2.0 * v\n")
    (root / "model.py").write_text(
        "def loss(x):\n"
        "    from . import scales\n"
        "    from .scales import twice\n"
        "    return scales.FACTOR * twice(x) * x\n"
        "\n"
        "def missing(x):\n"
        "    from .scales import no_such_name\n"
        "    return x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("relpkg.model")
    for name in [n for n in sys.modules if n.split(".")[0] == "relpkg"]:
        del sys.modules[name]


def test_a_relative_import_is_relative_to_the_functions_package(package):
    assert gradient(package.loss, 2.0) == (24.0,)  # 6x², 12x
    assert jvp(package.loss, (2.0,), (1.0,)) == (24.0, 24.0)


def test_a_name_the_module_lacks_is_pythons_import_error(package):
    with pytest.raises(
        ImportError, match=r"cannot import name 'no_such_name' from 'relpkg\.scales'"
    ):
        package.missing(1.0)  # plain Python, for comparison
    with pytest.raises(
        ImportError, match=r"cannot import name 'no_such_name' from 'relpkg\.scales'"
    ):
        gradient(package.missing, 1.0)


def _imports_a_missing_module(x):
    import no_such_module_for_zygote_tests  # noqa: F401

    return x


def test_a_missing_module_is_pythons_module_not_found_error():
    with pytest.raises(ModuleNotFoundError, match="no_such_module_for_zygote_tests"):
        gradient(_imports_a_missing_module, 1.0)


def _imports_a_submodule_by_its_full_name(x):
    import os.path

    return math.sin(x) if os.path.join("a", "b") else x


def test_import_of_a_dotted_name_binds_the_top_package():
    assert gradient(_imports_a_submodule_by_its_full_name, 0.5) == (math.cos(0.5),)
