"""Stage 4: from the normal form, generate one forward function with a nested backward closure.

For ``def f(x, y)`` the result is ``def f__forward(__cx, x, y)``: it runs the primal, sends every
operation through the run-time call protocol (``y, pb = __call(__cx, fn, *args)``), and returns
``(result, f__backward)``. ``f__backward(dresult)`` replays the operations in reverse, accumulating
cotangents ``d<name>`` with ``__add``, and returns ``(df, *dparams)``.

Code that runs at most once per call (straight-line code and branches outside loops) keeps each
pullback, and which way each branch went, in a local of the forward that the backward closure
reads. Inside loops, pullbacks, branch flags and trip counts go onto a per-call tape that the
backward pass reads from the end.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chainrules_core import rrule
from zygote_engine.inline import ScalarAdjoint, as_syntax, operand_text, scalar_adjoint
from zygote_engine.normalize import HELPERS_NAME, OPERATOR_NAME, Namer

__all__ = ["POSITIONAL_CALL_LIMIT", "RUNTIME_NAMES", "ReverseInput", "generate"]

# Run-time objects the generated code reads through closure cells (see cache.py).
# Calls with fewer positional arguments than this, and no keywords, go through ``__call<n>``.
POSITIONAL_CALL_LIMIT = 5
RUNTIME_NAMES = (
    "__call",
    *(f"__call{n}" for n in range(POSITIONAL_CALL_LIMIT)),
    "__add",
    "__add_lazy",
    "__zero",
    "__no",
    "__ZEROS",
    "__SCALARS",
    "__PARTIALS",
    "__scalar_cotangents",
    "__must_run",
    "__closure_tangent",
    "__deposit",
    "__resolve",
    OPERATOR_NAME,
    HELPERS_NAME,
)


@dataclass(frozen=True)
class ReverseInput:
    """What the reverse stage needs to know about the function besides its normal form."""

    name: str
    freevars: frozenset[str]
    is_global: Callable[[str], bool]  # a name bound in the module globals to differentiable state
    is_module: Callable[[str], bool]
    value_of: Callable[[str], Any]  # a free name's value when the function is first transformed


def generate(nf: ast.FunctionDef, info: ReverseInput, namer: Namer) -> ast.FunctionDef:
    """The forward function (with its nested backward) for the normal form ``nf``."""
    return _Reverse(nf, info, namer).forward()


def _text(node: ast.AST) -> str:
    """Source text of an atom of the normal form (``ast.unparse``, quicker for the common ones)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return ast.unparse(node)


def _parse(text: str, line: int) -> list[ast.stmt]:
    """The statements of ``text``, marked to be placed on the user's ``line`` when compiled."""
    body = ast.parse(text).body
    _mark(body, line)
    return body


def _mark(body: list[ast.stmt], line: int) -> None:
    """Give generated statements their user line (``codegen.place`` gives it to their parts)."""
    for stmt in body:
        stmt.user_line = line
        if isinstance(stmt, (ast.If, ast.For, ast.While, ast.FunctionDef)):
            _mark(stmt.body, line)
            _mark(getattr(stmt, "orelse", []), line)


def _loaded_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


class _LoadedNames(dict):
    """``_loaded_names`` memoised per node (the activity analysis asks many times)."""

    def __missing__(self, node: ast.AST) -> set[str]:
        names = self[node] = _loaded_names(node)
        return names


