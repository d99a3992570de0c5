"""Rules and metadata survive nirbridge.write / nirbridge.read bit for bit; stock nir reads them."""

from __future__ import annotations

import tempfile
from pathlib import Path

import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import nirbridge
import nirbridge.learning as nl
from nirbridge.graph import read_metadata
from nirbridge.learning._base import trees_equal

from ._graphs import KINDS, Drawn, examples, graphs_with_rules, network

#: Examples the property test runs (issue #4 asks for at least 500).
ROUNDTRIPS = 500
_seen: dict[str, int] = {}


def assert_same_metadata(a: nir.NIRGraph, b: nir.NIRGraph) -> None:
    ma, mb = read_metadata(a), read_metadata(b)
    for key in ("dt", "time_unit", "integrator", "reset"):
        va, vb = getattr(ma, key), getattr(mb, key)
        assert type(va) is type(vb) and va == vb, key
        if isinstance(va, float):
            assert np.float64(va).tobytes() == np.float64(vb).tobytes()
    assert trees_equal(
        {n: dict(s) for n, s in ma.initial_state.items()},
        {n: dict(s) for n, s in mb.initial_state.items()},
    )


def roundtrip(drawn: Drawn, rule: nl.LearningRule, directory: Path) -> None:
    graph = drawn.graph
    nl.attach(graph, rule)
    path = directory / "net.nir"
    nirbridge.write(path, graph)
    back = nirbridge.read(path)
    got = nl.rule_of(back)
    assert got == rule
    assert trees_equal(got.to_dict(), rule.to_dict())
    assert_same_metadata(graph, back)
    for name, node in graph.nodes.items():
        weight = getattr(node, "weight", None)
        if weight is not None:
            assert np.asarray(back.nodes[name].weight).tobytes() == weight.tobytes()
    stock = nir.read(str(path))
    stored = stock.metadata["nirbridge"]["learning_rule"]
    assert nl.rule_from_dict(stored) == rule
    assert set(stock.nodes) == set(graph.nodes)


# Derandomized: the same 500 draws on every machine, so CI meets what was checked here (with a
# fresh random seed the least drawn kind fell below the bound once in a clean clone).
@settings(
    max_examples=ROUNDTRIPS,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(graphs_with_rules())
def test_random_graphs_and_rules_roundtrip_bit_exactly(case):
    drawn, rule = case
    _seen[rule.kind] = _seen.get(rule.kind, 0) + 1
    with tempfile.TemporaryDirectory() as tmp:
        roundtrip(drawn, rule, Path(tmp))


def test_the_property_test_met_every_kind():
    """Runs after the property test (same module, file order): every kind was drawn often."""
    if not _seen:
        pytest.skip("run together with test_random_graphs_and_rules_roundtrip_bit_exactly")
    assert sum(_seen.values()) >= ROUNDTRIPS
    assert set(_seen) == set(KINDS)
    assert min(_seen.values()) >= ROUNDTRIPS // 20, _seen


@pytest.mark.parametrize("kind", KINDS)
def test_each_example_rule_roundtrips(kind, tmp_path):
    graph = network()
    rule = examples()[kind]
    nl.attach(graph, rule)
    nirbridge.write(tmp_path / "net.nir", graph)
    back = nirbridge.read(tmp_path / "net.nir")
    assert nl.rule_of(back) == rule
    assert nl.rule_from_dict(nir.read(str(tmp_path / "net.nir")).metadata["nirbridge"][
        "learning_rule"]) == rule  # fmt: skip
    # equality is bit-exact: one ulp in one array element makes rules differ
    if kind == "eprop":
        B = rule.B.copy()
        B[0, 0] = np.nextafter(B[0, 0], np.inf)
        assert nl.EProp(**{**dict(rule.items()), "B": B}) != rule


def test_attach_keeps_other_metadata_and_replaces_a_rule():
    graph = network()
    nirbridge.graph.with_metadata(graph, dt=1e-3, extra={"other": {"x": 1}})
    ex = examples()
    nl.attach(graph, ex["stdp"])
    nl.attach(graph, ex["local"])
    meta = read_metadata(graph)
    assert meta.dt == 1e-3 and meta.extra["other"] == {"x": 1}
    assert nl.rule_of(graph) == ex["local"]
    nl.detach(graph)
    assert nl.rule_of(graph) is None
    assert read_metadata(graph).extra["other"] == {"x": 1}


def test_a_graph_without_a_rule_has_none(tmp_path):
    graph = network()
    assert nl.rule_of(graph) is None
    nirbridge.write(tmp_path / "plain.nir", graph)
    assert nl.rule_of(nirbridge.read(tmp_path / "plain.nir")) is None


def test_stored_forms_are_what_the_hdf5_writer_keeps(tmp_path):
    rule = examples()["eprop"]
    stored = rule.to_dict()
    assert stored["kind"] == "eprop" and stored["schema"] == 1
    assert stored["optimize_each_step"] == 0 and type(stored["optimize_each_step"]) is int
    edges = stored["scope"]["plastic_edges"]
    assert edges.dtype.kind == "S" and edges.shape == (3, 2)
    assert stored["B"].dtype == np.float64
    assert "isi_trace_cutoff" in stored and "learning_window" not in stored  # unset: left out
    sg = examples()["surrogate_gradient"].to_dict()
    assert set(sg["regularizers"]) == {"0", "1"}
    assert set(sg["optimizer"]["state"]) == {"0"}


def test_lists_of_groups_keep_their_order_beyond_ten(tmp_path):
    graph = network()
    regs = tuple(
        nl.Regularizer(name="firing_rate", strength=float(i), target_rate=1.0) for i in range(12)
    )
    rule = nl.EventProp(
        scope=nl.Scope(plastic_edges=(("input", "w_in"),), readout="li"),
        loss=nl.Loss(name="sum_voltage"),
        optimizer=nl.Optimizer.sgd(0.1),
        regularizers=regs,
    )
    nl.attach(graph, rule)
    nirbridge.write(tmp_path / "n.nir", graph)
    got = nl.rule_of(nirbridge.read(tmp_path / "n.nir"))
    assert [r.strength for r in got.regularizers] == [float(i) for i in range(12)]
