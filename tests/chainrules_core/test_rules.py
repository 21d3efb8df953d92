"""The rule registries: keyed by function object, then multiple dispatch. Private tables keep tests isolated."""

import numbers
import sys

import numpy as np
import pytest

from chainrules_core import (
    AmbiguousRuleWarning,
    HasForwardsMode,
    HasReverseMode,
    NoForwardsMode,
    NoTangent,
    RuleConfig,
)
from chainrules_core.rules import ForwardRules, ReverseRules


@pytest.fixture
def table():
    return ReverseRules("rrule")


@pytest.fixture
def ftable():
    return ForwardRules("frule")


def constant_rule(label):
    def rule(*args, **kwargs):
        return label, lambda dy: (NoTangent(),) + (dy,) * len(args)

    return rule


class Reverse(RuleConfig, HasReverseMode, NoForwardsMode):
    pass


class Forward(RuleConfig, HasForwardsMode, NoForwardsMode):
    pass


def f(*args, **kwargs):
    return args


def test_no_rule_gives_none(table):
    assert table(f, 1.0) is None
    table.add(f, (str,), constant_rule("str"))
    assert table(f, 1.0) is None


@pytest.mark.parametrize(
    "key",
    [f, len, np.frompyfunc(lambda x: x, 1, 1), sys.getsizeof, np.ndarray.sum],
    ids=["function", "builtin", "ufunc", "builtin2", "method_descriptor"],
)
def test_rules_are_keyed_by_the_function_object(table, key):
    table.add(key, (), constant_rule("hit"))
    y, _ = table(key, np.ones(2))
    assert y == "hit"
    assert table(lambda x: x, np.ones(2)) is None


def test_untyped_rules_match_any_arguments(table):
    table.add(f, (), constant_rule("any"))
    assert table(f)[0] == "any"
    assert table(f, 1, "a", None)[0] == "any"


def test_most_specific_signature_wins(table):
    table.add(f, (), constant_rule("any"))
    table.add(f, (numbers.Real,), constant_rule("real"))
    table.add(f, (float,), constant_rule("float"))
    table.add(f, (np.ndarray,), constant_rule("array"))
    assert table(f, 1.0)[0] == "float"
    assert table(f, 1)[0] == "real"
    assert table(f, np.float32(1.0))[0] == "real"
    assert table(f, np.ones(2))[0] == "array"
    assert table(f, "s")[0] == "any"


def test_tuple_of_types_is_a_union(table):
    table.add(f, ((int, str), float), constant_rule("union"))
    assert table(f, 1, 2.0)[0] == "union"
    assert table(f, "a", 2.0)[0] == "union"
    assert table(f, 2.0, 2.0) is None


def test_ambiguous_signatures_warn_at_registration_naming_both(table):
    table.add(f, (numbers.Real, object), constant_rule("a"))
    with pytest.warns(AmbiguousRuleWarning, match=r"ambiguous signatures.*Real.*object"):
        table.add(f, (object, numbers.Real), constant_rule("b"))


def test_keyword_arguments_are_passed_through(table):
    def with_kwargs(x, scale=1.0):
        return x * scale, lambda dy: (NoTangent(), dy * scale)

    table.add(f, (), with_kwargs)
    y, back = table(f, 2.0, scale=3.0)
    assert y == 6.0
    assert back(1.0) == (NoTangent(), 3.0)


def test_registering_after_first_use_takes_effect_at_once(table):
    table.add(f, (), constant_rule("generic"))
    assert table(f, 1.0)[0] == "generic"
    table.add(f, (float,), constant_rule("float"))
    assert table(f, 1.0)[0] == "float"


def test_every_registration_advances_the_generation(table):
    start = table.generation
    table.add(f, (), constant_rule("generic"))
    table.add(f, (float,), constant_rule("float"))
    assert table.generation == start + 2
    table(f, 1.0)  # resolving does not
    assert table.generation == start + 2


