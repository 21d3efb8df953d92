"""ndarray methods and attributes, routed through the rules of the matching numpy functions.

chainrules_core looks up a bound method call ``x.sum(axis=0)`` as the unbound method
``np.ndarray.sum(x, axis=0)``, so the rules here are registered on the unbound method objects.

* **Routed methods** (one table, :data:`ROUTES`): ``x.m(*args, **kwargs)`` is
  ``function(x, *args, **kwargs)``, and the method's rule is ``rrule(function, x, *args, **kwargs)``
  (likewise ``frule``), looked up at call time, so the maths lives in one place only (reductions in
  :mod:`chainrules.numpy.reductions`, reshapes in :mod:`chainrules.numpy.shape`, ...). If the
  function has no rule, neither has the method. ``x.reshape(2, 3)`` and ``x.transpose(1, 0)``
  pack their spread-out shape or axes into the single argument of ``np.reshape``/``np.transpose``;
  ``x.flatten()`` is ``np.ravel`` made into a copy; ``x.copy()`` is ``np.copy`` in C order.
  ``np.ndarray.ptp`` no longer exists in numpy 2, so it has no rule.
* **Own rules**: ``astype`` (the cotangent is cast back to the source dtype, complex to real by
  taking the real part; an integer or boolean target is not differentiable), ``item`` (a Python
  number; its cotangent is an array that is zero except at the item) and ``tolist`` (nested
  lists; their cotangent, a nested list or ``Tangent``, is turned back into an array).
* **Scalar types called as casts**: ``np.float32(x)``, ``np.float64(x)``, ``np.complex128(x)`` and
  the other inexact scalar types (:data:`INEXACT_SCALAR_TYPES`) cast ``x`` as ``astype`` does and
  have its rules; the integer and boolean types (``np.int64(x)``) are in
  :mod:`chainrules.numpy.nondifferentiable`.
* **In-place methods** (``fill``, ``sort``, ``resize``, ``partition``, ``put``) overwrite the
  array, which reverse mode cannot track: their rules raise :class:`InPlaceMethodError` naming the
  method and the out-of-place function to use instead.

Attributes are read through ``getattr(x, name)``, whose rule is registered for
``(np.ndarray, str)`` (and with a default, ``(np.ndarray, str, object)``):

* ``T``, ``mT``, ``real``, ``imag`` are routed to ``np.transpose``, ``np.swapaxes(x, -1, -2)``,
  ``np.real`` and ``np.imag``;
* ``shape``, ``dtype``, ``size``, ``ndim``, ``itemsize``, ``nbytes``, ``strides``, ``flags`` and any
  other attribute whose value has no tangent space (ints, bools, strings, ``None``, dtypes, tuples
  of those, integer arrays) get ``NoTangent()``;
* a bound method (``getattr(x, "sum")``) has the tangent of its receiver, as everywhere in
  chainrules_core, so its cotangent is passed on to ``x``;
* any other attribute whose value could carry a derivative (``base``, ``flat``, ...) is returned
  as it is, but its relation to ``x``'s values is unknown: giving it ``NoTangent()`` would silently
  drop a gradient, so its pullback (called only for a nonzero cotangent) and its frule (for a
  nonzero tangent) raise ``NotImplementedError`` naming the attribute.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrules_core import AbstractZero, NoTangent, ProjectTo, Tangent, frule, rrule
from chainrules_core.arrays import ARRAY_TYPES


class InPlaceMethodError(TypeError):
    """An ndarray method that overwrites its array (``x.sort()``) was differentiated."""


@dataclass(frozen=True)
class Route:
    """How an ndarray method maps to a numpy function.

    ``packs_arguments``: the method accepts its shape or axes spread out (``x.reshape(2, 3)``)
    where the function takes one tuple. ``copies``: the method always returns a new array.
    ``defaults``: keyword arguments whose method default differs from the function's.
    ``array_result``: the method returns an array where the function, a ufunc, returns a scalar
    (for 0-d input: ``x.conj()`` is a 0-d array, ``np.conjugate(x)`` a numpy scalar).
    """

    function: Callable
    packs_arguments: bool = False
    copies: bool = False
    defaults: dict = field(default_factory=dict)
    array_result: bool = False


ROUTES: dict[str, Route] = {
    **{
        name: Route(getattr(np, name))
        for name in (
            "sum",
            "mean",
            "prod",
            "max",
            "min",
            "std",
            "var",
            "cumsum",
            "cumprod",
            "trace",
            "ravel",
            "squeeze",
            "swapaxes",
            "repeat",
            "take",
            "diagonal",
            "dot",
            "clip",
            "round",
            "argmax",
            "argmin",
            "argsort",
            "nonzero",
        )
    },
    "conj": Route(np.conjugate, array_result=True),
    "conjugate": Route(np.conjugate, array_result=True),
    "reshape": Route(np.reshape, packs_arguments=True),
    "transpose": Route(np.transpose, packs_arguments=True),
    "flatten": Route(np.ravel, copies=True),
    "copy": Route(np.copy, defaults={"order": "C"}),
}

IN_PLACE = {
    "fill": "np.full_like(x, value)",
    "sort": "np.sort(x)",
    "resize": "np.resize(x, shape)",
    "partition": "np.partition(x, kth)",
    "put": "np.where or np.put_along_axis on a copy",
}


def _function_call(route: Route, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The method's arguments (after the array) as the routed function takes them."""
    if route.packs_arguments and (len(args) > 1 or (args and isinstance(args[0], int))):
        args = (args,)
    if route.defaults and not args:
        kwargs = {**route.defaults, **kwargs}
    return args, kwargs


