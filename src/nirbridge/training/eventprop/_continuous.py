"""EventProp in continuous time: exact integration between events, spike times by root finding.

This is the model the discrete engine approximates, solved without a time grid (float64, one
sample at a time; for checks, not for training). Per neuron, between events::

    cubalif / cubali:  dI/dt = -I / tau_syn + b        dV/dt = -V / tau_mem + gain * I
    lif / li:                                          dV/dt = -V / tau_mem + b

An input spike through weight ``w`` adds ``w`` to ``I`` (cuba kinds) or to ``V`` (lif, li) at the
moment it is emitted (feed-forward and recurrent alike). A spiking neuron fires when ``V``
exceeds ``threshold``: by drift (``V`` reaches the threshold, found by root finding; at most one
extremum lies between events, so the first crossing is bracketed exactly) or by a jump (a lif
neuron pushed over the threshold by an input, firing at that moment). Reset "subtract" takes
``threshold`` off ``V``, reset "zero" sets ``V = v_reset``. Spikes caused by a spike at the same
moment form one *instant* with it.

Backward (Wunderlich & Pehle 2021, in this notation): between instants, backwards in time,
``dlambda_V/ds = -lambda_V / tau_mem + dl/dV`` and ``dlambda_I/ds = -lambda_I / tau_syn + gain *
lambda_V``. An instant at time ``t`` whose state change is the map ``G`` (all resets and weight
jumps it causes) moves with its cause; the loss changes with its time by
``dL/dt = sum_m lambda_m+ . (J_m f_m(x_m-) - f_m(x_m+)) + dl_p/dt`` (``J`` the Jacobian of ``G``,
``f`` the vector field, ``m`` every neuron it touches), and the adjoint jumps to
``lambda- = J^T lambda+``, plus ``-(dL/dt) / Vdot-`` on the voltage of a drift-crossing neuron.
A weight's gradient is the adjoint of what it jumps, summed over the spikes it carried; a
bias's is the time integral of that adjoint. See docs/eventprop.md.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import brentq

from ..._errors import SimulationInputError, UnsupportedError
from .._layers import LayerParams

KINDS = ("lif", "cubalif", "li", "cubali")


@dataclasses.dataclass(frozen=True)
class ContinuousLayer:
    """One layer of the continuous-time model.

    Args:
        kind: "lif", "cubalif" (spiking) or "li", "cubali" (readout voltage).
        weight: ``(n, n_in)``: the jump one input spike causes in ``I`` (cuba kinds) or ``V``.
        bias: ``(n,)`` constant drive per second into ``I`` (cuba kinds) or ``V``, or None.
        rec_weight: ``(n, n)`` recurrent weights (spiking kinds), or None.
        tau_mem: membrane time constant in seconds.
        tau_syn: synaptic time constant in seconds (cuba kinds; must differ from tau_mem).
        gain: ``dV/dt`` per unit of ``I`` in 1/s (cuba kinds).
        threshold, reset, v_reset: as :class:`nirbridge.training.LayerParams`.
    """

    kind: str
    weight: np.ndarray
    bias: np.ndarray | None = None
    rec_weight: np.ndarray | None = None
    tau_mem: float = 20e-3
    tau_syn: float | None = None
    gain: float = 1.0
    threshold: float = 1.0
    reset: str = "subtract"
    v_reset: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UnsupportedError(
                f"ContinuousLayer.kind: expected one of {KINDS}, got {self.kind!r}"
            )
        if self.cuba and (self.tau_syn is None or self.tau_syn == self.tau_mem):
            raise UnsupportedError(
                f"ContinuousLayer ({self.kind}).tau_syn: expected seconds != tau_mem, "
                f"got {self.tau_syn!r}"
            )

    @property
    def n(self) -> int:
        return int(self.weight.shape[0])

    @property
    def cuba(self) -> bool:
        return self.kind in ("cubalif", "cubali")

    @property
    def spiking(self) -> bool:
        return self.kind in ("lif", "cubalif")

    @property
    def v_after(self) -> float:
        return self.v_reset if self.reset == "zero" else 0.0

    def drive(self) -> np.ndarray:
        return np.zeros(self.n) if self.bias is None else np.asarray(self.bias, dtype=float)

    def rates(self, v: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The vector field ``(dV/dt, dI/dt)`` at state ``(v, i)``."""
        b = self.drive()
        if self.cuba:
            return -v / self.tau_mem + self.gain * i, -i / self.tau_syn + b
        return -v / self.tau_mem + b, np.zeros_like(i)

    def coefficients(self, v0: np.ndarray, i0: np.ndarray):
        """``V(s) = A e^{-s/tau_mem} + B e^{-s/tau_syn} + C`` and ``I(s) = I_inf + (I0 - I_inf)
        e^{-s/tau_syn}`` from the state ``(v0, i0)`` at ``s = 0``."""
        b = self.drive()
        if self.cuba:
            i_inf = b * self.tau_syn
            c = self.gain * self.tau_mem * i_inf
            k = self.tau_mem * self.tau_syn / (self.tau_mem - self.tau_syn)
            bb = -self.gain * (i0 - i_inf) * k
            return v0 - c - bb, bb, c, i_inf
        c = b * self.tau_mem
        return v0 - c, np.zeros_like(v0), c, np.zeros_like(v0)