class _Reverse:
    def __init__(self, nf: ast.FunctionDef, info: ReverseInput, namer: Namer):
        self.nf, self.info, self.namer = nf, info, namer
        self.params = [a.arg for a in (*nf.args.posonlyargs, *nf.args.args)]
        if nf.args.vararg:
            self.params.append(nf.args.vararg.arg)
        self.params += [a.arg for a in nf.args.kwonlyargs]
        if nf.args.kwarg:
            self.params.append(nf.args.kwarg.arg)
        self.locals = set(self.params)
        self.assign_counts: dict[str, int] = dict.fromkeys(self.params, 1)
        self.loop_assigned: set[str] = set()
        self.loop_variables: set[str] = set()
        self.receivers: dict[str, str] = {}  # m -> obj for ``m = getattr(obj, "name")``
        self.loaded = _LoadedNames()
        self._scan(nf.body, in_loop=False)
        self.active = self._activity()
        self.values = self._used_as_values()
        self.cots: dict[str, str] = {}
        self.pb_count = 0
        self.uses_tape = False

    # -- analysis --

    def _scan(self, body: list[ast.stmt], in_loop: bool) -> None:
        for s in body:
            targets = []
            if isinstance(s, ast.Assign):
                targets = [s.targets[0].id]
                value = s.value
                if (
                    isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Name)
                    and value.func.id == "getattr"
                    and isinstance(value.args[0], ast.Name)
                ):
                    self.receivers[targets[0]] = value.args[0].id
            elif isinstance(s, ast.FunctionDef):
                targets = [s.name]
            elif isinstance(s, ast.For):
                targets = [s.target.id]
                self.loop_variables.add(s.target.id)
            for t in targets:
                self.locals.add(t)
                self.assign_counts[t] = self.assign_counts.get(t, 0) + 1
                if in_loop:
                    self.loop_assigned.add(t)
            if isinstance(s, ast.If):
                self._scan(s.body, in_loop)
                self._scan(s.orelse, in_loop)
            elif isinstance(s, (ast.For, ast.While)):
                self._scan(s.body, True)

    def _used_as_values(self) -> set[str]:
        """Names read as values anywhere (not only as the test of an ``if`` or a ``while``)."""
        names: set[str] = set()
        for s in _statements(self.nf.body):
            if isinstance(s, (ast.Assign, ast.Expr, ast.Return, ast.FunctionDef)):
                names |= self.loaded[s]
            elif isinstance(s, ast.For):
                names.add(s.iter.id)
        return names

    def is_active_atom(self, e: ast.expr) -> bool:
        return isinstance(e, ast.Name) and e.id in self.active

    def _initially_active(self) -> set[str]:
        names = set(self.params)
        for node in ast.walk(self.nf):
            if not isinstance(node, ast.Name) or node.id in self.locals:
                continue
            captured = node.id in self.info.freevars and not self.info.is_module(node.id)
            if captured or self.info.is_global(node.id):
                names.add(node.id)
        return names

    def _activity(self) -> set[str]:
        """Names whose value may carry a derivative (fixed point over the body)."""
        active = self._activity_from(self._initially_active())
        if any(self._may_mutate(s) and self.loaded[s] & active for s in _statements(self.nf.body)):
            # Active values are stored into containers, and any container may be an alias of
            # another (``alias = xs``, ``row = m[0]``): every container-valued local is active.
            active |= {
                s.targets[0].id
                for s in _statements(self.nf.body)
                if isinstance(s, ast.Assign) and isinstance(s.value, (ast.Call, ast.Name))
            }
            return self._activity_from(active)
        return active

    def _activity_from(self, active: set[str]) -> set[str]:
        changed = True
        while changed:
            changed = False
            for s in _statements(self.nf.body):
                new = self._activated_by(s, active)
                if not new <= active:
                    active |= new
                    changed = True
        return active

    @staticmethod
    def _may_mutate(s: ast.stmt) -> bool:
        """Whether ``s`` calls something that may store values into its arguments: any call but
        the operators and helpers of the normal form (whose writes are statements of their own)."""
        if isinstance(s, ast.Expr):
            return True
        return isinstance(s, ast.Assign) and isinstance(s.value, ast.Call) and not _is_pure(s.value)

    def _activated_by(self, s: ast.stmt, active: set[str]) -> set[str]:
        names: set[str] = set()
        if isinstance(s, ast.Assign) and self.loaded[s.value] & active:
            names.add(s.targets[0].id)
        elif isinstance(s, ast.FunctionDef) and self.loaded[s] & active:
            names.add(s.name)
        elif isinstance(s, ast.For) and s.iter.id in active:
            names.add(s.target.id)
        if self._may_mutate(s) and self.loaded[s.value] & active:
            # the call may store an active value into any argument, or into the object whose
            # method it is (``xs.append(x)`` is ``m = getattr(xs, "append"); m(x)``)
            called = {a.id for a in [s.value.func, *s.value.args] if isinstance(a, ast.Name)}
            called |= {self.receivers[n] for n in called if n in self.receivers}
            names |= called & self.locals
        return names

    def needs_pullback(self, call: ast.Call, target: str | None = None) -> bool:
        atoms = [call.func, *call.args, *(k.value for k in call.keywords)]
        if target is not None and target not in self.values and _is_test_operator(call.func):
            return False  # a comparison that only feeds `if`/`while` tests has no cotangent
        return any(self.is_active_atom(a) for a in atoms)

    def has_work(self, body: list[ast.stmt]) -> bool:
        """Whether a block does anything in the backward pass."""
        return any(self._statement_has_work(s) for s in body)

    def _statement_has_work(self, s: ast.stmt) -> bool:
        if isinstance(s, ast.Assign):
            return s.targets[0].id in self.active
        if isinstance(s, ast.FunctionDef):
            return s.name in self.active
        if isinstance(s, ast.Expr):
            return self.needs_pullback(s.value)
        if isinstance(s, ast.If):
            return self.has_work(s.body) or self.has_work(s.orelse)
        if isinstance(s, ast.For):
            return s.target.id in self.active or self.has_work(s.body)
        if isinstance(s, ast.While):
            return self.has_work(s.body)
        return False

    def cot(self, name: str) -> str:
        """The cotangent variable of ``name``: ``d<name>`` unless that name is taken."""
        if name not in self.cots:
            candidate = "d" + name
            self.cots[name] = (
                candidate if candidate not in self.namer.used else self.namer.fresh(candidate + "_")
            )
            self.namer.used.add(self.cots[name])
        return self.cots[name]

    def accumulate(self, name: str, tangent: str) -> str:
        """``d<name> += tangent``. Inputs that are never reassigned only hand their cotangent back,
        so thunks may stay unevaluated (``__add_lazy``); the cotangents of anything else feed
        pullbacks, which are called with evaluated cotangents (``__add`` evaluates thunks).
        The first tangent of a zero accumulator is taken as it is, without a call, where that is
        known to be right: always for ``__add_lazy``, for floats (never thunks) for ``__add``."""
        d = self.cot(name)
        if self.assign_counts.get(name, 0) <= (name in self.params):
            return f"{d} = {tangent} if {d} is __zero else __add_lazy({d}, {tangent})"
        first = f"{d} is __zero and {tangent}.__class__ is float"
        return f"{d} = {tangent} if {first} else __add({d}, {tangent})"

    def needs_reset(self, name: str) -> bool:
        return name in self.loop_assigned or self.assign_counts.get(name, 0) > 1

    def is_stable(self, e: ast.expr) -> bool:
        """Whether the backward pass still sees the value ``e`` had in the forward pass: a literal,
        or a local assigned once outside loops (others may be rebound, captured ones by the
        enclosing function, after the forward pass)."""
        if isinstance(e, ast.Constant):
            return True
        name = e.id if isinstance(e, ast.Name) else None
        return (
            name in self.locals and name not in self.loop_variables and not self.needs_reset(name)
        )

    # -- generation --

    def forward(self) -> ast.FunctionDef:
        nf, line = self.nf, self.nf.lineno
        *body, ret = nf.body
        fwd, bwd = self.block(body, in_loop=False)
        result = _text(ret.value)
        # a constant result's cotangent is unused, but the backward still takes it
        active_result = self.is_active_atom(ret.value)
        result_cot = self.cot(ret.value.id) if active_result else self.namer.fresh("dresult")
        name = self.info.name
        backward_def = self.backward_def(name, result_cot, bwd, line)
        prologue = _parse("__tape = []", line) if self.uses_tape else []
        epilogue = [*backward_def, *_parse(f"return ({result}, {name}__backward)", ret.lineno)]
        args = _strip_defaults(nf.args)
        args.args.insert(0, ast.arg(arg="__cx"))
        return ast.FunctionDef(
            name=f"{name}__forward",
            args=args,
            body=[*prologue, *fwd, *epilogue],
            decorator_list=[],
            returns=None,
            type_comment=None,
            lineno=line,
            col_offset=0,
        )

    def backward_def(
        self, name: str, result_cot: str, bwd: list[ast.stmt], line: int
    ) -> list[ast.stmt]:
        cots = [self.cot(n) for n in sorted(self.active) if self.cot(n) != result_cot]
        head = []
        if cots:
            head += _parse(" = ".join(cots) + " = __zero", line)
        if self.uses_tape:
            head += _parse("__stack = __tape.copy()", line)
        tail = []
        for g in sorted(n for n in self.active if n not in self.locals and self.info.is_global(n)):
            tail += _parse(f"__deposit(__cx, {g}, {self.cot(g)})", line)
        captured = sorted(
            n for n in self.active if n in self.info.freevars and n not in self.locals
        )
        if self.info.freevars:
            fields = ", ".join(f"{n}={self.cot(n)}" for n in captured)
            df = f"__closure_tangent({fields})"
        else:
            df = "__no"
        dparams = [self.param_cot(p) for p in self.params]
        tail += _parse(f"return ({', '.join([df, *dparams])},)", line)
        fn = _parse(f"def {name}__backward({result_cot}):\n    pass", line)[0]
        fn.body = [*head, *bwd, *tail]
        return [fn]

    def param_cot(self, p: str) -> str:
        if p in self.active:
            kwarg = self.nf.args.kwarg
            if kwarg is not None and p == kwarg.arg:
                return f"__resolve(__cx, {p}, {self.cot(p)})"  # the callee-owned **kwargs dict
            return self.cot(p)
        return "__no"

    def block(self, body: list[ast.stmt], in_loop: bool) -> tuple[list[ast.stmt], list[ast.stmt]]:
        """(forward statements, backward statements in execution order) of a block."""
        fwd: list[ast.stmt] = []
        backward_parts: list[list[ast.stmt]] = []
        for s in body:
            f, b = self.statement(s, in_loop)
            fwd += f
            backward_parts.append(b)
        return fwd, [stmt for part in reversed(backward_parts) for stmt in part]

    def statement(self, s: ast.stmt, in_loop: bool):
        if isinstance(s, ast.Assign):
            target = s.targets[0].id
            if isinstance(s.value, ast.Call):
                return self.call(s, target, s.value, in_loop)
            return self.simple_assign(s, target)
        if isinstance(s, ast.Expr):
            return self.call(s, None, s.value, in_loop)
        if isinstance(s, ast.FunctionDef):
            return [s], self.closure_backward(s.name, s, s.lineno)
        if isinstance(s, ast.If):
            return self.branch(s, in_loop)
        if isinstance(s, ast.For):
            return self.for_loop(s, in_loop)
        if isinstance(s, ast.While):
            return self.while_loop(s, in_loop)
        return [s], []  # raise / assert: run as written

    def simple_assign(self, s: ast.Assign, target: str):
        line = s.lineno
        if target not in self.active:
            return [s], []
        if isinstance(s.value, ast.Lambda):
            return [s], self.closure_backward(target, s.value, line)
        dt = self.cot(target)
        bwd = []
        if self.is_active_atom(s.value) and s.value.id != target:
            bwd.append(self.accumulate(s.value.id, dt))
        if self.needs_reset(target):
            bwd.append(f"{dt} = __zero")
        return [s], _parse("\n".join(bwd), line) if bwd else []

    def closure_backward(self, target: str, fn: ast.AST, line: int) -> list[ast.stmt]:
        """A nested function's tangent holds its captured variables: pass them on."""
        if target not in self.active:
            return []
        dg = self.cot(target)
        inner_params = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
        outer = self.locals | self.info.freevars
        captured = sorted((_loaded_names(fn) - inner_params) & self.active & outer)
        lines = [f"if {dg}.__class__ not in __ZEROS:"]
        lines += ["    " + self.accumulate(v, f"{dg}.{v}") for v in captured] or ["    pass"]
        if self.needs_reset(target):
            lines.append(f"{dg} = __zero")
        return _parse("\n".join(lines), line)

    def call(self, s: ast.stmt, target: str | None, call: ast.Call, in_loop: bool):
        line = s.lineno
        if not self.needs_pullback(call, target):
            reset = []
            if target in self.active and self.needs_reset(target):
                reset = _parse(f"{self.cot(target)} = __zero", line)
            syntax = as_syntax(call) if target is not None else None
            return ([s] if syntax is None else _parse(f"{target} = {syntax}", line)), reset
        self.pb_count += 1
        pb = f"pb{self.pb_count}"
        atoms = [call.func, *call.args, *(k.value for k in call.keywords)]
        slots = [f"__g{i}" if self.is_active_atom(a) else "_" for i, a in enumerate(atoms)]
        dt = "__zero" if target is None else self.cot(target)
        fwd = [self.protocol_forward(pb, target, call)]
        pullback = [f"{', '.join(slots)}, = {pb}({dt})"]
        # Operands that are names or literals (a module attribute such as ``math.pi`` is rare,
        # and may be rebound) can be checked for Python numbers and written out inline.
        if target is not None and all(isinstance(a, (ast.Name, ast.Constant)) for a in call.args):
            adjoint = scalar_adjoint(call)
            if adjoint is not None:
                fwd, pullback = self.inline(pb, target, call, adjoint, fwd, pullback)
            elif self.has_scalar_partials(call):
                fwd, pullback = self.inline_partials(pb, target, call, fwd, pullback)
        if target is None:
            bwd = [f"if __must_run({pb}):"]
        else:
            bwd = [f"if {dt}.__class__ not in __ZEROS or __must_run({pb}):"]
        bwd += ["    " + line for line in pullback]
        if target is not None and self.needs_reset(target):
            bwd.append(f"    {dt} = __zero")
        for slot, a in zip(slots, atoms):
            if slot != "_":
                bwd.append("    " + self.accumulate(a.id, slot))
        if in_loop:
            self.uses_tape = True
            fwd.append(f"__tape.append({pb})")
            bwd.insert(0, f"{pb} = __stack.pop()")
        return _parse("\n".join(fwd), line), _parse("\n".join(bwd), line)

    def protocol_forward(self, pb: str, target: str | None, call: ast.Call) -> str:
        """The forward line of a call through the call protocol: ``y, pb = __call(...)``."""
        args = ", ".join(
            ["__cx", _text(call.func), *map(_text, call.args)]
            + [f"{k.arg}={_text(k.value)}" for k in call.keywords]
        )
        n = len(call.args)
        caller = f"__call{n}" if n < POSITIONAL_CALL_LIMIT and not call.keywords else "__call"
        return (
            f"{pb} = {caller}({args})[1]"
            if target is None
            else f"{target}, {pb} = {caller}({args})"
        )

    def has_scalar_partials(self, call: ast.Call) -> bool:
        """Whether the callee is, when first transformed, a function whose only rule comes from
        ``scalar_rule`` (``math.sin``, say): see :meth:`inline_partials`."""
        if call.keywords or not 1 <= len(call.args) <= 2:
            return False
        f = call.func
        if isinstance(f, ast.Name) and f.id not in self.locals:
            fn = self.info.value_of(f.id)
        elif (
            isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and self.info.is_module(f.value.id)
        ):
            fn = getattr(self.info.value_of(f.value.id), f.attr, None)
        else:
            return False
        try:
            partials = rrule.scalar_partials.get(fn)
        except TypeError:  # unhashable
            return False
        return partials is not None and getattr(fn, "nin", len(call.args)) == len(call.args)

    def inline_partials(
        self,
        pb: str,
        target: str,
        call: ast.Call,
        protocol_fwd: list[str],
        protocol_pullback: list[str],
    ) -> tuple[list[str], list[str]]:
        """A call of a function with scalar partials, on Python numbers, differentiated in place.

        The rule table is asked again at run time (``__PARTIALS``, which a registration or a
        rebinding of the name changes), and ``pb`` keeps the partials function, the arguments and
        the result, from which the backward pass computes each argument's cotangent. Anything
        else takes the call protocol.
        """
        f = _text(call.func)
        args = [operand_text(a) for a in call.args]
        fwd = [
            f"{pb} = __PARTIALS.get({f}) if {_numbers_test(call.args, args)} else None",
            f"if {pb} is not None:",
            f"    {pb} = ({pb}, {', '.join(args)}, {f}({', '.join(args)}))",
            f"    {target} = {pb}[-1]",
            "else:",
            *("    " + line for line in protocol_fwd),
        ]
        saved = [self.namer.fresh("a") for _ in args]
        out = self.namer.fresh(target + "_")
        slots = [f"__g{i + 1}" if self.is_active_atom(a) else "_" for i, a in enumerate(call.args)]
        dt = self.cot(target)
        cotangents = f"__scalar_cotangents(__p, ({', '.join(saved)},), {out}, {dt})"
        fast = [f"__p, {', '.join(saved)}, {out} = {pb}"]
        if len(args) == 1:  # the usual case, a real partial and cotangent, without the helper
            real = f"__q.__class__ in __SCALARS and {dt}.__class__ is float"
            fast += [
                f"__q = __p({saved[0]}, {out})",
                f"__g1 = {dt} * __q if {real} else {cotangents}[0]",
            ]
        else:
            fast.append(f"{', '.join(slots)}, = {cotangents}")
        pullback = [
            f"if {pb}.__class__ is tuple:",
            *("    " + line for line in fast),
            "else:",
            *("    " + line for line in protocol_pullback),
        ]
        return fwd, pullback

    def inline(
        self,
        pb: str,
        target: str,
        call: ast.Call,
        adjoint: ScalarAdjoint,
        protocol_fwd: list[str],
        protocol_pullback: list[str],
    ) -> tuple[list[str], list[str]]:
        """Arithmetic on Python numbers written out, with the call protocol as the fallback.

        ``pb`` holds either the fallback's pullback or the operands the adjoint needs (none:
        ``None``; one: the number; more: a tuple), which tells the backward pass which ran.
        Returns the forward lines and the backward lines that compute the ``__g<i>``.
        """
        operands = [operand_text(a) for a in call.args]
        active = [i for i, a in enumerate(call.args) if self.is_active_atom(a)]
        needed = sorted({j for i in active for j in adjoint.operands_used(i)})
        # operands that may have changed by the time the backward pass runs are kept
        kept = list(dict.fromkeys(operands[j] for j in needed if not self.is_stable(call.args[j])))
        if not kept:
            record, test = "None", f"{pb} is None"
        elif len(kept) == 1:
            record, test = kept[0], f"{pb}.__class__ in __SCALARS"
        else:
            record, test = f"({', '.join(kept)},)", f"{pb}.__class__ is tuple"
        restored = {o: self.namer.fresh(o + "_") for o in kept}
        values = [restored.get(o, o) for o in operands]
        fwd = [
            f"if {_numbers_test(call.args, operands)}:",
            f"    {pb} = {record}",  # before the assignment: the target may be an operand
            f"    {target} = {adjoint.primal.format(*operands)}",
            "else:",
            *("    " + line for line in protocol_fwd),
        ]
        fast = []
        if kept:
            fast.append(f"{', '.join(restored.values())}{',' if len(kept) > 1 else ''} = {pb}")
        dt = self.cot(target)
        fast += [f"__g{i + 1} = {adjoint.partials[i].format(*values, dy=dt)}" for i in active]
        pullback = [
            f"if {test}:",
            *("    " + line for line in fast),
            "else:",
            *("    " + line for line in protocol_pullback),
        ]
        return fwd, pullback

    def branch(self, s: ast.If, in_loop: bool):
        line = s.lineno
        if not (self.has_work(s.body) or self.has_work(s.orelse)):
            return [s], []
        body_f, body_b = self.block(s.body, in_loop)
        else_f, else_b = self.block(s.orelse, in_loop)
        if in_loop:
            self.uses_tape = True
            taken, not_taken, test = "__tape.append(True)", "__tape.append(False)", "__stack.pop()"
        else:  # runs at most once: a local remembers the way it went
            flag = self.namer.fresh("taken")
            taken, not_taken, test = f"{flag} = True", f"{flag} = False", flag
        fwd = ast.If(
            test=s.test,
            body=[*body_f, *_parse(taken, line)],
            orelse=[*else_f, *_parse(not_taken, line)],
        )
        bwd = _parse(f"if {test}:\n    pass\nelse:\n    pass", line)[0]
        bwd.body = body_b or _parse("pass", line)
        bwd.orelse = else_b
        return [_located(fwd, line)], [bwd]

    def for_loop(self, s: ast.For, in_loop: bool):
        line = s.lineno
        x, items = s.target.id, s.iter.id
        x_active = x in self.active
        if not (x_active or self.has_work(s.body)):
            return [s], []
        body_f, body_b = self.block(s.body, in_loop=True)
        fwd = [_located(ast.For(target=s.target, iter=s.iter, body=body_f, orelse=[]), line)]
        k = self.namer.fresh("k")
        if in_loop:
            self.uses_tape = True
            fwd += _parse(f"__tape.append(len({items}))", line)
            count = "__stack.pop()"
        else:
            count = f"len({items})"
        n = self.namer.fresh("n")
        head = [f"{n} = {count}"]
        if x_active:
            head.append(f"{self.cot(items)} = [__zero] * {n}")
        loop = _parse(f"for {k} in range({n} - 1, -1, -1):\n    pass", line)[0]
        loop.body = body_b or _parse("pass", line)
        if x_active:
            dx = self.cot(x)
            loop.body += _parse(f"{self.cot(items)}[{k}] = {dx}\n{dx} = __zero", line)
        return fwd, [*_parse("\n".join(head), line), loop]

    def while_loop(self, s: ast.While, in_loop: bool):
        line = s.lineno
        if not self.has_work(s.body):
            return [s], []
        body_f, body_b = self.block(s.body, in_loop=True)
        n = self.namer.fresh("n")
        fwd = [*_parse(f"{n} = 0", line)]
        loop = _located(
            ast.While(test=s.test, body=[*_parse(f"{n} += 1", line), *body_f], orelse=[]), line
        )
        fwd.append(loop)
        if in_loop:
            self.uses_tape = True
            fwd += _parse(f"__tape.append({n})", line)
        count = "__stack.pop()" if in_loop else n
        back = _parse(f"for _ in range({count}):\n    pass", line)[0]
        back.body = body_b or _parse("pass", line)
        return fwd, [back]


