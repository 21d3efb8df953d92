import math

import pytest

from chainrules_core import (
    HasForwardsMode,
    HasReverseMode,
    NoForwardsMode,
    NoReverseMode,
    NoTangent,
    RuleConfig,
    frule_via_ad,
    rrule_via_ad,
)


class ReverseOnly(RuleConfig, HasReverseMode, NoForwardsMode):
    def rrule_via_ad(self, f, *args, **kwargs):
        y = f(*args, **kwargs)
        return y, lambda dy: (NoTangent(), dy * 2.0)


class ForwardOnly(RuleConfig, HasForwardsMode, NoReverseMode):
    def frule_via_ad(self, tangents, f, *args, **kwargs):
        return f(*args, **kwargs), tangents[1] * 3.0


def test_rrule_via_ad_delegates_to_the_config():
    y, back = rrule_via_ad(ReverseOnly(), math.exp, 0.0)
    assert y == 1.0
    assert back(1.0) == (NoTangent(), 2.0)


def test_frule_via_ad_delegates_to_the_config():
    assert frule_via_ad(ForwardOnly(), (NoTangent(), 1.0), math.exp, 0.0) == (1.0, 3.0)


def test_a_config_without_a_mode_explains_what_it_lacks():
    with pytest.raises(NotImplementedError, match="no reverse mode"):
        rrule_via_ad(ForwardOnly(), math.exp, 0.0)
    with pytest.raises(NotImplementedError, match="no forward mode"):
        frule_via_ad(ReverseOnly(), (NoTangent(), 1.0), math.exp, 0.0)


def test_capabilities_are_isinstance_checks():
    assert isinstance(ReverseOnly(), HasReverseMode)
    assert not isinstance(ReverseOnly(), HasForwardsMode)
    assert isinstance(ForwardOnly(), NoReverseMode)
