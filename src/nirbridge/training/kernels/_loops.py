"""The time loops of one layer, forward and backward, written once for every implementation.

The step (``nirbridge.training._layers``), with ``u = v' - th`` the surrogate's argument::

    I[t]  = P[t] + z[t-1] @ W_rec.T          P = x @ W.T + b, one matmul over all steps
    i[t]  = beta_syn * i[t-1] + I[t]         (cuba kinds; else i = I)
    v'[t] = beta_mem * v[t-1] + i[t]
    th[t] = threshold + adapt_beta * a[t-1]  (alif; else threshold)
    z[t]  = H(u[t]),  u[t] = v'[t] - th[t]
    a[t]  = adapt_rho * a[t-1] + z[t]        (alif)
    v[t]  = v'[t] - z[t] * threshold  (subtract; alif too: the base threshold, as NEST)
         or (1 - z[t]) * v'[t] + z[t] * v_reset  (zero)

Backward, from the last step to the first, with ``s[t] = S'(u[t])`` and the adjoints
``gv = dL/dv[t]``, ``gi = dL/di[t]``, ``ga = dL/da[t]`` carried from step t+1::

    gz     = dL/dz[t] (from the output and from I[t+1] through W_rec) + ga
             + gv * dv/dz          (reset path: -threshold or v_reset - v'[t]; left out
                                    with detach_reset, which holds z constant in the reset)
    gv'    = gv * dv/dv' + s[t] * gz          (dv/dv' = 1, or 1 - z[t] for reset zero)
    gth    = -s[t] * gz                       (alif: th[t] enters only through u[t], since
                                               the reset subtracts the base threshold)
    gI[t]  = gi = gv' + beta_syn * gi[t+1]    (cuba kinds; else gI = gv')
    carried to t-1:  gv = beta_mem * gv' (+ dL/dv[t-1] from outside),
                     ga = adapt_rho * ga + adapt_beta * gth,
                     dL/dz[t-1] += gI[t] @ W_rec

Weight gradients need only ``gI``: ``dW = gI^T x``, ``db = sum gI``, ``dW_rec = gI[t]^T
z[t-1]`` summed over t, each one matmul over all steps after the loop.

What is stored: the spikes (the layer's output, which autograd keeps anyway) and ``u`` in the
buffer that held ``P`` (the forward writes ``u[t]`` over ``P[t]`` once it has read it); alif's
moving threshold is not needed backward (the reset subtracts the base threshold, and ``u``
holds what the surrogate needs). The backward computes ``s`` block by block from ``u`` and
writes ``gI[t]`` over ``u[t]``, so the whole layer needs two ``(T, B, n)`` arrays beyond its
input.

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
    z_prev: Optional[torch.Tensor],  # noqa: UP045
    rec_t: Optional[torch.Tensor],  # noqa: UP045
    o: Optional[torch.Tensor],  # noqa: UP045
    th: Optional[torch.Tensor],  # noqa: UP045
    v_after: Optional[torch.Tensor],  # noqa: UP045
    v: torch.Tensor,
    i: torch.Tensor,
    a: torch.Tensor,
    v_reset_t: torch.Tensor,
    cuba: bool,
    spiking: bool,
    alif: bool,
    zero_reset: bool,
    beta_mem: float,
    beta_syn: float,
    threshold: float,
    adapt_beta: float,
    adapt_rho: float,
) -> None:
    """One step, in place: ``I`` (this step's projected input) becomes ``u`` (or ``v'`` for
    li/cubali); ``o`` gets the spike (spiking kinds), ``th`` (a scratch array, alif) the
    threshold, ``v_after`` the voltage after reset (where asked); the state ``v``, ``i``, ``a``
    advances.
    ``z_prev @ rec_t`` is the recurrent input (``rec_t = W_rec.T``), ``v_reset_t`` the reset
    voltage as a 0-d tensor."""
    if rec_t is not None and z_prev is not None:
        I.addmm_(z_prev, rec_t)
    if cuba:
        i.mul_(beta_syn).add_(I)
        v.mul_(beta_mem).add_(i)
    else:
        v.mul_(beta_mem).add_(I)
    if not spiking:
        I.copy_(v)
        return
    if alif and th is not None:
        torch.mul(a, adapt_beta, out=th).add_(threshold)
        torch.sub(v, th, out=I)
    else:
        torch.sub(v, threshold, out=I)
    assert o is not None
    torch.gt(I, 0.0, out=o)
    if alif:
        a.mul_(adapt_rho).add_(o)
    if zero_reset:
        v.lerp_(v_reset_t, o)  # exactly v_reset where o = 1, v' where o = 0
    else:
        v.sub_(o, alpha=threshold)
    if v_after is not None:
        v_after.copy_(v)


def backward_step(
    G: torch.Tensor,
    s: torch.Tensor,
    z: torch.Tensor,
    g_out: torch.Tensor,
    g_v: Optional[torch.Tensor],  # noqa: UP045
    rec: Optional[torch.Tensor],  # noqa: UP045
    gv: torch.Tensor,
    gz: torch.Tensor,
    gi: torch.Tensor,
    ga: torch.Tensor,
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
) -> None:
    """One step back, in place. On entry ``G`` holds ``u[t]`` (spiking kinds), ``gv`` dL/dv[t]
    carried from step t+1, ``gz`` dL/dz[t] through the recurrence, ``gi`` and ``ga`` what step
    t+1 passed back for i[t] and a[t]. On exit ``G`` holds ``gI[t]``, and ``gv``, ``gz``,
    ``gi``, ``ga`` what step t-1 needs (``gz = gI[t] @ rec``, with ``rec = W_rec``).
    ``s``, ``z`` are this step's surrogate derivative and spike."""
    if g_v is not None:
        gv.add_(g_v)
    if spiking:
        gz.add_(g_out)
        if alif:
            gz.add_(ga)
        if not detach_reset:
            if zero_reset:  # dv/dz = v_reset - v' = v_reset - threshold - u
                gz.addcmul_(gv, torch.sub(v_reset - threshold, G))
            else:  # dv/dz = -threshold (alif too)
                gz.add_(gv, alpha=-threshold)
        gz.mul_(s)  # s * dL/dz: what reaches v' through the spike
        if alif:  # gth = -(s * gz)
            ga.mul_(adapt_rho).add_(gz, alpha=-adapt_beta)
        if zero_reset:
            gv.mul_(1.0 - z)  # exactly 0 where z = 1, gv where z = 0
        gv.add_(gz)
    else:
        gv.add_(g_out)
    # gv now holds gv' = dL/dv'[t]
    if cuba:
        gi.add_(gv)
        G.copy_(gi)
        gi.mul_(beta_syn)
    else:
        G.copy_(gv)
    gv.mul_(beta_mem)
    if rec is not None:
        torch.mm(G, rec, out=gz)
    elif spiking:
        gz.zero_()


