"""NEST's ``online`` e-prop (``eprop_iaf``, ``eprop_iaf_adapt``, ``eprop_readout``,
``eprop_synapse``), stepped densely in time with NEST's event-driven results.

NEST updates a synapse when its presynaptic neuron spikes: the synapse then integrates the
e-prop gradient over the postsynaptic neuron's history since the previous spike (up to the
``isi_trace_cutoff``) and calls its optimizer once per history step (``optimize_each_step``) or
once for the sum. A spike with time stamp ``s`` (arriving at the target in step ``s``) is sent
with the weight that has taken in the history up to step ``s - 2``. Computing every history
entry two steps after it was written, and calling the optimizer where NEST calls it, gives the
weights NEST transmits with, step by step: this engine does that for all synapses at once.

Per step ``t`` (our steps count from 1; NEST's hidden neurons are one step and the readout two
steps later with the input generators of NEST's examples, which only matters for optimizer
batches), with ``P`` the decays, ``V_th`` the threshold and ``z_in`` the summed weights of the
spikes arriving in step ``t`` (input ``x[t]``, hidden spikes ``z[t-1]``)::

    v'[t] = z_in[t] + P * v[t-1]                         (pre-reset voltage)
    a[t]  = rho * a[t-1] + z[t-1]                        (ALIF; threshold V_th + beta * a[t])
    psi[t] = surrogate(v'[t] - threshold[t])
    z[t]  = v'[t] >= threshold[t];   v[t] = v'[t] - V_th * z[t]   (subtracts the base V_th)
    f[t]  = kappa_reg * f[t-1] + (1 - kappa_reg) * z[t] / dt_ms      (NEST's units: ms)
    r[t]  = c_reg * (f[t] - f_target * dt_ms)
    y[t]  = z[t] @ W_out.T + P_out * y[t-1];   E[t] = lw[t] * (y[t] - target[t])
    L[t]  = E[t] @ B.T                                   (B static: NEST's feedback connections)

and, for a synapse ``i -> j`` whose presynaptic spikes arrive as ``s[t]``::

    zbar[t] = P_post * zbar[t-1] + s[t]
    e[t]    = psi_j[t] * (zbar[t] - beta * eps[t-1]);  eps[t] = rho * eps[t-1] + e[t]   (ALIF)
    ebar[t] = kappa * ebar[t-1] + e[t]
    ebar_reg[t] = kappa_reg * ebar_reg[t-1] + (1 - kappa_reg) * e[t]
    g[t]    = L_j[t] * ebar[t] + r_j[t] * ebar_reg[t]        (readout synapses: E_k[t] * zbar[t])

Entry ``t`` counts only inside the cutoff window of the latest presynaptic spike arriving by step
``t + 1`` (the window of a spike arriving at ``tau`` is ``[tau - 1, tau - 2 + cutoff]``);
outside it the traces only decay. Several streams (the batch) share the weights: their
increments are averaged; with one stream this is NEST exactly.
"""

from __future__ import annotations

import dataclasses

import torch

from ._optimizer import NestOptimizer
from ._setup import EPropSetup


@dataclasses.dataclass
class _Entry:
    """What step ``t`` leaves for the synapses: the history entry and the arrivals."""

    psi: torch.Tensor  # (B, H)
    learning_signal: torch.Tensor  # (B, H)
    rate_reg: torch.Tensor  # (B, H)
    error: torch.Tensor  # (B, O)
    arrivals: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # input, recurrent, readout


