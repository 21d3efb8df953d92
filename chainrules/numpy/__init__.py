"""Rules for numpy, laid out like numpy's namespaces."""

from chainrules.numpy import (
    creation,
    fft,
    indexing,
    interp,
    linalg,
    linalg_extra,
    methods,
    nondifferentiable,
    pairs,
    polynomial,
    reductions,
    shape,
    structure,
    ufuncs,
)

__all__ = [
    "creation",
    "fft",
    "indexing",
    "interp",
    "linalg",
    "linalg_extra",
    "methods",
    "nondifferentiable",
    "pairs",
    "polynomial",
    "reductions",
    "shape",
    "structure",
    "ufuncs",
]
