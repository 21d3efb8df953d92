"""Stage 4c: from the normal form, generate the forward-mode (tangent) function.

For ``def f(x, y)`` the result is ``def f__jvp(__fx, __df, __dparams, x, y)``: it runs the
primal and, beside every value that may carry a derivative, its tangent ``d<name>``. Every
operation on such values goes through the forward call protocol (``y, dy = __jcall(__fx, (fn,
*args), (dfn, *dargs))``, see :mod:`zygote_engine.forward_runtime`); everything else runs as
written. ``__df`` is the tangent of ``f`` itself (its captured variables'), ``__dparams`` one
tangent per parameter. The function returns ``(result, dresult)``.

Control flow needs nothing: the tangent follows the primal through the same branches and loops.
The normal form and its analysis (:mod:`zygote_engine.activity`) are the reverse stage's.
"""

from __future__ import annotations

import ast

from zygote_engine.activity import FunctionAnalysis, FunctionInfo, loaded_names
from zygote_engine.emit import (
    function_def,
    generated,
    located,
    strip_defaults,
    text,
    tuple_of,
    unpacked,
    with_leading,
)
from zygote_engine.inline import (
    as_syntax,
    forward_tangent,
    numbers_test,
    operand_text,
    scalar_adjoint,
)
from zygote_engine.module_state import NAMESPACE
from zygote_engine.normalize import HELPERS_NAME, OPERATOR_NAME, Namer

__all__ = ["RUNTIME_NAMES", "generate_jvp"]

# Run-time objects forward-mode code reads through closure cells (see forward_runtime.py).
RUNTIME_NAMES = (
    "__jcall",
    "__jclosure",
    "__jcaptured",
    "__jpairs",
    "__jrecord_kwargs",
    "__zero",
    "__no",
    "__SCALARS",
    "__PARTIALS",
    "__ZEROS",
    "__jtuple",
    "__jlist",
    "__jitem",
    "__jfit",
    "__jarray",
    NAMESPACE,
    OPERATOR_NAME,
    HELPERS_NAME,
)


def _array_test(fx: str, call: ast.Call, adjoint, tangents: dict[int, str]) -> str | None:
    """The run-time test under which an inline adjoint's templates give the tangent on an array
    (``__jarray``): one array operand, the others literal numbers (no broadcasting)."""
    if not adjoint.on_arrays or adjoint.arrays_test != "__on_arrays" or len(tangents) != 1:
        return None
    ((i, d),) = tangents.items()
    if not all(isinstance(a, ast.Constant) for j, a in enumerate(call.args) if j != i):
        return None
    return f"__jarray({fx}, {operand_text(call.args[i])}, {d})"


def generate_jvp(nf: ast.FunctionDef, info: FunctionInfo, namer: Namer) -> ast.FunctionDef:
    """The forward-mode function for the normal form ``nf``."""
    return _Forward(nf, info, namer).function()


