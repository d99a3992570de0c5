"""The recipes reach the accuracies docs/training.md reports (Yin-Yang: issue 5's >= 97 %)."""

from __future__ import annotations

import numpy as np

from nirbridge.reference import simulate
from tests.conftest import require

torch = require("torch")

from nirbridge.training import Trainer  # noqa: E402
from nirbridge.training._recipes import recipe  # noqa: E402


def test_yinyang_surrogate_reaches_97_percent_and_the_reference_agrees():
    r = recipe("yinyang", "surrogate")
    net = r.network(0)
    rule = r.rule(net)
    train, test = r.data("train"), r.data("test")
    trainer = Trainer(net, rule, seed=0, progress=False, schedule=r.schedule)
    history = trainer.fit(train, test)
    accuracy = history.epochs[-1].test_accuracy
    assert accuracy >= 0.97
    # the exported graph classifies the test set identically on the reference simulator
    out = simulate(
        trainer.to_nir(), {"input": test.x.transpose(0, 1).numpy()}, batched=True
    ).outputs["output"]
    reference_accuracy = float((out.max(axis=0).argmax(axis=1) == test.y.numpy()).mean())
    assert reference_accuracy == accuracy
    assert np.isfinite(out).all()
