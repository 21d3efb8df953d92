"""Small functions covering every construct the engine differentiates (checked in test_corpus.py)."""

# The functions are written in the style under test (if/else blocks, unused loop variables,
# list concatenation, several names per import), not in the style ruff prefers.
# ruff: noqa: SIM108, B007, RUF005, I001

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import operator
import threading
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

CASES: list[tuple] = []


def case(*args):
    """Register the decorated function with the arguments it is checked at."""

    def register(f):
        CASES.append((f, args))
        return f

    return register


# --- arithmetic and straight-line code ---------------------------------------------------------


@case(2.0)
def affine(x):
    return 5 * x + 3


@case(5.0)
def quadratic(x):
    return 3 * x**2 + 2 * x + 1


@case(2.0, 3.0)
def product(a, b):
    return a * b


@case(2.0, 3.0)
def quotient(a, b):
    return a / b - b / a


@case(1.5)
def negation_and_pos(x):
    return -x + (+x) * -2.0


@case(1.3, 2.2)
def power_both(x, y):
    return x**y


@case(2.0)
def reused_variable(x):
    y = x * x
    y = y * x
    return y + x


@case(0.7)
def dead_code_is_ignored(x):
    unused = x * 100.0  # noqa: F841
    return x * 2.0


@case(3.0, 4.0)
def chained_temporaries(a, b):
    c = a + b
    d = c * c
    e = d - a
    return e / b


@case(2.0)
def constant_output_part(x):
    return x * 0.0 + 1.0 + x


@case(1.1, 2.0)
def integer_literal_mixing(x, y):
    return 2 * x + 3 // 2 * y + x % 1.0


@case(1.5)
def modulo(x):
    return (x * 3.0) % 2.0


# --- math and operator functions ----------------------------------------------------------------


@case(0.3)
def math_sin_cos(x):
    return math.sin(x) * math.cos(x)


@case(1.7)
def math_exp_log(x):
    return math.exp(x) + math.log(x)


@case(2.5)
def math_sqrt_tanh(x):
    return math.sqrt(x) + math.tanh(x)


@case(0.4, 1.3)
def math_atan2_hypot(y, x):
    return math.atan2(y, x) + math.hypot(x, y)


@case(2.0, 3.0)
def operator_functions(a, b):
    return operator.add(operator.mul(a, b), operator.truediv(a, b))


@case(2.0)
def operator_neg_pow(x):
    return operator.neg(operator.pow(x, 3))


@case(-1.5)
def builtin_abs(x):
    return abs(x) * x


@case(1.0, 2.0)
def builtin_max_min(a, b):
    return max(a, b) + 2 * min(a, b)


@case(2.5)
def builtin_float_conversion(x):
    return float(x) * 2.0


@case(1.2)
def pow_builtin(x):
    return pow(x, 3)


# --- conditionals -------------------------------------------------------------------------------


@case(2.0)
def if_else(x):
    if x > 0:
        y = x * x
    else:
        y = -x
    return y


@case(-2.0)
def if_else_negative(x):
    if x > 0:
        y = x * x
    else:
        y = -x
    return y


@case(0.5)
def if_elif_else(x):
    if x > 1:
        return x**3
    elif x > 0:
        return x**2
    else:
        return x


@case(2.0)
def if_without_else(x):
    y = x
    if x > 1:
        y = y * 3.0
    return y


@case(3.0)
def conditional_expression(x):
    return x * 2.0 if x > 2 else x * 3.0


@case(1.0)
def conditional_expression_false(x):
    return x * 2.0 if x > 2 else x * 3.0


@case(2.0, 3.0)
def boolean_and(a, b):
    return (a > 1 and b) * a


@case(1.5, 3.0)
def boolean_or(a, b):
    return (a or b) * 2.0


@case(1.5, 3.0)
def boolean_or_second_operand(a, b):
    return (a > 5.0 or b) * a


@case(1.5, 2.5)
def chained_comparison(a, b):
    if 0 < a < b:
        return a * b
    return a + b


@case(2.0)
def nested_conditionals(x):
    if x > 0:
        if x > 1:
            y = x * 4.0
        else:
            y = x * 2.0
    else:
        y = x
    return y


@case(2.0)
def not_operator(x):
    if not x < 0:
        return x * x
    return x


@case(2.0)
def early_return_top(x):
    if x > 1:
        return x * 10.0
    y = x * 2.0
    return y


@case(2.0, 1)
def branch_on_integer(x, n):
    if n == 1:
        return x * 3.0
    return x


@case(3.0)
def membership_test(x):
    if 3 in (1, 2, 3):
        return x * x
    return x


# --- for loops ----------------------------------------------------------------------------------


@case(5.0, 3)
def pow_by_loop(x, n):
    r = 1.0
    for _ in range(n):
        r *= x
    return r


@case(0.5)
def horner_loop(x):
    coefficients = [1.0, -2.0, 3.0, 0.5]
    y = 0.0
    for c in coefficients:
        y = y * x + c
    return y


@case([1.0, 2.0, 3.0])
def loop_over_list_argument(xs):
    total = 0.0
    for v in xs:
        total = total + v * v
    return total


@case((1.0, 2.0, 3.0))
def loop_over_tuple_argument(xs):
    total = 0.0
    for v in xs:
        total += v * v
    return total


@case(np.array([1.0, 2.0, 3.0]))
def loop_over_array(a):
    total = 0.0
    for v in a:
        total = total + v**2
    return total


@case(np.array([[1.0, 2.0], [3.0, 4.0]]))
def loop_over_array_rows(a):
    total = 0.0
    for row in a:
        total = total + np.sum(row * row)
    return total


