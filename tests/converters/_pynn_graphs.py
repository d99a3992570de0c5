"""Random LIF/IF/CubaLIF graphs for the PyNN backend tests, several simulated at once.

Each random network of ``tests/reference/_nets.py`` is an independent NIR graph; ``merge`` puts a
batch of them side by side in one graph (node names prefixed ``g<k>_``), so that one simulator
run checks the whole batch: the components share nothing, and each Output is compared with its
own graph's reference output.
"""

from __future__ import annotations

import dataclasses

import nir
import numpy as np

import nirbridge
from nirbridge.converters.pynn import to_pynn
from tests.reference._nets import Net, random_net, random_spikes, to_nir


@dataclasses.dataclass
class Case:
    net: Net
    graph: nir.NIRGraph
    x: np.ndarray  # (steps, n_in)


def random_cases(
    rng: np.random.Generator,
    count: int,
    *,
    kinds: tuple[str, ...],
    dt: float = 1e-3,
    steps: int = 60,
    p_in: float = 0.2,
    recurrent: bool = True,
    analog: bool = False,
) -> list[Case]:
    """``count`` random networks (feedback onto an earlier layer excluded: it needs a negative
    delay), with random spike inputs, or with ``analog`` real-valued inputs (normal, mean 0.5,
    deviation 0.5: both signs)."""
    cases = []
    while len(cases) < count:
        net = random_net(
            rng,
            dt=dt,
            p_in=p_in,
            v_leak=bool(rng.random() < 0.6),
            v_reset=bool(rng.random() < 0.6),
            bound_input=False,
            kinds=kinds,
        )
        if net.w_fb is not None:
            continue
        if not recurrent and any(layer.w_rec is not None for layer in net.layers):
            continue
        if analog:
            x = rng.normal(0.5, 0.5, (steps, net.n_in))
        else:
            x = random_spikes(rng, steps, 1, net.n_in, p_in)[:, 0]
        cases.append(Case(net, to_nir(net), x))
    return cases


def merge(graphs: list[nir.NIRGraph]) -> nir.NIRGraph:
    nodes, edges = {}, []
    for k, graph in enumerate(graphs):
        nodes.update({f"g{k}_{name}": node for name, node in graph.nodes.items()})
        edges += [(f"g{k}_{a}", f"g{k}_{b}") for a, b in graph.edges]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def run_batch(
    sim,
    cases: list[Case],
    *,
    dt: float = 1e-3,
    integrator: str = "euler",
    reset: str = "zero",
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(reference output, simulator output) per case, all cases in one simulation."""
    graph = merge([c.graph for c in cases])
    inputs = {f"g{k}_input": c.x for k, c in enumerate(cases)}
    with to_pynn(graph, sim, dt=dt, reset=reset, integrator=integrator) as net:
        out = net.run(inputs)
    pairs = []
    for k, case in enumerate(cases):
        ref = nirbridge.simulate(
            case.graph, {"input": case.x}, dt=dt, reset=reset, integrator=integrator
        )
        pairs.append((ref.outputs["output"], out[f"g{k}_output"]))
    return pairs


def agreement(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """(fraction of identical spikes, activity cosine similarity) over all pairs: identical
    spikes are spikes in the same step and channel, over the spikes of either raster."""
    ref = np.concatenate([a.ravel() for a, _ in pairs])
    out = np.concatenate([b.ravel() for _, b in pairs])
    both = float(np.sum((ref > 0) & (out > 0)))
    either = float(np.sum((ref > 0) | (out > 0)))
    cosine = float(ref @ out / (np.linalg.norm(ref) * np.linalg.norm(out)))
    return (both / either if either else 1.0), cosine
