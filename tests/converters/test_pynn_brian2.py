"""NIR -> PyNN on Brian2 (standard cell types) against the reference simulator, spike for spike."""

from __future__ import annotations

import numpy as np
import pytest

import nirbridge
from nirbridge.converters.pynn import to_pynn
from tests.conftest import paper_file, require
from tests.converters._pynn_graphs import random_cases, run_batch

pytestmark = pytest.mark.brian2


@pytest.fixture(scope="module")
def sim():
    return require("brian2")


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_paper_lif_benchmark_spikes(sim, reset):
    """The file asks for subtraction (NIR 0.1.1); with either reset the reference gives the same
    four spikes, and so does Brian2."""
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    ref = nirbridge.simulate(graph, {"input": stim}, dt=1e-4, reset=reset)
    np.testing.assert_array_equal(np.flatnonzero(ref.outputs["output"]), [460, 510, 710, 760])
    with to_pynn(graph, sim, dt=1e-4, reset=reset) as net:
        first = net.run({"input": stim})["output"][:, 0]
        again = net.run({"input": stim})["output"][:, 0]  # a second run starts afresh
    np.testing.assert_array_equal(np.flatnonzero(first), [460, 510, 710, 760])
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize(
    "integrator,reset,count,seed",
    [
        ("euler", "zero", 120, 11),
        ("exact", "zero", 80, 12),
        ("euler", "subtract", 60, 21),
        ("exact", "subtract", 40, 22),
        pytest.param("euler", "subtract", 60, 31, marks=pytest.mark.slow),
        pytest.param("exact", "subtract", 40, 32, marks=pytest.mark.slow),
    ],
)
def test_random_lif_if_graphs_are_spike_exact(sim, integrator, reset, count, seed):
    """200 random feed-forward and recurrent LIF/IF networks per reset mode, 25 per simulation
    (subtract: 100 by default, another 100 with ``-m slow``). The subtract reset runs PyNN's
    standard types with ``v = v - v_thresh`` as Brian2 reset statement."""
    rng = np.random.default_rng(seed)
    cases = random_cases(rng, count, kinds=("LIF", "IF"))
    spikes = 0
    for start in range(0, count, 25):
        batch = cases[start : start + 25]
        pairs = run_batch(sim, batch, integrator=integrator, reset=reset)
        for case, (ref, out) in zip(batch, pairs, strict=True):
            np.testing.assert_array_equal(out, ref, err_msg=case.net.describe())
            spikes += int(ref.sum())
    recurrent = sum(any(layer.w_rec is not None for layer in c.net.layers) for c in cases)
    assert spikes > 15 * count and recurrent > count // 10  # real activity and recurrence


