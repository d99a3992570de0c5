"""Training engines: surrogate-gradient BPTT on fused kernels, EventProp and e-prop.

Every engine computes the step of :mod:`nirbridge.training._layers` (SEMANTICS.md's euler step),
so a trained network exports to NIR with its learning rule and runs identically on the reference.

- :class:`SpikingNetwork`: the trainable chain of layers, ``to_nir(rule)`` / ``from_nir(graph)``.
- :class:`Trainer`: epochs, optimizer, atomic resumable checkpoints, metrics, data parallelism.
- engines: :class:`SurrogateEngine`, :class:`EventPropEngine`, :class:`EPropEngine` (chosen
  from the rule by :func:`engine_for`).
- :func:`launch`: run a training function in N processes (gloo) on one machine.
"""

from ._data import SpikeDataset
from ._distributed import launch
from ._engines import (
    BatchResult,
    Engine,
    EPropEngine,
    EventPropEngine,
    SurrogateEngine,
    engine_for,
)
from ._layers import KINDS, RESETS, SPIKING, LayerParams
from ._losses import BPTT_LOSSES, predict, readout_loss, regularization
from ._network import SpikingLayer, SpikingNetwork
from ._trainer import EpochRecord, History, Trainer, epoch_order, make_optimizer

__all__ = [
    "BPTT_LOSSES",
    "BatchResult",
    "EPropEngine",
    "Engine",
    "EpochRecord",
    "EventPropEngine",
    "History",
    "KINDS",
    "LayerParams",
    "RESETS",
    "SPIKING",
    "SpikeDataset",
    "SpikingLayer",
    "SpikingNetwork",
    "SurrogateEngine",
    "Trainer",
    "engine_for",
    "epoch_order",
    "launch",
    "make_optimizer",
    "predict",
    "readout_loss",
    "regularization",
]
