"""Composing chains of linear nodes (Affine, Linear, Scale, Flatten, Conv, pooling) into one
sparse matrix and a bias, as event-driven targets need them (one projection per chain)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import nir
import numpy as np
import scipy.sparse as sp

from .._errors import UnsupportedError
from . import _linear
from ._spec import LINEAR_TYPES, type_name
from ._validate import infer_shapes
from ._walk import back_edges


@dataclasses.dataclass(frozen=True)
class LinearChain:
    """A path ``source -> linear nodes... -> target`` between two non-linear nodes.

    Attributes:
        source: The node whose output enters the chain (a neuron, Input, Delay...).
        nodes: The linear nodes of the chain, in order (possibly none: a direct edge).
        target: The node the chain feeds.
        recurrent: Whether the chain contains a back edge (carries last step's output).
    """

    source: str
    nodes: tuple[str, ...]
    target: str
    recurrent: bool


@dataclasses.dataclass(frozen=True)
class ComposedLinear:
    """``y = matrix @ x.ravel() + bias`` for a chain; shapes without batch dimension."""

    matrix: sp.csr_matrix
    bias: np.ndarray
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


def linear_chains(graph: nir.NIRGraph) -> list[LinearChain]:
    """Every path through linear nodes between two non-linear nodes of a flat graph.

    Raises:
        UnsupportedError: a linear node sums several inputs (its bias would be counted once per
            path); insert the sum at a neuron instead.
    """

    def linear(n: str) -> bool:
        # Identity nodes (what inlined subgraphs leave of their Input and Output) pass through.
        return type_name(graph.nodes[n]) in LINEAR_TYPES | {"Identity"}

    preds: dict[str, list[str]] = {}
    succ: dict[str, list[str]] = {}
    for a, b in graph.edges:
        preds.setdefault(b, []).append(a)
        succ.setdefault(a, []).append(b)
    for name in graph.nodes:
        if linear(name) and len(preds.get(name, [])) > 1:
            raise UnsupportedError(
                "a linear node with several inputs cannot be composed into projections",
                node=name,
            )
    back = back_edges(graph)
    chains = []
    for source in graph.nodes:
        if linear(source):
            continue
        stack: list[tuple[str, tuple[str, ...], bool]] = [
            (b, (), (source, b) in back) for b in succ.get(source, [])
        ]
        while stack:
            node, path, rec = stack.pop(0)
            if linear(node):
                stack.extend(
                    (b, (*path, node), rec or (node, b) in back) for b in succ.get(node, [])
                )
            else:
                chains.append(LinearChain(source, path, node, rec))
    return chains


def compose(
    graph: nir.NIRGraph,
    chain: LinearChain,
    *,
    block: int = 512,
    dtype: type = np.float64,
    shapes: dict[str, tuple[int, ...]] | None = None,
) -> ComposedLinear:
    """The matrix and bias of ``chain``, found by probing the chain with unit vectors.

    Probing uses the same operators the reference simulator steps through, so the composition
    matches the simulation by construction; ``block`` unit vectors go through at a time.
    ``shapes`` (from :func:`infer_shapes`) saves inferring them again when composing many chains.
    """
    if shapes is None:
        shapes = infer_shapes(graph)
    in_shape = shapes[chain.source]
    out_shape = shapes[chain.nodes[-1]] if chain.nodes else in_shape
    ops = [(n, graph.nodes[n]) for n in chain.nodes]
    n_in = int(np.prod(in_shape))

    def run(x: np.ndarray) -> np.ndarray:
        for name, node in ops:
            x = _linear.apply(node, name, x)
        return x.reshape(x.shape[0], -1)

    bias = run(np.zeros((1, *in_shape), dtype=dtype))[0]
    rows, cols, vals = [], [], []
    for start in range(0, n_in, block):
        stop = min(start + block, n_in)
        probe = np.zeros((stop - start, n_in), dtype=dtype)
        probe[np.arange(stop - start), np.arange(start, stop)] = 1.0
        response = run(probe.reshape(-1, *in_shape)) - bias  # (k, n_out)
        k, j = np.nonzero(response)
        rows.append(j)
        cols.append(k + start)
        vals.append(response[k, j])
    matrix = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(bias.size, n_in),
    )
    return ComposedLinear(matrix, bias, tuple(in_shape), tuple(out_shape))


def compose_nodes(
    nodes: Sequence[tuple[str, nir.NIRNode]], in_shape: tuple[int, ...]
) -> ComposedLinear:
    """Compose an explicit sequence of linear nodes applied to inputs of shape ``in_shape``."""
    names = ["in"] + [n for n, _ in nodes]
    out_shape = tuple(in_shape)
    for name, node in nodes:
        out_shape = _linear.output_shape(node, name, out_shape)
    graph_nodes = {"in": nir.Input(input_type={"input": np.array(in_shape)})}
    graph_nodes.update(dict(nodes))
    graph_nodes["out"] = nir.Output(output_type={"output": np.array(out_shape)})
    edges = list(zip(names, names[1:], strict=False)) + [(names[-1], "out")]
    g = nir.NIRGraph(nodes=graph_nodes, edges=edges, type_check=False)
    return compose(g, LinearChain("in", tuple(names[1:]), "out", False))
