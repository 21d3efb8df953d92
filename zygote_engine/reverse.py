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
import copy
import dataclasses
from typing import NamedTuple

import numpy as np

from zygote_engine import primitives as zy
from zygote_engine.activity import (
    ATOM,
    FunctionAnalysis,
    FunctionInfo,
    loaded_names,
    try_blocks,
)
from zygote_engine.array_inline import EXTREMA
from zygote_engine.codegen import BACKWARD_COMMENT
from zygote_engine.emit import (
    compound,
    function_def,
    generated,
    located,
    strip_defaults,
    text,
    tuple_of,
    unpacked,
    with_leading,
)
from zygote_engine.float_loops import ENTRY_TESTS, FLOAT, ZERO, NumberOp, states
from zygote_engine.float_recursion import number_version
from zygote_engine.inline import (
    ScalarAdjoint,
    as_syntax,
    numbers_test,
    operand_text,
    scalar_adjoint,
)
from zygote_engine.module_state import NAMESPACE
from zygote_engine.normalize import HELPERS_NAME, OPERATOR_NAME, Namer

__all__ = ["POSITIONAL_CALL_LIMIT", "RUNTIME_NAMES", "SELF", "FunctionInfo", "generate"]

# The forward itself, in the cell its binding makes (see cache.py): recursion calls it directly.
SELF = "__SELF"
# Run-time objects the generated code reads through closure cells (see cache.py).
# Calls with fewer positional arguments than this, and no keywords, go through ``__call<n>``.
POSITIONAL_CALL_LIMIT = 5
RUNTIME_NAMES = (
    "__call",
    "__callm",
    "__callk",
    *(f"__call{n}" for n in range(POSITIONAL_CALL_LIMIT)),
    *(f"__callm{n}" for n in range(POSITIONAL_CALL_LIMIT)),
    "__add",
    "__add_lazy",
    "__zero",
    "__no",
    "__ZEROS",
    "__SCALARS",
    "__FIRST",
    "__STATEFUL",
    "__ATOMS",
    "__PARTIALS",
    "__partial_cotangents",
    "__on_arrays",
    "__on_matrices",
    "__on_array",
    "__matmul_left",
    "__matmul_right",
    "__element_read",
    "__add_at",
    "__element_write",
    "__element_unwrite",
    "__appended",
    "__numbers",
    "__REDUCTIONS",
    "__READS_INPUT",
    "__fit",
    "__fit_partial",
    "__ndarray",
    "__F64",
    "__like",
    "__must_run",
    "__itself",
    SELF,
    "__closure_tangent",
    "__deposit",
    "__resolve",
    NAMESPACE,
    OPERATOR_NAME,
    HELPERS_NAME,
)


def generate(
    nf: ast.FunctionDef, info: FunctionInfo, namer: Namer, inactive: tuple[int, ...] = ()
) -> ast.FunctionDef:
    """The forward function (with its nested backward) for the normal form ``nf``; ``inactive``
    are the positions (0: the function's captured variables, then its positional parameters)
    whose values the caller knows to carry no derivative (see ``runtime.call_masked``)."""
    return _Reverse(nf, dataclasses.replace(info, inactive=inactive), namer).forward()


def _arrays_test(test: str, names: list[str], after_numbers: bool) -> str:
    """The run-time test that an inline arm for arrays applies to the operands ``names``:
    ``test``, or, for one operand of elementwise arithmetic after the test for numbers, the
    quicker ``__on_array``, which asks the same of what is not a number."""
    if test == "__on_arrays" and len(names) == 1 and after_numbers:
        return f"__on_array(__cx, {names[0]})"
    return f"{test}(__cx, {', '.join(names)})"


def _fitted(g: str, term: str, x: str, fitted: bool, shape: bool) -> list[str]:
    """The lines assigning ``g`` the cotangent ``term`` fitted to an operand of which the record
    ``x`` holds the array, or (``shape``) its shape or a number: as it is where the template fits
    it itself, else through ``__fit``, which a float64 array of the kept shape skips (the usual
    case: a call costs more than the tests)."""
    if fitted:
        return [f"{g} = {term}"]
    if not shape:
        return [f"{g} = __fit({term}, {x})"]
    lines = []
    if not term.isidentifier():
        lines.append(f"{g} = {term}")
        term = g
    # (a shape first: a number's == would broadcast against the tuple)
    fits = f"{x}.__class__ is tuple and {term}.__class__ is __ndarray"
    fits += f" and {term}.shape == {x} and {term}.dtype is __F64"
    return [*lines, f"{g} = {term} if {fits} else __fit({term}, {x})"]


class Counted(NamedTuple):
    """A block compiled to be left halfway: its forward, its full backward pass, and the
    backward pass of the part that ran (which reads the block's counters)."""

    forward: list[ast.stmt]
    full: list[ast.stmt]
    partial: list[ast.stmt]


def _is_element_access(call: ast.Call, name: str) -> bool:
    """Whether ``call`` is ``__operator.getitem(x, i)`` (``name``) or ``setitem(x, i, v)`` of a
    name ``x``, a name or an integer ``i``, and a name or a number ``v``."""
    f, args = call.func, call.args
    return (
        isinstance(f, ast.Attribute)
        and isinstance(f.value, ast.Name)
        and f.value.id == OPERATOR_NAME
        and f.attr == name
        and len(args) == (2 if name == "getitem" else 3)
        and not call.keywords
        and isinstance(args[0], ast.Name)
        and (isinstance(args[1], ast.Name) or type(getattr(args[1], "value", None)) is int)
        and all(isinstance(arg, (ast.Name, ast.Constant)) for arg in args[2:])
    )


def _is_comprehension_append(call: ast.Call) -> bool:
    """Whether ``call`` is ``__zy.append(xs, v)``, which lowered comprehensions make."""
    f = call.func
    return (
        isinstance(f, ast.Attribute)
        and isinstance(f.value, ast.Name)
        and f.value.id == HELPERS_NAME
        and f.attr == "append"
        and len(call.args) == 2
        and not call.keywords
        and all(isinstance(arg, (ast.Name, ast.Constant)) for arg in call.args)
    )


