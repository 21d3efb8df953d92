"""Finite-difference checks of the numpy.fft rules."""

import numpy as np
import pytest

import chainrules  # noqa: F401 - registers the rules
from chainrules_core import NoTangent, ZeroTangent, frule, rrule
from chainrules_core.testing import nondiff, test_frule, test_rrule

fft = np.fft


def random_array(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


# (function, input shape, input dtype, keyword arguments)
CASES = [
    # complex transforms: 1-d, padding and truncation, axes, every norm, real and complex input
    (fft.fft, (5,), np.complex128, {}),
    (fft.fft, (4,), np.float64, {}),
    (fft.fft, (3, 4), np.complex64, {"axis": 0}),
    (fft.fft, (4,), np.complex128, {"n": 6, "norm": "ortho"}),
    (fft.fft, (5,), np.float32, {"n": 3, "norm": "forward"}),
    (fft.ifft, (5,), np.complex128, {}),
    (fft.ifft, (3, 4), np.float64, {"n": 5, "axis": 0, "norm": "ortho"}),
    (fft.ifft, (4,), np.complex64, {"n": 2, "norm": "forward"}),
    (fft.fft2, (3, 4), np.complex128, {}),
    (fft.fft2, (2, 3, 2), np.float64, {"s": (4, 2), "axes": (0, 2), "norm": "ortho"}),
    (fft.ifft2, (3, 4), np.complex64, {"norm": "forward"}),
    (fft.ifft2, (2, 3), np.complex128, {"s": (3, 2), "axes": (0, 1)}),
    (fft.fftn, (2, 3, 2), np.complex128, {}),
    (fft.fftn, (2, 3, 4), np.float32, {"axes": (2, 0), "norm": "ortho"}),
    (fft.fftn, (2, 3, 2), np.complex128, {"s": (3, 2), "axes": (1, 0), "norm": "forward"}),
    (fft.ifftn, (2, 3, 2), np.complex128, {"norm": "ortho"}),
    (fft.ifftn, (3, 4), np.complex64, {"s": (2, 5), "axes": (0, 1)}),
    # real-input transforms: even and odd lengths, padding and truncation
    (fft.rfft, (6,), np.float64, {}),
    (fft.rfft, (5,), np.float64, {"norm": "ortho"}),
    (fft.rfft, (5,), np.float64, {"n": 8}),
    (fft.rfft, (6,), np.float64, {"n": 7, "norm": "forward"}),
    (fft.rfft, (6,), np.float32, {"n": 4}),
    (fft.rfft, (3, 5), np.float64, {"axis": 0}),
    (fft.rfft2, (3, 4), np.float64, {}),
    (fft.rfft2, (4, 3), np.float32, {"s": (3, 5), "axes": (0, 1), "norm": "ortho"}),
    (fft.rfftn, (2, 3, 4), np.float64, {"axes": (2, 0)}),
    (fft.rfftn, (2, 3, 3), np.float64, {"s": (2, 4), "axes": (0, 1), "norm": "forward"}),
    # half-spectrum inputs: the DC and (even n) Nyquist bins count once, the others twice
    (fft.irfft, (4,), np.complex128, {}),
    (fft.irfft, (4,), np.complex128, {"n": 7}),
    (fft.irfft, (4,), np.complex128, {"n": 5, "norm": "ortho"}),
    (fft.irfft, (3,), np.complex128, {"n": 10, "norm": "forward"}),
    (fft.irfft, (5,), np.complex64, {"n": 4}),
    (fft.irfft, (3,), np.float64, {"n": 3}),
    (fft.irfft, (3, 4), np.complex128, {"axis": 0}),
    (fft.irfft2, (3, 3), np.complex128, {}),
    (fft.irfft2, (3, 3), np.complex64, {"s": (2, 5), "axes": (1, 0), "norm": "ortho"}),
    (fft.irfftn, (2, 3, 3), np.complex128, {}),
    (fft.irfftn, (2, 2, 3), np.complex128, {"s": (3, 3), "axes": (0, 2), "norm": "forward"}),
    (fft.hfft, (4,), np.complex128, {}),
    (fft.hfft, (3,), np.complex64, {"n": 5, "norm": "ortho"}),
    (fft.hfft, (3, 2), np.complex128, {"n": 6, "axis": 0, "norm": "forward"}),
    (fft.ihfft, (6,), np.float64, {}),
    (fft.ihfft, (5,), np.float64, {"n": 7, "norm": "ortho"}),
    (fft.ihfft, (3, 5), np.float32, {"n": 4, "norm": "forward"}),
    # shifts
    (fft.fftshift, (5,), np.float64, {}),
    (fft.fftshift, (3, 4), np.complex128, {"axes": 0}),
    (fft.ifftshift, (3, 4), np.float32, {}),
    (fft.ifftshift, (2, 3, 5), np.complex64, {"axes": (0, 2)}),
]


def case_id(case):
    f, shape, dtype, kwargs = case
    options = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{f.__name__}-{shape}-{np.dtype(dtype).name}-{options}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_rrule_matches_finite_differences(case):
    f, shape, dtype, kwargs = case
    test_rrule(f, random_array(shape, dtype), fkwargs=kwargs)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_frule_matches_finite_differences(case):
    f, shape, dtype, kwargs = case
    test_frule(f, random_array(shape, dtype), fkwargs=kwargs)


@pytest.mark.parametrize(
    ("f", "options"),
    [
        (fft.fft, (6, 0, "ortho")),
        (fft.irfft, (5, 0)),
        (fft.rfftn, ((3, 2), (1, 0))),
        (fft.fftshift, ((0,),)),
    ],
)
def test_positional_options_get_no_tangent(f, options):
    x = random_array((3, 4), np.float64)
    test_rrule(f, x, *map(nondiff, options))
    test_frule(f, x, *map(nondiff, options))


def test_irfft_pullback_has_no_imaginary_dc_or_nyquist_part():
    x = random_array((4,), np.complex128)
    _, pullback = rrule(fft.irfft, x)
    _, dx = pullback(np.ones(6))
    assert dx[0].imag == 0 and dx[-1].imag == 0
    np.testing.assert_allclose(np.abs(dx[1:-1]), 0, atol=1e-12)  # a constant signal: only DC


def test_frule_leaves_out_buffer_alone():
    x, dx = random_array((4,), np.complex128), random_array((4,), np.complex128, seed=1)
    out = np.empty(4, np.complex128)
    y, dy = frule((NoTangent(), dx), fft.fft, x, out=out)
    assert y is out
    np.testing.assert_allclose(y, fft.fft(x))
    np.testing.assert_allclose(dy, fft.fft(dx))
    assert frule((NoTangent(), ZeroTangent()), fft.fft, x)[1] == ZeroTangent()