@case([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
def loop_over_zip(xs, ys):
    total = 0.0
    for a, b in zip(xs, ys):
        total = total + a * b
    return total


@case([1.0, 2.0, 3.0])
def loop_over_enumerate(xs):
    total = 0.0
    for i, v in enumerate(xs):
        total = total + i * v
    return total


@case({"a": 1.0, "b": 2.0})
def loop_over_dict_items(d):
    total = 0.0
    for k, v in d.items():
        total = total + v * len(k)
    return total


@case({"a": 1.0, "b": 2.0})
def loop_over_dict_keys(d):
    total = 0.0
    for k in d:
        total = total + d[k] ** 2
    return total


@case({"a": 1.0, "b": 2.0})
def loop_over_dict_values(d):
    total = 0.0
    for v in d.values():
        total = total + v**3
    return total


@case(2.0, 4)
def loop_with_index_arithmetic(x, n):
    total = 0.0
    for i in range(n):
        total = total + x**i
    return total


@case([1.0, 2.0, 3.0])
def loop_by_index(xs):
    total = 0.0
    for i in range(len(xs)):
        total = total + xs[i] * (i + 1)
    return total


@case(1.5)
def nested_loops(x):
    total = 0.0
    for i in range(3):
        for j in range(2):
            total = total + x * i + j * x * x
    return total


@case(1.5)
def loop_with_branch(x):
    total = 0.0
    for i in range(4):
        if i % 2 == 0:
            total = total + x * i
        else:
            total = total - x
    return total


@case([1.0, -2.0, 3.0, -4.0])
def loop_with_continue(xs):
    total = 0.0
    for v in xs:
        if v < 0:
            continue
        total = total + v * v
    return total


@case([1.0, 2.0, 30.0, 4.0])
def loop_with_break(xs):
    total = 0.0
    for v in xs:
        if v > 10:
            break
        total = total + v
    return total


@case([1.0, 2.0, 3.0])
def loop_with_return(xs):
    for v in xs:
        if v > 1.5:
            return v * 10.0
    return 0.0


@case([1.0, 2.0])
def for_else_without_break(xs):
    total = 0.0
    for v in xs:
        total = total + v
    else:
        total = total * 2.0
    return total


@case([1.0, 20.0])
def for_else_with_break(xs):
    total = 0.0
    for v in xs:
        if v > 10:
            break
        total = total + v
    else:
        total = total * 100.0
    return total


@case(2.0)
def loop_variable_used_after_loop(x):
    v = 0.0
    for v in [x, x * 2.0, x * 3.0]:
        pass
    return v * v


@case(1.2)
def loop_carries_two_variables(x):
    a, b = x, 1.0
    for _ in range(3):
        a, b = b * x, a + b
    return a * b


@case([[1.0, 2.0], [3.0, 4.0]])
def loop_over_nested_lists(rows):
    total = 0.0
    for row in rows:
        for v in row:
            total = total + v * v
    return total


@case([1.0, 2.0, 3.0])
def loop_over_reversed(xs):
    total = 0.0
    k = 1.0
    for v in reversed(xs):
        total = total + v * k
        k = k + 1.0
    return total


@case([3.0, 1.0, 2.0])
def loop_over_sorted(xs):
    total = 0.0
    for i, v in enumerate(sorted(xs)):
        total = total + v * (i + 1)
    return total


@case([1.0, 2.0, 3.0])
def loop_over_slice(xs):
    total = 0.0
    for v in xs[1:]:
        total = total + v * v
    return total


# --- while loops --------------------------------------------------------------------------------


@case(1.5)
def while_loop_counter(x):
    i = 0
    y = x
    while i < 3:
        y = y * x
        i += 1
    return y


@case(3.0)
def while_loop_on_value(x):
    y = x
    while y < 100.0:
        y = y * 2.0
    return y


@case(1.5)
def while_with_break(x):
    y = x
    n = 0
    while True:
        y = y * x
        n += 1
        if n >= 4:
            break
    return y


@case(1.5)
def while_with_continue(x):
    total = 0.0
    i = 0
    while i < 5:
        i += 1
        if i == 2:
            continue
        total = total + x * i
    return total


@case(1.1)
def while_with_return(x):
    y = x
    while True:
        y = y * 1.5
        if y > 5.0:
            return y * x
    return 0.0


@case(1.5)
def nested_while_loops(x):
    total = 0.0
    i = 0
    while i < 2:
        j = 0
        while j < 3:
            total = total + x * (i + j)
            j += 1
        i += 1
    return total


@case(2.0)
def while_inside_for(x):
    total = 0.0
    for k in range(3):
        y = x
        while y < 10.0 * (k + 1):
            y = y * 2.0
        total = total + y
    return total


# --- recursion ----------------------------------------------------------------------------------


@case(5.0, 3)
def pow_by_recursion(x, n):
    if n == 0:
        return 1.0
    return x * pow_by_recursion(x, n - 1)


@case(1.3, 5)
def fibonacci_like(x, n):
    if n < 2:
        return x
    return fibonacci_like(x, n - 1) + 0.5 * fibonacci_like(x, n - 2)


def _is_even_scale(x, n):
    if n == 0:
        return x
    return _is_odd_scale(x * 2.0, n - 1)


def _is_odd_scale(x, n):
    if n == 0:
        return x * x
    return _is_even_scale(x + 1.0, n - 1)


@case(1.5, 4)
def mutual_recursion(x, n):
    return _is_even_scale(x, n)


@case([1.0, 2.0, 3.0])
def recursive_sum(xs):
    if len(xs) == 0:
        return 0.0
    return xs[0] * xs[0] + recursive_sum(xs[1:])


# --- function calls, keywords, *args, **kwargs ---------------------------------------------------


def _helper_square(x):
    return x * x


def _helper_scale(x, factor=2.0):
    return x * factor


def _helper_kwonly(x, *, power=2):
    return x**power


def _helper_varargs(*xs):
    total = 0.0
    for v in xs:
        total = total + v
    return total


def _helper_kwargs(x, **options):
    return x * options["scale"] + options["shift"]


def _helper_both(a, *rest, scale=1.0, **named):
    return (a + sum(rest)) * scale + named["extra"]


@case(3.0)
def calls_helper(x):
    return _helper_square(x) + _helper_square(2.0 * x)


@case(3.0)
def keyword_default_used(x):
    return _helper_scale(x)


@case(3.0, 4.0)
def keyword_argument_gets_gradient(x, f):
    return _helper_scale(x, factor=f)


@case(3.0, 5.0)
def positional_for_keyword_parameter(x, f):
    return _helper_scale(x, f)


@case(1.5)
def keyword_only_parameter(x):
    return _helper_kwonly(x, power=3)


def _helper_positional_only(a, b, /, c=2.0, *rest, scale=1.0):
    return (a * b + c + sum(rest)) * scale


@case(1.5, 2.5)
def positional_only_parameters(x, y):
    # (the engine's own leading parameters go before the positional-only ones)
    return _helper_positional_only(x, y) + _helper_positional_only(y, x, x, y, scale=x)


@case(1.5, 2.5)
def positional_only_parameters_of_its_own(x, y, /):
    return x * y + x


@case(1.0, 2.0, 3.0)
def varargs_call(a, b, c):
    return _helper_varargs(a, b * b, c)


@case([1.0, 2.0, 3.0])
def star_args_call(xs):
    return _helper_varargs(*xs)


@case(2.0, 3.0, 4.0)
def kwargs_call(x, s, t):
    return _helper_kwargs(x, scale=s, shift=t)


@case(2.0, 3.0)
def double_star_call(x, s):
    options = {"scale": s, "shift": 1.0}
    return _helper_kwargs(x, **options)


@case(1.0, 2.0, 3.0, 0.5)
def mixed_signature_call(a, b, c, e):
    return _helper_both(a, b, c, scale=2.0, extra=e)


@case(2.0)
def default_argument_of_own(x, y=3.0):
    return x * y


def _returns_pair(x):
    return x * 2.0, x * x


@case(1.5)
def tuple_returning_helper(x):
    a, b = _returns_pair(x)
    return a + b


@case(1.5)
def helper_result_indexed(x):
    return _returns_pair(x)[1]


# --- nested functions, lambdas, closures ---------------------------------------------------------


@case(2.0)
def nested_function(x):
    def inner(y):
        return y * y + 1.0

    return inner(x) * inner(2.0 * x)


@case(2.0, 3.0)
def closure_captures_argument(x, w):
    def scaled(y):
        return y * w

    return scaled(x) + scaled(1.0)


@case(1.5)
def lambda_called(x):
    f = lambda y: y**3  # noqa: E731
    return f(x)


@case(1.5, 2.0)
def lambda_capturing(x, a):
    f = lambda y: a * y + a  # noqa: E731
    return f(x) * f(1.0)


@case(2.0)
def closure_returned_and_called(x):
    def make(c):
        return lambda y: c * y

    return make(x)(3.0) + make(2.0)(x)


@case(1.2, 0.7)
def closure_over_two_levels(x, b):
    def outer(u):
        def inner(v):
            return u * v + b

        return inner(x)

    return outer(b * 2.0)


def _make_scaler(k):
    def scale(x):
        return k * x

    return scale


_scale_by_three = _make_scaler(3.0)


@case(2.0)
def module_level_closure(x):
    return _scale_by_three(x) * x


@case(2.0)
def function_as_argument(x):
    return _apply_twice(_helper_square, x)


def _apply_twice(f, x):
    return f(f(x))


@case(1.5)
def immediately_called_lambda(x):
    return (lambda y: y * y)(x) + x


# --- comprehensions and generators ---------------------------------------------------------------


@case([1.0, 2.0, 3.0])
def list_comprehension(xs):
    squares = [v * v for v in xs]
    return squares[0] + squares[1] + squares[2]


@case([1.0, -2.0, 3.0])
def filtered_comprehension(xs):
    positive = [v for v in xs if v > 0]
    return positive[0] * positive[1]


@case([1.0, 2.0, 3.0])
def generator_expression_sum(xs):
    return sum(v**2 for v in xs)


@case(2.0)
def comprehension_over_range(x):
    powers = [x**i for i in range(4)]
    return sum(powers)


@case([1.0, 2.0], [3.0, 4.0])
def nested_comprehension(xs, ys):
    products = [a * b for a in xs for b in ys]
    return sum(products)


@case({"a": 1.0, "b": 2.0})
def dict_comprehension(d):
    doubled = {k: v * 2.0 for k, v in d.items()}
    return doubled["a"] * doubled["b"]


@case([1.0, 2.0, 3.0])
def comprehension_variable_does_not_leak(xs):
    v = 10.0
    total = sum([v * 2.0 for v in xs])
    return total * v


@case([[1.0, 2.0], [3.0, 4.0]])
def comprehension_of_rows(rows):
    return sum([row[0] * row[1] for row in rows])


@case(1.5)
def set_comprehension_constant(x):
    sizes = {len(s) for s in ["a", "bb", "a"]}
    return x * len(sizes)


# --- tuple unpacking and augmented assignment -----------------------------------------------------


@case(2.0, 3.0)
def tuple_unpacking(a, b):
    x, y = a * 2.0, b * 3.0
    return x * y


@case(2.0, 3.0)
def swap_by_unpacking(a, b):
    a, b = b, a
    return a * 10.0 + b


@case([1.0, 2.0, 3.0, 4.0])
def starred_unpacking(xs):
    first, *middle, last = xs
    return first * last + sum(middle)


@case((1.0, (2.0, 3.0)))
def nested_unpacking(t):
    a, (b, c) = t
    return a * b * c


@case(2.0)
def augmented_assignment_all(x):
    y = x
    y += 1.0
    y *= x
    y -= 0.5
    y /= 2.0
    y **= 2
    return y


@case([1.0, 2.0])
def augmented_assignment_on_item(xs):
    ys = [xs[0], xs[1]]
    ys[0] += xs[1]
    ys[1] *= 3.0
    return ys[0] * ys[1]


@case(2.0, 3.0)
def chained_assignment(a, b):
    x = y = a * b
    return x + y


@case(2.0)
def annotated_assignment(x):
    y: float = x * 3.0
    return y


# --- containers: arguments, results, local containers and mutation ------------------------------


@case([1.0, 2.0, 3.0])
def list_argument_indexing(xs):
    return xs[0] * xs[2] + xs[-1]


@case((1.0, 2.0))
def tuple_argument_indexing(t):
    return t[0] * t[1]


@case({"a": 17.0, "b": 23.0}, 2.0)
def dict_argument(theta, x):
    return theta["a"] * x + theta["b"]


@case({"w": 2.0, "name": "n", "k": 3})
def dict_with_non_float_values(d):
    return d["w"] * d["k"]


@case(2.0, 3.0)
def local_list_mutation(a, b):
    xs = []
    xs.append(a)
    xs.append(b * a)
    return xs[0] + xs[1]


@case(2.0, 3.0)
def local_dict_mutation(a, b):
    d = {}
    d["a"] = a
    d["b"] = b
    d["a"] = d["a"] * d["b"]
    return d["a"] + d["b"]


@case([1.0, 2.0, 3.0])
def argument_list_mutated(xs):
    xs[0] = xs[1] * xs[2]
    return xs[0] + xs[1]


@case(2.0)
def list_overwrite_drops_old_gradient(x):
    xs = [x, x]
    xs[0] = 1.0
    return xs[0] + xs[1]


@case(1.0, 2.0)
def list_pop(a, b):
    xs = [a, b]
    last = xs.pop()
    return last * xs[0]


@case(1.0, 2.0, 3.0)
def list_pop_front_and_insert(a, b, c):
    xs = [a, b]
    first = xs.pop(0)
    xs.insert(0, c)
    return first * 10.0 + xs[0] * xs[1]


@case([1.0, 2.0], [3.0])
def list_extend(xs, ys):
    zs = []
    zs.extend(xs)
    zs.extend(ys)
    return zs[0] * zs[2] + zs[1]


@case(2.0)
def list_aliasing(x):
    xs = [0.0]
    alias = xs
    alias[0] = x
    return xs[0] * 3.0


@case(2.0)
def dict_get_present_and_missing(x):
    d = {"a": x}
    return d.get("a", 0.0) * d.get("b", x)


@case(2.0, 3.0)
def dict_update(a, b):
    d = {"a": a}
    d.update({"b": b})
    return d["a"] * d["b"]


@case(2.0, 3.0)
def dict_setdefault_present_missing_and_a_list(a, b):
    d = {"a": a}
    kept = d.setdefault("a", b)  # present: a read of d["a"]
    added = d.setdefault("b", b * 2.0)  # missing: stored, then read
    xs = d.setdefault("xs", [])
    xs.append(a * b)
    return kept * added + d["b"] * d["xs"][0] + d["a"] ** 2


@case(1.5, 2.0)
def list_methods_that_rearrange(a, b):
    xs = [3.0 * a, b, a * b, -a]
    xs.sort()  # -a, b, 3a, ab
    xs.reverse()  # ab, 3a, b, -a
    xs.remove(b)
    xs.sort(key=abs, reverse=True)  # ab (3.0), 3a (4.5), -a: by magnitude, largest first
    ys = xs.copy()
    ys.append(a)
    n = ys.index(a) + ys.count(-a)
    xs.clear()
    xs.append(b * b)
    return ys[0] * ys[1] + xs[0] * n + ys[2] * ys[3]


@case(1.5, 2.0)
def dict_methods(a, b):
    d = {"a": a, "b": 2.0 * b}
    e = d.copy()
    e.update([("c", a * b), ("a", b)], k=1.0)  # the last pair names "a": e["a"] is b
    _key, v = e.popitem()  # ("k", 1.0)
    e["b"] *= v
    d.clear()
    d.update({"x": e["b"]})
    return e["a"] * e["c"] + d["x"] * a


def _endless(v):
    while True:
        yield v


@case(1.5)
def zip_and_map_with_iterators(x):
    # iterators of constants, read only as far as the shortest sequence
    counted = sum(a * k for a, k in zip([x, x * x], itertools.count(1.0)))
    repeated = sum(map(lambda a, b: a * b, [x, 2.0 * x], itertools.repeat(3.0)))
    return counted + repeated + sum(a * b for a, b in zip([x], _endless(2.0)))


@case(2.0, 3.0)
def list_literal_and_sum(a, b):
    return sum([a, b, a * b])


@case(2.0)
def list_concatenation(x):
    xs = [x] + [x * 2.0]
    return xs[0] * xs[1]


@case(2.0, 3.0)
def tuple_literal_indexing(a, b):
    t = (a, b, a + b)
    return t[2] * t[0]


@case(2.0)
def starred_in_literal(x):
    xs = [x, 2.0]
    t = (1.0, *xs, x)
    return t[1] * t[3] + t[2]


@case(2.0)
def dict_literal_unpacking(x):
    d = {"a": x, **{"b": x * 2.0}}
    return d["a"] * d["b"]


@case([[1.0, 2.0], [3.0, 4.0]])
def nested_list_reads(m):
    return m[0][1] * m[1][0]


@case(2.0)
def nested_list_built_locally(x):
    inner = [x, 1.0]
    outer = [inner, [2.0]]
    inner.append(x * 3.0)
    return outer[0][2] * outer[0][0]


@case(2.0)
def returns_through_list_slot(x):
    acc = [0.0]
    for i in range(3):
        acc[0] = acc[0] + x * i
    return acc[0]


@case([1.0, 2.0])
def len_of_argument(xs):
    return xs[0] * len(xs)


@case(2.0)
def slicing_local_list(x):
    xs = [x, x * 2.0, x * 3.0]
    ys = xs[1:]
    return ys[0] * ys[1]


_GLOBAL_STORE = {}


@case(5.0)
def global_dict_write_and_read(x):
    _GLOBAL_STORE["x"] = x
    return _GLOBAL_STORE["x"] * _GLOBAL_STORE["x"]


_GLOBAL_CONSTANT = 3.0


@case(2.0)
def global_constant_read(x):
    return x * _GLOBAL_CONSTANT


# --- user classes, dataclasses, callable objects -------------------------------------------------


@dataclass
class Point:
    x: float
    y: float

    def norm2(self):
        return self.x**2 + self.y**2

    def scaled(self, k):
        return Point(self.x * k, self.y * k)


class Vector:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def dot(self, other):
        return self.x * other.x + self.y * other.y


class Affine:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, x):
        return self.w * x + self.b


class Pair(NamedTuple):
    a: float
    b: float


@case(Point(1.0, 2.0))
def dataclass_argument_fields(p):
    return math.sqrt(p.x**2 + p.y**2)


@case(Point(1.0, 2.0))
def dataclass_method(p):
    return p.norm2()


@case(Point(1.0, 2.0), 3.0)
def dataclass_method_returning_object(p, k):
    q = p.scaled(k)
    return q.x + q.y * q.y


@case(1.0, 2.0)
def dataclass_constructed_inside(a, b):
    p = Point(a, b * 2.0)
    return p.x * p.y


@case(1.0, 2.0)
def dataclass_constructed_with_keywords(a, b):
    p = Point(y=b, x=a)
    return p.x - p.y * 3.0


@case(1.0, 2.0, 3.0)
def plain_class_constructed_inside(a, b, c):
    v = Vector(a, b)
    w = Vector(c, a)
    return v.dot(w)


@case(Vector(1.0, 2.0))
def plain_object_argument(v):
    return v.x * v.y


@case(Vector(1.0, 2.0), 3.0)
def attribute_assignment_on_argument(v, s):
    v.x = v.x * s
    return v.x + v.y


@case(Affine(2.0, 1.0), 3.0)
def callable_object_argument(model, x):
    return model(x) * model(x)


@case(2.0, 0.5)
def callable_object_constructed_inside(w, x):
    model = Affine(w, 1.0)
    return model(x)


@case(Pair(1.0, 2.0))
def namedtuple_argument(p):
    return p.a * p.b + p[0]


@case(1.0, 2.0)
def namedtuple_constructed_inside(a, b):
    p = Pair(a, b)
    return p.a * p.b


@case(2.0)
def object_attribute_accumulation(x):
    v = Vector(x, 0.0)
    v.y = v.x * 2.0
    v.x = v.y + v.x
    return v.x * v.y


# --- numpy ---------------------------------------------------------------------------------------


@case(np.array([1.0, 2.0, 3.0]))
def numpy_sum_of_squares(a):
    return np.sum(a * a)


@case(np.array([0.1, 0.2, 0.3]))
def numpy_elementwise_chain(a):
    return np.sum(np.tanh(np.exp(a) * 0.5))


@case(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -1.0]))
def numpy_matrix_vector(m, v):
    return np.sum((m @ v) ** 2)