class _Projection:
    """The e-prop synapses of one weight matrix ``(n_post, n_pre)`` and their traces."""

    def __init__(
        self,
        setup: EPropSetup,
        weight: torch.Tensor,
        streams: int,
        *,
        readout: bool,
        optimizer: NestOptimizer | None,
        frozen: torch.Tensor | None = None,
    ):
        self.s = setup
        self.weight = weight
        self.readout = readout
        self.decay = setup.decay_out if readout else setup.decay
        n_post, n_pre = weight.shape
        zeros = dict(dtype=weight.dtype, device=weight.device)
        self.zbar = torch.zeros(streams, n_pre, **zeros)
        self.win_start = torch.zeros(streams, n_pre, dtype=torch.long, device=weight.device)
        self.started = torch.zeros(streams, n_pre, dtype=torch.bool, device=weight.device)
        self.seen = torch.zeros(streams, n_pre, dtype=torch.bool, device=weight.device)
        if not readout:
            self.ebar = torch.zeros(streams, n_post, n_pre, **zeros)
            self.ebar_reg = torch.zeros_like(self.ebar)
            self.eps = torch.zeros_like(self.ebar) if setup.alif else None
        self.acc = (
            None if setup.optimize_each_step else torch.zeros(streams, n_post, n_pre, **zeros)
        )
        self.total = torch.zeros_like(weight)
        self.frozen = frozen
        self.optimizer = optimizer
        # NEST's optimizer index of entry h: the history step (hidden h + 1, readout h + 2) + 1
        self.idx_offset = 3 if readout else 2

    def process(self, h: int, entry: _Entry, now: torch.Tensor, nxt: torch.Tensor) -> None:
        """History entry ``h``: arrivals ``now`` (in step h) and ``nxt`` (in step h + 1)."""
        s = self.s
        spike_next = nxt != 0
        self.win_start = torch.where(spike_next, h, self.win_start)
        self.started |= spike_next
        window = self.started
        if s.cutoff is not None:
            window = window & (h - self.win_start < s.cutoff)
        self.zbar = self.decay * self.zbar + now
        mask = window[:, None, :].to(self.zbar.dtype)
        if self.readout:
            g = entry.error[:, :, None] * self.zbar[:, None, :] * mask
        else:
            psi = entry.psi[:, :, None]
            if self.eps is not None:
                e = psi * (self.zbar[:, None, :] - s.adapt_beta * self.eps) * mask
                self.eps = s.adapt_decay * self.eps + e
            else:
                e = psi * self.zbar[:, None, :] * mask
            self.ebar = s.kappa * self.ebar + e
            self.ebar_reg = s.kappa_reg * self.ebar_reg + (1.0 - s.kappa_reg) * e
            g = (
                entry.learning_signal[:, :, None] * self.ebar
                + entry.rate_reg[:, :, None] * self.ebar_reg
            ) * mask
        if self.frozen is not None:
            g = g.masked_fill(self.frozen, 0.0)
        self.total += g.mean(0)
        if self.optimizer is None:
            return
        if self.acc is None:
            self.optimizer.call(window.any(0), h + self.idx_offset, g.mean(0))
        else:
            self.acc += g

    def on_spikes(self, t: int, arrivals: torch.Tensor) -> None:
        """``optimize_each_step=False``: presynaptic spikes arriving in step ``t`` apply the
        gradient summed since the previous spike (NEST skips a neuron's first spike)."""
        if self.acc is None or self.optimizer is None:
            return
        spike = arrivals != 0
        fire = spike & self.seen
        self.seen |= spike
        if not bool(fire.any()):
            return
        m = fire[:, None, :]
        grad = torch.where(m, self.acc, 0.0).sum(0) / self.acc.shape[0]
        self.optimizer.call(fire.any(0), t + self.idx_offset - 2, grad)
        self.acc = torch.where(m, 0.0, self.acc)


