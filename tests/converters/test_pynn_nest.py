"""NIR -> PyNN on NEST against the reference simulator, spike for spike."""

from __future__ import annotations

import nir
import numpy as np
import pytest

import nirbridge
from nirbridge.converters.pynn import plan_network, to_pynn
from tests.conftest import paper_file, require
from tests.converters._pynn_graphs import random_cases, run_batch
from tests.reference._nets import random_net, random_spikes, to_nir

pytestmark = pytest.mark.nest


@pytest.fixture(scope="module")
def sim():
    return require("nest")


def _compare(sim, graph, x, *, dt, reset, integrator):
    ref = nirbridge.simulate(graph, {"input": x}, dt=dt, reset=reset, integrator=integrator)
    with to_pynn(graph, sim, dt=dt, reset=reset, integrator=integrator) as net:
        out = net.run({"input": x})
    return ref.outputs["output"], out["output"]


def test_paper_lif_benchmark_spikes(sim):
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    with to_pynn(graph, sim, dt=1e-4) as net:
        first = net.run({"input": stim})["output"][:, 0]
        again = net.run({"input": stim})["output"][:, 0]  # a second run starts afresh
    np.testing.assert_array_equal(np.flatnonzero(first), [460, 510, 710, 760])
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize(
    "integrator,reset",
    [("euler", "zero"), ("euler", "subtract"), ("exact", "zero"), ("exact", "subtract")],
)
def test_random_lif_if_graphs_are_spike_exact(sim, integrator, reset):
    """55 random feed-forward and recurrent LIF/IF networks per mode (220 in all)."""
    rng = np.random.default_rng({"euler": 1, "exact": 2}[integrator] * 10 + len(reset))
    compared = spikes = recurrent = 0
    while compared < 55:
        dt = 1e-3
        net = random_net(
            rng,
            dt=dt,
            p_in=0.2,
            v_leak=bool(rng.random() < 0.6),
            v_reset=reset == "zero" and bool(rng.random() < 0.6),
            bound_input=False,
            kinds=("LIF", "IF"),
        )
        if net.w_fb is not None:
            continue  # feedback onto an earlier layer needs a negative delay (tested below)
        graph = to_nir(net)
        x = random_spikes(rng, 60, 1, net.n_in, 0.2)[:, 0]
        ref, out = _compare(sim, graph, x, dt=dt, reset=reset, integrator=integrator)
        np.testing.assert_array_equal(out, ref, err_msg=net.describe())
        compared += 1
        spikes += int(ref.sum())
        recurrent += any(layer.w_rec is not None for layer in net.layers)
    assert spikes > 500 and recurrent > 10  # the comparison saw real activity and recurrence


@pytest.mark.parametrize("integrator", ["euler", "exact"])
def test_feed_forward_cubalif_zero_reset_is_spike_exact(sim, integrator):
    rng = np.random.default_rng(7)
    compared = spikes = 0
    while compared < 25:
        dt = 1e-3
        net = random_net(
            rng,
            dt=dt,
            p_in=0.3,
            v_leak=False,
            v_reset=True,
            bound_input=False,
            kinds=("CubaLIF", "LIF"),
        )
        if net.w_fb is not None or any(layer.w_rec is not None for layer in net.layers):
            continue
        graph = to_nir(net)
        x = random_spikes(rng, 80, 1, net.n_in, 0.3)[:, 0]
        ref, out = _compare(sim, graph, x, dt=dt, reset="zero", integrator=integrator)
        np.testing.assert_array_equal(out, ref, err_msg=net.describe())
        compared += 1
        spikes += int(ref.sum())
    assert spikes > 100


@pytest.mark.parametrize("integrator", ["euler", "exact"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_random_graphs_with_analog_inputs_are_spike_exact(sim, integrator, reset):
    """Analog (real-valued) Inputs drive one step current source per neuron they reach; each
    batch mixes 15 analog-input and 10 spike-input networks (50 random LIF/IF networks, 30 of
    them analog, per mode)."""
    rng = np.random.default_rng(40 + 2 * (integrator == "exact") + (reset == "subtract"))
    spikes = analog = 0
    for _ in range(2):
        cases = random_cases(rng, 15, kinds=("LIF", "IF"), p_in=0.5, analog=True)
        cases += random_cases(rng, 10, kinds=("LIF", "IF"))
        pairs = run_batch(sim, cases, integrator=integrator, reset=reset)
        for case, (ref, out) in zip(cases, pairs, strict=True):
            np.testing.assert_array_equal(out, ref, err_msg=case.net.describe())
            spikes += int(ref.sum())
            analog += not np.all((case.x == 0) | (case.x == 1))
    assert analog == 30 and spikes > 1500


def _analog_li_graph(rng, kind: str):
    n_in, n = 3, 4
    params = {"tau": np.full(n, 5e-3), "r": rng.uniform(0.5, 2, n), "v_leak": rng.normal(0, 0.2, n)}
    node = {
        "LI": lambda: nir.LI(**params),
        "I": lambda: nir.I(r=params["r"]),
        "CubaLIF": lambda: nir.CubaLIF(
            tau_syn=np.full(n, 5e-3),
            tau_mem=np.full(n, 1e-2),
            r=np.ones(n),
            v_leak=np.zeros(n),
            v_threshold=np.ones(n),
            v_reset=np.zeros(n),
        ),
    }[kind]()
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([n_in])),
            "fc": nir.Affine(rng.normal(0, 1, (n, n_in)), rng.normal(0, 0.1, n)),
            "cell": node,
            "output": nir.Output(np.array([n])),
        },
        edges=[("input", "fc"), ("fc", "cell"), ("cell", "output")],
    )


