"""Reference-simulator throughput against snnTorch inference of the same network.

Network: 100 spike inputs -> Linear -> 1,000 recurrent LIF neurons (dense 1,000 x 1,000 recurrent
Linear on last step's spikes) -> Linear -> 10 LIF outputs; 1,000 steps at dt = 1 ms, input spikes
with probability 0.05 per step. Both sides run one thread, float32 for snnTorch (its default) and
float64 for the reference; the snnTorch side is snn.Leaky (reset_delay=False, the reference's
discretization) in a Python time loop under torch.no_grad(), the way one runs inference there.

Prints a table, then one JSON line with ``speedup_vs_snntorch`` (reference neuron-steps per second
divided by snnTorch's, batch 1), the same at batch 64, and the raw throughputs.

Run: ``OMP_NUM_THREADS=1 python benchmarks/reference.py [--steps N] [--repeats R]``
"""

from __future__ import annotations

import argparse

import _common  # noqa: F401  (sets one thread before numpy/torch load)
import nir
import numpy as np

import nirbridge

N_IN, N_HID, N_OUT = 100, 1000, 10
DT, TAU = 1e-3, 20e-3


def network(seed: int = 0) -> tuple[nir.NIRGraph, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    w_in = rng.normal(0.3, 1.0, (N_HID, N_IN))
    w_rec = rng.normal(-0.01, 0.1, (N_HID, N_HID))
    w_out = rng.normal(0.0, 0.5, (N_OUT, N_HID))

    def lif(n: int) -> nir.LIF:
        return nir.LIF(
            tau=np.full(n, TAU),
            r=np.full(n, TAU / DT),
            v_leak=np.zeros(n),
            v_threshold=np.ones(n),
            v_reset=np.zeros(n),
        )

    nodes = {
        "input": nir.Input(input_type={"input": np.array([N_IN])}),
        "fc_in": nir.Linear(weight=w_in),
        "hidden": lif(N_HID),
        "rec": nir.Linear(weight=w_rec),
        "fc_out": nir.Linear(weight=w_out),
        "readout": lif(N_OUT),
        "output": nir.Output(output_type={"output": np.array([N_OUT])}),
    }
    edges = [
        ("input", "fc_in"),
        ("fc_in", "hidden"),
        ("hidden", "rec"),
        ("rec", "hidden"),
        ("hidden", "fc_out"),
        ("fc_out", "readout"),
        ("readout", "output"),
    ]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    return graph, {"w_in": w_in, "w_rec": w_rec, "w_out": w_out}


def snntorch_runner(weights: dict[str, np.ndarray], x: np.ndarray):
    import snntorch as snn
    import torch

    torch.set_num_threads(1)
    beta = 1.0 - DT / TAU
    fc_in = torch.nn.Linear(N_IN, N_HID, bias=False)
    rec = torch.nn.Linear(N_HID, N_HID, bias=False)
    fc_out = torch.nn.Linear(N_HID, N_OUT, bias=False)
    with torch.no_grad():  # input scaled by (dt/tau) * r = 1: the same network
        fc_in.weight.copy_(torch.as_tensor(weights["w_in"], dtype=torch.float32))
        rec.weight.copy_(torch.as_tensor(weights["w_rec"], dtype=torch.float32))
        fc_out.weight.copy_(torch.as_tensor(weights["w_out"], dtype=torch.float32))
    hidden = snn.Leaky(beta=beta, threshold=1.0, reset_mechanism="zero", reset_delay=False)
    readout = snn.Leaky(beta=beta, threshold=1.0, reset_mechanism="zero", reset_delay=False)
    xt = torch.as_tensor(x, dtype=torch.float32)

    def run() -> np.ndarray:
        with torch.no_grad():
            steps, batch = xt.shape[:2]
            mem_h = torch.zeros(batch, N_HID)
            mem_o = torch.zeros(batch, N_OUT)
            spk_h = torch.zeros(batch, N_HID)
            out = []
            for t in range(steps):
                spk_h, mem_h = hidden(fc_in(xt[t]) + rec(spk_h), mem_h)
                spk_o, mem_o = readout(fc_out(spk_h), mem_o)
                out.append(spk_o)
            return torch.stack(out).numpy()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    graph, weights = network()
    sim = nirbridge.ReferenceSimulator(graph, dt=DT, reset="zero")
    rng = np.random.default_rng(1)
    result: dict[str, object] = {
        "benchmark": "reference",
        "steps": args.steps,
        "neurons": N_HID + N_OUT,
        **_common.machine(),
    }
    print(f"{'batch':>5} {'reference':>16} {'snnTorch':>16} {'ratio':>7} {'rate':>6}")
    for batch in (1, 64):
        x = (rng.random((args.steps, batch, N_IN)) < 0.05).astype(np.float64)
        ref_s = _common.median_seconds(
            lambda x=x: sim.run({"input": x}, batched=True), args.repeats
        )
        snn_run = snntorch_runner(weights, x)
        snn_s = _common.median_seconds(snn_run, args.repeats)
        rate = float(
            sim.run({"input": x}, batched=True, record=["hidden"]).recorded["hidden"].mean()
        )
        work = (N_HID + N_OUT) * args.steps * batch
        ref_rate, snn_rate = work / ref_s, work / snn_s
        ratio = ref_rate / snn_rate
        print(
            f"{batch:>5} {ref_rate:>12.3g} n·s/s {snn_rate:>10.3g} n·s/s {ratio:>6.2f}x "
            f"{rate:>6.3f}"
        )
        suffix = "" if batch == 1 else f"_batch{batch}"
        result[f"speedup_vs_snntorch{suffix}"] = round(ratio, 3)
        result[f"reference_neuron_steps_per_s{suffix}"] = round(ref_rate)
        result[f"snntorch_neuron_steps_per_s{suffix}"] = round(snn_rate)
        result[f"hidden_spike_rate{suffix}"] = round(rate, 4)
    _common.emit(result)


if __name__ == "__main__":
    main()
