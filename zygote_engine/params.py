"""Implicit parameters, Flux style: ``gradient(loss, Params([W, b]))`` gives a :class:`Grads`.

The loss takes no arguments and reaches its parameters itself: through module globals, closure
cells, object attributes, list and dict items. The backward pass leaves the cotangents of what the
code read in two places: the mutation store (``{id(obj): (obj, {key: cotangent})}``, where a
global array is its own entry under ``WHOLE``) and the tangent of the loss function itself (one
field per captured variable). :func:`params_pullback` gathers both and finds the parameters among
the values the entries name, by identity.
"""

from __future__ import annotations

import numbers
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

import chainrules_core as crc
from chainrules_core import AbstractZero, Tangent, ZeroTangent, unthunk
from zygote_engine.array_writes import base_of, spread
from zygote_engine.config import ZygoteRuleConfig
from zygote_engine.public import public_gradient
from zygote_engine.recursion import room_to_recurse
from zygote_engine.runtime import call, must_run
from zygote_engine.store import WHOLE, ZERO_TYPES, contents_of, is_tracked

__all__ = [
    "Grads",
    "Params",
    "StatePlaces",
    "member",
    "params_pullback",
    "params_tangents_pullback",
    "state_cotangents",
]

_ZERO = ZeroTangent()
_MISSING = object()  # what a store key names when the container no longer has that member


class Params:
    """An ordered set of parameters, compared by identity: numpy arrays and mutable containers.

    A parameter is an object the loss reads: an array, a list, a dict or an object with
    attributes. The same object given twice is kept once; two equal arrays are two parameters.
    Numbers and tuples cannot be parameters (see :meth:`add`).

    Example:
        >>> import numpy as np
        >>> from zygote_engine import Params
        >>> W, b = np.ones((2, 2)), np.zeros(2)
        >>> ps = Params([W, b, W])
        >>> len(ps), W in ps, np.ones((2, 2)) in ps
        (2, True, False)
        >>> ps
        Params([ndarray(shape=(2, 2), dtype=float64), ndarray(shape=(2,), dtype=float64)])
        >>> ps.to_vector()
        array([1., 1., 1., 1., 0., 0.])
    """

    __slots__ = ("_by_id", "_order")

    def __init__(self, params: Iterable[Any] = ()) -> None:
        if isinstance(params, (np.ndarray, dict)):
            raise TypeError(
                f"Params takes an iterable of parameters, not one {type(params).__name__}: "
                "write Params([x]) for a single parameter"
            )
        self._order: list[Any] = []
        self._by_id: dict[int, Any] = {}  # holding each parameter keeps its id unique
        for p in params:
            self.add(p)

    def add(self, p: Any) -> None:
        """Add the parameter ``p`` at the end (nothing happens when it is already present).

        Raises ``TypeError`` for numbers, tuples and other values that cannot be found by identity.

        Example:
            >>> import numpy as np
            >>> from zygote_engine import Params
            >>> ps = Params()
            >>> ps.add(np.zeros(3))
            >>> len(ps)
            1
        """
        _check_parameter(p)
        if id(p) not in self._by_id:
            self._by_id[id(p)] = p
            self._order.append(p)

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._order)

    def __contains__(self, p: Any) -> bool:
        return id(p) in self._by_id

    def __repr__(self) -> str:
        return f"Params([{', '.join(map(_describe, self._order))}])"

    def to_vector(self) -> np.ndarray:
        """The parameters' float entries as one float64 vector, in the order of the Params.

        Float arrays contribute their entries in C order; floats inside lists, dicts and object
        attributes contribute one entry each, found depth first. Integer and boolean arrays,
        ints and floats inside tuples (which cannot be written back) are left out; an array
        reached twice counts once, at its first place.

        Example:
            >>> import numpy as np
            >>> from zygote_engine import Params
            >>> Params([np.array([[1.0, 2.0]]), [3.0, {"k": 4.0}]]).to_vector()
            array([1., 2., 3., 4.])
        """
        return _concat(np.ravel(leaf) for _, _, _, leaf in _float_leaves(self))

    def copy_from(self, vector: Any) -> None:
        """Write ``vector`` (laid out as :meth:`to_vector`) into the parameters, in place.

        Example:
            >>> import numpy as np
            >>> from zygote_engine import Params
            >>> W, v = np.zeros((2, 2)), [0.0]
            >>> Params([W, v]).copy_from(np.arange(5.0))
            >>> W, v
            (array([[0., 1.],
                   [2., 3.]]), [4.0])
        """
        leaves = list(_float_leaves(self))
        for (_, path, parent, leaf), chunk in zip(leaves, _chunks(vector, leaves)):
            if isinstance(leaf, np.ndarray):
                leaf[...] = chunk.reshape(leaf.shape)
            elif isinstance(parent, (list, dict)):
                parent[path[-1]] = type(leaf)(chunk[0])
            else:
                setattr(parent, path[-1], type(leaf)(chunk[0]))


