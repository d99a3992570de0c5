"""Training-kernel speed and memory: one recurrent LIF layer, forward + backward (BPTT).

Model: ``--inputs`` Bernoulli spike inputs (probability ``--rate`` per step) -> dense weights ->
256 recurrent LIF neurons (dense 256 x 256 recurrent weights on last step's spikes), 1,000
steps at dt = 1 ms (tau_mem = 20 ms, threshold 1, reset by subtraction), batch 64, float32,
fast-sigmoid surrogate (slope 25). The input weights are drawn so that about 9 % of the hidden
entries spike. Loss: the spike counts (summed over steps and batch) dotted with a fixed random
vector, so every implementation backpropagates the same dense gradient.

Configurations, all timed in this process, one thread: one warm-up each, then ``--repeats``
rounds in which every configuration runs once (round robin, so that load from other work on the
machine falls on all of them alike); the figures are medians of the CPU time per forward+backward
(``time.process_time``; wall-clock medians are reported too):

- ``ours``: :func:`nirbridge.training.kernels.run_layer` with ``impl="auto"``, and each
  implementation by name (``script``, ``eager``, ``compile``);
- ``eager``: the same equations as a plain eager loop through torch autograd (the input
  projection ``x[t] @ W.T`` per step, as one writes it);
- ``snntorch``: snnTorch 1.0 ``RLeaky(all_to_all=True, reset_delay=False)`` after an
  ``nn.Linear``, with snnTorch's fast-sigmoid surrogate of the same slope;
- ``norse``: Norse ``LIFRecurrent`` (a current-based LIF: one more state than ours) with the
  same weights, dt = 1 ms.

Memory: each configuration runs once more in a fresh subprocess, which reports its peak
resident set size during one forward+backward (the kernel's high-water mark ``VmHWM``, reset
first) minus its resident size before it, after setup (imports, data, weights, and a tiny
warm-up run that scripts/compiles): the memory one forward+backward adds. Linux only.

Prints a table, then one JSON line with ``speedup_vs_snntorch``, ``speedup_vs_eager`` (CPU-time
ratios; ``..._wall`` the wall-clock ones), ``memory_ratio_vs_eager`` (ours over eager autograd)
and the raw figures.

Run: ``OMP_NUM_THREADS=1 python benchmarks/kernels.py [--repeats R] [--skip-memory]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _common  # noqa: F401  (sets one thread before numpy/torch load)
import torch

from nirbridge.training import LayerParams
from nirbridge.training.kernels import IMPLS, default_impl, run_layer
from nirbridge.training.surrogates import SurrogateFunction

STEPS, BATCH, HIDDEN = 1000, 64, 256
DT, TAU, THRESHOLD, SLOPE = 1e-3, 20e-3, 1.0, 25.0
CONFIGS = ("ours", *(f"ours:{impl}" for impl in IMPLS), "eager", "snntorch", "norse")


def problem(n_in: int, rate: float, steps: int = STEPS, batch: int = BATCH, seed: int = 0):
    """Input spikes, weights, and the loss vector (float32)."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(steps, batch, n_in, generator=gen) < rate).float()
    # mean input per step 0.11 (0.05 * 100 inputs * 0.022; threshold 1, tau 20 steps):
    # with the recurrence, about 9 % of the hidden entries spike (the benchmark prints it)
    w = torch.randn(HIDDEN, n_in, generator=gen) * 0.1 + 2.2 / n_in
    w_rec = torch.randn(HIDDEN, HIDDEN, generator=gen) / HIDDEN**0.5 * 0.3
    g = torch.randn(HIDDEN, generator=gen)
    return x, w, w_rec, g


