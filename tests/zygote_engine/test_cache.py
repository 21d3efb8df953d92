"""Transforms are cached per code object; rules registered later take effect; refresh() empties."""

from __future__ import annotations

import numpy as np

from chainrules_core import NoTangent, rrule
from zygote_engine import cache, gradient, pullback, refresh


def test_second_call_does_not_transform_again():
    def f(x):
        return x * x

    gradient(f, 1.0)
    count = cache.transform_count
    gradient(f, 2.0)
    assert cache.transform_count == count


def test_redefinition_takes_effect():
    def f(x):
        return x * 2.0

    assert gradient(f, 1.0) == (2.0,)

    def f(x):
        return x * 3.0

    assert gradient(f, 1.0) == (3.0,)


def test_refresh_forgets_transforms():
    def f(x):
        return x + 1.0

    gradient(f, 1.0)
    count = cache.transform_count
    refresh()
    gradient(f, 1.0)
    assert cache.transform_count == count + 1


class _Opaque:
    """A callable object whose rule is registered after a first gradient call."""

    def __call__(self, x):
        return x * 2.0


def test_rule_registered_after_first_call_takes_effect():
    opaque = _Opaque()

    def f(x):
        return opaque(x)

    assert gradient(f, 1.0) == (2.0,)

    @rrule.register(_Opaque.__call__)
    def _(self, x):
        return x * 2.0, lambda dy: (NoTangent(), NoTangent(), 100.0 * dy)

    assert gradient(f, 1.0) == (100.0,)


def test_closures_of_one_code_object_share_a_transform_but_not_values():
    def make(k):
        def f(x):
            return k * x

        return f

    gradient(make(2.0), 1.0)
    count = cache.transform_count
    assert gradient(make(5.0), 1.0) == (5.0,)
    assert cache.transform_count == count


def test_rule_registered_for_a_function_already_called_directly_takes_effect():
    def inner(x):
        return x * 2.0

    def outer(x):
        return inner(x) + 1.0

    assert gradient(outer, 1.0) == (2.0,)
    # called again, it skips the rule lookup...
    assert [e.ruleless_at for e in _entries(id(inner))] == [rrule.generation]
    assert gradient(outer, 1.0) == (2.0,)
    rrule.add(inner, (float,), lambda x: (inner(x), lambda dy: (NoTangent(), 100.0 * dy)))
    assert gradient(outer, 1.0) == (100.0,)  # ...until a registration changes the generation


def test_refresh_forgets_forwards_and_a_dead_function_leaves_no_entry():
    def make():
        def f(x):
            return x * x

        return f

    f = make()
    gradient(f, 1.0)
    pullback(f, 1.0)
    key = id(f)
    assert len(_entries(key)) == 2  # gradient's (no closure tangent) and pullback's
    del f
    assert not _entries(key)  # entries hold their function weakly
    g = make()
    gradient(g, 1.0)
    refresh()
    assert not _entries(id(g)) and gradient(g, 3.0) == (6.0,)


def _entries(key: int) -> list:
    """The cached forwards of the function with id ``key``: its own and its variants (a call
    that knows some values carry no derivative, gradient's for one, has one of its own)."""
    variants = [e for k, e in cache.VARIANTS.items() if k[0] == key]
    return [e for e in (cache.FORWARDS.get(key), *variants) if e is not None]


def _scaled(x):
    return x * 2.0


def calls_scaled(x):
    return _scaled(x)


def test_a_rule_for_other_argument_types_is_found_after_a_call_without_one():
    # a rule for arrays only: a float call differentiates the code, an array call uses the rule
    rrule.add(_scaled, (np.ndarray,), lambda x: (_scaled(x), lambda dy: (NoTangent(), 100.0 * dy)))
    assert gradient(calls_scaled, 1.0) == (2.0,)
    assert gradient(calls_scaled, 1.0) == (2.0,)
    (da,) = gradient(lambda a: np.sum(calls_scaled(a)), np.ones(2))
    np.testing.assert_array_equal(da, [100.0, 100.0])


_shadowed = 5.0  # a module global with the same name as a lambda's parameter below


def test_a_lambda_parameter_is_not_the_global_of_the_same_name():
    def outer(xs):
        return sum(map(lambda _shadowed: _shadowed * 2.0, xs))

    assert gradient(outer, [1.0, 2.0]) == ([2.0, 2.0],)
    saved = globals().pop("_shadowed")
    try:  # the enclosing function's code must not read the global (it no longer exists)
        assert gradient(outer, [1.0, 2.0]) == ([2.0, 2.0],)
    finally:
        globals()["_shadowed"] = saved


def test_equal_code_in_two_files_is_two_transforms(tmp_path):
    import importlib.util

    source = "def f(x):\n    return x * scale\n"
    modules = []
    for name, scale in (("first_copy", 2.0), ("second_copy", 3.0)):
        path = tmp_path / f"{name}.py"
        path.write_text(source + f"scale = {scale}\n")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    first, second = (m.f for m in modules)
    assert first.__code__ == second.__code__  # Python's equality ignores the file
    assert gradient(first, 1.0) == (2.0,) and gradient(second, 1.0) == (3.0,)
    assert cache.transformed(second).co_filename == str(tmp_path / "second_copy.py")
