"""Random tangents of the right type, shape and dtype for any primal the layouts understand."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrules_core.testing.flatten import layout_of


def rand_tangent(x: Any, rng: np.random.Generator | None = None) -> Any:
    """A random tangent for primal ``x``: standard normal entries in the natural tangent type.

    Floats give floats, arrays give arrays of ``x``'s dtype and shape, complex values get random
    real and imaginary parts, composites give a ``Tangent``, and non-differentiable values give
    ``NoTangent()``.

    Example:
        >>> import numpy as np
        >>> from chainrules_core.testing import rand_tangent
        >>> t = rand_tangent((1.0, np.zeros(3, np.float32), 7), np.random.default_rng(0))
        >>> type(t[0]).__name__, t[1].dtype, t[1].shape, t[2]
        ('float', dtype('float32'), (3,), NoTangent())
    """
    rng = np.random.default_rng() if rng is None else rng
    layout = layout_of(x)
    return layout.tangent(rng.standard_normal(layout.size))