@case(np.array([1.0, 2.0, 3.0]))
def numpy_mean(a):
    return np.mean(a**2)


@case(np.array([1.0, 2.0, 3.0]))
def numpy_indexing(a):
    return a[0] * a[2] + np.sum(a[1:])


@case(np.array([1.0, 2.0]), 3.0)
def numpy_broadcast_scalar(a, s):
    return np.sum(a * s + s)


@case(np.array([[1.0, 2.0], [3.0, 4.0]]))
def numpy_transpose_attribute(m):
    t = m.T
    return np.sum(t @ m)


@case(np.array([[1.0, 2.0, -1.0], [3.0, 4.0, 0.5]]))
def numpy_gram_matrices(m):
    return np.sum(np.sin(m @ m.T)) + np.sum(np.cos(m.T @ m) * m[0])


@case(np.array([1.0, 2.0, 3.0]))
def numpy_method_call(a):
    return (a * a).sum()


@case(np.array([0.5, -1.5]), 0.7)
def complex_array_real_and_imaginary_parts(a, b):
    z = a * (1.0 + 2.0j) + b * 1j
    return np.sum(z.imag * z.real)


@case(0.8, -0.3)
def complex_number_real_and_imaginary_parts(a, b):
    z = complex(a, b)
    w = z * z
    return w.real + 3.0 * w.imag


