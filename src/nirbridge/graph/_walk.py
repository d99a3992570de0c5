"""Walking a NIR graph: subgraphs inlined, back edges, evaluation order, depths."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable

import nir
from nir.ir.graph import Identity

from .._errors import EdgeError

Edge = tuple[str, str]


def inline_subgraphs(graph: nir.NIRGraph, *, sep: str = ".") -> nir.NIRGraph:
    """A flat copy of ``graph``: every nested NIRGraph replaced by its nodes.

    A subgraph ``sub``'s node ``n`` becomes ``sub.n``. Edges into ``sub`` go to its Input node
    (``sub.<input>`` may name one of several), edges out of it leave its Output node. Its Input
    and Output nodes stay, as pass-through ``Identity`` nodes (declared shape kept), so that
    nothing is renamed silently and the Input and Output nodes of the flat graph are exactly
    those of the top level: the graph's own inputs and outputs.

    Raises:
        EdgeError: two nodes would get the same flat name (e.g. a node ``"a.b"`` beside a
            subgraph ``"a"`` holding a node ``"b"``), or an edge into or out of a subgraph is
            ambiguous.
    """
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[Edge] = []
    entry: dict[str, dict[str, str]] = {}  # subgraph -> {input name -> flat name}
    exit_: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}  # flat name -> the top-level node it comes from

    def add(full: str, node: nir.NIRNode, source: str) -> None:
        if full in nodes or (full != source and full in graph.nodes):
            other = origin.get(full, full)
            raise EdgeError(
                f"two nodes would have the same flat name (from {other!r} and {source!r}); "
                "rename one",
                node=full,
            )
        nodes[full] = node
        origin[full] = source

    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            flat = inline_subgraphs(node, sep=sep)
            for child, cnode in flat.nodes.items():
                add(f"{name}{sep}{child}", _pass_through(cnode), name)
            edges.extend((f"{name}{sep}{a}", f"{name}{sep}{b}") for a, b in flat.edges)
            entry[name] = {k: f"{name}{sep}{k}" for k, n in flat.nodes.items() if _is(n, "Input")}
            exit_[name] = {k: f"{name}{sep}{k}" for k, n in flat.nodes.items() if _is(n, "Output")}
        else:
            add(name, node, name)

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

    for edge in graph.edges:
        if not (isinstance(edge, (tuple, list)) and len(edge) == 2):
            raise EdgeError("malformed edge", expected="a pair of node names", got=repr(edge))
        src, dst = edge
        edges.append((resolve(src, exit_, "Output"), resolve(dst, entry, "Input")))
    return nir.NIRGraph(
        nodes=nodes, edges=edges, metadata=dict(graph.metadata or {}), type_check=False
    )


def _pass_through(node: nir.NIRNode) -> nir.NIRNode:
    """A subgraph's Input or Output node as an ``Identity`` of the same declared shape."""
    if _is(node, "Input"):
        shape = node.input_type["input"]
    elif _is(node, "Output"):
        shape = node.output_type["output"]
    else:
        return node
    out = Identity(input_type={"input": shape}, metadata=dict(node.metadata or {}))
    out.output_type = {"output": shape}
    return out


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
    the previous step. The walk starts from the Input nodes in the order their first outgoing
    edges appear, and follows each node's edges in the order they appear: edge order is what a
    NIR file keeps (HDF5 lists a group's nodes alphabetically), so the answer is the same for a
    graph in memory and for the graph written and read again. Iterative, so deep graphs do not
    hit Python's recursion limit.
    """
    succ = successors(graph.edges)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[Edge] = set()
    inputs = set(input_names(graph))
    roots = list(dict.fromkeys(a for a, _ in graph.edges if a in inputs))
    for root in roots:
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
        EdgeError: an edge names a node that does not exist, or a node cannot be reached from
            any Input node (the message names the nodes that cannot, not those merely fed by
            them).
    """
    for a, b in graph.edges:
        for end in (a, b):
            if end not in graph.nodes:
                raise EdgeError(f"edge ({a!r}, {b!r}) names a node that does not exist", node=end)
    back = back_edges(graph)
    succ_all = successors(graph.edges)
    reached = set(input_names(graph))
    todo = list(reached)
    while todo:
        for child in succ_all.get(todo.pop(), []):
            if child not in reached:
                reached.add(child)
                todo.append(child)
    unreachable = [k for k in graph.nodes if k not in reached]
    if unreachable:
        raise EdgeError(
            "not reachable from any Input node (every node must be fed, directly or through "
            f"other nodes, by an Input; unreachable: {unreachable[:10]})",
            node=unreachable[0],
            node_type=type(graph.nodes[unreachable[0]]).__name__,
        )
    forward: dict[str, list[str]] = {k: [] for k in graph.nodes}
    delayed: dict[str, list[str]] = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        (delayed if (a, b) in back else forward)[b].append(a)
    indegree = {k: len(v) for k, v in forward.items()}
    succ = successors(e for e in graph.edges if e not in back)
    ready = deque(k for k in graph.nodes if indegree[k] == 0 and _is(graph.nodes[k], "Input"))
    order: list[str] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for child in succ.get(node, []):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != len(graph.nodes):  # cannot happen: forward edges of reachable nodes are a DAG
        placed = set(order)
        stuck = [k for k in graph.nodes if k not in placed]
        raise EdgeError("cannot order the graph's nodes", node=stuck[0])
    return Schedule(
        order=tuple(order),
        forward={k: tuple(v) for k, v in forward.items()},
        delayed={k: tuple(v) for k, v in delayed.items()},
        back_edges=frozenset(back),
    )
