"""Walking graphs: back edges (DFS from the Inputs in edge order), schedules, self-loops, depth."""

from __future__ import annotations

import sys

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nirbridge
from nirbridge import EdgeError
from nirbridge.graph import (
    back_edges,
    check_graph,
    infer_shapes,
    inline_subgraphs,
    schedule,
    validate,
    with_metadata,
)

from ..conftest import paper_file
from ._builders import graph, lif, lif_chain, nested, random_graph, recurrent

BRAILLE = ["braille_noDelay_bias_zero.nir", "braille_noDelay_noBias_subtract.nir"]


def _scale(n: int = 2) -> nir.Scale:
    return nir.Scale(scale=np.ones(n))


def _ring(edges: list[tuple[str, str]], inputs=("in",)) -> nir.NIRGraph:
    """Every non-Input endpoint a Scale of 2 values; an Output ``out`` fed by ``b``."""
    names = {n for e in edges for n in e}
    nodes = {n: nir.Input(np.array([2])) if n in inputs else _scale() for n in sorted(names)}
    nodes["out"] = nir.Output(np.array([2]))
    return graph(nodes, [*edges, ("b", "out")])


def _check_schedule(g: nir.NIRGraph) -> None:
    plan = schedule(g)
    assert sorted(plan.order) == sorted(g.nodes)
    position = {n: i for i, n in enumerate(plan.order)}
    for a, b in g.edges:
        if (a, b) in plan.back_edges:
            assert a in plan.delayed[b]
            assert a not in plan.forward[b]
        else:
            assert position[a] < position[b], (a, b)
            assert a in plan.forward[b]


@pytest.mark.parametrize("name", BRAILLE)
def test_braille_back_edges(name):
    g = nirbridge.read(paper_file("03_rnn", name))
    assert back_edges(g) == {("lif1.w_rec", "lif1.lif")}
    flat = inline_subgraphs(g)
    assert back_edges(flat) == {("lif1.w_rec", "lif1.lif")}
    plan = schedule(flat)
    assert plan.back_edges == {("lif1.w_rec", "lif1.lif")}
    assert plan.delayed["lif1.lif"] == ("lif1.w_rec",)
    assert plan.forward["lif1.lif"] == ("fc1",)
    assert plan.order[0] == "input"
    _check_schedule(flat)


def test_edge_order_decides_the_back_edge():
    """in -> a, in -> b, a <-> b: whichever of a, b the walk enters first keeps its forward
    edge; the edge back into it closes the cycle."""
    a_first = _ring([("in", "a"), ("in", "b"), ("a", "b"), ("b", "a")])
    assert back_edges(a_first) == {("b", "a")}
    b_first = _ring([("in", "b"), ("in", "a"), ("a", "b"), ("b", "a")])
    assert back_edges(b_first) == {("a", "b")}
    for g in (a_first, b_first):
        _check_schedule(g)
        assert check_graph(g) == []


def test_successor_edge_order_decides_the_back_edge():
    """in -> a; a's edges to b and c are followed in edge order; b -> c -> b is a cycle."""
    base = [("in", "a"), ("b", "c"), ("c", "b")]
    g1 = _ring([*base, ("a", "b"), ("a", "c")])
    assert back_edges(g1) == {("c", "b")}
    g2 = _ring([*base, ("a", "c"), ("a", "b")])
    assert back_edges(g2) == {("b", "c")}


def test_input_order_is_the_order_of_their_edges(tmp_path):
    """Two Inputs each enter the cycle at a different node: the Input whose edge comes first
    is walked first, whatever the order of the nodes (which HDF5 does not keep)."""
    edges = [("y", "b"), ("x", "a"), ("a", "b"), ("b", "a")]
    g = _ring(edges, inputs=("x", "y"))
    assert list(g.nodes)[:2] == ["a", "b"] and "x" in g.nodes
    assert back_edges(g) == {("a", "b")}
    swapped = graph(dict(reversed(list(g.nodes.items()))), list(g.edges))
    assert back_edges(swapped) == {("a", "b")}
    nirbridge.write(tmp_path / "two.nir", with_metadata(g, reset="subtract"))
    assert back_edges(nirbridge.read(tmp_path / "two.nir")) == {("a", "b")}


def test_cross_edge_is_not_a_back_edge():
    """in -> a -> b and in -> b after a is finished: b is done, not on the stack."""
    g = _ring([("in", "a"), ("a", "b"), ("in", "b")])
    assert back_edges(g) == set()


