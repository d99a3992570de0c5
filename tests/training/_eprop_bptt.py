"""Backpropagation through time for the e-prop network, by torch autograd, as the peer of
e-prop's gradients (Bellec et al. 2020: without recurrent weights e-prop is the exact gradient).

The forward is written out here, independently of nirbridge.training.eprop, in the form NEST's
models have (docs/eprop.md). The spike's derivative is NEST's pseudo-derivative psi and the
reset is detached: e-prop's eligibility traces follow the membrane and the adaptation, never
the reset. What remains is the exact gradient of

- ``online``: ``0.5 * sum_t sum_k (lw[t] * (y[t] - target[t]))**2``;
- ``bsshslm_2020``: the same (or the cross entropy of ``softmax(y[t])``) summed over the
  learning window, which NEST's filter ``(1 - kappa) * ebar`` scales by ``1 - kappa`` for the
  hidden synapses (the readout's ``kappa`` is its decay ``P_out``).
"""

from __future__ import annotations

import torch


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, d: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(psi)
        return (d >= 0).to(d.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (psi,) = ctx.saved_tensors
        return grad * psi, None


def _psi(function: str, height: float, width: float, d: torch.Tensor) -> torch.Tensor:
    if function == "piecewise_linear":
        return height * torch.clamp(1.0 - d.abs() / width, min=0.0)
    if function == "exponential":
        return height * torch.exp(-d.abs() / width)
    if function == "fast_sigmoid_derivative":
        return height * (1.0 + d.abs() / width) ** -2
    return height / (1.0 + (d / width) ** 2)


def bptt_loss(setup, w_in, w_out, x, target, mask=None):
    """The loss of the network without recurrent weights, differentiable in w_in and w_out."""
    s = setup
    sur = s.surrogate
    steps, batch, _ = x.shape
    n_hid, n_out = w_in.shape[0], w_out.shape[0]
    v = torch.zeros(batch, n_hid, dtype=x.dtype)
    z = torch.zeros_like(v)
    a = torch.zeros_like(v)
    y = torch.zeros(batch, n_out, dtype=x.dtype)
    loss = torch.zeros((), dtype=x.dtype)
    for t in range(steps):
        z_in = x[t] @ w_in.T
        if s.online:
            v = z_in + s.decay * v
        else:
            if t == 0:
                z_in = z_in * 0.0  # NEST drops a trial's first-step arrivals
            v = z_in + s.decay * v - s.threshold * z.detach()
        thr = s.threshold
        if s.alif:
            a = s.adapt_decay * a + z
            thr = s.threshold + s.adapt_beta * a
        d = v - thr
        z = _Spike.apply(d, _psi(sur.function, sur.height, sur.width, d.detach()))
        if s.online:
            v = v - s.threshold * z.detach()
        y = z @ w_out.T + s.decay_out * y
        if s.online:
            lw = 1.0 if mask is None else mask[t]
            e = lw * (y - target[t])
            loss = loss + 0.5 * (e * e).sum()
        elif t >= steps - s.window:
            if s.cross_entropy:
                loss = loss - (target[t] * torch.log_softmax(y, dim=-1)).sum()
            else:
                e = y - target[t]
                loss = loss + 0.5 * (e * e).sum()
    return loss / batch
