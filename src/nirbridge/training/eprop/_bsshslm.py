"""NEST's ``bsshslm_2020`` e-prop (``eprop_iaf_bsshslm_2020``, ``eprop_iaf_adapt_bsshslm_2020``,
``eprop_readout_bsshslm_2020``, ``eprop_synapse_bsshslm_2020``): Bellec et al. 2020's original
formulation, one trial per update interval.

A trial of ``I`` steps (``k = 0 .. I-1``) starts from rest (``reset_neurons_on_update``); spikes
arriving at a hidden neuron in its first step are dropped (NEST's synapse discards them), so
the input of step 0 never counts. With ``P`` the decays and ``V_th`` the threshold::

    v'[k] = z_in[k] + P * v'[k-1] - V_th * z[k-1]      (NEST resets one step late, undecayed)
    a[k]  = rho * a[k-1] + z[k-1];  threshold[k] = V_th + beta * a[k]           (ALIF)
    psi[k] = surrogate(v'[k] - threshold[k]);  z[k] = v'[k] >= threshold[k]
    y[k]  = z[k] @ W_out.T + P_out * y[k-1]
    E[k]  = y[k] - target[k]  or  softmax(y[k]) - target[k]   in the last W steps, else 0
    L[k]  = E[k] @ B.T

(``v'`` is SEMANTICS.md's LIF with a self-connection of weight ``-(1 - P) * V_th``: the late,
undecayed reset.) The gradient of a trial, for a synapse ``i -> j`` with arrivals ``s[k]``::

    zbar[k] = P * zbar[k-1] + s[k]
    e[k]    = psi_j[k] * (zbar[k] - beta * eps[k-1]);  eps[k] = rho * eps[k-1] + e[k]   (ALIF)
    ebar[k] = kappa * ebar[k-1] + (1 - kappa) * e[k]           (kappa: the readout's decay)
    g       = sum_k L_j[k] * ebar[k] + r_j * sum_k e[k]
    r_j     = c_reg * (n_j / I - f_target * dt_ms) / I        (n_j: spikes of j in the trial)
    readout synapses: g = sum_k E[k] * zbar_out[k]           (both divided by W if averaged)

computed here in reverse time (``sum_k L[k] ebar[k] = sum_k e[k] Lbar[k]`` with ``Lbar`` the
time-reversed filter of ``L``, and an adjoint for ALIF's ``eps``), so that a trial's gradient is
one matrix product over time instead of a trace per synapse and step.

NEST applies a synapse's gradient lazily: at the presynaptic neuron's first spike in a later
trial, through its optimizer with that trial's index (see :mod:`._optimizer`); a neuron that
spikes in no later trial keeps its gradient pending. :class:`BsshslmEngine` keeps exactly that
schedule, so its weights are the weights NEST holds after the same trials.
"""

from __future__ import annotations

import copy
import dataclasses

import torch

from ...learning import Optimizer
from ._optimizer import NestOptimizer
from ._setup import EPropSetup

Weights = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclasses.dataclass
class TrialState:
    """What the network carries from one trial to the next without ``reset_neurons_on_update``:
    pre-reset voltage, last step's spikes, adaptation, readout (each (B, n))."""

    v: torch.Tensor
    z: torch.Tensor
    a: torch.Tensor
    y: torch.Tensor

    @classmethod
    def zeros(cls, batch: int, n_hid: int, n_out: int, like: torch.Tensor) -> TrialState:
        def z(n: int) -> torch.Tensor:
            return torch.zeros(batch, n, dtype=like.dtype, device=like.device)

        return cls(z(n_hid), z(n_hid), z(n_hid), z(n_out))


@dataclasses.dataclass
class Trials:
    """The recorded trials: (I, B, n) each."""

    psi: torch.Tensor
    z: torch.Tensor
    y: torch.Tensor
    error: torch.Tensor
    loss: torch.Tensor  # (B,) NEST's per-trial loss


