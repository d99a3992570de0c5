"""Progress while building and running on PyNN: the bar appears on stderr when asked for, and
running in slices computes what one run computes."""

from __future__ import annotations

import numpy as np
import pytest

import nirbridge
from nirbridge.cli._progress import ProgressSim, progress_enabled
from nirbridge.cli.nir2pynn import main
from nirbridge.converters.pynn import to_pynn
from tests.conftest import paper_file, require
from tests.converters._pynn_graphs import merge, random_cases


def test_auto_follows_the_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert not progress_enabled("auto") and progress_enabled("on") and not progress_enabled("off")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert progress_enabled("auto") and progress_enabled(None)


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("nest", marks=pytest.mark.nest),
        pytest.param("brian2", marks=pytest.mark.brian2),
        pytest.param("neuron", marks=pytest.mark.neuron),
    ],
)
def test_run_with_a_bar_equals_one_run(backend, capsys):
    """NEST and NEURON run in slices, Brian2 reports from one run: the spikes are unchanged."""
    sim = require(backend)
    rng = np.random.default_rng(8)
    cases = random_cases(rng, 6, kinds=("LIF", "IF"), steps=300)
    graph = merge([c.graph for c in cases])
    inputs = {f"g{k}_input": c.x for k, c in enumerate(cases)}
    with to_pynn(graph, sim, dt=1e-3, reset="zero") as net:
        whole = net.run(inputs)
    capsys.readouterr()
    with to_pynn(graph, ProgressSim(sim), dt=1e-3, reset="zero", progress=True) as net:
        sliced = net.run(inputs)
    err = capsys.readouterr().err
    assert "building" in err and "running" in err and "running: 100%" in err
    assert sum(int(a.sum()) for a in whole.values()) > 100
    for name in whole:
        np.testing.assert_array_equal(sliced[name], whole[name], err_msg=name)


@pytest.mark.nest
def test_nir2pynn_shows_progress_only_when_asked(tmp_path, capsys):
    require("nest")
    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    np.savez(tmp_path / "in.npz", input=stim)
    args = [str(paper_file("01_lif", "lif_norse.nir")), "--dt", "1e-4"]
    args += ["--input", str(tmp_path / "in.npz"), "--output", str(tmp_path / "out.npz")]
    assert main(args) == 0  # stderr is not a terminal here
    quiet = capsys.readouterr()
    assert "running" not in quiet.err and "4 spikes" in quiet.out
    assert main([*args, "--progress"]) == 0
    shown = capsys.readouterr()
    assert "building" in shown.err and "running" in shown.err
    assert "running" not in shown.out  # the bars stay off stdout
    with np.load(tmp_path / "out.npz") as data:
        steps = np.flatnonzero(data["output"][:, 0])
    np.testing.assert_array_equal(steps, [460, 510, 710, 760])
    ref = nirbridge.simulate(nirbridge.read(args[0]), {"input": stim}, dt=1e-4)
    np.testing.assert_array_equal(np.flatnonzero(ref.outputs["output"]), steps)
