"""A plain eager implementation of the layer step, differentiated by torch autograd.

It writes the equations of ``nirbridge.training._layers`` as directly as possible, one step at a
time, with the spike as ``SurrogateFunction.spike`` (a Heaviside step whose backward multiplies
by the surrogate derivative). The kernels' hand-written backward must reproduce what autograd
computes through this.
"""

from __future__ import annotations

import torch

from nirbridge.training import LayerParams


def reference_layer(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    rec_weight: torch.Tensor | None,
    p: LayerParams,
    surrogate,
    *,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(output, voltage after reset)``, each ``(T, B, n_out)``."""
    steps, batch, _ = x.shape
    n = weight.shape[0]
    zeros = x.new_zeros(batch, n)
    v, i, a, z = zeros, zeros, zeros, zeros
    outs, volts = [], []
    for t in range(steps):
        current = x[t] @ weight.T
        if bias is not None:
            current = current + bias
        if rec_weight is not None:
            current = current + z @ rec_weight.T
        if p.kind in ("cubalif", "cubali"):
            i = p.beta_syn * i + current
        else:
            i = current
        v_pre = p.beta_mem * v + i
        if not p.spiking:
            v = v_pre
            outs.append(v)
            volts.append(v)
            continue
        th = p.threshold + p.adapt_beta * a if p.kind == "alif" else p.threshold
        z = surrogate.spike(v_pre - th)
        if p.kind == "alif":
            a = p.adapt_rho * a + z
        z_reset = z.detach() if detach_reset else z
        if p.reset == "subtract":  # alif too: the base threshold (NEST's eprop_iaf_adapt)
            v = v_pre - z_reset * p.threshold
        else:
            v = (1 - z_reset) * v_pre + z_reset * p.v_reset
        outs.append(z)
        volts.append(v)
    return torch.stack(outs), torch.stack(volts)
