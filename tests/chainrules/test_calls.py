"""Reading a rule's call by name: ``bound_arguments`` binds as ``inspect`` does, once per shape."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from chainrules.calls import bound_arguments


def _everything(a, b=2, *rest, c, d=5, **options):
    pass


def _by_inspect(f, args, kwargs):
    bound = inspect.signature(f).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


@pytest.mark.parametrize(
    ("f", "args", "kwargs"),
    [
        (_everything, (1,), {"c": 3}),
        (_everything, (1, 2, 3, 4), {"c": 7, "z": 9}),
        (_everything, (), {"a": 1, "c": 3, "d": 4, "y": 0}),
        (np.sum, (np.ones(3),), {}),
        (np.max, (np.ones((2, 3)),), {"axis": 1, "keepdims": True}),
        (np.linspace, (0.0, 1.0, 5), {"endpoint": False}),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_binds_as_inspect_does(f, args, kwargs):
    for _ in range(2):  # the second call takes the binding worked out by the first
        assert bound_arguments(f, args, kwargs) == _by_inspect(f, args, kwargs)


def test_keyword_values_and_a_fresh_dict_of_extra_keywords_each_call():
    first = bound_arguments(_everything, (1,), {"c": 3, "z": 9})
    second = bound_arguments(_everything, (1,), {"c": 4, "z": 10})
    assert (first["c"], first["options"], second["c"], second["options"]) == (
        3,
        {"z": 9},
        4,
        {"z": 10},
    )
    assert first["options"] is not second["options"]


def test_a_call_that_does_not_bind_says_why():
    with pytest.raises(TypeError, match="missing a required argument: 'a'"):
        bound_arguments(_everything, (), {})
    with pytest.raises(TypeError, match="unexpected keyword argument 'axes'"):
        bound_arguments(np.sort, (np.ones(2),), {"axes": 0})


def test_a_signature_binds_too():
    signature = inspect.signature(_everything)
    assert bound_arguments(signature, (1,), {"c": 3}) == _by_inspect(_everything, (1,), {"c": 3})
