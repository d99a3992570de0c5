"""A trainable stack of spiking layers, and its exact translation to and from NIR.

:class:`SpikingNetwork` is what every engine trains: a chain of :class:`SpikingLayer`\\ s, each
weights (``weight``, optional ``bias``, optional ``rec_weight``) plus fixed
:class:`~nirbridge.training.LayerParams`. Its forward pass runs the fused kernels
(:func:`nirbridge.training.kernels.run_layer`), which compute the step of ``_layers.py``.

:meth:`SpikingNetwork.to_nir` writes the graph the reference simulator runs spike for spike::

    input -> fc1 (Affine | Linear) -> lif1 [-> rec1 (Linear) -> lif1] -> fc2 -> ... -> output

with ``r = tau_mem/dt`` (and ``w_in = tau_syn/dt``) so that a weight is the jump it causes, and
the time step, reset mode and learning rule in nirbridge's metadata. NIR has no adaptive neuron:
an ALIF layer is written as an LIF on the distance to the adaptive threshold with an adaptation LI
node beside it (:func:`alif_terms`), which the reference runs spike for spike.

:meth:`from_nir` reads such a chain (without ALIF) back from any NIR file, folding a different
``r``/``w_in`` into the weights and an LIF's ``v_leak`` into its bias (the graph computes the
same; the parameters are normalised).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import nir
import numpy as np
import torch

from .._errors import GraphError, InvalidParameterError, UnsupportedError
from ..graph import reset_mode, resolve_dt, type_name, with_metadata
from ..learning import LearningRule, attach
from ._layers import LayerParams

#: NIR node type written for each layer kind, and back.
NIR_TYPES = {"lif": "LIF", "cubalif": "CubaLIF", "li": "LI", "cubali": "CubaLI"}
KIND_OF = {v: k for k, v in NIR_TYPES.items()}


class SpikingLayer(torch.nn.Module):
    """Weights of one layer plus its fixed constants.

    Args:
        n_in: Inputs per step.
        n_out: Neurons.
        params: The layer's constants (kind, dt, time constants, threshold, reset).
        recurrent: Give the layer recurrent weights ``rec_weight`` (n_out, n_out).
        bias: Give the layer a bias (an Affine node in NIR; else Linear).
        weight_std, weight_mean: Initial weights ~ N(mean, std); default std 1/sqrt(n_in).
        rec_std: Initial recurrent weights ~ N(0, rec_std); default 1/sqrt(n_out).
        generator: Random source of the initial weights.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        params: LayerParams,
        *,
        recurrent: bool = False,
        bias: bool = False,
        weight_std: float | None = None,
        weight_mean: float = 0.0,
        rec_std: float | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.params = params
        std = 1.0 / math.sqrt(n_in) if weight_std is None else weight_std
        w = torch.randn(n_out, n_in, generator=generator, dtype=dtype) * std + weight_mean
        self.weight = torch.nn.Parameter(w)
        self.bias = torch.nn.Parameter(torch.zeros(n_out, dtype=dtype)) if bias else None
        self.rec_weight = None
        if recurrent:
            rstd = 1.0 / math.sqrt(n_out) if rec_std is None else rec_std
            r = torch.randn(n_out, n_out, generator=generator, dtype=dtype) * rstd
            self.rec_weight = torch.nn.Parameter(r)

    @property
    def n_in(self) -> int:
        return self.weight.shape[1]

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]

    def forward(
        self, x: torch.Tensor, surrogate: Any = None, *, detach_reset: bool = False, impl="auto"
    ) -> torch.Tensor:
        from .kernels import run_layer

        return run_layer(
            x,
            self.weight,
            self.bias,
            self.rec_weight,
            self.params,
            surrogate,
            detach_reset=detach_reset,
            impl=impl,
        )

    def extra_repr(self) -> str:
        rec = ", recurrent" if self.rec_weight is not None else ""
        return f"{self.params.kind}, {self.n_in} -> {self.n_out}{rec}"


