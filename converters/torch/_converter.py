"""The plain-PyTorch target: a NIR graph as a ``torch.fx.GraphModule`` built by nirtorch, with
SEMANTICS.md's neurons (:class:`Neuron`) and nirbridge's own maps for the linear nodes (nirtorch
2.6's Affine map drops the bias: it sets ``module.weight.bias``)."""

from __future__ import annotations

from typing import Any

import nir
import numpy as np
import torch

from nirbridge._converter import Issue
from nirbridge._errors import NirBridgeError, SimulationInputError, UnsupportedError
from nirbridge.graph import (
    infer_shapes,
    inline_subgraphs,
    read_metadata,
    reset_mode,
    resolve_dt,
    with_metadata,
)

from ._executor import LINEAR_MAP, BuildContext, StepModule
from ._layers import children, first_shape, layer_node, probe
from ._neurons import _FIELDS, Neuron

#: NIR types the nirtorch form maps (neurons here, linear nodes from LINEAR_MAP).
NODE_TYPES = frozenset(_FIELDS) | frozenset(
    {
        "Affine",
        "Linear",
        "Conv1d",
        "Conv2d",
        "AvgPool2d",
        "SumPool2d",
        "Flatten",
        "Scale",
        "Threshold",
        "Delay",
    }
)


class _Stateless(torch.nn.Module):
    """nirtorch calls stateless modules with one argument."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


class _Stateful(torch.nn.Module):
    """A :class:`StepModule` (Delay) in nirtorch's ``forward(x, state=None)`` convention."""

    def __init__(self, inner: StepModule) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x, state=None):
        if state is None:
            state = self.inner.init_state(x)
        return self.inner(x, state)


class NirTorchModule(torch.nn.Module):
    """A NIR graph run by nirtorch's interpreter, one call per time step, in a time loop.

    Calling it with ``x`` of shape ``(T, batch, *shape)`` (the graph's one Input) returns the
    output ``(T, batch, *shape)``. ``step`` (the nirtorch ``GraphModule``) is the one-step form:
    ``y, state = module.step(x_t, state)``.
    """

    def __init__(self, graph: nir.NIRGraph, *, dt: float, reset: str, dtype=torch.float64):
        super().__init__()
        import nirtorch

        flat = inline_subgraphs(graph)
        if read_metadata(graph).initial_state:
            raise UnsupportedError(
                "the nirtorch form starts every state at zero; this graph has initial_state "
                "metadata (use target 'snntorch' or 'norse')",
                target="torch",
            )
        shapes = infer_shapes(flat)
        ctx = BuildContext(dt=dt, reset=reset, shapes=shapes, dtype=dtype)
        names = {id(node): name for name, node in flat.nodes.items()}
        for name, node in flat.nodes.items():
            kind = type(node).__name__
            if kind not in NODE_TYPES | {"Input", "Output"}:
                raise UnsupportedError(
                    f"the nirtorch form maps {sorted(NODE_TYPES)}, not {kind}",
                    node=name,
                    target="torch",
                )

        def linear(node):
            name = names[id(node)]
            module = LINEAR_MAP[type(node).__name__](name, node, ctx)
            return _Stateful(module) if isinstance(module, StepModule) else _Stateless(module)

        def neuron(node):
            name = names[id(node)]
            return Neuron.from_node(node, shapes[name], dt=dt, reset=reset, dtype=dtype)

        node_map = {getattr(nir, k): linear for k in NODE_TYPES - set(_FIELDS)}
        node_map.update({getattr(nir, k): neuron for k in _FIELDS})
        self.step = nirtorch.nir_to_torch(flat, node_map, dtype=dtype)
        self.dtype = dtype

    def forward(self, x):
        if isinstance(x, dict):
            if len(x) != 1:
                raise SimulationInputError("the nirtorch form takes one input tensor")
            x = next(iter(x.values()))
        x = torch.as_tensor(x, dtype=self.dtype)
        state = None
        outs = []
        for t in range(x.shape[0]):
            y, state = self.step(x[t], state)
            outs.append(y)
        return torch.stack(outs)


class TorchConverter:
    """Plain PyTorch <-> NIR.

    ``from_nir(graph, dt=None, reset=None, dtype=torch.float64)`` -> :class:`NirTorchModule`.
    ``to_nir(model, dt=..., input_shape=None)`` exports a ``torch.nn.Sequential`` of torch layers
    and :class:`Neuron` modules (whose ``dt`` must be the one given).
    """

    name = "torch"
    kind = "framework"
    node_types = NODE_TYPES

    def check(self, graph: nir.NIRGraph) -> list[Issue]:
        issues = [
            Issue("error", f"the nirtorch form has no map for {type(node).__name__}", node=name)
            for name, node in graph.nodes.items()
            if type(node).__name__ not in NODE_TYPES | {"Input", "Output", "NIRGraph"}
        ]
        try:
            resolve_dt(graph)
        except NirBridgeError as exc:  # check() never raises: it reports
            issues.append(Issue("error", str(exc)))
        return issues

    def from_nir(self, graph: nir.NIRGraph, **options: Any) -> NirTorchModule:
        dt = resolve_dt(graph, options.pop("dt", None))
        reset = reset_mode(graph, options.pop("reset", None))
        dtype = options.pop("dtype", torch.float64)
        if options:
            raise TypeError(f"unknown options for the torch target: {sorted(options)}")
        return NirTorchModule(graph, dt=dt, reset=reset, dtype=dtype)

    def to_nir(self, obj: Any, **options: Any) -> nir.NIRGraph:
        dt = float(options.pop("dt"))
        input_shape = options.pop("input_shape", None)
        if options:
            raise TypeError(f"unknown options for the torch target: {sorted(options)}")
        layers = children(obj)
        shape = tuple(input_shape) if input_shape is not None else first_shape(layers, "torch")
        nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array(shape)})}
        edges = []
        src = "input"
        resets = set()
        for name, m in layers:
            if isinstance(m, Neuron):
                if not np.isclose(m.dt, dt, rtol=1e-12, atol=0):
                    raise UnsupportedError(
                        f"the neuron steps with dt = {m.dt} s, but dt = {dt} s was asked for",
                        node=name,
                        target="torch",
                    )
                if m.spiking:
                    resets.add(m.reset)
                node = m.to_nir()
            else:
                node = layer_node(m, name, shape, "torch")
                if node is None:
                    continue
                shape = probe(m, shape)
            nodes[name] = node
            edges.append((src, name))
            src = name
        if len(resets) > 1:
            raise UnsupportedError("the neurons mix reset modes; a graph has one", target="torch")
        nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
        edges.append((src, "output"))
        graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
        return with_metadata(
            graph, dt=dt, reset=resets.pop() if resets else "zero", integrator="euler"
        )
