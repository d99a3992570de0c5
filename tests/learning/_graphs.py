"""Graphs and rules for the learning tests: a fixed network, and hypothesis strategies that draw
small valid graphs with random rules of every kind and random metadata."""

from __future__ import annotations

import dataclasses
from typing import Any

import nir
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nirbridge.learning as nl
from nirbridge.graph import TIME_UNITS, with_metadata

KINDS = tuple(nl.RULE_TYPES)


def lif(n: int, tau: float = 0.02) -> nir.LIF:
    return nir.LIF(
        tau=np.full(n, tau),
        r=np.ones(n),
        v_leak=np.zeros(n),
        v_threshold=np.ones(n),
        v_reset=np.zeros(n),
    )


def network(*, n_in: int = 3, n_hidden: int = 8, n_out: int = 2, seed: int = 0) -> nir.NIRGraph:
    """``input -> w_in -> lif (recurrent through w_rec) -> w_out -> li -> output``, plus a
    ``target`` Input (-> ``target_out``) for the teacher signal."""
    rng = np.random.default_rng(seed)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([n_in])),
            "target": nir.Input(np.array([n_out])),
            "w_in": nir.Linear(weight=rng.normal(size=(n_hidden, n_in))),
            "lif": lif(n_hidden),
            "w_rec": nir.Linear(weight=rng.normal(size=(n_hidden, n_hidden)) * 0.1),
            "w_out": nir.Affine(weight=rng.normal(size=(n_out, n_hidden)), bias=np.zeros(n_out)),
            "li": nir.LI(tau=np.full(n_out, 0.03), r=np.ones(n_out), v_leak=np.zeros(n_out)),
            "output": nir.Output(np.array([n_out])),
            "target_out": nir.Output(np.array([n_out])),
        },
        edges=[
            ("input", "w_in"),
            ("w_in", "lif"),
            ("lif", "w_rec"),
            ("w_rec", "lif"),
            ("lif", "w_out"),
            ("w_out", "li"),
            ("li", "output"),
            ("target", "target_out"),
        ],
        type_check=False,
    )


ALL_EDGES = (("input", "w_in"), ("lif", "w_rec"), ("lif", "w_out"))
SPIKE_PAIR = nl.TimingDependence(
    name="SpikePairRule", tau_plus=0.02, tau_minus=0.02, A_plus=0.01, A_minus=0.012
)


def examples(seed: int = 0) -> dict[str, nl.LearningRule]:
    """One valid rule of each kind for :func:`network` (n_hidden 8, n_out 2)."""
    rng = np.random.default_rng(seed)
    scope = nl.Scope(plastic_edges=ALL_EDGES, readout="li", target_input="target")
    adam_state = nl.AdamState(
        node="w_out",
        step=12,
        m=rng.normal(size=(2, 8)),
        v=rng.random(size=(2, 8)),
        m_bias=rng.normal(size=2),
        v_bias=rng.random(size=2),
    )
    return {
        "surrogate_gradient": nl.SurrogateGradient(
            scope=scope,
            surrogate=nl.Surrogate(function="fast_sigmoid", slope=25.0),
            loss=nl.Loss(name="mse_voltage"),
            optimizer=nl.Optimizer.adam(1e-3, batch_size=32, state=(adam_state,)),
            regularizers=(
                nl.Regularizer(name="firing_rate", strength=1e-3, target_rate=10.0),
                nl.Regularizer(name="weight_l2", strength=1e-5, nodes=("w_rec",)),
            ),
            epochs=20,
            detach_reset=True,
        ),
        "eventprop": nl.EventProp(
            scope=nl.Scope(plastic_edges=ALL_EDGES, readout="li"),
            loss=nl.Loss(name="max_voltage"),
            optimizer=nl.Optimizer.sgd(0.01, momentum=0.5),
            regularizers=(nl.Regularizer(name="spike_count_upper", strength=1e-4, threshold=20.0),),
        ),
        "eprop": nl.EProp(
            scope=scope,
            variant="online",
            neuron="alif",
            adapt_beta=1.7,
            adapt_tau=2.0,
            surrogate=nl.EPropSurrogate(function="arctan_derivative", beta=2.0, gamma=0.5),
            readout_tau=0.03,
            feedback="random",
            B=rng.normal(size=(8, 2)),
            kappa=0.97,
            kappa_reg=0.95,
            isi_trace_cutoff=0.1,
            c_reg=300.0,
            f_target=10.0,
            optimizer=nl.Optimizer.adam(5e-3, epsilon=1e-7, w_min=-100.0, w_max=100.0),
            optimize_each_step=False,
        ),
        "stdp": nl.STDP(
            scope=nl.Scope(plastic_edges=(("input", "w_in"), ("lif", "w_rec"))),
            timing_dependence=SPIKE_PAIR,
            weight_dependence=nl.WeightDependence(
                name="GutigWeightDependence", w_min=0.0, w_max=0.5, mu_plus=0.5, mu_minus=0.5
            ),
            dendritic_delay_fraction=1.0,
        ),
        "local": nl.LocalRule(
            scope=nl.Scope(plastic_edges=(("input", "w_in"),)),
            dw="2^-2*x1*y0 - 2^-2*y1*x0",
            dt="u2*y1*x1 - 3*2^-3*u2*t",
            x1_impulse=16.0,
            x1_tau=0.01,
            y1_impulse=16.0,
            y1_tau=0.01,
            t_epoch=2,
            rng_seed=7,
        ),
    }


