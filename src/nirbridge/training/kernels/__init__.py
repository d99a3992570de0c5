"""Fused time-loop kernels: one layer over all time steps, forward and hand-written backward.

:func:`run_layer` runs a layer of any kind of :mod:`nirbridge.training._layers` (lif, cubalif,
alif, li, cubali), feed-forward or recurrent, and backpropagates through time with the
surrogate derivative of :mod:`nirbridge.training.surrogates`. The equations, the backward
derivation and what is stored are in :mod:`._loops` and docs/training-kernels.md.

Implementations (``impl``): ``"native"`` (C, by spike events), ``"script"`` (TorchScript),
``"eager"``, ``"compile"`` (``torch.compile``); ``"auto"`` picks :func:`default_impl`, the
fastest measured that runs here.
"""

from __future__ import annotations

from typing import Any

import torch

from ..._errors import UnsupportedError
from .._layers import LayerParams
from ..surrogates import surrogate_from_rule
from ._function import LayerFunction
from ._impls import IMPLS, available, default
from ._native import supports as native_supports


def _check(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    rec_weight: torch.Tensor | None,
    params: LayerParams,
    impl: str,
) -> None:
    def bad(name: str, expected: str, got: object) -> UnsupportedError:
        where = f"run_layer ({getattr(params, 'kind', '?')}), {name}"
        return UnsupportedError(f"{where}: expected {expected}, got {got}")

    if impl not in ("auto", *IMPLS):
        raise bad("impl", f"one of {('auto', *IMPLS)}", repr(impl))
    if not available(impl):
        raise bad("impl", "an implementation that runs here (native needs a C compiler)", impl)
    if not isinstance(params, LayerParams):
        raise bad("params", "a LayerParams", type(params).__name__)
    if x.dim() != 3:
        raise bad("x", "shape (steps, batch, n_in)", tuple(x.shape))
    if not x.is_floating_point():
        raise bad("x", "a floating-point tensor", x.dtype)
    n_in = x.shape[2]
    if weight.dim() != 2 or weight.shape[1] != n_in:
        raise bad("weight", f"shape (n_out, {n_in})", tuple(weight.shape))
    n = weight.shape[0]
    tensors = {"weight": weight, "bias": bias, "rec_weight": rec_weight}
    for name, tensor in tensors.items():
        if tensor is not None and (tensor.dtype != x.dtype or tensor.device != x.device):
            raise bad(name, f"{x.dtype} on {x.device} (as x)", f"{tensor.dtype} on {tensor.device}")
    if bias is not None and tuple(bias.shape) != (n,):
        raise bad("bias", f"shape ({n},)", tuple(bias.shape))
    if rec_weight is not None:
        if not params.spiking:
            raise bad("rec_weight", f"None ({params.kind} does not spike)", "a tensor")
        if tuple(rec_weight.shape) != (n, n):
            raise bad("rec_weight", f"shape ({n}, {n})", tuple(rec_weight.shape))


def run_layer(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    rec_weight: torch.Tensor | None,
    params: LayerParams,
    surrogate: Any = None,
    *,
    detach_reset: bool = False,
    return_voltage: bool = False,
    impl: str = "auto",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run one layer over all time steps.

    Args:
        x: Input ``(T, B, n_in)``, float32 or float64.
        weight: ``(n_out, n_in)``.
        bias: ``(n_out,)`` or None.
        rec_weight: ``(n_out, n_out)`` acting on the layer's spikes of the step before, or None.
        params: The layer's constants (kind, dt, time constants, threshold, reset).
        surrogate: A :class:`~nirbridge.training.surrogates.SurrogateFunction` or a schema
            :class:`nirbridge.learning.Surrogate`; may be None for li/cubali or when no
            gradient is needed.
        detach_reset: Treat the reset as a constant in the backward pass (snnTorch's
            reset detaching); False: the full derivative, reset path included.
        return_voltage: Also return the voltage after reset, ``(T, B, n_out)``, differentiable.
        impl: "auto", "native", "script", "eager" or "compile".

    Returns:
        ``(T, B, n_out)``: spikes (lif, cubalif, alif) or the voltage (li, cubali); with
        ``return_voltage``, the pair ``(output, voltage)``.
    """
    _check(x, weight, bias, rec_weight, params, impl)
    if impl == "auto":
        impl = default() if native_supports(x) else "script"
    elif impl == "native" and not native_supports(x):
        raise UnsupportedError(
            f"run_layer ({params.kind}), impl: 'native' runs float32/float64 on the CPU, "
            f"got {x.dtype} on {x.device}"
        )
    code = (0, 1.0, 0.0)  # never read: no backward, or a kind without spikes
    if surrogate is not None:
        fn = surrogate_from_rule(surrogate)
        code = (fn.code, fn.p1, fn.p2)
    elif params.spiking and torch.is_grad_enabled():
        wanted = [t for t in (x, weight, bias, rec_weight) if t is not None and t.requires_grad]
        if wanted:
            raise UnsupportedError(
                f"run_layer ({params.kind}): a gradient is wanted, so a surrogate is needed: "
                "expected a SurrogateFunction or a nirbridge.learning.Surrogate, got None"
            )
    out, voltage = LayerFunction.apply(
        x.contiguous(),
        weight,
        bias,
        rec_weight,
        params,
        code,
        bool(detach_reset),
        bool(return_voltage),
        impl,
    )
    if not return_voltage:
        return out
    return out, (voltage if params.spiking else out)


def default_impl() -> str:
    """What ``impl="auto"`` runs for float32/float64 CPU tensors."""
    return default()


__all__ = ["IMPLS", "available", "default_impl", "run_layer"]
