"""PyTorch: a function with a rule as a ``torch.autograd.Function``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrules.interop._calls import (
    array_cotangents,
    as_array,
    output_cotangent,
    output_parts,
    output_tangent_parts,
    rebuild_output,
    require_rrule,
    run_frule,
    run_rrule,
    split_call,
)
from chainrules_core import NoTangent, ZeroTangent, unthunk


class _Call:
    """One call of a wrapped function. ``forward`` fills in what ``backward`` and ``jvp`` need.

    It travels through ``Function.apply`` as a non-tensor input, which keeps the pullback with the
    call it belongs to (torch gives ``setup_context`` the inputs, not anything ``forward`` made).
    """

    def __init__(self, f: Any, skeleton: tuple, kwargs: dict):
        self.f, self.skeleton, self.kwargs = f, skeleton, kwargs
        self.arrays: list = []  # the inputs' numpy data, for the frule
        self.devices: list = []  # where each input's gradient must go
        self.container: type | None = None
        self.pullback: Callable | None = None


def to_torch(f: Callable) -> Callable:
    """``f`` as a function of torch tensors that torch's autograd differentiates with ``f``'s rule.

    The rule runs on the tensors' data as numpy arrays (detached, on the CPU); outputs and
    gradients come back as tensors on the first tensor argument's device, each gradient in its
    input's dtype. Reverse mode (``backward``, ``torch.autograd.grad``, ``gradcheck``) uses the
    ``rrule``, forward mode (``torch.autograd.forward_ad``, ``torch.func.jvp``) the ``frule``.
    Tensors may also sit inside tuple or list arguments (``np.concatenate((a, b))``); every other
    argument, keyword arguments included, is a constant passed to the rule unchanged. Tuple outputs
    (NamedTuples too) become tuples of tensors.

    Second derivatives through one rule are not supported (``gradgradcheck`` fails): the pullback
    runs on numpy arrays, which torch does not record. For the same reason the ``torch.func``
    transforms (``grad``, ``jvp``, ``vmap``), which hand the function their own wrapped tensors,
    are not supported; use ``torch.autograd`` and ``torch.autograd.forward_ad``.

    Args:
        f: a function with a registered ``rrule``.

    Raises:
        TypeError: ``f`` has no ``rrule``.

    Example:
        >>> import numpy as np
        >>> import torch
        >>> from chainrules.interop import to_torch
        >>> sin = to_torch(np.sin)
        >>> x = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
        >>> sin(x).sum().backward()
        >>> x.grad
        tensor([1.0000, 0.5403], dtype=torch.float64)
    """
    require_rrule(f, "to_torch")
    import torch

    rule_function = _rule_function()

    @functools.wraps(f)
    def on_tensors(*args: Any, **kwargs: Any) -> Any:
        tensors, skeleton = split_call(args, lambda value: isinstance(value, torch.Tensor))
        call = _Call(f, skeleton, kwargs)
        outputs = rule_function.apply(call, *tensors)
        return rebuild_output(outputs, call.container)

    return on_tensors


def _numpy(tensor) -> np.ndarray:
    # resolve_conj/resolve_neg: numpy cannot read torch's lazily conjugated or negated views
    return tensor.detach().cpu().resolve_conj().resolve_neg().numpy()


@functools.cache
def _rule_function() -> type:
    """The ``torch.autograd.Function`` of every wrapped rule, made once torch is imported."""
    import torch

    def tensor(array: np.ndarray, device) -> torch.Tensor:
        # a copy: a rule's output may be a read-only or negatively strided view torch cannot share
        return torch.from_numpy(np.array(array)).to(device)

    def gradient(dx: Any, x: np.ndarray, device) -> torch.Tensor | None:
        dx = unthunk(dx)
        if isinstance(dx, NoTangent):
            return None  # torch's "no gradient"
        return tensor(as_array(dx, x), device)

    class RuleFunction(torch.autograd.Function):
        """Runs the rule of ``call.f`` in ``forward``, its pullback in ``backward``, its frule in ``jvp``."""

        @staticmethod
        def forward(call: _Call, *tensors: torch.Tensor) -> tuple:
            call.arrays = [_numpy(t) for t in tensors]
            call.devices = [t.device for t in tensors]
            y, call.pullback = run_rrule(call.f, call.skeleton, call.arrays, call.kwargs)
            parts, call.container = output_parts(y)
            device = call.devices[0] if tensors else torch.device("cpu")
            return tuple(tensor(part, device) for part in parts)

        @staticmethod
        def setup_context(ctx, inputs: tuple, output: tuple) -> None:
            ctx.call = inputs[0]
            # Unused outputs then get None rather than a tensor of zeros: a ZeroTangent to the rule.
            ctx.set_materialize_grads(False)
            ctx.mark_non_differentiable(
                *(y for y in output if not (y.is_floating_point() or y.is_complex()))
            )

        @staticmethod
        def backward(ctx, *dys):
            call = ctx.call
            if all(d is None for d in dys):
                # No output was used: every gradient is zero, and the pullback need not run.
                return (None,) * (1 + len(call.arrays))
            dy = output_cotangent([None if d is None else _numpy(d) for d in dys], call.container)
            dargs = call.pullback(dy)[1:]  # the first is the tangent of f itself
            dxs = array_cotangents(call.skeleton, dargs)
            needed = ctx.needs_input_grad[1:]
            return None, *(
                # An input that needs no gradient leaves its cotangent a thunk, never computed.
                gradient(dx, x, device) if need else None
                for dx, x, device, need in zip(dxs, call.arrays, call.devices, needed)
            )

        @staticmethod
        def jvp(ctx, _, *dxs):
            call = ctx.call
            dxs = [ZeroTangent() if d is None else _numpy(d) for d in dxs]
            y, dy = run_frule(call.f, call.skeleton, call.arrays, dxs, call.kwargs)
            parts = output_parts(y)[0]
            device = call.devices[0] if call.devices else torch.device("cpu")
            dys = output_tangent_parts(dy, len(parts))
            return tuple(tensor(as_array(d, part), device) for d, part in zip(dys, parts))

    return RuleFunction