# -- hypothesis strategies --------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


def positive(lo: float = 1e-9, hi: float = 1e6) -> st.SearchStrategy[float]:
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def unit_interval() -> st.SearchStrategy[float]:
    return st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


def arrays(shape: tuple[int, ...], elements: Any = None) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(
        np.float64,
        shape,
        elements=elements if elements is not None else st.floats(-1e3, 1e3, allow_subnormal=True),
    )


@dataclasses.dataclass
class Drawn:
    """A drawn graph and what the rule strategies need to know of it."""

    graph: nir.NIRGraph
    n_in: int
    n_hidden: int
    n_out: int | None
    hidden: str
    hidden_type: str
    recurrent: bool
    readout_layer: bool
    target: bool
    time_unit: str
    li_tau: float | None

    @property
    def weight_edges(self) -> list[tuple[str, str]]:
        edges = [("input", "w_in")]
        if self.recurrent:
            edges.append((self.hidden, "w_rec"))
        if self.readout_layer:
            edges.append((self.hidden, "w_out"))
        return edges

    def weight_shape(self, node: str) -> tuple[int, ...]:
        return np.asarray(self.graph.nodes[node].weight).shape

    def has_bias(self, node: str) -> bool:
        return isinstance(self.graph.nodes[node], nir.Affine)


def _weight_node(draw: st.DrawFn, n_out: int, n_in: int) -> nir.NIRNode:
    weight = draw(arrays((n_out, n_in)))
    if draw(st.booleans()):
        return nir.Affine(weight=weight, bias=draw(arrays((n_out,))))
    return nir.Linear(weight=weight)


