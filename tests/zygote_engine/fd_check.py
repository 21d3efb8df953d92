"""Finite-difference reference gradients for the engine tests (never the engine's own output)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from chainrules_core import Tangent


def _leaves(x: Any, path: tuple = ()):
    """Paths to the float leaves of a nested argument (floats, float arrays, containers, objects)."""
    if isinstance(x, (bool, int, np.integer, str)) or x is None:
        return
    if isinstance(x, (float, np.floating)):
        yield path
    elif isinstance(x, np.ndarray):
        if x.dtype.kind == "f":
            for index in np.ndindex(x.shape):
                yield (*path, ("array", index))
    elif isinstance(x, (list, tuple)):
        for i, item in enumerate(x):
            yield from _leaves(item, (*path, ("item", i)))
    elif isinstance(x, dict):
        for k, item in x.items():
            yield from _leaves(item, (*path, ("item", k)))
    elif dataclasses.is_dataclass(x) or hasattr(x, "__dict__"):
        for k, item in vars(x).items():
            yield from _leaves(item, (*path, ("attr", k)))


def _get(x: Any, path: tuple) -> Any:
    for kind, key in path:
        x = getattr(x, key) if kind == "attr" else x[key]
    return x


def _set(x: Any, path: tuple, value: Any) -> Any:
    """``x`` with the leaf at ``path`` replaced (tuples are rebuilt, everything else is edited)."""
    if not path:
        return value
    (kind, key), rest = path[0], path[1:]
    if kind == "array":
        x[key] = value
        return x
    if kind == "attr":
        setattr(x, key, _set(getattr(x, key), rest, value))
        return x
    if isinstance(x, tuple):
        items = list(x)
        items[key] = _set(items[key], rest, value)
        return type(x)(*items) if hasattr(type(x), "_fields") else tuple(items)
    x[key] = _set(x[key], rest, value)
    return x


def fd_gradient(f, *args, eps: float = 1e-6) -> list[dict]:
    """Central differences: for each argument, a dict from leaf path to partial derivative."""
    grads = []
    for i, arg in enumerate(args):
        partials = {}
        for path in _leaves(arg):
            values = []
            for step in (eps, -eps):
                shifted = copy.deepcopy(args)
                arg_i = shifted[i]
                arg_i = _set(arg_i, path, _get(arg_i, path) + step)
                values.append(float(f(*shifted[:i], arg_i, *shifted[i + 1 :])))
            partials[path] = (values[0] - values[1]) / (2 * eps)
        grads.append(partials)
    return grads


def _engine_leaf(g: Any, path: tuple) -> float:
    """The engine's gradient at a leaf path; ``None`` and missing fields are zero."""
    for kind, key in path:
        if g is None:
            return 0.0
        if kind == "array":
            return float(np.asarray(g)[key])
        if isinstance(g, Tangent):
            g = g[key] if kind == "item" else getattr(g, key)
        elif kind == "attr":
            g = getattr(g, key)
        else:
            g = g[key]
        if g is None or type(g).__name__ in ("ZeroTangent", "NoTangent"):
            return 0.0
    return 0.0 if g is None else float(g)


def assert_gradient_matches_fd(f, *args, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """``zygote_engine.gradient(f, *args)`` agrees with central differences at every float leaf."""
    from zygote_engine import gradient

    expected = fd_gradient(f, *args)
    got = gradient(f, *copy.deepcopy(args))
    assert len(got) == len(args)
    for i, partials in enumerate(expected):
        for path, value in partials.items():
            actual = _engine_leaf(got[i], path)
            assert np.isclose(actual, value, rtol=rtol, atol=atol), (
                f"argument {i}, leaf {path}: engine {actual}, finite differences {value}"
            )
