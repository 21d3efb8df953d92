"""Rules for numpy.fft: complex, real and Hermitian transforms in 1, 2 and n dimensions; the shifts.

Every transform is (real-)linear in its input, so its frule applies the transform to the tangent
and its pullback applies the adjoint. With the complex convention of this library (the cotangent
of ``z`` is ``dL/dRe z + i dL/dIm z``) the adjoint of a complex-linear map is its conjugate
transpose:

* ``fft``-type transforms with ``norm`` have the adjoint ``ifft`` with the dual ``norm``
  ("backward" <-> "forward", "ortho" is its own dual);
* the zero padding or truncation that ``n=``/``s=`` apply to the input has the adjoint "truncate
  or zero-pad back to the input's shape";
* ``rfft`` keeps the first ``n//2 + 1`` bins of the transform of a real signal: its adjoint
  zero-pads the cotangent to ``n`` bins, transforms back and keeps the real part;
* ``irfft`` reads only the half spectrum ``X[0 .. n//2]``, as if the other bins were their
  conjugate mirrors, so bins ``1 .. (n-1)//2`` count twice in the output while ``X[0]`` and, for
  even ``n``, the Nyquist bin ``X[n/2]`` count once (and only through their real parts). Its
  adjoint is ``rfft`` of the cotangent with those weights (2 for the mirrored bins, 1 for the
  others); the imaginary parts of the DC and Nyquist cotangents come out zero;
* ``hfft(a) = irfft(conj(a))`` and ``ihfft(a) = conj(rfft(a))`` (with the dual ``norm``) follow by
  composition.

Repeated entries in ``axes`` are not supported by these rules.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from chainrules_core import AbstractZero, NoTangent, ProjectTo, frule, rrule

# The adjoint of a transform normalised with `norm` is the inverse transform with the dual norm.
_DUAL_NORM = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


def _transform_geometry(f: Callable, x, args: tuple, kwargs: dict, half_spectrum_input: bool):
    """``(s, axes, norm)`` of a call ``f(x, *args, **kwargs)``, with ``s`` and ``axes`` explicit.

    ``s`` holds the signal length along each transformed axis (for the half-spectrum transforms,
    the length of the real signal, not of the input); ``axes`` are non-negative.
    """
    bound = inspect.signature(f).bind(x, *args, **kwargs)
    bound.apply_defaults()
    params = bound.arguments
    if "axis" in params:
        axes, given = (params["axis"],), None if params["n"] is None else (params["n"],)
    else:
        axes, given = params["axes"], params["s"]
    ndim = np.ndim(x)
    if axes is None:
        axes = range(-len(given), 0) if given is not None else range(ndim)
    axes = tuple(axis % ndim for axis in axes)
    s = [None] * len(axes) if given is None else list(given)
    s = [np.shape(x)[axis] if n in (None, -1) else n for n, axis in zip(s, axes, strict=True)]
    if half_spectrum_input and given is None:
        s[-1] = 2 * (np.shape(x)[axes[-1]] - 1)
    return tuple(s), axes, params["norm"]


def _fit(a, shape: tuple, axes: tuple):
    """``a`` truncated or zero-padded at the end of each of ``axes`` to the lengths in ``shape``."""
    index = [slice(None)] * np.ndim(a)
    padding = [(0, 0)] * np.ndim(a)
    for length, axis in zip(shape, axes, strict=True):
        index[axis] = slice(0, length)
        padding[axis] = (0, max(0, length - np.shape(a)[axis]))
    a = a[tuple(index)]
    return np.pad(a, padding) if any(after for _, after in padding) else a


def _hermitian_weights(n: int, axis: int, ndim: int):
    """How often each bin of a half spectrum of a length-``n`` real signal counts: 1 for the DC bin
    and (even ``n``) the Nyquist bin, 2 for the bins whose conjugate mirror is implied."""
    weights = np.full(n // 2 + 1, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    return weights.reshape((-1,) + (1,) * (ndim - axis - 1))


# The adjoints, as functions of the output cotangent; the result is then fitted to the input shape.
def _fft_adjoint(dy, s, axes, norm):
    return np.fft.ifftn(dy, axes=axes, norm=_DUAL_NORM[norm])


def _ifft_adjoint(dy, s, axes, norm):
    return np.fft.fftn(dy, axes=axes, norm=_DUAL_NORM[norm])


def _rfft_adjoint(dy, s, axes, norm):
    # `s=` zero-pads the last axis from the kept n//2 + 1 bins back to the n of the full transform.
    return np.real(np.fft.ifftn(dy, s=s, axes=axes, norm=_DUAL_NORM[norm]))


def _irfft_adjoint(dy, s, axes, norm):
    weights = _hermitian_weights(s[-1], axes[-1], np.ndim(dy))
    return weights * np.fft.rfftn(dy, axes=axes, norm=_DUAL_NORM[norm])


def _hfft_adjoint(dy, s, axes, norm):
    return np.conj(_irfft_adjoint(dy, s, axes, _DUAL_NORM[norm]))


def _ihfft_adjoint(dy, s, axes, norm):
    return _rfft_adjoint(np.conj(dy), s, axes, _DUAL_NORM[norm])


def _register_transform(f: Callable, adjoint: Callable, half_spectrum_input: bool = False) -> None:
    @rrule.register(f)
    def _(x, *args, **kwargs):
        y = f(x, *args, **kwargs)
        s, axes, norm = _transform_geometry(f, x, args, kwargs, half_spectrum_input)
        project_x = ProjectTo(x)

        def fft_pullback(dy):
            dx = _fit(adjoint(dy, s, axes, norm), [np.shape(x)[axis] for axis in axes], axes)
            return (NoTangent(), project_x(dx), *(NoTangent() for _ in args))

        return y, fft_pullback

    _register_linear_frule(f)


def _register_linear_frule(f: Callable) -> None:
    @frule.register(f)
    def _(tangents, x, *args, **kwargs):
        dx = tangents[1]
        y = f(x, *args, **kwargs)
        if isinstance(dx, AbstractZero):
            return y, dx
        # The tangent must not be written into the caller's `out=` buffer, which holds y.
        tangent_kwargs = {key: value for key, value in kwargs.items() if key != "out"}
        return y, f(dx, *args, **tangent_kwargs)


for _f in (np.fft.fft, np.fft.fft2, np.fft.fftn):
    _register_transform(_f, _fft_adjoint)
for _f in (np.fft.ifft, np.fft.ifft2, np.fft.ifftn):
    _register_transform(_f, _ifft_adjoint)
for _f in (np.fft.rfft, np.fft.rfft2, np.fft.rfftn):
    _register_transform(_f, _rfft_adjoint)
for _f in (np.fft.irfft, np.fft.irfft2, np.fft.irfftn):
    _register_transform(_f, _irfft_adjoint, half_spectrum_input=True)
_register_transform(np.fft.hfft, _hfft_adjoint, half_spectrum_input=True)
_register_transform(np.fft.ihfft, _ihfft_adjoint)


def _register_shift(f: Callable, inverse: Callable) -> None:
    """A shift is a permutation: its adjoint is the inverse shift along the same axes."""

    @rrule.register(f)
    def _(x, *args, **kwargs):
        project_x = ProjectTo(x)

        def fftshift_pullback(dy):
            return (
                NoTangent(),
                project_x(inverse(dy, *args, **kwargs)),
                *(NoTangent() for _ in args),
            )

        return f(x, *args, **kwargs), fftshift_pullback

    _register_linear_frule(f)


_register_shift(np.fft.fftshift, np.fft.ifftshift)
_register_shift(np.fft.ifftshift, np.fft.fftshift)
