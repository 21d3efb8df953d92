"""Central finite differences: a 5-point stencil refined by one Richardson step (error O(h^6))."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# With the Richardson step the truncation error is O(h^6) and the rounding error O(eps/h), so a
# step near 1e-3 suits float64 evaluations. It is absolute rather than relative to large inputs:
# the derivatives that set the truncation error (sin at 1e3, say) do not shrink as inputs grow.
# Only inputs smaller than 1 shrink it, to stay inside domains such as log's near zero.
_BASE_STEP = 1e-3


def _stencil(g: Callable[[float], np.ndarray], h: float) -> np.ndarray:
    return (g(-2 * h) - 8 * g(-h) + 8 * g(h) - g(2 * h)) / (12 * h)


def derivative_at_zero(g: Callable[[float], np.ndarray], h: float) -> np.ndarray:
    """``g'(0)`` for a vector-valued ``g`` of one real variable."""
    coarse, fine = _stencil(g, h), _stencil(g, h / 2)
    return fine + (fine - coarse) / 15


def step_for(x: np.ndarray, direction: np.ndarray) -> float:
    """A step along ``direction``, reduced for inputs smaller than 1 (down to a tenth)."""
    moved = np.abs(direction) > 0
    scale = float(np.max(np.abs(x[moved]))) if moved.any() else 1.0
    return _BASE_STEP * min(max(scale, 0.1), 1.0) / float(np.max(np.abs(direction)))


def jvp(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Jacobian-vector product ``J(x) @ dx`` of a vector function of a vector, by finite differences.

    Example:
        >>> import numpy as np
        >>> from chainrules_core.testing.finite_differences import jvp
        >>> np.round(jvp(lambda v: v ** 3, np.array([2.0]), np.array([1.0])), 8)
        array([12.])
    """
    if not np.any(dx):
        return np.zeros_like(f(x))
    return derivative_at_zero(lambda t: f(x + t * dx), step_for(x, dx))


def jacobian_transpose_vector(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dy: np.ndarray
) -> np.ndarray:
    """``J(x).T @ dy`` column by column (one directional derivative per input entry).

    Example:
        >>> import numpy as np
        >>> from chainrules_core.testing.finite_differences import jacobian_transpose_vector
        >>> np.round(jacobian_transpose_vector(lambda v: v * v[::-1], np.array([1.0, 2.0]),
        ...                                    np.array([1.0, 0.0])), 8)
        array([2., 1.])
    """
    out = np.empty(x.size)
    basis = np.zeros(x.size)
    for i in range(x.size):
        basis[i] = 1.0
        out[i] = float(dy @ jvp(f, x, basis))
        basis[i] = 0.0
    return out
