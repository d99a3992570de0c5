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


def test_paper_lif_benchmark_spikes_with_zero_reset(sim):
    """The file asks for subtraction (NIR 0.1.1), which standard cells cannot do; with the zero
    reset the reference gives the same four spikes, and so does Brian2."""
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    ref = nirbridge.simulate(graph, {"input": stim}, dt=1e-4, reset="zero")
    np.testing.assert_array_equal(np.flatnonzero(ref.outputs["output"]), [460, 510, 710, 760])
    with to_pynn(graph, sim, dt=1e-4, reset="zero") as net:
        first = net.run({"input": stim})["output"][:, 0]
        again = net.run({"input": stim})["output"][:, 0]  # a second run starts afresh
    np.testing.assert_array_equal(np.flatnonzero(first), [460, 510, 710, 760])
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("integrator,count", [("euler", 120), ("exact", 80)])
def test_random_lif_if_graphs_are_spike_exact(sim, integrator, count):
    """200 random feed-forward and recurrent LIF/IF networks (zero reset), 25 per simulation."""
    rng = np.random.default_rng({"euler": 11, "exact": 12}[integrator])
    cases = random_cases(rng, count, kinds=("LIF", "IF"))
    spikes = 0
    for start in range(0, count, 25):
        batch = cases[start : start + 25]
        pairs = run_batch(sim, batch, integrator=integrator)
        for case, (ref, out) in zip(batch, pairs, strict=True):
            np.testing.assert_array_equal(out, ref, err_msg=case.net.describe())
            spikes += int(ref.sum())
    recurrent = sum(any(layer.w_rec is not None for layer in c.net.layers) for c in cases)
    assert spikes > 2000 and recurrent > 20  # the comparison saw real activity and recurrence


@pytest.mark.parametrize("integrator", ["euler", "exact"])
def test_cubalif_graphs_with_recurrence_are_spike_exact(sim, integrator):
    """Brian2's exponential synapse acts within the step of its delivery (no synaptic lag, unlike
    NEST), so recurrent CubaLIF layers are exact too."""
    rng = np.random.default_rng({"euler": 21, "exact": 22}[integrator])
    cases = random_cases(rng, 15, kinds=("CubaLIF", "LIF"), steps=80, p_in=0.3)
    spikes = 0
    for case, (ref, out) in zip(cases, run_batch(sim, cases, integrator=integrator), strict=True):
        np.testing.assert_array_equal(out, ref, err_msg=case.net.describe())
        spikes += int(ref.sum())
    recurrent = sum(
        any(layer.w_rec is not None and layer.kind == "CubaLIF" for layer in c.net.layers)
        for c in cases
    )
    assert spikes > 100 and recurrent >= 3


def test_braille_zero_reset_is_spike_exact(sim):
    """The recurrent CubaLIF Braille graph, which NEST can only approximate."""
    graph = nirbridge.read(paper_file("03_rnn", "braille_noDelay_bias_zero.nir"))
    x = (np.random.default_rng(0).random((120, 12)) < 0.1).astype(float)
    ref = nirbridge.simulate(graph, {"input": x}, dt=1e-4, reset="zero")
    with to_pynn(graph, sim, dt=1e-4, reset="zero") as net:
        assert not net.plan.approximations
        out = net.run({"input": x})["output"]
    assert ref.outputs["output"].sum() > 5
    np.testing.assert_array_equal(out, ref.outputs["output"])


def test_subtract_reset_is_refused_by_node(sim):
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))  # NIR 0.1.1: subtract
    with pytest.raises(nirbridge.UnsupportedError, match="node '1'.*brian2.*subtract"):
        to_pynn(graph, sim, dt=1e-4)


def test_nir2pynn_command_on_brian2(tmp_path):
    require("brian2")
    from nirbridge.cli.nir2pynn import main

    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    np.savez(tmp_path / "in.npz", input=stim)
    out = tmp_path / "out.npz"
    model = str(paper_file("01_lif", "lif_norse.nir"))
    args = [model, "--dt", "1e-4", "--simulator", "brian2", "--input", str(tmp_path / "in.npz")]
    assert main([*args, "--output", str(out)]) == 2  # subtract (from the file) is refused
    assert not out.exists()
    assert main([*args, "--reset", "zero", "--output", str(out)]) == 0
    with np.load(out) as data:
        np.testing.assert_array_equal(np.flatnonzero(data["output"][:, 0]), [460, 510, 710, 760])


def test_registry_target_checks_without_building(sim):
    from nirbridge.converters import registry

    target = registry.get("pynn-brian2")
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    issues = target.check(graph)
    assert len(issues) == 1 and issues[0].node == "1" and "subtract" in issues[0].message
    assert target.check(graph, reset="zero") == []
    braille = nirbridge.read(paper_file("03_rnn", "braille_noDelay_bias_zero.nir"))
    assert target.check(braille, reset="zero") == []  # no approximation needed on Brian2
