"""Tests of the non-differentiable builtins (chainrules/builtins/nondifferentiable.py)."""

import logging
import warnings

import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import AbstractZero, NoTangent, frule, rrule

_LOGGER = logging.getLogger("chainrules.tests")

CALLS = [
    (len, [1.0, 2.0]),
    (range, 3),
    (range, 1, 5, 2),
    (isinstance, 1.0, float),
    (issubclass, bool, int),
    (type, 1.5),
    (id, 1.5),
    (hash, 1.5),
    (repr, 1.5),
    (str, 1.5),
    (ascii, "é"),
    (format, 1.5, ".2f"),
    (bool, 0.5),
    (callable, len),
    (hasattr, 1.5, "real"),
    (ord, "a"),
    (chr, 97),
    (bin, 5),
    (hex, 255),
    (oct, 8),
    (all, [1.0, 0.0]),
    (any, np.array([0.0, 2.0])),
    (print, "x =", 1.5),
    (logging.debug, "x = %s", 1.5),
    (logging.info, "x"),
    (logging.warning, "x"),
    (logging.error, "x"),
    (logging.critical, "x"),
    (logging.log, logging.DEBUG, "x"),
    (_LOGGER.info, "x = %s", 1.5),
    (_LOGGER.debug, "x"),
    (_LOGGER.warning, "x"),
    (_LOGGER.error, "x"),
    (_LOGGER.critical, "x"),
    (_LOGGER.log, logging.DEBUG, "x"),
]


@pytest.mark.parametrize("call", CALLS, ids=lambda call: getattr(call[0], "__qualname__", "?"))
def test_rules_exist_and_give_no_tangent(call, capsys):
    f, *args = call
    y, back = rrule(f, *args)
    if f not in (id, print) and not callable(getattr(f, "__self__", None)):
        expected = f(*args)
        assert y == expected or y is expected
    tangents = back(1.0)
    assert all(isinstance(t, NoTangent) for t in tangents)
    assert isinstance(frule((NoTangent(), *(NoTangent() for _ in args)), f, *args)[1], AbstractZero)


@pytest.mark.parametrize(
    "call",
    [
        (str.join, ",", ["a", "b"]),
        (str.split, "a,b", ","),
        (str.format, "{} = {}", "x", 1.5),
        (str.startswith, "xs", "x"),
        (str.replace, "a-b", "-", "+"),
        (str.upper, "ab"),
    ],
    ids=lambda call: call[0].__qualname__,
)
def test_string_methods_give_no_tangent(call):
    # (nested differentiation runs rules' own code, which builds einsum subscripts from lists)
    f, *args = call
    y, back = rrule(f, *args)
    assert y == f(*args)
    assert all(isinstance(t, NoTangent) for t in back(1.0))
    assert isinstance(frule((NoTangent(), *(NoTangent() for _ in args)), f, *args)[1], AbstractZero)


def test_exception_logging_and_warnings_give_no_tangent():
    try:
        raise ValueError("boom")
    except ValueError:
        assert rrule(logging.exception, "failed")[1](1.0) == (NoTangent(), NoTangent())
        assert rrule(_LOGGER.exception, "failed")[1](1.0) == (NoTangent(), NoTangent())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert rrule(warnings.warn, "careful")[1](1.0) == (NoTangent(), NoTangent())