def test_a_python_function_without_rules_resolves_to_none_whatever_the_arguments(table):
    def plain(x):
        return x

    assert table.resolve(None, plain, (1.0,)) is None
    assert table.resolve(Reverse(), plain, ([1, 2], "a")) is None
    table.add(plain, (float,), constant_rule("float"))
    assert table.resolve(None, plain, (1.0,)) is not None


def _scalar_rule_impl(partials):
    """A rule implementation that says it was made by scalar_rule (as scalar_rule's do)."""
    impl = constant_rule("scalar")
    impl.scalar_partials = partials
    return impl


def test_scalar_partials_list_functions_whose_one_rule_came_from_scalar_rule(table):
    def square(x):
        return x * x

    def partials(x, out):
        return 2 * x

    table.add(square, (), _scalar_rule_impl(partials))
    assert table.scalar_partials[square] is partials
    table.add(square, (np.ndarray,), constant_rule("arrays"))  # another rule: the engine must ask
    assert square not in table.scalar_partials


@pytest.mark.parametrize(
    "types, listed",
    [((), True), ((numbers.Number,), True), ((float,), False), ((np.ndarray,), False)],
    ids=["any", "Number", "float only", "arrays only"],
)
def test_scalar_partials_need_a_rule_for_python_ints_and_floats(table, types, listed):
    def cube(x):
        return x**3

    table.add(cube, types, _scalar_rule_impl(lambda x, out: 3 * x * x))
    assert (cube in table.scalar_partials) is listed


def test_scalar_partials_skip_config_rules_and_cannot_be_written(table):
    def halve(x):
        return x / 2

    table.add(halve, (), _scalar_rule_impl(lambda x, out: 0.5), config=HasReverseMode)
    assert halve not in table.scalar_partials
    with pytest.raises(TypeError):
        table.scalar_partials[halve] = None


def test_register_decorator_returns_the_rule(table):
    @table.register(f, float)
    def rule(x):
        return x, lambda dy: (NoTangent(), dy)

    assert callable(rule)
    assert table(f, 2.0)[0] == 2.0
    assert f in table.registered_functions()


def test_unhashable_functions_are_rejected_with_a_message(table):
    class Unhashable:
        __hash__ = None

        def __call__(self, x):
            return x

    with pytest.raises(TypeError, match="not hashable"):
        table.add(Unhashable(), (), constant_rule("x"))


def test_config_rules_need_a_config_with_the_capability(table):
    def needs_engine(config, x):
        return ("engine", type(config).__name__), lambda dy: (NoTangent(), dy)

    table.add(f, (), needs_engine, config=HasReverseMode)
    assert table(f, 1.0) is None
    assert table(Forward(), f, 1.0) is None
    assert table(Reverse(), f, 1.0)[0] == ("engine", "Reverse")


def test_config_rules_are_tried_before_plain_rules_and_plain_rules_still_apply(table):
    table.add(f, (float,), constant_rule("plain"))
    assert table(Reverse(), f, 1.0)[0] == "plain"
    table.add(f, (), lambda config, x: ("configured", None), config=HasReverseMode)
    assert table(Reverse(), f, 1.0)[0] == "configured"
    assert table(f, 1.0)[0] == "plain"


def test_config_must_be_a_capability_class(table):
    with pytest.raises(TypeError, match="capability class"):
        table.add(f, (), constant_rule("x"), config=Reverse())


class Scaler:
    def __init__(self, factor):
        self.factor = factor

    def scale(self, x):
        return self.factor * x

    def __call__(self, x):
        return self.factor * x


def scale_rule(self, x):
    def scale_pullback(dy):
        return NoTangent(), ("d_self", dy * x), dy * self.factor

    return self.factor * x, scale_pullback


def test_bound_methods_resolve_to_the_unbound_rule_and_receiver_tangent_comes_first(table):
    table.add(Scaler.scale, (), scale_rule)
    s = Scaler(3.0)
    y, back = table(s.scale, 2.0)
    assert y == 6.0
    assert back(1.0) == (("d_self", 2.0), 3.0)