class OnlineEngine:
    """The network and its synapses, stepping ``streams`` input streams in lockstep.

    ``optimizers`` (one per weight matrix, or None) change the weights in place; the engine
    also sums the gradient (:attr:`gradients`). ``start``: steps already run before (NEST's
    optimizer batches count absolute time steps).
    """

    def __init__(
        self,
        setup: EPropSetup,
        weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        feedback: torch.Tensor,
        streams: int,
        *,
        optimizers: tuple[NestOptimizer, NestOptimizer, NestOptimizer] | None,
        frozen_rec: torch.Tensor | None,
        start: int = 0,
    ):
        self.s = setup
        w_in, w_rec, w_out = weights
        self.w_in, self.w_rec, self.w_out, self.feedback = w_in, w_rec, w_out, feedback
        n_hid, n_out = w_in.shape[0], w_out.shape[0]
        zeros = dict(dtype=w_in.dtype, device=w_in.device)
        self.v = torch.zeros(streams, n_hid, **zeros)
        self.z = torch.zeros(streams, n_hid, **zeros)
        self.a = torch.zeros(streams, n_hid, **zeros)
        self.rate = torch.zeros(streams, n_hid, **zeros)
        self.y = torch.zeros(streams, n_out, **zeros)
        opt_in, opt_rec, opt_out = (None, None, None) if optimizers is None else optimizers
        self.projections = (
            _Projection(setup, w_in, streams, readout=False, optimizer=opt_in),
            _Projection(setup, w_rec, streams, readout=False, optimizer=opt_rec, frozen=frozen_rec),
            _Projection(setup, w_out, streams, readout=True, optimizer=opt_out),
        )
        self.start = self.t = start  # steps done (NEST's time continues across engines)
        # entry 0: the state before the first step, which a spike arriving in step 1 opens
        # its window with (NEST integrates from one step before the spike)
        rest = torch.zeros_like(self.v)
        self.entries = {
            start: _Entry(
                rest, rest, rest, self.y, (w_in.new_zeros(streams, w_in.shape[1]), rest, rest)
            )
        }

    @property
    def gradients(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Summed gradient of (W_in, W_rec, W_out) over the entries processed so far."""
        return tuple(p.total for p in self.projections)  # type: ignore[return-value]

    def _process(self, h: int, nxt: tuple[torch.Tensor, ...] | None) -> None:
        entry = self.entries.pop(h)
        for k, proj in enumerate(self.projections):
            now = entry.arrivals[k]
            proj.process(h, entry, now, torch.zeros_like(now) if nxt is None else nxt[k])

    def step(
        self, x: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step: input ``x`` (B, n_in), target and learning window (B, n_out).

        Returns the hidden spikes, the readout and its error signal."""
        s = self.s
        t = self.t = self.t + 1
        if t >= self.start + 2:
            self._process(t - 2, self.entries[t - 1].arrivals)
        p_in, p_rec, p_out = self.projections
        z_prev = self.z
        p_in.on_spikes(t, x)
        p_rec.on_spikes(t, z_prev)
        v = (x @ self.w_in.T + z_prev @ self.w_rec.T) + s.decay * self.v
        threshold: torch.Tensor | float = s.threshold
        if s.alif:
            self.a = s.adapt_decay * self.a + z_prev
            threshold = s.threshold + s.adapt_beta * self.a
        psi = s.surrogate(v, threshold)
        z = (v >= threshold).to(v.dtype)
        self.v = v - s.threshold * z
        self.z = z
        self.rate = s.kappa_reg * self.rate + (1.0 - s.kappa_reg) * z / s.dt_ms
        rate_reg = s.c_reg * (self.rate - s.f_target_ms * s.dt_ms)
        p_out.on_spikes(t, z)
        self.y = z @ self.w_out.T + s.decay_out * self.y
        error = (self.y - target) * mask
        learning_signal = error @ self.feedback.T
        self.entries[t] = _Entry(psi, learning_signal, rate_reg, error, (x, z_prev, z))
        return z, self.y, error

    def finish(self) -> None:
        """Process the two pending history entries as if no spike followed (pure gradients)."""
        for h in sorted(self.entries):
            nxt = self.entries.get(h + 1)
            self._process(h, None if nxt is None else nxt.arrivals)


def simulate(
    setup: EPropSetup, weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor], x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The network alone, from rest, with fixed weights: hidden spikes and readout (T, B, n),
    the same float operations as :meth:`OnlineEngine.step`."""
    s = setup
    w_in, w_rec, w_out = weights
    batch = x.shape[1]
    v = x.new_zeros(batch, w_in.shape[0])
    z, a = torch.zeros_like(v), torch.zeros_like(v)
    y = x.new_zeros(batch, w_out.shape[0])
    zs, ys = [], []
    for t in range(x.shape[0]):
        v = (x[t] @ w_in.T + z @ w_rec.T) + s.decay * v
        threshold: torch.Tensor | float = s.threshold
        if s.alif:
            a = s.adapt_decay * a + z
            threshold = s.threshold + s.adapt_beta * a
        z = (v >= threshold).to(v.dtype)
        v = v - s.threshold * z
        y = z @ w_out.T + s.decay_out * y
        zs.append(z)
        ys.append(y)
    return torch.stack(zs), torch.stack(ys)
