"""How a NIR graph becomes populations and projections on an event-driven simulator.

This module is pure numpy: it decides, once, what SEMANTICS.md's mapping asks for, and every
PyNN backend builds from the plan. Populations are the neuron nodes and the Input nodes; each path
of linear nodes between two of them (Affine, Linear, Scale, Flatten, Conv, pooling) becomes one
projection whose weights are the composed matrix; the biases on a path become a constant input of
its target. Each population gets a depth (Inputs 0; otherwise the longest chain of forward
projections from an Input) and each projection a delay in steps: ``depth(post) - depth(pre)``
forward, ``1 + depth(post) - depth(pre)`` on a back edge. Every population then lags the reference
by its depth, so an Output fed by a population at depth d is read d steps late.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import nir
import numpy as np
import scipy.sparse as sp

from nirbridge._errors import UnsupportedError
from nirbridge.graph import (
    NEURON_TYPES,
    SPIKING_TYPES,
    compose,
    infer_shapes,
    inline_subgraphs,
    linear_chains,
    type_name,
)

TARGET = "pynn"


@dataclasses.dataclass(frozen=True)
class PopulationPlan:
    """One population: a neuron node, or the spike sources of an Input node.

    Attributes:
        name: The NIR node name.
        kind: "Input" or the neuron type ("LIF", "IF", "CubaLIF", "LI", "I", "CubaLI").
        shape: The node's shape (no batch); the population has ``prod(shape)`` cells, in C order.
        depth: Longest chain of forward projections from an Input (Inputs: 0).
        bias: Constant input per step into each cell (sum of the biases of the forward linear
            paths that end here), in the units of the node's input ``x``; zeros when none.
        recurrent_bias: The same for paths through a back edge, which by SEMANTICS.md carry
            nothing in the first step, so their bias starts one step later.
        node: The NIR node (None for Inputs).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    depth: int
    bias: np.ndarray
    recurrent_bias: np.ndarray
    node: nir.NIRNode | None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def spiking(self) -> bool:
        return self.kind in SPIKING_TYPES or self.kind == "Input"


@dataclasses.dataclass(frozen=True)
class ProjectionPlan:
    """One projection: the composed weights of a linear path between two populations.

    Attributes:
        source: Presynaptic population (NIR node name).
        target: Postsynaptic population.
        chain: The linear nodes composed into it, in order.
        weights: Sparse ``(target size, source size)`` matrix, in the units of the target node's
            input ``x`` per presynaptic spike.
        delay: Delay in steps (>= 1).
        recurrent: Whether the path contains a back edge.
    """

    source: str
    target: str
    chain: tuple[str, ...]
    weights: sp.csr_matrix
    delay: int
    recurrent: bool

    @property
    def n_synapses(self) -> int:
        return int(self.weights.nnz)


@dataclasses.dataclass(frozen=True)
class OutputPlan:
    """An Output node: which population it reads and how many steps late."""

    name: str
    source: str
    shape: tuple[int, ...]
    lag: int


@dataclasses.dataclass(frozen=True)
class NetworkPlan:
    """Populations, projections and outputs, with each population's synaptic lag (steps from
    delivery to effect) and the approximations taken (empty when the plan is exact)."""

    populations: dict[str, PopulationPlan]
    projections: tuple[ProjectionPlan, ...]
    outputs: dict[str, OutputPlan]
    synaptic_lag: dict[str, int]
    approximations: tuple[str, ...]

    @property
    def n_synapses(self) -> int:
        return sum(p.n_synapses for p in self.projections)

    @property
    def max_depth(self) -> int:
        return max((p.depth for p in self.populations.values()), default=0)