def test_builtin_bound_methods_resolve_to_the_method_descriptor(table):
    def sum_rule(x):
        return x.sum(), lambda dy: (NoTangent(), np.full(x.shape, dy))

    table.add(np.ndarray.sum, (np.ndarray,), sum_rule)
    x = np.ones(3)
    y, back = table(x.sum)
    assert y == 3.0
    (dx,) = back(1.0)
    np.testing.assert_array_equal(dx, np.ones(3))


def test_callable_instances_resolve_to_their_class_call(table):
    table.add(Scaler.__call__, (Scaler, float), scale_rule)
    s = Scaler(2.0)
    y, back = table(s, 5.0)
    assert y == 10.0
    assert back(1.0) == (("d_self", 5.0), 2.0)
    assert table(s, "not a float") is None


def test_an_instance_rule_of_its_own_beats_the_class_call(table):
    s = Scaler(2.0)
    table.add(Scaler.__call__, (), scale_rule)
    table.add(s, (), constant_rule("instance"))
    assert table(s, 1.0)[0] == "instance"


def test_instances_share_their_class_resolution_and_keep_none_alive(table):
    # (an engine differentiating pullback objects again makes one per call)
    table.add(Scaler.__call__, (Scaler, float), scale_rule)
    assert table(Scaler(2.0), 5.0)[0] == 10.0
    entries = len(table._cache)
    instances = [Scaler(float(k)) for k in range(20)]
    assert [table(s, 1.0)[0] for s in instances] == [float(k) for k in range(20)]
    assert len(table._cache) == entries
    s = instances[3]
    table.add(s, (), constant_rule("instance"))  # registered later: its own rule applies
    assert table(s, 1.0)[0] == "instance"
    assert table(instances[4], 1.0)[0] == 4.0


def test_rrule_needs_a_function(table):
    with pytest.raises(TypeError, match="needs the function"):
        table()


def test_frule_passes_tangents_first(ftable):
    def sin_frule(tangents, x):
        _, dx = tangents
        return np.sin(x), np.cos(x) * dx

    ftable.add(np.sin, (), sin_frule)
    assert ftable((NoTangent(), 2.0), np.sin, 0.0) == (0.0, 2.0)
    assert ftable((NoTangent(), 1.0), np.cos, 0.0) is None


def test_frule_rejects_a_wrong_number_of_tangents(ftable):
    ftable.add(f, (), lambda tangents, x: (x, tangents[1]))
    with pytest.raises(ValueError, match="one tangent for the function itself first"):
        ftable((1.0,), f, 2.0)
    with pytest.raises(TypeError, match="needs tangents and a function"):
        ftable((NoTangent(),))


def test_frule_of_a_bound_method_uses_the_method_tangent_for_the_receiver(ftable):
    def scale_frule(tangents, self, x):
        _, dself, dx = tangents
        return self.factor * x, dself * x + self.factor * dx

    ftable.add(Scaler.scale, (), scale_frule)
    s = Scaler(3.0)
    assert ftable((0.5, 1.0), s.scale, 2.0) == (6.0, 0.5 * 2.0 + 3.0)


def test_frule_config_rules(ftable):
    ftable.add(f, (), lambda config, tangents, x: (x, "forward-engine"), config=HasForwardsMode)
    assert ftable((NoTangent(), 1.0), f, 1.0) is None
    assert ftable(Forward(), (NoTangent(), 1.0), f, 1.0) == (1.0, "forward-engine")


def test_implementations_lists_every_registered_rule_but_opt_outs(table):
    from chainrules_core.rules import _opted_out

    generic, typed = constant_rule("generic"), constant_rule("typed")
    table.add(f, (), generic)
    table.add(f, (float,), typed)
    table.add(f, (int,), _opted_out)
    table.add(f, (), constant_rule("configured"), config=HasReverseMode)
    assert set(table.implementations(f)) >= {generic, typed}
    assert len(table.implementations(f)) == 3
    assert table.implementations(len) == []
