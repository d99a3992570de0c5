"""The time loops of one layer, forward and backward, written once for every implementation.

The step (``nirbridge.training._layers``), with ``u = v' - th`` the surrogate's argument::

    I[t]  = P[t] + z[t-1] @ W_rec.T          P = x @ W.T + b, one matmul over all steps
    i[t]  = beta_syn * i[t-1] + I[t]         (cuba kinds; else i = I)
    v'[t] = beta_mem * v[t-1] + i[t]
    th[t] = threshold + adapt_beta * a[t-1]  (alif; else threshold)
    z[t]  = H(u[t]),  u[t] = v'[t] - th[t]
    a[t]  = adapt_rho * a[t-1] + z[t]        (alif)
    v[t]  = v'[t] - z[t] * th[t]  (subtract)  or  (1 - z[t]) * v'[t] + z[t] * v_reset  (zero)

Backward, from the last step to the first, with ``s[t] = S'(u[t])`` and the adjoints
``gv = dL/dv[t]``, ``gi = dL/di[t]``, ``ga = dL/da[t]`` carried from step t+1::

    gz     = dL/dz[t] (from the output and from I[t+1] through W_rec) + ga
             + gv * dv/dz          (reset path: -th[t] or v_reset - v'[t]; left out with
                                    detach_reset, which holds z constant in the reset)
    gv'    = gv * dv/dv' + s[t] * gz          (dv/dv' = 1, or 1 - z[t] for reset zero)
    gth    = -s[t] * gz - z[t] * gv           (alif)
    gI[t]  = gi = gv' + beta_syn * gi[t+1]    (cuba kinds; else gI = gv')
    carried to t-1:  gv = beta_mem * gv' (+ dL/dv[t-1] from outside),
                     ga = adapt_rho * ga + adapt_beta * gth,
                     dL/dz[t-1] += gI[t] @ W_rec

Weight gradients need only ``gI``: ``dW = gI^T x``, ``db = sum gI``, ``dW_rec = gI[t]^T
z[t-1]`` summed over t, each one matmul over all steps after the loop.

What is stored: the spikes (the layer's output, which autograd keeps anyway), ``u`` in the buffer
that held ``P`` (the forward writes ``u[t]`` over ``P[t]`` once it has read it), and ``th`` for
alif. The backward computes ``s`` block by block from ``u`` and writes ``gI[t]`` over ``u[t]``, so
the whole layer needs two ``(T, B, n)`` arrays beyond its input.

The loops are plain functions of tensors, flags and floats so that the same source runs eagerly,
under TorchScript (``torch.jit.script``), or with its two step functions compiled by
``torch.compile``: :func:`make_loops` closes a loop pair over the step functions it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional  # noqa: UP035  (TorchScript reads the annotations)

import torch

from ..surrogates import surrogate_derivative

#: Steps whose surrogate derivative the backward computes in one vectorised block.
BLOCK = 32


def forward_step(
    I: torch.Tensor,
    v: torch.Tensor,
    i: torch.Tensor,
    a: torch.Tensor,
    cuba: bool,
    spiking: bool,
    alif: bool,
    zero_reset: bool,
    beta_mem: float,
    beta_syn: float,
    threshold: float,
    v_reset: float,
    adapt_beta: float,
    adapt_rho: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step from the summed input ``I``: ``(out, u, th, v, i, a)``.

    ``out`` is the spike (spiking kinds) or ``v'`` (li, cubali); ``u`` and ``th`` are what the
    backward needs (equal to ``v'`` where a kind has no use for them).
    """
    if cuba:
        i = i * beta_syn + I
        drive = i
    else:
        drive = I
    vp = v * beta_mem + drive
    if not spiking:
        return vp, vp, vp, vp, i, a
    if alif:
        th = a * adapt_beta + threshold
        u = vp - th
    else:
        th = vp
        u = vp - threshold
    z = (u > 0.0).to(u.dtype)
    if alif:
        a = a * adapt_rho + z
        v = vp - z * th
    elif zero_reset:
        v = vp * (1.0 - z) + z * v_reset
    else:
        v = vp - z * threshold
    return z, u, th, v, i, a


