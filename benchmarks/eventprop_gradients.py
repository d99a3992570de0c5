"""How exact EventProp's gradients are: finite differences, and the small-dt limit.

1. Continuous time: the relative error of EventProp's directional derivative against central
   differences of the same forward (float64, 4 random directions per network), over random
   networks per loss, feed-forward and recurrent.
2. Discrete time: the relative error of the euler engine's gradient against the continuous one
   as dt shrinks (median over random networks per loss), and, for contrast, that of
   backpropagation through the same euler steps with the spikes held constant (no jump: what
   BPTT gives without a surrogate).
3. The Yin-Yang network of W&P at its initial weights (24 training samples, ``ttfs``): the
   cosine between the euler engine's gradient and the continuous one, per layer and dt.

Usage: ``python benchmarks/eventprop_gradients.py [--networks 10]``; a table per part and one
JSON line at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (one thread before torch is imported)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from nirbridge.learning import Loss  # noqa: E402
from nirbridge.training.eventprop import (  # noqa: E402
    ContinuousLayer,
    continuous_gradient,
    continuous_run,
    discretize_continuous,
    eventprop_forward,
    readout_loss,
)

T_END, SUM_UNIT = 0.06, 1e-3
LOSSES = {
    "ttfs": Loss(name="ttfs", tau0=2e-3, tau1=10e-3, alpha=0.01),
    "spike_count": Loss(name="spike_count"),
    "max_voltage": Loss(name="max_voltage"),
    "sum_voltage": Loss(name="sum_voltage"),
}
READOUT = {
    "ttfs": "first_spike_time",
    "spike_count": "spike_count",
    "max_voltage": "max_voltage",
    "sum_voltage": "sum_voltage",
}
KINDS = {
    "ttfs": ("cubalif", "cubalif"),
    "spike_count": ("cubalif", "cubalif"),
    "max_voltage": ("cubalif", "cubali"),
    "sum_voltage": ("cubalif", "cubali"),
}
LABELS = torch.tensor([0, 1, 2])
PARAMS = ("weight", "bias", "rec_weight")


def network(seed, kinds, rec, scale, inputs, n=(4, 5, 3)):
    rng = np.random.default_rng(seed)
    layers = []
    for k, kind in enumerate(kinds):
        cuba = kind.startswith("cuba")
        mean = (2.5 if cuba else 0.45) * scale
        layers.append(
            ContinuousLayer(
                kind=kind,
                weight=rng.normal(mean, 0.6 * mean, (n[k + 1], n[k])),
                bias=rng.normal(100.0, 100.0, n[k + 1]) if cuba else rng.normal(5.0, 5.0, n[k + 1]),
                rec_weight=(
                    rng.normal(0.0, 0.3 * mean, (n[k + 1], n[k + 1]))
                    if rec and kind in ("lif", "cubalif")
                    else None
                ),
                tau_mem=20e-3,
                tau_syn=5e-3 if cuba else None,
                gain=1.0 / 20e-3,
            )
        )
    spikes = [(rng.uniform(0.0, 0.03, inputs), rng.integers(0, n[0], inputs)) for _ in range(3)]
    return layers, spikes


def continuous(layers, spikes, loss):
    result = continuous_run(layers, spikes, T_END, READOUT[loss])
    values = torch.tensor(result.values, requires_grad=True)
    logits = values / SUM_UNIT if loss == "sum_voltage" else values
    value = readout_loss(logits, LABELS, LOSSES[loss])
    return value, result, values


def flat(grads):
    return np.concatenate([g.ravel() for triple in grads for g in triple if g is not None])


def fd_error(layers, spikes, loss, rng) -> float:
    value, result, values = continuous(layers, spikes, loss)
    value.backward()
    grads = continuous_gradient(result, values.grad.numpy())
    worst = 0.0
    for _ in range(4):
        dirs = [
            {n: rng.normal(size=getattr(l, n).shape) for n in PARAMS if getattr(l, n) is not None}
            for l in layers
        ]
        analytic = sum(
            float(np.sum(g * d[n]))
            for triple, d in zip(grads, dirs, strict=True)
            for g, n in zip(triple, PARAMS, strict=True)
            if n in d
        )
        eps, pm = 1e-6, []
        for sign in (1.0, -1.0):
            moved = [
                dataclasses.replace(l, **{n: getattr(l, n) + sign * eps * v for n, v in d.items()})
                for l, d in zip(layers, dirs, strict=True)
            ]
            pm.append(continuous(moved, spikes, loss)[0].item())
        numeric = (pm[0] - pm[1]) / (2 * eps)
        worst = max(worst, abs(analytic - numeric) / abs(numeric))
    return worst


def discrete(layers, spikes, loss, dt, frozen=False):
    """Gradient in continuous units from the euler engine, or (frozen) from autograd through
    the euler steps with the spikes held constant."""
    x, net, scales = discretize_continuous(layers, spikes, T_END, dt)
    net = [
        tuple(t.clone().requires_grad_() if isinstance(t, torch.Tensor) else t for t in layer)
        for layer in net
    ]
    if frozen:
        values = _frozen_readout(x, net, READOUT[loss])
    else:
        values = eventprop_forward(x, net, LOSSES[loss]).readout
    logits = values * (dt / SUM_UNIT) if loss == "sum_voltage" else values
    tensors = [t for layer in net for t in layer[:3] if t is not None]
    value = readout_loss(logits, LABELS, LOSSES[loss])
    if value.requires_grad:  # (frozen spikes: the layers below the readout get no gradient)
        found = torch.autograd.grad(value, tensors, allow_unused=True)
        grads = iter(
            [torch.zeros_like(t) if g is None else g for g, t in zip(found, tensors, strict=True)]
        )
    else:  # constant spike times: the gradient is zero
        grads = iter([torch.zeros_like(t) for t in tensors])
    out = []
    for (_, b, r, _), (sw, sb) in zip(net, scales, strict=True):
        out.append(
            (
                next(grads).numpy() * sw,
                None if b is None else next(grads).numpy() * sb,
                None if r is None else next(grads).numpy() * sw,
            )
        )
    return out


def _frozen_readout(x, net, readout):
    """The euler steps with every spike a constant (autograd, dense)."""
    steps, batch = x.shape[:2]
    state = [dict(i=0.0, v=0.0, z=torch.zeros(batch, w.shape[0])) for w, *_ in net]
    first = torch.full((batch, net[-1][0].shape[0]), float(steps + 1)) * net[-1][3].dt
    volts, count = [], 0.0
    for t in range(steps):
        inp = x[t]
        for k, (w, b, r, p) in enumerate(net):
            s = state[k]
            drive = inp @ w.t() + (0.0 if b is None else b)
            if r is not None:
                drive = drive + s["z"] @ r.t()
            s["i"] = p.beta_syn * s["i"] + drive if p.kind.startswith("cuba") else drive
            vp = p.beta_mem * s["v"] + s["i"]
            if not p.spiking:
                s["v"] = vp
                continue
            z = (vp > p.threshold).to(vp.dtype).detach()
            s["v"], s["z"] = vp - z * p.threshold, z
            if k == len(net) - 1:
                count = count + z
                first = torch.where((z > 0) & (first > (t + 1) * p.dt), (t + 1) * p.dt, first)
            inp = z
        volts.append(state[-1]["v"])
    volts = torch.stack(volts)
    if readout == "first_spike_time":
        return first
    if readout == "max_voltage":
        return volts.max(0).values
    if readout == "sum_voltage":
        return volts.sum(0)
    return count + state[-1]["v"] / net[-1][3].threshold


def yinyang_alignment(dts) -> dict:
    """Cosine of discrete vs continuous gradients per layer on W&P's Yin-Yang network."""
    from nirbridge.training.datasets import yinyang_spike_times, yinyang_split

    gen = torch.Generator().manual_seed(0)
    w_h = (torch.randn(200, 5, generator=gen) * 0.78 + 1.5).numpy()
    w_o = (torch.randn(3, 200, generator=gen) * 0.1 + 0.93).numpy()
    points, labels = yinyang_split("train")
    times = yinyang_spike_times(points[:24])
    spikes = [(t, np.arange(5)) for t in times]
    labels = torch.tensor(labels[:24])
    loss = Loss(name="ttfs", tau0=0.5e-3, tau1=6.4e-3, alpha=0.003)
    cuba = {"kind": "cubalif", "tau_mem": 20e-3, "tau_syn": 5e-3, "gain": 1 / 20e-3}
    layers = [ContinuousLayer(weight=w_h, **cuba), ContinuousLayer(weight=w_o, **cuba)]
    result = continuous_run(layers, spikes, 0.05, "first_spike_time")
    values = torch.tensor(result.values, requires_grad=True)
    readout_loss(values, labels, loss).backward()
    exact = continuous_gradient(result, values.grad.numpy())
    out = {}
    for dt in dts:
        x, net, scales = discretize_continuous(layers, spikes, 0.05, dt)
        net = [(w.clone().requires_grad_(), b, r, p) for w, b, r, p in net]
        value = readout_loss(eventprop_forward(x, net, loss).readout, labels, loss)
        grads = torch.autograd.grad(value, [net[0][0], net[1][0]])
        cos = []
        for k in range(2):
            a, b = grads[k].numpy().ravel() * scales[k][0], exact[k][0].ravel()
            cos.append(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
        out[dt] = cos
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=10)
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(0)
    fd = {}
    print("continuous EventProp vs central differences (max relative error over networks)")
    for loss in LOSSES:
        for rec in (False, True):
            errors = [
                fd_error(*network(s, KINDS[loss], rec, 1.0, 10), loss, rng)
                for s in range(args.networks)
            ]
            fd[f"{loss}/{'recurrent' if rec else 'feedforward'}"] = float(np.max(errors))
            print(f"  {loss:12s} {'recurrent' if rec else 'feedforward':12s} {np.max(errors):.1e}")
    dts = (2.5e-4, 1.25e-4, 6.25e-5, 3.125e-5, 1.5625e-5)
    conv = {}
    print("euler engine vs continuous gradient (median relative error over networks)")
    print("  dt [us]          " + " ".join(f"{dt * 1e6:8.1f}" for dt in dts))
    for loss in LOSSES:
        rows = {"eventprop": [], "frozen spikes": []}
        for s in range(args.networks):
            layers, spikes = network(s, KINDS[loss], s % 2 == 1, 0.6, 6)
            value, result, values = continuous(layers, spikes, loss)
            value.backward()
            exact = flat(continuous_gradient(result, values.grad.numpy()))
            for name, frozen in (("eventprop", False), ("frozen spikes", True)):
                rows[name].append(
                    [
                        np.linalg.norm(flat(discrete(layers, spikes, loss, dt, frozen)) - exact)
                        / np.linalg.norm(exact)
                        for dt in dts
                    ]
                )
        for name, errs in rows.items():
            med = np.median(np.array(errs), axis=0)
            conv[f"{loss}/{name}"] = [float(e) for e in med]
            print(f"  {loss:12s} {name:14s}" + " ".join(f"{e:8.3f}" for e in med))
    yy_dts = (2e-4, 1e-4, 5e-5, 2.5e-5)
    alignment = yinyang_alignment(yy_dts)
    print("Yin-Yang network at its initial weights: cosine (euler engine, continuous)")
    for dt, (hidden, output) in alignment.items():
        print(
            f"  dt {dt * 1e6:6.1f} us   hidden weights {hidden:.3f}   output weights {output:.3f}"
        )
    _common.emit(
        {
            "benchmark": "eventprop_gradients",
            "yinyang_cosine_hidden_output": {str(dt): c for dt, c in alignment.items()},
            "networks": args.networks,
            "fd_max_relative_error": fd,
            "dt": list(dts),
            "median_relative_error_vs_continuous": conv,
            **_common.machine(),
        }
    )


if __name__ == "__main__":
    main()
