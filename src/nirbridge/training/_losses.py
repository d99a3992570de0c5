"""The schema's readout losses on a trained network's last-layer output, and its predictions.

The readout output is ``(T, B, C)``: spikes of a spiking readout, or the voltage of an LI/CubaLI
readout. Each loss reads one statistic per class and trial from it (the same one the prediction
takes the arg-max of), as :class:`nirbridge.learning.Loss` defines:

================  ======================================  =====================================
loss              statistic per class                     loss
================  ======================================  =====================================
max_voltage       ``max_t v``                              cross entropy of its softmax
sum_voltage       ``sum_t v``                              cross entropy of its softmax
spike_count       ``sum_t z``                              cross entropy of its softmax
mse_count         ``sum_t z``                              mean squared error to the target counts
================  ======================================  =====================================

``ttfs`` needs spike times that move with the weights: only EventProp computes its gradient.
Losses are means over the batch, or, with ``normalizer``, sums divided by it (data-parallel
training divides by the global batch so that gradients add up across processes).
"""

from __future__ import annotations

import torch

from .._errors import LearningRuleError
from ..learning import Loss

#: Losses a surrogate-gradient network computes with autograd.
BPTT_LOSSES = ("max_voltage", "sum_voltage", "spike_count", "mse_count")


def statistic(loss: Loss, out: torch.Tensor) -> torch.Tensor:
    """The per-class statistic ``(B, C)`` of ``out`` ``(T, B, C)`` the loss and prediction use."""
    if loss.name == "max_voltage":
        return out.max(dim=0).values
    if loss.name in ("sum_voltage", "spike_count", "mse_count"):
        return out.sum(dim=0)
    raise LearningRuleError(
        "this loss is not computed from the readout output by autograd",
        rule="surrogate_gradient",
        field="loss.name",
        expected=f"one of {list(BPTT_LOSSES)} (ttfs: use EventProp)",
        got=loss.name,
    )


def readout_loss(
    loss: Loss, out: torch.Tensor, labels: torch.Tensor, *, normalizer: int | None = None
) -> torch.Tensor:
    """The scalar loss of readout output ``out`` ``(T, B, C)`` for class ``labels`` ``(B,)``."""
    stat = statistic(loss, out)
    if loss.name == "mse_count":
        steps = out.shape[0]
        target = torch.full_like(stat, float(loss.incorrect_rate or 0.0) * steps)
        rate = float(loss.correct_rate if loss.correct_rate is not None else 1.0)
        target.scatter_(1, labels.view(-1, 1), rate * steps)
        per_sample = ((stat - target) ** 2).mean(dim=1)
    else:
        per_sample = torch.nn.functional.cross_entropy(stat, labels, reduction="none")
    if normalizer is None:
        return per_sample.mean()
    return per_sample.sum() / normalizer


def predict(loss: Loss, out: torch.Tensor) -> torch.Tensor:
    """The predicted class ``(B,)``: the arg-max of the loss's statistic."""
    return statistic(loss, out).argmax(dim=1)


def regularization(
    regularizers: tuple,
    net: torch.nn.Module,
    outputs: list[torch.Tensor],
    *,
    normalizer: int | None = None,
    share: float = 1.0,
) -> torch.Tensor:
    """The schema's regularizers (:class:`nirbridge.learning.Regularizer`) on ``net``.

    Activity terms read the spiking layers' outputs ``(T, B, n)`` named by their neuron nodes
    (``lif1``...), weight terms the weight nodes (``fc1``, ``rec1``); an empty ``nodes`` means
    every spiking layer, or every weight node. Per-sample means become sums over
    ``normalizer`` when it is given, as in :func:`readout_loss`; weight terms are multiplied by
    ``share`` (1/processes when data-parallel gradients are summed across processes).
    """
    total = outputs[-1].new_zeros(())
    names = net.node_names()
    spiking = {
        neuron: out
        for (_fc, neuron, _rec), layer, out in zip(names, net.layers, outputs, strict=True)
        if layer.params.spiking
    }
    weights = {}
    for (fc, _neuron, rec), layer in zip(names, net.layers, strict=True):
        weights[fc] = layer.weight
        if rec is not None:
            weights[rec] = layer.rec_weight
    for reg in regularizers:
        if reg.name.startswith("weight_"):
            chosen = [weights[n] for n in (reg.nodes or tuple(weights))]
            power = 1 if reg.name == "weight_l1" else 2
            total = total + share * reg.strength * sum(w.abs().pow(power).sum() for w in chosen)
            continue
        for name in reg.nodes or tuple(spiking):
            counts = spiking[name].sum(dim=0)  # (B, n)
            if reg.name == "firing_rate":
                seconds = spiking[name].shape[0] * net.dt
                term = (counts / seconds - reg.target_rate) ** 2
            elif reg.name == "spike_count_lower":
                term = torch.relu(reg.threshold - counts) ** 2
            else:
                term = torch.relu(counts - reg.threshold) ** 2
            per_sample = term.mean(dim=1)
            batch_term = per_sample.mean() if normalizer is None else per_sample.sum() / normalizer
            total = total + reg.strength * batch_term
    return total


__all__ = ["BPTT_LOSSES", "predict", "readout_loss", "regularization", "statistic"]
