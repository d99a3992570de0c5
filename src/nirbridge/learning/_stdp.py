"""STDP as PyNN composes it: a timing dependence times a weight dependence."""

from __future__ import annotations

import dataclasses

from .._errors import LearningRuleError
from ._base import Spec, param
from ._graphview import GraphView
from ._rule import LearningRule

#: PyNN's timing dependences (pyNN.standardmodels.synapses) and their parameters.
TIMING_DEPENDENCES = {
    "SpikePairRule": (("tau_plus", "tau_minus", "A_plus", "A_minus"), ()),
    "Vogels2011Rule": (("tau", "eta", "rho"), ()),
}
#: PyNN's weight dependences and their parameters beyond w_min and w_max.
WEIGHT_DEPENDENCES = {
    "AdditiveWeightDependence": ((), ()),
    "MultiplicativeWeightDependence": ((), ()),
    "AdditivePotentiationMultiplicativeDepression": ((), ()),
    "GutigWeightDependence": (("mu_plus", "mu_minus"), ()),
}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class TimingDependence(Spec):
    """How a weight change depends on spike timing; PyNN's class name and parameter names.

    ``SpikePairRule``: all-to-all pairs; potentiation ``A_plus * exp(-dt / tau_plus)`` for a
    presynaptic spike ``dt`` before a postsynaptic one, depression ``A_minus * exp(-dt /
    tau_minus)`` the other way round. ``Vogels2011Rule``: inhibitory plasticity of Vogels et
    al. 2011 (trace time constant ``tau``, learning rate ``eta``, target rate ``rho``).
    Times in seconds (PyNN takes milliseconds).
    """

    name: str = param(doc="PyNN timing dependence class")
    tau_plus: float | None = param(
        None, doc="SpikePairRule: time constant of potentiation", unit="s", gt=0
    )
    tau_minus: float | None = param(
        None, doc="SpikePairRule: time constant of depression", unit="s", gt=0
    )
    A_plus: float | None = param(None, doc="SpikePairRule: amplitude of potentiation", ge=0)
    A_minus: float | None = param(None, doc="SpikePairRule: amplitude of depression", ge=0)
    tau: float | None = param(
        None, doc="Vogels2011Rule: time constant of the traces", unit="s", gt=0
    )
    eta: float | None = param(None, doc="Vogels2011Rule: learning rate", ge=0)
    rho: float | None = param(
        None, doc="Vogels2011Rule: target postsynaptic firing rate", unit="Hz", ge=0
    )

    _variants = {"name": TIMING_DEPENDENCES}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class WeightDependence(Spec):
    """How a weight change depends on the weight; PyNN's class name and parameter names.

    ``AdditiveWeightDependence``: changes independent of w, clipped to [w_min, w_max].
    ``MultiplicativeWeightDependence``: depression ~ (w - w_min), potentiation ~ (w_max - w).
    ``AdditivePotentiationMultiplicativeDepression``: depression ~ w, fixed potentiation.
    ``GutigWeightDependence``: potentiation ~ (w_max - w)**mu_plus, depression ~
    (w - w_min)**mu_minus. Weights in the graph's weight units.
    """

    name: str = param(doc="PyNN weight dependence class")
    w_min: float = param(0.0, doc="lowest weight")
    w_max: float = param(1.0, doc="highest weight")
    mu_plus: float | None = param(None, doc="GutigWeightDependence: exponent of potentiation", ge=0)
    mu_minus: float | None = param(None, doc="GutigWeightDependence: exponent of depression", ge=0)

    _variants = {"name": WEIGHT_DEPENDENCES}

    def _check(self) -> None:
        if self.w_min > self.w_max:
            raise self._fail("w_min > w_max", "w_min", f"<= w_max ({self.w_max:g})", self.w_min)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class STDP(LearningRule):
    """Spike-timing-dependent plasticity: PyNN's ``STDPMechanism(timing_dependence,
    weight_dependence, dendritic_delay_fraction)``.

    The plastic weight nodes must be Affine or Linear (one weight per synapse) and feed
    spiking neurons (the postsynaptic spikes); their presynaptic side is the plastic edge's
    source, which must spike or be an Input.
    """

    kind = "stdp"

    timing_dependence: TimingDependence = param(doc="PyNN timing dependence")
    weight_dependence: WeightDependence = param(doc="PyNN weight dependence")
    dendritic_delay_fraction: float = param(
        1.0,
        doc="fraction of the synaptic delay on the postsynaptic (dendritic) side",
        ge=0,
        le=1,
    )

    def _validate_graph(self, view: GraphView) -> None:
        _check_synapse_local(self, view, "STDP")

    def _headline(self) -> str:
        return (
            f"{self.timing_dependence.brief()} x {self.weight_dependence.brief()}, "
            f"{super()._headline()}"
        )


def _check_synapse_local(rule: LearningRule, view: GraphView, what: str) -> None:
    """Synapse-local rules need dense weights between spiking pre and post neurons."""
    rule.scope.require_dense(view, rule.kind, what)
    for i, (src, dst) in enumerate(rule.scope.plastic_edges):
        field = f"scope.plastic_edges[{i}]"
        for pre in view.pres(src):
            if not (view.is_spiking(pre) or view.types[pre] == "Input"):
                raise LearningRuleError(
                    f"{what} needs presynaptic spikes",
                    rule=rule.kind,
                    field=field,
                    expected="a spiking node or an Input as the edge's source",
                    got=f"{pre!r} of type {view.types[pre]}",
                )
        posts = view.posts(dst)
        if not any(view.is_spiking(p) for p in posts):
            raise LearningRuleError(
                f"{what} needs postsynaptic spikes",
                rule=rule.kind,
                field=field,
                expected=f"{dst!r} feeding a spiking node",
                got=f"{dst!r} feeding {[f'{p} ({view.types[p]})' for p in posts]}",
            )


__all__ = [
    "STDP",
    "TIMING_DEPENDENCES",
    "TimingDependence",
    "WEIGHT_DEPENDENCES",
    "WeightDependence",
]