class SpikingNetwork(torch.nn.Module):
    """A chain of spiking layers; the last is the readout.

    Example:
        >>> net = SpikingNetwork.build(
        ...     [5, 200, 3], ["lif", "lif"], dt=1e-4, tau_mem=20e-3, seed=0
        ... )
        >>> graph = net.to_nir()          # runs identically on nirbridge.reference
    """

    def __init__(self, layers: Sequence[SpikingLayer]) -> None:
        super().__init__()
        if not layers:
            raise ValueError("SpikingNetwork needs at least one layer")
        for i, (a, b) in enumerate(zip(layers, layers[1:], strict=False), start=1):
            if a.n_out != b.n_in:
                raise ValueError(
                    f"layer {i} has {a.n_out} outputs but layer {i + 1} takes {b.n_in}"
                )
            if a.params.dt != b.params.dt:
                raise ValueError(f"layers {i} and {i + 1} have different dt")
        self.layers = torch.nn.ModuleList(layers)

    @classmethod
    def build(
        cls,
        sizes: Sequence[int],
        kinds: Sequence[str],
        *,
        dt: float,
        tau_mem: float | Sequence[float],
        tau_syn: float | Sequence[float] | None = None,
        threshold: float = 1.0,
        reset: str = "subtract",
        recurrent: bool | Sequence[bool] = False,
        bias: bool = False,
        weight_std: float | Sequence[float | None] | None = None,
        weight_mean: float | Sequence[float] = 0.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> SpikingNetwork:
        """Layers of ``sizes[i] -> sizes[i+1]`` neurons of ``kinds[i]``; per-layer values may be
        given as sequences, one per layer."""
        n = len(kinds)
        if len(sizes) != n + 1:
            raise ValueError(f"{n} kinds need {n + 1} sizes, got {len(sizes)}")

        def each(value: Any) -> list[Any]:
            if isinstance(value, (list, tuple)):
                if len(value) != n:
                    raise ValueError(f"expected {n} per-layer values, got {len(value)}")
                return list(value)
            return [value] * n

        gen = torch.Generator().manual_seed(seed)
        layers = []
        for i, (kind, tm, ts, rec, std, mean) in enumerate(
            zip(
                kinds,
                each(tau_mem),
                each(tau_syn),
                each(recurrent),
                each(weight_std),
                each(weight_mean),
                strict=True,
            )
        ):
            params = LayerParams(
                kind, dt=dt, tau_mem=tm, tau_syn=ts, threshold=threshold, reset=reset
            )
            layers.append(
                SpikingLayer(
                    sizes[i],
                    sizes[i + 1],
                    params,
                    recurrent=rec,
                    bias=bias,
                    weight_std=std,
                    weight_mean=mean,
                    generator=gen,
                    dtype=dtype,
                )
            )
        return cls(layers)

    @property
    def dt(self) -> float:
        return self.layers[0].params.dt

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    def forward(
        self, x: torch.Tensor, surrogate: Any = None, *, detach_reset: bool = False, impl="auto"
    ) -> list[torch.Tensor]:
        """Every layer's output for input ``x`` (T, B, n_in): spikes, or the readout voltage."""
        outputs = []
        for layer in self.layers:
            x = layer(x, surrogate, detach_reset=detach_reset, impl=impl)
            outputs.append(x)
        return outputs

    # -- NIR ------------------------------------------------------------------------------------

    def node_names(self) -> list[tuple[str, str, str | None]]:
        """(weight node, neuron node, recurrent node or None) of each layer, as in the graph
        (an ALIF layer's recurrent weights live in ``alif{i}_self``, with its self-terms)."""
        names = []
        for i, layer in enumerate(self.layers, start=1):
            rec = f"rec{i}" if layer.rec_weight is not None else None
            if layer.params.kind == "alif" and rec is not None:
                rec = f"alif{i}_self"
            names.append((f"fc{i}", f"{layer.params.kind}{i}", rec))
        return names

    def to_nir(self, rule: LearningRule | None = None) -> nir.NIRGraph:
        """The NIR graph computing this network (float64), with dt, reset and ``rule``."""
        resets = {layer.params.reset for layer in self.layers if layer.params.spiking}
        if len(resets) > 1:
            raise UnsupportedError(
                "a NIR file holds one reset mode, but the layers use "
                + " and ".join(sorted(resets)),
                target="nir",
            )
        nodes: dict[str, nir.NIRNode] = {"input": nir.Input(np.array([self.sizes[0]]))}
        edges: list[tuple[str, str]] = []
        prev = "input"
        for layer, (fc, neuron, rec) in zip(self.layers, self.node_names(), strict=True):
            w = _numpy(layer.weight)
            if layer.bias is not None:
                nodes[fc] = nir.Affine(weight=w, bias=_numpy(layer.bias))
            else:
                nodes[fc] = nir.Linear(weight=w)
            nodes[neuron] = _neuron_node(layer.params, layer.n_out, neuron)
            edges += [(prev, fc), (fc, neuron)]
            if layer.params.kind == "alif":
                nodes.update(_alif_nodes(layer, neuron))
                edges += [
                    (neuron, f"{neuron}_self"),
                    (f"{neuron}_self", neuron),
                    (neuron, f"{neuron}_adapt"),
                    (f"{neuron}_adapt", f"{neuron}_wadapt"),
                    (f"{neuron}_wadapt", neuron),
                ]
            elif rec is not None:
                nodes[rec] = nir.Linear(weight=_numpy(layer.rec_weight))
                edges += [(neuron, rec), (rec, neuron)]
            prev = neuron
        nodes["output"] = nir.Output(np.array([self.sizes[-1]]))
        edges.append((prev, "output"))
        graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={})
        with_metadata(
            graph,
            dt=self.dt,
            time_unit="s",
            integrator="euler",
            reset=resets.pop() if resets else "subtract",
        )
        if rule is not None:
            attach(graph, rule)
        return graph

    @classmethod
    def from_nir(
        cls,
        graph: nir.NIRGraph,
        *,
        dt: float | None = None,
        reset: str | None = "auto",
        dtype: torch.dtype = torch.float32,
    ) -> SpikingNetwork:
        """Read a chain ``Input -> (Affine|Linear) -> neuron [<-> Linear] -> ... -> Output``.

        Raises:
            GraphError: the graph is not such a chain (the node is named), or a neuron has
                per-neuron time constants or thresholds (one value per layer is trained).
        """
        dt = resolve_dt(graph, dt)
        mode = reset_mode(graph, reset)
        chain = _chain(graph)
        layers = []
        for fc, neuron, rec in chain:
            layers.append(_layer_from_nodes(graph, fc, neuron, rec, dt=dt, reset=mode, dtype=dtype))
        return cls(layers)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy().copy()


