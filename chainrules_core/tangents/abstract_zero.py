"""The two strong zeros: ``ZeroTangent`` (the tangent is zero) and ``NoTangent`` (there is no tangent space)."""

from __future__ import annotations

import numpy as np

# Names that duck-typing code probes with ``hasattr`` (the array API, the tangent types' own
# attributes) must stay absent on a zero rather than read as zero fields.
_NOT_FIELDS = frozenset(dir(np.ndarray)) | {"unthunk", "add_into", "backing", "primal_type"}


class AbstractZero:
    """Base of the strong zeros: the additive identity and the multiplicative annihilator of every tangent.

    A zero absorbs any linear operation applied to it (indexing, field access, transposing,
    reshaping, summing, conjugating), so rules can apply such operations to a tangent without first
    testing for zero. Names of the array API (``shape``, ``dtype``, ``astype``, ...) are not fields.
    Instances are singletons, so ``is`` comparisons are valid.
    """

    __slots__ = ()
    _instance: AbstractZero | None = None

    # numpy would otherwise treat a zero as an object scalar in ``array * zero``; with this set to
    # ``None`` numpy defers to our reflected operators, which implement the precedence rules.
    __array_ufunc__ = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __reduce__(self):
        return (type(self), ())

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __float__(self) -> float:
        return 0.0

    def __complex__(self) -> complex:
        return 0j

    def __iter__(self):
        # Destructuring a zero cotangent of a tuple-valued output (``da, db = dy``) is common in rules.
        raise TypeError(
            f"cannot iterate over {self!r}; index it (a zero's items are zero) or test "
            "`isinstance(dy, AbstractZero)` first"
        )

    def __getitem__(self, index):
        return self

    def __getattr__(self, name: str):
        # The fields of a zero structural tangent are zero, so a rule can read ``dp.x`` without
        # first testing ``dp`` for zero. Private names and the array API are not fields: numpy,
        # copy protocols and duck typing must keep seeing a plain object.
        if name.startswith("_") or name in _NOT_FIELDS:
            raise AttributeError(name)
        return self

    @property
    def T(self):
        return self

    @property
    def real(self):
        return self

    @property
    def imag(self):
        return self

    def conj(self):
        return self

    conjugate = conj

    def sum(self, *args, **kwargs):
        return self

    def reshape(self, *args, **kwargs):
        return self

    def transpose(self, *args, **kwargs):
        return self


class ZeroTangent(AbstractZero):
    """The tangent is zero.

    Example:
        >>> import numpy as np
        >>> from chainrules_core import ZeroTangent
        >>> ZeroTangent() is ZeroTangent()
        True
        >>> x = np.ones(2)
        >>> (ZeroTangent() + x) is x
        True
        >>> x * ZeroTangent()
        ZeroTangent()
    """

    __slots__ = ()
    _instance = None


class NoTangent(AbstractZero):
    """There is no tangent space: integers used as indices, strings, functions with no state.

    ``NoTangent`` wins over ``ZeroTangent`` in products and sums of two zeros.

    Example:
        >>> from chainrules_core import NoTangent, ZeroTangent
        >>> 3.0 * NoTangent()
        NoTangent()
        >>> NoTangent() + ZeroTangent()
        NoTangent()
        >>> NoTangent() + 2.0
        2.0
    """

    __slots__ = ()
    _instance = None