@case(np.array([1.0, 2.0, 3.0]))
def numpy_array_from_list(a):
    b = np.array([a[0], a[1] * 2.0])
    return np.sum(b * b)


@case(np.array([1.0, 2.0]))
def numpy_in_loop(a):
    total = 0.0
    for i in range(3):
        total = total + np.sum(a * i)
    return total


@case(np.array([0.5, 1.5]))
def numpy_math_functions(a):
    return np.sum(np.sin(a) + np.log(a) + np.sqrt(a))


@case(np.array([1.0, -2.0, 3.0]))
def numpy_with_branch_on_value(a):
    if np.sum(a) > 0:
        return np.sum(a**3)
    return np.sum(a)


# --- higher-order builtins -----------------------------------------------------------------------


@case([1.0, 2.0, 3.0])
def builtin_map(xs):
    return sum(map(lambda v: v * v, xs))


@case([3.0, 1.0, 2.0])
def builtin_sorted_first(xs):
    return sorted(xs)[0] * 2.0 + sorted(xs)[2]


@case([1.0, 2.0, 3.0])
def functools_reduce(xs):
    return functools.reduce(lambda a, b: a * b, xs)


@case([1.0, 2.0], [3.0, 4.0])
def zip_in_comprehension(xs, ys):
    return sum([a * b for a, b in zip(xs, ys)])