def alif_terms(p: LayerParams) -> tuple[float, float]:
    """ALIF as NIR nodes: ``(self, adapt)`` weights.

    With ``u'[t] = v'[t] - adapt_beta * a[t-1]`` (the distance to the adaptive threshold, so
    that a spike is ``u' > threshold``) and ``a[t] = rho * a[t-1] + z[t]``, the step of
    ``_layers.py`` (a spike subtracts the base threshold) gives::

        u'[t] = P u[t-1] + I[t] - adapt_beta (P / rho) z[t-1] + adapt_beta (P / rho - 1) a[t-1]

    with ``u[t-1] = u'[t-1] - threshold z[t-1]``: a LIF in ``u`` (reset by subtraction) whose
    recurrent weights get ``self = -adapt_beta P / rho`` on their diagonal, plus a back edge
    from an LI node holding ``a`` (``tau = dt / (1 - rho)``, ``r = 1 / (1 - rho)``, fed by the
    spikes) through the diagonal weight ``adapt = adapt_beta (P / rho - 1)``.
    """
    P, rho, beta = p.beta_mem, p.adapt_rho, p.adapt_beta
    return -beta * P / rho, beta * (P / rho - 1.0)


def alif_adaptation_node(p: LayerParams, n: int) -> nir.LI:
    """The LI node holding ALIF's adaptation ``a[t] = rho a[t-1] + z[t]`` (see
    :func:`alif_terms`)."""
    tau = p.dt / (1.0 - p.adapt_rho)
    return nir.LI(tau=np.full(n, tau), r=np.full(n, tau / p.dt), v_leak=np.zeros(n))


def _alif_nodes(layer: SpikingLayer, neuron: str) -> dict[str, nir.NIRNode]:
    p, n = layer.params, layer.n_out
    self_w, adapt_w = alif_terms(p)
    rec = np.zeros((n, n)) if layer.rec_weight is None else _numpy(layer.rec_weight)
    return {
        f"{neuron}_self": nir.Linear(weight=rec + np.eye(n) * self_w),
        f"{neuron}_adapt": alif_adaptation_node(p, n),
        f"{neuron}_wadapt": nir.Linear(weight=np.eye(n) * adapt_w),
    }


def _neuron_node(p: LayerParams, n: int, name: str) -> nir.NIRNode:
    def full(value: float) -> np.ndarray:
        return np.full(n, float(value))

    common = {"v_leak": full(0.0)}
    spiking = {"v_threshold": full(p.threshold), "v_reset": full(p.v_reset)}
    r = full(p.tau_mem / p.dt)
    if p.kind in ("lif", "alif"):  # alif: a LIF in the distance to its threshold
        return nir.LIF(tau=full(p.tau_mem), r=r, **common, **spiking)
    if p.kind == "li":
        return nir.LI(tau=full(p.tau_mem), r=r, **common)
    syn = {"tau_syn": full(p.tau_syn), "tau_mem": full(p.tau_mem), "w_in": full(p.tau_syn / p.dt)}
    if p.kind == "cubalif":
        return nir.CubaLIF(r=r, **syn, **common, **spiking)
    return nir.CubaLI(r=r, **syn, **common)


