"""Recipes: the network, encoding and rule that train each dataset with each algorithm.

A recipe is plain data (sizes, kinds, time constants, loss, optimizer, epochs) plus the dataset
it reads; ``nirbridge train`` runs one, and docs/training.md reports what each reached.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from ..learning import (
    EProp,
    EPropSurrogate,
    EventProp,
    LearningRule,
    Loss,
    Optimizer,
    Scope,
    Surrogate,
    SurrogateGradient,
)
from ._data import SpikeDataset
from ._network import SpikingNetwork

DATASETS = ("yinyang", "digits", "mnist5k")
ALGORITHMS = ("surrogate", "eventprop", "eprop")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything one training run needs besides the seed."""

    dataset: str
    algorithm: str
    dt: float
    steps: int
    sizes: tuple[int, ...]
    kinds: tuple[str, ...]
    tau_mem: float | tuple[float, ...]
    tau_syn: float | None
    loss: Loss | None  # None: e-prop, whose loss is NEST's (in ``eprop``)
    optimizer: Optimizer
    epochs: int
    weight_std: tuple[float | None, ...] | None = None
    weight_mean: tuple[float, ...] | None = None
    surrogate: Surrogate | None = None
    reset: str = "subtract"
    bias: bool = False
    schedule: str = "constant"
    lr_decay: float = 0.95
    recurrent: bool = False
    threshold: float = 1.0
    eprop: dict | None = None  # EProp fields besides scope, loss and optimizer
    dtype: str = "float32"

    def network(self, seed: int) -> SpikingNetwork:
        return SpikingNetwork.build(
            list(self.sizes),
            list(self.kinds),
            dt=self.dt,
            tau_mem=list(self.tau_mem) if isinstance(self.tau_mem, tuple) else self.tau_mem,
            tau_syn=self.tau_syn,
            reset=self.reset,
            bias=self.bias,
            threshold=self.threshold,
            recurrent=[self.recurrent] + [False] * (len(self.kinds) - 1),
            dtype=getattr(torch, self.dtype),
            weight_std=list(self.weight_std) if self.weight_std else None,
            weight_mean=list(self.weight_mean) if self.weight_mean else 0.0,
            seed=seed,
        )

    def rule(self, net: SpikingNetwork, *, epochs: int | None = None) -> LearningRule:
        names = net.node_names()
        plastic = [("input", names[0][0])] + [
            (names[i - 1][1], names[i][0]) for i in range(1, len(names))
        ]
        scope = Scope(plastic_edges=tuple(plastic), readout=names[-1][1])
        epochs = self.epochs if epochs is None else epochs
        if self.algorithm == "surrogate":
            return SurrogateGradient(
                scope=scope,
                surrogate=self.surrogate,
                loss=self.loss,
                optimizer=self.optimizer,
                epochs=epochs,
            )
        if self.algorithm == "eventprop":
            return EventProp(scope=scope, loss=self.loss, optimizer=self.optimizer, epochs=epochs)
        if self.algorithm == "eprop":
            from .eprop import NAMES  # the e-prop graph's node names

            edges = [("input", "w_in"), ("hidden", "w_out")]
            if self.recurrent:
                edges.insert(1, ("hidden", "w_rec"))
            return EProp(
                scope=Scope(plastic_edges=tuple(edges), readout=NAMES[5]),
                optimizer=self.optimizer,
                **(self.eprop or {}),
            )
        raise ValueError(f"no recipe rule for algorithm {self.algorithm!r}")

    def data(self, split: str) -> SpikeDataset:
        return _LOADERS[self.dataset](self, split)


def _digits(recipe: Recipe, split: str) -> SpikeDataset:
    from .datasets.digits import digits

    # e-prop's trials drop their first step's input (NEST's bsshslm_2020): start one step later
    offset = recipe.dt if recipe.algorithm == "eprop" else 0.0
    return digits(split, dt=recipe.dt, steps=recipe.steps, t_offset=offset)


def _mnist5k(recipe: Recipe, split: str) -> SpikeDataset:
    from .datasets.mnist5k import mnist5k

    return mnist5k(split, dt=recipe.dt, steps=recipe.steps)


def _yinyang(recipe: Recipe, split: str) -> SpikeDataset:
    from .datasets import yinyang_spike_times, yinyang_split

    points, labels = yinyang_split(split)
    times = yinyang_spike_times(points)
    return SpikeDataset.from_spike_times(
        times, labels, dt=recipe.dt, steps=recipe.steps, name=f"yinyang-{split}"
    )


_LOADERS: dict[str, Callable[[Recipe, str], SpikeDataset]] = {
    "digits": _digits,
    "mnist5k": _mnist5k,
    "yinyang": _yinyang,
}

