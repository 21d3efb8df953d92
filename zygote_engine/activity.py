"""Stage 4a: what the generation stages (reverse and forward) need to know about a normal form.

Which names may carry a derivative (activity, a fixed point over the body, with every container a
possible alias of another once active values are stored into containers), which are assigned in
loops or more than once, which are read as values rather than as branch tests, and the
``d<name>`` variable that holds each name's tangent or cotangent.
"""

from __future__ import annotations

import ast
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrules_core import ignore_derivatives, rrule
from zygote_engine import primitives as zy
from zygote_engine.array_inline import EXTREMA
from zygote_engine.normalize import HELPERS_NAME, OPERATOR_NAME, Namer
from zygote_engine.scopes import all_nodes, child_nodes

__all__ = [
    "ATOM",
    "GLOBALS",
    "FunctionAnalysis",
    "FunctionInfo",
    "loaded_names",
    "statements",
    "try_blocks",
]


# the reductions the reverse generation writes out (see zygote_engine.array_inline): of the whole
# array, and over the literal axes of the call
_INLINE_REDUCTIONS = frozenset({np.sum, np.mean, *zy.SQUARE_REDUCTIONS, *EXTREMA})
_AXIS_REDUCTIONS = frozenset({np.sum, np.mean, *EXTREMA})

GLOBALS = -1  # the position, among FunctionInfo.inactive, of the module state a function reads
# ATOM + i among FunctionInfo.inactive: the argument at position i is an immutable atom (an int, a
# string, None), which no call can store a derivative into: it stays constant unless reassigned.
ATOM = 1000


@dataclass(frozen=True)
class FunctionInfo:
    """What the generation stages need to know about the function besides its normal form."""

    name: str
    freevars: frozenset[str]
    is_global: Callable[[str], bool]  # a name bound in the module globals to differentiable state
    is_module: Callable[[str], bool]
    value_of: Callable[[str], Any]  # a free name's value when the function is first transformed
    # free names bound to the engine's run-time objects (in code the engine generated): constants
    constants: frozenset[str] = frozenset()
    # whether a call of a name with n positional arguments calls the function itself, which its
    # own forward can run (a name bound to a function of the same code, taking n positionally)
    recursive: Callable[[str, int], bool] = lambda name, n: False
    # What the caller knows carries no derivative, by position: 0 is the function itself (the
    # variables it captures), 1, 2, ... its positional parameters (see ``runtime.call_masked``);
    # GLOBALS the module's state it reads (a gradient asks for none of its cotangents).
    inactive: tuple[int, ...] = ()


def _is_literal_option(keyword: ast.keyword) -> bool:
    """Whether ``keyword`` is a reduction's ``axis=`` (an int or ``None``) or ``keepdims=`` (a
    bool), written as a literal."""
    if not isinstance(keyword.value, ast.Constant):
        return False
    kind = type(keyword.value.value)
    return (
        kind in (int, type(None))
        if keyword.arg == "axis"
        else (keyword.arg == "keepdims" and kind is bool)
    )


