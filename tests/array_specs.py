"""Random test arrays for rule tests: plain, with well-separated entries, or described by a spec."""

import numpy as np


def random_array(rng, shape, dtype=np.float64):
    """Standard normal entries of ``dtype``, with a random imaginary part when it is complex."""
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return np.asarray(x, dtype=dtype)


def distinct(rng, shape, dtype=np.float64):
    """Entries at least 0.3 apart, so no finite-difference step reorders them (max, sort, median)."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2) * 0.5 + rng.uniform(-0.1, 0.1, size)
    return values.reshape(shape).astype(dtype)


class A:
    """Stands for a random array of this shape in the dtype under test (``A()`` is 0-d)."""

    def __init__(self, *shape):
        self.shape = shape

    def __repr__(self):
        return f"A{self.shape}"


def realize(spec, dtype, rng):
    """``spec`` with every ``A`` replaced by a random array (inside tuples and lists too)."""
    if isinstance(spec, A):
        return random_array(rng, spec.shape, dtype)
    if isinstance(spec, (tuple, list)):
        return type(spec)(realize(s, dtype, rng) for s in spec)
    return spec