def runner(name: str, x: torch.Tensor, w: torch.Tensor, w_rec: torch.Tensor, g: torch.Tensor):
    """A function doing one forward + backward of configuration ``name``; returns the spikes."""
    w = w.clone().requires_grad_()
    w_rec = w_rec.clone().requires_grad_()
    beta = 1.0 - DT / TAU
    if name.startswith("ours"):
        impl = name.partition(":")[2] or "auto"
        params = LayerParams(kind="lif", dt=DT, tau_mem=TAU, threshold=THRESHOLD)
        surrogate = SurrogateFunction.fast_sigmoid(SLOPE)

        def run():
            out = run_layer(x, w, None, w_rec, params, surrogate, impl=impl)
            (out.sum((0, 1)) @ g).backward()
            return out

        return run
    if name == "eager":
        surrogate = SurrogateFunction.fast_sigmoid(SLOPE)

        def run():
            v = x.new_zeros(x.shape[1], HIDDEN)
            z = v
            spikes = []
            for t in range(x.shape[0]):
                v = beta * v + x[t] @ w.T + z @ w_rec.T
                z = surrogate.spike(v - THRESHOLD)
                v = v - z * THRESHOLD
                spikes.append(z)
            out = torch.stack(spikes)
            (out.sum((0, 1)) @ g).backward()
            return out

        return run
    if name == "snntorch":
        import snntorch as snn
        from snntorch import surrogate

        fc = torch.nn.Linear(x.shape[2], HIDDEN, bias=False)
        lif = snn.RLeaky(
            beta=beta,
            threshold=THRESHOLD,
            all_to_all=True,
            linear_features=HIDDEN,
            reset_mechanism="subtract",
            reset_delay=False,
            spike_grad=surrogate.fast_sigmoid(slope=SLOPE),
        )
        with torch.no_grad():
            fc.weight.copy_(w)
            lif.recurrent.weight.copy_(w_rec)
            lif.recurrent.bias.zero_()

        def run():
            spk, mem = lif.reset_mem()
            spikes = []
            for t in range(x.shape[0]):
                spk, mem = lif(fc(x[t]), spk, mem)
                spikes.append(spk)
            out = torch.stack(spikes)
            (out.sum((0, 1)) @ g).backward()
            return out

        return run
    if name == "norse":
        import norse.torch as norse

        p = norse.LIFParameters(
            tau_syn_inv=torch.tensor(1 / 5e-3),
            tau_mem_inv=torch.tensor(1 / TAU),
            v_th=torch.tensor(THRESHOLD),
            method="super",
            alpha=torch.tensor(SLOPE),
        )
        layer = norse.LIFRecurrent(x.shape[2], HIDDEN, p=p, dt=DT)
        with torch.no_grad():
            layer.input_weights.copy_(w * 5.0)  # current-based: the input enters through i
            layer.recurrent_weights.copy_(w_rec * 5.0)

        def run():
            out, _ = layer(x)
            (out.sum((0, 1)) @ g).backward()
            return out

        return run
    raise ValueError(name)


def _status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process, in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_child(name: str, n_in: int, rate: float) -> None:
    """Subprocess side: warm up on a tiny problem, then one full forward+backward; prints the
    peak resident size during it minus the resident size before it. (The peak is the kernel's
    high-water mark, reset to the current size first through /proc/self/clear_refs; getrusage's
    ru_maxrss would not do: it survives exec, so it starts at the parent's size.)"""
    torch.set_num_threads(1)
    tiny = problem(n_in, rate, steps=5, batch=2)
    runner(name, *tiny)()
    data = problem(n_in, rate)
    run = runner(name, *data)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark to the current resident size
    base = _status_mb("VmRSS")
    run()
    print(json.dumps({"peak_mb": _status_mb("VmHWM") - base}))


def peak_memory(name: str, n_in: int, rate: float) -> float:
    cmd = [sys.executable, str(Path(__file__)), "--memory-of", name]
    cmd += ["--inputs", str(n_in), "--rate", str(rate)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--inputs", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-of", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        memory_child(args.memory_of, args.inputs, args.rate)
        return
    torch.set_num_threads(1)
    data = problem(args.inputs, args.rate)
    runs = {name: runner(name, *data) for name in CONFIGS}
    rates = {name: float(run().detach().mean()) for name, run in runs.items()}  # warm-up
    wall: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for _ in range(args.repeats):  # round robin: load from other work falls on all alike
        for name, run in runs.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    seconds = {name: statistics.median(v) for name, v in cpu.items()}
    wall_seconds = {name: statistics.median(v) for name, v in wall.items()}
    memory: dict[str, float] = {}
    if not args.skip_memory:
        memory = {name: peak_memory(name, args.inputs, args.rate) for name in CONFIGS}
    print(f"{'configuration':>16} {'CPU s':>8} {'wall s':>8} {'spike rate':>11} {'peak MB':>9}")
    for name in CONFIGS:
        mem = f"{memory[name]:>9.1f}" if name in memory else f"{'-':>9}"
        print(
            f"{name:>16} {seconds[name]:>8.4f} {wall_seconds[name]:>8.4f} {rates[name]:>11.4f} "
            f"{mem}"
        )
    result: dict[str, object] = {
        "benchmark": "kernels",
        "steps": STEPS,
        "batch": BATCH,
        "hidden": HIDDEN,
        "inputs": args.inputs,
        "input_rate": args.rate,
        "default_impl": default_impl(),
        "hidden_spike_rate": round(rates["ours"], 4),
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "wall_seconds": {k: round(v, 4) for k, v in wall_seconds.items()},
        "speedup_vs_snntorch_wall": round(wall_seconds["snntorch"] / wall_seconds["ours"], 3),
        "speedup_vs_eager_wall": round(wall_seconds["eager"] / wall_seconds["ours"], 3),
        "speedup_vs_snntorch": round(seconds["snntorch"] / seconds["ours"], 3),
        "speedup_vs_eager": round(seconds["eager"] / seconds["ours"], 3),
        "speedup_vs_norse": round(seconds["norse"] / seconds["ours"], 3),
        "impl_seconds": {impl: round(seconds[f"ours:{impl}"], 4) for impl in IMPLS},
        **_common.machine(),
    }
    if memory:
        result["peak_mb"] = {k: round(v, 1) for k, v in memory.items()}
        result["memory_ratio_vs_eager"] = round(memory["ours"] / memory["eager"], 3)
        result["memory_basis"] = "peak RSS (VmHWM) over RSS after setup, fresh process each"
    _common.emit(result)


if __name__ == "__main__":
    main()
