"""Parts several rules share: the scope, the optimizer, losses, regularizers, surrogates."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .._errors import LearningRuleError
from ._base import Spec, param
from ._graphview import DENSE_TYPES, WEIGHT_TYPES, GraphView

_FROZEN = {"frozen": True, "eq": False, "kw_only": True}


@dataclasses.dataclass(**_FROZEN)
class Scope(Spec):
    """Where a rule acts: which weights learn, which node is read out, where the target enters.

    NIR keeps weights in nodes (Affine, Linear, Conv1d, Conv2d), not on edges. A plastic edge
    ``(source, target)`` is an edge of the graph whose ``target`` holds weights: those weights
    learn, and ``source`` is the presynaptic side. Names are those of the flat graph (a node
    ``n`` inside subgraph ``s`` is ``"s.n"``).
    """

    plastic_edges: tuple[tuple[str, str], ...] = param(
        doc="edges (source, target) whose target node's weights learn", min_items=1
    )
    readout: str | None = param(
        None, doc="node whose activity the loss or learning signal reads (None: not needed)"
    )
    target_input: str | None = param(
        None,
        doc="Input node carrying the target (teacher) signal during training; None: the "
        "target comes with the training data, outside the graph",
    )

    def _check(self) -> None:
        seen = set()
        for i, edge in enumerate(self.plastic_edges):
            if edge in seen:
                raise self._fail("edge listed twice", f"plastic_edges[{i}]", "each edge once", edge)
            seen.add(edge)

    @property
    def weight_nodes(self) -> tuple[str, ...]:
        """Nodes whose weights learn (targets of the plastic edges), each once, in order."""
        return tuple(dict.fromkeys(dst for _, dst in self.plastic_edges))

    def validate(self, view: GraphView, rule: str) -> None:
        """Check the scope against a graph; errors name ``rule`` and the field."""
        for i, (src, dst) in enumerate(self.plastic_edges):
            field = f"scope.plastic_edges[{i}]"
            for end in (src, dst):
                if end not in view.nodes:
                    raise LearningRuleError(
                        f"names node {end!r}, which is not in the graph",
                        rule=rule,
                        field=field,
                        expected=f"nodes of the graph ({_names(view.nodes)})",
                        got=repr((src, dst)),
                    )
            if (src, dst) not in view.edge_set:
                raise LearningRuleError(
                    "not an edge of the graph",
                    rule=rule,
                    field=field,
                    expected=f"one of the edges into {dst!r}: "
                    f"{[e for e in view.edges if e[1] == dst] or 'none'}",
                    got=repr((src, dst)),
                )
            if view.types[dst] not in WEIGHT_TYPES:
                raise LearningRuleError(
                    "the edge's target holds no weights",
                    rule=rule,
                    field=field,
                    expected=f"an edge into a node of type {sorted(WEIGHT_TYPES)}",
                    got=f"{dst!r} of type {view.types[dst]}",
                )
        if self.readout is not None and self.readout not in view.nodes:
            raise LearningRuleError(
                "not a node of the graph",
                rule=rule,
                field="scope.readout",
                expected=f"one of {_names(view.nodes)}",
                got=repr(self.readout),
            )
        if self.target_input is not None and self.target_input not in view.top_inputs:
            raise LearningRuleError(
                "not an Input node of the graph",
                rule=rule,
                field="scope.target_input",
                expected=f"one of the graph's Input nodes {view.top_inputs}",
                got=repr(self.target_input),
            )

    def require_dense(self, view: GraphView, rule: str, why: str) -> None:
        """Each plastic weight node must hold one weight per synapse (Affine or Linear)."""
        for i, (_src, dst) in enumerate(self.plastic_edges):
            if view.types[dst] not in DENSE_TYPES:
                raise LearningRuleError(
                    f"{why} needs one weight per synapse",
                    rule=rule,
                    field=f"scope.plastic_edges[{i}]",
                    expected=f"an edge into a node of type {sorted(DENSE_TYPES)}",
                    got=f"{dst!r} of type {view.types[dst]}",
                )

    @classmethod
    def all_weights(
        cls,
        graph: object,
        *,
        readout: str | None = None,
        target_input: str | None = None,
        exclude: Sequence[str] = (),
    ) -> Scope:
        """A scope making every edge into a weight node plastic (except into ``exclude``)."""
        view = graph if isinstance(graph, GraphView) else GraphView(graph)  # type: ignore[arg-type]
        edges = tuple(
            (a, b)
            for a, b in view.edges
            if view.types[b] in WEIGHT_TYPES and b not in exclude and a != target_input
        )
        return cls(plastic_edges=edges, readout=readout, target_input=target_input)


def _names(nodes: object) -> str:
    names = sorted(nodes)  # type: ignore[call-overload]
    text = ", ".join(repr(n) for n in names[:12])
    return text + (", ..." if len(names) > 12 else "")


@dataclasses.dataclass(**_FROZEN)
class AdamState(Spec):
    """Adam's moment estimates for one weight node, to resume training exactly.

    Shapes are those of the node's ``weight`` (and ``bias``, for an Affine node).
    """

    node: str = param(doc="weight node these moments belong to")
    step: int = param(doc="number of updates done so far (Adam's t)", ge=0)
    m: np.ndarray = param(doc="first moment estimate, shape of the node's weight")
    v: np.ndarray = param(doc="second raw moment estimate, shape of the node's weight", ge=0)
    m_bias: np.ndarray | None = param(None, doc="first moment of an Affine node's bias")
    v_bias: np.ndarray | None = param(None, doc="second raw moment of an Affine node's bias", ge=0)

    def brief(self) -> str:
        return f"{self.node} at step {self.step}"

    def _check(self) -> None:
        if self.m.shape != self.v.shape:
            raise self._fail(
                "shape differs from m's", "v", f"shape {self.m.shape}", f"shape {self.v.shape}"
            )
        if (self.m_bias is None) != (self.v_bias is None):
            missing = "v_bias" if self.v_bias is None else "m_bias"
            raise self._fail("m_bias and v_bias go together", missing, "an array", "nothing")
        if (
            self.m_bias is not None
            and self.v_bias is not None
            and self.m_bias.shape != self.v_bias.shape
        ):
            raise self._fail(
                "shape differs from m_bias's",
                "v_bias",
                f"shape {self.m_bias.shape}",
                f"shape {self.v_bias.shape}",
            )


@dataclasses.dataclass(**_FROZEN)
class Optimizer(Spec):
    """How gradients become weight changes.

    ``sgd``: ``w -= learning_rate * (g + weight_decay * w)``, with optional momentum.
    ``adam``: Kingma & Ba's Adam with ``beta_1``, ``beta_2``, ``epsilon``; ``state`` may carry
    the moment estimates so that training resumes exactly. Weights are clipped to
    [``w_min``, ``w_max``] where given.
    """

    name: str = param(doc="optimizer: 'sgd' (gradient descent) or 'adam'")
    learning_rate: float = param(doc="step size (NEST's eta)", gt=0)
    batch_size: int = param(1, doc="samples whose gradients are averaged per update", ge=1)
    weight_decay: float = param(0.0, doc="L2 weight decay coefficient", ge=0)
    w_min: float | None = param(None, doc="lower bound the weights are clipped to")
    w_max: float | None = param(None, doc="upper bound the weights are clipped to")
    momentum: float | None = param(None, doc="momentum of gradient descent (sgd)", ge=0, lt=1)
    beta_1: float | None = param(None, doc="decay rate of Adam's first moment", ge=0, lt=1)
    beta_2: float | None = param(None, doc="decay rate of Adam's second moment", ge=0, lt=1)
    epsilon: float | None = param(None, doc="Adam's numerical-stability constant", gt=0)
    state: tuple[AdamState, ...] = param((), doc="Adam's moments per weight node (optional)")

    _variants = {
        "name": {
            "sgd": ((), ("momentum",)),
            "adam": (("beta_1", "beta_2", "epsilon"), ("state",)),
        }
    }

    @classmethod
    def sgd(cls, learning_rate: float, **kwargs: object) -> Optimizer:
        """Gradient descent."""
        return cls(name="sgd", learning_rate=learning_rate, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def adam(
        cls,
        learning_rate: float,
        *,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        **kwargs: object,
    ) -> Optimizer:
        """Adam with PyTorch's defaults (NEST's default epsilon is 1e-7)."""
        return cls(
            name="adam",
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            **kwargs,  # type: ignore[arg-type]
        )

    def headline(self) -> str:
        """E.g. ``adam optimizer (learning rate 0.001)``."""
        extra = f", Adam state of {len(self.state)} node(s)" if self.state else ""
        return f"{self.name} optimizer (learning rate {self.learning_rate:g}{extra})"

    def _check(self) -> None:
        if self.w_min is not None and self.w_max is not None and self.w_min > self.w_max:
            raise self._fail("w_min > w_max", "w_min", f"<= w_max ({self.w_max:g})", self.w_min)
        nodes = [s.node for s in self.state]
        for i, node in enumerate(nodes):
            if node in nodes[:i]:
                raise self._fail("node has two states", f"state[{i}].node", "each node once", node)

    def validate(self, view: GraphView, scope: Scope, rule: str) -> None:
        """Adam state must belong to plastic weight nodes and have their weights' shapes."""
        plastic = scope.weight_nodes
        for i, st in enumerate(self.state):
            field = f"optimizer.state[{i}]"
            if st.node not in plastic:
                raise LearningRuleError(
                    "not a plastic weight node",
                    rule=rule,
                    field=f"{field}.node",
                    expected=f"one of {list(plastic)}",
                    got=repr(st.node),
                )
            shape = view.weight(st.node).shape
            if st.m.shape != shape:
                raise LearningRuleError(
                    "shape differs from the node's weight",
                    rule=rule,
                    field=f"{field}.m",
                    expected=f"shape {shape} (weight of {st.node!r})",
                    got=f"shape {st.m.shape}",
                )
            if st.m_bias is not None:
                bias = view.bias(st.node)
                if bias is None or st.m_bias.shape != bias.shape:
                    raise LearningRuleError(
                        "does not match the node's bias",
                        rule=rule,
                        field=f"{field}.m_bias",
                        expected="no bias state" if bias is None else f"shape {bias.shape}",
                        got=f"shape {st.m_bias.shape}",
                    )