@case([1.0, 2.0, 3.0])
def enumerate_in_comprehension(xs):
    return sum([i * v for i, v in enumerate(xs)])


@case([1.0, 2.0, 3.0])
def max_of_list(xs):
    return max(xs) * 2.0


# --- miscellany ----------------------------------------------------------------------------------


@case(2.0)
def f_string_is_constant(x):
    label = f"value {x}"
    return x * len(label) * 0.0 + x * x


@case(2.0)
def assert_statement(x):
    assert x > 0, "positive"
    return x * 3.0


@case(2.0)
def raise_in_untaken_branch(x):
    if x < 0:
        raise ValueError("negative")
    return x * x


@case(2.0)
def docstring_and_pass(x):
    """A docstring is not an operation."""
    pass
    return x + 1.0


@case(2.0)
def isinstance_check(x):
    if isinstance(x, float):
        return x * 2.0
    return x


@case(2.0, 3)
def integer_argument_gets_none(x, n):
    return x * n


@case(2.0, "label")
def string_argument_gets_none(x, s):
    return x * len(s)


@case(2.0)
def is_none_check(x, y=None):
    if y is None:
        y = x * 2.0
    return x * y


@case(3.0)
def walrus_free_min_of_pair(x):
    pair = (x, x * x)
    return min(pair) + max(pair)


class Scaled:
    def __init__(self, w):
        self.w = w

    def apply(self, x):
        return self.w * x


class DoubledScaled(Scaled):
    def apply(self, x):
        return super().apply(x) * 2.0


@case(DoubledScaled(3.0), 2.0)
def method_calling_super(model, x):
    return model.apply(x)


@case(np.ones((2, 3)))
def numpy_keyword_argument(a):
    return np.sum(np.sum(a, axis=0) ** 2)


@case(2.0)
def lambdas_made_in_a_loop(x):
    fs = [lambda y, k=k: y * k for k in range(3)]
    return sum(f(x) for f in fs)


@case(2.0)
def while_growing_a_list(x):
    xs = [x]
    while len(xs) < 4:
        xs.append(xs[-1] * x)
    return xs[-1]


@case(np.array([1.0, 5.0, 2.0]))
def numpy_max_and_item(a):
    return np.max(a) + a[1]


@case(2.0, 3.0)
def keyword_arguments_into_double_star_parameter(a, b):
    return _helper_kwargs(a, scale=b, shift=a * b)


def _fill(xs, v):
    xs.append(v)


def _make_pair(a, b):
    return [a, b * a]


class History:
    def __init__(self):
        self.values = []

    def record(self, v):
        self.values.append(v)
        return v


_GLOBAL_LOG = []


@case(2.0)
def mutation_inside_a_helper(x):
    xs = []
    _fill(xs, x)
    _fill(xs, x * 3.0)
    return xs[0] * xs[1]


@case(2.0, 3.0)
def list_returned_by_a_helper(a, b):
    pair = _make_pair(a, b)
    pair.append(pair[0] + pair[1])
    return pair[2] * pair[1]


@case(2.0)
def dict_of_lists(x):
    d = {"xs": [x], "ys": []}
    d["ys"].append(d["xs"][0] * 2.0)
    d["xs"][0] = d["ys"][0] + x
    return d["xs"][0] * d["ys"][0]


@case(1.5)
def object_attribute_list(x):
    h = History()
    h.record(x)
    h.record(x * x)
    return h.values[0] + h.values[1] * 2.0


@case(2.0)
def global_list_appended(x):
    _GLOBAL_LOG.append(x * x)
    return _GLOBAL_LOG[-1] * 3.0


@case([1.0, 2.0, 3.0])
def argument_list_appended_and_popped(xs):
    xs.append(xs[0] * 10.0)
    last = xs.pop()
    first = xs.pop(0)
    return last * first + xs[0] * xs[1]


class Circle:
    def __init__(self, radius):
        self.radius = radius

    @property
    def area(self):
        return math.pi * self.radius**2


@case(1.3)
def property_getter_is_differentiated(r):
    c = Circle(r)
    return c.area + c.radius


# --- with statements: entered and exited around the body, as Python does ------------------------


class Scaled:
    """A context manager that records how often it was entered and left."""

    def __init__(self):
        self.depth = 0

    def __enter__(self):
        self.depth += 1
        return 3.0

    def __exit__(self, *exc):
        self.depth -= 1
        return False


_SCALED = Scaled()


@contextlib.contextmanager
def _doubling():
    yield 2.0


@case(np.array([0.5, 2.0, 4.0]))
def with_errstate(x):
    with np.errstate(divide="ignore"):
        y = np.log(x) * x
    return np.sum(y)


@case(1.5)
def with_user_manager_and_return_inside(x):
    with _SCALED as k, _doubling() as m:
        if _SCALED.depth != 1:
            raise AssertionError("not entered exactly once")
        return k * m * x * x


@case(0.7)
def with_in_a_loop(x):
    total = 0.0
    for i in range(3):
        with _doubling() as m:
            total = total + m * x**i
    return total


class Holding:
    """A manager around a differentiated value: entered, it gives itself or a value of its own."""

    def __init__(self, v):
        self.v = v

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Squaring(Holding):
    def __enter__(self):
        return self.v * self.v, self.v


@case(1.3)
def with_manager_entered_as_itself(x):
    with Holding(x * 2.0) as h:
        y = h.v * x
    return y


@case(0.8)
def with_manager_entering_a_value_of_its_state(x):
    with Squaring(math.sin(x)) as (square, v):
        y = square * x + v
    return y


class _Compounding:
    """A manager whose ``__enter__`` and ``__exit__`` compute with its differentiated state."""

    def __init__(self, rate):
        self.rate = rate
        self.total = 1.0

    def __enter__(self):
        self.total = self.total * self.rate  # entered without "as": still differentiated

    def __exit__(self, kind, error, trace):
        self.total = self.total * self.rate * 2.0
        return kind is ZeroDivisionError


_LOCK = threading.Lock()


@case(1.2, 0)  # an int: finite differences do not move it off the exception
def with_manager_computing_in_enter_and_exit(x, zero):
    c = _Compounding(x)
    with c:
        c.total = c.total + x
    with c:  # the exit swallows this body's error
        c.total = c.total * x
        c.total = c.total / zero
    with _LOCK:  # a manager written in C
        y = c.total * x
    return y


# @contextmanager managers: the generator's code before the yield runs at enter, after it at exit


@contextlib.contextmanager
def _scaled_by(s, power=2):
    k = 2.0 * s
    yield k * s**power