@dataclasses.dataclass
class _Instant:
    time: float
    root: tuple  # ("input", channel) or ("drift", layer, neuron)
    pre: list  # per layer (V, I) before
    post: list  # per layer (V, I) after
    zeroed: list  # per layer bool mask: a reset "zero" happened
    deliveries: (
        list  # (layer, source kind "in"/"ff"/"rec", source index, mask lost to a later zero)
    )
    spikes: list  # (layer, neuron) of every spike, in order
    first: list  # readout neurons whose first spike this is


@dataclasses.dataclass
class _Sample:
    instants: list
    t_end: float
    max_at: list | None  # per readout neuron: ("pre" | "post", instant) | ("time", t) | ("end",)
    v_end: np.ndarray


@dataclasses.dataclass
class ContinuousResult:
    """Readout values ``(B, n_out)`` and what the backward pass needs."""

    values: np.ndarray
    readout: str
    samples: list
    layers: list

    @property
    def spike_counts(self) -> list[np.ndarray]:
        """Spikes per layer, sample and neuron ``(B, n)`` (spiking layers)."""
        counts = []
        for k, layer in enumerate(self.layers):
            if not layer.spiking:
                continue
            c = np.zeros((len(self.samples), layer.n))
            for b, sample in enumerate(self.samples):
                for inst in sample.instants:
                    for layer_index, neuron in inst.spikes:
                        if layer_index == k:
                            c[b, neuron] += 1
            counts.append(c)
        return counts


def _first_crossing(layer: ContinuousLayer, v0, i0, span: float):
    """Earliest ``(s, neuron)`` in ``(0, span]`` at which ``V`` reaches the threshold, or None."""
    a, bb, c, _ = layer.coefficients(v0, i0)
    th, tm, ts = layer.threshold, layer.tau_mem, layer.tau_syn
    best = None
    for n in range(layer.n):

        def f(s, n=n):
            out = a[n] * math.exp(-s / tm) + c[n] - th
            if bb[n] != 0.0:
                out += bb[n] * math.exp(-s / ts)
            return out

        if f(0.0) > 0.0:
            continue  # already above: a jump crossing, handled when the jump happens
        hi = None
        if layer.cuba and bb[n] != 0.0 and a[n] != 0.0:
            ratio = -bb[n] * tm / (a[n] * ts)
            if ratio > 0.0:
                s_e = math.log(ratio) / (1.0 / ts - 1.0 / tm)
                if 0.0 < s_e < span and f(s_e) > 0.0:
                    hi = s_e
        if hi is None and f(span) > 0.0:
            hi = span
        if hi is None:
            continue
        s = brentq(f, 0.0, hi, xtol=1e-18, rtol=8.9e-16, maxiter=500)
        if best is None or s < best[0]:
            best = (s, n)
    return best