def make_loops(fstep: Callable, bstep: Callable) -> tuple[Callable, Callable]:
    """The forward and backward loops over the step functions ``fstep`` and ``bstep``."""

    def forward_loop(
        P: torch.Tensor,
        out: torch.Tensor,
        rec_t: Optional[torch.Tensor],  # noqa: UP045
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
        """Fill ``out`` (spikes, or v for li/cubali, where ``out`` may be ``P``), write ``u``
        over ``P`` (spiking kinds) and the voltage after reset into ``V`` where given.
        ``rec_t`` is ``W_rec.T``."""
        v = torch.zeros_like(P[0])
        i = torch.zeros_like(v)
        a = torch.zeros_like(v)
        th: Optional[torch.Tensor] = None  # noqa: UP045
        if alif:
            th = torch.empty_like(v)
        v_reset_t = torch.full((), v_reset, dtype=v.dtype, device=v.device)
        for t in range(P.shape[0]):
            z_prev: Optional[torch.Tensor] = None  # noqa: UP045
            o: Optional[torch.Tensor] = None  # noqa: UP045
            if spiking:  # (li/cubali: out is P, and the step writes v' over P[t])
                o = out[t]
                if t > 0 and rec_t is not None:
                    z_prev = out[t - 1]
            v_after: Optional[torch.Tensor] = None  # noqa: UP045
            if V is not None:
                v_after = V[t]
            fstep(
                P[t],
                z_prev,
                rec_t,
                o,
                th,
                v_after,
                v,
                i,
                a,
                v_reset_t,
                cuba,
                spiking,
                alif,
                zero_reset,
                beta_mem,
                beta_syn,
                threshold,
                adapt_beta,
                adapt_rho,
            )

    def backward_loop(
        U: torch.Tensor,
        out: torch.Tensor,
        g_out: torch.Tensor,
        g_v: Optional[torch.Tensor],  # noqa: UP045
        rec: Optional[torch.Tensor],  # noqa: UP045
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
        gz = torch.zeros_like(gv)
        gi = torch.zeros_like(gv)
        ga = torch.zeros_like(gv)
        for end in range(steps, 0, -block):
            start = max(end - block, 0)
            S = gv
            if spiking:
                S = surrogate_derivative(U[start:end], code, p1, p2)
            for t in range(end - 1, start - 1, -1):
                s = gv
                z = gv
                if spiking:
                    s = S[t - start]
                    z = out[t]
                g_v_t: Optional[torch.Tensor] = None  # noqa: UP045
                if g_v is not None:
                    g_v_t = g_v[t]
                rec_t: Optional[torch.Tensor] = None  # noqa: UP045
                if t > 0:
                    rec_t = rec
                bstep(
                    G[t],
                    s,
                    z,
                    g_out[t],
                    g_v_t,
                    rec_t,
                    gv,
                    gz,
                    gi,
                    ga,
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
        return G

    return forward_loop, backward_loop


__all__ = ["BLOCK", "backward_step", "forward_step", "make_loops"]
