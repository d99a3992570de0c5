"""Gradient rules trained offline in PyTorch: surrogate-gradient BPTT and EventProp."""

from __future__ import annotations

import dataclasses

from .._errors import LearningRuleError
from ..graph import SPIKING_TYPES
from ._base import param
from ._common import Loss, Optimizer, Regularizer, Surrogate
from ._graphview import LEAKY_SPIKING_TYPES, VOLTAGE_TYPES, GraphView
from ._rule import LearningRule

#: Losses EventProp's adjoint equations are written for.
EVENTPROP_LOSSES = ("ttfs", "max_voltage", "sum_voltage", "spike_count")
#: Losses read from a readout's spikes / from its voltage.
_SPIKE_LOSSES = ("ttfs", "spike_count", "mse_count")
_VOLTAGE_LOSSES = ("max_voltage", "sum_voltage", "mse_voltage")


def _check_readout(rule: LearningRule, loss: Loss, view: GraphView) -> None:
    readout = rule.scope.readout
    if readout is None:
        return
    kind = view.types[readout]
    if loss.name in _SPIKE_LOSSES and kind not in SPIKING_TYPES:
        raise LearningRuleError(
            f"loss {loss.name!r} reads spikes, but the readout does not spike",
            rule=rule.kind,
            field="scope.readout",
            expected=f"a node of type {sorted(SPIKING_TYPES)}",
            got=f"{readout!r} of type {kind}",
        )
    if loss.name in _VOLTAGE_LOSSES and kind not in VOLTAGE_TYPES:
        raise LearningRuleError(
            f"loss {loss.name!r} reads a membrane voltage, but the readout has none",
            rule=rule.kind,
            field="scope.readout",
            expected=f"a node of type {sorted(VOLTAGE_TYPES)}",
            got=f"{readout!r} of type {kind}",
        )


def _check_regularizers(rule: LearningRule, view: GraphView) -> None:
    for i, reg in enumerate(rule.regularizers):  # type: ignore[attr-defined]
        reg.validate(view, rule.kind, f"regularizers[{i}]")


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class SurrogateGradient(LearningRule):
    """Backpropagation through time with a surrogate derivative of the spike.

    Example:
        >>> rule = SurrogateGradient(
        ...     scope=Scope(plastic_edges=(("input", "fc1"),), readout="lif1"),
        ...     surrogate=Surrogate(function="fast_sigmoid", slope=25.0),
        ...     loss=Loss(name="spike_count"),
        ...     optimizer=Optimizer.adam(1e-3),
        ... )
    """

    kind = "surrogate_gradient"

    surrogate: Surrogate = param(doc="derivative standing in for the spike's")
    loss: Loss = param(doc="what is minimised, read from scope.readout")
    optimizer: Optimizer = param(doc="how gradients become weight changes")
    regularizers: tuple[Regularizer, ...] = param((), doc="terms added to the loss")
    epochs: int = param(1, doc="passes over the training set", ge=1)
    detach_reset: bool = param(
        False, doc="treat the reset as a constant in the backward pass (snnTorch, SpikingJelly)"
    )

    def _check(self) -> None:
        if self.scope.readout is None:
            raise self._fail("the loss needs a readout", "scope.readout", "a node name", "nothing")

    def _validate_graph(self, view: GraphView) -> None:
        _check_readout(self, self.loss, view)
        _check_regularizers(self, view)
        self.optimizer.validate(view, self.scope, self.kind)

    def _headline(self) -> str:
        return (
            f"{self.surrogate.brief()} surrogate, loss {self.loss.brief()}, "
            f"{self.optimizer.headline()}, {super()._headline()}, readout {self.scope.readout!r}"
        )


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class EventProp(LearningRule):
    """EventProp (Wunderlich & Pehle 2021): exact gradients from adjoint equations solved
    backwards between spikes, for leaky integrate-and-fire networks.

    The plastic weights must feed LIF or CubaLIF neurons (or the readout); losses are
    ``ttfs``, ``max_voltage``, ``sum_voltage`` and ``spike_count``.
    """

    kind = "eventprop"

    loss: Loss = param(doc="ttfs, max_voltage, sum_voltage or spike_count")
    optimizer: Optimizer = param(doc="how gradients become weight changes")
    regularizers: tuple[Regularizer, ...] = param(
        (), doc="terms added to the loss (e.g. spike_count_lower/upper)"
    )
    epochs: int = param(1, doc="passes over the training set", ge=1)

    def _check(self) -> None:
        if self.loss.name not in EVENTPROP_LOSSES:
            raise self._fail(
                "loss not defined for EventProp",
                "loss.name",
                f"one of {list(EVENTPROP_LOSSES)}",
                self.loss.name,
            )
        if self.scope.readout is None:
            raise self._fail("the loss needs a readout", "scope.readout", "a node name", "nothing")

    def _validate_graph(self, view: GraphView) -> None:
        _check_readout(self, self.loss, view)
        for i, (_src, dst) in enumerate(self.scope.plastic_edges):
            for post in view.posts(dst):
                kind = view.types[post]
                if post != self.scope.readout and kind not in LEAKY_SPIKING_TYPES:
                    raise LearningRuleError(
                        "EventProp's adjoint equations need leaky integrate-and-fire neurons "
                        "behind plastic weights",
                        rule=self.kind,
                        field=f"scope.plastic_edges[{i}]",
                        expected=f"{dst!r} feeding nodes of type {sorted(LEAKY_SPIKING_TYPES)}",
                        got=f"{post!r} of type {kind}",
                    )
        _check_regularizers(self, view)
        self.optimizer.validate(view, self.scope, self.kind)

    def _headline(self) -> str:
        return (
            f"loss {self.loss.brief()}, {self.optimizer.headline()}, {super()._headline()}, "
            f"readout {self.scope.readout!r}"
        )


__all__ = ["EVENTPROP_LOSSES", "EventProp", "SurrogateGradient"]