def _advance(layer: ContinuousLayer, v0, i0, span: float):
    """State after ``span`` seconds without input, and the integral of ``V`` over it."""
    a, bb, c, i_inf = layer.coefficients(v0, i0)
    em = math.exp(-span / layer.tau_mem)
    v = a * em + c
    integral = a * layer.tau_mem * (1.0 - em) + c * span
    i = np.zeros_like(i0)
    if layer.cuba:
        es = math.exp(-span / layer.tau_syn)
        v = v + bb * es
        integral = integral + bb * layer.tau_syn * (1.0 - es)
        i = i_inf + (i0 - i_inf) * es
    return v, i, integral


def _interior_max(layer: ContinuousLayer, v0, i0, span: float):
    """Per neuron, the time in ``(0, span)`` of an interior maximum of ``V`` (or nan) and ``V``
    there."""
    a, bb, c, _ = layer.coefficients(v0, i0)
    times = np.full(layer.n, np.nan)
    values = np.full(layer.n, -np.inf)
    if not layer.cuba:
        return times, values
    tm, ts = layer.tau_mem, layer.tau_syn
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = -bb * tm / (a * ts)
        s_e = np.log(ratio) / (1.0 / ts - 1.0 / tm)
    ok = (ratio > 0) & (s_e > 0) & (s_e < span)
    # an extremum of V is a maximum where V'' < 0
    curv = a / tm**2 * np.exp(-s_e / tm) + bb / ts**2 * np.exp(-s_e / ts)
    ok &= curv < 0
    times[ok] = s_e[ok]
    values[ok] = (a * np.exp(-s_e / tm) + bb * np.exp(-s_e / ts) + c)[ok]
    return times, values


def _simulate(layers: list[ContinuousLayer], times, channels, t_end: float, readout: str):
    n_layers = len(layers)
    out = layers[-1]
    v = [np.zeros(layer.n) for layer in layers]
    i = [np.zeros(layer.n) for layer in layers]
    order = np.argsort(times, kind="stable")
    inputs = [(float(times[j]), int(channels[j])) for j in order]
    instants: list[_Instant] = []
    first_seen = np.zeros(out.n, dtype=bool)
    vmax = np.full(out.n, -np.inf)
    max_at: list = [("end",)] * out.n
    integral = np.zeros(out.n)
    t = 0.0
    k_in = 0

    def advance(span: float) -> None:
        nonlocal t
        if readout == "max_voltage" and span > 0:
            s_max, v_int = _interior_max(out, v[-1], i[-1], span)
            for n in np.nonzero(v_int > vmax)[0]:
                vmax[n] = v_int[n]
                max_at[n] = ("time", t + s_max[n])
        for k, layer in enumerate(layers):
            v[k], i[k], area = _advance(layer, v[k], i[k], span)
            if k == n_layers - 1:
                integral[:] += area
        t += span

    def offer_max(where: tuple) -> None:
        if readout != "max_voltage":
            return
        for n in np.nonzero(v[-1] > vmax)[0]:
            vmax[n] = v[-1][n]
            max_at[n] = where

    while True:
        t_next = inputs[k_in][0] if k_in < len(inputs) else t_end
        t_next = min(t_next, t_end)
        best = None
        for k, layer in enumerate(layers):
            if not layer.spiking:
                continue
            hit = _first_crossing(layer, v[k], i[k], t_next - t)
            if hit is not None and (best is None or hit[0] < best[0]):
                best = (hit[0], k, hit[1])
        if best is not None:
            advance(best[0])
            root = ("drift", best[1], best[2])
            v[best[1]][best[2]] = layers[best[1]].threshold
        elif k_in < len(inputs) and inputs[k_in][0] <= t_end:
            advance(t_next - t)
            root = ("input", inputs[k_in][1])
            k_in += 1
        else:
            advance(t_end - t)
            break
        offer_max(("pre", len(instants)))  # the left limit, before the instant's jumps
        instants.append(_instant(layers, v, i, t, root, first_seen))
        offer_max(("post", len(instants) - 1))
    if readout == "first_spike_time":
        first = np.full(out.n, t_end)
        for inst in instants:
            for n in inst.first:
                first[n] = inst.time
        value = first
    elif readout == "spike_count":
        counts = np.zeros(out.n)
        for inst in instants:
            for l, n in inst.spikes:
                if l == n_layers - 1:
                    counts[n] += 1
        value = counts + (v[-1] - out.v_after) / (out.threshold - out.v_after)
    elif readout == "max_voltage":
        value = vmax.copy()
    else:
        value = integral.copy()
    sample = _Sample(instants, t_end, max_at if readout == "max_voltage" else None, v[-1].copy())
    return value, sample


