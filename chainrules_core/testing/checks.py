"""``test_rrule``, ``test_frule`` and ``test_scalar``: check a rule against finite differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrules_core.config import RuleConfig
from chainrules_core.rules import frule, rrule
from chainrules_core.tangents import AbstractZero, NoTangent, Thunk, ZeroTangent
from chainrules_core.testing.finite_differences import jacobian_transpose_vector, jvp
from chainrules_core.testing.flatten import Layout, layout_of, tangent_vector
from chainrules_core.testing.random_tangents import rand_tangent

# Arguments with at most this many real entries get their whole cotangent checked entry by entry;
# larger ones are checked along random directions, which costs a fixed number of evaluations.
FULL_CHECK_LIMIT = 256
RANDOM_DIRECTIONS = 3


@dataclass(frozen=True)
class WithTangent:
    """An argument of ``test_rrule``/``test_frule`` together with the tangent to use for it.

    ``WithTangent(x, NoTangent())`` marks ``x`` as non-differentiable: the rule must return a zero
    tangent for it and finite differences leave it alone. For ``test_frule`` the tangent is the
    input tangent; for ``test_rrule`` it only matters whether it is ``NoTangent()``.

    Example:
        >>> from chainrules_core import NoTangent
        >>> from chainrules_core.testing import WithTangent
        >>> WithTangent(2.0, NoTangent()).tangent
        NoTangent()
    """

    value: Any
    tangent: Any


def nondiff(x: Any) -> WithTangent:
    """Mark argument ``x`` as non-differentiable: ``WithTangent(x, NoTangent())``.

    Example:
        >>> from chainrules_core.testing import nondiff
        >>> nondiff(3.0).value
        3.0
    """
    return WithTangent(x, NoTangent())


@dataclass
class _Argument:
    name: str
    value: Any
    layout: Layout
    tangent: Any  # the tangent given by the caller, or None

    @property
    def differentiable(self) -> bool:
        return self.layout.size > 0 and not isinstance(self.tangent, AbstractZero)


def _default_tolerances(values: list[Any]) -> tuple[float, float]:
    """Single-precision tolerances when any input or output holds float32/complex64 (or less)."""

    def single_precision(v: Any) -> bool:
        if isinstance(v, (tuple, list)):
            return any(map(single_precision, v))
        if not isinstance(v, (np.ndarray, np.generic)):
            return False
        return v.dtype.kind in "fc" and v.dtype.itemsize <= (4 if v.dtype.kind == "f" else 8)

    if any(single_precision(v) for v in values):
        return 2e-3, 1e-4
    return 1e-6, 1e-7


def _tolerances(rtol, atol, values: list[Any]) -> tuple[float, float]:
    default_rtol, default_atol = _default_tolerances(values)
    return (default_rtol if rtol is None else rtol), (default_atol if atol is None else atol)


def _arguments(f: Callable, args: tuple) -> list[_Argument]:
    params = _parameter_names(f, len(args))
    out = [_Argument("f", f, layout_of(f), None)]
    for i, a in enumerate(args, start=1):
        value, tangent = (a.value, a.tangent) if isinstance(a, WithTangent) else (a, None)
        out.append(_Argument(f"argument {i} ({params[i - 1]})", value, layout_of(value), tangent))
    return out


def _parameter_names(f: Callable, n: int) -> list[str]:
    import inspect

    try:
        names = [p.name for p in inspect.signature(f).parameters.values()]
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"arg{i}" for i in range(n)]


def _with_config(config: RuleConfig | None, *args: Any) -> tuple:
    return args if config is None else (config, *args)


def _function_name(f: Callable) -> str:
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f)


class _Problem:
    """The function of the flattened differentiable inputs that finite differences work on."""

    def __init__(self, arguments: list[_Argument], kwargs: dict, output: Any):
        self.arguments = arguments
        self.kwargs = kwargs
        self.output_layout = layout_of(output)
        self.output = output

    def evaluate(self, which: list[int], v: np.ndarray) -> np.ndarray:
        """The flattened output with the inputs ``which`` replaced by the entries of ``v``."""
        values, start = [a.value for a in self.arguments], 0
        for i in which:
            a = self.arguments[i]
            values[i] = a.layout.rebuild(a.value, v[start : start + a.layout.size], promote=True)
            start += a.layout.size
        return self.output_layout.values(values[0](*values[1:], **self.kwargs))

    def input_vector(self, which: list[int]) -> np.ndarray:
        parts = [self.arguments[i].layout.values(self.arguments[i].value) for i in which]
        return np.concatenate(parts) if parts else np.empty(0)


def _assert_close(
    expected, got, rtol: float, atol: float, what: str, shape=None, *, reference: bool = True
) -> None:
    """Fail unless ``got`` matches ``expected``; a ``reference`` from finite differences must be finite."""
    expected = np.asarray(expected, dtype=float)
    got = np.asarray(got, dtype=float)
    if reference and not np.all(np.isfinite(expected)):
        raise AssertionError(
            f"{what} cannot be checked: finite differences gave non-finite values {expected}; "
            "choose inputs where the function is finite and smooth"
        )
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0, where=np.isfinite(expected))))
    error = np.abs(got - expected)
    both_nan = np.isnan(expected) & np.isnan(got)
    bad = (error > atol * scale + rtol * np.abs(expected)) | (np.isnan(error) & ~both_nan)
    if np.any(bad):
        worst = int(np.argmax(np.where(bad, np.nan_to_num(error, nan=np.inf), -1.0)))
        if shape is not None and expected.size == np.prod(shape):
            expected, got = expected.reshape(shape), got.reshape(shape)
        with np.printoptions(precision=6, threshold=40, edgeitems=4):
            raise AssertionError(
                f"{what} is wrong:\n  expected: {expected}\n  got:      {got}\n"
                f"  largest error {error.flat[worst]:.3g} at flat index {worst} "
                f"(rtol={rtol:g}, atol={atol:g})"
            )


def _display_shape(x: Any) -> tuple[int, ...] | None:
    """The shape to print a flattened tangent of ``x`` in, when it has one."""
    return x.shape if isinstance(x, np.ndarray) and x.ndim > 0 else None


def _check_primal(y: Any, expected: Any, name: str) -> None:
    layout = layout_of(expected)
    try:
        got_v = layout_of(y).values(y)
    except Exception as err:
        raise AssertionError(
            f"{name}: the rule's primal output {y!r} has an unexpected type"
        ) from err
    want_v = layout.values(expected)
    if got_v.shape != want_v.shape:
        raise AssertionError(
            f"{name}: the rule's primal output {y!r} differs from f's {expected!r}"
        )
    _assert_close(want_v, got_v, 1e-6, 1e-9, f"{name}: the primal output", reference=False)
    if isinstance(expected, np.ndarray) and (
        not isinstance(y, np.ndarray) or y.shape != expected.shape or y.dtype != expected.dtype
    ):
        raise AssertionError(
            f"{name}: the rule's primal output has {_describe(y)}, f returns {_describe(expected)}"
        )


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return f"a {type(x).__name__}"


def _check_tangent_type(primal: Any, tangent: Any, where: str) -> None:
    """A cotangent must live in the primal's tangent space: same shape and dtype, real for real."""
    if isinstance(tangent, AbstractZero):
        return
    if isinstance(primal, np.ndarray) and primal.dtype.kind in "fc":
        if not isinstance(tangent, np.ndarray):
            raise AssertionError(
                f"{where}: the tangent of {_describe(primal)} must be an array, got {_describe(tangent)}"
            )
        if tangent.shape != primal.shape or tangent.dtype != primal.dtype:
            raise AssertionError(
                f"{where}: the tangent of {_describe(primal)} has {_describe(tangent)}; "
                "project it with ProjectTo(x)"
            )