def loaded_names(node: ast.AST) -> set[str]:
    return {
        n.id for n in all_nodes(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


class _LoadedNames(dict):
    """``loaded_names`` memoised per node (the activity analysis asks many times)."""

    def __missing__(self, node: ast.AST) -> set[str]:
        names = self[node] = loaded_names(node)
        return names


class FunctionAnalysis:
    """The analysis of one normal form; the generators of both modes subclass it."""

    def __init__(self, nf: ast.FunctionDef, info: FunctionInfo, namer: Namer):
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
        self.deleted: set[str] = set()  # names a ``del`` unbinds
        self.receivers: dict[str, str] = {}  # m -> obj for ``m = getattr(obj, "name")``
        # m for ``m = getattr(__PARTIALS, "get")`` and the like
        self.table_lookups: set[str] = set()
        self.loaded = _LoadedNames()
        self._fresh_lists: set[str] = set()  # xs for ``xs = __zy.make_list()``
        self._propagations: dict[bool, list] = {}  # (see _propagation)
        self._scan(nf.body, in_loop=False)
        self.free, self._loads = _free_names(nf.body)
        self.outer = self._outer_state()
        self.active = self._activity()
        self._order, self._loops = _positions(nf.body)
        # Values made active only by a write somewhere (not by what they are computed from): at a
        # call that no write can precede, they carry no derivative yet (see inactive_at).
        self._computed_active = self._activity_from(self._initially_active(), writes=False)
        self._writes = [s for s in statements(nf.body) if self._may_mutate(s)]
        self.cots: dict[str, str] = {}
        self.used_once = self._used_once()

    def _used_once(self) -> set[str]:
        """The locals whose cotangent gets one contribution between the backward pass's visits
        to their definition: assigned once, by a statement of a block (or as the target of a
        ``for`` loop), and read once in the whole function, by a later simple statement of that
        block (of the loop's body). The normal form's temporaries, and a loop's item used once,
        are such names: their backward pass takes the contribution as the cotangent, with no
        addition (see ``reverse.accumulate``)."""
        loads = self._loads
        candidates = {
            name
            for name, count in self.assign_counts.items()
            if count == 1 and loads.get(name) == 1 and name not in self.params
        } - self.deleted
        found: set[str] = set()
        # (blocks with what is defined on entry; a stack, not a recursive closure, which would
        # make a reference cycle through this analysis to the function's values)
        blocks: list[tuple[list[ast.stmt], set[str]]] = [(self.nf.body, set())]
        while blocks:
            block, defined = blocks.pop()
            for s in block:
                if isinstance(s, (ast.Assign, ast.Expr)):
                    found.update(self.loaded[s] & defined)
                if isinstance(s, ast.Assign) and s.targets[0].id in candidates:
                    defined.add(s.targets[0].id)
                elif isinstance(s, ast.For):
                    blocks.append((s.body, {s.target.id} & candidates))
                elif isinstance(s, ast.While):
                    blocks.append((s.body, set()))
                elif isinstance(s, ast.If):
                    blocks += [(s.body, set()), (s.orelse, set())]
                elif isinstance(s, ast.Try):
                    blocks += [(inner, set()) for inner in try_blocks(s)]
        return found

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
                    name = value.args[1]
                    if (
                        value.args[0].id in _RUNTIME_TABLES
                        and isinstance(name, ast.Constant)
                        and name.value == "get"
                    ):
                        self.table_lookups.add(targets[0])
                elif (
                    isinstance(value, ast.Call)
                    and _is_helper(value.func, ("make_list",))
                    and not value.args
                ):
                    self._fresh_lists.add(targets[0])
            elif isinstance(s, (ast.FunctionDef, ast.ClassDef)):
                targets = [s.name]
            elif isinstance(s, ast.For):
                targets = [s.target.id]
                self.loop_variables.add(s.target.id)
            elif isinstance(s, ast.Delete):
                self.deleted.update(t.id for t in s.targets)
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
            elif isinstance(s, ast.Try):
                for block in try_blocks(s):
                    self._scan(block, in_loop)
                for handler in s.handlers:
                    if handler.name:
                        self.locals.add(handler.name)
                        self.assign_counts[handler.name] = 2  # bound whenever it catches

    def is_active_atom(self, e: ast.expr) -> bool:
        return isinstance(e, ast.Name) and e.id in self.active

    def _initially_active(self) -> set[str]:
        positional = len(self.nf.args.posonlyargs) + len(self.nf.args.args)
        skipped = {self.params[i - 1] for i in self.info.inactive if 0 < i <= positional}
        names = set(self.params) - skipped
        for s in statements(self.nf.body):
            if isinstance(s, ast.Assign) and self.reads_module_state(s.value):
                names.add(s.targets[0].id)
            elif isinstance(s, ast.Try):  # a caught exception may carry differentiated values
                names.update(h.name for h in s.handlers if h.name)
        inactive = self.info.inactive
        for name in self.outer:
            if (0 if name in self.info.freevars else GLOBALS) not in inactive:
                names.add(name)
        # Python code may read the module's state, so what it returns may carry a derivative
        # whatever its arguments (a Flux-style ``loss()`` that reads global parameters)
        for name in self.free - self.locals - self.info.constants:
            value = self.info.value_of(name)
            if _is_python_code(value) and not rrule.has_rules(value):  # (a rule's result is
                names.add(name)  # computed from its arguments alone)
        return names

    def _outer_state(self) -> set[str]:
        """The free names that hold values from outside (captured variables, the module's
        differentiable state; not modules, not the engine's own objects)."""
        return {
            name
            for name in self.free - self.locals
            if (name in self.info.freevars or self.info.is_global(name))
            and name not in self.info.constants
            and not self.info.is_module(name)
        }

    def _activity(self) -> set[str]:
        """Names whose value may carry a derivative (fixed point over the body)."""
        active = self._activity_from(self._initially_active())
        mutations = (
            s
            for s in statements(self.nf.body)
            if self._may_mutate(s) and not self._fills_fresh_list(s)
        )
        if any(self.loaded[s] & active for s in mutations):
            # Active values are stored into containers, and any container may be an alias of
            # another (``alias = xs``, ``row = m[0]``): every container-valued local is active,
            # and so is every parameter and captured variable.
            active |= {
                s.targets[0].id
                for s in statements(self.nf.body)
                if isinstance(s, ast.Assign) and isinstance(s.value, (ast.Call, ast.Name))
            }
            active |= (set(self.params) - self._atoms()) | self.outer
            return self._activity_from(active)
        return active

    def _fills_fresh_list(self, s: ast.stmt) -> bool:
        """Whether ``s`` is ``__zy.append(xs, v)`` of a lowered comprehension into its own list
        (a local assigned once, by ``__zy.make_list()``): no other container refers to that list
        while it is filled, so what it stores makes only the list itself active."""
        if not (
            isinstance(s, ast.Expr)
            and isinstance(s.value, ast.Call)
            and _is_helper(s.value.func, ("append",))
            and isinstance(s.value.args[0], ast.Name)
        ):
            return False
        xs = s.value.args[0].id
        return self.assign_counts.get(xs) == 1 and xs in self._fresh_lists

    def _atoms(self) -> set[str]:
        """The parameters the caller passed an immutable atom that the function never rebinds."""
        positional = len(self.nf.args.posonlyargs) + len(self.nf.args.args)
        names = {
            self.params[i - ATOM - 1] for i in self.info.inactive if 0 < i - ATOM <= positional
        }
        return {name for name in names if self.assign_counts.get(name) == 1}

    def _activity_from(self, active: set[str], writes: bool = True) -> set[str]:
        """``active`` and every name the statements make active from it (a fixed point)."""
        propagation = self._propagation(writes)
        changed = True
        while changed:
            changed = False
            for loaded, made in propagation:
                if not made <= active and loaded & active:
                    active |= made
                    changed = True
        return active

    def _propagation(self, writes: bool) -> list[tuple[set[str], set[str]]]:
        """For each statement that can make names active: the names it loads, and those it makes
        active when one of those is."""
        found = self._propagations.get(writes)
        if found is not None:
            return found
        found = self._propagations[writes] = []
        for s in statements(self.nf.body):
            if isinstance(s, ast.Assign):
                if not (isinstance(s.value, ast.Call) and self._has_no_tangent(s.value)):
                    found.append((self.loaded[s.value], {s.targets[0].id}))
            elif isinstance(s, ast.FunctionDef):
                found.append((self.loaded[s], {s.name}))
            elif isinstance(s, ast.For):
                found.append(({s.iter.id}, {s.target.id}))
            if writes and self._may_mutate(s):
                # the call may store an active value into any argument, or into the object whose
                # method it is (``xs.append(x)`` is ``m = getattr(xs, "append"); m(x)``)
                called = {a.id for a in [s.value.func, *s.value.args] if isinstance(a, ast.Name)}
                called |= {self.receivers[n] for n in called if n in self.receivers}
                found.append((self.loaded[s.value], called & (self.locals | self.outer)))
        return found

    def inactive_at(self, s: ast.stmt, atoms: list[ast.expr]) -> tuple[int, ...]:
        """The positions among ``atoms`` (a call's function and positional arguments) whose
        values carry no derivative when statement ``s`` runs: literals, and names that nothing
        active is computed into, where no call that may write into its arguments can run before
        ``s`` (a callee may store what the caller never sees into a container, a global's value
        say, so after such a call only literals are known to be constants)."""
        order, loops = self._order, self._loops
        written_before = any(
            (order[id(w)] < order[id(s)]) or loops[id(w)] & loops[id(s)] for w in self._writes
        )
        return tuple(
            i
            for i, a in enumerate(atoms)
            if isinstance(a, ast.Constant)
            or (
                not written_before and isinstance(a, ast.Name) and a.id not in self._computed_active
            )
        )

    def _may_mutate(self, s: ast.stmt) -> bool:
        """Whether ``s`` calls something that may store values into its arguments: any call but
        the operators and helpers of the normal form (whose writes are statements of their own),
        the functions of ``math`` and the functions of numpy that write nothing they are given."""
        if isinstance(s, ast.Expr):
            return True
        if not isinstance(s, ast.Assign) or not isinstance(s.value, ast.Call):
            return False
        return not (_is_pure(s.value) or self._writes_nothing(s.value))

    def _writes_nothing(self, call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Name) and func.id not in self.locals and not call.keywords:
            builtin = _BUILTINS_WRITING_NOTHING.get(func.id)
            return builtin is not None and self.info.value_of(func.id) is builtin
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and self.info.is_module(func.value.id)
        ):
            return False
        value = getattr(self.info.value_of(func.value.id), func.attr, None)
        if getattr(value, "__module__", None) == "math":
            return True
        if any(k.arg == "out" for k in call.keywords) or value in _NUMPY_WRITERS:
            return False
        return isinstance(value, np.ufunc) or _is_numpy_function(value)

    def reads_module_state(self, value: ast.expr) -> bool:
        """Whether ``value`` is ``getattr(module, "name")`` or ``zy.read_global(...)``: the
        normal form reads a module's state (an array, an object, a global that code assigns)
        so, and its derivative goes to the module's attribute (never a constant: a caller that
        asks for no derivative of module state knows nothing of what code assigned)."""
        if isinstance(value, ast.Call) and _is_helper(value.func, ("read_global", "read_cell")):
            return True
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "getattr"
            and isinstance(value.args[0], ast.Name)
            and value.args[0].id not in self.locals
            and self.info.is_module(value.args[0].id)
        )

    def needs_pullback(self, call: ast.Call) -> bool:
        if self.reads_module_state(call) or _is_helper(call.func, _GLOBAL_WRITES):
            return True  # a write of a global, even of a constant, replaces what reads see
        if self._has_no_tangent(call):
            return False
        atoms = [call.func, *call.args, *(k.value for k in call.keywords)]
        return any(self.is_active_atom(a) for a in atoms)

    def _has_no_tangent(self, call: ast.Call) -> bool:
        """Whether the result of ``call`` has no tangent whatever its arguments: a comparison, a
        containment, a negation (truth values), a class, a traceback or a size (and generated
        code asks), or ``ignore_derivatives``."""
        return (
            _is_test_operator(call.func)
            or _is_type_read(call)
            or self._is_structural_builtin(call.func)
            or self._ignores_derivatives(call)
        )

    def _ignores_derivatives(self, call: ast.Call) -> bool:
        f = call.func
        if (
            isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and f.value.id == HELPERS_NAME
        ):
            return f.attr == "ignore_derivatives"  # the normal form's
        return self.callee(call) is ignore_derivatives

    def _is_structural_builtin(self, func: ast.expr) -> bool:
        """Whether ``func`` names a builtin whose result has no tangent space (``len``, ...), or
        one of the run-time tests or look-ups of code the engine generated (``__on_arrays``,
        ``__PARTIALS.get``, ...)."""
        if not isinstance(func, ast.Name):
            return False
        if func.id in self.table_lookups and self.assign_counts[func.id] == 1:
            return self.receivers[func.id] in self.info.constants
        if func.id in self.locals:
            return False
        if func.id in _RUNTIME_TESTS:
            return func.id in self.info.constants
        builtin = _STRUCTURAL_BUILTINS.get(func.id)
        return builtin is not None and self.info.value_of(func.id) is builtin

    def callee(self, call: ast.Call) -> Any:
        """The function a call of a free name or a module's attribute calls, when the function is
        first transformed (``None`` for anything else: a local, a method)."""
        f = call.func
        if isinstance(f, ast.Name) and f.id not in self.locals:
            return self.info.value_of(f.id)
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            if f.value.id == HELPERS_NAME:  # what normalisation wrote
                return getattr(zy, f.attr, None)
            if self.info.is_module(f.value.id):
                return getattr(self.info.value_of(f.value.id), f.attr, None)
        return None

    def has_scalar_partials(self, call: ast.Call) -> bool:
        """Whether the callee is, when first transformed, a function whose only rule comes from
        ``scalar_rule`` (``math.sin``, say): see :meth:`inline_partials`."""
        if call.keywords or not 1 <= len(call.args) <= 2:
            return False
        fn = self.callee(call)
        try:
            partials = rrule.scalar_partials.get(fn)
        except TypeError:  # unhashable
            return False
        return partials is not None and getattr(fn, "nin", len(call.args)) == len(call.args)

    def is_inline_reduction(self, call: ast.Call) -> bool:
        """Whether the call is ``np.sum(x)``, ``np.mean(x)``, ``np.max(x)`` or ``np.min(x)`` of a
        name when the function is first transformed, with no other argument or with a literal
        ``axis`` and ``keepdims`` (``np.max(z, axis=1, keepdims=True)``): see
        ``reverse.inline_reduction``."""
        if len(call.args) != 1 or not isinstance(call.args[0], ast.Name):
            return False
        try:
            f = self.callee(call)
            inline = f in (_AXIS_REDUCTIONS if call.keywords else _INLINE_REDUCTIONS)
        except TypeError:  # unhashable
            return False
        return inline and all(_is_literal_option(k) for k in call.keywords)

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
        if isinstance(s, ast.Try):
            return any(self.has_work(block) for block in try_blocks(s))
        return False

    def dname(self, name: str) -> str:
        """The (co)tangent variable of ``name``: ``d<name>`` unless that name is taken."""
        if name not in self.cots:
            candidate = "d" + name
            self.cots[name] = (
                candidate if candidate not in self.namer.used else self.namer.fresh(candidate + "_")
            )
            self.namer.used.add(self.cots[name])
        return self.cots[name]

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
            name in self.locals
            and name not in self.loop_variables
            and not self.needs_reset(name)
            and name not in self.deleted
        )

    # -- generation --


