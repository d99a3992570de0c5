"""Walking a NIR graph: subgraphs inlined, back edges, evaluation order, depths."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import nir

from .._errors import EdgeError

Edge = tuple[str, str]


def inline_subgraphs(graph: nir.NIRGraph, *, sep: str = ".") -> nir.NIRGraph:
    """A flat copy of ``graph``: every nested NIRGraph replaced by its nodes.

    A subgraph ``sub``'s node ``n`` becomes ``sub.n``. Edges into ``sub`` go to its Input node
    (``sub.<input>`` may name one of several), edges out of it leave its Output node. Its Input
    and Output nodes stay as pass-through nodes so that nothing is renamed silently.
    """
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[Edge] = []
    entry: dict[str, dict[str, str]] = {}  # subgraph -> {input name -> flat name}
    exit_: dict[str, dict[str, str]] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            flat = inline_subgraphs(node, sep=sep)
            for child, cnode in flat.nodes.items():
                full = f"{name}{sep}{child}"
                if full in graph.nodes:
                    raise EdgeError(
                        "inlining the subgraph would create a name that already exists",
                        node=full,
                    )
                nodes[full] = cnode
            edges.extend((f"{name}{sep}{a}", f"{name}{sep}{b}") for a, b in flat.edges)
            entry[name] = {k: f"{name}{sep}{k}" for k, n in flat.nodes.items() if _is(n, "Input")}
            exit_[name] = {k: f"{name}{sep}{k}" for k, n in flat.nodes.items() if _is(n, "Output")}
        else:
            nodes[name] = node

    def resolve(endpoint: str, table: dict[str, dict[str, str]], role: str) -> str:
        if endpoint in table:
            ports = table[endpoint]
            if len(ports) != 1:
                raise EdgeError(
                    f"subgraph has {len(ports)} {role} nodes; name one as '{endpoint}{sep}<node>'",
                    node=endpoint,
                )
            return next(iter(ports.values()))
        return endpoint

    for src, dst in graph.edges:
        edges.append((resolve(src, exit_, "Output"), resolve(dst, entry, "Input")))
    return nir.NIRGraph(
        nodes=nodes, edges=edges, metadata=dict(graph.metadata or {}), type_check=False
    )


def _is(node: nir.NIRNode, type_: str) -> bool:
    return type(node).__name__ == type_


def successors(edges: Iterable[Edge]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a, b in edges:
        out.setdefault(a, []).append(b)
    return out


def input_names(graph: nir.NIRGraph) -> list[str]:
    return [k for k, n in graph.nodes.items() if _is(n, "Input")]


def output_names(graph: nir.NIRGraph) -> list[str]:
    return [k for k, n in graph.nodes.items() if _is(n, "Output")]


def back_edges(graph: nir.NIRGraph) -> set[Edge]:
    """Edges that close a cycle, found by a depth-first walk from the Input nodes in edge order.

    This is the rule of SEMANTICS.md (and nirtorch's): a back edge carries its source's output of
    the previous step. Iterative, so deep graphs do not hit Python's recursion limit.
    """
    succ = successors(graph.edges)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[Edge] = set()
    for root in input_names(graph):
        if state.get(root):
            continue
        state[root] = 1
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack[-1]
            nxt = succ.get(node, [])
            if i < len(nxt):
                stack[-1] = (node, i + 1)
                child = nxt[i]
                s = state.get(child, 0)
                if s == 1:
                    back.add((node, child))
                elif s == 0:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
                stack.pop()
    return back


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How to step a graph: nodes in evaluation order and where each takes its input from.

    Attributes:
        order: Node names such that every forward predecessor comes first.
        forward: node -> predecessors whose output of the same step it sums.
        delayed: node -> predecessors (over back edges) whose output of the previous step it sums.
        back_edges: The back edges.
    """

    order: tuple[str, ...]
    forward: dict[str, tuple[str, ...]]
    delayed: dict[str, tuple[str, ...]]
    back_edges: frozenset[Edge]


def schedule(graph: nir.NIRGraph) -> Schedule:
    """Evaluation order of a flat graph (no nested NIRGraph), with back edges split off.

    Raises:
        EdgeError: a node cannot be reached from any Input node.
    """
    back = back_edges(graph)
    forward: dict[str, list[str]] = {k: [] for k in graph.nodes}
    delayed: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        (delayed if (a, b) in back else forward)[b].append(a)
    indegree = {k: len(v) for k, v in forward.items()}
    succ = successors(e for e in graph.edges if e not in back)
    ready = [k for k in graph.nodes if indegree[k] == 0 and _is(graph.nodes[k], "Input")]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in succ.get(node, []):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    missing = [k for k in graph.nodes if k not in set(order)]
    if missing:
        raise EdgeError(
            "not reachable from any Input node (every node must be fed, directly or through "
            f"other nodes, by an Input; unreachable: {missing[:10]})",
            node=missing[0],
            node_type=type(graph.nodes[missing[0]]).__name__,
        )
    return Schedule(
        order=tuple(order),
        forward={k: tuple(v) for k, v in forward.items()},
        delayed={k: tuple(v) for k, v in delayed.items()},
        back_edges=frozenset(back),
    )
