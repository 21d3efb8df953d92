"""The coverage table: every function of the namespaces ``chainrules`` covers, with the rules it has.

Built from the ``rrule`` and ``frule`` registries themselves. The numpy namespaces are listed in
full: every public callable has a row, marked ``missing`` when it has neither a rule nor a
non-differentiable registration, except the names of :data:`EXCLUDED` (which are not numerical
functions) and classes. The other namespaces list the functions that have a rule.

``python -m chainrules.coverage`` prints the table as CSV, and a summary with the missing numpy
functions on stderr; the docs include that file (``docs/rules/coverage.csv``), and a test fails
when a listed function loses a rule or the file is out of date.
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
from chainrules_core.rules import resolve_receiver

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

# Namespaces whose every public callable gets a row, with or without a rule; builtins, math and
# scipy hold far more than anyone differentiates, so only their functions with a rule are listed.
LISTED_IN_FULL = (
    "numpy",
    "numpy.linalg",
    "numpy.fft",
    "numpy.random",
    "numpy.random.Generator",
    "numpy.ndarray",
)

# Public callables of LISTED_IN_FULL that are not numerical functions, so no rule is expected of
# them and they are not counted as missing. Classes (scalar types, ``dtype``, ``ndarray``,
# ``errstate``, ``vectorize``, bit generators, ...) are left out too, unless they have a rule.
EXCLUDED: dict[str, tuple[str, ...]] = {
    "printing and formatting: they return strings": (
        "numpy.array2string",
        "numpy.array_repr",
        "numpy.array_str",
        "numpy.base_repr",
        "numpy.binary_repr",
        "numpy.format_float_positional",
        "numpy.format_float_scientific",
        "numpy.get_printoptions",
        "numpy.printoptions",
        "numpy.set_printoptions",
        "numpy.typename",
        "numpy.info",
    ),
    "files, bytes and foreign buffers: data enters or leaves as bytes, not as differentiable values": (
        "numpy.save",
        "numpy.savetxt",
        "numpy.savez",
        "numpy.savez_compressed",
        "numpy.load",
        "numpy.loadtxt",
        "numpy.genfromtxt",
        "numpy.fromfile",
        "numpy.fromregex",
        "numpy.frombuffer",
        "numpy.fromstring",
        "numpy.from_dlpack",
        "numpy.ndarray.dump",
        "numpy.ndarray.dumps",
        "numpy.ndarray.tobytes",
        "numpy.ndarray.tofile",
        "numpy.ndarray.byteswap",
        "numpy.ndarray.getfield",
        "numpy.ndarray.setfield",
        "numpy.ndarray.view",
        "numpy.ndarray.setflags",
        "numpy.ndarray.to_device",
    ),
    "error handling, configuration, build information and the test runners": (
        "numpy.geterr",
        "numpy.seterr",
        "numpy.geterrcall",
        "numpy.seterrcall",
        "numpy.getbufsize",
        "numpy.setbufsize",
        "numpy.get_include",
        "numpy.show_config",
        "numpy.show_runtime",
        "numpy.test",
        "numpy.linalg.test",
        "numpy.fft.test",
        "numpy.random.test",
    ),
    "questions about dtypes, memory and iterators, not about values": (
        "numpy.can_cast",
        "numpy.common_type",
        "numpy.min_scalar_type",
        "numpy.mintypecode",
        "numpy.promote_types",
        "numpy.isdtype",
        "numpy.issubdtype",
        "numpy.iterable",
        "numpy.isfortran",
        "numpy.nested_iters",
        "numpy.frompyfunc",
        "numpy.einsum_path",
    ),
    "dates and business days: datetime64 values have no tangent": (
        "numpy.busday_count",
        "numpy.busday_offset",
        "numpy.is_busday",
        "numpy.datetime_as_string",
        "numpy.datetime_data",
        "numpy.isnat",
    ),
    "writes in place that return None: the engine differentiates values, not mutation": (
        "numpy.copyto",
        "numpy.fill_diagonal",
        "numpy.place",
        "numpy.put",
        "numpy.put_along_axis",
        "numpy.putmask",
    ),
    "deprecated aliases and the legacy matrix class": (
        "numpy.row_stack",
        "numpy.asmatrix",
        "numpy.bmat",
        "numpy.random.ranf",
        "numpy.random.sample",
    ),
}


class Row(NamedTuple):
    function: str
    rrule: str
    frule: str
    non_differentiable: str
    missing: str


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
    # ``np.random.normal`` is a bound method of a hidden ``RandomState``: its rules are the method's.
    f, _, _ = resolve_receiver(lookup(name), ())
    return _library_rules(rrule.implementations(f)), _library_rules(frule.implementations(f))


def _library_rules(impls: list) -> list:
    """The rules defined by ``chainrules`` (or its helpers in ``chainrules_core``), not by an engine."""
    return [i for i in impls if i.__module__.partition(".")[0] in ("chainrules", "chainrules_core")]


def status(name: str) -> Row:
    """The row of the function ``name`` as the registries stand now."""
    reverse, forward = _rules_of(name)
    nondiff = _is_non_differentiable(reverse + forward)
    unruled = not (reverse or forward)
    return Row(
        name,
        "yes" if reverse and not nondiff else "",
        "yes" if forward and not nondiff else "",
        "yes" if nondiff else "",
        "yes" if unruled and _namespace_of(name) in LISTED_IN_FULL else "",
    )


def _namespace_of(name: str) -> str:
    """The covered namespace the (first alias of the) dotted name belongs to."""
    name = name.split(" / ")[0]
    return max((p for p in _NAMESPACES if name.startswith(p + ".")), key=len, default="")


def _excluded_names() -> set[str]:
    return {name for names in EXCLUDED.values() for name in names}


def _listed_in_full() -> Iterator[str]:
    """The public functions of :data:`LISTED_IN_FULL`, less classes and :data:`EXCLUDED` names."""
    excluded = _excluded_names()
    for name in _public_names().values():
        aliases = name.split(" / ")
        if _namespace_of(name) not in LISTED_IN_FULL or excluded.intersection(aliases):
            continue
        if not isinstance(lookup(name), type):
            yield name


def _names() -> Iterator[str]:
    names = _public_names()
    functions = {id(f): f for f in (*rrule.registered_functions(), *frule.registered_functions())}
    # an engine's own rules (zygote_engine's for np.copyto, say) are not the library's coverage
    yield from (
        names[key]
        for key, f in functions.items()
        if key in names
        and (_library_rules(rrule.implementations(f)) or _library_rules(frule.implementations(f)))
    )
    yield from _listed_in_full()
    for attr, distribution in _distributions():
        for method in _STATS_METHODS:
            if hasattr(type(distribution), method):
                yield f"scipy.stats.{attr}.{method}"


def rows() -> Iterator[Row]:
    """One row per covered function with a rule, and per numpy function still missing one, by name."""
    table = (status(name) for name in set(_names()))
    return iter(sorted(row for row in table if any(row[1:])))


def missing(table: list[Row]) -> list[str]:
    """The functions of the table marked missing: numerical numpy functions without any rule."""
    return [row.function for row in table if row.missing == "yes"]


def to_csv(table: list[Row]) -> str:
    """The table as CSV text with a header row; names are reST literals, as the docs show them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["function", "rrule", "frule", "non-differentiable", "missing"])
    writer.writerows(row._replace(function=f"``{row.function}``") for row in table)
    return buffer.getvalue()


def counts(table: list[Row]) -> dict[str, int]:
    """How many functions have an rrule, an frule, a non-differentiable registration, or none."""
    return {
        "rrule": sum(r.rrule == "yes" for r in table),
        "frule": sum(r.frule == "yes" for r in table),
        "non-differentiable": sum(r.non_differentiable == "yes" for r in table),
        "missing": sum(r.missing == "yes" for r in table),
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


def summary(table: list[Row]) -> str:
    """The counts of the numpy rows and the names of the missing numpy functions, for people."""
    numpy_rows = [row for row in table if _namespace_of(row.function) in LISTED_IN_FULL]
    numpy_counts = counts(numpy_rows)
    gaps = missing(numpy_rows)
    return "\n".join(
        [
            f"all rows: {counts(table)}",
            f"numpy rows: {len(numpy_rows)}, {numpy_counts}; "
            f"{len(_excluded_names())} excluded names (not numerical functions) and classes not listed",
            f"{len(gaps)} differentiable numpy functions are still missing a rule:",
            *(f"  {name}" for name in gaps),
        ]
    )


if __name__ == "__main__":
    table = list(rows())
    sys.stdout.write(to_csv(table))
    print(summary(table), file=sys.stderr)