@contextlib.contextmanager
def accumulating(total, weight):
    """Yields a list; when the block ends, adds ``weight`` times the list's sum to ``total``."""
    box = []
    try:
        yield box
    finally:
        total.append(weight * sum(box))


@contextlib.contextmanager
def _forgiving(scale, log):
    try:
        yield scale * 2.0
    except ValueError as error:
        log.append(error.args[0] * scale)


@contextlib.contextmanager
def _recording(log, x):
    before = math.sin(x)
    yield
    log.append(before * x)


@case(1.3, 0.7)
def with_generator_manager_yielding_a_value(x, y):
    with _scaled_by(x) as v, _scaled_by(y, power=3) as w:
        z = v * y + w
    return z * x


@case(0.9, 1.7)
def with_generator_manager_accumulating_what_the_body_computes(x, w):
    total = [x]
    with accumulating(total, w) as box:
        box.append(x * x)
        box.append(math.sin(x) * w)
    return total[0] * total[1]


@case(1.1)
def with_generator_manager_swallowing_the_error_of_its_body(x):
    log = []
    y = x
    with _forgiving(x, log) as s:
        y = s * x
        raise ValueError(y * y)
    return y + log[0]


@case(0.6)
def with_generator_manager_yielding_nothing_in_a_loop(x):
    log = []
    for i in range(3):
        with _recording(log, x * i):
            x = x * 1.5
    return log[0] + log[1] * log[2] + x


# --- assignment expressions and operators of user classes -----------------------------------------


@case(np.array([0.5, 1.5, 2.5]))
def walrus_in_condition_and_comprehension(xs):
    if (total := np.sum(xs**2)) > 1.0:
        scaled = [(y := x * total) * y for x in xs]
    else:
        scaled = [xs[0]]
    return sum(scaled) + total


@dataclass
class Money:
    amount: float
    rate: float

    def __add__(self, other):
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.amount + other.amount, self.rate)

    def __radd__(self, other):  # sum() starts from 0
        return Money(self.amount + other, self.rate)

    def __mul__(self, k):
        return Money(self.amount * k, self.rate)

    __rmul__ = __mul__

    def __neg__(self):
        return Money(-self.amount, self.rate)

    def __getitem__(self, i):
        return (self.amount, self.rate)[i]

    def __len__(self):
        return 2


@case(Money(2.0, 0.5), 3.0)
def operators_of_a_user_class(m, k):
    total = sum([m, k * m, -m * 0.5])
    doubled = m + m
    return total.amount * doubled[1] + len(m) * doubled[0]


# --- try / except / else / finally: the backward pass follows the path that ran ------------------


@case(3.0)
def try_where_nothing_raises(x):
    try:
        y = x**2
    except ZeroDivisionError:
        y = 0.0
    return y


@case(2.0, 0)  # an int divisor: finite differences do not move it off the exception
def try_caught_exception_after_some_statements(x, d):
    try:
        y = x * 3.0
        z = y / d
        w = z * 100.0
    except ZeroDivisionError:
        w = y * x
    else:
        w = w + x
    finally:
        w = w * 2.0
    return w


@case(2.0, 4.0)
def try_else_and_finally_without_exception(x, d):
    try:
        w = x * 3.0 / d
    except (ZeroDivisionError, ValueError) as error:
        w = float(len(str(error)))
    else:
        w = w + x * x
    finally:
        w = w * 2.0
    return w


@case([1.0, -2.0, 3.0])
def try_inside_a_loop(xs):
    total = 0.0
    for x in xs:
        try:
            total = total + math.log(x)
        except ValueError:
            total = total + x * x
    return total


@case(1.5)
def try_with_return_and_raise_inside(x):
    try:
        if x > 1.0:
            return x * x * x
        raise ValueError("small")
    except ValueError:
        return -x
    finally:
        x = x * 0.0


# An exception that leaves a compound statement halfway: the backward pass undoes the part that ran.


class _Stop(Exception):
    pass


@case(1.1)
def try_around_a_loop_that_an_exception_leaves(x):
    try:
        for i in range(5):
            x = x * 2.0
            if i == 2:
                raise _Stop
            x = x + 1.0
    except _Stop:
        x = x * x
    return x


@case([0.5, 1.5, 2.5, 3.5])
def try_around_a_loop_over_items_read_after_it(xs):
    total = 0.0
    try:
        for x in xs:
            total = total + x * x
            if x > 2.0:
                raise _Stop
            total = total * x
    except _Stop:
        total = total + x * 3.0
    return total


@case(1.2)
def try_around_a_while_loop_that_an_exception_leaves(x):
    n = 0
    try:
        while n < 10:
            n = n + 1
            x = x * 1.5
            if n == 3:
                raise _Stop
            x = x + 0.5
    except _Stop:
        pass
    return x * n


@case(0.7, 2)
def try_around_a_branch_that_an_exception_leaves(x, k):
    y = x
    try:
        if k > 1:
            y = y * x
            y = y / (k - 2)
            y = y * 100.0
        else:
            y = y + x
    except ZeroDivisionError:
        y = y * 3.0
    return y


@case([0.9, 1.1, 1.3])
def exception_out_of_nested_loops(xs):
    total = 1.0
    try:
        for i in range(3):
            for x in xs:
                total = total * x
                if i == 1 and x > 1.0:
                    raise _Stop
            total = total + 1.0
    except _Stop:
        total = total * 2.0
    return total


@case([1.5, 0.4, 2.0, 0.3])
def loops_left_halfway_inside_a_loop(xs):
    total = 0.0
    for x in xs:
        try:
            for j in range(4):
                total = total + x * j
                if j * x > 1.0:
                    raise _Stop
        except _Stop:
            total = total * 1.5
    return total


@case(1.3)
def inner_try_left_by_an_exception_from_its_handler(x):
    y = x
    try:
        try:
            y = y * x
            raise KeyError("inner")
        except KeyError:
            y = y * 2.0
            raise _Stop from None
        finally:
            y = y + x
    except _Stop:
        y = y * y
    return y


@case(2.0)
def inner_finally_runs_before_the_outer_handler(x):
    y = x
    try:
        try:
            y = y * 3.0
            raise _Stop
        finally:
            y = y * x
            y = y + 1.0
    except _Stop:
        y = y / x
    return y


@case(0.8)
def with_left_halfway_inside_try(x):
    y = x
    try:
        with np.errstate(all="ignore"):
            y = y * x
            for i in range(3):
                y = y * 2.0
                if i == 1:
                    raise _Stop
    except _Stop:
        y = y + x
    return y


@case([1.0, -2.0, 0.5])
def suppressing_with_around_a_loop_left_halfway(xs):
    total = 0.0
    with contextlib.suppress(ValueError):
        for x in xs:
            total = total + x * x
            if x < 0:
                raise ValueError("negative")
            total = total * 2.0
    return total


# --- match statements: every kind of pattern, guards, bindings carrying gradients -----------------


def _matched(subject, k):
    match subject:
        case Point(x=0.0, y=y):
            return y * k
        case Point(x, y) if x > 1.0:
            return x * y * k
        case [a, b, *rest]:
            return a * b + sum(rest) * k
        case {"w": w, **others}:
            return w * k + len(others)
        case float(v) | int(v):
            return v * v * k
        case None | True:
            return k
        case _:
            return 0.0


