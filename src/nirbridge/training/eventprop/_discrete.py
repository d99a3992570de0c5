"""EventProp on the time grid: the euler forward of ``_layers.py``, an adjoint stored as events.

Forward: exactly the step equations of :mod:`nirbridge.training._layers` (so a trained network
runs spike for spike on :mod:`nirbridge.reference`). What it keeps for the backward pass is one
record per spike: its step and the flat index ``b * n + k`` of the neuron (int32 each), the
rise ``r`` of its voltage over the crossing step (``max(v' - v_before, v' - threshold)``) and,
for reset "zero", the reset it made and the one a step later would have made. Memory grows with
the number of spikes, not with the number of steps.

Backward: the adjoint of the forward, integrated backwards over the grid, with a jump at every
stored spike. It is the exact reverse-mode derivative of the euler forward in which each spike
at step ``t`` may move in time: with ``u[t] = z[t] * (v'[t] - sg(v'[t])) / r[t]`` (value 0;
``sg`` stops the gradient), the spike the rest of the network sees is
``zhat[t] = z[t] + u[t] - u[t-1]``; the reset takes ``D u[t]`` off ``v[t]`` and gives ``D' u[t]``
back at ``t + 1`` (reset "subtract": ``D = D' = threshold``; reset "zero": ``D = v' - v_reset``
and ``D'`` adds the rise over the next step without input jumps). A voltage raised by ``dv``
moves the spike earlier by ``dv / r`` steps; each pair of terms is the forward difference of the
spike's effect in time. In the adjoint this is W&P's jump ``lambda_V- = J lambda_V+ -
(dL/dt*) / Vdot-`` with ``Vdot- = r / dt``; as ``dt -> 0`` the gradient tends to the
continuous-time EventProp gradient (:mod:`._continuous`, docs/eventprop.md). Without spikes the
backward pass is plain backpropagation through the euler steps.
"""

from __future__ import annotations

import dataclasses

import torch

from ._network import Layer


@dataclasses.dataclass
class Events:
    """The spikes of one layer, in the order they happened: step (1-based) and flat index
    ``b * n + k`` of each, the voltage rise ``r`` over its crossing step and (reset "zero") the
    reset it made and the one a step later would have made. Nothing is kept per time step."""

    step: torch.Tensor  # (E,) int32 (int64 past 2**31 steps)
    index: torch.Tensor  # (E,) int32 (int64 past 2**31 neurons in a batch)
    rise: torch.Tensor  # (E,)
    reset: torch.Tensor | None  # (2, E), reset "zero" only

    @property
    def count(self) -> int:
        return int(self.index.numel())

    def nbytes(self) -> int:
        tensors = [self.step, self.index, self.rise]
        if self.reset is not None:
            tensors.append(self.reset)
        return sum(t.numel() * t.element_size() for t in tensors)

    def ranges(self) -> dict[int, tuple[int, int]]:
        """``{step: (lo, hi)}``: the spikes of each step that has any are ``lo:hi``."""
        steps, counts = torch.unique_consecutive(self.step, return_counts=True)
        ends = counts.cumsum(0)
        starts = (ends - counts).tolist()
        return dict(zip(steps.tolist(), zip(starts, ends.tolist(), strict=True), strict=True))


@dataclasses.dataclass
class Tape:
    """What the forward pass leaves for the backward pass (no per-step state)."""

    steps: int
    batch: int
    sizes: list[int]  # neurons per layer
    events: list[Events | None]  # per layer; None for a non-spiking readout
    first_step: torch.Tensor | None  # (B, n_out) step of each readout neuron's first spike
    argmax_step: torch.Tensor | None  # (B, n_out) step of each readout voltage's maximum

    def nbytes(self) -> int:
        total = sum(e.nbytes() for e in self.events if e is not None)
        for t in (self.first_step, self.argmax_step):
            if t is not None:
                total += t.numel() * t.element_size()
        return total


@dataclasses.dataclass
class Forward:
    """Readout values, the prediction key (higher is better), spike counts and the tape."""

    values: torch.Tensor  # (B, n_out)
    key: torch.Tensor  # (B, n_out)
    spike_counts: list[torch.Tensor]  # per spiking layer (B, n)
    tape: Tape


