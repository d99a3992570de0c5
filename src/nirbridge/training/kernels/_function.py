"""The autograd function around the loops: projection, loop, hand-written backward."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from .._layers import LayerParams
from ._impls import kernels
from ._memory import buffer


def constants(params: LayerParams) -> dict[str, Any]:
    """The flags and floats the loops take, from a layer's parameters."""
    return {
        "cuba": params.kind in ("cubalif", "cubali"),
        "spiking": params.spiking,
        "alif": params.kind == "alif",
        "zero_reset": params.spiking and params.reset == "zero",
        "beta_mem": params.beta_mem,
        "beta_syn": params.beta_syn,
        "threshold": float(params.threshold),
        "v_reset": float(params.v_reset),
        "adapt_beta": float(params.adapt_beta),
        "adapt_rho": params.adapt_rho,
    }


class LayerFunction(torch.autograd.Function):
    """``(out, v)`` of one layer: ``out`` its spikes (or voltage for li/cubali), ``v`` the
    voltage after reset when asked for (else an empty tensor)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        rec_weight: torch.Tensor | None,
        params: LayerParams,
        surrogate: tuple[int, float, float],
        detach_reset: bool,
        return_voltage: bool,
        impl: str,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        steps, batch, n_in = x.shape
        n = weight.shape[0]
        impl_kernels = kernels(impl)
        P = impl_kernels.project(x.reshape(steps * batch, n_in), weight, bias)
        P = P.view(steps, batch, n)
        consts = constants(params)
        spiking = consts["spiking"]
        shape, dtype = tuple(P.shape), P.dtype
        out = buffer(shape, dtype, P.device) if spiking else P
        V = buffer(shape, dtype, P.device) if return_voltage and spiking else None
        rec_t = None if rec_weight is None else rec_weight.t()
        impl_kernels.forward_loop(P, out, rec_t, V, **consts)
        ctx.save_for_backward(x, weight, rec_weight, out if spiking else None)
        ctx.U = P if spiking else None
        ctx.consts = consts
        ctx.surrogate = surrogate
        ctx.detach_reset = detach_reset
        ctx.impl = impl
        ctx.has_bias = bias is not None
        ctx.set_materialize_grads(False)
        if V is None:
            V = out.new_empty(0) if spiking else out
        if not spiking:
            # out and V are one tensor for li/cubali: the voltage
            return out, V.new_empty(0)
        return out, V

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g_out: torch.Tensor | None, g_v: torch.Tensor | None) -> tuple[Any, ...]:
        # detached: the loops only read them (and torch.compile traces plain tensors)
        x, weight, rec_weight, out = (None if t is None else t.detach() for t in ctx.saved_tensors)
        if ctx.U is None and ctx.consts["spiking"]:
            raise RuntimeError(
                "run_layer: its backward reuses the forward's buffers, so it runs once per "
                "forward (retain_graph=True with a second backward is not supported)"
            )
        steps, batch, n_in = x.shape
        n = weight.shape[0]
        if g_out is None:
            g_out = x.new_zeros(n).expand(steps, batch, n)
        if g_v is not None and g_v.numel() == 0:
            g_v = None
        U = ctx.U
        ctx.U = None
        if U is None:  # li / cubali: the loop allocates its own gI array
            U = g_out.new_empty(0)
            out = g_out
        code, p1, p2 = ctx.surrogate
        need = ctx.needs_input_grad
        G, gw, grec = kernels(ctx.impl).backward(
            U,
            out,
            g_out,  # may be an expanded (stride-0) view: read per step, never copied
            g_v,
            rec_weight,
            x,
            need[1],
            rec_weight is not None and need[3],
            detach_reset=ctx.detach_reset,
            code=code,
            p1=p1,
            p2=p2,
            **ctx.consts,
        )
        flat_g = G.view(steps * batch, n)
        gx = gb = None
        if need[0]:
            gx = torch.mm(flat_g, weight, out=buffer((steps * batch, n_in), G.dtype, G.device))
            gx = gx.view(steps, batch, n_in)
        if ctx.has_bias and need[2]:
            gb = flat_g.sum(0)
        return gx, gw, gb, grec, None, None, None, None, None