# Pure functions whose results normalisation uses as branch conditions.
_TEST_OPERATORS = frozenset(
    {"lt", "le", "gt", "ge", "eq", "ne", "not_", "truth", "is_", "is_not", "contains"}
)


_GLOBAL_WRITES = ("write_global", "delete_global", "write_cell", "delete_cell")


def _is_helper(func: ast.expr, names: tuple[str, ...]) -> bool:
    """Whether ``func`` is one of the helpers ``zy.<name>`` of ``names``."""
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == HELPERS_NAME
        and func.attr in names
    )


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


# numpy's functions that write into an argument they are given (besides ``out=``).
_NUMPY_WRITERS = frozenset(
    f
    for f in (
        getattr(np, name, None)
        for name in ("copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis")
    )
    if f is not None
)


def _is_python_code(value: Any) -> bool:
    """Whether ``value`` is a function, method or class written in Python (whose code the engine
    runs, and which may read state the caller does not pass it)."""
    if isinstance(value, (types.FunctionType, types.MethodType)):
        # not generators (and what wraps one, a @contextmanager): the engine runs those as
        # plain Python where no differentiated value goes in
        return not inspect.isgeneratorfunction(inspect.unwrap(value))
    return isinstance(value, type) and not _is_builtin_class(value)


def _is_builtin_class(cls: type) -> bool:
    module = getattr(cls, "__module__", "") or ""
    return module == "builtins" or module.split(".")[0] in ("numpy", "scipy")