class _Forward(FunctionAnalysis):
    def __init__(self, nf: ast.FunctionDef, info: FunctionInfo, namer: Namer):
        super().__init__(nf, info, namer)
        # the context, f's tangent and the parameters' tangents: fresh names where the function
        # already uses them (it is itself forward-mode code, differentiated again)
        self.fx, self.df, self.dparams = (
            name if name not in namer.used else namer.fresh(name)
            for name in ("__fx", "__df", "__dparams")
        )

    def function(self) -> ast.FunctionDef:
        nf, line = self.nf, self.nf.lineno
        *body, ret = nf.body
        prologue = []
        dparams = [self.dname(p) if p in self.active else "_" for p in self.params]
        if dparams:
            prologue.append(f"{unpacked(dparams)} = {self.dparams}")
        kwarg = nf.args.kwarg
        if kwarg is not None and kwarg.arg in self.active:
            prologue.append(f"__jrecord_kwargs({self.fx}, {kwarg.arg}, {self.dname(kwarg.arg)})")
        for name in sorted(self.captured()):
            prologue.append(f"{self.dname(name)} = __jcaptured({self.df}, {name!r})")
        result = f"return ({text(ret.value)}, {self.tangent(ret.value)})"
        args = with_leading(strip_defaults(nf.args), (self.fx, self.df, self.dparams))
        body = [
            *generated("\n".join(prologue), line),
            *self.block(body),
            *generated(result, ret.lineno),
        ]
        return function_def(f"{self.info.name}__jvp", args, body, line)

    def captured(self) -> set[str]:
        """The captured variables (closure cells) whose tangents the function reads."""
        return {n for n in self.active if n in self.info.freevars and n not in self.locals}

    def tangent(self, atom: ast.expr) -> str:
        """The expression of the tangent of an atom of the normal form."""
        if (
            isinstance(atom, ast.Name)
            and atom.id in self.active
            and (atom.id in self.locals or atom.id in self.info.freevars)
        ):
            return self.dname(atom.id)
        return "__zero"  # a literal, a module attribute, a global (a global's tangent is zero)

    def block(self, body: list[ast.stmt]) -> list[ast.stmt]:
        return [out for s in body for out in self.statement(s)]

    def statement(self, s: ast.stmt) -> list[ast.stmt]:
        if isinstance(s, ast.Assign):
            return self.assign(s, s.targets[0].id)
        if isinstance(s, ast.Expr):
            if self.needs_pullback(s.value):
                return generated(self.protocol(None, s.value), s.lineno)
            return [s]
        if isinstance(s, ast.FunctionDef):
            return [s, *self.closure_tangent(s.name, s, s.lineno)]
        if isinstance(s, ast.ClassDef):  # (it reads no variable of the function: see fence.py)
            zero = generated(f"{self.dname(s.name)} = __zero", s.lineno)
            return [s, *(zero if s.name in self.active else [])]
        if isinstance(s, ast.If):
            s.body, s.orelse = (
                self.block(s.body) or generated("pass", s.lineno),
                self.block(s.orelse),
            )
            return [located(s, s.lineno)]
        if isinstance(s, ast.For):
            return [self.for_loop(s)]
        if isinstance(s, ast.While):
            s.body = self.block(s.body) or generated("pass", s.lineno)
            return [located(s, s.lineno)]
        if isinstance(s, ast.Try):
            # an exception interrupts the tangents where it interrupts the values
            s.body = self.block(s.body) or generated("pass", s.lineno)
            for handler in s.handlers:
                handler.body = self.block(handler.body) or generated("pass", s.lineno)
                if handler.name in self.active:  # the exception's tangents are in the table
                    handler.body[:0] = generated(f"{self.dname(handler.name)} = __zero", s.lineno)
            s.orelse, s.finalbody = self.block(s.orelse), self.block(s.finalbody)
            return [located(s, s.lineno)]
        return [s]  # raise / assert: run as written

    def assign(self, s: ast.Assign, target: str) -> list[ast.stmt]:
        line, value = s.lineno, s.value
        if target not in self.active:
            syntax = as_syntax(value) if isinstance(value, ast.Call) else None
            return [s] if syntax is None else generated(f"{target} = {syntax}", line)
        if isinstance(value, ast.Lambda):
            return [s, *self.closure_tangent(target, value, line)]
        if isinstance(value, ast.Call):
            if self.needs_pullback(value):
                return generated(self.inline(target, value) or self.protocol(target, value), line)
            syntax = as_syntax(value)
            primal = [s] if syntax is None else generated(f"{target} = {syntax}", line)
            return [*primal, *generated(f"{self.dname(target)} = __zero", line)]
        if isinstance(value, (ast.Name, ast.Constant, ast.Attribute)):
            return [s, *generated(f"{self.dname(target)} = {self.tangent(value)}", line)]
        return [s, *generated(f"{self.dname(target)} = __zero", line)]  # an f-string

    def inline(self, target: str, call: ast.Call) -> str | None:
        """Arithmetic on Python numbers with float tangents written out, as in reverse mode
        (see :mod:`zygote_engine.inline`), with the call protocol as the fallback."""
        if not all(isinstance(a, (ast.Name, ast.Constant)) for a in call.args):
            return None
        item = (
            self.tuple_item(target, call)
            or self.tuple_display(target, call)
            or self.fitted(target, call)
        )
        if item is not None:
            return item
        operands = [operand_text(a) for a in call.args]
        tangents = {i: self.tangent(a) for i, a in enumerate(call.args) if self.is_active_atom(a)}
        floats = " and ".join(f"{d}.__class__ is float" for d in tangents.values())
        test = " and ".join(t for t in (numbers_test(call.args, operands), floats) if t)
        adjoint = scalar_adjoint(call)
        if adjoint is None or not adjoint.on_numbers:
            if self.has_scalar_partials(call):
                return self.inline_partials(target, call, operands, tangents, test)
            return None
        # the tangent first: the target may be an operand
        both = [
            f"    {self.dname(target)} = {forward_tangent(adjoint, operands, tangents)}",
            f"    {target} = {adjoint.primal.format(*operands)}",
        ]
        array = _array_test(self.fx, call, adjoint, tangents)
        return "\n".join(
            [
                f"if {test}:",
                *both,
                *([f"elif {array}:", *both] if array else []),
                "else:",
                f"    {self.protocol(target, call)}",
            ]
        )

    def fitted(self, target: str, call: ast.Call) -> str | None:
        """``__fit(g, x)`` of generated reverse-mode code: linear in ``g``, the same on its
        tangent (an inline adjoint's cotangent, differentiated again)."""
        if not (
            isinstance(call.func, ast.Name)
            and call.func.id == "__fit"
            and "__fit" in self.info.constants
            and len(call.args) == 2
        ):
            return None
        g, x = (text(a) for a in call.args)
        dg = self.tangent(call.args[0])
        return f"{target}, {self.dname(target)} = __jfit({self.fx}, {g}, {dg}, {x})"

    def tuple_display(self, target: str, call: ast.Call) -> str | None:
        """``(a, b)`` and ``tuple(t)`` of a tuple: no table is involved, so no protocol call;
        ``[a, b]``: the list's entry in the table made directly."""
        helper = text(call.func)
        items = [text(a) for a in call.args]
        tangents = tuple_of([self.tangent(a) for a in call.args])
        if helper == f"{HELPERS_NAME}.make_tuple":
            return f"{target} = {tuple_of(items)}\n{self.dname(target)} = __jtuple({tangents})"
        if helper == f"{HELPERS_NAME}.make_list":
            return "\n".join(
                [
                    f"{target} = __jlist({self.fx}, [{', '.join(items)}], {tangents})",
                    f"{self.dname(target)} = __zero",
                ]
            )
        if helper == f"{HELPERS_NAME}.as_tuple" and isinstance(call.args[0], ast.Name):
            xs = call.args[0].id
            return "\n".join(
                [
                    f"if {xs}.__class__ is tuple:",
                    f"    {self.dname(target)} = {self.tangent(call.args[0])}",
                    f"    {target} = {xs}",
                    "else:",
                    f"    {self.protocol(target, call)}",
                ]
            )
        return None

    def tuple_item(self, target: str, call: ast.Call) -> str | None:
        """``t[i]`` of a tuple or a list with a literal index (unpacking, in generated code above
        all): a tuple's tangent travels beside it, a list's items' are in the table."""
        f, args = call.func, call.args
        if not (
            isinstance(f, ast.Attribute)
            and f.attr == "getitem"
            and text(f) == f"{OPERATOR_NAME}.getitem"
            and len(args) == 2
            and isinstance(args[0], ast.Name)
            and isinstance(args[1], ast.Constant)
            and type(args[1].value) is int
        ):
            return None
        t, i, dt = args[0].id, args[1].value, self.tangent(args[0])
        return "\n".join(
            [
                f"if {t}.__class__ is tuple:",
                f"    {self.dname(target)} = __zero if {dt}.__class__ in __ZEROS else {dt}[{i}]",
                f"    {target} = {t}[{i}]",
                f"elif {t}.__class__ is list and {i} < len({t}):",
                f"    {self.dname(target)} = __jitem({self.fx}, {t}, {i})",
                f"    {target} = {t}[{i}]",
                "else:",
                f"    {self.protocol(target, call)}",
            ]
        )

    def inline_partials(
        self, target: str, call: ast.Call, operands: list[str], tangents: dict, test: str
    ) -> str:
        """A function with scalar partials (``math.sin``) on Python numbers, differentiated from
        the rule table's partials, asked again at run time (see ``reverse.inline_partials``)."""
        f = text(call.func)
        partials = self.namer.fresh("__p")
        # the partials are taken at the operands: a target that is one is assigned last
        result = self.namer.fresh("__y") if target in operands else target
        value = f"{partials}({', '.join(operands)}, {result})"
        if len(operands) == 1:
            dt = f"{value} * {tangents[0]}"
        else:
            q = self.namer.fresh("__q")
            dt = " + ".join(f"{q}[{i}] * {d}" for i, d in tangents.items())
        lines = [
            f"{partials} = __PARTIALS.get({f}) if {test} else None",
            f"if {partials} is not None:",
            f"    {result} = {f}({', '.join(operands)})",
        ]
        if len(operands) > 1:
            lines.append(f"    {q} = {value}")
        lines.append(f"    {self.dname(target)} = {dt}")
        if result != target:
            lines.append(f"    {target} = {result}")
        lines += [
            "else:",
            f"    {self.protocol(target, call)}",
        ]
        return "\n".join(lines)

    def protocol(self, target: str | None, call: ast.Call) -> str:
        """``y, dy = __jcall(__fx, (f, *args), (df, *dargs)[, kwargs, dkwargs])``."""
        atoms = [call.func, *call.args]
        primals = tuple_of([text(a) for a in atoms])
        tangents = tuple_of([self.tangent(a) for a in atoms])
        rest = ""
        if call.keywords:
            kwargs = ", ".join(f"{k.arg!r}: {text(k.value)}" for k in call.keywords)
            active = [k for k in call.keywords if self.is_active_atom(k.value)]
            dkwargs = ", ".join(f"{k.arg!r}: {self.tangent(k.value)}" for k in active)
            rest = f", {{{kwargs}}}, " + (f"{{{dkwargs}}}" if active else "None")
        run = f"__jcall({self.fx}, {primals}, {tangents}{rest})"
        if target is None:
            return run
        return f"{target}, {self.dname(target)} = {run}"

    def closure_tangent(self, target: str, fn: ast.AST, line: int) -> list[ast.stmt]:
        """A nested function's tangent: its captured variables' tangents, read when it runs."""
        if target not in self.active:
            return []
        inner_params = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
        outer = self.locals | self.info.freevars
        captured = sorted((loaded_names(fn) - inner_params) & self.active & outer)
        if not captured:
            return generated(f"{self.dname(target)} = __zero", line)
        names = tuple_of([repr(n) for n in captured])
        readers = ", ".join(f"lambda: {self.dname(n)}" for n in captured)
        return generated(f"{self.dname(target)} = __jclosure({names}, {readers})", line)

    def for_loop(self, s: ast.For) -> ast.stmt:
        x = s.target.id
        s.body = self.block(s.body) or generated("pass", s.lineno)
        if x in self.active:
            pair = ast.Tuple([s.target, ast.Name(self.dname(x), ast.Store())], ast.Store())
            s.target = pair
            s.iter = ast.parse(f"__jpairs({self.fx}, {s.iter.id})", mode="eval").body
        return located(s, s.lineno)
