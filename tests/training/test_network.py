"""SpikingNetwork <-> NIR: what the reference computes must not change through from_nir/to_nir,
and the data containers the trainer reads."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from nirbridge import InvalidParameterError, UnsupportedError
from nirbridge.graph import read_metadata, with_metadata
from nirbridge.learning import Loss, Optimizer, Scope, Surrogate, SurrogateGradient, rule_of
from nirbridge.reference import simulate
from tests.conftest import require

torch = require("torch")

from nirbridge.training import LayerParams, SpikeDataset, SpikingNetwork  # noqa: E402
from nirbridge.training.datasets.digits import TEST_PER_CLASS, digits, digits_raw  # noqa: E402

DT = 1e-3


def chain_graph(rng: np.random.Generator, *, kinds, recurrent, reset="subtract") -> nir.NIRGraph:
    """A chain with parameters a trainer would not write: r != tau/dt, w_in != tau_syn/dt,
    LIF leak potentials, Affine and Linear projections."""
    n_prev = int(rng.integers(3, 9))
    nodes = {"input": nir.Input(np.array([n_prev]))}
    edges = []
    prev = "input"
    for i, (kind, rec) in enumerate(zip(kinds, recurrent, strict=True), start=1):
        n = int(rng.integers(2, 8))
        # a steady drive of about twice the threshold (at r = 1) from inputs firing 30 % of
        # steps (the input) or about 5 % (hidden layers)
        rate = 0.3 if i == 1 else 0.05
        w = rng.normal(1.0, 1.0, (n, n_prev)) * 2.0 / (rate * n_prev)
        fc = f"w{i}"
        if rng.random() < 0.5:
            nodes[fc] = nir.Affine(weight=w, bias=rng.normal(0.1, 0.2, n))
        else:
            nodes[fc] = nir.Linear(weight=w)
        tau = np.full(n, DT * rng.uniform(3, 30))
        r = np.full(n, rng.uniform(0.5, 3.0))
        w /= r[:, None]
        thr, v_reset = np.full(n, rng.uniform(0.5, 1.5)), np.full(n, rng.uniform(-0.3, 0.3))
        name = f"n{i}"
        if kind == "LIF":
            leak = np.full(n, rng.uniform(-0.2, 0.2))
            nodes[name] = nir.LIF(tau=tau, r=r, v_leak=leak, v_threshold=thr, v_reset=v_reset)
        elif kind == "CubaLIF":
            nodes[name] = nir.CubaLIF(
                tau_syn=np.full(n, DT * rng.uniform(2, 10)),
                tau_mem=tau,
                r=r,
                v_leak=np.zeros(n),
                v_threshold=thr,
                v_reset=v_reset,
                w_in=np.full(n, rng.uniform(0.5, 2.0)),
            )
            nodes[fc].weight /= nodes[name].w_in[:, None]
        else:
            nodes[name] = nir.LI(tau=tau, r=r, v_leak=np.full(n, rng.uniform(-0.2, 0.2)))
        edges += [(prev, fc), (fc, name)]
        if rec:
            nodes[f"r{i}"] = nir.Linear(weight=rng.normal(0.0, 0.3, (n, n)))
            edges += [(name, f"r{i}"), (f"r{i}", name)]
        prev, n_prev = name, n
    nodes["output"] = nir.Output(np.array([n_prev]))
    edges.append((prev, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={})
    return with_metadata(graph, dt=DT, reset=reset)


CASES = [
    (("LIF",), (False,)),
    (("LIF", "LIF"), (True, False)),
    (("CubaLIF", "LI"), (True, False)),
    (("LIF", "CubaLIF", "LIF"), (False, True, True)),
    (("CubaLIF", "LIF", "LI"), (True, True, False)),
]


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("seed", range(4))
def test_from_nir_to_nir_computes_the_same(case, seed, reset):
    rng = np.random.default_rng([case, seed, reset == "zero"])
    kinds, recurrent = CASES[case]
    graph = chain_graph(rng, kinds=kinds, recurrent=recurrent, reset=reset)
    net = SpikingNetwork.from_nir(graph, dtype=torch.float64)
    again = net.to_nir()
    n_in = graph.nodes["input"].input_type["input"][0]
    x = (rng.random((200, 4, n_in)) < 0.3).astype(np.float64)
    want = simulate(graph, {"input": x}, batched=True).outputs["output"]
    got = simulate(again, {"input": x}, batched=True).outputs["output"]
    if kinds[-1] == "LI":
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    else:
        assert want.sum() > 0, "the case should spike"
        np.testing.assert_array_equal(got, want)


def test_to_nir_writes_the_chain_the_metadata_and_the_rule():
    net = SpikingNetwork.build(
        [4, 6, 3], ["cubalif", "li"], dt=DT, tau_mem=0.02, tau_syn=0.005, recurrent=[True, False]
    )
    rule = SurrogateGradient(
        scope=Scope(plastic_edges=(("input", "fc1"), ("cubalif1", "fc2")), readout="li2"),
        surrogate=Surrogate(function="fast_sigmoid", slope=10.0),
        loss=Loss(name="max_voltage"),
        optimizer=Optimizer.adam(1e-3),
    )
    graph = net.to_nir(rule)
    assert {k: type(v).__name__ for k, v in graph.nodes.items()} == {
        "input": "Input",
        "fc1": "Linear",
        "cubalif1": "CubaLIF",
        "rec1": "Linear",
        "fc2": "Linear",
        "li2": "LI",
        "output": "Output",
    }
    assert ("rec1", "cubalif1") in graph.edges
    meta = read_metadata(graph)
    assert (meta.dt, meta.reset, meta.integrator) == (DT, "subtract", "euler")
    assert repr(rule_of(graph).to_dict()) == repr(rule.to_dict())
    np.testing.assert_array_equal(graph.nodes["cubalif1"].r, 0.02 / DT)
    np.testing.assert_array_equal(graph.nodes["cubalif1"].w_in, 0.005 / DT)


def test_from_nir_names_what_it_cannot_train():
    rng = np.random.default_rng(0)
    graph = chain_graph(rng, kinds=("LIF",), recurrent=(False,))
    graph.nodes["n1"].tau = graph.nodes["n1"].tau * np.linspace(1, 2, graph.nodes["n1"].tau.size)
    with pytest.raises(InvalidParameterError, match="n1.*tau"):
        SpikingNetwork.from_nir(graph)
    graph = chain_graph(rng, kinds=("CubaLIF",), recurrent=(False,))
    graph.nodes["n1"].v_leak = graph.nodes["n1"].v_leak + 0.1
    with pytest.raises(InvalidParameterError, match="v_leak"):
        SpikingNetwork.from_nir(graph)


def test_mixed_resets_are_refused_by_name():
    lif = LayerParams("lif", dt=DT, tau_mem=0.02)
    from nirbridge.training import SpikingLayer

    zero = LayerParams("lif", dt=DT, tau_mem=0.02, reset="zero")
    net = SpikingNetwork([SpikingLayer(3, 4, lif), SpikingLayer(4, 2, zero)])
    with pytest.raises(UnsupportedError, match="reset mode"):
        net.to_nir()


@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_alif_exports_spike_exact(seed, recurrent):
    """ALIF (no NIR node) is written as a LIF on the distance to its adaptive threshold plus an
    adaptation LI node; the reference must reproduce the kernels' spikes."""
    from nirbridge.training import SpikingLayer

    rng = np.random.default_rng(seed)
    alif = LayerParams(
        "alif", dt=DT, tau_mem=0.02, adapt_tau=rng.uniform(0.05, 0.5), adapt_beta=0.5
    )
    gen = torch.Generator().manual_seed(seed)
    hidden = SpikingLayer(
        5,
        8,
        alif,
        recurrent=recurrent,
        weight_std=1.0,
        weight_mean=0.8,
        rec_std=0.3,
        generator=gen,
        dtype=torch.float64,
    )
    readout = SpikingLayer(
        8, 2, LayerParams("li", dt=DT, tau_mem=0.01), generator=gen, dtype=torch.float64
    )
    net = SpikingNetwork([hidden, readout])
    x = torch.as_tensor((rng.random((300, 3, 5)) < 0.3).astype(np.float64))
    with torch.no_grad():
        spikes, out = net(x, impl="eager")
    graph = net.to_nir()
    result = simulate(graph, {"input": x.numpy()}, batched=True, record=["alif1"])
    assert 0 < spikes.sum() < spikes.numel() / 2
    np.testing.assert_array_equal(result.recorded["alif1"], spikes.numpy())
    np.testing.assert_allclose(result.outputs["output"], out.numpy(), rtol=1e-9, atol=1e-9)
    # adaptation matters here: the same weights as a LIF spike differently
    lif = LayerParams("lif", dt=DT, tau_mem=0.02)
    plain = SpikingLayer(5, 8, lif, recurrent=recurrent, dtype=torch.float64)
    plain.load_state_dict(hidden.state_dict())
    with torch.no_grad():
        assert not torch.equal(plain(x, impl="eager"), spikes)