def forward(x: torch.Tensor, layers: list[Layer], readout: str) -> Forward:
    """Run the euler forward over ``x`` ``(T, B, n_in)`` and record the spikes as events."""
    steps, batch = int(x.shape[0]), int(x.shape[1])
    dtype, device = layers[0].weight.dtype, layers[0].weight.device
    x = x.to(dtype=dtype, device=device)
    out = layers[-1]
    dt = out.params.dt
    zeros = [torch.zeros(batch, layer.n, dtype=dtype, device=device) for layer in layers]
    v = [z.clone() for z in zeros]
    i = [z.clone() if layer.cuba else None for z, layer in zip(zeros, layers, strict=True)]
    z_prev = [
        z.clone() if layer.rec_weight is not None else None
        for z, layer in zip(zeros, layers, strict=True)
    ]
    counts = [z.clone() if layer.spiking else None for z, layer in zip(zeros, layers, strict=True)]
    store: list[tuple[list, list, list, list] | None] = [
        ([], [], [], []) if layer.spiking else None for layer in layers
    ]
    # compact indices: int32 where they fit
    step_type = torch.int32 if steps < 2**31 else torch.int64
    index_type = [torch.int32 if batch * layer.n < 2**31 else torch.int64 for layer in layers]
    first = frac = vmax = argmax = total = None
    never = steps + 1
    if readout == "first_spike_time":
        first = torch.full((batch, out.n), never, dtype=torch.int64, device=device)
        frac = torch.ones(batch, out.n, dtype=dtype, device=device)
    elif readout == "max_voltage":
        vmax = torch.full((batch, out.n), -torch.inf, dtype=dtype, device=device)
        argmax = torch.ones(batch, out.n, dtype=torch.int64, device=device)
    elif readout == "sum_voltage":
        total = zeros[-1].clone()

    for t in range(1, steps + 1):
        inp = x[t - 1]
        for k, layer in enumerate(layers):
            p = layer.params
            w = layer.weight
            drive = inp @ w.t() if layer.bias is None else torch.addmm(layer.bias, inp, w.t())
            if layer.rec_weight is not None:
                drive = drive.addmm_(z_prev[k], layer.rec_weight.t())
            if layer.cuba:
                cur = i[k].mul_(p.beta_syn).add_(drive)
            else:
                cur = drive
            vp = torch.add(cur, v[k], alpha=p.beta_mem)
            if not layer.spiking:
                v[k] = vp
                continue
            spikes = vp > p.threshold
            idx = torch.nonzero(spikes.view(-1)).squeeze(1)
            index, rise, size, when = store[k]
            if idx.numel():
                v_pre = vp.view(-1)[idx]
                v_old = v[k].view(-1)[idx]
                index.append(idx.to(index_type[k]))
                when.append(torch.full((idx.numel(),), t, dtype=step_type, device=device))
                rise.append(torch.maximum(v_pre - v_old, v_pre - p.threshold))
                if layer.zero_reset:
                    # reset size now, and what a reset one step later would have removed:
                    # the same plus the rise over that step without new input jumps
                    steady = cur if layer.cuba else layer.bias
                    rise_next = -(1.0 - p.beta_mem) * v_pre
                    if steady is not None:
                        rise_next = rise_next + steady.expand_as(vp).reshape(-1)[idx]
                    size.append(torch.stack((v_pre - p.v_reset, v_pre - p.v_reset + rise_next)))
                zf = spikes.to(dtype)
                if layer.zero_reset:
                    v[k] = torch.where(spikes, torch.full_like(vp, p.v_reset), vp)
                else:
                    v[k] = vp.sub_(zf, alpha=p.threshold)
                counts[k] += zf
                if k == len(layers) - 1 and first is not None:
                    flat = first.view(-1)
                    new = flat[idx] == never
                    hit = idx[new]
                    flat[hit] = t
                    f = (p.threshold - v_old[new]) / (v_pre[new] - v_old[new])
                    frac.view(-1)[hit] = f.clamp(0.0, 1.0)
            else:
                zf = zeros[k]
                v[k] = vp
            if layer.rec_weight is not None:
                z_prev[k] = zf
            inp = zf
        if vmax is not None:
            better = v[-1] > vmax
            vmax = torch.where(better, v[-1], vmax)
            argmax = torch.where(better, torch.full_like(argmax, t), argmax)
        elif total is not None:
            total += v[-1]

    events: list[Events | None] = []
    for k, layer in enumerate(layers):
        if store[k] is None:
            events.append(None)
            continue
        index, rise, size, when = store[k]
        empty_f = torch.zeros(0, dtype=dtype, device=device)
        events.append(
            Events(
                step=torch.cat(when) if when else torch.zeros(0, dtype=step_type, device=device),
                index=torch.cat(index)
                if index
                else torch.zeros(0, dtype=index_type[k], device=device),
                rise=torch.cat(rise) if rise else empty_f,
                reset=(
                    (torch.cat(size, dim=1) if size else empty_f.reshape(2, 0))
                    if layer.zero_reset
                    else None
                ),
            )
        )
    tape = Tape(steps, batch, [layer.n for layer in layers], events, first, argmax)
    spike_counts = [c for c in counts if c is not None]
    if readout == "first_spike_time":
        values = first.to(dtype) * dt
        key = -(first.to(dtype) - 1.0 + frac)
    elif readout == "spike_count":
        n_spikes = counts[-1]
        fraction = (v[-1] - out.v_after) / (out.params.threshold - out.v_after)
        values = n_spikes + fraction
        key = n_spikes + fraction.clamp(0.0, 0.999)
    elif readout == "max_voltage":
        values, key = vmax, vmax
    else:
        values, key = total, total
    return Forward(values, key, spike_counts, tape)


