"""numpy functions with no derivative: gradients stop at them, without an error.

Registered with ``chainrules_core.non_differentiable``, so every tangent (of the output and of each
input) is ``NoTangent()``. Covered: comparisons, membership (``isin``) and logical functions
(``all``, ``any``), piecewise-constant rounding (``floor``, ``ceil``, ``trunc``, ``rint``,
``round``/``around``, ``fix``, ``floor_divide``, ``spacing``), floating-point
and memory predicates, index-valued functions (``argmax``, ``argsort``, ``argpartition``, ``nonzero``,
``searchsorted``, ``digitize``, ``lexsort``, ``tril_indices``, ...), bitwise and integer functions, the integer and
boolean scalar types called as casts (``np.int64(x)``, ``np.bool_(x)``), shape queries,
array constructors (``zeros_like``, ``arange``, ``eye``, ``tri``, the window functions of an
integer length, ...), and random number
generation: the legacy module functions (``np.random.normal`` is a method of a hidden
``RandomState``, so its rule is ``RandomState.normal``'s), every ``RandomState`` and ``Generator``
method as an unbound method (``np.random.Generator.normal`` covers ``rng.normal``), and the
generator constructors and seeding. Also the ndarray methods ``all``, ``any``,
``argpartition`` and ``searchsorted``, registered as the unbound methods (``np.ndarray.any``
covers ``x.any()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from chainrules_core import non_differentiable

COMPARISONS = (
    np.greater,
    np.less,
    np.equal,
    np.not_equal,
    np.greater_equal,
    np.less_equal,
    np.isclose,
    np.allclose,
    np.array_equal,
    np.array_equiv,
    np.isin,
)
LOGICAL = (np.logical_and, np.logical_or, np.logical_xor, np.logical_not, np.all, np.any)
PIECEWISE_CONSTANT = (
    np.floor,
    np.ceil,
    np.trunc,
    np.rint,
    np.round,
    np.around,
    np.fix,
    np.floor_divide,
    np.spacing,  # the distance to the next float: constant between powers of two
)
PREDICATES = (
    np.isnan,
    np.isfinite,
    np.isinf,
    np.isposinf,
    np.isneginf,
    np.signbit,
    np.isreal,
    np.iscomplex,
    np.isrealobj,
    np.iscomplexobj,
    np.isscalar,
    np.may_share_memory,
    np.shares_memory,
)
INDEX_VALUED = (
    np.argmax,
    np.argmin,
    np.argsort,
    np.argpartition,
    np.nanargmax,
    np.nanargmin,
    np.lexsort,
    np.argwhere,
    np.nonzero,
    np.flatnonzero,
    np.searchsorted,
    np.digitize,
    np.count_nonzero,
    np.ravel_multi_index,
    np.unravel_index,
    np.indices,
    np.diag_indices,
    np.diag_indices_from,
    np.tril_indices,
    np.tril_indices_from,
    np.triu_indices,
    np.triu_indices_from,
    np.mask_indices,
)
INTEGER = (
    np.bitwise_and,
    np.bitwise_or,
    np.bitwise_xor,
    np.invert,
    np.left_shift,
    np.right_shift,
    np.gcd,
    np.lcm,
    np.bitwise_count,
    np.packbits,
    np.unpackbits,
)
# numpy's integer and boolean scalar types called as casts (np.int64(x)): piecewise constant. Some
# are one class under two names on some platforms (np.longlong is np.int64 on Windows).
INTEGER_SCALAR_TYPES = tuple(
    dict.fromkeys(
        (
            np.bool_,
            np.int8,
            np.int16,
            np.int32,
            np.int64,
            np.longlong,
            np.uint8,
            np.uint16,
            np.uint32,
            np.uint64,
            np.ulonglong,
        )
    )
)
SHAPE_QUERIES = (np.shape, np.size, np.ndim, np.broadcast_shapes, np.result_type)
CONSTRUCTORS = (
    np.zeros_like,
    np.ones_like,
    np.empty_like,
    np.zeros,
    np.ones,
    np.empty,
    np.arange,
    np.eye,
    np.identity,
    np.tri,
    # Windows of an integer length M; np.kaiser is not here, its shape parameter beta is real.
    np.bartlett,
    np.blackman,
    np.hamming,
    np.hanning,
)
# The bin edges depend only on the data's range and the bin count; by convention they are constants,
# as the edges that np.histogram returns are.
# ndarray methods whose results are booleans or indices (the others are routed to the functions'
# rules in chainrules.numpy.methods).
NDARRAY_METHODS = (
    np.ndarray.all,
    np.ndarray.any,
    np.ndarray.argpartition,
    np.ndarray.searchsorted,
)
RANDOM_MODULE_FUNCTIONS = (
    np.random.default_rng,
    np.random.seed,
    np.random.get_bit_generator,
    np.random.set_bit_generator,
)


def random_methods() -> Iterator[Callable]:
    """Every public method of ``np.random.Generator`` and ``np.random.RandomState``, unbound.

    Example:
        >>> import numpy as np
        >>> from chainrules.numpy.nondifferentiable import random_methods
        >>> np.random.Generator.normal in set(random_methods())
        True
    """
    for cls in (np.random.Generator, np.random.RandomState):
        for name in dir(cls):
            method = getattr(cls, name)
            if not name.startswith("_") and callable(method):
                yield method


NON_DIFFERENTIABLE: tuple[Callable, ...] = (
    *COMPARISONS,
    *LOGICAL,
    *PIECEWISE_CONSTANT,
    *PREDICATES,
    *INDEX_VALUED,
    *INTEGER,
    *INTEGER_SCALAR_TYPES,
    *SHAPE_QUERIES,
    *CONSTRUCTORS,
    *NDARRAY_METHODS,
    *RANDOM_MODULE_FUNCTIONS,
    *random_methods(),
)

for _f in NON_DIFFERENTIABLE:
    non_differentiable(_f)
