"""NIR -> PyNN on NEST: build cost against a hand-written PyNN script, memory at 10M synapses,
and simulation speed of the converted Braille network against the reference and snnTorch.

Figures (last line, JSON):
- ``build_ratio_1m``: seconds to convert and build Input(1000) -> Linear(1000x1000, dense,
  mixed signs) -> LIF(1000) with ``to_pynn``, over the seconds a hand-written PyNN script takes
  to build the same network with ArrayConnector (excitatory and inhibitory projections, as PyNN
  needs them), median of repeats; both on NEST, one thread.
- ``peak_rss_gb_10m``: peak resident memory (GiB) of a process that converts and builds
  Input(2000) -> Linear(5000x2000) -> LIF(5000), 10M synapses.
- ``nest_vs_reference`` / ``nest_vs_snntorch``: run time of the converted Braille network
  (braille_noDelay_bias_zero.nir, reset zero, 256 steps, one sample; NEST's run excludes the
  build) as a speed ratio: the peer's seconds over NEST's seconds (> 1: NEST is faster).

Run: ``OMP_NUM_THREADS=1 python benchmarks/pynn_build.py [--repeats R] [--skip-10m]``
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import _common
import nir
import numpy as np

os.environ.setdefault("PYNEST_QUIET", "1")
warnings.simplefilter("ignore")
import nirbridge  # noqa: E402
from nirbridge.converters.pynn import to_pynn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BRAILLE = ROOT / "tests" / "fixtures" / "nir-paper" / "03_rnn" / "braille_noDelay_bias_zero.nir"
DT, TAU = 1e-3, 20e-3


def dense_graph(n_in: int, n_out: int, seed: int = 0) -> tuple[nir.NIRGraph, np.ndarray]:
    w = np.random.default_rng(seed).normal(0.0, 0.5, (n_out, n_in))
    lif = nir.LIF(
        tau=np.full(n_out, TAU),
        r=np.full(n_out, TAU / DT),
        v_leak=np.zeros(n_out),
        v_threshold=np.ones(n_out),
        v_reset=np.zeros(n_out),
    )
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n_in])}),
            "fc": nir.Linear(weight=w),
            "lif": lif,
            "output": nir.Output(output_type={"output": np.array([n_out])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        type_check=False,
    )
    return graph, w


def build_converted(sim, graph) -> float:
    start = time.perf_counter()
    net = to_pynn(graph, sim, dt=DT, reset="zero")
    seconds = time.perf_counter() - start
    net.close()
    return seconds


def build_by_hand(sim, w: np.ndarray) -> float:
    """What a PyNN user writes for the same network (native iaf_psc_delta, ArrayConnector)."""
    start = time.perf_counter()
    sim.setup(timestep=1.0, min_delay=1.0, spike_precision="on_grid")
    n_out, n_in = w.shape
    src = sim.Population(n_in, sim.SpikeSourceArray(spike_times=[]))
    cell = sim.native_cell_type("iaf_psc_delta")
    post = sim.Population(
        n_out,
        cell(tau_m=-1.0 / np.log(1 - DT / TAU), E_L=0.0, V_th=1.0, V_reset=0.0, C_m=1.0, t_ref=0.0),
    )
    native = (w.T * (DT / TAU) * (TAU / DT)) * 1e-3
    for receptor, mask in (("excitatory", native > 0), ("inhibitory", native < 0)):
        sim.Projection(
            src,
            post,
            sim.ArrayConnector(mask),
            sim.StaticSynapse(weight=np.where(mask, native, 0.0), delay=1.0),
            receptor_type=receptor,
        )
    seconds = time.perf_counter() - start
    sim.end()
    return seconds


def braille_speed(sim, repeats: int) -> dict[str, float]:
    graph = nirbridge.read(BRAILLE)
    x = (np.random.default_rng(0).random((256, 12)) < 0.1).astype(float)
    ref_s = _common.median_seconds(
        lambda: nirbridge.simulate(graph, {"input": x}, dt=1e-4, reset="zero"), repeats
    )
    nest_times = []
    for _ in range(repeats):
        net = to_pynn(graph, sim, dt=1e-4, reset="zero", approximate=True)
        start = time.perf_counter()
        net.run({"input": x})
        nest_times.append(time.perf_counter() - start)
        net.close()
    nest_s = float(np.median(nest_times))
    snn_s = _common.median_seconds(snntorch_braille(graph, x), repeats)
    return {"reference_s": ref_s, "nest_s": nest_s, "snntorch_s": snn_s}


def snntorch_braille(graph: nir.NIRGraph, x: np.ndarray):
    """snnTorch inference of the Braille network: synaptic current and membrane as snn.Leaky
    (the membrane resetting to zero right after a spike), float32, one thread."""
    import snntorch as snn
    import torch

    torch.set_num_threads(1)
    n = graph.nodes
    dt = 1e-4

    def layer(node):
        a_s, a = dt / node.tau_syn, dt / node.tau_mem
        syn = snn.Leaky(beta=torch.tensor(1 - a_s, dtype=torch.float32), reset_mechanism="none")
        mem = snn.Leaky(
            beta=torch.tensor(1 - a, dtype=torch.float32),
            threshold=1.0,
            reset_mechanism="zero",
            reset_delay=False,
        )
        scale_in = torch.tensor(a_s * node.w_in, dtype=torch.float32)
        scale_mem = torch.tensor(a * node.r, dtype=torch.float32)
        return syn, mem, scale_in, scale_mem

    def linear(node):
        w = torch.tensor(node.weight, dtype=torch.float32)
        b = torch.tensor(getattr(node, "bias", np.zeros(w.shape[0])), dtype=torch.float32)
        return w, b

    l1, l2 = layer(n["lif1.lif"]), layer(n["lif2"])
    (w1, b1), (wr, br), (w2, b2) = linear(n["fc1"]), linear(n["lif1.w_rec"]), linear(n["fc2"])
    xt = torch.tensor(x, dtype=torch.float32)

    def run():
        with torch.no_grad():
            s1 = m1 = s2 = m2 = torch.zeros(w1.shape[0])
            s2 = m2 = torch.zeros(w2.shape[0])
            z1 = torch.zeros(w1.shape[0])
            rec = torch.zeros(w1.shape[0])
            for t in range(xt.shape[0]):
                cur = xt[t] @ w1.T + b1 + rec
                _, s1 = l1[0](l1[2] * cur, s1)
                z1, m1 = l1[1](l1[3] * s1, m1)
                rec = z1 @ wr.T + br
                _, s2 = l2[0](l2[2] * (z1 @ w2.T + b2), s2)
                _, m2 = l2[1](l2[3] * s2, m2)

    return run


def peak_rss_10m() -> float:
    """Build 10M synapses in a fresh process and report its peak RSS in GiB."""
    here = str(Path(__file__).parent)
    code = (
        f"import sys, os, resource, warnings; sys.path.insert(0, {here!r}); "
        "os.environ['PYNEST_QUIET']='1'; warnings.simplefilter('ignore'); "
        "import pyNN.nest as sim; import pynn_build as b; g, w = b.dense_graph(2000, 5000); "
        "b.build_converted(sim, g); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=3600
    )
    return int(out.stdout.strip().splitlines()[-1]) / 2**20  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-10m", action="store_true")
    args = parser.parse_args()
    import pyNN.nest as sim

    graph, w = dense_graph(1000, 1000)
    ours = [build_converted(sim, graph) for _ in range(args.repeats)]
    hand = [build_by_hand(sim, w) for _ in range(args.repeats)]
    build_ratio = float(np.median(ours) / np.median(hand))
    print(
        f"build 1M synapses: to_pynn {np.median(ours):.2f} s, by hand {np.median(hand):.2f} s "
        f"-> ratio {build_ratio:.2f}"
    )
    speed = braille_speed(sim, args.repeats)
    print(
        f"Braille, 256 steps: NEST {speed['nest_s'] * 1e3:.1f} ms, reference "
        f"{speed['reference_s'] * 1e3:.1f} ms, snnTorch {speed['snntorch_s'] * 1e3:.1f} ms"
    )
    result = {
        "benchmark": "pynn_build",
        **_common.machine(),
        "build_ratio_1m": round(build_ratio, 3),
        "build_s_1m_converted": round(float(np.median(ours)), 3),
        "build_s_1m_by_hand": round(float(np.median(hand)), 3),
        "nest_vs_reference": round(speed["reference_s"] / speed["nest_s"], 3),
        "nest_vs_snntorch": round(speed["snntorch_s"] / speed["nest_s"], 3),
        "self_peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
    }
    if not args.skip_10m:
        result["peak_rss_gb_10m"] = round(peak_rss_10m(), 3)
        print(f"10M synapses: peak RSS {result['peak_rss_gb_10m']:.2f} GiB")
    _common.emit(result)


if __name__ == "__main__":
    main()