def _instant(layers, v, i, t, root, first_seen) -> _Instant:
    """Apply one instant in place: its root spike or input and every jump crossing it causes."""
    n_layers = len(layers)
    pre = [(vk.copy(), ik.copy()) for vk, ik in zip(v, i, strict=True)]
    zeroed = [np.zeros(layer.n, dtype=bool) for layer in layers]
    last_zero = [np.full(layer.n, -1) for layer in layers]
    spikes: list[tuple[int, int]] = []
    deliveries: list = []
    first: list[int] = []
    queue: collections.deque = collections.deque()
    seq = 0

    def fire(k: int, n: int) -> None:
        nonlocal seq
        layer = layers[k]
        spikes.append((k, n))
        if k == n_layers - 1 and not first_seen[n]:
            first_seen[n] = True
            first.append(n)
        if layer.reset == "zero":
            v[k][n] = layer.v_reset
            zeroed[k][n] = True
            last_zero[k][n] = seq
        else:
            v[k][n] -= layer.threshold
        seq += 1
        if k + 1 < n_layers:
            queue.append((k + 1, "ff", n))
        if layer.rec_weight is not None:
            queue.append((k, "rec", n))

    if root[0] == "drift":
        fire(root[1], root[2])
    else:
        queue.append((0, "in", root[1]))
    guard = 0
    pending = []
    while queue:
        guard += 1
        if guard > 100_000:
            raise SimulationInputError(
                "continuous EventProp: endless cascade of spikes at one time"
            )
        k, kind, src = queue.popleft()
        layer = layers[k]
        w = (layer.rec_weight if kind == "rec" else layer.weight)[:, src]
        pending.append((k, kind, src, seq))
        seq += 1
        if layer.cuba:
            i[k] += w
            continue
        v[k] += w
        if layer.spiking:
            while True:
                above = np.nonzero(v[k] > layer.threshold)[0]
                if above.size == 0:
                    break
                for n in above:
                    fire(k, int(n))
    for k, kind, src, at in pending:
        deliveries.append((k, kind, src, last_zero[k] > at))
    post = [(vk.copy(), ik.copy()) for vk, ik in zip(v, i, strict=True)]
    return _Instant(t, root, pre, post, zeroed, deliveries, spikes, first)


def continuous_run(
    layers: Sequence[ContinuousLayer],
    spikes: Sequence[tuple[np.ndarray, np.ndarray]],
    t_end: float,
    readout: str,
) -> ContinuousResult:
    """Simulate every sample and read out ``(B, n_out)`` values.

    Args:
        layers: Input side first, readout last.
        spikes: Per sample, ``(times, channels)`` of its input spikes (seconds, indices).
        t_end: Trial length in seconds.
        readout: "first_spike_time" (non-spiking neurons read ``t_end``), "spike_count" (the
            count plus ``(V(t_end) - v_after) / (threshold - v_after)``), "max_voltage" or
            "sum_voltage" (the integral of ``V`` over the trial, in volt-seconds).
    """
    layers = list(layers)
    values, samples = [], []
    for times, channels in spikes:
        value, sample = _simulate(
            layers, np.asarray(times, float), np.asarray(channels), t_end, readout
        )
        values.append(value)
        samples.append(sample)
    return ContinuousResult(np.array(values), readout, samples, layers)