class Grads:
    """The gradients of a loss with respect to :class:`Params`, looked up by the parameter itself.

    ``g[W]`` is ``W``'s gradient (an array of ``W``'s shape, a list for a list, a dict for a dict,
    a ``Tangent`` for an object) or ``None`` when the loss does not depend on ``W``. Keys are
    compared by identity. Iteration, ``keys()``, ``values()`` and ``items()`` follow the order of
    the Params; ``+`` adds two Grads of the same Params (``None`` counts as zero) and a number
    scales them.

    Example:
        >>> import numpy as np
        >>> from zygote_engine import Params, gradient
        >>> W, b = np.array([1.0, 2.0]), np.array([0.5])
        >>> gs = gradient(lambda: np.sum(W * W) + 3 * b[0], Params([W, b]))
        >>> gs[W], gs[b]
        (array([2., 4.]), array([3.]))
        >>> (gs + gs)[W], (0.5 * gs)[b]
        (array([4., 8.]), array([1.5]))
        >>> gs.to_vector()
        array([2., 4., 3.])
    """

    __slots__ = ("_grads", "params")

    def __init__(self, params: Params, grads: Iterable[Any]) -> None:
        """``grads`` holds one gradient (or ``None``) per parameter, in the order of ``params``."""
        self.params = params
        self._grads = dict(zip(map(id, params), grads, strict=True))

    def __getitem__(self, p: Any) -> Any:
        found = self._grads.get(id(p), _MISSING)
        if found is _MISSING:
            raise KeyError(
                f"{_describe(p)} is not one of the {len(self.params)} parameters of these Grads; "
                "keys are compared by identity (id), so an equal copy of a parameter is not a key"
            )
        return found

    def __contains__(self, p: Any) -> bool:
        return p in self.params

    def __iter__(self) -> Iterator[Any]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def keys(self) -> list[Any]:
        """The parameters, in order."""
        return list(self.params)

    def values(self) -> list[Any]:
        """The gradients, in the order of the parameters."""
        return list(self._grads.values())

    def items(self) -> list[tuple[Any, Any]]:
        """``(parameter, gradient)`` pairs, in order."""
        return list(zip(self.params, self._grads.values()))

    def __add__(self, other: Any) -> Grads:
        if not isinstance(other, Grads):
            return NotImplemented
        if [id(p) for p in self.params] != [id(p) for p in other.params]:
            raise ValueError(
                "can only add Grads of the same parameters, in the same order: got "
                f"{self.params!r} and {other.params!r}"
            )
        return Grads(self.params, map(_sum, self.values(), other.values()))

    def __mul__(self, scale: Any) -> Grads:
        if not isinstance(scale, numbers.Number):
            return NotImplemented
        return Grads(self.params, (_scale(g, scale) for g in self.values()))

    __rmul__ = __mul__

    def __repr__(self) -> str:
        entries = ", ".join(f"{_describe(p)}: {_short(g)}" for p, g in self.items())
        return f"Grads({{{entries}}})"

    def to_vector(self) -> np.ndarray:
        """The gradients as one float64 vector laid out as :meth:`Params.to_vector` (``None``: zeros).

        Example:
            >>> import numpy as np
            >>> from zygote_engine import Grads, Params
            >>> W, b = np.ones(2), np.ones(1)
            >>> Grads(Params([W, b]), [np.array([1.0, 2.0]), None]).to_vector()
            array([1., 2., 0.])
        """
        chunks = []
        for root, path, _, leaf in _float_leaves(self.params):
            dx = _follow(self._grads[id(root)], path)
            shape = np.shape(leaf)
            chunks.append(
                np.zeros(shape) if dx is None else np.broadcast_to(np.asarray(dx, float), shape)
            )
        return _concat(np.ravel(c) for c in chunks)

    def copy_from(self, vector: Any) -> None:
        """Replace the gradients by ``vector`` (laid out as :meth:`Params.to_vector`).

        Each parameter's gradient is rebuilt in its public form (an array for an array, a list
        for a list, ...); entries the vector does not cover (ints, strings) become ``None``.

        Example:
            >>> import numpy as np
            >>> from zygote_engine import Grads, Params
            >>> W, v = np.ones(2), [1.0, "tag"]
            >>> gs = Grads(Params([W, v]), [None, None])
            >>> gs.copy_from(np.array([1.0, 2.0, 3.0]))
            >>> gs[W], gs[v]
            (array([1., 2.]), [3.0, None])
        """
        leaves = list(_float_leaves(self.params))
        placed = {}
        for (root, path, _, leaf), chunk in zip(leaves, _chunks(vector, leaves)):
            placed[(id(root), *path)] = (
                chunk.reshape(leaf.shape).astype(leaf.dtype)
                if isinstance(leaf, np.ndarray)
                else type(leaf)(chunk[0])
            )
        for p in self.params:
            self._grads[id(p)] = _rebuild(p, (id(p),), placed, frozenset())