@case(Point(2.0, 3.0), 1.5)
def match_class_pattern_with_guard(p, k):
    return _matched(p, k)


@case(Point(0.0, 3.0), 1.5)
def match_class_keyword_pattern_with_literal(p, k):
    return _matched(p, k)


@case([1.0, 2.0, 3.0, 4.0], 1.5)
def match_sequence_with_star(xs, k):
    return _matched(xs, k)


@case({"w": 2.0, "z": 1.0}, 1.5)
def match_mapping_with_rest(d, k):
    return _matched(d, k)


@case(3.0, 1.5)
def match_or_of_builtin_classes(x, k):
    return _matched(x, k) + _matched(None, k) + _matched("text", k)


# --- functools.partial and functools.wraps --------------------------------------------------------


def _scale(x, k, *, shift=0.0):
    return x * k + shift


@case(2.0, 3.0, 0.5)
def partial_objects_with_bound_positional_and_keyword_values(x, k, s):
    p = functools.partial(_scale, k=k, shift=s)
    q = functools.partial(_scale, x)
    return p(x) + q(k) * 2.0 + p(2.0, k=3.0)


def _doubled(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs) * 2.0

    return wrapper


@_doubled
def _cubed(x):
    return x**3


@case(1.5)
def decorated_with_functools_wraps(x):
    return _cubed(x) + x


# --- del ------------------------------------------------------------------------------------------


class _Box:
    pass


@case([1.0, 2.0, 3.0, 4.0], 2.0)
def del_of_names_items_slices_keys_and_attributes(xs, k):
    scratch = xs[0] * k
    del scratch
    ys = [x * k for x in xs]
    del ys[1]
    del ys[:1]
    d = {"a": xs[0], "b": xs[1] * xs[2]}
    del d["a"]
    box = _Box()
    box.w = xs[3] * k
    box.v = xs[0]
    del box.v
    return sum(ys) * d["b"] + box.w


@case(3.0)
def with_manager_that_swallows_the_exception(x):
    y = x * 2.0
    with contextlib.suppress(ZeroDivisionError):
        y = x * x
        y = y / 0
        y = y * x
    return y


@case([1.0, -2.0, 0.5])
def with_manager_that_swallows_inside_a_loop(xs):
    total = 0.0
    for x in xs:
        with contextlib.suppress(ValueError):
            total = total + x * x
            if x < 0:
                raise ValueError("negative")
            total = total * 2.0
    return total


@case({"a": 2.0, "b": 3.0}, 1.5)
def dict_pop_with_and_without_default(d, x):
    a = d.pop("a")
    missing = d.pop("z", x * 2.0)
    return a * d["b"] + missing * a + sum(v for _, v in enumerate([x, a], start=1))


# --- generators: run to the end inside differentiated code --------------------------------------


def _powers(x, n):
    for i in range(n):
        if i == 3:
            return
        yield x**i


def _chained(x):
    yield from _powers(x, 3)
    yield x * 10.0


@case(1.5)
def generators_consumed_by_sum_zip_and_a_comprehension(x):
    pairs = list(zip(_powers(x, 2), [1.0, 2.0]))
    return sum(_powers(x, 5)) + sum(v * v for v in _chained(x)) + pairs[1][0]


@case(2.0)
def try_with_only_a_finally_that_does_nothing(x):
    try:
        y = x * x
    finally:
        pass
    return y


class _Grid:
    def __init__(self):
        self.cells = {}

    def __setitem__(self, key, value):
        self.cells[key] = value * 2.0

    def __getitem__(self, key):
        return self.cells[key]

    def __delitem__(self, key):
        del self.cells[key]


@case(1.5)
def item_assignment_and_deletion_on_a_user_class(x):
    grid = _Grid()
    grid["a"] = x * x
    grid["b"] = x
    del grid["b"]
    return grid["a"] * 3.0


class _Halved:
    def __init__(self, a):
        self.a = a

    @property
    def half(self):
        return self.a / 2

    @half.setter
    def half(self, value):
        self.a = 2 * value


@case(1.0, 4.0)
def property_setter_is_differentiated(x, y):
    c = _Halved(x)
    before = c.half * x
    c.half = y * y
    return c.a + before


class _Found(Exception):
    pass


@case(2.0)
def value_carried_by_a_caught_exception(x):
    try:
        y = 3.0 * x
        raise _Found(y * 1.0, "label")
    except _Found as found:
        z = found.args[0] * x
    return z


class _Measured(Exception):
    def __init__(self, value, label):
        super().__init__(value, label)  # keeps both in args, as Exception does
        self.value = value


@case(1.7)
def value_carried_by_an_exception_with_its_own_init(x):
    try:
        raise _Measured(x * 3.0, "label")
    except _Measured as found:
        return found.value * x + found.args[0]


class _Doubling(list):
    def append(self, v):
        super().append(v * 2.0)


class _Subclassed(list):
    pass


@case(1.5)
def list_subclasses_with_and_without_their_own_append(x):
    xs, ys = _Doubling(), _Subclassed()
    xs.append(x * x)
    xs.append(x)
    ys.append(x)
    ys.extend([x * 3.0])
    return xs[0] + xs[1] * x + ys[0] * ys[1]


class _ScaledDict(dict):
    def __setitem__(self, key, value):
        super().__setitem__(key, value * 2.0)

    def __getitem__(self, key):
        return super().__getitem__(key) + 1.0


class _ClampedList(list):
    def __setitem__(self, i, value):
        super().__setitem__(i, min(value, 10.0))

    def __delitem__(self, i):
        super().__delitem__(i)


@case(1.3)
def container_subclasses_whose_operators_call_super(x):
    d = _ScaledDict()
    d["a"] = x * x  # stored 2x², read 2x² + 1
    xs = _ClampedList()
    xs.extend([0.0, 0.0, 0.0])
    xs[0] = x * 3.0
    xs[1] = x * 100.0  # clamped: constant
    xs[2] = x
    del xs[1]
    return d["a"] * x + xs[0] * xs[1] + xs[-1]


@case(1.5, 0.5)
def classes_defined_inside_the_function(x, y):
    @dataclass
    class Pair:
        a: float
        b: float

        def norm2(self):
            return self.a * self.a + self.b * self.b

        def __add__(self, other):
            return Pair(self.a + other.a, self.b + other.b)

    class Doubled(Pair):
        def norm2(self):
            return 2.0 * super().norm2()

    p = Doubled(x, y * x)
    q = Pair(x, 1.0) + Pair(y, y)
    return p.norm2() + q.norm2()


# --- numpy arrays written in place: every alias and view sees the write, as in plain numpy -------


@case(np.array([0.3, -0.7, 1.1, 0.4]))
def array_recurrence_written_in_place(x):
    a = np.zeros(len(x))
    a[0] = x[0]
    for i in range(1, len(x)):
        a[i] = a[i - 1] * 0.8 + np.sin(x[i])
    return np.sum(a * a)


@case(np.array([0.3, -0.7, 1.1]), 1.7)
def array_in_place_operators(x, s):
    a = x * 1.0
    a += x**2
    a *= s
    a -= np.tanh(a)
    a /= 1.0 + s * s
    a **= 2
    return np.sum(a)