def _chain(graph: nir.NIRGraph) -> list[tuple[str, str, str | None]]:
    """(weight node, neuron node, recurrent node) per layer, walking from the single Input."""
    succ: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        succ[src].append(dst)
    inputs = [n for n, node in graph.nodes.items() if type_name(node) == "Input"]
    if len(inputs) != 1:
        raise GraphError(
            "a trainable chain has one Input node",
            node=None,
            expected="1 Input",
            got=f"{len(inputs)}: {inputs}",
        )

    def only(name: str, options: list[str], what: str) -> str:
        if len(options) != 1:
            raise GraphError(
                f"a trainable chain continues with one {what}",
                node=name,
                node_type=type_name(graph.nodes[name]),
                expected=f"one successor ({what})",
                got=str(options),
            )
        return options[0]

    layers = []
    current = inputs[0]
    while True:
        nxt = only(current, succ[current], "weight node or Output")
        if type_name(graph.nodes[nxt]) == "Output":
            break
        fc = nxt
        if type_name(graph.nodes[fc]) not in ("Affine", "Linear"):
            raise GraphError(
                "a trainable layer starts with its weights",
                node=fc,
                node_type=type_name(graph.nodes[fc]),
                expected="Affine or Linear",
                got=type_name(graph.nodes[fc]),
            )
        neuron = only(fc, succ[fc], "neuron")
        if type_name(graph.nodes[neuron]) not in KIND_OF:
            raise GraphError(
                "a trainable layer's weights feed its neurons",
                node=neuron,
                node_type=type_name(graph.nodes[neuron]),
                expected=f"one of {sorted(KIND_OF)}",
                got=type_name(graph.nodes[neuron]),
            )
        rec = None
        forward = []
        for s in succ[neuron]:
            if type_name(graph.nodes[s]) == "Linear" and succ[s] == [neuron]:
                rec = s
            else:
                forward.append(s)
        layers.append((fc, neuron, rec))
        current = neuron
        succ[current] = forward
    return layers


def _scalar(graph: nir.NIRGraph, node: str, field: str, n: int) -> float:
    value = getattr(graph.nodes[node], field, None)
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))
    if not np.all(arr == arr.flat[0]):
        raise InvalidParameterError(
            "training uses one value per layer",
            node=node,
            node_type=type_name(graph.nodes[node]),
            parameter=field,
            expected="the same value for every neuron",
            got=f"values from {arr.min()} to {arr.max()}",
        )
    return float(arr.flat[0])


def _layer_from_nodes(
    graph: nir.NIRGraph,
    fc: str,
    neuron: str,
    rec: str | None,
    *,
    dt: float,
    reset: str,
    dtype: torch.dtype,
) -> SpikingLayer:
    wnode, nnode = graph.nodes[fc], graph.nodes[neuron]
    weight = np.asarray(wnode.weight, dtype=np.float64)
    n_out, n_in = weight.shape
    bias = np.asarray(wnode.bias, dtype=np.float64) if hasattr(wnode, "bias") else None
    kind = KIND_OF[type_name(nnode)]
    syn = kind in ("cubalif", "cubali")
    tau = _scalar(graph, neuron, "tau_mem" if syn else "tau", n_out)
    r = _scalar(graph, neuron, "r", n_out)
    v_leak = _scalar(graph, neuron, "v_leak", n_out)
    gain = dt / tau * r  # the euler input gain; training uses 1
    tau_syn = None
    if syn:
        tau_syn = _scalar(graph, neuron, "tau_syn", n_out)
        w_in = getattr(nnode, "w_in", None)
        gain *= dt / tau_syn * (1.0 if w_in is None else _scalar(graph, neuron, "w_in", n_out))
        if v_leak != 0.0:
            raise InvalidParameterError(
                "a CubaLIF/CubaLI leak potential is not an input current",
                node=neuron,
                node_type=type_name(nnode),
                parameter="v_leak",
                expected="0",
                got=str(v_leak),
            )
    spiking = kind in ("lif", "cubalif")
    params = LayerParams(
        kind,
        dt=dt,
        tau_mem=tau,
        tau_syn=tau_syn,
        threshold=_scalar(graph, neuron, "v_threshold", n_out) if spiking else 1.0,
        reset=reset,
        v_reset=_scalar(graph, neuron, "v_reset", n_out) if spiking else 0.0,
    )
    drive = dt / tau * v_leak  # LIF/LI: a constant input of a*v_leak per step
    has_bias = bias is not None or drive != 0.0
    layer = SpikingLayer(n_in, n_out, params, recurrent=rec is not None, bias=has_bias, dtype=dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight * gain, dtype=dtype))
        if has_bias:
            b = (np.zeros(n_out) if bias is None else bias) * gain + drive
            layer.bias.copy_(torch.as_tensor(b, dtype=dtype))
        if rec is not None:
            rw = np.asarray(graph.nodes[rec].weight, dtype=np.float64) * gain
            layer.rec_weight.copy_(torch.as_tensor(rw, dtype=dtype))
    return layer


__all__ = [
    "KIND_OF",
    "NIR_TYPES",
    "SpikingLayer",
    "SpikingNetwork",
    "alif_adaptation_node",
    "alif_terms",
]
