"""Sphinx configuration: API reference from docstrings, and every ``>>>`` example run as a doctest."""

project = "chainrules-zygote"
author = "the chainrules-zygote developers"
copyright = "2026, the chainrules-zygote developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.napoleon",
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Every doctest block, in the pages and in the docstrings autodoc pulls in, starts from this.
doctest_global_setup = """
import numpy as np
import chainrules
"""

# With no network there is no intersphinx inventory: references to numpy and standard-library
# types stay plain text instead of failing the nitpicky build.
nitpick_ignore_regex = [("py:class", r"(numpy|collections\.abc|typing)\..*")]

exclude_patterns = ["_build"]
html_theme = "alabaster"
