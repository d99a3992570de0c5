"""A trained layer stack as a NIR graph that :mod:`nirbridge.reference` runs step for step.

The graph is ``input -> fc0 -> n0 -> fc1 -> n1 ... -> output`` (Affine where a layer has a bias,
else Linear), a recurrent layer ``k`` adding ``n{k} -> rec{k} -> n{k}`` (a back edge: last
step's spikes). Neurons get ``r = tau_mem / dt`` and ``w_in = tau_syn / dt``, which turn
SEMANTICS.md's euler step into the equations of :mod:`nirbridge.training._layers`; the time
step, the integrator and the reset mode go into the graph's nirbridge metadata, the learning
rule (if given) beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nir
import numpy as np

from ..._errors import UnsupportedError
from ...graph import with_metadata
from ...learning import LearningRule, attach


def _array(tensor: Any) -> np.ndarray:
    return np.asarray(tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else tensor)


def _projection(weight: Any, bias: Any) -> nir.NIRNode:
    if bias is None:
        return nir.Linear(weight=_array(weight))
    return nir.Affine(weight=_array(weight), bias=_array(bias))


def _neuron(params: Any, n: int) -> nir.NIRNode:
    dt = params.dt
    full = lambda value: np.full(n, float(value))  # noqa: E731
    tau_mem, r = full(params.tau_mem), full(params.tau_mem / dt)
    if params.kind in ("li", "cubali"):
        if params.kind == "li":
            return nir.LI(tau=tau_mem, r=r, v_leak=full(0.0))
        return nir.CubaLI(
            tau_syn=full(params.tau_syn),
            tau_mem=tau_mem,
            r=r,
            v_leak=full(0.0),
            w_in=full(params.tau_syn / dt),
        )
    common = {"v_threshold": full(params.threshold), "v_reset": full(params.v_reset)}
    if params.kind == "lif":
        return nir.LIF(tau=tau_mem, r=r, v_leak=full(0.0), **common)
    if params.kind == "cubalif":
        return nir.CubaLIF(
            tau_syn=full(params.tau_syn),
            tau_mem=tau_mem,
            r=r,
            v_leak=full(0.0),
            w_in=full(params.tau_syn / dt),
            **common,
        )
    raise UnsupportedError(f"layers_to_nir: layer kind {params.kind!r} has no NIR neuron here")


def layers_to_nir(layers: Sequence[Any], *, rule: LearningRule | None = None) -> nir.NIRGraph:
    """The NIR graph of ``[(weight, bias | None, rec_weight | None, LayerParams), ...]``.

    Args:
        layers: Input side first, as for :func:`eventprop_forward`.
        rule: A learning rule to store with the graph (checked against it), or None.

    Raises:
        UnsupportedError: layers with different time steps or reset modes (the metadata holds
            one of each), or a kind without a NIR neuron.
    """
    params = [entry[3] for entry in layers]
    spiking_resets = {p.reset for p in params if p.spiking}
    if len({p.dt for p in params}) != 1 or len(spiking_resets) > 1:
        raise UnsupportedError("layers_to_nir: every layer must share one dt and one reset mode")
    n_in = int(layers[0][0].shape[1])
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges: list[tuple[str, str]] = []
    below = "input"
    for k, (weight, bias, rec, p) in enumerate(layers):
        n = int(weight.shape[0])
        nodes[f"fc{k}"] = _projection(weight, bias)
        nodes[f"n{k}"] = _neuron(p, n)
        edges += [(below, f"fc{k}"), (f"fc{k}", f"n{k}")]
        if rec is not None:
            nodes[f"rec{k}"] = _projection(rec, None)
            edges += [(f"n{k}", f"rec{k}"), (f"rec{k}", f"n{k}")]
        below = f"n{k}"
    n_out = int(layers[-1][0].shape[0])
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    edges.append((below, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    reset = spiking_resets.pop() if spiking_resets else "subtract"
    with_metadata(graph, dt=float(params[0].dt), integrator="euler", reset=reset)
    if rule is not None:
        attach(graph, rule)
    return graph


__all__ = ["layers_to_nir"]