class _Reverse(FunctionAnalysis):
    def __init__(self, nf: ast.FunctionDef, info: FunctionInfo, namer: Namer):
        super().__init__(nf, info, namer)
        self.pb_count = 0
        self.uses_tape = False
        # > 0 while compiling statements that an exception may leave halfway (a ``try`` body,
        # a ``with``'s among them), whose partial backward passes ``partials`` holds by statement
        self.interruptible = 0
        self.partials: dict[int, list[ast.stmt]] = {}
        self.counters: list[tuple[str, int]] = []  # see counter()
        self.float_ops: dict[int, NumberOp] = {}  # by statement (see float_loops)
        # the pullback of each call of the function itself, by statement (its forward for
        # numbers makes them directly: see float_recursion)
        self.self_calls: dict[int, str] = {}

    def accumulate(self, name: str, tangent: str) -> str:
        """``d<name> += tangent``. Inputs that are never reassigned only hand their cotangent back,
        so thunks may stay unevaluated (``__add_lazy``); the cotangents of anything else feed
        pullbacks, which are called with evaluated cotangents (``__add`` evaluates thunks).
        The first tangent of a zero accumulator is taken as it is, without a call, where that is
        known to be right: always for ``__add_lazy``, for floats, numpy values (never thunks)
        and the zero itself for ``__add``. An input's cotangent summed over a loop or a
        recursion adds floats without a call."""
        d = self.dname(name)
        if name in self.used_once:  # (its only contribution: the accumulator is zero)
            return (
                f"{d} = {tangent} if {tangent}.__class__ in __FIRST else __add(__zero, {tangent})"
            )
        if self.assign_counts.get(name, 0) <= (name in self.params):
            floats = f"{d}.__class__ is float and {tangent}.__class__ is float"
            added = f"{d} + {tangent} if {floats} else __add_lazy({d}, {tangent})"
            return f"{d} = {tangent} if {d} is __zero else {added}"
        first = f"{d} is __zero and {tangent}.__class__ in __FIRST"
        return f"{d} = {tangent} if {first} else __add({d}, {tangent})"

    def forward(self) -> ast.FunctionDef:
        nf, line = self.nf, self.nf.lineno
        *body, ret = nf.body
        fwd, bwd = self.block(body, in_loop=False)
        result = text(ret.value)
        # a constant result's cotangent is unused, but the backward still takes it
        active_result = self.is_active_atom(ret.value)
        result_cot = self.dname(ret.value.id) if active_result else self.namer.fresh("dresult")
        name = self.info.name
        backward_def = self.backward_def(name, result_cot, bwd, line)
        prologue = number_version(self, body, ret)
        if self.uses_tape:
            prologue += generated("__tape = []", line)
        epilogue = [*backward_def, *generated(f"return ({result}, {name}__backward)", ret.lineno)]
        args = with_leading(strip_defaults(nf.args), ("__cx",))
        return function_def(f"{name}__forward", args, [*prologue, *fwd, *epilogue], line)

    def backward_def(
        self, name: str, result_cot: str, bwd: list[ast.stmt], line: int
    ) -> list[ast.stmt]:
        cots = [self.dname(n) for n in sorted(self.active) if self.dname(n) != result_cot]
        head = []
        if cots:
            head += generated(" = ".join(cots) + " = __zero", line)
        if self.uses_tape:
            head += generated("__stack = __tape.copy()", line)
        tail = []
        for g in sorted(n for n in self.active if n not in self.locals and self.info.is_global(n)):
            tail += generated(f"__deposit(__cx, {g}, {self.dname(g)}, {NAMESPACE}, {g!r})", line)
        captured = sorted(
            n for n in self.active if n in self.info.freevars and n not in self.locals
        )
        if self.info.freevars and 0 not in self.info.inactive:
            fields = ", ".join(f"{n}={self.dname(n)}" for n in captured)
            df = f"__closure_tangent({fields})"
        else:
            df = "__no"
        dparams = [self.param_cot(p) for p in self.params]
        tail += generated(f"return {tuple_of([df, *dparams])}", line)
        fn = compound(f"def {name}__backward({result_cot}):\n    pass", line)
        fn.body = [*head, *bwd, *tail]
        return [*generated(f"\n{BACKWARD_COMMENT}", line), fn]

    def param_cot(self, p: str) -> str:
        if p in self.active:
            kwarg = self.nf.args.kwarg
            if kwarg is not None and p == kwarg.arg:
                return f"__resolve(__cx, {p}, {self.dname(p)})"  # the callee-owned **kwargs dict
            return self.dname(p)
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
        if isinstance(s, ast.Try):
            return self.try_statement(s, in_loop)
        return [s], []  # raise / assert: run as written

    def try_statement(self, s: ast.Try, in_loop: bool):
        """``try`` runs as written; the backward pass follows the path that ran.

        ``ran<k>`` counts the statements of the body that completed, and ``caught<k>`` says
        which handler ran (-1: none): the backward pass undoes the body's completed statements
        and the part of the statement that the exception interrupted (see :meth:`counted`),
        then that handler or the ``else`` block, then ``finally``. Inside a block that an
        exception may leave halfway, the handlers, ``else`` and ``finally`` are counted too.
        """
        line = s.lineno
        if not any(self.has_work(block) for block in try_blocks(s)):
            return [s], []
        may_escape = self.interruptible > 0
        mark = len(self.counters)
        ran, caught = self.counter("ran"), self.counter("caught", -1)
        body = self.counted(s.body, ran, in_loop, line)

        def part(block: list[ast.stmt]) -> tuple[list[ast.stmt], list[ast.stmt]]:
            if not may_escape:
                return self.block(block, in_loop)
            done = self.counted(block, self.counter("ran"), in_loop, line)
            return done.forward, done.partial

        handlers_bwd = []
        for i, handler in enumerate(s.handlers):
            fwd, bwd = part(handler.body)
            handler.body = [*generated(f"{caught} = {i}", line), *fwd]
            if bwd:
                guard = compound(f"if {caught} == {i}:\n    pass", line)
                guard.body = bwd
                handlers_bwd.append(guard)
        else_fwd, else_bwd = part(s.orelse)
        final_fwd, final_bwd = part(s.finalbody)
        forward = ast.Try(
            body=body.forward, handlers=s.handlers, orelse=else_fwd, finalbody=final_fwd
        )
        bwd = [*final_bwd]
        if else_bwd:
            guard = compound(f"if {caught} < 0:\n    pass", line)
            guard.body = else_bwd
            bwd.append(guard)
        bwd += handlers_bwd
        return self.recorded(s, located(forward, line), mark, [*bwd, *body.partial], in_loop)

    def counter(self, base: str, start: int = 0) -> str:
        """A fresh local that records how far a block that an exception may leave got."""
        name = self.namer.fresh(base)
        self.counters.append((name, start))
        return name

    def recorded(self, s: ast.Try, forward: ast.stmt, mark: int, bwd, in_loop: bool):
        """A ``try`` whose backward pass reads the counters made since ``mark``: its
        own, and those of the statements inside it, which say how far an interrupted one got.
        Inside a loop they go onto the tape. The statement's partial backward pass is the same,
        reading the counters where an exception that left it halfway left them."""
        line = s.lineno
        counters = self.counters[mark:]
        starts = generated("\n".join(f"{c} = {start}" for c, start in counters), line)
        if self.interruptible:
            self.partials[id(s)] = copy.deepcopy(bwd)
        if not in_loop:
            return [*starts, forward], bwd
        self.uses_tape = True
        names = [c for c, _ in counters]
        fwd = [*starts, forward, *generated(f"__tape.append({tuple_of(names)})", line)]
        return fwd, [*generated(f"{unpacked(names)} = __stack.pop()", line), *bwd]

    def counted(self, body: list[ast.stmt], ran: str, in_loop: bool, line: int) -> Counted:
        """A block that an exception may leave halfway.

        The forward counts the completed statements in ``ran``. A compound statement that the
        exception interrupted is undone in part, by its partial backward pass (which reads the
        counters and flags of the statements inside it, where the exception left them); the
        statements before it are undone in full.
        """
        self.interruptible += 1
        fwd: list[ast.stmt] = []
        full: list[ast.stmt] = []
        partial: list[ast.stmt] = []
        interrupted: list[ast.stmt] = []
        for j, stmt in enumerate(body):
            f, b = self.statement(stmt, in_loop)
            fwd += [*f, *generated(f"{ran} = {j + 1}", line)]
            if b:
                full[:0] = b
                guard = compound(f"if {ran} > {j}:\n    pass", line)
                guard.body = copy.deepcopy(b)
                partial.insert(0, guard)
            undo = self.partials.pop(id(stmt), None)
            if undo:
                guard = compound(f"if {ran} == {j}:\n    pass", line)
                guard.body = undo
                interrupted.append(guard)
        self.interruptible -= 1
        return Counted(fwd, full, [*interrupted, *partial])

    def inner_block(self, body: list[ast.stmt], in_loop: bool, line: int) -> Counted:
        """A block of a branch or loop: counted when an exception may leave it halfway."""
        if not self.interruptible:
            fwd, bwd = self.block(body, in_loop)
            return Counted(fwd, bwd, [])
        ran = self.counter("ran")
        done = self.counted(body, ran, in_loop, line)
        return Counted([*generated(f"{ran} = 0", line), *done.forward], done.full, done.partial)

    def simple_assign(self, s: ast.Assign, target: str):
        line = s.lineno
        if target not in self.active:
            return [s], []
        if isinstance(s.value, ast.Lambda):
            return [s], self.closure_backward(target, s.value, line)
        dt = self.dname(target)
        bwd = []
        if self.is_active_atom(s.value) and s.value.id != target:
            bwd.append(self.accumulate(s.value.id, dt))
        if self.needs_reset(target):
            bwd.append(f"{dt} = __zero")
        return [s], generated("\n".join(bwd), line) if bwd else []

    def closure_backward(self, target: str, fn: ast.AST, line: int) -> list[ast.stmt]:
        """A nested function's tangent holds its captured variables: pass them on."""
        if target not in self.active:
            return []
        dg = self.dname(target)
        inner_params = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
        outer = self.locals | self.info.freevars
        captured = sorted((loaded_names(fn) - inner_params) & self.active & outer)
        lines = [f"if {dg}.__class__ not in __ZEROS:"]
        lines += ["    " + self.accumulate(v, f"{dg}.{v}") for v in captured] or ["    pass"]
        if self.needs_reset(target):
            lines.append(f"{dg} = __zero")
        return generated("\n".join(lines), line)

    def call(self, s: ast.stmt, target: str | None, call: ast.Call, in_loop: bool):
        line = s.lineno
        if not self.needs_pullback(call):
            reset = []
            if target in self.active and self.needs_reset(target):
                reset = generated(f"{self.dname(target)} = __zero", line)
            syntax = as_syntax(call) if target is not None else None
            return ([s] if syntax is None else generated(f"{target} = {syntax}", line)), reset
        self.pb_count += 1
        pb = f"pb{self.pb_count}"
        atoms = [call.func, *call.args, *(k.value for k in call.keywords)]
        slots = [f"__g{i}" if self.collects(a) else "_" for i, a in enumerate(atoms)]
        dt = "__zero" if target is None else self.dname(target)
        fwd = self.protocol_forward(pb, target, call, s)
        pullback = [f"{unpacked(slots)} = {pb}({dt})"]
        number_arm = None  # (the arm for numbers of inline arithmetic: see float_loops)
        # Operands that are names or literals (a module attribute such as ``math.pi`` is rare,
        # and may be rebound) can be checked for Python numbers and written out inline, when the
        # callee needs no cotangent (a captured ``np.sin`` does: it may be a closure).
        if (
            target is not None
            and all(isinstance(a, (ast.Name, ast.Constant)) for a in call.args)
            and slots[0] == "_"
        ):
            adjoint = scalar_adjoint(call)
            if adjoint is not None:
                fwd, pullback, number_arm = self.inline(pb, target, call, adjoint, fwd, pullback)
            elif self.has_scalar_partials(call):
                fwd, pullback, number_arm = self.inline_partials(pb, target, call, fwd, pullback)
            elif self.is_inline_reduction(call):
                fwd, pullback = self.inline_reduction(pb, target, call, fwd, pullback)
            elif _is_element_access(call, "getitem") and slots[1] != "_":
                accumulations = [self.accumulate(a.id, g) for g, a in zip(slots, atoms) if g != "_"]
                fwd, pullback = self.inline_element_read(
                    pb, target, call, fwd, [*pullback, *accumulations]
                )
                slots = ["_"] * len(slots)  # (each branch has accumulated what it computed)
        element_write = target is None and _is_element_access(call, "setitem")
        if element_write:
            fwd, pullback = self.inline_element_write(pb, call, fwd, pullback, slots)
        item_appended = target is None and _is_comprehension_append(call)
        if item_appended:
            fwd, pullback = self.inline_append(pb, call, fwd, pullback, slots)
            slots[1] = "_"  # (the list's cotangent lives in the store: the rule gives it none)
        # (a pullback the generated code keeps itself, a number or a list, is never one that must run)
        if element_write or item_appended:
            inline = "tuple" if element_write else "int"
            bwd = [f"if {pb}.__class__ is {inline} or __must_run({pb}):"]
        elif target is None:
            bwd = [f"if __must_run({pb}):"]
        else:
            stateful = f"{pb}.__class__ in __STATEFUL and __must_run({pb})"
            bwd = [f"if {dt}.__class__ not in __ZEROS or ({stateful}):"]
        if number_arm is not None and all(
            type(getattr(a, "value", 0.0)) in (int, float) for a in call.args
        ):  # (literals that keep the loop one of numbers)
            forward_lines, partial_lines, lookup = number_arm
            self.float_ops[id(s)] = NumberOp(
                pb,
                target,
                forward_lines,
                partial_lines,
                operands=[a.id for a in call.args if isinstance(a, ast.Name)],
                slots=[(g, a.id) for g, a in zip(slots, atoms) if g != "_"],
                lookup=lookup,
            )
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
        return generated("\n".join(fwd), line), generated("\n".join(bwd), line)

    def collects(self, a: ast.expr) -> bool:
        """Whether the backward pass keeps a cotangent for the atom ``a``: an active local, a
        captured variable (unless the caller asked for no tangent of the function itself,
        ``0`` among ``info.inactive``: only that tangent reads them) or module state, not a
        module-level function (code: nothing reads its cotangent)."""
        if not self.is_active_atom(a):
            return False
        name = a.id
        if name in self.locals:
            return True
        if name in self.info.freevars:
            return 0 not in self.info.inactive
        return self.info.is_global(name)

    def protocol_forward(
        self, pb: str, target: str | None, call: ast.Call, s: ast.stmt
    ) -> list[str]:
        """The forward lines of a call through the call protocol: ``y, pb = __call(...)``; a call
        of a name (a Python function, perhaps) where some of the values carry no derivative says
        which: ``__callm2(__cx, (0, 2), f, a, b)`` (see ``runtime.call_masked``), and one whose
        keyword arguments may carry one names them: ``__callk(__cx, ("b",), f, ..., b=w)`` (see
        ``runtime.call_keywords``). A call of the function itself runs this forward directly
        when it may (see :meth:`recursion_test`)."""
        n = len(call.args)
        inactive = ()
        if isinstance(call.func, ast.Name) and call.func.id != "getattr" and not call.keywords:
            inactive = self.inactive_at(s, [call.func, *call.args])
        carrying = tuple(k.arg for k in call.keywords if k.arg and self.collects(k.value))
        if inactive:
            masked = self.masked(inactive, call.args)
            args = ", ".join(["__cx", masked, text(call.func), *map(text, call.args)])
            caller = f"__callm{n}" if n < POSITIONAL_CALL_LIMIT else "__callm"
        elif carrying:  # rules take keywords without derivatives: these move into position
            args = ", ".join(
                ["__cx", repr(carrying), text(call.func), *map(text, call.args)]
                + [f"{k.arg}={text(k.value)}" for k in call.keywords]
            )
            caller = "__callk"
        else:
            args = ", ".join(
                ["__cx", text(call.func), *map(text, call.args)]
                + [f"{k.arg}={text(k.value)}" for k in call.keywords]
            )
            caller = f"__call{n}" if n < POSITIONAL_CALL_LIMIT and not call.keywords else "__call"
        through_protocol = self.called(pb, target, f"{caller}({args})")
        if self.calls_itself(call):
            self.self_calls[id(s)] = pb
        test = self.recursion_test(call, inactive)
        if test is None:
            return [through_protocol]
        direct = self.called(
            pb, target, f"{SELF}.run({', '.join(['__cx', *map(text, call.args)])})"
        )
        return [f"if {test}:", f"    {direct}", "else:", f"    {through_protocol}"]

    @staticmethod
    def called(pb: str, target: str | None, call: str) -> str:
        """The line that keeps ``call``'s ``(y, pullback)``."""
        return f"{pb} = {call}[1]" if target is None else f"{target}, {pb} = {call}"

    def calls_itself(self, call: ast.Call) -> bool:
        """Whether ``call`` calls the function itself: a name bound to it, given its positional
        parameters' arguments (names or literals) by position."""
        func = call.func
        return (
            isinstance(func, ast.Name)
            and not call.keywords
            and all(isinstance(a, (ast.Name, ast.Constant)) for a in call.args)
            and self.info.recursive(func.id, len(call.args))
        )

    def recursion_test(self, call: ast.Call, inactive: tuple[int, ...]) -> str | None:
        """For a call of the function itself (recursion), the run-time test under which it runs
        this very forward, bound as ``__SELF``, without the protocol's dispatch and frame: the
        name still holds the function this forward was bound for, which has no rule
        (``cache.runs_itself``), and the call passes the positions this forward was generated
        for (``info.inactive``). None for any other call."""
        if not self.calls_itself(call):
            return None
        itself = f"__itself({SELF}, {call.func.id})"
        known, atom = self.mask_parts(inactive, call.args)
        own = self.info.inactive
        if atom is None:
            return itself if known == own else None
        i, name = atom
        if (*known, ATOM + i) == own:
            return f"{name}.__class__ in __ATOMS and {itself}"
        return f"{name}.__class__ not in __ATOMS and {itself}" if known == own else None

    @staticmethod
    def mask_parts(
        inactive: tuple[int, ...], args: list[ast.expr]
    ) -> tuple[tuple[int, ...], tuple[int, str] | None]:
        """What :meth:`masked` passes: the positions known at transform time, ``inactive`` with
        ``ATOM + i`` for each literal argument, and the one name whose atom test is left to run
        time, as ``(i, name)`` (None: no name, or several, whose test would have to pick among
        their subsets)."""
        literals = tuple(ATOM + i for i in inactive if i and isinstance(args[i - 1], ast.Constant))
        names = [(i, args[i - 1].id) for i in inactive if i and isinstance(args[i - 1], ast.Name)]
        return (*inactive, *literals), (names[0] if len(names) == 1 else None)

    @classmethod
    def masked(cls, inactive: tuple[int, ...], args: list[ast.expr]) -> str:
        """The positions a masked call passes: ``inactive``, with ``ATOM + i`` for an argument that
        is an immutable atom (a literal; a name tested at run time, for one name): the callee's
        variant then keeps that parameter constant even where a call may store derivatives into
        containers (see ``activity.ATOM``)."""
        known, atom = cls.mask_parts(inactive, args)
        if atom is None:
            return repr(known)
        i, name = atom
        return f"{(*known, ATOM + i)!r} if {name}.__class__ in __ATOMS else {known!r}"

    def inline_partials(
        self,
        pb: str,
        target: str,
        call: ast.Call,
        protocol_fwd: list[str],
        protocol_pullback: list[str],
    ) -> tuple[list[str], list[str], tuple | None]:
        """A call of a function with scalar partials, on Python numbers, differentiated in place.

        The rule table is asked again at run time (``__PARTIALS``, which a registration or a
        rebinding of the name changes), and ``pb`` keeps the partials function, the arguments and
        the result, from which the backward pass computes each argument's cotangent. Anything
        else takes the call protocol. For a function of ``math``, which gives a float for any
        number, also the arm for numbers in a loop of number arithmetic: its forward lines, which
        read the partials function from a local the loop sets before it runs, the lines that
        compute the ``__g<i>``, and ``(that local, the function)``.
        """
        f = text(call.func)
        args = [operand_text(a) for a in call.args]
        test = numbers_test(call.args, args)
        names = list(dict.fromkeys(a.id for a in call.args if isinstance(a, ast.Name)))
        if names:
            test += f" or {_arrays_test('__on_arrays', names, after_numbers=True)}"
        # one argument: its partial may read the result only (tanh's), and then the backward
        # pass keeps the array's shape, not the array (see array_inline.READS_INPUT); a number
        # is kept as it is
        x = args[0]
        kept = (
            f"{x} if {x}.__class__ in __SCALARS or __READS_INPUT[{pb}] else {x}.shape"
            if len(args) == 1
            else ", ".join(args)
        )
        fwd = [
            f"{pb} = __PARTIALS.get({f}) if {test} else None",
            f"if {pb} is not None:",
            f"    {pb} = ({pb}, {kept}, {f}({', '.join(args)}))",
            f"    {target} = {pb}[-1]",
            "else:",
            *("    " + line for line in protocol_fwd),
        ]
        saved = [self.namer.fresh("a") for _ in args]
        out = self.namer.fresh(target + "_")
        active = tuple(self.is_active_atom(a) for a in call.args)
        slots = [f"__g{i + 1}" if wanted else "_" for i, wanted in enumerate(active)]
        dt = self.dname(target)
        cotangents = f"__partial_cotangents(__p, {tuple_of(saved)}, {out}, {dt}, {active})"
        fast = [f"__p, {', '.join(saved)}, {out} = {pb}"]
        if len(args) == 1:  # the usual case, a real partial and cotangent, without the helper
            real = f"__q.__class__ in __SCALARS and {dt}.__class__ is float"
            fast += [
                f"__q = __p({saved[0]}, {out})",
                f"__g1 = {dt} * __q if {real} else __fit_partial({dt}, __q, {saved[0]})",
            ]
        else:
            fast.append(f"{unpacked(slots)} = {cotangents}")
        pullback = [
            f"if {pb}.__class__ is tuple:",
            *("    " + line for line in fast),
            "else:",
            *("    " + line for line in protocol_pullback),
        ]
        arm = None
        if getattr(self.callee(call), "__module__", None) == "math":  # (numbers in, floats out)
            partials = self.namer.fresh("partials")
            forward = [f"{pb} = ({partials}, {', '.join(args)}, {f}({', '.join(args)}))"]
            arm = ([*forward, f"{target} = {pb}[-1]"], fast, (partials, f))
        return fwd, pullback, arm

    def inline_reduction(
        self,
        pb: str,
        target: str,
        call: ast.Call,
        protocol_fwd: list[str],
        protocol_pullback: list[str],
    ) -> tuple[list[str], list[str]]:
        """``np.sum(x)``, ``np.mean(x)``, ``np.max(x)`` or ``np.min(x)`` of a float64 array (over
        every axis, or over the literal ``axis`` of the call) differentiated in place: ``pb``
        keeps the cotangent function from ``__REDUCTIONS`` (asked again at run time, which a
        registration or a rebinding of the name changes) and what it reads: ``x``'s shape, ``x``
        itself for a sum or mean of squares, ``x`` and the result for an extremum (whose
        cotangent goes to the entries equal to it). Anything else takes the call protocol."""
        f, x = text(call.func), call.args[0].id
        if not self.is_active_atom(call.args[0]):
            return protocol_fwd, protocol_pullback
        reduction = self.callee(call)
        options = ", ".join(f"{k.arg}={text(k.value)}" for k in call.keywords)
        squares = zy.SQUARE_REDUCTIONS.get(reduction)
        method = EXTREMA.get(reduction)
        if method is not None:
            total, keep = f"{x}.{method}({options})", f"{x}, {target}"
            kept = f"{self.namer.fresh(f'{x}_')}, {self.namer.fresh(f'{target}_')}"
        elif squares is None:  # the sum or mean of x: its shape is kept
            keep, kept = f"{x}.shape", self.namer.fresh("s")
            # (the methods of a float64 ndarray are what the functions compute, without their
            # dispatch; np.mean of every entry divides the same sum by the size)
            if options:
                total = f"{x}.{'sum' if reduction is np.sum else 'mean'}({options})"
            else:
                total = f"{x}.sum()" if reduction is np.sum else f"{x}.sum() / {x}.size"
        else:
            reduction, squaring = squares
            summed = f"({x} * {x})" if squaring == "*" else f"({x} ** 2)"
            total = f"{summed}.sum()" if reduction is np.sum else f"{summed}.sum() / {x}.size"
            keep, kept = x, self.namer.fresh(f"{x}_")
        fwd = [
            f"{pb} = __REDUCTIONS.get({f}) if __on_array(__cx, {x}) else None",
            f"if {pb} is not None:",
            f"    {target} = {total}",
            f"    {pb} = ({pb}, {keep})",
            "else:",
            *("    " + line for line in protocol_fwd),
        ]
        arguments = ", ".join([self.dname(target), kept, *([options] if options else [])])
        pullback = [
            f"if {pb}.__class__ is tuple:",
            f"    __p, {kept} = {pb}",
            f"    __g1 = __p({arguments})",
            "else:",
            *("    " + line for line in protocol_pullback),
        ]
        return fwd, pullback

    def inline_element_read(
        self,
        pb: str,
        target: str,
        call: ast.Call,
        protocol_fwd: list[str],
        protocol_pullback: list[str],
    ) -> tuple[list[str], list[str]]:
        """``x[i]``, an element of a float64 vector at an integer, read in place: ``pb`` is
        ``__element_read``'s record, and the backward adds the element's cotangent into ``x``'s
        (``__add_at``: one buffer for every read, not an array each) or into a written vector's
        shadow. Anything else takes the call protocol, whose pullback ``protocol_pullback`` runs
        and accumulates (see :mod:`zygote_engine.elements`)."""
        x, index = (operand_text(a) for a in call.args)
        fwd = [
            f"{pb} = __element_read(__cx, {x}, {index})",
            f"if {pb} is not None:",
            f"    {target} = {x}[{index}]",
            "else:",
            *("    " + line for line in protocol_fwd),
        ]
        dx = self.dname(call.args[0].id)
        pullback = [
            f"if {pb}.__class__ is tuple:",
            f"    {dx} = __add_at({dx}, {pb}, {self.dname(target)})",
            "else:",
            *("    " + line for line in protocol_pullback),
        ]
        return fwd, pullback

    def inline_element_write(
        self,
        pb: str,
        call: ast.Call,
        protocol_fwd: list[str],
        protocol_pullback: list[str],
        slots: list[str],
    ) -> tuple[list[str], list[str]]:
        """``a[i] = v`` of a real number into a float64 vector: ``__element_write`` writes it and
        keeps what it overwrote, and the backward undoes it as the rule's pullback would
        (``__element_unwrite``, same cotangents). Anything else takes the call protocol."""
        a, index, v = (operand_text(arg) for arg in call.args)
        fwd = [
            f"{pb} = __element_write(__cx, {a}, {index}, {v})",
            f"if {pb} is None:",
            *("    " + line for line in protocol_fwd),
        ]
        pullback = [
            f"if {pb}.__class__ is tuple:",
            f"    {unpacked(slots)} = __element_unwrite({pb})",
            "else:",
            *("    " + line for line in protocol_pullback),
        ]
        return fwd, pullback

    def inline_append(
        self,
        pb: str,
        call: ast.Call,
        protocol_fwd: list[str],
        protocol_pullback: list[str],
        slots: list[str],
    ) -> tuple[list[str], list[str]]:
        """``__zy.append(xs, v)`` of a lowered comprehension: ``__appended`` appends and gives
        the item's position, where the backward takes its cotangent from the mutation store, as
        the rule's pullback does (the list itself gets none). Once arrays are written in place it
        declines, and the call protocol appends (see :mod:`zygote_engine.elements`)."""
        xs, v = (operand_text(arg) for arg in call.args)
        fwd = [
            f"{pb} = __appended(__cx, {xs}, {v})",
            f"if {pb} is None:",
            *("    " + line for line in protocol_fwd),
        ]
        taken = f"{slots[2]} = __cx.take({xs}, {pb})" if slots[2] != "_" else "pass"
        pullback = [
            f"if {pb}.__class__ is int:",
            f"    {taken}",
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
    ) -> tuple[list[str], list[str], tuple | None]:
        """Arithmetic on Python numbers and float64 arrays written out, with the call protocol as
        the fallback.

        ``pb`` holds either the fallback's pullback or the operands the adjoint needs: on numbers
        none (``None``), one (the number) or more (a tuple); on arrays a list of the operands
        (their shapes for those it does not read). That tells the backward pass which ran.
        Returns the forward lines, the backward lines that compute the ``__g<i>``, and the arm
        for numbers alone (its forward lines, those lines and no look-up), if there is one.
        """
        operands = [operand_text(a) for a in call.args]
        active = [i for i, a in enumerate(call.args) if self.is_active_atom(a)]
        needed = sorted({j for i in active for j in adjoint.operands_used(i)})
        arm = None
        # operands that may have changed by the time the backward pass runs are kept
        kept = list(dict.fromkeys(operands[j] for j in needed if not self.is_stable(call.args[j])))
        if not kept:
            record, test = "None", f"{pb} is None"
        elif len(kept) == 1:
            record, test = kept[0], f"{pb}.__class__ in __SCALARS"
        else:
            record, test = tuple_of(kept), f"{pb}.__class__ is tuple"
        primal = adjoint.primal.format(*operands)
        dt = self.dname(target)
        fwd, pullback = [], []
        if adjoint.on_numbers:
            restored = {o: self.namer.fresh(o + "_") for o in kept}
            values = [restored.get(o, o) for o in operands]
            # (the record before the assignment: the target may be an operand)
            numbers = [f"{pb} = {record}", f"{target} = {primal}"]
            fwd += [
                f"if {numbers_test(call.args, operands)}:",
                *("    " + line for line in numbers),
            ]
            fast = []
            if kept:
                fast.append(f"{', '.join(restored.values())} = {pb}")
            fast += [f"__g{i + 1} = {adjoint.partials[i].format(*values, dy=dt)}" for i in active]
            pullback += [f"if {test}:", *("    " + line for line in fast)]
            arm = (numbers, fast, None)
        # float64 arrays: the same adjoint, each cotangent fitted to its operand's shape
        names = list(
            dict.fromkeys(o for o, a in zip(operands, call.args) if isinstance(a, ast.Name))
        )
        if adjoint.on_arrays and names:
            read = {operands[j] for j in needed}
            record = [o if o in read else f"__like({o})" for o in names]
            keyword = "elif" if fwd else "if"
            fwd += [
                f"{keyword} {_arrays_test(adjoint.arrays_test, names, bool(fwd))}:",
                f"    {pb} = [{', '.join(record)}]",
                f"    {target} = {primal}",
            ]
            saved = {o: self.namer.fresh(o + "_") for o in names}
            values = [saved.get(o, o) for o in operands]
            shapes = {saved[o] for o in names if o not in read}
            cotangents = self.array_cotangents(adjoint, values, dt, active, shapes)
            pullback += [
                f"{keyword} {pb}.__class__ is list:",
                f"    {unpacked(list(saved.values()))} = {pb}",
                *("    " + line for line in cotangents),
            ]
        if not fwd:
            return protocol_fwd, protocol_pullback, None
        fwd += ["else:", *("    " + line for line in protocol_fwd)]
        pullback += ["else:", *("    " + line for line in protocol_pullback)]
        return fwd, pullback, arm

    @staticmethod
    def array_cotangents(
        adjoint: ScalarAdjoint, values: list[str], dt: str, active: list[int], shapes: set[str]
    ) -> list[str]:
        """The lines computing ``__g<i>`` from an inline adjoint on arrays. An operand that
        appears twice (``h * h``) gets its two terms as one array (``2.0 * (dt * h)``) and the
        second slot nothing, which saves an array operation and an accumulation per term.
        ``shapes`` are the records that hold an operand's shape (or a number, see ``__like``);
        each cotangent is fitted to its operand (see :func:`_fitted`)."""
        terms = {i: adjoint.partials[i].format(*values, dy=dt, fit=values[i]) for i in active}
        lines = []
        for i in active:
            g, x = f"__g{i + 1}", values[i]
            fitted = "{fit}" in adjoint.partials[i]  # (a template that fits its result itself)
            twin = next((j for j in active if j > i and values[j] == values[i]), None)
            if twin is not None:
                a, b = terms[i], terms.pop(twin)
                total = f"2.0 * ({a})" if a == b else f"({a}) + ({b})"
                total = total if fitted else f"__fit({total}, {x})"
                lines += [f"{g} = {total}", f"__g{twin + 1} = __zero"]
            elif i in terms:
                lines += _fitted(g, terms[i], x, fitted, x in shapes)
        return lines

    def branch(self, s: ast.If, in_loop: bool):
        line = s.lineno
        if not (self.has_work(s.body) or self.has_work(s.orelse)):
            return [s], []
        body = self.inner_block(s.body, in_loop, line)
        orelse = self.inner_block(s.orelse, in_loop, line)
        if in_loop:
            self.uses_tape = True
            taken, not_taken, test = "__tape.append(True)", "__tape.append(False)", "__stack.pop()"
        else:  # runs at most once: a local remembers the way it went
            flag = self.namer.fresh("taken")
            taken, not_taken, test = f"{flag} = True", f"{flag} = False", flag
        fwd = ast.If(
            test=s.test,
            body=[*body.forward, *generated(taken, line)],
            orelse=[*orelse.forward, *generated(not_taken, line)],
        )
        bwd = compound(f"if {test}:\n    pass\nelse:\n    pass", line)
        bwd.body = body.full or generated("pass", line)
        bwd.orelse = orelse.full
        if not self.interruptible:
            return [located(fwd, line)], [bwd]
        # the arm that an exception interrupted: 0 while the test runs
        arm = self.counter("arm")
        fwd.body[:0] = generated(f"{arm} = 1", line)
        fwd.orelse[:0] = generated(f"{arm} = 2", line)
        undo = compound(f"if {arm} == 1:\n    pass\nelif {arm} == 2:\n    pass", line)
        undo.body = body.partial or generated("pass", line)
        undo.orelse[0].body = orelse.partial or generated("pass", line)
        self.partials[id(s)] = [undo]
        return [*generated(f"{arm} = 0", line), located(fwd, line)], [bwd]

    def for_loop(self, s: ast.For, in_loop: bool):
        line = s.lineno
        x, items = s.target.id, s.iter.id
        x_active = x in self.active
        if not (x_active or self.has_work(s.body)):
            return [s], []
        body = self.inner_block(s.body, in_loop=True, line=line)
        loop = located(ast.For(target=s.target, iter=s.iter, body=body.forward, orelse=[]), line)
        fwd = [loop]
        if in_loop:
            self.uses_tape = True
            fwd += generated(f"__tape.append(len({items}))", line)
            count = "__stack.pop()"
        else:
            count = f"len({items})"
        n = self.namer.fresh("n")
        bwd = [*generated(f"{n} = {count}", line), *self.items_cotangent(s, n)]
        bwd += self.iterations(s, f"{n} - 1", body.full)
        if not self.interruptible:
            return self.float_loop(s, fwd, bwd, n, in_loop)
        # ``at``: the index of the iteration that the exception interrupted
        at = self.counter("at")
        fwd[:0] = generated(f"{at} = -1", line)
        loop.body[:0] = generated(f"{at} += 1", line)
        last = compound(f"if {at} >= 0:\n    pass", line)
        last.body = [*body.partial, *self.item_cotangent(s, at)] or generated("pass", line)
        earlier = self.iterations(s, f"{at} - 1", copy.deepcopy(body.full))
        self.partials[id(s)] = [*self.items_cotangent(s, f"len({items})"), last, *earlier]
        return fwd, bwd

    def float_loop(
        self, s: ast.For, fwd: list[ast.stmt], bwd: list[ast.stmt], n: str, in_loop: bool
    ):
        """The loop ``s`` (generated as ``fwd`` and ``bwd``, ``n``: its length in the backward
        pass) with a second version of both passes for numbers, when its body is nothing but
        arithmetic written out and the backward loop's states are the same at every iteration
        (see :mod:`zygote_engine.float_loops`). Inside another loop, the way each run of it went
        goes onto the tape, after its length."""
        steps = [self.float_ops.get(id(st)) or self.constant_step(st) for st in s.body]
        if not steps or None in steps:
            return fwd, bwd
        ops = [step for step in steps if isinstance(step, NumberOp)]
        x, items, line = s.target.id, s.iter.id, s.lineno
        item = x if x in self.active else None
        reset = {op.target for op in ops if self.needs_reset(op.target)}
        start = states(ops, item, reset)
        if start is None:
            return fwd, bwd
        # the forward version: every value read before the body assigns it is a number, and
        # every function with partials still has them (the rule table holds during the loop)
        assigned: set[str] = set()
        entry: list[str] = []
        body = [f"for {x} in {items}:"]
        for step in steps:
            if isinstance(step, NumberOp):
                entry += [v for v in step.operands if v not in (*assigned, x, *entry)]
                assigned.add(step.target)
                body += [f"    {code}" for code in (*step.forward, f"__tape.append({step.pb})")]
            else:
                assigned.add(step[0])
                body.append(f"    {step[1]}")
        reads_item = any(x in op.operands for op in ops)
        lookups = [op.lookup for op in ops if op.lookup is not None]
        test = " and ".join(
            [
                *(f"{local} is not None" for local, _ in lookups),
                f"__numbers({items if reads_item else '()'}, {', '.join(entry)})",
            ]
        )
        fast = self.namer.fresh("numbers")
        if in_loop:  # (as the general loop records its length)
            body.append(f"__tape.append(len({items}))")
        forward = compound(f"if {test}:\n    pass\nelse:\n    pass", line)
        forward.body = generated("\n".join([*body, f"{fast} = True"]), line)
        forward.orelse = [*fwd, *generated(f"{fast} = False", line)]
        after = generated(f"__tape.append({fast})", line) if in_loop else []
        hoisted = "\n".join(f"{local} = __PARTIALS.get({f})" for local, f in lookups)
        # the backward version: each cotangent in the state the iterations keep
        checks = [fast]
        carried = {op.target for op in ops} | {item}
        for name, state in start.items():
            if name not in carried and not self.collects(ast.Name(name)):
                continue  # (read, but no cotangent kept)
            checks.append(ENTRY_TESTS[state].format(d=self.dname(name)))
        k = self.namer.fresh("k")
        lines = [f"for {k} in range({n} - 1, -1, -1):"]
        state = dict(start)
        for op in reversed(ops):
            lines += [f"    {op.pb} = __stack.pop()", *(f"    {code}" for code in op.partials)]
            if op.target in reset:
                lines.append(f"    {self.dname(op.target)} = __zero")
                state[op.target] = ZERO
            for g, name in op.slots:
                d = self.dname(name)
                if state[name] == ZERO:
                    lines.append(f"    {d} = {g}")
                    state[name] = FLOAT
                elif state[name] == FLOAT:
                    lines.append(f"    {d} = {d} + {g}")
                else:
                    lines.append(f"    {d} = {g} if {d} is __zero else {d} + {g}")
        lines += [f"    {code}" for code in self.item_cotangent_lines(s, k)]
        *head, generic = bwd
        if in_loop:
            head[:0] = generated(f"{fast} = __stack.pop()", line)
        backward = compound(f"if {' and '.join(checks)}:\n    pass\nelse:\n    pass", line)
        backward.body = generated("\n".join(lines), line)
        backward.orelse = [generic]
        return [*generated(hoisted, line), forward, *after], [*head, backward]

    def constant_step(self, s: ast.stmt) -> tuple[str, str] | None:
        """``(target, text)`` of a statement that a loop of number arithmetic may hold besides
        its operations: a value without a derivative computed from literal numbers alone
        (``t = -0.01``), a number too."""
        if not (isinstance(s, ast.Assign) and s.targets[0].id not in self.active):
            return None
        value = s.value
        literals = value.args if isinstance(value, ast.Call) else [value]
        if not all(isinstance(a, ast.Constant) and type(a.value) in (int, float) for a in literals):
            return None
        syntax = as_syntax(value) if isinstance(value, ast.Call) else text(value)
        return None if syntax is None else (s.targets[0].id, f"{s.targets[0].id} = {syntax}")

    def items_cotangent(self, s: ast.For, n: str) -> list[ast.stmt]:
        if s.target.id not in self.active:
            return []
        return generated(f"{self.dname(s.iter.id)} = [__zero] * {n}", s.lineno)

    def item_cotangent(self, s: ast.For, k: str) -> list[ast.stmt]:
        """The loop variable's cotangent, handed to its item when an iteration is undone."""
        return generated("\n".join(self.item_cotangent_lines(s, k)), s.lineno)

    def item_cotangent_lines(self, s: ast.For, k: str) -> list[str]:
        x = s.target.id
        if x not in self.active:
            return []
        dx = self.dname(x)
        return [f"{self.dname(s.iter.id)}[{k}] = {dx}", f"{dx} = __zero"]

    def iterations(self, s: ast.For, last: str, body_bwd: list[ast.stmt]) -> list[ast.stmt]:
        """The backward pass of iterations ``last``, ..., 1, 0 of a ``for`` loop."""
        k = self.namer.fresh("k")
        loop = compound(f"for {k} in range({last}, -1, -1):\n    pass", s.lineno)
        loop.body = [*body_bwd, *self.item_cotangent(s, k)] or generated("pass", s.lineno)
        return [loop]

    def while_loop(self, s: ast.While, in_loop: bool):
        line = s.lineno
        if not self.has_work(s.body):
            return [s], []
        body = self.inner_block(s.body, in_loop=True, line=line)
        n = self.counter("n") if self.interruptible else self.namer.fresh("n")
        fwd = [*generated(f"{n} = 0", line)]
        loop = located(
            ast.While(test=s.test, body=[*generated(f"{n} += 1", line), *body.forward], orelse=[]),
            line,
        )
        fwd.append(loop)
        if in_loop:
            self.uses_tape = True
            fwd += generated(f"__tape.append({n})", line)
        count = "__stack.pop()" if in_loop else n
        if self.interruptible:
            # the last iteration that started is the one the exception interrupted
            last = compound(f"if {n} > 0:\n    pass", line)
            last.body = body.partial or generated("pass", line)
            earlier = self.repeated(f"{n} - 1", copy.deepcopy(body.full), line)
            self.partials[id(s)] = [last, *earlier]
        return fwd, self.repeated(count, body.full, line)

    @staticmethod
    def repeated(count: str, body_bwd: list[ast.stmt], line: int) -> list[ast.stmt]:
        back = compound(f"for _ in range({count}):\n    pass", line)
        back.body = body_bwd or generated("pass", line)
        return [back]
