"""Engines: how one batch's loss and gradients are computed, one per learning rule.

An engine turns a :class:`~nirbridge.training.SpikingNetwork`, a batch and its labels into a
differentiable loss (its ``.backward()`` fills the weights' ``.grad``) and the predicted classes.
The :class:`~nirbridge.training.Trainer` does the rest (optimizer, epochs, checkpoints,
processes), so every rule trains, checkpoints and distributes the same way.

- :class:`SurrogateEngine` (:class:`~nirbridge.learning.SurrogateGradient`): autograd through
  the fused kernels with the rule's surrogate derivative.
- :class:`EventPropEngine` (:class:`~nirbridge.learning.EventProp`): the adjoint equations
  (:mod:`nirbridge.training.eventprop`).
- :class:`EPropEngine` (:class:`~nirbridge.learning.EProp`, ``bsshslm_2020``): NEST's e-prop
  (:mod:`nirbridge.training.eprop`), which changes the weights itself during each batch
  (``applies_updates``): the trainer then takes its loss and skips backward and optimizer.

``to_nir(net)`` writes the trained network with the rule as the engine computes it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import nir
import torch

from .._errors import LearningRuleError, UnsupportedError
from ..learning import EProp, EventProp, LearningRule, SurrogateGradient
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

    def to_nir(self, net: SpikingNetwork) -> nir.NIRGraph:
        """The trained network and the rule as a NIR graph."""


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

    def to_nir(self, net: SpikingNetwork) -> nir.NIRGraph:
        return net.to_nir(self.rule)


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

    def to_nir(self, net: SpikingNetwork) -> nir.NIRGraph:
        return net.to_nir(self.rule)


class EPropEngine:
    """e-prop (``bsshslm_2020``: one trial per sample) as NEST computes it.

    The network is ``[lif or alif (recurrent), li]``; each sample is one trial of
    ``update_interval`` steps whose target is its one-hot class during the rule's learning
    window, and the prediction is the readout's arg-max averaged over that window. The learner
    keeps its own float64 weights and NEST's optimizer state; after every batch they are copied
    into the network (so checkpoints hold them; a resumed run starts a fresh optimizer state).
    """

    applies_updates = True

    def __init__(self, rule: EProp) -> None:
        if rule.variant != "bsshslm_2020":
            raise LearningRuleError(
                "the trainer runs e-prop trials; NEST's online e-prop learns on one stream "
                "(use nirbridge.training.eprop.EPropLearner directly)",
                rule=rule.kind,
                field="variant",
                expected="'bsshslm_2020'",
                got=repr(rule.variant),
            )
        self.rule = rule
        self._learner: Any = None

    def reset(self) -> None:
        """Forget the learner (after the network's weights were replaced)."""
        self._learner = None

    def learner(self, net: SpikingNetwork) -> Any:
        if self._learner is None:
            from .eprop import EPropLearner

            if len(net.layers) != 2 or net.layers[1].params.kind != "li":
                raise UnsupportedError(
                    "e-prop trains input -> recurrent lif/alif -> li networks", target="eprop"
                )
            hidden, out = net.layers
            if hidden.rec_weight is not None:
                with torch.no_grad():  # NEST's e-prop networks have no autapses
                    hidden.rec_weight.fill_diagonal_(0.0)
            self._learner = EPropLearner(
                self.rule,
                hidden.params,
                out.params,
                w_in=hidden.weight.detach().to(torch.float64),
                w_rec=None if hidden.rec_weight is None else hidden.rec_weight.detach().double(),
                w_out=out.weight.detach().to(torch.float64),
            )
        return self._learner

    def _window(self, steps: int, dt: float) -> int:
        window = self.rule.learning_window
        return steps if window is None else max(1, min(steps, round(window / dt)))

    def _target(self, labels: torch.Tensor, steps: int, classes: int) -> torch.Tensor:
        target = torch.zeros(steps, labels.shape[0], classes, dtype=torch.float64)
        target[:, torch.arange(labels.shape[0]), labels] = 1.0
        return target

    def _result(self, y: torch.Tensor, labels: torch.Tensor, net: SpikingNetwork) -> BatchResult:
        steps, dtype = y.shape[0], net.layers[0].weight.dtype
        window = y[-self._window(steps, net.dt) :].mean(dim=0)
        loss = torch.nn.functional.cross_entropy(window, labels).to(dtype)
        return BatchResult(loss, window.argmax(dim=1))

    def train_batch(self, net: SpikingNetwork, x: torch.Tensor, labels: torch.Tensor):
        learner = self.learner(net)
        steps, classes = x.shape[0], net.sizes[-1]
        learner.train_batch(x.to(torch.float64), self._target(labels, steps, classes))
        hidden, out = net.layers
        with torch.no_grad():
            hidden.weight.copy_(learner.w_in)
            if hidden.rec_weight is not None:
                hidden.rec_weight.copy_(learner.w_rec)
            out.weight.copy_(learner.w_out)
        return self._result(learner.last.readout, labels, net)

    def run(
        self,
        net: SpikingNetwork,
        x: torch.Tensor,
        labels: torch.Tensor,
        *,
        normalizer: int | None = None,
        share: float = 1.0,
    ) -> BatchResult:
        _, y = self.learner(net).forward(x.to(torch.float64))
        result = self._result(y, labels, net)
        if normalizer is not None:
            result.loss = result.loss * (x.shape[1] / normalizer)
        return result

    def to_nir(self, net: SpikingNetwork) -> nir.NIRGraph:
        return self.learner(net).to_nir()


def engine_for(rule: LearningRule, **options: Any) -> Engine:
    """The engine that trains with ``rule``."""
    if isinstance(rule, SurrogateGradient):
        return SurrogateEngine(rule, **options)
    if isinstance(rule, EventProp):
        return EventPropEngine(rule, **options)
    if isinstance(rule, EProp):
        return EPropEngine(rule, **options)
    raise LearningRuleError(
        "no training engine for this rule here",
        rule=getattr(rule, "kind", type(rule).__name__),
        expected="surrogate_gradient, eventprop or eprop",
        got=type(rule).__name__,
    )


__all__ = [
    "BatchResult",
    "EPropEngine",
    "Engine",
    "EventPropEngine",
    "SurrogateEngine",
    "engine_for",
]