def _is_numpy_function(value: Any) -> bool:
    """Whether ``value`` is a function of numpy's own (``np.zeros``, ``np.linalg.solve``):
    they compute from their arguments and store none of them anywhere."""
    module = getattr(value, "__module__", None) or ""
    if module.startswith("numpy.random"):
        return False  # ``shuffle`` permutes its argument in place
    return callable(value) and (module == "numpy" or module.startswith("numpy."))


# Builtins that store none of their arguments into another (called without keywords: a ``key=``
# function could).
_BUILTINS_WRITING_NOTHING = {
    f.__name__: f
    for f in (
        range,
        len,
        abs,
        min,
        max,
        sum,
        float,
        int,
        round,
        divmod,
        zip,
        enumerate,
        reversed,
        tuple,
        isinstance,
        issubclass,
        type,
        id,
        bool,
        all,
        any,
        hasattr,
        callable,
    )
}


# Builtins whose results (classes, sizes, identities, truth values, index ranges) have no
# tangent space.
# The run-time tests that generated reverse-mode code calls, and what it keeps of an operand for
# ``__fit`` (an array's shape; a number, whose tangent ``__fit`` never reads): truth values and
# shapes, which code that differentiates it (nested differentiation) calls plainly.
_RUNTIME_TESTS = frozenset({"__on_arrays", "__on_matrices", "__on_array", "__must_run", "__like"})

