"""Engines: how one batch's loss and gradients are computed, one per learning rule.

An engine turns a :class:`~nirbridge.training.SpikingNetwork`, a batch and its labels into a
differentiable loss (its ``.backward()`` fills the weights' ``.grad``) and the predicted classes.
The :class:`~nirbridge.training.Trainer` does the rest (optimizer, epochs, checkpoints,
processes), so every rule trains, checkpoints and distributes the same way.

- :class:`SurrogateEngine` (:class:`~nirbridge.learning.SurrogateGradient`): autograd through
  the fused kernels with the rule's surrogate derivative.
- :class:`EventPropEngine` (:class:`~nirbridge.learning.EventProp`): the adjoint equations
  (:mod:`nirbridge.training.eventprop`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import torch

from .._errors import LearningRuleError
from ..learning import EventProp, LearningRule, SurrogateGradient
from ._losses import predict, readout_loss, regularization
from ._network import SpikingNetwork


@dataclasses.dataclass
class BatchResult:
    """The batch's loss (differentiable when training) and predicted classes."""

    loss: torch.Tensor
    predictions: torch.Tensor


class Engine(Protocol):
    """What the trainer needs from a learning rule's engine."""

    rule: LearningRule

    def run(
        self,
        net: SpikingNetwork,
        x: torch.Tensor,
        labels: torch.Tensor,
        *,
        normalizer: int | None = None,
        share: float = 1.0,
    ) -> BatchResult:
        """Loss and predictions of batch ``x`` ``(T, B, n_in)``; ``normalizer``: divide summed
        per-sample losses by it (else mean); ``share``: factor of batch-independent terms."""


class SurrogateEngine:
    """Surrogate-gradient BPTT through :func:`nirbridge.training.kernels.run_layer`."""

    def __init__(self, rule: SurrogateGradient, *, impl: str = "auto") -> None:
        from .surrogates import surrogate_from_rule

        self.rule = rule
        self.impl = impl
        self.surrogate = surrogate_from_rule(rule.surrogate)

    def run(
        self,
        net: SpikingNetwork,
        x: torch.Tensor,
        labels: torch.Tensor,
        *,
        normalizer: int | None = None,
        share: float = 1.0,
    ) -> BatchResult:
        outputs = net(x, self.surrogate, detach_reset=self.rule.detach_reset, impl=self.impl)
        loss = readout_loss(self.rule.loss, outputs[-1], labels, normalizer=normalizer)
        if self.rule.regularizers:
            loss = loss + regularization(
                self.rule.regularizers, net, outputs, normalizer=normalizer, share=share
            )
        return BatchResult(loss, predict(self.rule.loss, outputs[-1].detach()))


class EventPropEngine:
    """EventProp: gradients from the adjoint dynamics (:mod:`nirbridge.training.eventprop`)."""

    def __init__(self, rule: EventProp) -> None:
        if rule.regularizers:
            raise LearningRuleError(
                "the EventProp engine has no adjoint for regularizers yet",
                rule=rule.kind,
                field="regularizers",
                expected="()",
                got=f"{len(rule.regularizers)} regularizer(s)",
            )
        self.rule = rule

    def run(
        self,
        net: SpikingNetwork,
        x: torch.Tensor,
        labels: torch.Tensor,
        *,
        normalizer: int | None = None,
        share: float = 1.0,
    ) -> BatchResult:
        from .eventprop import eventprop_forward
        from .eventprop import readout_loss as eventprop_readout_loss

        layers = [(m.weight, m.bias, m.rec_weight, m.params) for m in net.layers]
        out = eventprop_forward(x, layers, self.rule.loss)
        loss = eventprop_readout_loss(out.readout, labels, self.rule.loss)  # batch mean
        if normalizer is not None:
            loss = loss * (x.shape[1] / normalizer)
        return BatchResult(loss, out.prediction)


def engine_for(rule: LearningRule, **options: Any) -> Engine:
    """The engine that trains with ``rule``."""
    if isinstance(rule, SurrogateGradient):
        return SurrogateEngine(rule, **options)
    if isinstance(rule, EventProp):
        return EventPropEngine(rule, **options)
    raise LearningRuleError(
        "no training engine for this rule here",
        rule=getattr(rule, "kind", type(rule).__name__),
        expected="surrogate_gradient or eventprop (e-prop: nirbridge.training.eprop)",
        got=type(rule).__name__,
    )


__all__ = ["BatchResult", "Engine", "EventPropEngine", "SurrogateEngine", "engine_for"]