def _unthunked(t: Any, where: str) -> Any:
    if isinstance(t, Thunk):
        value = t.unthunk()
        if isinstance(value, Thunk):
            raise AssertionError(f"{where}: unthunk returned another thunk")
        return value
    return t


def _check_constant_tangent(argument: _Argument, t: Any, where: str) -> None:
    """An unmarked constant input: a zero, or whatever its layout accepts (a number for an int)."""
    try:
        tangent_vector(argument.layout, t, where)
    except TypeError as err:
        raise AssertionError(
            f"{where} is not differentiable, so its tangent must be NoTangent() (or "
            f"ZeroTangent()), got {t!r}"
        ) from err


def _check_nondifferentiable(t: Any, where: str) -> None:
    if not isinstance(t, AbstractZero):
        raise AssertionError(
            f"{where} is not differentiable, so its tangent must be NoTangent() "
            f"(or ZeroTangent()), got {t!r}"
        )


def test_rrule(
    f: Callable,
    *args: Any,
    rtol: float | None = None,
    atol: float | None = None,
    output_tangent: Any = None,
    fkwargs: dict | None = None,
    rng: np.random.Generator | None = None,
    config: RuleConfig | None = None,
) -> None:
    """Check ``rrule([config,] f, *args, **fkwargs)`` against finite differences.

    It checks that a rule exists; that its primal output equals ``f(*args)``; that the pullback
    returns one tangent per input with ``f``'s first; that thunks unthunk; that non-differentiable
    inputs (booleans, integer arrays, strings, arguments wrapped in :func:`nondiff`) get zero
    tangents (Python integers are not stepped by finite differences either, but may get a real
    cotangent, as ``ProjectTo`` gives them); that each cotangent has its input's shape and dtype;
    and that each cotangent equals ``J.T @ dy`` computed by central finite differences, for a random
    ``dy`` (or ``output_tangent``). Inputs with more than ``FULL_CHECK_LIMIT`` real entries are
    checked along random directions instead of entry by entry.

    Args:
        f: the function whose rule is checked.
        args: its positional arguments; wrap one in :func:`nondiff` or :class:`WithTangent` to
            mark it non-differentiable.
        rtol: relative tolerance (default: 1e-6, or 2e-3 when an input or the output is single
            precision).
        atol: absolute tolerance, relative to the largest expected entry (default: 1e-7, or 1e-4).
        output_tangent: the cotangent to pull back (default: random).
        fkwargs: keyword arguments for ``f`` and its rule (never differentiated).
        rng: the random generator for tangents (default: seeded, so runs repeat).
        config: a :class:`~chainrules_core.RuleConfig` to pass to the rule, for rules registered
            with ``config=``.

    Raises:
        AssertionError: naming the argument, with expected and obtained values.

    Example:
        >>> import numpy as np
        >>> from chainrules_core import rrule, NoTangent
        >>> from chainrules_core.testing import test_rrule
        >>> def square(x):
        ...     return x * x
        >>> @rrule.register(square)
        ... def _(x):
        ...     def square_pullback(dy):
        ...         return NoTangent(), 2 * x * dy
        ...     return square(x), square_pullback
        >>> test_rrule(square, np.array([1.0, 2.0, 3.0]))
    """
    rng = np.random.default_rng(0) if rng is None else rng
    fkwargs = fkwargs or {}
    arguments = _arguments(f, args)
    values = [a.value for a in arguments]
    name = f"rrule of {_function_name(f)}"
    result = rrule(*_with_config(config, f, *values[1:]), **fkwargs)
    if result is None:
        types = ", ".join(type(v).__name__ for v in values[1:])
        raise AssertionError(f"{name}: no rrule is registered for argument types ({types})")
    if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
        raise AssertionError(f"{name}: an rrule must return (y, pullback), got {result!r}")
    y, pullback = result
    expected_y = f(*values[1:], **fkwargs)
    _check_primal(y, expected_y, name)
    rtol, atol = _tolerances(rtol, atol, [*values, expected_y])

    dy = rand_tangent(y, rng) if output_tangent is None else output_tangent
    tangents = pullback(dy)
    if not isinstance(tangents, tuple) or len(tangents) != len(arguments):
        count = len(tangents) if isinstance(tangents, tuple) else "a non-tuple"
        raise AssertionError(
            f"{name}: the pullback returned {count} tangents; it must return a tuple of "
            f"{len(arguments)}: the tangent of f itself first, then one per argument"
        )

    problem = _Problem(arguments, fkwargs, expected_y)
    dy_vector = tangent_vector(problem.output_layout, dy, "the output tangent")
    for i, (argument, tangent) in enumerate(zip(arguments, tangents)):
        where = f"{name}: the cotangent of {argument.name}"
        tangent = _unthunked(tangent, where)
        if not argument.differentiable:
            if argument.tangent is None and argument.layout.size == 0:
                _check_constant_tangent(argument, tangent, where)
            else:
                _check_nondifferentiable(tangent, where)
            continue
        _check_tangent_type(argument.value, tangent, where)
        try:
            got = tangent_vector(argument.layout, tangent, where)
        except TypeError as err:
            raise AssertionError(str(err)) from None
        _check_cotangent(problem, i, dy_vector, got, rtol, atol, where, rng)