@st.composite
def graphs(draw: st.DrawFn, *, readout_layer: bool | None = None) -> Drawn:
    """``input -> Affine/Linear -> LIF/CubaLIF`` (optionally recurrent) ``-> output``, optionally
    with a readout layer ``-> Affine/Linear -> LI -> output`` and a ``target`` Input, and
    random nirbridge metadata (dt, time unit, integrator, reset, initial state)."""
    n_in = draw(st.integers(1, 4))
    n_h = draw(st.integers(1, 5))
    recurrent = draw(st.booleans())
    if readout_layer is None:
        readout_layer = draw(st.booleans())
    target = draw(st.booleans())
    hidden_type = draw(st.sampled_from(["LIF", "CubaLIF"]))
    hidden = draw(st.sampled_from(["lif", "hidden", "layer.1", "ü-neuron"]))
    taus = arrays((n_h,), positive(1e-4, 1.0))
    thresholds = arrays((n_h,), positive(0.1, 10.0))
    common = {"r": draw(arrays((n_h,), positive(0.1, 10.0))), "v_leak": draw(arrays((n_h,)))}
    if hidden_type == "LIF":
        neuron: nir.NIRNode = nir.LIF(
            tau=draw(taus), v_threshold=draw(thresholds), v_reset=np.zeros(n_h), **common
        )
    else:
        neuron = nir.CubaLIF(
            tau_mem=draw(taus),
            tau_syn=draw(taus),
            v_threshold=draw(thresholds),
            v_reset=np.zeros(n_h),
            w_in=draw(arrays((n_h,), positive(0.1, 10.0))),
            **common,
        )
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(np.array([n_in])),
        "w_in": _weight_node(draw, n_h, n_in),
        hidden: neuron,
    }
    edges = [("input", "w_in"), ("w_in", hidden)]
    if recurrent:
        nodes["w_rec"] = _weight_node(draw, n_h, n_h)
        edges += [(hidden, "w_rec"), ("w_rec", hidden)]
    n_out = None
    li_tau = None
    if readout_layer:
        n_out = draw(st.integers(1, 3))
        li_tau = draw(positive(1e-4, 1.0))
        nodes["w_out"] = _weight_node(draw, n_out, n_h)
        nodes["li"] = nir.LI(
            tau=np.full(n_out, li_tau), r=np.ones(n_out), v_leak=draw(arrays((n_out,)))
        )
        nodes["output"] = nir.Output(np.array([n_out]))
        edges += [(hidden, "w_out"), ("w_out", "li"), ("li", "output")]
    else:
        nodes["output"] = nir.Output(np.array([n_h]))
        edges.append((hidden, "output"))
    if target:
        size = n_out or n_h
        nodes["target"] = nir.Input(np.array([size]))
        nodes["target_out"] = nir.Output(np.array([size]))
        edges.append(("target", "target_out"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    time_unit = draw(st.sampled_from(sorted(TIME_UNITS)))
    meta: dict[str, Any] = {"time_unit": time_unit}
    if draw(st.booleans()):
        meta["dt"] = draw(positive(1e-7, 1e-1))
    meta["integrator"] = draw(st.sampled_from([None, "euler", "exact"]))
    meta["reset"] = draw(st.sampled_from([None, "subtract", "zero"]))
    state: dict[str, dict[str, np.ndarray]] = {}
    if draw(st.booleans()):
        names = ("i", "v") if hidden_type == "CubaLIF" else ("v",)
        state[hidden] = {s: draw(arrays((n_h,))) for s in names}
    if readout_layer and draw(st.booleans()):
        state["li"] = {"v": draw(arrays((n_out,)))}  # type: ignore[arg-type]
    meta["initial_state"] = state
    with_metadata(graph, **meta)
    return Drawn(
        graph, n_in, n_h, n_out, hidden, hidden_type, recurrent, readout_layer, target,
        time_unit, li_tau,
    )  # fmt: skip


def _subset(draw: st.DrawFn, items: list[Any], *, min_size: int = 1) -> tuple[Any, ...]:
    chosen = draw(st.lists(st.sampled_from(items), min_size=min_size, unique=True))
    return tuple(sorted(chosen, key=items.index))


@st.composite
def optimizers(draw: st.DrawFn, g: Drawn, plastic: tuple[str, ...]) -> nl.Optimizer:
    common: dict[str, Any] = {
        "learning_rate": draw(positive(1e-9, 10.0)),
        "batch_size": draw(st.integers(1, 512)),
        "weight_decay": draw(st.floats(0.0, 1.0)),
    }
    if draw(st.booleans()):
        lo, hi = sorted(draw(st.lists(finite, min_size=2, max_size=2)))
        common.update(w_min=lo, w_max=hi)
    if draw(st.booleans()):
        momentum = draw(st.none() | unit_interval())
        return nl.Optimizer(name="sgd", momentum=momentum, **common)
    states = []
    for node in _subset(draw, list(plastic), min_size=0):
        shape = g.weight_shape(node)
        extra = {}
        if g.has_bias(node) and draw(st.booleans()):
            n = shape[0]
            extra = {"m_bias": draw(arrays((n,))), "v_bias": draw(arrays((n,), positive(0, 1e3)))}
        states.append(
            nl.AdamState(
                node=node,
                step=draw(st.integers(0, 2**40)),
                m=draw(arrays(shape)),
                v=draw(arrays(shape, st.floats(0.0, 1e3))),
                **extra,
            )
        )
    return nl.Optimizer(
        name="adam",
        beta_1=draw(unit_interval()),
        beta_2=draw(unit_interval()),
        epsilon=draw(positive(1e-12, 1.0)),
        state=tuple(states),
        **common,
    )


@st.composite
def regularizers(draw: st.DrawFn, g: Drawn, plastic: tuple[str, ...]) -> nl.Regularizer:
    name = draw(st.sampled_from(["firing_rate", "spike_count_lower", "spike_count_upper",
                                 "weight_l1", "weight_l2"]))  # fmt: skip
    kwargs: dict[str, Any] = {"strength": draw(st.floats(0.0, 1e3))}
    if name == "firing_rate":
        kwargs["target_rate"] = draw(st.floats(0.0, 1e3))
    elif name.startswith("spike_count"):
        kwargs["threshold"] = draw(st.floats(0.0, 1e3))
    if draw(st.booleans()):
        kwargs["nodes"] = (g.hidden,) if not name.startswith("weight") else plastic[:1]
    return nl.Regularizer(name=name, **kwargs)


@st.composite
def losses(draw: st.DrawFn, names: tuple[str, ...]) -> nl.Loss:
    name = draw(st.sampled_from(names))
    kwargs: dict[str, Any] = {}
    if name == "ttfs":
        kwargs = {"tau0": draw(positive()), "tau1": draw(positive()), "alpha": draw(positive(0))}
    elif name == "mse_count":
        kwargs = {"correct_rate": draw(st.floats(0, 1)), "incorrect_rate": draw(st.floats(0, 1))}
    return nl.Loss(name=name, **kwargs)


@st.composite
def surrogates(draw: st.DrawFn) -> nl.Surrogate:
    function = draw(st.sampled_from(sorted(nl.SURROGATES)))
    required, _ = nl.SURROGATES[function]
    return nl.Surrogate(function=function, **{p: draw(positive()) for p in required})


_SPIKE_LOSSES = ("ttfs", "spike_count", "mse_count")


@st.composite
def gradient_rules(draw: st.DrawFn, g: Drawn, kind: str) -> nl.LearningRule:
    names = nl.EVENTPROP_LOSSES if kind == "eventprop" else tuple(sorted(nl.LOSSES))
    loss = draw(losses(names))
    if loss.name in _SPIKE_LOSSES or not g.readout_layer:
        readout = g.hidden
    else:
        readout = draw(st.sampled_from(["li", g.hidden]))
    candidates = g.weight_edges
    if kind == "eventprop" and readout != "li":
        candidates = [e for e in candidates if e[1] != "w_out"]
    edges = _subset(draw, candidates)
    scope = nl.Scope(
        plastic_edges=edges,
        readout=readout,
        target_input=draw(st.sampled_from([None, "target"])) if g.target else None,
    )
    plastic = scope.weight_nodes
    common = {
        "scope": scope,
        "loss": loss,
        "optimizer": draw(optimizers(g, plastic)),
        "regularizers": tuple(draw(st.lists(regularizers(g, plastic), max_size=3))),
        "epochs": draw(st.integers(1, 10_000)),
    }
    if kind == "eventprop":
        return nl.EventProp(**common)
    return nl.SurrogateGradient(
        surrogate=draw(surrogates()), detach_reset=draw(st.booleans()), **common
    )


@st.composite
def eprop_rules(draw: st.DrawFn, g: Drawn) -> nl.EProp:
    assert g.readout_layer and g.n_out is not None
    hidden_edges = [e for e in g.weight_edges if e[1] != "w_out"]
    edges = _subset(draw, hidden_edges)
    if "w_out" in [e[1] for e in g.weight_edges] and draw(st.booleans()):
        edges += ((g.hidden, "w_out"),)
    scope = nl.Scope(
        plastic_edges=edges,
        readout="li",
        target_input="target" if g.target and draw(st.booleans()) else None,
    )
    kwargs: dict[str, Any] = {
        "variant": draw(st.sampled_from(["online", "bsshslm_2020"])),
        "neuron": draw(st.sampled_from(["lif", "alif"])),
        "feedback": draw(st.sampled_from(["symmetric", "random"])),
        "surrogate": nl.EPropSurrogate(
            function=draw(st.sampled_from(nl.NEST_SURROGATES)),
            beta=draw(positive()),
            gamma=draw(positive()),
        ),
        "loss": draw(st.sampled_from(["mean_squared_error", "cross_entropy"])),
        "c_reg": draw(st.floats(0.0, 1e3)),
        "f_target": draw(st.floats(0.0, 1e3)),
        "optimizer": draw(optimizers(g, scope.weight_nodes)),
        "optimize_each_step": draw(st.booleans()),
    }
    if kwargs["neuron"] == "alif":
        kwargs.update(adapt_beta=draw(st.floats(0.0, 10.0)), adapt_tau=draw(positive()))
    if kwargs["feedback"] == "random":
        kwargs["B"] = draw(arrays((g.n_hidden, g.n_out)))
    if kwargs["variant"] == "online":
        kwargs.update(kappa=draw(unit_interval()), kappa_reg=draw(unit_interval()))
        kwargs["isi_trace_cutoff"] = draw(st.none() | positive())
    else:
        update = draw(positive(1e-6, 100.0))
        kwargs.update(
            update_interval=update,
            learning_window=draw(st.floats(1e-9, 1.0)) * update or update,
            reset_neurons_on_update=draw(st.none() | st.booleans()),
            average_gradient=draw(st.none() | st.booleans()),
        )
    if draw(st.booleans()):
        assert g.li_tau is not None
        kwargs["readout_tau"] = g.li_tau * TIME_UNITS[g.time_unit]
    return nl.EProp(scope=scope, **kwargs)


def _local_scope(draw: st.DrawFn, g: Drawn) -> nl.Scope:
    candidates = [e for e in g.weight_edges if e[1] != "w_out"]
    return nl.Scope(plastic_edges=_subset(draw, candidates))


@st.composite
def stdp_rules(draw: st.DrawFn, g: Drawn) -> nl.STDP:
    timing_name = draw(st.sampled_from(sorted(nl.TIMING_DEPENDENCES)))
    if timing_name == "SpikePairRule":
        timing = nl.TimingDependence(
            name=timing_name,
            tau_plus=draw(positive()),
            tau_minus=draw(positive()),
            A_plus=draw(st.floats(0.0, 1e3)),
            A_minus=draw(st.floats(0.0, 1e3)),
        )
    else:
        timing = nl.TimingDependence(
            name=timing_name,
            tau=draw(positive()),
            eta=draw(st.floats(0.0, 1e3)),
            rho=draw(st.floats(0.0, 1e3)),
        )
    weight_name = draw(st.sampled_from(sorted(nl.WEIGHT_DEPENDENCES)))
    lo, hi = sorted(draw(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2)))
    extra = {}
    if weight_name == "GutigWeightDependence":
        extra = {"mu_plus": draw(st.floats(0.0, 10.0)), "mu_minus": draw(st.floats(0.0, 10.0))}
    return nl.STDP(
        scope=_local_scope(draw, g),
        timing_dependence=timing,
        weight_dependence=nl.WeightDependence(name=weight_name, w_min=lo, w_max=hi, **extra),
        dendritic_delay_fraction=draw(st.floats(0.0, 1.0)),
    )


@st.composite
def lava_products(draw: st.DrawFn, k: int) -> str:
    """One product of a Lava rule string: [scale *] dependency [* factors]."""
    parts = []
    scale = draw(st.sampled_from(["", "m*2^e", "2^e", "m"]))
    m, e = draw(st.integers(1, 7)), draw(st.integers(-7, 8))
    if scale:
        parts.append(scale.replace("m", str(m)).replace("e", str(e)))
    parts.append(draw(st.sampled_from(["x0", "y0", f"u{k}"])))
    factors = st.sampled_from(["x1", "x2", "y1", "y2", "y3", "w", "d", "t", "sgn(w)", "(w+2)"])
    parts += draw(st.lists(factors, max_size=3))
    return "*".join(parts)


@st.composite
def lava_strings(draw: st.DrawFn, k: int) -> str:
    products = draw(st.lists(lava_products(k), min_size=1, max_size=4))
    text = products[0]
    for p in products[1:]:
        text += draw(st.sampled_from([" + ", " - ", "+", "-"])) + p
    return ("-" if draw(st.booleans()) else "") + text


@st.composite
def local_rules(draw: st.DrawFn, g: Drawn) -> nl.LocalRule:
    k = draw(st.integers(0, 9))
    strings = {}
    for key in draw(_nonempty_subsets(("dw", "dd", "dt"))):
        strings[key] = draw(lava_strings(k))
    traces = {}
    for trace in ("x1", "x2", "y1", "y2", "y3"):
        if draw(st.booleans()):
            traces[f"{trace}_impulse"] = draw(st.floats(0.0, 127.0))
            traces[f"{trace}_tau"] = draw(st.floats(0.0, 10.0))
    return nl.LocalRule(
        scope=_local_scope(draw, g),
        t_epoch=draw(st.integers(1, 1000)),
        rng_seed=draw(st.none() | st.integers(0, 2**32)),
        **strings,
        **traces,
    )


def _nonempty_subsets(items: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), min_size=1, unique=True)


@st.composite
def graphs_with_rules(draw: st.DrawFn) -> tuple[Drawn, nl.LearningRule]:
    """A random graph with a random rule of a random kind that fits it."""
    kind = draw(st.sampled_from(KINDS))
    g = draw(graphs(readout_layer=True if kind == "eprop" else None))
    if kind in ("surrogate_gradient", "eventprop"):
        rule = draw(gradient_rules(g, kind))
    elif kind == "eprop":
        rule = draw(eprop_rules(g))
    elif kind == "stdp":
        rule = draw(stdp_rules(g))
    else:
        rule = draw(local_rules(g))
    return g, rule