def backward_step(
    gv: torch.Tensor,
    gz: torch.Tensor,
    gi: torch.Tensor,
    ga: torch.Tensor,
    s: torch.Tensor,
    u: torch.Tensor,
    z: torch.Tensor,
    th: torch.Tensor,
    cuba: bool,
    spiking: bool,
    alif: bool,
    zero_reset: bool,
    detach_reset: bool,
    beta_mem: float,
    beta_syn: float,
    threshold: float,
    v_reset: float,
    adapt_beta: float,
    adapt_rho: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step back: ``(gI, gv, gi, ga)``, the last three carried to the step before.

    ``gv`` is dL/dv[t] (all of it), ``gz`` dL/dz[t] from the output and the recurrence, ``gi``
    and ``ga`` what step t+1 passed back for i[t] and a[t]; ``s``, ``u``, ``z``, ``th`` are this
    step's surrogate derivative, ``v' - th``, spike and threshold (``th`` alif only).
    """
    if spiking:
        if alif:
            gz = gz + ga
        if not detach_reset:
            if zero_reset:
                gz = gz + gv * (v_reset - threshold - u)
            elif alif:
                gz = gz - gv * th
            else:
                gz = gz - gv * threshold
        sg = s * gz
        if zero_reset:
            gvp = gv - gv * z + sg
        else:
            gvp = gv + sg
        if alif:
            ga = ga * adapt_rho - (sg + z * gv) * adapt_beta
    else:
        gvp = gv
    if cuba:
        gI = gvp + gi
        gi = gI * beta_syn
    else:
        gI = gvp
    return gI, gvp * beta_mem, gi, ga


def make_loops(fstep: Callable, bstep: Callable) -> tuple[Callable, Callable]:
    """The forward and backward loops over the step functions ``fstep`` and ``bstep``."""

    def forward_loop(
        P: torch.Tensor,
        out: torch.Tensor,
        rec_t: Optional[torch.Tensor],  # noqa: UP045
        TH: Optional[torch.Tensor],  # noqa: UP045
        V: Optional[torch.Tensor],  # noqa: UP045
        cuba: bool,
        spiking: bool,
        alif: bool,
        zero_reset: bool,
        beta_mem: float,
        beta_syn: float,
        threshold: float,
        v_reset: float,
        adapt_beta: float,
        adapt_rho: float,
    ) -> None:
        """Fill ``out`` (spikes, or v for li/cubali) and, for spiking kinds, write ``u`` over
        ``P`` (and ``th`` into ``TH``, the voltage after reset into ``V`` where given).
        ``rec_t`` is ``W_rec.T``."""
        v = torch.zeros_like(P[0])
        i = torch.zeros_like(v)
        a = torch.zeros_like(v)
        for t in range(P.shape[0]):
            I = P[t]
            if rec_t is not None and t > 0:
                I = torch.addmm(I, out[t - 1], rec_t)
            o, u, th, v, i, a = fstep(
                I,
                v,
                i,
                a,
                cuba,
                spiking,
                alif,
                zero_reset,
                beta_mem,
                beta_syn,
                threshold,
                v_reset,
                adapt_beta,
                adapt_rho,
            )
            out[t] = o
            if spiking:
                P[t] = u
            if TH is not None:
                TH[t] = th
            if V is not None:
                V[t] = v

    def backward_loop(
        U: torch.Tensor,
        out: torch.Tensor,
        g_out: torch.Tensor,
        g_v: Optional[torch.Tensor],  # noqa: UP045
        rec: Optional[torch.Tensor],  # noqa: UP045
        TH: Optional[torch.Tensor],  # noqa: UP045
        cuba: bool,
        spiking: bool,
        alif: bool,
        zero_reset: bool,
        detach_reset: bool,
        beta_mem: float,
        beta_syn: float,
        threshold: float,
        v_reset: float,
        adapt_beta: float,
        adapt_rho: float,
        code: int,
        p1: float,
        p2: float,
        block: int,
    ) -> torch.Tensor:
        """``gI`` for every step, written over ``U`` (spiking kinds; li/cubali get a new
        array). ``g_out`` is dL/dout, ``g_v`` dL/dv (voltage after reset) where given, ``rec``
        is ``W_rec``; ``block`` steps get their surrogate derivative in one go."""
        steps = g_out.shape[0]
        G = U if spiking else torch.empty_like(g_out)
        gv = torch.zeros_like(g_out[0])
        gi = torch.zeros_like(gv)
        ga = torch.zeros_like(gv)
        gz_rec = torch.zeros_like(gv)
        zero = gv
        for end in range(steps, 0, -block):
            start = max(end - block, 0)
            S = U
            if spiking:
                S = surrogate_derivative(U[start:end], code, p1, p2)
            for t in range(end - 1, start - 1, -1):
                s = zero
                z = zero
                u = zero
                th = zero
                gz = gz_rec
                if spiking:
                    s = S[t - start]
                    z = out[t]
                    u = U[t]
                    gz = g_out[t] + gz_rec
                else:
                    gv = gv + g_out[t]
                if g_v is not None:
                    gv = gv + g_v[t]
                if TH is not None:
                    th = TH[t]
                gI, gv, gi, ga = bstep(
                    gv,
                    gz,
                    gi,
                    ga,
                    s,
                    u,
                    z,
                    th,
                    cuba,
                    spiking,
                    alif,
                    zero_reset,
                    detach_reset,
                    beta_mem,
                    beta_syn,
                    threshold,
                    v_reset,
                    adapt_beta,
                    adapt_rho,
                )
                G[t] = gI
                if rec is not None and t > 0:
                    gz_rec = torch.mm(gI, rec)
        return G

    return forward_loop, backward_loop


__all__ = ["BLOCK", "backward_step", "forward_step", "make_loops"]