@pytest.mark.parametrize("kind", ["LI", "I"])
def test_analog_inputs_into_voltage_outputs_match_the_reference(sim, kind):
    rng = np.random.default_rng(5)
    graph = _analog_li_graph(rng, kind)
    x = rng.normal(0, 1, (40, 3))
    ref = nirbridge.simulate(graph, {"input": x}, dt=1e-3, reset="zero").outputs["output"]
    with to_pynn(graph, sim, dt=1e-3, reset="zero") as net:
        out = net.run({"input": x})["output"]
    assert np.abs(ref).max() > 0.01
    # I: the current source needs a leak; the membrane leaks 2**-40 per step
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)


def test_analog_input_into_exponential_synapses_is_refused_by_node(sim):
    graph = _analog_li_graph(np.random.default_rng(6), "CubaLIF")
    with to_pynn(graph, sim, dt=1e-3, reset="zero") as net:
        net.run({"input": np.ones((5, 3))})  # spikes are fine
        with pytest.raises(nirbridge.UnsupportedError, match="node 'cell'.*analog input 'input'"):
            net.run({"input": np.full((5, 3), 0.5)})


def test_unreproducible_constructs_are_named(sim):
    rng = np.random.default_rng(3)
    while True:
        net = random_net(
            rng, dt=1e-3, p_in=0.2, v_leak=False, v_reset=False, bound_input=False, kinds=("LIF",)
        )
        if net.w_fb is not None:
            break
    with pytest.raises(nirbridge.UnsupportedError, match="node 'n0'.*back edge"):
        plan_network(to_nir(net))
    graph = nirbridge.read(paper_file("03_rnn", "braille_noDelay_noBias_subtract.nir"))
    with pytest.raises(nirbridge.UnsupportedError, match="lif1.lif.*subtract"):
        to_pynn(graph, sim, dt=1e-4)


def test_braille_zero_reset_runs_approximately(sim):
    graph = nirbridge.read(paper_file("03_rnn", "braille_noDelay_bias_zero.nir"))
    rng = np.random.default_rng(0)
    x = (rng.random((256, 12)) < 0.1).astype(float)
    ref = nirbridge.simulate(graph, {"input": x}, dt=1e-4, reset="zero", record=["lif1.lif"])
    with to_pynn(graph, sim, dt=1e-4, reset="zero", approximate=True) as net:
        assert net.plan.approximations  # the recurrence acts one step late
        out = net.run({"input": x})["output"]
    a, b = ref.outputs["output"].ravel(), out.ravel()
    cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert cosine > 0.5, cosine


def test_paper_cnn_is_spike_exact(sim):
    graph = nirbridge.read(paper_file("02_cnn", "cnn_sinabs.nir"))
    x = (np.random.default_rng(0).random((40, 2, 34, 34)) < 0.05).astype(float)
    ref = nirbridge.simulate(graph, {"input": x}, dt=1.0)  # the graph counts time in steps
    with to_pynn(graph, sim, dt=1.0) as net:
        assert net.plan.n_synapses > 1_000_000
        out = net.run({"input": x})["output"]
    assert ref.outputs["output"].sum() > 10
    np.testing.assert_array_equal(out, ref.outputs["output"])


def test_nir2pynn_command(tmp_path):
    require("nest")
    from nirbridge.cli.nir2pynn import main

    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    np.savez(tmp_path / "in.npz", input=stim)
    out = tmp_path / "out.npz"
    code = main(
        [
            str(paper_file("01_lif", "lif_norse.nir")),
            "--dt",
            "1e-4",
            "--input",
            str(tmp_path / "in.npz"),
            "--output",
            str(out),
            "--plot",
            str(tmp_path / "r.png"),
        ]
    )
    assert code == 0
    with np.load(out) as data:
        np.testing.assert_array_equal(np.flatnonzero(data["output"][:, 0]), [460, 510, 710, 760])
    assert (tmp_path / "r.png").stat().st_size > 1000