def test_layer_params_name_the_bad_field():
    with pytest.raises(ValueError, match="tau_syn"):
        LayerParams("cubalif", dt=DT, tau_mem=0.02)
    with pytest.raises(ValueError, match="tau_mem"):
        LayerParams("lif", dt=DT, tau_mem=DT / 2)
    with pytest.raises(ValueError, match="reset"):
        LayerParams("alif", dt=DT, tau_mem=0.02, adapt_tau=0.1, reset="zero")
    p = LayerParams("alif", dt=DT, tau_mem=0.02, adapt_tau=0.1)
    assert p.beta_mem == pytest.approx(0.95) and p.adapt_rho == pytest.approx(np.exp(-0.01))


# -- data -----------------------------------------------------------------------------------------


def test_spike_times_land_in_their_steps():
    times = np.array([[0.0, 0.0025, np.inf], [0.0099, np.nan, 0.5]])
    data = SpikeDataset.from_spike_times(times, np.array([0, 1]), dt=DT, steps=10)
    x = data.x.numpy()
    assert x.shape == (2, 10, 3) and x.sum() == 3
    assert x[0, 0, 0] == 1 and x[0, 2, 1] == 1 and x[1, 9, 0] == 1


def test_batches_split_across_processes_make_the_global_batch():
    rng = np.random.default_rng(1)
    data = SpikeDataset(
        torch.as_tensor(rng.random((23, 5, 3))), torch.as_tensor(rng.integers(0, 3, 23)), DT
    )
    order = torch.randperm(23, generator=torch.Generator().manual_seed(0))
    single = list(data.batches(8, order=order))
    parts = [list(data.batches(8, order=order, rank=r, world=3)) for r in range(3)]
    for b, (x, y, size) in enumerate(single):
        assert size == len(y)
        torch.testing.assert_close(torch.cat([p[b][0] for p in parts], dim=1), x)
        torch.testing.assert_close(torch.cat([p[b][1] for p in parts]), y)


def test_digits_splits_and_latency_code():
    sklearn = require("sklearn")
    full = sklearn.datasets.load_digits()
    train_x, train_y = digits_raw("train")
    test_x, test_y = digits_raw("test")
    assert len(train_y) + len(test_y) == len(full.target)
    assert np.bincount(test_y).tolist() == [TEST_PER_CLASS] * 10
    # every image is used once: the multiset of rows is the dataset's
    rows = {tuple(r) for r in full.data}
    both = np.concatenate([train_x, test_x])
    assert len({tuple(r) for r in both}) == len(rows)
    data = digits("test", dt=DT, steps=30)
    x = data.x.numpy()
    first = test_x[0]
    assert x.shape == (len(test_y), 30, 64)
    assert np.array_equal(x[0].sum(axis=0), (first > 0).astype(np.uint8))
    dark = int(np.flatnonzero(first == 16)[0])
    assert x[0, 0, dark] == 1  # the darkest pixels fire first