def _back(layer: ContinuousLayer, lam_v, lam_i, span: float, source):
    """Adjoint ``span`` seconds earlier, and the integral over the span of the adjoint of what
    the bias drives (``lambda_I`` for cuba kinds, ``lambda_V`` otherwise)."""
    tm = layer.tau_mem
    em = math.exp(-span / tm)
    base = lam_v - source * tm
    new_v = base * em + source * tm
    int_v = base * tm * (1.0 - em) + source * tm * span
    if not layer.cuba:
        return new_v, lam_i, int_v
    ts, g = layer.tau_syn, layer.gain
    es = math.exp(-span / ts)
    k = tm * ts / (tm - ts)
    new_i = lam_i * es + g * base * k * (em - es) + g * source * tm * ts * (1.0 - es)
    int_i = (
        lam_i * ts * (1.0 - es)
        + g * base * k * (tm * (1.0 - em) - ts * (1.0 - es))
        + g * source * tm * ts * (span - ts * (1.0 - es))
    )
    return new_v, new_i, int_i


def _sample_gradient(layers, readout: str, sample: _Sample, g: np.ndarray, grads) -> None:
    """Add one sample's gradients to ``grads``: the adjoint integrated backwards from
    ``t_end`` through every instant (see the module docstring)."""
    n_layers = len(layers)
    out = layers[-1]
    lam_v = [np.zeros(l.n) for l in layers]
    lam_i = [np.zeros(l.n) for l in layers]
    source = [np.zeros(l.n) for l in layers]
    if readout == "sum_voltage":
        source[-1] = g.copy()
    if readout == "spike_count":
        lam_v[-1] += g / (out.threshold - out.v_after)
    impulses = []  # (time, neuron) of interior maxima
    at_instant = collections.defaultdict(list)
    if readout == "max_voltage":
        for n, where in enumerate(sample.max_at):
            if where[0] == "end":
                lam_v[-1][n] += g[n]
            elif where[0] == "time":
                impulses.append((where[1], n))
            else:
                at_instant[where[1]].append((n, where[0]))
    impulses.sort()

    def back_to(t_from: float, t_to: float) -> None:
        # integrate the adjoint from t_from down to t_to, with interior impulses on the way
        stops = [(tm, n) for tm, n in impulses if t_to < tm <= t_from]
        t_cur = t_from
        for t_stop, n in sorted(stops, reverse=True):
            step(t_cur - t_stop)
            lam_v[-1][n] += g[n]
            t_cur = t_stop
        step(t_cur - t_to)

    def step(span: float) -> None:
        if span <= 0:
            return
        for k, layer in enumerate(layers):
            lam_v[k], lam_i[k], area = _back(layer, lam_v[k], lam_i[k], span, source[k])
            if layer.bias is not None:
                grads[k][1] += area

    t_prev = sample.t_end
    for k_inst in range(len(sample.instants) - 1, -1, -1):
        inst = sample.instants[k_inst]
        back_to(t_prev, inst.time)
        t_prev = inst.time
        d_time = 0.0
        for k, layer in enumerate(layers):
            fv_pre, fi_pre = layer.rates(*inst.pre[k])
            fv_post, fi_post = layer.rates(*inst.post[k])
            keep = ~inst.zeroed[k]
            d_time += float(np.dot(lam_v[k], keep * fv_pre - fv_post))
            if layer.cuba:
                d_time += float(np.dot(lam_i[k], fi_pre - fi_post))
        for n in inst.first:
            if readout == "first_spike_time":
                d_time += g[n]
        # a maximum at the instant moves with it (at the rate V had before it)
        maxima = at_instant.get(k_inst, ())
        for n, side in maxima:
            d_time += g[n] * out.rates(*inst.pre[-1])[0][n]
            if side == "post":
                lam_v[-1][n] += g[n]
        for k, kind, src, lost in inst.deliveries:
            layer = layers[k]
            lam = lam_i[k] if layer.cuba else lam_v[k] * ~lost
            target = grads[k][2] if kind == "rec" else grads[k][0]
            target[:, src] += lam
        for n, side in maxima:
            if side == "pre":
                lam_v[-1][n] += g[n]
        for k in range(n_layers):
            lam_v[k] = lam_v[k] * ~inst.zeroed[k]
        if inst.root[0] == "drift":
            _, k, n = inst.root
            fv_pre, _ = layers[k].rates(*inst.pre[k])
            lam_v[k][n] -= d_time / fv_pre[n]
    back_to(t_prev, 0.0)