def params_pullback(f: Callable[[], Any], params: Params) -> tuple[Any, Callable[[Any], Grads]]:
    """Run the argument-free ``f()`` and return ``(y, back)``; ``back(dy)`` gives :class:`Grads`.

    This is what ``pullback(f, params)`` does; ``back`` may be called several times.

    Example:
        >>> import numpy as np
        >>> from zygote_engine.params import Params, params_pullback
        >>> w = np.array([1.0, 2.0])
        >>> y, back = params_pullback(lambda: 3 * w, Params([w]))
        >>> back(np.array([1.0, 0.0]))[w]
        array([3., 0.])
    """
    y, back_all = params_tangents_pullback(f, params)
    return y, lambda dy: back_all(dy)[1]


def params_tangents_pullback(
    f: Callable[[], Any],
    params: Params,
    cx: ZygoteRuleConfig | None = None,
    with_state: bool = False,
) -> tuple[Any, Callable[[Any], tuple]]:
    """``(y, back_all)``: ``back_all(dy)`` is ``(df, grads)``, ``f``'s own tangent as well.

    ``df`` is the tangent of ``f`` itself (of the variables it captures, parameters among them)
    as the engine writes it; nested differentiation needs it (see :mod:`zygote_engine.lib.modes`).
    ``cx`` is the reverse-mode differentiation to run in (a new one when not given). With
    ``with_state``, ``back_all(dy)`` is ``(df, grads, state)``, ``state`` the cotangents of the
    module state ``f`` read (:func:`state_cotangents`, parameters among them).

    Example:
        >>> import numpy as np
        >>> from zygote_engine.params import Params, params_tangents_pullback
        >>> w = np.array([1.0, 2.0])
        >>> def scaled(s):
        ...     return lambda: s * np.sum(w)
        >>> y, back_all = params_tangents_pullback(scaled(3.0), Params([w]))
        >>> df, gs = back_all(1.0)
        >>> float(df.s), gs[w]
        (3.0, array([3., 3.]))
    """
    # differentiated code may mutate container parameters: gradients refer to what they held
    held = {id(p): contents_of(p) for p in params if is_tracked(p)}
    cx = ZygoteRuleConfig() if cx is None else cx
    with room_to_recurse():
        y, pb = call(cx, f)
    returns_container = is_tracked(y)

    def back_all(dy: Any) -> tuple[Any, Grads]:
        dy = cx.start_backward(y, dy, returns_container)
        writes = cx.written  # arrays written in place (see zygote_engine.array_writes)
        if type(dy) in ZERO_TYPES and not must_run(pb) and writes is None:
            nothing = Grads(params, [None] * len(params))
            return (_ZERO, nothing, (StatePlaces(()),)) if with_state else (_ZERO, nothing)
        try:
            with room_to_recurse():
                df = pb(dy)[0]
            if writes is not None:  # what writes through views left for a parameter itself
                for p in params:
                    if type(p) is np.ndarray:
                        cx.accumulate(p, WHOLE, writes.claim(p, _ZERO))
            if with_state:  # before _collect moves the entries about
                state = state_cotangents(cx)
                return df, _collect(cx, f, df, params, held), state
            return df, _collect(cx, f, df, params, held)
        finally:
            cx.store = {}  # let go of the objects the entries keep alive
            if writes is not None:  # the arrays end as the forward pass left them
                writes.finish()

    return y, back_all