def test_self_loop():
    g = lif_chain()
    g.nodes["lif"] = lif(4)
    g.edges.append(("lif", "lif"))
    assert back_edges(g) == {("lif", "lif")}
    plan = schedule(g)
    assert plan.forward["lif"] == ("fc",)
    assert plan.delayed["lif"] == ("lif",)
    assert check_graph(g) == []
    _check_schedule(g)


def test_recurrent_chain_back_edge():
    g = recurrent()
    assert back_edges(g) == {("rec", "lif")}
    _check_schedule(g)


@pytest.mark.parametrize("seed", range(30))
def test_schedule_of_random_graphs(seed):
    flat = inline_subgraphs(random_graph(seed))
    _check_schedule(flat)


def _reference_back_edges(nodes: list[str], edges: list[tuple[str, str]]) -> set:
    """The rule written as plainly as possible: recursive DFS from the Inputs in edge order."""
    succ: dict[str, list[str]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    state: dict[str, str] = {}
    back = set()

    def visit(n):
        state[n] = "open"
        for c in succ.get(n, []):
            if state.get(c) == "open":
                back.add((n, c))
            elif c not in state:
                visit(c)
        state[n] = "done"

    for root in dict.fromkeys(a for a, _ in edges if a.startswith("in")):
        if root not in state:
            visit(root)
    return back


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 7),
    n_inputs=st.integers(1, 2),
    raw=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), max_size=25),
)
def test_back_edges_match_the_plain_rule(n, n_inputs, raw):
    inputs = [f"in{i}" for i in range(n_inputs)]
    inner = [f"n{i}" for i in range(n)]
    names = inputs + inner
    edges = list(
        dict.fromkeys(
            (names[a % len(names)], inner[b % n])  # nothing feeds an Input
            for a, b in raw
        )
    )
    g = graph({k: nir.Input(np.array([2])) if k in inputs else _scale() for k in names}, edges)
    back = back_edges(g)
    assert back == _reference_back_edges(names, edges)
    # without its back edges, the part reachable from the Inputs has no cycle
    try:
        plan = schedule(g)
    except EdgeError as exc:
        assert "not reachable" in str(exc)
        return
    _check_schedule(g)
    assert plan.back_edges == back


def test_unreachable_node_is_named_not_its_successor():
    g = lif_chain()
    g.nodes["island"] = lif(4)
    g.edges.append(("island", "out"))
    with pytest.raises(EdgeError, match="'island'") as info:
        schedule(g)
    assert info.value.node == "island"


def test_schedule_rejects_dangling_edges():
    g = lif_chain()
    g.edges.append(("lif", "ghost"))
    with pytest.raises(EdgeError, match="'ghost'"):
        schedule(g)


def _chain(n: int) -> nir.NIRGraph:
    names = ["in"] + [f"s{i}" for i in range(n - 2)] + ["out"]
    nodes = {k: _scale(1) for k in names}
    nodes["in"] = nir.Input(np.array([1]))
    nodes["out"] = nir.Output(np.array([1]))
    return graph(nodes, list(zip(names, names[1:], strict=False)))


def test_deep_chain_does_not_hit_the_recursion_limit():
    n = 5000
    assert n > sys.getrecursionlimit()
    g = _chain(n)
    assert back_edges(g) == set()
    plan = schedule(g)
    assert plan.order == tuple(g.nodes)
    validate(g)
    assert infer_shapes(g)["out"] == (1,)
    assert len(inline_subgraphs(g).nodes) == n
    # a cycle through the whole chain is found, and closed by its last edge
    g.edges.append((f"s{n - 3}", "s0"))
    assert back_edges(g) == {(f"s{n - 3}", "s0")}
    assert schedule(g).delayed["s0"] == (f"s{n - 3}",)


def test_deep_chain_through_a_file(tmp_path):
    n = 2 * sys.getrecursionlimit()
    g = _chain(n)
    nirbridge.write(tmp_path / "chain.nir", with_metadata(g, reset="subtract"))
    back = nirbridge.read(tmp_path / "chain.nir")
    assert len(back.nodes) == n
    assert schedule(back).order[-1] == "out"


def test_inlined_subgraph_back_edge():
    """A recurrent connection around a subgraph: the back edge is found in the flat graph."""
    g = nested()
    g.nodes["rec"] = nir.Linear(weight=np.eye(4))
    g.edges += [("sub", "rec"), ("rec", "sub")]
    flat = inline_subgraphs(g)
    assert back_edges(flat) == {("rec", "sub.in")}
    assert check_graph(g) == []
    _check_schedule(flat)
