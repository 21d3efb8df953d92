"""chainrules_core.testing: check any rule against finite differences (the ChainRulesTestUtils of Python)."""

from chainrules_core.testing.checks import (
    FULL_CHECK_LIMIT,
    WithTangent,
    nondiff,
    test_frule,
    test_rrule,
    test_scalar,
)
from chainrules_core.testing.finite_differences import jacobian_transpose_vector, jvp
from chainrules_core.testing.flatten import layout_of
from chainrules_core.testing.random_tangents import rand_tangent

__all__ = [
    "FULL_CHECK_LIMIT",
    "WithTangent",
    "jacobian_transpose_vector",
    "jvp",
    "layout_of",
    "nondiff",
    "rand_tangent",
    "test_frule",
    "test_rrule",
    "test_scalar",
]
