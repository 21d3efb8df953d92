"""Rules for numpy, laid out like numpy's namespaces."""

from chainrules.numpy import (
    fft,
    indexing,
    linalg,
    methods,
    nondifferentiable,
    reductions,
    shape,
    ufuncs,
)

__all__ = [
    "fft",
    "indexing",
    "linalg",
    "methods",
    "nondifferentiable",
    "reductions",
    "shape",
    "ufuncs",
]