def plan_network(
    graph: nir.NIRGraph,
    *,
    synaptic_lag: Callable[[str], int] = lambda kind: 0,
    approximate: bool = False,
) -> NetworkPlan:
    """Plan the populations, projections and output lags of ``graph``.

    Args:
        graph: The NIR graph.
        synaptic_lag: Steps between the delivery of a spike and its effect on the voltage, per
            neuron type on the target simulator (0 for delta synapses, 1 for exponential
            synapses, whose current jumps at the end of the delivery step). A population's depth
            is at least its predecessor's plus one plus its own lag.
        approximate: Where a back edge would need a delay below one step, use one step (the
            recurrence then acts one step late) and list it in ``NetworkPlan.approximations``,
            instead of failing.

    Raises:
        UnsupportedError: a construct an event-driven simulator cannot reproduce, named by node
            (Delay and Threshold nodes, non-spiking neurons feeding other neurons, Outputs fed
            by linear nodes or by several populations, back edges that would need a delay
            below one step).
    """
    flat = inline_subgraphs(graph)
    shapes = infer_shapes(flat)
    nodes = flat.nodes
    for name, node in nodes.items():
        kind = type_name(node)
        if kind in ("Delay", "Threshold"):
            raise UnsupportedError(
                f"{kind} nodes are not supported on PyNN targets yet", node=name, target=TARGET
            )
    chains = linear_chains(flat)
    outputs: dict[str, OutputPlan] = {}
    feeds: list = []
    for chain in chains:
        tgt_kind = type_name(nodes[chain.target])
        src_kind = type_name(nodes[chain.source])
        if tgt_kind == "Output":
            if chain.nodes:
                raise UnsupportedError(
                    "an Output fed through linear nodes cannot be read from a population; "
                    "end the graph with a neuron",
                    node=chain.target,
                    target=TARGET,
                )
            if chain.target in outputs:
                raise UnsupportedError(
                    "an Output fed by several nodes is not supported",
                    node=chain.target,
                    target=TARGET,
                )
            outputs[chain.target] = OutputPlan(
                chain.target, chain.source, shapes[chain.source], lag=0
            )
            continue
        if tgt_kind not in NEURON_TYPES:
            raise UnsupportedError(
                f"a {tgt_kind} node cannot receive a projection",
                node=chain.target,
                target=TARGET,
            )
        if src_kind in NEURON_TYPES and src_kind not in SPIKING_TYPES:
            raise UnsupportedError(
                f"{src_kind} neurons output a voltage, which a spiking simulator cannot send "
                "along a projection; only Output nodes may read them",
                node=chain.source,
                target=TARGET,
            )
        feeds.append(chain)

    lag = {n: synaptic_lag(type_name(node)) for n, node in nodes.items()}
    depth = _depths(nodes, feeds, lag)
    approximations: list[str] = []
    biases = {n: np.zeros(int(np.prod(shapes[n]))) for n in nodes if n in depth}
    recurrent_biases = {n: np.zeros_like(b) for n, b in biases.items()}
    projections = []
    for chain in feeds:
        composed = compose(flat, chain, shapes=shapes)
        (recurrent_biases if chain.recurrent else biases)[chain.target] += composed.bias
        delay = depth[chain.target] - depth[chain.source] - lag[chain.target]
        if chain.recurrent:
            delay += 1
        if delay < 1 and approximate:
            approximations.append(
                f"back edge {chain.source!r} -> {chain.target!r} needs a delay of {delay} steps; "
                "using 1 (the recurrence acts late)"
            )
            delay = 1
        if delay < 1:
            raise UnsupportedError(
                f"the back edge from {chain.source!r} would need a delay of {delay} steps "
                "(below one) to reproduce the reference on an event-driven simulator",
                node=chain.target,
                target=TARGET,
            )
        weights = composed.matrix.tocsr()
        weights.eliminate_zeros()
        if weights.nnz:
            projections.append(
                ProjectionPlan(
                    chain.source, chain.target, chain.nodes, weights, delay, chain.recurrent
                )
            )
    populations = {
        name: PopulationPlan(
            name,
            type_name(nodes[name]),
            shapes[name],
            depth[name],
            biases[name],
            recurrent_biases[name],
            None if type_name(nodes[name]) == "Input" else nodes[name],
        )
        for name in depth
    }
    outputs = {k: dataclasses.replace(o, lag=depth[o.source]) for k, o in outputs.items()}
    return NetworkPlan(populations, tuple(projections), outputs, lag, tuple(approximations))


def _depths(nodes: dict[str, nir.NIRNode], feeds: list, lag: dict[str, int]) -> dict[str, int]:
    """Longest chain of forward projections from an Input, per population."""
    depth = {n: 0 for n, node in nodes.items() if type_name(node) == "Input"}
    members = set(depth) | {c.source for c in feeds} | {c.target for c in feeds}
    forward = [c for c in feeds if not c.recurrent]
    indegree = {m: 0 for m in members}
    for c in forward:
        indegree[c.target] += 1
    ready = [m for m in members if indegree[m] == 0]
    for m in ready:
        depth.setdefault(m, 0)
    while ready:
        m = ready.pop()
        for c in forward:
            if c.source == m:
                depth[c.target] = max(depth.get(c.target, 0), depth[m] + 1 + lag[c.target])
                indegree[c.target] -= 1
                if indegree[c.target] == 0:
                    ready.append(c.target)
    return depth