@dataclasses.dataclass(**_FROZEN)
class Regularizer(Spec):
    """A term added to the loss.

    ``firing_rate``: ``strength * mean((rate - target_rate)**2)`` per neuron (rates in Hz).
    ``spike_count_lower`` / ``spike_count_upper``: ``strength * mean(relu(threshold - n)**2)``
    / ``strength * mean(relu(n - threshold)**2)`` over spike counts ``n`` per neuron and sample
    (Zenke & Vogels 2021; EventProp's ``lambda_lower``/``nu_lower``, ``lambda_upper``/``nu_upper``).
    ``weight_l1`` / ``weight_l2``: ``strength * sum(|w|)`` / ``strength * sum(w**2)``.
    """

    name: str = param(doc="kind of regularizer")
    strength: float = param(doc="coefficient of the term", ge=0)
    target_rate: float | None = param(None, doc="target firing rate", unit="Hz", ge=0)
    threshold: float | None = param(
        None, doc="spike-count bound per neuron and sample", unit="spikes", ge=0
    )
    nodes: tuple[str, ...] = param(
        (),
        doc="nodes it applies to (empty: every spiking node, or every plastic weight node "
        "for weight_l1/weight_l2)",
    )

    _variants = {
        "name": {
            "firing_rate": (("target_rate",), ()),
            "spike_count_lower": (("threshold",), ()),
            "spike_count_upper": (("threshold",), ()),
            "weight_l1": ((), ()),
            "weight_l2": ((), ()),
        }
    }

    def validate(self, view: GraphView, rule: str, field: str) -> None:
        weights = self.name.startswith("weight_")
        for i, node in enumerate(self.nodes):
            where = f"{field}.nodes[{i}]"
            if node not in view.nodes:
                raise LearningRuleError(
                    "not a node of the graph", rule=rule, field=where, got=repr(node)
                )
            if weights and view.types[node] not in WEIGHT_TYPES:
                raise LearningRuleError(
                    "holds no weights",
                    rule=rule,
                    field=where,
                    expected=f"a node of type {sorted(WEIGHT_TYPES)}",
                    got=f"{node!r} of type {view.types[node]}",
                )
            if not weights and not view.is_spiking(node):
                raise LearningRuleError(
                    "does not spike",
                    rule=rule,
                    field=where,
                    expected="a spiking node (LIF, CubaLIF, IF, Threshold)",
                    got=f"{node!r} of type {view.types[node]}",
                )


