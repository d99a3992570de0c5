"""``nirbridge train``: files written, resumable, and the written model runs on the reference."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nirbridge.cli.main import main
from nirbridge.graph import read
from nirbridge.learning import rule_of
from nirbridge.reference import simulate
from tests.conftest import require

torch = require("torch")
require("sklearn")

from nirbridge.training import SpikingNetwork  # noqa: E402
from nirbridge.training.datasets.digits import digits  # noqa: E402


def _train(tmp_path, name, *extra, dataset="digits", algorithm="surrogate"):
    """Run ``nirbridge train``; return the model's path and its metrics."""
    out = tmp_path / f"{name}.nir"
    args = ["train", "--dataset", dataset, "--algorithm", algorithm, "--output", str(out)]
    args += ["--metrics", str(tmp_path / f"{name}.json"), "--progress", "off", *extra]
    assert main(args) == 0
    return out, json.loads((tmp_path / f"{name}.json").read_text())


def test_train_writes_model_metrics_plot_and_the_model_runs_on_the_reference(tmp_path):
    out, metrics = _train(tmp_path, "a", "--epochs", "3", "--plot", str(tmp_path / "c.png"))
    assert (tmp_path / "c.png").stat().st_size > 0
    assert len(metrics["train_loss"]) == 3 and metrics["train_loss"][2] < metrics["train_loss"][0]
    assert metrics["test_accuracy"] > 0.5  # chance is 0.1
    graph = read(out)
    assert rule_of(graph).kind == "surrogate_gradient"
    net = SpikingNetwork.from_nir(graph, dtype=torch.float64)
    test = digits("test", dt=net.dt, steps=metrics["recipe"]["steps"])
    x = test.x[:64].transpose(0, 1).to(torch.float64)
    with torch.no_grad():
        hidden, readout = net(x, impl="eager")
    result = simulate(graph, {"input": x.numpy()}, batched=True, record=["lif1"])
    assert hidden.sum() > 0
    np.testing.assert_array_equal(result.recorded["lif1"], hidden.numpy())
    np.testing.assert_allclose(result.outputs["output"], readout.numpy(), rtol=1e-9, atol=1e-9)


def test_resume_gives_the_straight_run(tmp_path):
    straight, _ = _train(tmp_path, "straight", "--epochs", "2")
    ckpt = tmp_path / "part.ckpt"
    _train(tmp_path, "part", "--epochs", "1", "--checkpoint", str(ckpt))
    resumed, metrics = _train(tmp_path, "resumed", "--epochs", "2", "--resume", str(ckpt))
    assert len(metrics["train_loss"]) == 2
    a, b = read(straight), read(resumed)
    for name in ("fc1", "fc2"):
        np.testing.assert_array_equal(a.nodes[name].weight, b.nodes[name].weight)


def test_missing_checkpoint_is_an_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x.nir"
    code = main(
        ["train", "--dataset", "digits", "--algorithm", "surrogate", "--output", str(out)]
        + ["--resume", str(tmp_path / "nope.ckpt"), "--progress", "off"]
    )
    assert code == 2 and not out.exists()
    assert "nope.ckpt" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--help"])
def test_help_names_the_datasets_and_algorithms(flag, capsys):
    with pytest.raises(SystemExit):
        main(["train", flag])
    text = capsys.readouterr().out
    for word in ("yinyang", "digits", "mnist5k", "surrogate", "eventprop", "eprop", "--resume"):
        assert word in text


def test_eprop_training_writes_a_model_the_reference_runs_spike_exact(tmp_path):
    out, _ = _train(tmp_path, "e", "--epochs", "1", algorithm="eprop")
    graph = read(out)
    assert rule_of(graph).kind == "eprop"
    from nirbridge.training._recipes import recipe

    r = recipe("digits", "eprop")
    test = r.data("test")
    x = test.x[:32].transpose(0, 1).to(torch.float64)
    assert not x[0].any()  # bsshslm_2020 trials: the first step is silent
    result = simulate(graph, {"input": x.numpy()}, batched=True, record=["hidden"])
    spikes = result.recorded["hidden"]
    assert spikes.sum() > 0
    # the trained weights, run by the learner that trained them, give the same spikes
    from nirbridge.training import EPropEngine

    engine = EPropEngine(rule_of(graph))
    net = r.network(0)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.as_tensor(graph.nodes["w_in"].weight))
        net.layers[1].weight.copy_(torch.as_tensor(graph.nodes["w_out"].weight))
        rec = torch.as_tensor(graph.nodes["w_rec"].weight)
        rec = rec - torch.diag(torch.diag(rec))  # the export's diagonal is the late reset
        net.layers[0].rec_weight.copy_(rec)
    z, y = engine.learner(net).forward(x)
    np.testing.assert_array_equal(spikes, z.numpy())


def test_eventprop_training_writes_a_model_the_reference_runs_spike_exact(tmp_path):
    out, _ = _train(tmp_path, "ev", "--epochs", "1", dataset="yinyang", algorithm="eventprop")
    graph = read(out)
    assert rule_of(graph).kind == "eventprop"
    from nirbridge.training._recipes import recipe
    from nirbridge.training.eventprop import eventprop_forward

    r = recipe("yinyang", "eventprop")
    x = r.data("test").x[:40].transpose(0, 1).to(torch.float64)
    net = SpikingNetwork.from_nir(graph, dtype=torch.float64)
    layers = [(m.weight, m.bias, m.rec_weight, m.params) for m in net.layers]
    with torch.no_grad():
        trained = eventprop_forward(x, layers, rule_of(graph).loss)
    result = simulate(graph, {"input": x.numpy()}, batched=True, record=["cubalif1"])
    hidden = trained.spike_raster(0).numpy()
    assert hidden.sum() > 0
    np.testing.assert_array_equal(result.recorded["cubalif1"], hidden)
    np.testing.assert_array_equal(result.outputs["output"], trained.spike_raster(1).numpy())