def simulate(
    setup: EPropSetup,
    weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    x: torch.Tensor,
    state: TrialState,
    w_out_first: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, TrialState]:
    """One trial of each of the B streams from ``state``: psi, spikes, readout (I, B, n).
    ``w_out_first``: the readout weights of step 0, if they differ (see BsshslmEngine)."""
    s = setup
    w_in, w_rec, w_out = weights
    v, z, a, y = state.v, state.z, state.a, state.y
    psis, zs, ys = [], [], []
    for k in range(x.shape[0]):
        if k == 0:
            z_in = torch.zeros_like(v)  # arrivals in a trial's first step are dropped
        else:
            z_in = x[k] @ w_in.T + z @ w_rec.T
        v = (z_in + s.decay * v) - s.threshold * z
        threshold: torch.Tensor | float = s.threshold
        if s.alif:
            a = s.adapt_decay * a + z
            threshold = s.threshold + s.adapt_beta * a
        psis.append(s.surrogate(v, threshold))
        z = (v >= threshold).to(v.dtype)
        w = w_out if k > 0 or w_out_first is None else w_out_first
        y = z @ w.T + s.decay_out * y
        zs.append(z)
        ys.append(y)
    return torch.stack(psis), torch.stack(zs), torch.stack(ys), TrialState(v, z, a, y)


