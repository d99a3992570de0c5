"""The trainer: resumable runs, data-parallel equality, checkpoints, and the exported model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nirbridge import CheckpointError
from nirbridge.learning import rule_of
from nirbridge.reference import simulate
from tests.conftest import require

torch = require("torch")

from nirbridge.training import SurrogateEngine, Trainer, launch  # noqa: E402
from tests.training._ddp_worker import problem, train_and_save  # noqa: E402


def _trainer(tmp_path=None, **kw):
    net, rule, data = problem()
    ckpt = None if tmp_path is None else tmp_path / "run.ckpt"
    engine = SurrogateEngine(rule, impl="eager")
    return Trainer(net, rule, engine=engine, seed=3, checkpoint=ckpt, progress=False, **kw), data


def _assert_same_weights(a, b, tol=0.0):
    for (name, x), (_, y) in zip(a.items(), b.items(), strict=True):
        torch.testing.assert_close(x, y, rtol=tol, atol=tol, msg=name)


def test_training_changes_the_weights_and_lowers_the_loss():
    trainer, data = _trainer()
    before = {k: v.clone() for k, v in trainer.network.state_dict().items()}
    history = trainer.fit(data, data, epochs=6)
    losses = [e.train_loss for e in history.epochs]
    assert losses[-1] < losses[0]
    assert any(not torch.equal(before[k], v) for k, v in trainer.network.state_dict().items())


def test_resume_continues_exactly(tmp_path):
    straight, data = _trainer()
    straight.fit(data, data, epochs=2)
    first, _ = _trainer(tmp_path)
    first.fit(data, data, epochs=1)
    second, _ = _trainer()
    history = second.fit(data, data, epochs=2, resume=tmp_path / "run.ckpt")
    assert [e.epoch for e in history.epochs] == [1, 2]
    _assert_same_weights(second.network.state_dict(), straight.network.state_dict())
    assert history.epochs[1].train_loss == straight.history.epochs[1].train_loss


def test_an_interrupted_run_keeps_its_finished_epochs(tmp_path):
    trainer, data = _trainer(tmp_path)

    def stop(record):
        if record.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trainer.fit(data, data, epochs=3, on_epoch=stop)
    resumed, _ = _trainer()
    resumed.load_checkpoint(tmp_path / "run.ckpt")
    assert len(resumed.history.epochs) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_a_foreign_checkpoint_is_refused(tmp_path):
    trainer, data = _trainer(tmp_path)
    trainer.fit(data, epochs=1)
    net, rule, _ = problem()
    other = Trainer(net, rule, engine=SurrogateEngine(rule, impl="eager"), seed=4, progress=False)
    with pytest.raises(CheckpointError, match="seed"):
        other.load_checkpoint(tmp_path / "run.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk"):
        other.load_checkpoint(tmp_path / "junk.ckpt")


def test_two_processes_compute_the_weights_of_one(tmp_path):
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    train_and_save(0, 1, str(one))
    launch(train_and_save, 2, str(two))
    a, b = torch.load(one, weights_only=True), torch.load(two, weights_only=True)
    # float64: the sums are split differently, so agreement is to round-off, not bits
    _assert_same_weights(a["state"], b["state"], tol=1e-10)
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-10)
    assert a["acc"] == b["acc"]


def test_the_trained_network_runs_spike_exact_on_the_reference():
    trainer, data = _trainer()
    trainer.fit(data, epochs=2)
    net = trainer.network
    graph = net.to_nir(trainer.rule)
    assert rule_of(graph).kind == "surrogate_gradient"
    x = data.x.transpose(0, 1)  # (T, B, n)
    with torch.no_grad():
        outputs = net(x, trainer.engine.surrogate, impl="eager")
    record = [neuron for _, neuron, _ in net.node_names()]
    result = simulate(graph, {"input": x.numpy()}, batched=True, record=record)
    hidden = outputs[0].numpy()
    assert hidden.sum() > 0
    np.testing.assert_array_equal(result.recorded["lif1"], hidden)
    np.testing.assert_allclose(result.outputs["output"], outputs[-1].numpy(), rtol=1e-9, atol=1e-12)


def test_metrics_file(tmp_path):
    trainer, data = _trainer()
    trainer.fit(data, data, epochs=2)
    trainer.write_metrics(tmp_path / "m.json", seed=3)
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert len(metrics["train_loss"]) == 2 and metrics["seed"] == 3
    assert metrics["test_accuracy"] == trainer.history.epochs[-1].test_accuracy
    assert metrics["seconds"] > 0