# The tables generated reverse-mode code looks rules' helpers up in (their ``get``): a function's
# scalar partials, a reduction's pullback.
_RUNTIME_TABLES = frozenset({"__PARTIALS", "__REDUCTIONS"})

_STRUCTURAL_BUILTINS = {
    f.__name__: f for f in (type, isinstance, issubclass, len, id, hasattr, callable, slice)
}


def _is_type_read(call: ast.Call) -> bool:
    """Whether ``call`` is ``getattr(x, "__class__")``, ``x.__class__`` in the normal form (or
    an exception's ``__traceback__``)."""
    return (
        isinstance(call.func, ast.Name)
        and call.func.id == "getattr"
        and len(call.args) == 2
        and isinstance(call.args[1], ast.Constant)
        and call.args[1].value in ("__class__", "__traceback__")
    )


def _is_test_operator(func: ast.expr) -> bool:
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == OPERATOR_NAME
        and func.attr in _TEST_OPERATORS
    )


def _free_names(body: list[ast.stmt]) -> tuple[set[str], dict[str, int]]:
    """Names the code of ``body`` reads, nested functions and lambdas included, but not their
    own parameters and variables (a lambda's ``y`` is not the enclosing function's, nor a
    global); and how many times each name is loaded anywhere in it."""
    names: set[str] = set()
    loads: dict[str, int] = {}
    stack: list[tuple[ast.AST, frozenset]] = [(s, frozenset()) for s in body]
    while stack:
        node, bound = stack.pop()
        if isinstance(node, ast.Name):
            if node.id not in bound:
                names.add(node.id)
            if node.ctx.__class__ is ast.Load:
                loads[node.id] = loads.get(node.id, 0) + 1
            continue
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            own = frozenset(a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)) | {
                n.id
                for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            for default in (*node.args.defaults, *node.args.kw_defaults):
                if default is not None:
                    stack.append((default, bound))  # evaluated in the enclosing scope
            body = node.body if isinstance(node.body, list) else [node.body]
            stack.extend((child, bound | own) for child in body)
            continue
        stack.extend((child, bound) for child in child_nodes(node))
    return names, loads


def try_blocks(s: ast.Try) -> list[list[ast.stmt]]:
    """The blocks of a ``try`` statement: its body, each handler's, ``else`` and ``finally``."""
    return [s.body, *(h.body for h in s.handlers), s.orelse, s.finalbody]


def _positions(body: list[ast.stmt]) -> tuple[dict[int, int], dict[int, frozenset[int]]]:
    """Each statement's place in the order of the source, and the loops around it (by id)."""
    order: dict[int, int] = {}
    loops: dict[int, frozenset[int]] = {}

    def walk(block: list[ast.stmt], around: frozenset[int]) -> None:
        for s in block:
            order[id(s)], loops[id(s)] = len(order), around
            inner = around | {id(s)} if isinstance(s, (ast.For, ast.While)) else around
            if isinstance(s, ast.If):
                walk(s.body, inner)
                walk(s.orelse, inner)
            elif isinstance(s, (ast.For, ast.While)):
                walk(s.body, inner)
            elif isinstance(s, ast.Try):
                for b in try_blocks(s):
                    walk(b, inner)

    walk(body, frozenset())
    return order, loops


def statements(body: list[ast.stmt]):
    for s in body:
        yield s
        if isinstance(s, ast.If):
            yield from statements(s.body)
            yield from statements(s.orelse)
        elif isinstance(s, (ast.For, ast.While)):
            yield from statements(s.body)
        elif isinstance(s, ast.Try):
            for block in try_blocks(s):
                yield from statements(block)
