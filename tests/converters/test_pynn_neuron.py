"""NIR -> PyNN on NEURON (standard cell types): the agreement with the reference, measured.

NEURON detects a spike when the voltage crosses the threshold between two steps (an edge-triggered
NetCon): a neuron cannot fire in two consecutive steps, and one that is still above threshold
after its reset stops firing until its voltage has been seen below threshold. Everything else
(backward-Euler decay, current-to-voltage propagator, delays) is matched exactly, so graphs
whose neurons never fire in consecutive steps are spike-exact; the figures below are measured on
fixed seeds and stated in docs/pynn.md.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

import nirbridge
from nirbridge.converters.pynn import to_pynn
from tests.conftest import paper_file, require
from tests.converters._pynn_graphs import agreement, random_cases, run_batch

pytestmark = pytest.mark.neuron


@pytest.fixture(scope="module")
def sim():
    return require("neuron")


def test_paper_lif_benchmark_spikes_with_zero_reset(sim):
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    with to_pynn(graph, sim, dt=1e-4, reset="zero") as net:
        first = net.run({"input": stim})["output"][:, 0]
        again = net.run({"input": stim})["output"][:, 0]
    np.testing.assert_array_equal(np.flatnonzero(first), [460, 510, 710, 760])
    np.testing.assert_array_equal(first, again)


def _measure(sim, cases, integrator):
    pairs = []
    for start in range(0, len(cases), 25):
        pairs += run_batch(sim, cases[start : start + 25], integrator=integrator)
    exact = sum(np.array_equal(a, b) for a, b in pairs) / len(pairs)
    return (exact, *agreement(pairs))


# (integrator, kinds, count, seed) -> measured (fraction of graphs spike-exact, fraction of
# identical spikes, activity cosine similarity); the tests assert these minus 0.02.
MEASURED = {
    ("euler", "LIF/IF"): (0.275, 0.357, 0.553),
    ("exact", "LIF/IF"): (0.325, 0.380, 0.576),
    ("euler", "CubaLIF/LIF"): (0.575, 0.624, 0.778),
    ("exact", "CubaLIF/LIF"): (0.725, 0.781, 0.879),
}


@pytest.mark.parametrize("integrator", ["euler", "exact"])
def test_random_lif_if_graphs_agreement(sim, integrator):
    """200 random feed-forward and recurrent LIF/IF networks per integrator (zero reset)."""
    rng = np.random.default_rng(0)
    cases = random_cases(rng, 200, kinds=("LIF", "IF"))
    measured = _measure(sim, cases, integrator)
    bound = MEASURED[(integrator, "LIF/IF")]
    assert all(m >= b - 0.02 for m, b in zip(measured, bound, strict=True)), measured
    assert measured[0] < 1.0  # the limitation is real: not every graph is exact


@pytest.mark.parametrize("integrator", ["euler", "exact"])
def test_random_cubalif_graphs_agreement(sim, integrator):
    rng = np.random.default_rng(0)
    cases = random_cases(rng, 40, kinds=("CubaLIF", "LIF"))
    measured = _measure(sim, cases, integrator)
    bound = MEASURED[(integrator, "CubaLIF/LIF")]
    assert all(m >= b - 0.02 for m, b in zip(measured, bound, strict=True)), measured


def test_consecutive_spikes_are_what_neuron_misses(sim):
    """An IF neuron driven above threshold every step: the reference fires every step, NEURON
    fires once and then stays above threshold (its reset never shows at a step boundary)."""
    one = np.array([1.0])
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1])}),
            "w": nir.Linear(weight=np.array([[1.5]])),
            "if": nir.IF(r=1000 * one, v_threshold=one, v_reset=0 * one),
            "output": nir.Output(output_type={"output": np.array([1])}),
        },
        edges=[("input", "w"), ("w", "if"), ("if", "output")],
        type_check=False,
    )
    x = np.ones((10, 1))
    ref = nirbridge.simulate(graph, {"input": x}, dt=1e-3, reset="zero").outputs["output"]
    with to_pynn(graph, sim, dt=1e-3, reset="zero") as net:
        out = net.run({"input": x})["output"]
    np.testing.assert_array_equal(ref[:, 0], np.ones(10))
    np.testing.assert_array_equal(out[:, 0], np.eye(10)[0])


def test_analog_inputs_are_refused_by_node(sim):
    """NEURON's backward-Euler membrane would need its own current propagator and a measured
    timing; analog inputs stay refused there."""
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    net = to_pynn(graph, sim, dt=1e-4, reset="zero")
    with net, pytest.raises(nirbridge.UnsupportedError, match="node 'input'.*current sources"):
        net.run({"input": np.full((10, 1), 0.5)})


def test_subtract_reset_is_refused_by_node(sim):
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))  # NIR 0.1.1: subtract
    with pytest.raises(nirbridge.UnsupportedError, match="node '1'.*neuron.*subtract"):
        to_pynn(graph, sim, dt=1e-4)


def test_nir2pynn_command_on_neuron(tmp_path):
    require("neuron")
    from nirbridge.cli.nir2pynn import main

    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    np.savez(tmp_path / "in.npz", input=stim)
    out = tmp_path / "out.npz"
    model = str(paper_file("01_lif", "lif_norse.nir"))
    args = [model, "--dt", "1e-4", "--simulator", "neuron", "--input", str(tmp_path / "in.npz")]
    assert main([*args, "--reset", "zero", "--output", str(out)]) == 0
    with np.load(out) as data:
        np.testing.assert_array_equal(np.flatnonzero(data["output"][:, 0]), [460, 510, 710, 760])