def _fresh(y: Any, x: Any) -> Any:
    return y.copy() if np.may_share_memory(y, x) else y


def _register_route(method: Callable, route: Route) -> None:
    @rrule.register(method)
    def _(x, *args, **kwargs):
        function_args, function_kwargs = _function_call(route, args, kwargs)
        result = rrule(route.function, x, *function_args, **function_kwargs)
        if result is None:
            return None
        y, function_pullback = result
        if route.copies:
            y = _fresh(y, x)
        if route.array_result:
            y = np.asarray(y)
        if function_args is args:
            return y, function_pullback

        def method_pullback(dy):
            # The packed shape or axes are not differentiable; one NoTangent per spread argument.
            return (NoTangent(), function_pullback(dy)[1], *(NoTangent() for _ in args))

        return y, method_pullback

    @frule.register(method)
    def _(tangents, x, *args, **kwargs):
        function_args, function_kwargs = _function_call(route, args, kwargs)
        if function_args is not args:
            tangents = (NoTangent(), tangents[1], NoTangent())
        result = frule(tangents, route.function, x, *function_args, **function_kwargs)
        if result is None or not (route.copies or route.array_result):
            return result
        y, dy = result
        if route.array_result:
            y, dy = np.asarray(y), dy if isinstance(dy, AbstractZero) else np.asarray(dy)
        return (_fresh(y, x) if route.copies else y), dy


for _name, _route in ROUTES.items():
    _register_route(getattr(np.ndarray, _name), _route)


def _register_in_place(name: str, instead: str) -> None:
    def in_place_rule(*args, **kwargs):
        raise InPlaceMethodError(
            f"ndarray.{name} modifies the array in place, which cannot be differentiated; "
            f"use {instead} instead"
        )

    rrule.add(getattr(np.ndarray, name), (), in_place_rule)
    frule.add(getattr(np.ndarray, name), (), in_place_rule)


for _name, _instead in IN_PLACE.items():
    _register_in_place(_name, _instead)


# --------------------------------------------------------------------------------------------------
# astype, item, tolist


def _is_inexact(dtype: Any) -> bool:
    return np.dtype(dtype).kind in "fc"


@rrule.register(np.ndarray.astype)
def _(x, *args, **kwargs):
    y = x.astype(*args, **kwargs)
    project_x = ProjectTo(x)

    def astype_pullback(dy):
        dx = project_x(dy) if _is_inexact(y.dtype) else NoTangent()
        return (NoTangent(), dx, *(NoTangent() for _ in args))

    return y, astype_pullback


@frule.register(np.ndarray.astype)
def _(tangents, x, *args, **kwargs):
    y = x.astype(*args, **kwargs)
    dx = tangents[1]
    if not _is_inexact(y.dtype):
        return y, NoTangent()
    return y, dx if isinstance(dx, AbstractZero) else _cast_tangent(y, dx)


def _cast_tangent(y: Any, dx: Any) -> Any:
    """The tangent of ``y``, a cast of ``x`` to an inexact dtype, from the tangent ``dx`` of ``x``."""
    # A cast to a real dtype keeps the real part (numpy discards the imaginary part).
    return ProjectTo(y)(np.real(dx) if y.dtype.kind == "f" else dx)


# numpy's inexact scalar types called as casts: np.float32(x) is x cast to float32 (an array when x
# is one), differentiable as astype is; the integer and boolean types are in nondifferentiable.py.
INEXACT_SCALAR_TYPES = (
    np.float16,
    np.float32,
    np.float64,
    np.longdouble,
    np.complex64,
    np.complex128,
    np.clongdouble,
)


def _register_scalar_cast(scalar_type: type) -> None:
    @rrule.register(scalar_type, object)
    def _(x):
        project_x = ProjectTo(x)

        def cast_pullback(dy):
            return NoTangent(), project_x(dy)

        return scalar_type(x), cast_pullback

    @frule.register(scalar_type, object)
    def _(tangents, x):
        y = scalar_type(x)
        dx = tangents[1]
        return y, dx if isinstance(dx, AbstractZero) else _cast_tangent(y, dx)


for _type in INEXACT_SCALAR_TYPES:
    _register_scalar_cast(_type)


def _item_index(x: np.ndarray, args: tuple) -> tuple[int, ...]:
    """The multi-index of ``x.item(*args)``: none (size 1), a flat index, or a multi-index."""
    if not args:
        return (0,) * x.ndim
    if len(args) == 1 and isinstance(args[0], tuple):
        return args[0]
    if len(args) == 1:
        return np.unravel_index(args[0] % x.size, x.shape)
    return args