def readout_error(
    setup: EPropSetup, y: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """NEST's error signal in the learning window and the per-trial loss (B,)."""
    steps = y.shape[0]
    window = torch.zeros(steps, 1, 1, dtype=y.dtype, device=y.device)
    window[steps - setup.window :] = 1.0
    if setup.cross_entropy:
        unnorm = torch.exp(y)
        p = unnorm / unnorm.sum(-1, keepdim=True)
        loss = -(window * target * torch.log(p)).sum((0, 2))
        return (p - target) * window, loss
    error = (y - target) * window
    return error, 0.5 * (error * error).sum((0, 2))


@dataclasses.dataclass
class TrialGradients:
    """Summed gradients of a run of consecutive trials (W_in, W_rec, W_out), and the late
    learning-signal terms of its last trial for the input and recurrent synapses (see
    :func:`trial_gradients`)."""

    grads: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    tail: tuple[torch.Tensor, torch.Tensor]


def trial_gradients(
    setup: EPropSetup,
    x: torch.Tensor,
    psi: torch.Tensor,
    z: torch.Tensor,
    error: torch.Tensor,
    feedback: torch.Tensor,
    *,
    consecutive: bool = True,
    readout_first: torch.Tensor | None = None,
) -> TrialGradients:
    """NEST's e-prop gradients of the trials, summed.

    The learning signal of a trial's last step reaches the hidden neurons three steps later
    (readout, normalization and feedback delays). A synapse onto a hidden neuron whose
    presynaptic spike arrives in step 1 of the next trial computes the previous trial's
    gradient before that signal is there and leaves its term ``L[I-1] * ebar[I-1]`` out. With
    ``consecutive`` the B trials follow each other (as NEST runs them) and that term is left
    out where the next trial has such a spike; the last trial's term is returned in ``tail``
    for the caller to leave out if the next trial, not seen here, has one.
    """
    s = setup
    steps = x.shape[0]
    learning_signal = error @ feedback.T
    rate = z.sum(0) / steps
    rate_reg = s.c_reg * (rate - s.f_target_ms * s.dt_ms) / steps
    # c[k]: what multiplies e[k]: the time-reversed kappa filter of L, plus the regularization
    c = torch.empty_like(learning_signal)
    acc = torch.zeros_like(learning_signal[0])
    for k in range(steps - 1, -1, -1):
        acc = (1.0 - s.kappa) * learning_signal[k] + s.kappa * acc
        c[k] = acc + rate_reg
    # the last step's term alone: L[I-1] * (1 - kappa) * kappa**(I-1-k) multiplies e[k]
    powers = s.kappa ** torch.arange(steps - 1, -1, -1, dtype=c.dtype, device=c.device)
    c_last = (1.0 - s.kappa) * powers[:, None, None] * learning_signal[-1][None]
    q, q_last = _adjoint(s, psi, c), _adjoint(s, psi, c_last)
    arrivals_in = x.clone()
    arrivals_in[0] = 0.0
    arrivals_rec = torch.zeros_like(z)
    arrivals_rec[1:] = z[:-1]
    arrivals_out = z.clone()
    arrivals_out[0] = 0.0 if readout_first is None else z[0] * readout_first
    zbar_in = _filter(arrivals_in, s.decay)
    zbar_rec = _filter(arrivals_rec, s.decay)
    zbar_out = _filter(arrivals_out, s.decay_out)
    g_in = torch.einsum("kbj,kbi->ji", q, zbar_in)
    g_rec = torch.einsum("kbj,kbi->ji", q, zbar_rec)
    g_out = torch.einsum("kbo,kbj->oj", error, zbar_out)
    tails = []
    grads = [g_in, g_rec]
    for n, (zbar, late_next) in enumerate(((zbar_in, x[1] != 0), (zbar_rec, z[0] != 0))):
        if consecutive and x.shape[1] > 1:
            late = torch.zeros_like(late_next)
            late[:-1] = late_next[1:]
            grads[n] = grads[n] - torch.einsum("kbj,kbi->ji", q_last, zbar * late[None])
        tails.append(torch.einsum("kj,ki->ji", q_last[:, -1], zbar[:, -1]))
    g_in, g_rec = grads
    if s.average_gradient:
        g_in, g_rec, g_out = g_in / s.window, g_rec / s.window, g_out / s.window
        tails = [t / s.window for t in tails]
    return TrialGradients((g_in, g_rec, g_out), (tails[0], tails[1]))


def _adjoint(s: EPropSetup, psi: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """q[k] with sum_k c[k] * e[k] = sum_k q[k] * zbar[k] for every synapse: ``psi * c`` for
    LIF; for ALIF the adjoint of ``eps`` (mu[k] = dG/d eps[k]) adds ``psi * mu``."""
    if not s.alif:
        return psi * c
    steps = psi.shape[0]
    q = torch.empty_like(c)
    mu = torch.zeros_like(c[0])
    q[steps - 1] = psi[steps - 1] * c[steps - 1]
    for k in range(steps - 2, -1, -1):
        p1 = psi[k + 1]
        mu = -s.adapt_beta * p1 * c[k + 1] + (s.adapt_decay - s.adapt_beta * p1) * mu
        q[k] = psi[k] * (c[k] + mu)
    return q


def _filter(s: torch.Tensor, decay: float) -> torch.Tensor:
    out = torch.empty_like(s)
    acc = torch.zeros_like(s[0])
    for k in range(s.shape[0]):
        acc = decay * acc + s[k]
        out[k] = acc
    return out


def readout_arrivals(z: torch.Tensor, last: torch.Tensor, first: int) -> tuple[torch.Tensor, ...]:
    """Which of the trials (indices ``first``, ``first + 1``, ...) each hidden neuron's spikes
    count in for its readout synapses, and which count their step-0 spike.

    A readout synapse opens a new interval at its first spike after the end of the last one it
    opened (initially interval 0). A spike in step 0 of trial m ends interval m - 1 if the
    synapse opened m - 1 (NEST then counts it there, in no gradient), and opens m otherwise.
    ``last`` (n_hidden,) is the last interval opened, updated in place.

    Returns (counted, first_counts): (B, n_hidden) each."""
    later = (z[1:] != 0).any(0)
    step0 = z[0] != 0
    counted = torch.zeros_like(later)
    first_counts = torch.zeros_like(later)
    for b in range(z.shape[1]):
        m = first + b
        first_counts[b] = step0[b] & (last < m - 1)
        counted[b] = later[b] | first_counts[b]
        last.copy_(torch.where(counted[b], m, last))
    return counted, first_counts


class BsshslmEngine:
    """Trains on consecutive trials; NEST's interval index counts them from 0.

    Weights are updated in place with NEST's schedule.
    """

    def __init__(
        self,
        setup: EPropSetup,
        weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        feedback: torch.Tensor,
        *,
        optimizer: Optimizer,
        frozen_rec: torch.Tensor | None,
    ):
        self.s = setup
        self.weights = weights
        self.feedback = feedback
        self.frozen = (None, frozen_rec, None)
        self.optimizers = [
            NestOptimizer(optimizer, w, f) for w, f in zip(weights, self.frozen, strict=True)
        ]
        self.pending = [torch.zeros_like(w) for w in weights]
        self.batch = optimizer.batch_size
        self.trial = 0  # index of the next trial (NEST's update interval)
        zeros = (torch.zeros_like(weights[0]), torch.zeros_like(weights[1]))
        self.tail: tuple[torch.Tensor, torch.Tensor] = zeros  # see trial_gradients
        self.state: TrialState | None = None  # carried without reset_neurons_on_update
        n_hid = weights[0].shape[0]
        self.readout_last = torch.zeros(n_hid, dtype=torch.long, device=weights[0].device)

    def train(self, x: torch.Tensor, target: torch.Tensor) -> Trials:
        """Run the trials of ``x`` (I, B, n_in) in order, learning; returns their records."""
        records = []
        start = 0
        while start < x.shape[1]:
            stop = min(x.shape[1], start + self.batch - self.trial % self.batch)
            if not self.s.reset_on_update:
                stop = start + 1  # trials carry their state: one after the other
            records.append(self._segment(x[:, start:stop], target[:, start:stop]))
            start = stop
        return Trials(
            *(
                torch.cat([getattr(r, f.name) for r in records], dim=0 if f.name == "loss" else 1)
                for f in dataclasses.fields(Trials)
            )
        )

    def _segment(self, x: torch.Tensor, target: torch.Tensor) -> Trials:
        """Trials within one optimizer batch. NEST sends them with fixed weights, except that
        a presynaptic neuron whose optimizer is due steps at its first spike here, before
        sending it: run with every column stepped (a column's weight matters only once its
        neuron spikes), then step for real the columns whose neurons did spike."""
        first = self.trial
        late = [x[1, 0] != 0, torch.zeros_like(self.tail[1][0], dtype=torch.bool)]
        trials, end = self._run(self._tentative(late), x, target)
        if first > 0 and bool((trials.z[0, 0] != 0).any()):
            # a hidden spike in the first step (no reset) arrives in step 1: redo with it
            late[1] = trials.z[0, 0] != 0
            trials, end = self._run(self._tentative(late), x, target)
        self.state = end
        counted, first_counts = readout_arrivals(trials.z, self.readout_last, first)
        result = trial_gradients(
            self.s,
            x,
            trials.psi,
            trials.z,
            trials.error,
            self.feedback,
            readout_first=first_counts.to(x.dtype),
        )
        # the trials in which each column's presynaptic spikes reach its synapses: input
        # spikes after step 0, hidden spikes sent in steps 0 .. I-2 (arriving at hidden
        # neurons in steps 1 .. I-1), and at the readout as counted above
        spiking = ((x[1:] != 0).any(0), (trials.z[:-1] != 0).any(0), counted)
        for n, (opt, pend, spk, grad, frozen) in enumerate(
            zip(self.optimizers, self.pending, spiking, result.grads, self.frozen, strict=True)
        ):
            called = torch.zeros(spk.shape[1], dtype=torch.bool, device=spk.device)
            for b in range(spk.shape[0]):
                cols = spk[b] & ~called
                if first + b >= 1 and bool(cols.any()):
                    opt.call(cols, first + b, self._due(n, pend, late) if b == 0 else pend)
                    pend.masked_fill_(cols[None, :], 0.0)
                called |= spk[b]
            pend += grad if frozen is None else grad.masked_fill(frozen, 0.0)
        self.tail = result.tail
        self.trial += x.shape[1]
        return trials

    def _due(self, n: int, pending: torch.Tensor, late: list[torch.Tensor]) -> torch.Tensor:
        """The gradient a column hands its optimizer at its first spike of the next trial:
        without the previous trial's last learning-signal term if that spike is in step 1."""
        if n == 2:
            return pending
        return pending - self.tail[n] * late[n][None, :].to(pending.dtype)

    def _tentative(self, late: list[torch.Tensor]) -> Weights:
        if self.trial == 0:
            return self.weights
        used = []
        for n, (opt, pend) in enumerate(zip(self.optimizers, self.pending, strict=True)):
            trial_opt = copy.deepcopy(opt)
            every = torch.ones(pend.shape[1], dtype=torch.bool, device=pend.device)
            trial_opt.call(every, self.trial, self._due(n, pend, late))
            used.append(trial_opt.weight)
        return used[0], used[1], used[2]

    def _run(
        self, weights: Weights, x: torch.Tensor, target: torch.Tensor
    ) -> tuple[Trials, TrialState | None]:
        """The trials with fixed weights, and (without reset) the state they end in."""
        s = self.s
        n_hid, n_out = weights[0].shape[0], weights[2].shape[0]
        if s.reset_on_update:
            state = TrialState.zeros(x.shape[1], n_hid, n_out, weights[0])
            psi, z, y, _ = simulate(s, weights, x, state)
            end = None
        else:
            # one trial: a hidden spike in its step 0 that ends the previous interval for a
            # readout synapse (see readout_arrivals) is sent before the synapse's optimizer
            # steps, with the weight of before
            start = self.state or TrialState.zeros(1, n_hid, n_out, weights[0])
            stays = (self.readout_last == self.trial - 1)[None, :]
            w_out_first = torch.where(stays, self.weights[2], weights[2])
            psi, z, y, end = simulate(s, weights, x, start, w_out_first)
        error, loss = readout_error(s, y, target)
        return Trials(psi, z, y, error, loss), end