#: Losses on a readout, and the parameters each needs.
LOSSES = {
    # cross entropy over the softmax of each readout neuron's maximum voltage over the trial
    "max_voltage": ((), ()),
    # cross entropy over the softmax of each readout neuron's voltage summed over the trial
    "sum_voltage": ((), ()),
    # cross entropy over the softmax of each readout neuron's spike count
    "spike_count": ((), ()),
    # time to first spike (Goeltz et al. 2021; EventProp, Wunderlich & Pehle 2021)
    "ttfs": (("tau0", "tau1", "alpha"), ()),
    # mean squared error between readout voltage and target signal, every step
    "mse_voltage": ((), ()),
    # mean squared error between spike counts and the counts of a firing fraction of the steps
    # (snnTorch's mse_count_loss)
    "mse_count": (("correct_rate", "incorrect_rate"), ()),
}


@dataclasses.dataclass(**_FROZEN)
class Loss(Spec):
    """What is minimised, read from the scope's readout node.

    ``ttfs`` (time to first spike): ``-log softmax(-t / tau0)[label] + alpha * (exp(t_label /
    tau1) - 1)`` with ``t`` each readout neuron's first spike time.
    ``max_voltage`` / ``sum_voltage`` / ``spike_count``: cross entropy over the softmax of each
    readout neuron's maximum voltage, summed voltage, or spike count over a trial.
    ``mse_voltage``: mean squared error between readout voltage and target, every step.
    ``mse_count``: mean squared error between spike counts and ``correct_rate`` (label) or
    ``incorrect_rate`` (other neurons) times the number of steps.
    """

    name: str = param(doc="kind of loss")
    tau0: float | None = param(None, doc="ttfs: softmax time scale", unit="s", gt=0)
    tau1: float | None = param(None, doc="ttfs: time scale of the early-spike term", unit="s", gt=0)
    alpha: float | None = param(None, doc="ttfs: weight of the early-spike term", ge=0)
    correct_rate: float | None = param(
        None, doc="mse_count: target firing fraction of the labelled neuron", ge=0, le=1
    )
    incorrect_rate: float | None = param(
        None, doc="mse_count: target firing fraction of the other neurons", ge=0, le=1
    )

    _variants = {"name": LOSSES}


