"""Scalar arithmetic written out inline: the operator syntax, and adjoints for Python numbers.

Through the call protocol an operation such as ``t = y * x`` costs a rule lookup, a rule call, a
pullback closure and, in the backward pass, a pullback call: microseconds, where the arithmetic
itself takes tens of nanoseconds. For the operators below the generated code checks at run time
whether the operands are Python ``float`` s or ``int`` s or numpy ``float64`` scalars (not
``bool``, not other numpy scalars). If they are, it runs ``t = y * x`` itself, keeps only the
operands the adjoint needs, and in the backward pass adds ``dt * x`` and ``dt * y`` to the
cotangents directly, as one would by hand. Otherwise it
takes the call protocol, so the same code still works, through the rules, on arrays and on
anything else. The derivatives are those of the ``operator`` rules in ``chainrules``.

Matrix products of float64 arrays are written out the same way, on arrays only (see
:mod:`zygote_engine.array_inline`).

Operator calls that need no pullback (comparisons feeding a branch, say) are written as syntax
too, which saves a function call. Calls of functions whose rule comes from ``scalar_rule``
(``math.sin(x)``) are inlined from the rule table's partials instead of templates
(``reverse._Reverse.inline_partials``).
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass

from zygote_engine.normalize import OPERATOR_NAME

__all__ = [
    "ScalarAdjoint",
    "as_syntax",
    "forward_tangent",
    "numbers_test",
    "operand_text",
    "operator_name",
    "scalar_adjoint",
    "scalar_constant",
]

# Templates: {0}, {1} are the operands, {dy} the cotangent of the result; a partial on arrays
# that fits its result to its operand itself is given what the operand's record holds as {fit}
# (the array, or its shape), which does not count as a read of the operand.
_SYNTAX = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "truediv": "{0} / {1}",
    "floordiv": "{0} // {1}",
    "mod": "{0} % {1}",
    "pow": "{0} ** {1}",
    "matmul": "{0} @ {1}",
    "lshift": "{0} << {1}",
    "rshift": "{0} >> {1}",
    "or_": "{0} | {1}",
    "xor": "{0} ^ {1}",
    "and_": "{0} & {1}",
    "neg": "-{0}",
    "pos": "+{0}",
    "invert": "~{0}",
    "not_": "not {0}",
    "eq": "{0} == {1}",
    "ne": "{0} != {1}",
    "lt": "{0} < {1}",
    "le": "{0} <= {1}",
    "gt": "{0} > {1}",
    "ge": "{0} >= {1}",
    "is_": "{0} is {1}",
    "is_not": "{0} is not {1}",
    "contains": "{1} in {0}",
    "getitem": "{0}[{1}]",
}


@dataclass(frozen=True)
class ScalarAdjoint:
    """The primal and the partial cotangents of one scalar operation, as expression templates."""

    primal: str
    partials: tuple[str, ...]  # the cotangent contribution to each operand
    # whether the templates hold elementwise on float64 arrays too (``+=`` on an array writes it)
    on_arrays: bool = True
    # whether they hold on Python numbers (``@`` does not apply to them)
    on_numbers: bool = True
    # the run-time test, a function of the config and the operands, for the array templates
    arrays_test: str = "__on_arrays"

    def operands_used(self, i: int) -> set[int]:
        """The operands that operand ``i``'s partial reads."""
        return {j for j in range(len(self.partials)) if f"{{{j}}}" in self.partials[i]}


def _adjoint(name: str, *partials: str) -> ScalarAdjoint:
    return ScalarAdjoint(_SYNTAX[name], partials)


