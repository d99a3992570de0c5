"""Peak memory of one EventProp training step against BPTT through autograd, 10,000 steps.

The network: 50 Poisson inputs (20 Hz), 256 recurrent CubaLIF neurons (about 3 % of them spike
per step; ``--drive`` sets the input weights and so the rate), 10 CubaLI readout neurons,
batch 16, dt 1 ms, 10,000 steps, loss ``sum_voltage``; one forward and backward pass.
BPTT is eager torch autograd through the same euler step (the spike's derivative a fast sigmoid:
its value does not change what autograd stores). Each engine runs in a fresh subprocess; its peak
is the resident memory high-water mark (Linux VmHWM, reset just before the step through
/proc/self/clear_refs) minus the resident memory at that moment, so the input, the weights and
the libraries count for neither.

Usage: ``python benchmarks/eventprop_memory.py [--steps 10000]``; one JSON line at the end with
``eventprop_memory_ratio_10k`` (EventProp's peak / BPTT's).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (one thread before torch is imported)

BATCH, N_IN, N_HIDDEN, N_OUT, DT, RATE = 16, 50, 256, 10, 1e-3, 20.0


def _status(key: str) -> int:
    """A field of /proc/self/status in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status (Linux only)")


def _setup(steps: int, drive: float):
    import torch

    from nirbridge.training import LayerParams

    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(steps, BATCH, N_IN, generator=gen) < RATE * DT).float()
    hidden = LayerParams(kind="cubalif", dt=DT, tau_mem=20e-3, tau_syn=5e-3)
    readout = LayerParams(kind="cubali", dt=DT, tau_mem=20e-3, tau_syn=5e-3)
    w0 = (torch.randn(N_HIDDEN, N_IN, generator=gen) * 0.02 + drive).requires_grad_()
    rec = (torch.randn(N_HIDDEN, N_HIDDEN, generator=gen) * 0.002).requires_grad_()
    w1 = (torch.randn(N_OUT, N_HIDDEN, generator=gen) * 0.05).requires_grad_()
    labels = torch.arange(BATCH) % N_OUT
    layers = [(w0, None, rec, hidden), (w1, None, None, readout)]
    return x, layers, labels


class _FastSigmoidSpike:
    """Heaviside forward, fast-sigmoid derivative backward (for BPTT)."""

    @staticmethod
    def build():
        import torch

        class Spike(torch.autograd.Function):
            @staticmethod
            def forward(ctx, v):
                ctx.save_for_backward(v)
                return (v > 0).to(v.dtype)

            @staticmethod
            def backward(ctx, grad):
                (v,) = ctx.saved_tensors
                return grad / (10.0 * v.abs() + 1.0) ** 2

        return Spike


def _bptt_step(x, layers, labels) -> float:
    """Eager autograd through the euler step of _layers.py; returns the spike count."""
    import torch.nn.functional as F

    spike = _FastSigmoidSpike.build()
    (w0, _, rec, p0), (w1, _, _, p1) = layers
    batch = x.shape[1]
    i0 = v0 = z0 = x.new_zeros(batch, w0.shape[0])
    i1 = v1 = x.new_zeros(batch, w1.shape[0])
    total = x.new_zeros(batch, w1.shape[0])
    n_spikes = 0.0
    for t in range(x.shape[0]):
        i0 = p0.beta_syn * i0 + x[t] @ w0.t() + z0 @ rec.t()
        vp = p0.beta_mem * v0 + i0
        z0 = spike.apply(vp - p0.threshold)
        v0 = vp - z0 * p0.threshold
        i1 = p1.beta_syn * i1 + z0 @ w1.t()
        v1 = p1.beta_mem * v1 + i1
        total = total + v1
        n_spikes += float(z0.detach().sum())
    F.cross_entropy(total, labels).backward()
    return n_spikes


def _eventprop_step(x, layers, labels) -> float:
    from nirbridge.training.eventprop import eventprop_forward, readout_loss

    out = eventprop_forward(x, layers, "sum_voltage")
    from nirbridge.learning import Loss

    readout_loss(out.readout, labels, Loss(name="sum_voltage")).backward()
    return float(out.stored_events)


def child(engine: str, steps: int, drive: float) -> dict:
    """One forward + backward pass of ``engine``; its peak memory above the resting state."""
    x, layers, labels = _setup(steps, drive)
    run = _eventprop_step if engine == "eventprop" else _bptt_step
    run(x[:20], layers, labels)  # warm up: load every code path once
    for layer in layers:
        for t in layer[:3]:
            if t is not None:
                t.grad = None
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    resting = _status("VmRSS")
    start = time.perf_counter()
    spikes = run(x, layers, labels)
    seconds = time.perf_counter() - start
    peak = _status("VmHWM") - resting
    return {"engine": engine, "peak_bytes": peak, "seconds": seconds, "spikes": spikes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument(
        "--drive", type=float, default=0.012, help="mean input weight (0.012: ~3 %% spiking)"
    )
    parser.add_argument("--child", choices=("eventprop", "bptt"), default=None)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.steps, args.drive)))
        return
    results = {}
    for engine in ("eventprop", "bptt"):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--steps", str(args.steps)]
            + ["--drive", str(args.drive)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
    ep, bp = results["eventprop"], results["bptt"]
    mib = 1024.0**2
    _common.emit(
        {
            "benchmark": "eventprop_memory",
            "steps": args.steps,
            "input_weight_mean": args.drive,
            "batch": BATCH,
            "hidden": N_HIDDEN,
            "eventprop_peak_mib": round(ep["peak_bytes"] / mib, 1),
            "bptt_peak_mib": round(bp["peak_bytes"] / mib, 1),
            "eventprop_memory_ratio_10k": round(ep["peak_bytes"] / bp["peak_bytes"], 4),
            "eventprop_seconds": round(ep["seconds"], 2),
            "bptt_seconds": round(bp["seconds"], 2),
            "hidden_spikes": ep["spikes"],
            "hidden_spike_fraction": round(ep["spikes"] / (args.steps * BATCH * N_HIDDEN), 4),
            **_common.machine(),
        }
    )


if __name__ == "__main__":
    main()
