"""The ``rrule`` and ``frule`` registries: keyed by function object, then multiple dispatch on argument types.

Lookup order for a call ``rrule([config,] f, *args)``:

1. A bound method ``obj.m`` is looked up as ``type(obj).m`` with ``obj`` as first argument; the
   tangent of a bound method is the tangent of its receiver.
2. Rules registered with ``config=Capability`` for ``f``, when a config that is an instance of
   ``Capability`` is passed; then rules registered without a config.
3. Within each of those, ordinary multiple dispatch (multipledispatch) on the positional argument
   types: the most specific signature wins; a rule registered with no types matches anything, so
   any typed rule beats it.
4. A callable instance ``c`` with no rule of its own is looked up as ``type(c).__call__`` with
   ``c`` first (its tangent is the tangent of ``c``).

Resolutions are cached by ``(f, type(config), argument types)``; every registration empties the
cache, so a rule registered after a first call takes effect at once. Every registration also
increments :attr:`RuleTable.generation`, so that an engine keeping resolutions of its own (per call
site, say) can tell when they are stale.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np
from multipledispatch import Dispatcher
from multipledispatch.variadic import Variadic

from chainrules_core.arrays import ndarray_method
from chainrules_core.config import RuleConfig
from chainrules_core.tangents import NoTangent

_ANY_ARGUMENTS = (Variadic[object],)
_BOUND_METHOD_TYPES = frozenset(
    {types.MethodType, types.BuiltinMethodType, types.MethodWrapperType}
)
_MISSING = object()

# Callables that are never "callable instances": looking up ``type(f).__call__`` for them is pointless.
_PLAIN_CALLABLE_TYPES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    type,
    np.ufunc,
)


class AmbiguousRuleWarning(UserWarning):
    """Two registered signatures of one rule both match some argument types and neither is more specific."""


def _opted_out(*args: Any, **kwargs: Any) -> None:
    """Marker implementation registered by :func:`~chainrules_core.opt_out`: resolves to no rule."""


def _name(f: Any) -> str:
    module = getattr(f, "__module__", None)
    qualname = getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f)
    return f"{module}.{qualname}" if module and module != "builtins" else qualname


def _unbind(f: Any) -> tuple[Any, Any]:
    """``(unbound function, receiver)`` for a bound method; ``(f, _MISSING)`` for anything else.

    A duck array's method is the ndarray method of the same name (see :mod:`chainrules_core.arrays`).
    """
    tf = type(f)
    if tf is types.MethodType:
        receiver = f.__self__
        return ndarray_method(receiver, f.__name__) or f.__func__, receiver
    if tf is types.BuiltinMethodType or tf is types.MethodWrapperType:
        receiver = f.__self__
        if receiver is None or isinstance(receiver, (types.ModuleType, type)):
            return f, _MISSING
        unbound = ndarray_method(receiver, f.__name__) or getattr(type(receiver), f.__name__, None)
        if type(unbound) is types.FunctionType:  # overridden in Python: ``super().__init__``
            unbound = _slot_of(f, receiver)
        if unbound is not None:
            return unbound, receiver
    return f, _MISSING


def _slot_of(f: Any, receiver: Any) -> Any:
    """The method of a C base class that the builtin bound method ``f`` binds (``super()``'s
    ``__init__`` of an exception whose class defines its own), or ``None``."""
    for klass in type(receiver).__mro__:
        found = vars(klass).get(f.__name__)
        if found is not None and type(found) is not types.FunctionType:
            bind = getattr(found, "__get__", None)
            if bind is not None and bind(receiver) == f:
                return found
    return None


_CALL = "__call__"  # (in the cache key of a class's instances: see RuleTable.resolve)

# Py_TPFLAGS_HEAPTYPE: every class made by Python code (a ``class`` statement) has it, and so do
# some made in C (from 3.12, itertools' types). The builtins and numpy's types, which carry no
# Python methods, do not: a flag test, cheaper than a search of the class, rules them out before
# a precise test.
HEAPTYPE = 1 << 9


def _unregistered_instance(f: Any, registered: set) -> bool:
    """Whether ``f``, of a class defined in Python (the caller tests that, cheaply), is an
    instance (not a class) with no rule of its own."""
    if isinstance(f, type):
        return False
    try:
        return f not in registered
    except TypeError:  # unhashable: resolved afresh every time anyway
        return False


def resolve_receiver(f: Any, args: tuple) -> tuple[Any, tuple, bool]:
    """``(f, args, bound)``: a bound method becomes its unbound function with the receiver first.

    This is how both tables look up a bound method's rule (an engine that resolves rules itself,
    with :meth:`RuleTable.resolve`, does the same); ``bound`` says that it happened, so that the
    method's tangent becomes the receiver's.

    Example:
        >>> xs = [1.0]
        >>> f, args, bound = resolve_receiver(xs.append, (2.0,))
        >>> f is list.append, args == (xs, 2.0), bound
        (True, True, True)
    """
    if type(f) in _BOUND_METHOD_TYPES:
        unbound, receiver = _unbind(f)
        if receiver is not _MISSING:
            return unbound, (receiver, *args), True
    return f, args, False


def _takes_numbers(signature: tuple) -> bool:
    """Whether a rule of this signature applies to calls on Python ints and floats."""
    if signature == _ANY_ARGUMENTS:
        return True
    try:
        return all(issubclass(int, t) and issubclass(float, t) for t in signature)
    except TypeError:  # a variadic signature
        return False


class RuleTable:
    """A registry of rules of one kind (reverse or forward); see the module docstring for lookup.

    Attributes:
        generation: how many registrations the table has seen. A resolution cached outside the
            table stays valid while this is unchanged.
        scalar_partials: a read-only, live mapping from each function whose only rule in the
            table was made by :func:`~chainrules_core.scalar_rule` (for any arguments, Python
            numbers included) to the ``partials`` it was given. An engine may differentiate a
            call of such a function on Python numbers itself, with no rule call:
            ``partials(*args, out)`` gives the partial derivative in each argument (one value for
            one argument). Registering another rule for the function takes it out.

    Example:
        >>> from chainrules_core import NoTangent, rrule, scalar_rule
        >>> def halve(x):
        ...     return x / 2
        >>> before = rrule.generation
        >>> rrule.add(halve, (float,), lambda x: (halve(x), lambda dy: (NoTangent(), dy / 2)))
        >>> rrule.generation == before + 1
        True
        >>> def triple(x):
        ...     return 3 * x
        >>> partials = rrule.scalar_partials.get(scalar_rule(triple, lambda x, out: 3))
        >>> partials(2.0, 6.0)
        3
    """

    def __init__(self, name: str):
        self.__name__ = name
        self._plain: dict[Any, Dispatcher] = {}
        self._configured: dict[Any, Dispatcher] = {}
        self._cache: dict[tuple, tuple | None] = {}
        self._functions: set = set()  # every f with a rule, for a quick "no rule" answer
        self.generation = 0  # incremented by every registration
        self._scalar_partials: dict[Any, Callable] = {}
        self.scalar_partials = MappingProxyType(self._scalar_partials)

    def register(self, f: Any, *types: Any, config: type | None = None) -> Callable:
        """Decorator registering a rule for calls of ``f`` whose positional arguments match ``types``.

        With no ``types`` the rule applies to any arguments. With ``config=Capability`` the rule takes
        the engine's config as its first argument and is found only through a config that is an
        instance of ``Capability``.
        """

        def decorator(impl: Callable) -> Callable:
            self.add(f, types, impl, config=config)
            return impl

        return decorator

    def add(self, f: Any, types: tuple, impl: Callable, *, config: type | None = None) -> None:
        """Register ``impl`` for ``f`` and ``types`` (the non-decorator form of :meth:`register`)."""
        try:
            hash(f)
        except TypeError:
            raise TypeError(
                f"rules are registered by function object, and {f!r} is not hashable"
            ) from None
        signature = tuple(types) or _ANY_ARGUMENTS
        table = self._plain
        if config is not None:
            if not isinstance(config, type):
                raise TypeError(
                    f"config must be a capability class such as HasReverseMode, got {config!r}"
                )
            signature = (config, *signature)
            table = self._configured
        dispatcher = table.get(f)
        if dispatcher is None:
            dispatcher = table[f] = Dispatcher(f"{self.__name__}({_name(f)})")
        dispatcher.add(signature, impl)
        dispatcher.reorder(on_ambiguity=self._warn_ambiguity)
        partials = getattr(impl, "scalar_partials", None)
        if f not in self._functions and config is None and _takes_numbers(signature) and partials:
            self._scalar_partials[f] = partials
        else:
            self._scalar_partials.pop(f, None)
        self._functions.add(f)
        self._cache.clear()
        self.generation += 1

    def _warn_ambiguity(self, dispatcher: Dispatcher, ambiguities: set) -> None:
        pairs = "; ".join(
            " and ".join("(" + ", ".join(map(_type_name, sig)) + ")" for sig in pair)
            for pair in ambiguities
        )
        warnings.warn(
            f"{dispatcher.name} has ambiguous signatures {pairs}: some argument types match both "
            "and neither is more specific; register a rule for their intersection",
            AmbiguousRuleWarning,
            stacklevel=4,
        )

    def resolve(self, config: RuleConfig | None, f: Any, args: tuple) -> tuple | None:
        """``(impl, takes_config, receiver_first)`` for a call of ``f`` on ``args``, or ``None``.

        ``f`` must already be unbound (see :func:`_unbind`). ``receiver_first`` says that ``impl``
        is the rule of ``type(f).__call__`` and must be called with ``f`` prepended.
        """
        if type(f) is types.FunctionType and f not in self._functions:
            return None  # user code, which differentiating engines see most: no rule at all
        key = (f, type(config), *map(type, args))
        try:
            return self._cache[key]
        except KeyError:
            if type(f).__flags__ & HEAPTYPE and _unregistered_instance(f, self._functions):
                # An instance of a Python class (a pullback object, a model) has no rule of its
                # own (those are for functions and library objects): its class's __call__'s
                # applies, remembered by the class, not per instance (there may be one per call).
                key = (type(f), _CALL, type(config), *map(type, args))
                found = self._cache.get(key, _MISSING)
                if found is not _MISSING:
                    return found
            found = self._cache[key] = self._lookup(config, f, args)
            return found
        except TypeError:  # an unhashable callable: resolved afresh every time
            return self._lookup(config, f, args)

    def _lookup(self, config: RuleConfig | None, f: Any, args: tuple) -> tuple | None:
        found = self._dispatch(config, f, args)
        if found is not None or isinstance(f, _PLAIN_CALLABLE_TYPES):
            return found
        if not callable(f):
            return None
        found = self._dispatch(config, type(f).__call__, (f, *args))
        return None if found is None else (found[0], found[1], True)

    def _dispatch(self, config: RuleConfig | None, f: Any, args: tuple) -> tuple | None:
        arg_types = tuple(map(type, args))
        try:
            configured = self._configured.get(f) if config is not None else None
            plain = self._plain.get(f)
        except TypeError:
            return None
        if configured is not None:
            impl = configured.dispatch(type(config), *arg_types)
            if impl is not None:
                return None if impl is _opted_out else (impl, True, False)
        if plain is not None:
            impl = plain.dispatch(*arg_types)
            if impl is not None:
                return None if impl is _opted_out else (impl, False, False)
        return None

    def has_rules(self, f: Any) -> bool:
        """Whether ``f`` has any rule in this table, for any argument types or config.

        Example:
            >>> import math
            >>> import chainrules  # registers the library's rules
            >>> from chainrules_core import rrule
            >>> rrule.has_rules(math.sin), rrule.has_rules(lambda x: x)
            (True, False)
        """
        try:
            return f in self._functions
        except TypeError:  # unhashable: never registered
            return False

    def registered_functions(self) -> list:
        """Every function object with at least one rule in this table."""
        return list({**self._plain, **self._configured})

    def implementations(self, f: Any) -> list[Callable]:
        """Every rule implementation registered for ``f`` (all signatures, with and without config)."""
        return [
            impl
            for table in (self._plain, self._configured)
            for impl in (table[f].funcs.values() if f in table else ())
            if impl is not _opted_out
        ]

    def __repr__(self) -> str:
        return f"<rule table {self.__name__}: {len(self.registered_functions())} functions>"


def _type_name(t: Any) -> str:
    return getattr(t, "__name__", repr(t))


def _split_config(args: tuple) -> tuple[RuleConfig | None, tuple]:
    if args and isinstance(args[0], RuleConfig):
        return args[0], args[1:]
    return None, args


class ReverseRules(RuleTable):
    """``rrule([config,] f, *args, **kwargs)`` → ``(y, pullback)`` or ``None`` when no rule applies.

    ``pullback(dy)`` returns one tangent per positional input, the tangent of ``f`` itself first.

    Example:
        >>> import math
        >>> from chainrules_core import rrule, NoTangent
        >>> def sin(x):
        ...     return math.sin(x)
        >>> @rrule.register(sin, float)
        ... def _(x):
        ...     def sin_pullback(dy):
        ...         return NoTangent(), dy * math.cos(x)
        ...     return sin(x), sin_pullback
        >>> y, back = rrule(sin, 0.0)
        >>> back(1.0)
        (NoTangent(), 1.0)
        >>> rrule(sin, "no rule for strings") is None
        True
    """

    def __call__(self, *args: Any, **kwargs: Any):
        # Resolution (``resolve``, cached) is kept apart from running the rule, so that an AD
        # engine differentiating code that calls ``rrule`` can differentiate the second alone.
        if args and isinstance(args[0], RuleConfig):
            config, args = args[0], args[1:]
        else:
            config = None
        if not args:
            raise TypeError("rrule needs the function to differentiate: rrule([config,] f, *args)")
        f, call_args = args[0], args[1:]
        bound = type(f) in _BOUND_METHOD_TYPES
        if bound:
            f, call_args, bound = resolve_receiver(f, call_args)
        found = self.resolve(config, f, call_args)
        if found is None:
            return None
        impl, takes_config, receiver_first = found
        if receiver_first:
            call_args = (f, *call_args)
        result = impl(config, *call_args, **kwargs) if takes_config else impl(*call_args, **kwargs)
        return _drop_function_tangent(result) if bound or receiver_first else result


def _drop_function_tangent(result):
    """Adapt the rule of an unbound method (or ``__call__``) to a call of the bound method (or object).

    The unbound rule's pullback returns ``(d_function, d_receiver, *d_args)``; a bound method's
    tangent is its receiver's, so the unbound function's own tangent is dropped.
    """
    if result is None:
        return None
    y, pullback = result

    def method_pullback(dy):
        return pullback(dy)[1:]

    return y, method_pullback


class ForwardRules(RuleTable):
    """``frule([config,] (df, *dargs), f, *args, **kwargs)`` → ``(y, dy)`` or ``None``.

    Registered implementations are called as ``impl([config,] tangents, *args, **kwargs)``.

    Example:
        >>> import math
        >>> from chainrules_core import frule, NoTangent
        >>> def cos(x):
        ...     return math.cos(x)
        >>> @frule.register(cos)
        ... def _(tangents, x):
        ...     _, dx = tangents
        ...     return cos(x), -math.sin(x) * dx
        >>> frule((NoTangent(), 2.0), cos, 0.0)
        (1.0, -0.0)
    """

    def __call__(self, *args: Any, **kwargs: Any):
        config, args = _split_config(args)
        if len(args) < 2:
            raise TypeError(
                "frule needs tangents and a function: frule([config,] (df, *dargs), f, *args)"
            )
        tangents, f = args[0], args[1]
        if len(tangents) != len(args) - 1:
            raise ValueError(
                f"frule got {len(tangents)} tangents for {len(args) - 2} arguments; pass one tangent "
                "for the function itself first, then one per argument"
            )
        f, call_args, bound = resolve_receiver(f, args[2:])
        found = self.resolve(config, f, call_args)
        if found is None:
            return None
        impl, takes_config, receiver_first = found
        if receiver_first:
            call_args = (f, *call_args)
        if bound or receiver_first:
            # The receiver's tangent is the bound method's (or callable object's) tangent.
            tangents = (NoTangent(), *tangents)
        if takes_config:
            return impl(config, tangents, *call_args, **kwargs)
        return impl(tangents, *call_args, **kwargs)


rrule = ReverseRules("rrule")
frule = ForwardRules("frule")