def _dense(events: Events, spans: dict, t: int, buf: torch.Tensor) -> torch.Tensor:
    """The spikes of step ``t`` as a dense ``(B, n)`` 0/1 tensor, written into ``buf``."""
    buf.zero_()
    span = spans.get(t)
    if span is not None:
        buf.view(-1)[events.index[span[0] : span[1]].long()] = 1.0
    return buf


def backward(
    x: torch.Tensor, layers: list[Layer], readout: str, tape: Tape, grad: torch.Tensor
) -> list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]]:
    """Gradients ``(dW, db, dW_rec)`` per layer for the cotangent ``grad`` of the readout values.

    Adjoint variables per layer (all ``(B, n)``): ``a_vp`` of the pre-reset voltage, ``a_i``
    of the synaptic current, ``a_z`` of the spikes seen downstream, ``a_v`` of the voltage after
    reset; the values of step ``t + 1`` are kept while step ``t`` is computed, top layer first.
    """
    steps, batch = tape.steps, tape.batch
    dtype, device = layers[0].weight.dtype, layers[0].weight.device
    x = x.to(dtype=dtype, device=device)
    grad = grad.to(dtype)
    n_layers = len(layers)
    out = layers[-1]
    dt = out.params.dt

    def zeros(k: int) -> torch.Tensor:
        return torch.zeros(batch, layers[k].n, dtype=dtype, device=device)

    a_vp = [zeros(k) for k in range(n_layers)]
    a_i = [zeros(k) if layers[k].cuba else None for k in range(n_layers)]
    a_z = [zeros(k) if layers[k].spiking else None for k in range(n_layers)]
    a_v = [zeros(k) if layers[k].spiking else None for k in range(n_layers)]
    a_rec = [zeros(k) if layers[k].rec_weight is not None else None for k in range(n_layers)]
    bufs = [zeros(k) if layers[k].spiking else None for k in range(n_layers)]
    prev_bufs = [zeros(k) if layers[k].rec_weight is not None else None for k in range(n_layers)]
    grads = [
        (
            torch.zeros_like(layer.weight),
            None if layer.bias is None else torch.zeros_like(layer.bias),
            None if layer.rec_weight is None else torch.zeros_like(layer.rec_weight),
        )
        for layer in layers
    ]
    spans = [None if ev is None else ev.ranges() for ev in tape.events]
    count_end = None
    if readout == "spike_count":
        count_end = grad / (out.params.threshold - out.v_after)

    for t in range(steps, 0, -1):
        a_above: torch.Tensor | None = None
        for k in range(n_layers - 1, -1, -1):
            layer = layers[k]
            p = layer.params
            top = k == n_layers - 1
            # adjoint of the voltage after reset: through v'[t+1] = beta_mem v[t] + ...
            a_volt = a_vp[k] * p.beta_mem
            if top and readout == "sum_voltage":
                a_volt += grad
            elif top and readout == "max_voltage":
                a_volt += grad * (tape.argmax_step == t)
            elif top and readout == "spike_count" and t == steps:
                a_volt += count_end
            if layer.spiking:
                # adjoint of the spikes the rest of the network sees at step t
                a_seen = zeros(k) if a_above is None else a_above @ layers[k + 1].weight
                if a_rec[k] is not None:
                    a_seen.addmm_(a_rec[k], layer.rec_weight)
                if top and readout == "spike_count":
                    a_seen += grad
                ev = tape.events[k]
                lo, hi = spans[k].get(t, (0, 0))
                new_vp = a_volt
                if hi > lo:
                    idx = ev.index[lo:hi].long()
                    d_seen = (a_seen - a_z[k]).view(-1)[idx]
                    d_volt = (a_volt - a_v[k]).view(-1)[idx] if ev.reset is None else None
                    if ev.reset is None:
                        a_shift = d_seen - p.threshold * d_volt
                    else:
                        now, later = ev.reset[:, lo:hi]
                        a_shift = d_seen - now * a_volt.view(-1)[idx] + later * a_v[k].view(-1)[idx]
                    if top and readout == "first_spike_time":
                        is_first = tape.first_step.view(-1)[idx] == t
                        a_shift = a_shift - dt * grad.view(-1)[idx] * is_first
                    new_vp = a_volt.clone()
                    flat = new_vp.view(-1)
                    if layer.zero_reset:
                        flat[idx] = 0.0
                    flat.index_add_(0, idx, a_shift / ev.rise[lo:hi])
                a_z[k] = a_seen
                a_v[k] = a_volt
                a_vp[k] = new_vp
            else:
                a_vp[k] = a_volt
            if layer.cuba:
                a_cur = a_i[k].mul_(p.beta_syn).add_(a_vp[k])
            else:
                a_cur = a_vp[k]
            d_w, d_b, d_rec = grads[k]
            if k == 0:
                x_in = x[t - 1]
            else:
                x_in = _dense(tape.events[k - 1], spans[k - 1], t, bufs[k - 1])
            d_w.addmm_(a_cur.t(), x_in)
            if d_b is not None:
                d_b += a_cur.sum(0)
            if d_rec is not None:
                z_before = _dense(tape.events[k], spans[k], t - 1, prev_bufs[k])
                d_rec.addmm_(a_cur.t(), z_before)
                a_rec[k] = a_cur.clone()
            a_above = a_cur
    return grads


