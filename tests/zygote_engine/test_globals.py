"""Globals assigned in differentiated code (``global g; g = ...``) and ``del name``.

Each test pins down a way a gradient could silently go wrong: a read of the global elsewhere
(a callee, a later call, another differentiation) must see the value plain Python sees and carry
its cotangent back to what was assigned.
"""

from __future__ import annotations

import importlib.util
import linecache

import numpy as np
import pytest

from zygote_engine import Params, UnsupportedConstructError, gradient, jvp, pullback

SCALE = 1.0
SHIFTED = None
W = np.array([1.0, 2.0])


def _set_scale(v):
    global SCALE
    SCALE = v * 2.0


def _scaled(x):
    return SCALE * x


def _assign_then_call(x):
    _set_scale(x)  # SCALE = 2x
    return _scaled(x) + SCALE * x  # 4x²


def test_a_callee_reads_the_global_its_caller_assigned():
    assert gradient(_assign_then_call, 3.0) == (24.0,)
    assert SCALE == 6.0  # the module changed, as plain Python changes it
    assert jvp(_assign_then_call, (3.0,), (1.0,)) == (36.0, 24.0)
    _, back = pullback(_assign_then_call, 3.0)  # every value active (no masked variants)
    assert back(1.0) == (24.0,)


def _set_then_later_call(x):
    _set_scale(x)
    return _later(x)


def _later(x):
    return _scaled(x) * x  # 2x³


def test_a_later_call_reads_the_assigned_global():
    assert gradient(_set_then_later_call, 2.0) == (24.0,)
    assert jvp(_set_then_later_call, (2.0,), (1.0,)) == (16.0, 24.0)


def test_a_later_differentiation_reads_the_global_as_module_state():
    gradient(_assign_then_call, 3.0)
    assert gradient(_scaled, 5.0) == (6.0,)  # SCALE is 6.0 now: a constant of this one


def _shift_weights():
    global SHIFTED
    SHIFTED = W * 2.0


def _loss_through_an_assigned_global():
    _shift_weights()
    return np.sum(SHIFTED * SHIFTED)  # 4 ΣW²


def _loss_rebinding_its_parameter():
    global W
    before = np.sum(W)  # read before the assignment: the parameter itself
    W = W * 3.0
    return before + np.sum(W * W)  # ΣW₀ + 9 ΣW₀²


def test_params_through_an_assigned_global():
    gs = gradient(_loss_through_an_assigned_global, Params([W]))
    np.testing.assert_allclose(gs[W], 8.0 * W)


def test_params_of_a_global_the_loss_rebinds():
    global W
    original = W
    try:
        gs = gradient(_loss_rebinding_its_parameter, Params([original]))
        np.testing.assert_allclose(gs[original], 1.0 + 18.0 * original)
        np.testing.assert_allclose(W, 3.0 * original)  # rebound, as in plain Python
    finally:
        W = original


def _unbinds(x):
    y = x * 2.0
    del y
    return y  # noqa: F821 - the read raises


def test_reading_a_deleted_name_raises_at_its_line():
    line = _unbinds.__code__.co_firstlineno + 3
    for differentiate in (lambda: gradient(_unbinds, 1.0), lambda: jvp(_unbinds, (1.0,), (1.0,))):
        with pytest.raises(UnboundLocalError) as info:
            differentiate()
        assert info.traceback[-1].lineno + 1 == line


def _binds_a_global_with_walrus(x):
    global SHIFTED
    return (SHIFTED := x * 2.0) * x


def test_an_assignment_expression_binds_the_global():
    assert gradient(_binds_a_global_with_walrus, 3.0) == (12.0,)  # 2x², 4x
    assert SHIFTED == 6.0  # as plain Python binds it
    assert jvp(_binds_a_global_with_walrus, (1.5,), (1.0,)) == (4.5, 6.0)
    assert SHIFTED == 3.0


def _binds_a_global_with_def(x):
    global SHIFTED

    def SHIFTED(v):
        return v * 2.0

    return SHIFTED(x)


def test_binding_a_global_with_def_is_a_located_error():
    line = _binds_a_global_with_def.__code__.co_firstlineno + 3
    with pytest.raises(
        UnsupportedConstructError,
        match=rf"test_globals.py:{line}: the global 'SHIFTED' is bound here by a def statement",
    ):
        gradient(_binds_a_global_with_def, 1.0)


_READER = """
LEVEL = 1.0


def constant(x):
    return 0.0


def run(x):
    y = ASSIGN(x)
    return y + LEVEL * x
"""

_ASSIGNER = """

def assign(x):
    global LEVEL
    LEVEL = x * x
    return 0.0
"""


def test_a_global_assigned_by_code_defined_after_its_readers_were_differentiated(tmp_path):
    path = tmp_path / "late_assigner.py"
    path.write_text(_READER + _ASSIGNER)
    linecache.checkcache(str(path))
    spec = importlib.util.spec_from_file_location("late_assigner", path)
    module = importlib.util.module_from_spec(spec)
    exec(compile(_READER, str(path), "exec"), vars(module))  # the assigner is not defined yet
    module.ASSIGN = module.constant
    assert gradient(module.run, 3.0) == (1.0,)  # LEVEL read as module state
    padded = "\n" * _READER.count("\n") + _ASSIGNER
    exec(compile(padded, str(path), "exec"), vars(module))
    module.ASSIGN = module.assign
    line = _READER.count("\n") + 4
    with pytest.raises(UnsupportedConstructError, match=f"late_assigner.py:{line}: the global"):
        gradient(module.run, 2.0)  # run, running, reads LEVEL after assign wrote it
    module.LEVEL = 1.0
    assert gradient(module.run, 2.0) == (12.0,)  # transformed again: d/dx x³ = 3x²