def _check_cotangent(problem, i, dy_vector, got, rtol, atol, where, rng) -> None:
    x = problem.input_vector([i])

    def output(v):
        return problem.evaluate([i], v)

    value = problem.arguments[i].value
    if x.size <= FULL_CHECK_LIMIT:
        expected = jacobian_transpose_vector(output, x, dy_vector)
        _assert_close(expected, got, rtol, atol, where, _display_shape(value))
        return
    for _ in range(RANDOM_DIRECTIONS):
        direction = rng.standard_normal(x.size)
        expected = float(dy_vector @ jvp(output, x, direction))
        _assert_close(
            [expected],
            [float(got @ direction)],
            rtol,
            atol,
            f"{where} (its inner product with a random direction)",
        )


def test_frule(
    f: Callable,
    *args: Any,
    rtol: float | None = None,
    atol: float | None = None,
    fkwargs: dict | None = None,
    rng: np.random.Generator | None = None,
    config: RuleConfig | None = None,
) -> None:
    """Check ``frule([config,] (df, *dargs), f, *args, **fkwargs)`` against finite differences.

    Random tangents are drawn for every differentiable input (or taken from :class:`WithTangent`);
    the rule's output tangent must have the output's shape and dtype and equal ``J @ dx`` computed
    by central finite differences. The rule is also called with ``ZeroTangent()`` for every input
    and must then return a zero tangent.

    Args:
        f: the function whose rule is checked.
        args: its positional arguments; :class:`WithTangent` fixes an input tangent, and
            :func:`nondiff` marks an argument non-differentiable.
        rtol: relative tolerance (default: 1e-6, or 2e-3 when an input or the output is single
            precision).
        atol: absolute tolerance, relative to the largest expected entry (default: 1e-7, or 1e-4).
        fkwargs: keyword arguments for ``f`` and its rule (never differentiated).
        rng: the random generator for tangents (default: seeded, so runs repeat).
        config: a :class:`~chainrules_core.RuleConfig` to pass to the rule.

    Raises:
        AssertionError: with expected and obtained values.

    Example:
        >>> from chainrules_core import frule
        >>> from chainrules_core.testing import test_frule
        >>> def square(x):
        ...     return x * x
        >>> @frule.register(square)
        ... def _(tangents, x):
        ...     _, dx = tangents
        ...     return square(x), 2 * x * dx
        >>> test_frule(square, 3.0)
    """
    rng = np.random.default_rng(0) if rng is None else rng
    fkwargs = fkwargs or {}
    arguments = _arguments(f, args)
    values = [a.value for a in arguments]
    name = f"frule of {_function_name(f)}"
    tangents = tuple(
        a.tangent
        if a.tangent is not None
        else (rand_tangent(a.value, rng) if a.layout.size else NoTangent())
        for a in arguments
    )
    result = frule(*_with_config(config, tangents, f, *values[1:]), **fkwargs)
    if result is None:
        types = ", ".join(type(v).__name__ for v in values[1:])
        raise AssertionError(f"{name}: no frule is registered for argument types ({types})")
    y, dy = result
    expected_y = f(*values[1:], **fkwargs)
    _check_primal(y, expected_y, name)
    rtol, atol = _tolerances(rtol, atol, [*values, expected_y])

    where = f"{name}: the output tangent"
    dy = _unthunked(dy, where)
    _check_tangent_type(expected_y, dy, where)
    problem = _Problem(arguments, fkwargs, expected_y)
    which = [i for i, a in enumerate(arguments) if a.differentiable]
    x = problem.input_vector(which)
    dx_parts = [tangent_vector(arguments[i].layout, tangents[i], arguments[i].name) for i in which]
    dx = np.concatenate(dx_parts) if dx_parts else np.empty(0)
    expected = jvp(lambda v: problem.evaluate(which, v), x, dx)
    try:
        got = tangent_vector(problem.output_layout, dy, where)
    except TypeError as err:
        raise AssertionError(str(err)) from None
    _assert_close(expected, got, rtol, atol, where, _display_shape(expected_y))

    zeros = tuple(ZeroTangent() if a.layout.size else NoTangent() for a in arguments)
    _, dy_zero = frule(*_with_config(config, zeros, f, *values[1:]), **fkwargs)
    dy_zero = _unthunked(dy_zero, f"{name} with zero input tangents")
    if not isinstance(dy_zero, AbstractZero) and np.any(
        tangent_vector(problem.output_layout, dy_zero, where)
    ):
        raise AssertionError(
            f"{name}: zero input tangents gave a nonzero output tangent {dy_zero!r}"
        )