_ADJOINTS = {
    "add": _adjoint("add", "{dy}", "{dy}"),
    "sub": _adjoint("sub", "{dy}", "-{dy}"),
    "mul": _adjoint("mul", "{dy} * {1}", "{dy} * {0}"),
    "truediv": _adjoint("truediv", "{dy} / {1}", "-{dy} * {0} / ({1} * {1})"),
    "neg": _adjoint("neg", "-{dy}"),
    "pos": _adjoint("pos", "{dy}"),
    # float64 vectors and matrices (see zygote_engine.array_inline)
    "matmul": ScalarAdjoint(
        _SYNTAX["matmul"],
        ("__matmul_left({dy}, {1}, {fit})", "__matmul_right({0}, {dy}, {fit})"),
        on_numbers=False,
        arrays_test="__on_matrices",
    ),
}
# Python numbers are immutable: ``y += x`` computes what ``y + x`` does (on arrays it does not).
_ADJOINTS.update(
    {
        "i" + name: dataclasses.replace(_ADJOINTS[name], on_arrays=False)
        for name in ("add", "sub", "mul", "truediv")
    }
)


def _power(exponent: int) -> ScalarAdjoint:
    """``x ** k`` for an integer literal ``k``: a real result, and no derivative in ``k``."""
    if exponent == 0:
        partial = "{dy} * 0.0"
    elif exponent == 1:
        partial = "{dy}"
    else:
        partial = f"{{dy}} * {exponent} * {{0}}" + (f" ** {exponent - 1}" if exponent != 2 else "")
    return _adjoint("pow", partial, "0.0")


def operator_name(call: ast.Call) -> str | None:
    """``name`` for a normalised ``operator.<name>(...)`` call without keywords, else ``None``."""
    f = call.func
    if (
        isinstance(f, ast.Attribute)
        and isinstance(f.value, ast.Name)
        and f.value.id == OPERATOR_NAME
        and not call.keywords
    ):
        return f.attr
    return None


def scalar_constant(e: ast.expr) -> bool:
    """Whether ``e`` is a literal Python ``int`` or ``float`` (``bool`` is not)."""
    return isinstance(e, ast.Constant) and type(e.value) in (int, float)


def scalar_adjoint(call: ast.Call) -> ScalarAdjoint | None:
    """The inline adjoint of a normalised ``operator.<name>(a, b)`` call, or ``None``.

    Literal operands must be ints or floats; ``**`` is inlined for integer literal exponents only
    (a float exponent of a negative base gives a complex number).
    """
    name = operator_name(call)
    if name in ("pow", "ipow"):
        exponent = call.args[1]
        if isinstance(exponent, ast.Constant) and type(exponent.value) is int:
            adjoint = _power(exponent.value)
            return adjoint if name == "pow" else dataclasses.replace(adjoint, on_arrays=False)
        return None
    adjoint = _ADJOINTS.get(name)
    if adjoint is None or len(call.args) != len(adjoint.partials):
        return None
    if any(isinstance(a, ast.Constant) and not scalar_constant(a) for a in call.args):
        return None
    return adjoint


def operand_text(e: ast.expr) -> str:
    """An atom as an operand of an operator: negative literals in parentheses."""
    text = e.id if isinstance(e, ast.Name) else ast.unparse(e)
    return f"({text})" if text.startswith("-") else text


def as_syntax(call: ast.Call) -> str | None:
    """``a * b`` for ``operator.mul(a, b)`` (any operator with a syntax), or ``None``."""
    template = _SYNTAX.get(operator_name(call) or "")
    if template is None or len(call.args) != template.count("{"):
        return None
    return template.format(*map(operand_text, call.args))


def numbers_test(args: list[ast.expr], texts: list[str]) -> str:
    """The run-time test that every name among ``args`` holds a ``float``, an ``int`` or a numpy
    ``float64``."""
    names = dict.fromkeys(t for a, t in zip(args, texts) if isinstance(a, ast.Name))
    return " and ".join(f"{t}.__class__ in __SCALARS" for t in names) or "True"


def forward_tangent(adjoint: ScalarAdjoint, operands: list[str], tangents: dict[int, str]) -> str:
    """The tangent of a scalar operation: the sum over operands of partial times tangent.

    The adjoint's partials are linear in ``{dy}``; with each operand's tangent for ``{dy}``,
    their sum is the directional derivative (``tangents`` maps an operand's position to its
    tangent's text; operands left out have none).
    """
    terms = [adjoint.partials[i].format(*operands, dy=d) for i, d in tangents.items()]
    # (every partial is a product, a quotient, a negation or a call: each binds tighter than +)
    return " + ".join(terms) or "0.0"
