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


@pytest.mark.torch
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_torch_target_on_nirtorch_is_spike_exact(torch, reset):
    """from_nir(graph, "torch"): nirtorch's interpreter with SEMANTICS.md's neurons and our
    Affine map, against the reference on random networks (recurrence and feedback included)."""
    from tests.reference._nets import Tally, random_net, random_spikes, run_reference
    from tests.reference._nets import to_nir as net_to_nir

    rng = np.random.default_rng(17 + (reset == "zero"))
    tally = Tally()
    for _ in range(12):
        net = random_net(rng, dt=1e-3, p_in=0.25, v_leak=True, v_reset=True, bound_input=False)
        x = random_spikes(rng, 80, 2, net.n_in, 0.25)
        spikes, _ = run_reference(net, x, dt=1e-3, reset=reset)
        module = nirbridge.from_nir(net_to_nir(net), "torch", dt=1e-3, reset=reset)
        got = module(torch.from_numpy(x)).numpy()
        np.testing.assert_array_equal(got, spikes[-1], err_msg=net.describe())
        tally.add(net, [int(s.sum()) for s in spikes])
    assert tally.recurrent >= 3 and sum(tally.spikes.values()) > 300, tally


@pytest.mark.torch
def test_torch_target_keeps_affine_bias_and_round_trips(torch):
    """nirtorch 2.6's own Affine map drops the bias; a neuron driven by its bias alone fires."""
    from nirbridge.converters.torch import Neuron

    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([2])}),
            "fc": nir.Affine(weight=np.zeros((3, 2)), bias=np.array([0.5, 1.0, 2.0])),
            "lif": nir.LIF(
                tau=np.full(3, 4e-3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)
            ),
            "output": nir.Output(output_type={"output": np.array([3])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        type_check=False,
    )
    nirbridge.graph.with_metadata(graph, dt=1e-3, reset="subtract")
    x = np.zeros((40, 1, 2))
    ref = nirbridge.simulate(graph, {"input": x}, batched=True).outputs["output"]
    module = nirbridge.from_nir(graph, "torch")
    np.testing.assert_array_equal(module(torch.from_numpy(x)).numpy(), ref)
    assert ref[:, 0, 1:].sum() > 5 and ref[:, 0, 0].sum() == 0
    # back to NIR from the plain-PyTorch form: same nodes, same spikes
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 3, dtype=torch.float64),
        Neuron.from_node(graph.nodes["lif"], (3,), dt=1e-3, reset="subtract", dtype=torch.float64),
    )
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([0.5, 1.0, 2.0]))
    back = nirbridge.to_nir(model, dt=1e-3)
    assert [type(n).__name__ for n in back.nodes.values()] == ["Input", "Affine", "LIF", "Output"]
    again = nirbridge.simulate(back, {"input": x}, batched=True).outputs["output"]
    np.testing.assert_array_equal(again, ref)