@case(np.array([0.3, -0.7, 1.1, 0.4]), 2.0)
def array_written_through_a_view(x, s):
    a = x.copy()
    b = a[1:3]
    before = np.sum(a * a)
    b[0] = s * x[0]
    b *= s
    return before + np.sum(np.sin(a)) + b[1]


@case(np.array([[0.3, -0.7], [1.1, 0.4]]))
def array_masks_and_integer_index_writes(m):
    a = m.copy()
    a[a > 0.5] = 0.5
    a[[1, 0], 0] = m[:, 1] * 2.0
    a[:, 1] = np.cos(a[:, 0])
    return np.sum(a * m)


@case(np.array([0.3, -0.7, 1.1]))
def argument_array_written_in_place(x):
    x[1] = x[0] * x[2]
    x += 1.0
    return np.sum(x**3)


@case(np.array([0.3, -0.7, 1.1]))
def array_ufunc_out_copyto_add_at_and_fill(x):
    a = np.empty(3)
    np.multiply(x, x, out=a)
    np.copyto(a, np.sin(x), where=x > 0.0)
    np.add.at(a, [0, 0, 2], x)
    b = np.empty(2)
    b.fill(x[1])
    return np.sum(a * x) + np.sum(b * b)


@case(np.array([[0.3, -0.7], [1.1, 0.4]]))
def array_row_written_through_chained_indexing(m):
    a = np.zeros((2, 2))
    a[0][1] = m[1, 0]
    row = a[1]
    row[:] = np.exp(m[0])
    return np.sum(a @ m)


# --- nonlocal: variables rebound by nested functions ---------------------------------------------


@case(2.0)
def nonlocal_accumulator(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v * v

    add(x)
    add(3.0 * x)
    return total


@case(1.5)
def nonlocal_counter_and_state_across_calls(x):
    count = 0
    acc = x

    def step():
        nonlocal count, acc
        count += 1
        acc = acc * x
        return acc

    ys = [step() for _ in range(3)]
    return acc + sum(ys) + count


@case([1.0, 3.0, 2.0])
def nonlocal_rebound_in_a_branch(xs):
    best = xs[0]

    def consider(v):
        nonlocal best
        if v > best:
            best = v

    for v in xs:
        consider(v)
    return best * 2.0


@case(0.7)
def nonlocal_two_levels_down_of_a_parameter(x):
    def middle():
        def inner():
            nonlocal x
            x = math.sin(x)

        inner()
        inner()
        return x

    return middle() + x


def _make_memory():
    last = 0.0

    def remember(v):
        nonlocal last
        previous = last
        last = v
        return previous

    return remember


_recall = _make_memory()  # a closure whose owner is never differentiated: its cell is state


@case(0.7)
def nonlocal_cell_of_a_closure_from_a_factory(x):
    _recall(x * x)
    y = _recall(math.sin(x))  # reads x², written by the call before
    z = _recall(0.0)  # reads sin x
    return y * z


@case(1.4)
def nonlocal_bound_by_assignment_expressions(x):
    total = 0.0

    def add(v):
        nonlocal total
        return (total := total + v) * v

    a = add(x)  # total = x
    b = add(x * x)  # total = x + x²
    return a + b + (total := total * 2.0)


@case(0.9)
def nonlocal_bound_by_except_as_and_a_pattern(x):
    seen = 0.0
    caught = None

    def catch(v):
        nonlocal caught, seen
        try:
            raise ValueError(v * 3.0)
        except ValueError as caught:
            seen = caught.args[0] * v

    def first(pair):
        nonlocal seen
        match pair:
            case [seen, _]:
                return seen * 2.0

    catch(x)
    return seen + first([x * x, 1.0]) + seen


# --- import statements inside the function -------------------------------------------------------


@case(0.8)
def imports_inside_the_function(x):
    import math as m
    import os.path
    from math import cos as c, sin

    import numpy

    scale = 2.0 if os.path.sep else 1.0
    return m.exp(x) * sin(x) + c(x) * scale + float(numpy.tanh(x))


@case(np.array([0.3, 1.2]))
def import_inside_a_loop_and_a_nested_function(xs):
    total = 0.0
    for x in xs:
        from numpy import sin

        total = total + sin(x)

    def cube(v):
        import operator

        return operator.mul(v, v * v)

    return total + np.sum(cube(xs))


_IMPORTED = None


@case(1.3)
def import_binding_a_global(x):
    global _IMPORTED
    import math as _IMPORTED

    return _IMPORTED.log(x) * x


# --- assigning globals ----------------------------------------------------------------------------

_GAIN = 2.0
_LATEST = None
_COUNT = 0


def _gain_times(v):
    return _GAIN * v


def _remember(v):
    global _LATEST
    _LATEST = v * v


@case(1.5)
def global_assigned_then_read_by_a_callee(x):
    global _GAIN
    y = _GAIN * x  # read before the assignment: the constant 2
    _GAIN = x * x
    z = _gain_times(x)  # the callee reads x²
    _GAIN = 2.0  # a constant replaces it again
    return y + z + _gain_times(x)


@case(0.8)
def global_assigned_by_a_callee_then_read(x):
    _remember(x)
    first = _LATEST * x  # read here, after the callee's assignment
    _remember(first)
    return first + _LATEST


@case(1.3)
def global_augmented_unpacked_and_loop_assignments(x):
    global _LATEST, _COUNT
    _LATEST, other = x, 2.0 * x
    _LATEST *= other
    for _COUNT in range(2):
        _LATEST = _LATEST + x
    return _LATEST * _COUNT


@case(0.6)
def global_deleted_and_assigned_again(x):
    global _LATEST
    _LATEST = x * 3.0
    y = _LATEST * x
    del _LATEST
    try:
        _LATEST  # noqa: B018 - the read raises
    except NameError:
        y = y * 2.0
    _LATEST = y * y
    return _LATEST + y


@case(1.1)
def global_bound_by_assignment_expressions(x):
    global _LATEST
    if (_LATEST := x * 2.0) > 0.0:
        y = _LATEST * x
    return y + sum([(_LATEST := _LATEST + v) for v in (x, 1.0)]) + _LATEST


@case(0.7)
def global_bound_by_except_as(x):
    global _LATEST
    try:
        raise ValueError(x * 3.0)
    except ValueError as _LATEST:
        y = _LATEST.args[0] * x
    return y  # Python unbinds _LATEST at the end of the handler


@case([1.5, 2.0, 0.5])
def global_bound_by_patterns_and_shadowed_by_a_comprehension(xs):
    global _LATEST, _GAIN
    match xs:
        case [_LATEST, *rest] if _LATEST > 1.0:
            y = _LATEST * sum(rest)
        case _:
            y = 0.0
    scaled = [_GAIN * 2.0 for _GAIN in rest]  # the comprehension's own _GAIN
    _GAIN = 2.0
    return y + sum(scaled) * _LATEST


@case(1.2)
def del_of_a_name_then_rebinding_it(x):
    y = x * x
    z = y * 3.0
    del y
    try:
        z = z + y  # noqa: F821 - the read raises
    except UnboundLocalError:
        z = z * x
    y = z + x
    return y * y
