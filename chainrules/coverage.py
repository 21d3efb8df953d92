"""The coverage table: every function of the namespaces ``chainrules`` covers, with the rules it has.

Built from the ``rrule`` and ``frule`` registries themselves. ``python -m chainrules.coverage``
prints it as CSV; the docs include that file (``docs/rules/coverage.csv``), and a test fails when a
listed function loses a rule or a registered one is missing from the file.
"""

from __future__ import annotations

import builtins
import csv
import functools
import inspect
import io
import math
import operator
import sys
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import scipy.integrate
import scipy.interpolate
import scipy.linalg
import scipy.optimize
import scipy.signal
import scipy.sparse
import scipy.special
import scipy.stats

import chainrules  # noqa: F401 - registers every rule
from chainrules_core import frule, rrule

_NAMESPACES = {
    "builtins": builtins,
    "operator": operator,
    "math": math,
    "functools": functools,
    "numpy": np,
    "numpy.linalg": np.linalg,
    "numpy.fft": np.fft,
    "numpy.random": np.random,
    "numpy.ndarray": np.ndarray,
    "numpy.random.Generator": np.random.Generator,
    "dict": dict,
    "list": list,
    "scipy.special": scipy.special,
    "scipy.linalg": scipy.linalg,
    "scipy.signal": scipy.signal,
    "scipy.integrate": scipy.integrate,
    "scipy.interpolate": scipy.interpolate,
    "scipy.optimize": scipy.optimize,
    "scipy.sparse": scipy.sparse,
}


class Row(NamedTuple):
    function: str
    rrule: str
    frule: str
    non_differentiable: str


def _public_names() -> dict[int, str]:
    """``id(object) -> dotted names`` (aliases joined by " / ") for the covered namespaces' callables."""
    names: dict[int, list[str]] = {}
    for prefix, namespace in _NAMESPACES.items():
        for attr in dir(namespace):
            if attr.startswith("_") and attr != "__call__":
                continue
            obj = inspect.getattr_static(namespace, attr, None)
            if callable(obj) or isinstance(obj, (staticmethod, classmethod)):
                names.setdefault(id(getattr(namespace, attr, obj)), []).append(f"{prefix}.{attr}")
    return {key: " / ".join(aliases) for key, aliases in names.items()}


def _is_non_differentiable(impls: list) -> bool:
    return bool(impls) and all(getattr(impl, "non_differentiable", False) for impl in impls)


_STATS_METHODS = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "logpmf", "pmf")


def _distributions() -> Iterator[tuple[str, Any]]:
    for attr in dir(scipy.stats):
        distribution = getattr(scipy.stats, attr)
        if isinstance(distribution, (scipy.stats.rv_continuous, scipy.stats.rv_discrete)) or (
            type(distribution).__module__.startswith("scipy.stats._multivariate")
        ):
            yield attr, distribution


def _rules_of(name: str) -> tuple[list, list]:
    """The rrule and frule implementations that calls of the function ``name`` resolve to."""
    if name.startswith("scipy.stats."):
        # Methods are shared by every distribution; the rules dispatch on the distribution's type.
        _, _, distribution_name, method = name.split(".")
        distribution = getattr(scipy.stats, distribution_name)
        unbound, args = getattr(type(distribution), method), (distribution, 0.5)
        found = rrule.resolve(None, unbound, args), frule.resolve(None, unbound, args)
        reverse, forward = [f[0] for f in found[:1] if f], [f[0] for f in found[1:] if f]
        return _library_rules(reverse), _library_rules(forward)
    f = lookup(name)
    return _library_rules(rrule.implementations(f)), _library_rules(frule.implementations(f))


def _library_rules(impls: list) -> list:
    """The rules defined by ``chainrules`` (or its helpers in ``chainrules_core``), not by an engine."""
    return [i for i in impls if i.__module__.partition(".")[0] in ("chainrules", "chainrules_core")]


def status(name: str) -> Row:
    """The row of the function ``name`` as the registries stand now."""
    reverse, forward = _rules_of(name)
    nondiff = _is_non_differentiable(reverse + forward)
    return Row(
        name,
        "yes" if reverse and not nondiff else "",
        "yes" if forward and not nondiff else "",
        "yes" if nondiff else "",
    )


def _names() -> Iterator[str]:
    names = _public_names()
    functions = {id(f): f for f in (*rrule.registered_functions(), *frule.registered_functions())}
    yield from (names[key] for key in functions if key in names)
    for attr, distribution in _distributions():
        for method in _STATS_METHODS:
            if hasattr(type(distribution), method):
                yield f"scipy.stats.{attr}.{method}"


def rows() -> Iterator[Row]:
    """One row per covered function with a rule, sorted by name."""
    table = (status(name) for name in _names())
    return iter(sorted(row for row in table if row.rrule or row.frule or row.non_differentiable))


def to_csv(table: list[Row]) -> str:
    """The table as CSV text with a header row; names are reST literals, as the docs show them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["function", "rrule", "frule", "non-differentiable"])
    writer.writerows(row._replace(function=f"``{row.function}``") for row in table)
    return buffer.getvalue()


def counts(table: list[Row]) -> dict[str, int]:
    """How many functions have an rrule, an frule, or a non-differentiable registration."""
    return {
        "rrule": sum(r.rrule == "yes" for r in table),
        "frule": sum(r.frule == "yes" for r in table),
        "non-differentiable": sum(r.non_differentiable == "yes" for r in table),
    }


def lookup(name: str) -> Any:
    """The object a dotted name of the table refers to (the first of its aliases)."""
    name = name.split(" / ")[0]
    for prefix, namespace in sorted(_NAMESPACES.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(prefix + "."):
            return getattr(namespace, name[len(prefix) + 1 :])
    raise KeyError(name)


def available(name: str) -> bool:
    """Whether the function ``name`` exists here (some are newer than this Python, numpy or scipy)."""
    if name.startswith("scipy.stats."):
        _, _, distribution, method = name.split(".")
        return hasattr(type(getattr(scipy.stats, distribution, None)), method)
    try:
        lookup(name)
    except (KeyError, AttributeError):
        return False
    return True


if __name__ == "__main__":
    table = list(rows())
    sys.stdout.write(to_csv(table))
    print(counts(table), file=sys.stderr)
