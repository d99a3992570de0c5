"""A training run importable by spawned processes (torch.distributed tests)."""

from __future__ import annotations

import numpy as np
import torch

from nirbridge.learning import Loss, Optimizer, Scope, Surrogate, SurrogateGradient
from nirbridge.training import SpikeDataset, SpikingNetwork, SurrogateEngine, Trainer

DT = 1e-3


def problem(seed: int = 0) -> tuple[SpikingNetwork, SurrogateGradient, SpikeDataset]:
    """A small recurrent float64 network, its rule, and random spike data with 3 classes."""
    rng = np.random.default_rng(seed)
    x = torch.as_tensor((rng.random((40, 25, 6)) < 0.3).astype(np.float64))
    y = torch.as_tensor(rng.integers(0, 3, 40))
    net = SpikingNetwork.build(
        [6, 12, 3],
        ["lif", "li"],
        dt=DT,
        tau_mem=[5e-3, 10e-3],
        recurrent=[True, False],
        weight_std=[0.8, 0.5],
        seed=seed,
        dtype=torch.float64,
    )
    rule = SurrogateGradient(
        scope=Scope(plastic_edges=(("input", "fc1"), ("lif1", "fc2")), readout="li2"),
        surrogate=Surrogate(function="fast_sigmoid", slope=5.0),
        loss=Loss(name="max_voltage"),
        optimizer=Optimizer.adam(1e-2, batch_size=16),
        epochs=2,
    )
    return net, rule, SpikeDataset(x, y, DT, "random")


def train_and_save(rank: int, world: int, path: str) -> None:
    net, rule, data = problem()
    trainer = Trainer(net, rule, engine=SurrogateEngine(rule, impl="eager"), seed=3, progress=False)
    history = trainer.fit(data, data)
    if rank == 0:
        torch.save(
            {
                "state": net.state_dict(),
                "loss": [e.train_loss for e in history.epochs],
                "acc": [e.test_accuracy for e in history.epochs],
            },
            path,
        )
