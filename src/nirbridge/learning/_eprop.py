"""e-prop (Bellec et al. 2020), as NEST implements it: online, and the original bsshslm_2020."""

from __future__ import annotations

import dataclasses

import numpy as np

from .._errors import LearningRuleError
from ._base import Spec, param
from ._common import Optimizer
from ._graphview import INTEGRATOR_TYPES, LEAKY_SPIKING_TYPES, GraphView
from ._rule import LearningRule

#: NEST's surrogate gradient functions (``surrogate_gradient_function`` of eprop_iaf*).
NEST_SURROGATES = (
    "piecewise_linear",
    "exponential",
    "fast_sigmoid_derivative",
    "arctan_derivative",
)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class EPropSurrogate(Spec):
    """NEST's pseudo-derivative psi of a spike with respect to the membrane voltage.

    With ``v`` the membrane voltage and ``v_th`` the threshold (the graph's voltage units):

    - ``piecewise_linear``: ``gamma / v_th * max(0, 1 - beta * |(v - v_th) / v_th|)``
    - ``exponential``: ``gamma * exp(-beta * |v - v_th|)``
    - ``fast_sigmoid_derivative``: ``gamma * (1 + beta * |v - v_th|)**-2``
    - ``arctan_derivative``: ``gamma / pi / (1 + (beta * pi * (v - v_th))**2)``

    NEST 3.7-3.9 call the parameters ``beta`` and ``gamma``; NEST 3.10 calls them
    ``surrogate_gradient_width`` (= 1 / beta) and ``surrogate_gradient_height`` (= gamma).
    """

    function: str = param(
        "piecewise_linear", doc="NEST's surrogate_gradient_function", choices=NEST_SURROGATES
    )
    beta: float = param(1.0, doc="width scaling (NEST: beta, or 1/surrogate_gradient_width)", gt=0)
    gamma: float = param(0.3, doc="height scaling (NEST: gamma, surrogate_gradient_height)", gt=0)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class EProp(LearningRule):
    """Eligibility propagation: local eligibility traces times a learning signal broadcast
    from the readout through feedback weights B.

    ``variant="online"`` is NEST's ``eprop_iaf`` / ``eprop_iaf_adapt`` / ``eprop_readout`` /
    ``eprop_synapse`` (event-driven, weights change at every presynaptic spike, traces
    low-pass filtered with ``kappa``); ``variant="bsshslm_2020"`` is the original
    formulation of Bellec et al. 2020 (NEST's ``*_bsshslm_2020`` models: gradients
    accumulated over ``learning_window`` at the end of every ``update_interval``).

    The scope names the recurrent (hidden) neurons through the plastic edges: the hidden
    neurons are the LIF or CubaLIF nodes fed by plastic weight nodes, other than the readout,
    in the order the plastic edges first reach them (see :meth:`hidden_nodes`). The readout is
    a leaky integrator (LI or CubaLI). ``B`` has one row per hidden neuron (all hidden nodes,
    concatenated in that order) and one column per readout neuron.

    Time constants and intervals are in seconds (NEST takes milliseconds).
    """

    kind = "eprop"

    variant: str = param(doc="'online' (NEST eprop_iaf) or 'bsshslm_2020' (Bellec et al. 2020)")
    neuron: str = param("lif", doc="hidden neurons: 'lif', or 'alif' (adaptive threshold)")
    adapt_beta: float | None = param(
        None, doc="alif: threshold increase per unit of adaptation (NEST adapt_beta)", ge=0
    )
    adapt_tau: float | None = param(
        None, doc="alif: adaptation time constant (NEST adapt_tau)", unit="s", gt=0
    )
    surrogate: EPropSurrogate = param(
        EPropSurrogate(),
        doc="pseudo-derivative of the hidden neurons' spikes",
    )
    readout_tau: float | None = param(
        None,
        doc="readout membrane time constant, the decay of the readout and of the filtered "
        "eligibility traces (NEST eprop_readout tau_m, eprop_synapse_bsshslm_2020 "
        "tau_m_readout); None: the readout node's tau",
        unit="s",
        gt=0,
    )
    loss: str = param(
        "mean_squared_error",
        doc="NEST's loss of the readout",
        choices=("mean_squared_error", "cross_entropy"),
    )
    feedback: str = param(
        doc="learning-signal weights: 'symmetric' (B = transposed readout weights) or "
        "'random' (fixed B, stored)"
    )
    B: np.ndarray | None = param(
        None, doc="random feedback weights, (hidden neurons, readout neurons)", ndim=2
    )
    kappa: float | None = param(
        None, doc="online: low-pass filter of the eligibility trace (NEST kappa)", ge=0, lt=1
    )
    kappa_reg: float | None = param(
        None, doc="online: low-pass filter of the firing rate (NEST kappa_reg)", ge=0, lt=1
    )
    isi_trace_cutoff: float | None = param(
        None,
        doc="online: how long after a spike the e-prop update is integrated (NEST "
        "eprop_isi_trace_cutoff); None: no cutoff",
        unit="s",
        gt=0,
    )
    learning_window: float | None = param(
        None,
        doc="bsshslm_2020: the end of each update interval over which gradients are "
        "accumulated (NEST eprop_learning_window)",
        unit="s",
        gt=0,
    )
    update_interval: float | None = param(
        None,
        doc="bsshslm_2020: time between weight updates, a trial (NEST eprop_update_interval)",
        unit="s",
        gt=0,
    )
    reset_neurons_on_update: bool | None = param(
        None, doc="bsshslm_2020: reset neuron states at each update (NEST default true)"
    )
    average_gradient: bool | None = param(
        None, doc="bsshslm_2020: average the gradient over the learning window (NEST false)"
    )
    c_reg: float = param(0.0, doc="coefficient of firing-rate regularization (NEST c_reg)", ge=0)
    f_target: float = param(
        10.0, doc="target firing rate of the regularization (NEST f_target)", unit="Hz", ge=0
    )
    optimizer: Optimizer = param(doc="gradient descent or Adam (NEST eprop_synapse optimizer)")
    optimize_each_step: bool = param(
        True,
        doc="apply the optimizer at every step (exact for Adam) rather than once per spike "
        "(NEST optimize_each_step)",
    )

    _variants = {
        "variant": {
            "online": (("kappa", "kappa_reg"), ("isi_trace_cutoff",)),
            "bsshslm_2020": (
                ("learning_window", "update_interval"),
                ("reset_neurons_on_update", "average_gradient"),
            ),
        },
        "neuron": {"lif": ((), ()), "alif": (("adapt_beta", "adapt_tau"), ())},
        "feedback": {"symmetric": ((), ()), "random": (("B",), ())},
    }

    def _check(self) -> None:
        if self.scope.readout is None:
            raise self._fail(
                "e-prop's learning signal comes from a readout",
                "scope.readout",
                "a node name",
                "nothing",
            )
        if (
            self.learning_window is not None
            and self.update_interval is not None
            and self.learning_window > self.update_interval
        ):
            raise self._fail(
                "longer than the update interval",
                "learning_window",
                f"<= update_interval ({self.update_interval:g} s)",
                self.learning_window,
            )

    def hidden_nodes(self, graph: object) -> list[str]:
        """The hidden (recurrent) spiking nodes the learning signal reaches, in B's row order."""
        view = graph if isinstance(graph, GraphView) else GraphView(graph)  # type: ignore[arg-type]
        hidden: list[str] = []
        for _src, dst in self.scope.plastic_edges:
            for post in view.posts(dst):
                if post != self.scope.readout and view.is_spiking(post) and post not in hidden:
                    hidden.append(post)
        return hidden

    def _validate_graph(self, view: GraphView) -> None:
        readout = self.scope.readout
        assert readout is not None
        if view.types[readout] not in INTEGRATOR_TYPES:
            raise LearningRuleError(
                "e-prop's readout is a leaky integrator",
                rule=self.kind,
                field="scope.readout",
                expected=f"a node of type {sorted(INTEGRATOR_TYPES)}",
                got=f"{readout!r} of type {view.types[readout]}",
            )
        hidden = self.hidden_nodes(view)
        if not hidden:
            raise LearningRuleError(
                "no plastic edge reaches a spiking hidden neuron",
                rule=self.kind,
                field="scope.plastic_edges",
                expected="edges into weight nodes that feed LIF or CubaLIF nodes",
                got=repr(self.scope.plastic_edges),
            )
        for node in hidden:
            if view.types[node] not in LEAKY_SPIKING_TYPES:
                raise LearningRuleError(
                    "e-prop's hidden neurons are leaky integrate-and-fire neurons",
                    rule=self.kind,
                    field="scope.plastic_edges",
                    expected=f"hidden nodes of type {sorted(LEAKY_SPIKING_TYPES)}",
                    got=f"{node!r} of type {view.types[node]}",
                )
        if self.B is not None:
            rows = sum(view.size(n) for n in hidden)
            cols = view.size(readout)
            if self.B.shape != (rows, cols):
                raise LearningRuleError(
                    "wrong shape",
                    rule=self.kind,
                    field="B",
                    expected=f"({rows}, {cols}): hidden neurons ({' + '.join(hidden)}) x "
                    f"readout neurons ({readout})",
                    got=f"{self.B.shape}",
                )
        if self.readout_tau is not None:
            tau = view.time_constant(readout)
            if tau is not None and not np.allclose(tau, self.readout_tau, rtol=1e-9, atol=0):
                raise LearningRuleError(
                    "disagrees with the readout node's time constant",
                    rule=self.kind,
                    field="readout_tau",
                    expected=f"the tau of {readout!r}, {np.unique(tau)[:4].tolist()} s",
                    got=f"{self.readout_tau!r} s",
                )
        self.optimizer.validate(view, self.scope, self.kind)

    def _headline(self) -> str:
        fb = (
            "symmetric feedback"
            if self.feedback == "symmetric"
            else (
                f"random feedback B {self.B.shape[0]}x{self.B.shape[1]}"  # type: ignore[union-attr]
            )
        )
        return (
            f"{self.variant} e-prop, {self.neuron.upper()} neurons, "
            f"{self.surrogate.function} surrogate, {fb}, {self.optimizer.headline()}, "
            f"{super()._headline()}, readout {self.scope.readout!r}"
        )


__all__ = ["EProp", "EPropSurrogate", "NEST_SURROGATES"]
