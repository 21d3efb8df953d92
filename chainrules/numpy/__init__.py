"""Rules for numpy, laid out like numpy's namespaces."""

from chainrules.numpy import (
    creation,
    fft,
    indexing,
    interp,
    linalg,
    methods,
    nondifferentiable,
    reductions,
    shape,
    ufuncs,
)

__all__ = [
    "creation",
    "fft",
    "indexing",
    "interp",
    "linalg",
    "methods",
    "nondifferentiable",
    "reductions",
    "shape",
    "ufuncs",
]