@pytest.mark.parametrize("integrator", ["euler", "exact"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_random_graphs_with_analog_inputs_are_spike_exact(sim, integrator, reset):
    """Analog (real-valued) Inputs drive one step current source per neuron they reach (PyNN's
    Brian2 sources change ``i_inj`` at the start of a step, so they act in it); 15 analog-input
    and 10 spike-input networks per mode, in one simulation."""
    rng = np.random.default_rng(50 + 2 * (integrator == "exact") + (reset == "subtract"))
    cases = random_cases(rng, 15, kinds=("LIF", "IF"), p_in=0.5, analog=True)
    cases += random_cases(rng, 10, kinds=("LIF", "IF"))
    pairs = run_batch(sim, cases, integrator=integrator, reset=reset)
    spikes = 0
    for case, (ref, out) in zip(cases, pairs, strict=True):
        np.testing.assert_array_equal(out, ref, err_msg=case.net.describe())
        spikes += int(ref.sum())
    assert spikes > 700


@pytest.mark.parametrize("integrator", ["euler", "exact"])
def test_analog_inputs_into_cubalif_are_spike_exact(sim, integrator):
    """On Brian2 an analog input enters an exponential synapse's current ``ie`` the way a spike
    would (NEST's current sources would bypass the synapse, so NEST refuses this)."""
    rng = np.random.default_rng(60 + (integrator == "exact"))
    cases = random_cases(rng, 10, kinds=("CubaLIF", "LIF"), steps=80, p_in=0.5, analog=True)
    pairs = run_batch(sim, cases, integrator=integrator)
    spikes = 0
    for case, (ref, out) in zip(cases, pairs, strict=True):
        np.testing.assert_array_equal(out, ref, err_msg=case.net.describe())
        spikes += int(ref.sum())
    assert spikes > 100 and sum(c.net.layers[0].kind == "CubaLIF" for c in cases) >= 3


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("integrator", ["euler", "exact"])
def test_cubalif_graphs_with_recurrence_are_spike_exact(sim, integrator, reset):
    """Brian2's exponential synapse acts within the step of its delivery (no synaptic lag, unlike
    NEST), so recurrent CubaLIF layers are exact too, in both reset modes (NEST has no
    subtracting CubaLIF at all)."""
    rng = np.random.default_rng({"euler": 21, "exact": 22}[integrator] + 10 * (reset == "subtract"))
    cases = random_cases(rng, 15, kinds=("CubaLIF", "LIF"), steps=80, p_in=0.3)
    pairs = run_batch(sim, cases, integrator=integrator, reset=reset)
    spikes = 0
    for case, (ref, out) in zip(cases, pairs, strict=True):
        np.testing.assert_array_equal(out, ref, err_msg=case.net.describe())
        spikes += int(ref.sum())
    recurrent = sum(
        any(layer.w_rec is not None and layer.kind == "CubaLIF" for layer in c.net.layers)
        for c in cases
    )
    assert spikes > 100 and recurrent >= 3


@pytest.mark.parametrize(
    "name,reset",
    [
        ("braille_noDelay_bias_zero.nir", "zero"),
        ("braille_noDelay_noBias_subtract.nir", "subtract"),
    ],
)
def test_braille_is_spike_exact(sim, name, reset):
    """The recurrent CubaLIF Braille graphs, which NEST can only approximate (zero reset) or not
    run at all (subtract), each with the reset it was trained with."""
    graph = nirbridge.read(paper_file("03_rnn", name))
    x = (np.random.default_rng(0).random((120, 12)) < 0.1).astype(float)
    ref = nirbridge.simulate(graph, {"input": x}, dt=1e-4, reset=reset)
    with to_pynn(graph, sim, dt=1e-4, reset=reset) as net:
        assert not net.plan.approximations
        out = net.run({"input": x})["output"]
    assert ref.outputs["output"].sum() > 5
    np.testing.assert_array_equal(out, ref.outputs["output"])


def test_nir2pynn_command_on_brian2(tmp_path):
    require("brian2")
    from nirbridge.cli.nir2pynn import main

    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    np.savez(tmp_path / "in.npz", input=stim)
    out = tmp_path / "out.npz"
    model = str(paper_file("01_lif", "lif_norse.nir"))
    args = [model, "--dt", "1e-4", "--simulator", "brian2", "--input", str(tmp_path / "in.npz")]
    for reset in ("auto", "zero"):  # auto: subtract, from the file
        assert main([*args, "--reset", reset, "--output", str(out)]) == 0
        with np.load(out) as data:
            spikes = np.flatnonzero(data["output"][:, 0])
        np.testing.assert_array_equal(spikes, [460, 510, 710, 760])
        out.unlink()


def test_registry_target_checks_without_building(sim):
    from nirbridge.converters import registry

    target = registry.get("pynn-brian2")
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    assert target.check(graph) == [] and target.check(graph, reset="zero") == []
    braille = nirbridge.read(paper_file("03_rnn", "braille_noDelay_noBias_subtract.nir"))
    assert target.check(braille) == []  # CubaLIF with subtraction
    braille = nirbridge.read(paper_file("03_rnn", "braille_noDelay_bias_zero.nir"))
    assert target.check(braille, reset="zero") == []  # no approximation needed on Brian2