def test_scalar(
    f: Callable,
    x: float,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    fkwargs: dict | None = None,
) -> None:
    """Check both rules of a scalar function of one real (or complex) number at ``x``.

    Runs :func:`test_frule` and :func:`test_rrule`, and checks that the two rules agree with each
    other on the derivative.

    Example:
        >>> import math
        >>> from chainrules_core import scalar_rule
        >>> from chainrules_core.testing import test_scalar
        >>> def softplus(x):
        ...     return math.log1p(math.exp(x))
        >>> _ = scalar_rule(softplus, lambda x, out: 1 / (1 + math.exp(-x)))
        >>> test_scalar(softplus, 0.3)
    """
    if not isinstance(x, (int, float, complex, np.number)):
        raise TypeError(f"test_scalar needs a number, got {type(x).__name__}; use test_rrule")
    test_frule(f, x, rtol=rtol, atol=atol, fkwargs=fkwargs)
    test_rrule(f, x, rtol=rtol, atol=atol, fkwargs=fkwargs)
    fkwargs = fkwargs or {}
    _, forward = frule((NoTangent(), 1.0), f, x, **fkwargs)
    _, back = rrule(f, x, **fkwargs)
    backward = _unthunked(back(1.0)[1], "test_scalar")
    if not np.iscomplexobj(x):
        rtol, atol = _tolerances(rtol, atol, [x])
        _assert_close(
            [float(np.real(_unthunked(forward, "test_scalar")))],
            [float(np.real(backward))],
            rtol,
            atol,
            f"test_scalar of {_function_name(f)}: the rrule's derivative (got) against "
            "the frule's (expected)",
            reference=False,
        )


# pytest would otherwise collect these as tests wherever they are imported into a test module.
test_rrule.__test__ = False
test_frule.__test__ = False
test_scalar.__test__ = False