# Pure functions whose results normalisation uses as branch conditions.
_TEST_OPERATORS = frozenset(
    {"lt", "le", "gt", "ge", "eq", "ne", "not_", "truth", "is_", "is_not", "contains"}
)


def _numbers_test(args: list[ast.expr], texts: list[str]) -> str:
    """The run-time test that every name among ``args`` holds a Python ``float`` or ``int``."""
    names = dict.fromkeys(t for a, t in zip(args, texts) if isinstance(a, ast.Name))
    return " and ".join(f"{t}.__class__ in __SCALARS" for t in names) or "True"


def _is_pure(call: ast.Call) -> bool:
    """Whether ``call`` is of an operator, a normal-form helper or ``getattr``, which store nothing
    into their arguments (a write such as ``operator.setitem`` is a statement of its own);
    ``zy.apply`` calls whatever it is given."""
    f = call.func
    if isinstance(f, ast.Name):
        return f.id == "getattr"
    return (
        isinstance(f, ast.Attribute)
        and isinstance(f.value, ast.Name)
        and f.value.id in (OPERATOR_NAME, HELPERS_NAME)
        and f.attr != "apply"
    )


def _is_test_operator(func: ast.expr) -> bool:
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == OPERATOR_NAME
        and func.attr in _TEST_OPERATORS
    )


def _statements(body: list[ast.stmt]):
    for s in body:
        yield s
        if isinstance(s, ast.If):
            yield from _statements(s.body)
            yield from _statements(s.orelse)
        elif isinstance(s, (ast.For, ast.While)):
            yield from _statements(s.body)


def _located(node: ast.stmt, line: int) -> ast.stmt:
    node.user_line = line
    return node


def _strip_defaults(args: ast.arguments) -> ast.arguments:
    """Parameters without defaults or annotations: defaults are the live ones of the user's function."""

    def bare(a: ast.arg | None) -> ast.arg | None:
        return None if a is None else ast.arg(arg=a.arg)

    return ast.arguments(
        posonlyargs=[bare(a) for a in args.posonlyargs],
        args=[bare(a) for a in args.args],
        vararg=bare(args.vararg),
        kwonlyargs=[bare(a) for a in args.kwonlyargs],
        kw_defaults=[None] * len(args.kwonlyargs),
        kwarg=bare(args.kwarg),
        defaults=[],
    )
