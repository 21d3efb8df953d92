import numpy as np

from chainrules_core import InplaceableThunk, Thunk, thunk, unthunk


def test_thunk_computes_lazily_and_once():
    calls = []

    def compute():
        calls.append(1)
        return 2.5

    t = Thunk(compute)
    assert calls == []
    assert unthunk(t) == 2.5
    assert unthunk(t) == 2.5
    assert calls == [1]


def test_nested_thunks_unwrap_fully():
    t = thunk(lambda: thunk(lambda: thunk(lambda: 4.0)))
    assert unthunk(t) == 4.0


def test_unthunk_of_a_non_thunk_is_identity():
    x = np.ones(2)
    assert unthunk(x) is x
    assert unthunk(None) is None


def test_thunk_decorator_form():
    @thunk
    def dx():
        return 7.0

    assert isinstance(dx, Thunk)
    assert unthunk(dx) == 7.0


def test_repr_shows_state():
    t = Thunk(lambda: 1.0)
    assert repr(t) == "Thunk(pending)"
    t.unthunk()
    assert repr(t) == "Thunk(1.0)"


def test_inplaceable_thunk_value_and_inplace_add():
    dy = np.array([1.0, 2.0])
    t = InplaceableThunk(lambda buf: np.add(buf, dy, out=buf), lambda: dy * 1.0)
    np.testing.assert_array_equal(unthunk(t), dy)
    buf = np.array([10.0, 20.0])
    assert t.add_into(buf) is buf
    np.testing.assert_array_equal(buf, [11.0, 22.0])


def test_inplaceable_thunk_accepts_a_thunk_as_value():
    t = InplaceableThunk(lambda buf: buf, thunk(lambda: 3.0))
    assert unthunk(t) == 3.0