def continuous_gradient(result: ContinuousResult, grad: np.ndarray):
    """Gradients ``(dW, db, dW_rec)`` per layer of ``sum(grad * result.values)``."""
    layers = result.layers
    grads = [
        [
            np.zeros_like(l.weight, dtype=float),
            np.zeros(l.n),
            None if l.rec_weight is None else np.zeros_like(l.rec_weight, dtype=float),
        ]
        for l in layers
    ]
    readout = result.readout
    for b, sample in enumerate(result.samples):
        _sample_gradient(layers, readout, sample, np.asarray(grad[b], dtype=float), grads)
    return [
        (g[0], g[1] if l.bias is not None else None, g[2])
        for g, l in zip(grads, layers, strict=True)
    ]


def discretize(
    layers: Sequence[ContinuousLayer],
    spikes: Sequence[tuple[np.ndarray, np.ndarray]],
    t_end: float,
    dt: float,
    *,
    dtype: torch.dtype = torch.float64,
):
    """The euler model of ``_layers.py`` that approximates ``layers`` with time step ``dt``.

    Returns:
        ``(x, net, scales)``: the input ``(T, B, n_in)`` (a spike at time ``s`` lands in step
        ``floor(s / dt) + 1``), the layers for :func:`eventprop_forward`, and per layer the
        factors ``(weight, bias)`` by which a discrete weight is the continuous one
        (``gain * dt``, ``gain * dt**2`` for cuba kinds; ``1``, ``dt`` otherwise): a continuous
        gradient is the discrete one times these factors.
    """
    steps = int(round(t_end / dt))
    n_in = int(layers[0].weight.shape[1])
    x = torch.zeros(steps, len(spikes), n_in, dtype=dtype)
    for b, (times, channels) in enumerate(spikes):
        for s, c in zip(np.asarray(times, float), np.asarray(channels), strict=True):
            step = int(math.floor(s / dt + 1e-9))
            if step < steps:
                x[step, b, int(c)] += 1.0
    net, scales = [], []
    for layer in layers:
        sw, sb = (layer.gain * dt, layer.gain * dt * dt) if layer.cuba else (1.0, dt)
        params = LayerParams(
            kind=layer.kind,
            dt=dt,
            tau_mem=layer.tau_mem,
            tau_syn=layer.tau_syn if layer.cuba else None,
            threshold=layer.threshold,
            reset=layer.reset,
            v_reset=layer.v_reset,
        )
        weight = torch.tensor(np.asarray(layer.weight) * sw, dtype=dtype)
        bias = (
            None if layer.bias is None else torch.tensor(np.asarray(layer.bias) * sb, dtype=dtype)
        )
        rec = (
            None
            if layer.rec_weight is None
            else torch.tensor(np.asarray(layer.rec_weight) * sw, dtype=dtype)
        )
        net.append((weight, bias, rec, params))
        scales.append((sw, sb))
    return x, net, scales


__all__ = [
    "ContinuousLayer",
    "ContinuousResult",
    "continuous_gradient",
    "continuous_run",
    "discretize",
]
