"""What a learning rule needs to know about the graph it is checked against."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import nir
import numpy as np

from ..graph import SPIKING_TYPES, infer_shapes, inline_subgraphs, time_scale, type_name

#: Node types holding a weight matrix a rule can make plastic.
WEIGHT_TYPES = frozenset({"Affine", "Linear", "Conv1d", "Conv2d"})
#: Weight node types with one weight per (pre, post) pair: what synapse-local rules
#: (STDP, Lava's learning engine) can learn.
DENSE_TYPES = frozenset({"Affine", "Linear"})
#: Node types with a membrane voltage.
VOLTAGE_TYPES = frozenset({"LI", "LIF", "CubaLI", "CubaLIF", "IF", "I"})
#: Spiking neurons with a leak, as gradient-based rules (EventProp, e-prop) model them.
LEAKY_SPIKING_TYPES = frozenset({"LIF", "CubaLIF"})
#: Leaky integrators: the readouts of e-prop.
INTEGRATOR_TYPES = frozenset({"LI", "CubaLI"})


class GraphView:
    """A flat view of a graph (subgraphs inlined: nested nodes are named ``"sub.node"``).

    Args:
        graph: The NIR graph the rule belongs to.
    """

    def __init__(self, graph: nir.NIRGraph) -> None:
        self.graph = graph
        self.flat = inline_subgraphs(graph)
        self.nodes: Mapping[str, nir.NIRNode] = self.flat.nodes
        self.edges: list[tuple[str, str]] = [tuple(e) for e in self.flat.edges]  # type: ignore[misc]
        self.edge_set = set(self.edges)
        self.types = {name: type_name(node) for name, node in self.nodes.items()}
        self.top_inputs = [n for n, node in graph.nodes.items() if type_name(node) == "Input"]
        self._shapes: dict[str, tuple[int, ...]] | None = None

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Output shape of every node (computed on first use)."""
        if self._shapes is None:
            self._shapes = infer_shapes(self.flat)
        return self._shapes

    def size(self, name: str) -> int:
        """Number of elements of a node's output."""
        return int(math.prod(self.shapes[name]))

    def successors(self, name: str) -> list[str]:
        return [b for a, b in self.edges if a == name]

    def predecessors(self, name: str) -> list[str]:
        return [a for a, b in self.edges if b == name]

    def posts(self, name: str) -> list[str]:
        """The nodes ``name`` feeds, looking through pass-through Identity nodes (what is left
        of a subgraph's Input and Output nodes in the flat graph)."""
        return self._through(name, self.successors)

    def pres(self, name: str) -> list[str]:
        """The nodes feeding ``name`` (itself when it is not a pass-through), looking back
        through pass-through Identity nodes."""
        if self.types.get(name) != "Identity":
            return [name]
        return self._through(name, self.predecessors)

    def _through(self, name: str, step: Any) -> list[str]:
        out: list[str] = []
        seen = {name}
        todo = list(step(name))
        while todo:
            node = todo.pop(0)
            if node in seen:
                continue
            seen.add(node)
            if self.types.get(node) == "Identity":
                todo.extend(step(node))
            else:
                out.append(node)
        return out

    def is_spiking(self, name: str) -> bool:
        return self.types.get(name) in SPIKING_TYPES

    def weight(self, name: str) -> np.ndarray:
        return np.asarray(self.nodes[name].weight)

    def bias(self, name: str) -> np.ndarray | None:
        bias = getattr(self.nodes[name], "bias", None)
        return None if bias is None else np.asarray(bias)

    def seconds(self) -> float:
        """Seconds per unit of the graph's stored time constants."""
        return time_scale(self.graph)

    def time_constant(self, name: str) -> np.ndarray | None:
        """A leaky node's membrane time constant in seconds, or None if it has none."""
        node = self.nodes[name]
        tau: Any = getattr(node, "tau", None)
        if tau is None:
            tau = getattr(node, "tau_mem", None)
        if tau is None:
            return None
        return np.asarray(tau, dtype=np.float64) * self.seconds()


__all__ = [
    "DENSE_TYPES",
    "GraphView",
    "INTEGRATOR_TYPES",
    "LEAKY_SPIKING_TYPES",
    "VOLTAGE_TYPES",
    "WEIGHT_TYPES",
]
