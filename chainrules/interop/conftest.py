"""The engines are optional: an adapter's docstring examples run only where its engine is installed."""

import importlib.util

collect_ignore = [
    f"_{engine}.py"
    for engine in ("torch", "jax", "autograd")
    if importlib.util.find_spec(engine) is None
]
