"""The NIR paper's LIF benchmark (tests/fixtures/nir-paper/01_lif) on the reference."""

from __future__ import annotations

import numpy as np

import nirbridge
from tests.conftest import paper_file

DT = 1e-4


def _run(**kw):
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")
    return stim, nirbridge.simulate(graph, {"input": stim[:, :1]}, dt=DT, record=["1.v"], **kw)


def test_spike_steps_match_the_papers_reference():
    stim, result = _run()
    assert result.reset == "subtract"  # NIR 0.1.1 file
    steps = np.flatnonzero(result.outputs["output"][:, 0])
    np.testing.assert_array_equal(steps, [460, 510, 710, 760])
    np.testing.assert_array_equal(steps, np.flatnonzero(stim[:, 2]))


def test_voltage_matches_snntorch_and_norse_traces_before_the_first_spike():
    _, result = _run()
    v = result.recorded["1.v"][:, 0]
    norse = np.loadtxt(paper_file("01_lif", "lif_norse.csv"), delimiter=",")[:, 1]
    # snnTorch stored its membrane in units of the scaled input (1/a = tau/dt = 25).
    snn = np.loadtxt(paper_file("01_lif", "lif_snntorch.csv"), delimiter=",")[:, 1] / 25.0
    first = 460
    np.testing.assert_allclose(v[:first], norse[:first], atol=1e-6)
    np.testing.assert_allclose(v[:first], snn[:first], atol=1e-6)
    assert np.abs(v[:first]).max() > 0.05  # the trace is not trivially zero


def test_platforms_that_lag_are_shifted_copies():
    _, result = _run()
    ours = np.flatnonzero(result.outputs["output"][:, 0])
    for platform in ("lava_cpu_float", "spyx"):
        theirs = np.flatnonzero(
            np.loadtxt(paper_file("01_lif", f"lif_{platform}.csv"), delimiter=",")[:, 2]
        )
        np.testing.assert_array_equal(theirs, ours + 1)


def test_zero_reset_override_changes_the_result():
    _, sub = _run()
    _, zero = _run(reset="zero")
    assert zero.reset == "zero"
    assert not np.array_equal(sub.recorded["1.v"], zero.recorded["1.v"])