RECIPES: dict[tuple[str, str], Recipe] = {
    # Wunderlich & Pehle's input code (4 coordinates and a bias spike in 0..30 ms), 200 hidden
    # LIF, 3 leaky-integrator readouts whose maximum voltage is the class score
    ("yinyang", "surrogate"): Recipe(
        dataset="yinyang",
        algorithm="surrogate",
        dt=1e-3,
        steps=60,
        sizes=(5, 200, 3),
        kinds=("lif", "li"),
        tau_mem=20e-3,
        tau_syn=None,
        loss=Loss(name="max_voltage"),
        optimizer=Optimizer.adam(2e-3, batch_size=32),
        epochs=60,
        weight_std=(1.0, 0.1),
        weight_mean=(1.0 / 3.0, 0.0),
        surrogate=Surrogate(function="fast_sigmoid", slope=10.0),
        schedule="cosine",
    ),
    # NEST's e-prop (bsshslm_2020: one trial per image, Adam per batch of trials), a recurrent
    # LIF layer and a leaky readout whose mean over the last 10 ms is the class score
    ("digits", "eprop"): Recipe(
        dataset="digits",
        algorithm="eprop",
        dt=1e-3,
        steps=30,
        sizes=(64, 100, 10),
        kinds=("lif", "li"),
        tau_mem=(20e-3, 10e-3),
        tau_syn=None,
        loss=None,
        optimizer=Optimizer.adam(5e-3, batch_size=32, epsilon=1e-7),
        epochs=20,
        weight_std=(0.3, 0.1),
        threshold=0.5,
        recurrent=True,
        dtype="float64",
        eprop={
            "variant": "bsshslm_2020",
            "loss": "cross_entropy",
            "feedback": "symmetric",
            "surrogate": EPropSurrogate(function="piecewise_linear", beta=1.0, gamma=0.3),
            "learning_window": 10e-3,
            "update_interval": 30e-3,
            "reset_neurons_on_update": True,
            "average_gradient": False,
        },
    ),
}

# Wunderlich & Pehle's EventProp Yin-Yang network: CubaLIF hidden and output layers, the
# time-to-first-spike loss, their initial weights (N(1.5, 0.78), N(0.93, 0.1) in units of the
# current jump) and Adam step (5e-3), both times dt/tau_mem in the step equations' units, on a
# 0.05 ms grid (0.1 ms degrades the hidden layer's gradient: docs/eventprop.md)
_EP_SCALE = 5e-5 / 20e-3
RECIPES[("yinyang", "eventprop")] = Recipe(
    dataset="yinyang",
    algorithm="eventprop",
    dt=5e-5,
    steps=1000,
    sizes=(5, 200, 3),
    kinds=("cubalif", "cubalif"),
    tau_mem=20e-3,
    tau_syn=5e-3,
    loss=Loss(name="ttfs", tau0=0.5e-3, tau1=6.4e-3, alpha=0.003),
    optimizer=Optimizer.adam(5e-3 * _EP_SCALE, batch_size=128),
    epochs=45,
    weight_std=(0.78 * _EP_SCALE, 0.1 * _EP_SCALE),
    weight_mean=(1.5 * _EP_SCALE, 0.93 * _EP_SCALE),
    schedule="exponential",
    lr_decay=0.95,
)

#: Latency-coded images (30 steps of 1 ms, the second half silent): LIF hidden layer, LI readout.
_IMAGES = Recipe(
    dataset="digits",
    algorithm="surrogate",
    dt=1e-3,
    steps=30,
    sizes=(64, 128, 10),
    kinds=("lif", "li"),
    tau_mem=10e-3,
    tau_syn=None,
    loss=Loss(name="max_voltage"),
    optimizer=Optimizer.adam(2e-3, batch_size=32),
    epochs=20,
    weight_std=(0.5, 0.3),
    surrogate=Surrogate(function="fast_sigmoid", slope=10.0),
)
RECIPES[("digits", "surrogate")] = _IMAGES
RECIPES[("mnist5k", "surrogate")] = dataclasses.replace(
    _IMAGES,
    dataset="mnist5k",
    sizes=(784, 200, 10),
    optimizer=Optimizer.adam(1e-3, batch_size=64),
    epochs=15,
    weight_std=(0.1, 0.2),
)


def recipe(dataset: str, algorithm: str, **overrides: Any) -> Recipe:
    """The recipe for ``dataset`` and ``algorithm`` with fields replaced by ``overrides``."""
    try:
        base = RECIPES[(dataset, algorithm)]
    except KeyError:
        known = ", ".join(f"{d}/{a}" for d, a in RECIPES)
        raise ValueError(f"no recipe for {dataset}/{algorithm} (known: {known})") from None
    return dataclasses.replace(base, **overrides)


__all__ = ["ALGORITHMS", "DATASETS", "RECIPES", "Recipe", "recipe"]