@rrule.register(np.ndarray.item)
def _(x, *args):
    index = _item_index(x, args)
    project_x = ProjectTo(x)

    def item_pullback(dy):
        dx = np.zeros(x.shape, dtype=np.result_type(x.dtype, dy))
        dx[index] = dy
        return (NoTangent(), project_x(dx), *(NoTangent() for _ in args))

    return x.item(*args), item_pullback


@frule.register(np.ndarray.item)
def _(tangents, x, *args):
    y = x.item(*args)
    dx = tangents[1]
    return y, dx if isinstance(dx, AbstractZero) else ProjectTo(y)(dx[_item_index(x, args)])


def _array_from_nested(dy: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The array whose ``tolist()`` is the nested cotangent ``dy`` (lists, ``Tangent`` s, zeros)."""
    out = np.zeros(shape, dtype)

    def place(d: Any, index: tuple[int, ...]) -> None:
        if isinstance(d, AbstractZero):
            return
        if len(index) == len(shape):
            out[index] = d
            return
        for i, item in enumerate(d.backing if isinstance(d, Tangent) else d):
            place(item, (*index, i))

    place(dy, ())
    return out


@rrule.register(np.ndarray.tolist)
def _(x):
    project_x = ProjectTo(x)

    def tolist_pullback(dy):
        dtype = x.dtype if _is_inexact(x.dtype) else np.dtype(float)
        return NoTangent(), project_x(_array_from_nested(dy, x.shape, dtype))

    return x.tolist(), tolist_pullback


@frule.register(np.ndarray.tolist)
def _(tangents, x):
    dx = tangents[1]
    return x.tolist(), dx if isinstance(dx, AbstractZero) else dx.tolist()


# --------------------------------------------------------------------------------------------------
# Attributes: getattr(x, name)

ATTRIBUTE_ROUTES: dict[str, tuple[Callable, tuple]] = {
    "T": (np.transpose, ()),
    "mT": (np.swapaxes, (-1, -2)),
    "real": (np.real, ()),
    "imag": (np.imag, ()),
}
NON_DIFFERENTIABLE_ATTRIBUTES = frozenset(
    {"shape", "dtype", "size", "ndim", "itemsize", "nbytes", "strides", "flags"}
)

_CONSTANT_TYPES = (
    bool,
    int,
    str,
    bytes,
    type(None),
    type,
    np.dtype,
    np.integer,
    np.bool_,
    type(np.empty(0).flags),
)


def _is_constant(value: Any) -> bool:
    """Whether ``value`` has no tangent space (so an attribute holding it gets ``NoTangent()``)."""
    if isinstance(value, np.ndarray):
        return not _is_inexact(value.dtype)
    if isinstance(value, tuple):
        return all(map(_is_constant, value))
    return isinstance(value, _CONSTANT_TYPES)


def _is_method_of(value: Any, x: Any) -> bool:
    return isinstance(value, (types.BuiltinMethodType, types.MethodType)) and value.__self__ is x


def _unknown_attribute(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"no derivative rule for the ndarray attribute {name!r}: its value's relation to the "
        "array's values is unknown; compute it with numpy functions that have rules"
    )


def _attribute_rrule(x, name, *default):
    route = ATTRIBUTE_ROUTES.get(name)
    extra = (NoTangent(),) * len(default)
    if route is not None:
        function, function_args = route
        result = rrule(function, x, *function_args)
        if result is None:
            return None
        y, function_pullback = result

        def attribute_pullback(dy):
            return (NoTangent(), function_pullback(dy)[1], NoTangent(), *extra)

        return y, attribute_pullback

    y = getattr(x, name, *default)
    project_x = ProjectTo(x)

    def getattr_pullback(dy):
        if _is_method_of(y, x):
            return (NoTangent(), project_x(dy), NoTangent(), *extra)
        if name in NON_DIFFERENTIABLE_ATTRIBUTES or _is_constant(y):
            return (NoTangent(), NoTangent(), NoTangent(), *extra)
        raise _unknown_attribute(name)

    return y, getattr_pullback


def _attribute_frule(tangents, x, name, *default):
    route = ATTRIBUTE_ROUTES.get(name)
    if route is not None:
        function, function_args = route
        return frule(
            (NoTangent(), tangents[1], *(NoTangent() for _ in function_args)),
            function,
            x,
            *function_args,
        )
    y = getattr(x, name, *default)
    dx = tangents[1]
    if name in NON_DIFFERENTIABLE_ATTRIBUTES or _is_constant(y):
        return y, NoTangent()
    if _is_method_of(y, x) or isinstance(dx, AbstractZero):
        return y, dx
    raise _unknown_attribute(name)


rrule.add(getattr, (ARRAY_TYPES, str), _attribute_rrule)
rrule.add(getattr, (ARRAY_TYPES, str, object), _attribute_rrule)
frule.add(getattr, (ARRAY_TYPES, str), _attribute_frule)
frule.add(getattr, (ARRAY_TYPES, str, object), _attribute_frule)
