"""nirbridge.to_nir / nirbridge.from_nir: dispatch through the registry, dt, reset mode and the
learning rule carried in the file."""

from __future__ import annotations

import nir
import numpy as np
import pytest

import nirbridge
from nirbridge import TimeStepError, UnsupportedError
from nirbridge import learning as nl


def _snn_model(snntorch, torch):
    return torch.nn.Sequential(
        torch.nn.Linear(3, 4, dtype=torch.float64),
        snntorch.Leaky(beta=torch.tensor(0.9), reset_mechanism="zero", init_hidden=True),
        torch.nn.Linear(4, 2, dtype=torch.float64),
        snntorch.Leaky(beta=torch.tensor(0.8), reset_mechanism="zero", init_hidden=True),
    )


@pytest.mark.snntorch
def test_to_nir_carries_dt_reset_and_rule_through_a_file(snntorch, torch, tmp_path):
    rule = nl.SurrogateGradient(
        scope=nl.Scope(plastic_edges=(("input", "0"), ("1", "2")), readout="3"),
        surrogate=nl.Surrogate(function="fast_sigmoid", slope=25.0),
        loss=nl.Loss(name="mse_voltage"),
        optimizer=nl.Optimizer.adam(1e-3, batch_size=32),
        epochs=3,
    )
    graph = nirbridge.to_nir(_snn_model(snntorch, torch), dt=5e-4, rule=rule)
    path = tmp_path / "model.nir"
    nirbridge.write(path, graph)
    back = nirbridge.read(path)
    meta = nirbridge.graph.read_metadata(back)
    assert (meta.dt, meta.reset, meta.integrator) == (5e-4, "zero", "euler")
    assert nl.rule_of(back) == rule
    stock = nir.read(path)  # stock NIR still reads our file
    assert set(stock.nodes) == set(graph.nodes)


@pytest.mark.snntorch
def test_a_rule_that_does_not_fit_the_model_is_refused(snntorch, torch):
    rule = nl.SurrogateGradient(
        scope=nl.Scope(plastic_edges=(("input", "nope"),), readout="3"),
        surrogate=nl.Surrogate(function="fast_sigmoid", slope=25.0),
        loss=nl.Loss(name="mse_voltage"),
        optimizer=nl.Optimizer.adam(1e-3, batch_size=32),
    )
    with pytest.raises(nirbridge.LearningRuleError, match="nope"):
        nirbridge.to_nir(_snn_model(snntorch, torch), dt=1e-3, rule=rule)


@pytest.mark.snntorch
def test_framework_is_found_from_the_modules(snntorch, norse, torch):
    model = _snn_model(snntorch, torch)
    assert "0" in nirbridge.to_nir(model, dt=1e-3).nodes
    with pytest.raises(UnsupportedError, match="cannot tell which framework"):
        nirbridge.to_nir(torch.nn.Sequential(torch.nn.Linear(2, 2)), dt=1e-3)
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 2), snntorch.Leaky(beta=0.5), norse.LIFBoxCell())
    with pytest.raises(UnsupportedError, match="mixes modules"):
        nirbridge.to_nir(mixed, dt=1e-3)
    with pytest.raises(TimeStepError, match="dt argument"):
        nirbridge.to_nir(model, dt=-1.0)
    with pytest.raises(UnsupportedError, match="unknown target"):
        nirbridge.to_nir(model, dt=1e-3, target="nope")


def _graph():
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2])}),
            "lif": nir.LIF(
                tau=np.full(2, 1e-2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)
            ),
            "output": nir.Output(output_type={"output": np.array([2])}),
        },
        edges=[("input", "lif"), ("lif", "output")],
        type_check=False,
    )


def test_from_nir_dispatches_and_checks():
    from nirbridge.converters import registry

    graph = _graph()
    sim = nirbridge.from_nir(graph, "reference", dt=1e-3, reset="zero")
    assert isinstance(sim, nirbridge.ReferenceSimulator)
    for name in ("snntorch", "norse"):
        entry = next(e for e in registry.entries() if e.name == name)
        assert entry.status == "available"
        try:
            converter = registry.get(name)
        except UnsupportedError as exc:  # the torch extra is missing: the hint names it
            assert "nirbridge[torch]" in str(exc)
            continue
        assert {"LIF", "IF", "CubaLIF", "Affine", "Conv2d"} <= converter.node_types
        issues = converter.check(_graph())  # no dt anywhere: reported, not raised
        assert [i.severity for i in issues] == ["error"] and "time step" in issues[0].message
        assert converter.check(nirbridge.graph.with_metadata(_graph(), dt=1e-3)) == []
        delayed = _graph()
        delayed.nodes["lif"] = nir.Threshold(threshold=np.ones(2))
        assert converter.check(nirbridge.graph.with_metadata(delayed, dt=1e-3)) == []