# -- gathering the cotangents the backward pass left, and finding the parameters among them --


class StatePlaces:
    """Where the cotangents :func:`state_cotangents` gathers belong: ``(obj, key)`` pairs, as
    the store keys them (opaque to forward mode, which differentiates the cotangents only)."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: tuple) -> None:
        self.pairs = pairs


def state_cotangents(cx: ZygoteRuleConfig) -> tuple:
    """``(places, *cotangents)``: what a backward pass left in ``cx``'s store, one cotangent per
    ``(obj, key)`` of ``places.pairs``.

    After the arguments' cotangents are taken out, these are the cotangents of the state the
    function read by itself: module globals (an array's under ``WHOLE``), attributes and items of
    objects reached through them. Nested differentiation hands them to the differentiation
    outside (:mod:`zygote_engine.lib.modes`); forward mode differentiates them (a rule in
    :mod:`zygote_engine.lib.nesting`).

    Example:
        >>> from zygote_engine.config import ZygoteRuleConfig
        >>> cx, d = ZygoteRuleConfig(), {"w": 1.0}
        >>> cx.accumulate(d, "w", 2.0)
        >>> places, *cotangents = state_cotangents(cx)
        >>> places.pairs, cotangents
        ((({'w': 1.0}, 'w'),), [2.0])
    """
    pairs, cotangents = [], []
    for obj, entries in cx.store.values():
        for key, dx in entries.items():
            pairs.append((obj, key))
            cotangents.append(dx)
    return (StatePlaces(tuple(pairs)), *cotangents)


def _collect(cx: ZygoteRuleConfig, f: Any, df: Any, params: Params, held: dict) -> Grads:
    loose: list[tuple[Any, Any]] = []  # (value, cotangent) found outside the store
    pending = [obj for obj, _ in cx.store.values()]
    _spread(cx, f, df, loose, pending)
    _settle(cx, loose, pending)
    flows: dict[int, Any] = {}  # id(array parameter) -> the sum of its cotangents
    for obj, entries in cx.store.values():
        for key, dx in entries.items():
            loose.append((obj if key is WHOLE else member(obj, key), dx))
    for value, dx in loose:
        # container parameters take their cotangent from the store, whole, by `resolve` below
        if id(value) in params._by_id and not is_tracked(value):
            flows[id(value)] = crc.add(flows.get(id(value), _ZERO), dx)
        elif type(value) is np.ndarray and id(base_of(value)) in params._by_id:
            base = base_of(value)  # a view of an array parameter (a global `W[0]`, say)
            flows[id(base)] = crc.add(flows.get(id(base), _ZERO), spread(value, dx))

    settled, grads = cx.store, []
    for p in params:
        if is_tracked(p):
            # resolve takes entries out of the store: each container parameter reads a copy, so
            # a parameter held inside another is found again for its own gradient
            cx.store = {k: (obj, dict(entries)) for k, (obj, entries) in settled.items()}
            contents = held[id(p)]
            grads.append(public_gradient(p, cx.resolve(p, None, contents), contents))
        else:
            grads.append(public_gradient(p, flows.get(id(p), _ZERO)))
    return Grads(params, grads)


def _spread(cx: ZygoteRuleConfig, value: Any, dx: Any, loose: list, pending: list) -> None:
    """Put the cotangent ``dx`` of ``value`` where parameters are looked for.

    Containers and tuples keep theirs in the store (new entries are queued in ``pending``), a
    closure's goes to the values of its cells, anything else to ``loose``.
    """
    if dx is None or type(dx) in ZERO_TYPES:
        return
    if type(value) is types.MethodType:  # a bound method's tangent is its receiver's
        value = value.__self__
    if is_tracked(value) or isinstance(value, (tuple, Params)):
        cx.deposit(value, dx)
        pending.append(value)
    elif type(value) is types.FunctionType:
        dx = unthunk(dx)
        if value.__closure__ and isinstance(dx, Tangent) and isinstance(dx.backing, dict):
            # fields exist only for captured variables that carried a cotangent: cells are full
            for name, cell in zip(value.__code__.co_freevars, value.__closure__):
                _spread(cx, cell.cell_contents, dx.backing.get(name), loose, pending)
    else:
        loose.append((value, dx))


def _settle(cx: ZygoteRuleConfig, loose: list, pending: list) -> None:
    """Move entries for members that hold parts (containers, tuples, closures) into those parts.

    Afterwards every entry names a leaf (an array, a number) or is an object's ``WHOLE``. This is
    what ``resolve`` does on its way down; each entry is moved once, so nothing counts twice.
    """
    while pending:
        obj = pending.pop()
        found = cx.store.get(id(obj))
        if found is None:
            continue
        entries = found[1]
        for key in [k for k in entries if k is not WHOLE]:
            value = member(obj, key)
            if is_tracked(value) or isinstance(value, tuple) or type(value) in _CALLABLES:
                _spread(cx, value, entries.pop(key), loose, pending)


_CALLABLES = frozenset({types.FunctionType, types.MethodType})


def member(obj: Any, key: Any) -> Any:
    """The member of ``obj`` that the store key ``key`` names (an item or an attribute)."""
    if isinstance(obj, dict):
        return obj.get(key, _MISSING)
    if isinstance(obj, (list, tuple)) and type(key) is int:
        return obj[key] if -len(obj) <= key < len(obj) else _MISSING
    if type(obj) is Params and type(key) is int:
        # a Params the code captured: a differentiation inside it handed its parameters'
        # cotangents to it, by position (see zygote_engine.lib.implicit)
        return obj._order[key] if -len(obj) <= key < len(obj) else _MISSING
    return getattr(obj, key, _MISSING) if type(key) is str else _MISSING


# -- parameters and their float entries --


def _check_parameter(p: Any) -> None:
    if isinstance(p, np.ndarray) or is_tracked(p):
        return
    if isinstance(p, (numbers.Number, np.generic)):
        raise TypeError(
            f"Params cannot hold the number {p!r}: parameters are found by identity (id), and "
            "arithmetic makes new numbers, so a number cannot be found again. Wrap it in an "
            f"array, e.g. s = np.array({p!r}), use s in the loss and pass s to Params"
        )
    if isinstance(p, tuple):
        raise TypeError(
            "Params cannot hold a tuple: it is immutable, so its gradient cannot be found by "
            "identity. Pass its arrays to Params, or keep them in a list"
        )
    raise TypeError(
        f"Params cannot hold a {type(p).__name__}: a parameter is a numpy array or a mutable "
        "container (a list, a dict, an object with attributes) that the loss reads"
    )


def _float_leaves(params: Params) -> Iterator[tuple[Any, tuple, Any, Any]]:
    """``(parameter, path, parent, leaf)`` for each float leaf, in the order of ``to_vector``."""
    seen: set[int] = set()  # arrays and containers already listed (shared, or in a cycle)
    for p in params:
        for path, parent, leaf in _leaves(p, (), None, seen):
            yield p, path, parent, leaf


def _leaves(x: Any, path: tuple, parent: Any, seen: set) -> Iterator[tuple[tuple, Any, Any]]:
    if isinstance(x, (float, np.floating)):
        if not isinstance(parent, tuple):  # a float in a tuple cannot be written back
            yield path, parent, x
        return
    if id(x) in seen:
        return
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f":
            seen.add(id(x))
            yield path, parent, x
        return
    if isinstance(x, (list, tuple)):
        items: Iterable = enumerate(x)
    elif isinstance(x, dict):
        items = x.items()
    elif is_tracked(x):
        items = vars(x).items()
    else:
        return
    seen.add(id(x))
    for key, item in list(items):
        yield from _leaves(item, (*path, key), x, seen)


def _concat(chunks: Iterable[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.zeros(0), *chunks]).astype(np.float64, copy=False)


def _chunks(vector: Any, leaves: list) -> Iterator[np.ndarray]:
    """``vector`` cut into one flat piece per leaf (checking its length)."""
    vector = np.ravel(np.asarray(vector, dtype=np.float64))
    sizes = [np.size(leaf) for *_, leaf in leaves]
    if vector.size != sum(sizes):
        raise ValueError(
            f"copy_from needs a vector of length {sum(sizes)} (the float entries of the "
            f"parameters, as to_vector lays them out), got one of length {vector.size}"
        )
    start = 0
    for size in sizes:
        yield vector[start : start + size]
        start += size


def _follow(dx: Any, path: tuple) -> Any:
    """The part of the gradient ``dx`` at ``path`` (``None`` where it has none)."""
    for key in path:
        dx = unthunk(dx)
        if isinstance(dx, Tangent):
            backing = dx.backing
            if isinstance(backing, tuple):
                dx = backing[key] if type(key) is int and key < len(backing) else None
            else:
                dx = backing.get(key)
        elif isinstance(dx, (list, tuple)):
            dx = dx[key] if type(key) is int and key < len(dx) else None
        elif isinstance(dx, dict):
            dx = dx.get(key)
        else:  # no gradient here (None or a zero)
            return None
    dx = unthunk(dx)
    return None if dx is None or isinstance(dx, AbstractZero) else dx


def _rebuild(x: Any, path: tuple, placed: dict, building: frozenset) -> Any:
    """A gradient of ``x``'s form holding the values ``placed`` at their paths, else ``None``."""
    if path in placed:
        return placed[path]
    if id(x) in building:  # a cycle back to a container being rebuilt
        return None
    building = building | {id(x)}
    if isinstance(x, (list, tuple)):
        items = [_rebuild(v, (*path, i), placed, building) for i, v in enumerate(x)]
        return None if all(v is None for v in items) else type(x)(items)
    if isinstance(x, dict):
        fields = {k: _rebuild(v, (*path, k), placed, building) for k, v in x.items()}
        return None if all(v is None for v in fields.values()) else fields
    if is_tracked(x):
        fields = {k: _rebuild(v, (*path, k), placed, building) for k, v in vars(x).items()}
        fields = {k: v for k, v in fields.items() if v is not None}
        return Tangent.from_backing(type(x), fields) if fields else None
    return None


# -- Grads arithmetic on public gradients (None is zero) --


def _sum(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if type(a) in (list, tuple) and type(b) is type(a):
        return type(a)(map(_sum, a, b))
    if type(a) is dict and type(b) is dict:
        return {k: _sum(a.get(k), b.get(k)) for k in {**a, **b}}
    return unthunk(crc.add(a, b))


def _scale(dx: Any, scale: Any) -> Any:
    if dx is None:
        return None
    if type(dx) in (list, tuple):
        return type(dx)(_scale(d, scale) for d in dx)
    if type(dx) is dict:
        return {k: _scale(d, scale) for k, d in dx.items()}
    return dx * scale


def _describe(x: Any) -> str:
    """A one-line description of a parameter (arrays by shape and dtype, not by value)."""
    if isinstance(x, np.ndarray):
        return f"ndarray(shape={x.shape}, dtype={x.dtype})"
    if isinstance(x, list):
        return f"list(len={len(x)})"
    if isinstance(x, dict):
        return f"dict(keys={list(x)!r})"
    if isinstance(x, (numbers.Number, str, tuple)) or x is None:
        return f"{type(x).__name__} {x!r}"
    return f"{type(x).__qualname__} object"


def _short(dx: Any) -> str:
    """A gradient on one line: small arrays by value, large ones by shape."""
    if isinstance(dx, np.ndarray) and dx.size > 8:
        return _describe(dx)
    return " ".join(repr(dx).split())