#: Surrogate functions of BPTT and their parameters; v is the voltage minus the threshold.
SURROGATES = {
    # dS/dv = 1 / (slope * |v| + 1)**2 (Zenke & Ganguli 2018; snnTorch fast_sigmoid)
    "fast_sigmoid": (("slope",), ()),
    # dS/dv = (alpha / 2) / (1 + (pi * alpha * v / 2)**2) (snnTorch atan, SpikingJelly ATan)
    "atan": (("alpha",), ()),
    # dS/dv = height * max(0, 1 - |v| / width) (Bellec et al. 2018)
    "piecewise_linear": (("height", "width"), ()),
    # dS/dv = height * exp(-beta * |v|) (Shrestha & Orchard 2018, SLAYER)
    "exponential": (("height", "beta"), ()),
}


@dataclasses.dataclass(**_FROZEN)
class Surrogate(Spec):
    """The derivative that stands in for the spike's (a Heaviside step's) in backpropagation.

    With ``v`` the membrane voltage minus the threshold (the graph's voltage units):

    - ``fast_sigmoid``: ``1 / (slope * |v| + 1)**2``
    - ``atan``: ``(alpha / 2) / (1 + (pi * alpha * v / 2)**2)``
    - ``piecewise_linear``: ``height * max(0, 1 - |v| / width)``
    - ``exponential``: ``height * exp(-beta * |v|)``
    """

    function: str = param(doc="surrogate function")
    slope: float | None = param(None, doc="fast_sigmoid: slope k", unit="1/voltage", gt=0)
    alpha: float | None = param(None, doc="atan: sharpness alpha", unit="1/voltage", gt=0)
    height: float | None = param(None, doc="peak value of the derivative", gt=0)
    width: float | None = param(
        None, doc="piecewise_linear: half-width of the support", unit="voltage", gt=0
    )
    beta: float | None = param(None, doc="exponential: decay rate", unit="1/voltage", gt=0)

    _variants = {"function": SURROGATES}


__all__ = [
    "AdamState",
    "LOSSES",
    "Loss",
    "Optimizer",
    "Regularizer",
    "SURROGATES",
    "Scope",
    "Surrogate",
]