class EventPropFunction(torch.autograd.Function):
    """The readout values of a finished :func:`forward`, with EventProp's adjoint as their
    backward pass. Call as ``apply(x, meta, readout, result, *tensors)`` where ``tensors`` are
    ``weight, bias, rec_weight`` of every layer (None where absent)."""

    @staticmethod
    def forward(ctx, x, meta, readout, result, *tensors):  # type: ignore[override]
        ctx.meta = meta
        ctx.readout = readout
        ctx.tape = result.tape
        ctx.save_for_backward(x, *[t for t in tensors if t is not None])
        return result.values.clone()

    @staticmethod
    def backward(ctx, grad_values):  # type: ignore[override]
        x, *present = ctx.saved_tensors
        it = iter(present)
        tensors = [next(it) if has else None for has in ctx.meta.present]
        layers = rebuild(ctx.meta, tensors)
        with torch.no_grad():
            grads = backward(x, layers, ctx.readout, ctx.tape, grad_values)
        flat = [g for triple in grads for g in triple]
        return (None, None, None, None, *flat)


@dataclasses.dataclass(frozen=True)
class LayersMeta:
    """The constant part of the layers (their LayerParams) and which tensors are present."""

    params: tuple
    present: tuple[bool, ...]

    @classmethod
    def of(cls, layers: list[Layer]) -> LayersMeta:
        flat = [t for layer in layers for t in (layer.weight, layer.bias, layer.rec_weight)]
        return cls(tuple(layer.params for layer in layers), tuple(t is not None for t in flat))


def rebuild(meta: LayersMeta, tensors) -> list[Layer]:
    """Layers from their constants and the flat list ``weight, bias, rec_weight, ...``."""
    return [
        Layer(tensors[3 * k], tensors[3 * k + 1], tensors[3 * k + 2], params)
        for k, params in enumerate(meta.params)
    ]


__all__ = [
    "EventPropFunction",
    "Events",
    "Forward",
    "LayersMeta",
    "Tape",
    "backward",
    "forward",
    "rebuild",
]
