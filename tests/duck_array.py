"""A minimal array of "another library" for tests: numpy data behind numpy's dispatch protocols.

``Wrapped`` implements ``__array_ufunc__`` and ``__array_function__`` (and, through numpy's
operator mixin, the arithmetic operators) by unwrapping its arguments, calling numpy and wrapping
the array results again, the way dask and CuPy arrays hand numpy's calls to their own code. It
refuses ``np.asarray``, so a rule that converts a duck array to numpy instead of staying generic
fails loudly.
"""

import numpy as np


class Wrapped(np.lib.mixins.NDArrayOperatorsMixin):
    def __init__(self, data):
        self.data = np.asarray(data)

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    T = property(lambda self: Wrapped(self.data.T))

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Wrapped arrays are not converted to numpy arrays (np.asarray)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs)))

    def __array_function__(self, func, types, args, kwargs):
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    def __getitem__(self, index):
        return Wrapped(self.data[_unwrap(index)])

    def __setitem__(self, index, value):
        self.data[_unwrap(index)] = _unwrap(value)

    def sum(self, axis=None):
        return np.sum(self, axis=axis)

    def astype(self, dtype):
        return Wrapped(self.data.astype(dtype))

    def __repr__(self):
        return f"Wrapped({self.data!r})"


def _unwrap(x):
    if isinstance(x, Wrapped):
        return x.data
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _wrap(y):
    if isinstance(y, (np.ndarray, np.generic)) and not isinstance(y, (np.bool_, np.integer)):
        return Wrapped(y)
    if isinstance(y, tuple):
        return tuple(_wrap(v) for v in y)
    return y
