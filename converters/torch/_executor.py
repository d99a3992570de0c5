"""A NIR graph as one ``torch.nn.Module`` that steps its own time loop, as SEMANTICS.md does.

Every node becomes a module from a node map (a dictionary from NIR type name to a builder, which
a caller can override, the nirtorch idea). Stateless nodes (Affine, Linear, Conv, pooling, Flatten,
Scale, Threshold) are ``forward(x) -> y``; stateful ones (neurons, Delay) derive from
:class:`StepModule`: ``init_state(batch, like) -> dict`` and ``forward(x, state) -> (y, state)``.

:class:`GraphExecutor` takes input ``(T, batch, *shape)`` per Input node and returns the outputs
``(T, batch, *shape)`` per Output node. At each step a node sums its forward predecessors' outputs
of this step and, over back edges, their outputs of the last step (zero in the first step), in
the order :func:`nirbridge.graph.schedule` gives: the reference simulator's rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import nir
import numpy as np
import torch
import torch.nn.functional as F

from nirbridge._errors import SimulationInputError, UnsupportedError
from nirbridge.graph import infer_shapes, inline_subgraphs, read_metadata, schedule, type_name
from nirbridge.graph._linear import conv_geometry

Builder = Callable[[str, nir.NIRNode, "BuildContext"], torch.nn.Module]


class BuildContext:
    """What a node builder may need besides its node: time step, reset mode, shapes, dtype."""

    def __init__(
        self, *, dt: float, reset: str, shapes: Mapping[str, tuple[int, ...]], dtype: torch.dtype
    ) -> None:
        self.dt = dt
        self.reset = reset
        self.shapes = shapes
        self.dtype = dtype

    def tensor(self, value: Any, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """``value`` as a tensor of the model's dtype, broadcast to ``shape`` when given."""
        arr = np.asarray(value, dtype=np.float64)
        if shape is not None:
            arr = np.broadcast_to(arr, shape).copy()
        return torch.as_tensor(arr, dtype=self.dtype)


class StepModule(torch.nn.Module):
    """A node with state: ``forward(x, state) -> (output, new_state)``."""

    states: tuple[str, ...] = ("v",)

    def init_state(self, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """Zero state shaped as this node's output for ``like`` (``(batch, *shape)``)."""
        return {s: torch.zeros_like(like) for s in self.states}


class Delay(StepModule):
    """``y[t] = x[t - k]`` with ``k = round(delay / dt)`` per element (a ring buffer)."""

    states = ()

    def __init__(self, steps: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("steps", torch.as_tensor(np.asarray(steps, dtype=np.int64)))
        self.depth = int(self.steps.max().item()) + 1 if self.steps.numel() else 1

    def init_state(self, like: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"buffer": torch.zeros((self.depth, *like.shape), dtype=like.dtype), "t": 0}

    def forward(self, x, state):
        buf = state["buffer"].clone()
        t = state["t"]
        buf[t % self.depth] = x
        index = (t - self.steps) % self.depth
        index = index.expand(x.shape).unsqueeze(0)
        y = torch.gather(buf, 0, index)[0]
        return y, {"buffer": buf, "t": t + 1}


class Functional(torch.nn.Module):
    """A stateless node computed by a function of its input."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], label: str) -> None:
        super().__init__()
        self.fn = fn
        self.label = label

    def forward(self, x):
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.label


def _pads(node: nir.NIRNode, name: str) -> tuple[int, ...]:
    _, _, _, pads = conv_geometry(node, name)
    flat: list[int] = []
    for low, high in reversed(pads):  # F.pad wants the last dimension first
        flat += [low, high]
    return tuple(flat)


def _affine(name: str, node: nir.NIRNode, ctx: BuildContext) -> torch.nn.Module:
    w = np.asarray(node.weight)
    bias = getattr(node, "bias", None) if isinstance(node, nir.Affine) else None
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=bias is not None, dtype=ctx.dtype)
    with torch.no_grad():
        lin.weight.copy_(ctx.tensor(w))
        if bias is not None:
            lin.bias.copy_(ctx.tensor(bias, (w.shape[0],)))
    return lin


def _conv(name: str, node: nir.NIRNode, ctx: BuildContext) -> torch.nn.Module:
    kernel, stride, dilation, _ = conv_geometry(node, name)
    nd = len(kernel)
    weight = ctx.tensor(node.weight)
    bias = ctx.tensor(node.bias, (weight.shape[0],))
    groups = int(np.asarray(node.groups).item())
    pads = _pads(node, name)
    conv = F.conv2d if nd == 2 else F.conv1d
    w_p = torch.nn.Parameter(weight)
    b_p = torch.nn.Parameter(bias)

    class Conv(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight, self.bias = w_p, b_p

        def forward(self, x):
            return conv(
                F.pad(x, pads),
                self.weight,
                self.bias,
                stride=stride,
                dilation=dilation,
                groups=groups,
            )

    return Conv()


def _pool(name: str, node: nir.NIRNode, ctx: BuildContext) -> torch.nn.Module:
    kernel, stride, _, _ = conv_geometry(node, name)
    pads = _pads(node, name)
    summed = isinstance(node, nir.SumPool2d)

    def fn(x):
        y = F.avg_pool2d(F.pad(x, pads), kernel, stride)
        return y * float(np.prod(kernel)) if summed else y

    return Functional(fn, f"{type(node).__name__}(kernel={kernel}, stride={stride})")


def _flatten(name: str, node: nir.NIRNode, ctx: BuildContext) -> torch.nn.Module:
    out = ctx.shapes[name]
    return Functional(lambda x: x.reshape(x.shape[0], *out), f"Flatten(-> {out})")


def _scale(name: str, node: nir.NIRNode, ctx: BuildContext) -> torch.nn.Module:
    s = ctx.tensor(node.scale)
    return Functional(lambda x: x * s, "Scale")


def _threshold(name: str, node: nir.NIRNode, ctx: BuildContext) -> torch.nn.Module:
    th = ctx.tensor(node.threshold)
    return Functional(lambda x: (x > th).to(x.dtype), "Threshold")


def _delay(name: str, node: nir.NIRNode, ctx: BuildContext) -> torch.nn.Module:
    steps = np.rint(np.asarray(node.delay, dtype=np.float64) / ctx.dt).astype(np.int64)
    return Delay(np.broadcast_to(steps, ctx.shapes[name]).copy())


def _identity(name: str, node: nir.NIRNode, ctx: BuildContext) -> torch.nn.Module:
    return torch.nn.Identity()


#: Stateless and bookkeeping nodes every torch target shares; neuron types come from the target.
LINEAR_MAP: dict[str, Builder] = {
    "Input": _identity,
    "Output": _identity,
    "Affine": _affine,
    "Linear": _affine,
    "Conv1d": _conv,
    "Conv2d": _conv,
    "AvgPool2d": _pool,
    "SumPool2d": _pool,
    "Flatten": _flatten,
    "Scale": _scale,
    "Threshold": _threshold,
    "Delay": _delay,
}


class GraphExecutor(torch.nn.Module):
    """A NIR graph run as a time loop of torch modules.

    Args:
        graph: The graph (nested subgraphs are inlined with dotted names).
        node_map: NIR type name -> ``builder(name, node, ctx) -> module``.
        dt: Time step in seconds.
        reset: "subtract" or "zero".
        dtype: Parameter and state dtype (float64 by default, for spike-exact comparisons).

    Calling it with ``{input_name: x}`` (or one tensor when the graph has one Input), ``x`` of
    shape ``(T, batch, *shape)``, returns ``{output_name: y}`` with ``y`` of shape
    ``(T, batch, *shape)``; ``record`` names nodes whose outputs to return as well.
    """

    def __init__(
        self,
        graph: nir.NIRGraph,
        node_map: Mapping[str, Builder],
        *,
        dt: float,
        reset: str,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.graph = inline_subgraphs(graph)
        #: Initial state per node from the graph's metadata (SEMANTICS.md: else zero).
        self.initial = {
            node: {k: torch.as_tensor(v, dtype=dtype) for k, v in states.items()}
            for node, states in read_metadata(graph).initial_state.items()
        }
        self.plan = schedule(self.graph)
        self.shapes = infer_shapes(self.graph)
        self.dt, self.reset, self.dtype = dt, reset, dtype
        ctx = BuildContext(dt=dt, reset=reset, shapes=self.shapes, dtype=dtype)
        self.names = list(self.plan.order)
        self.nodes = torch.nn.ModuleDict()
        self._keys: dict[str, str] = {}
        for i, name in enumerate(self.names):
            node = self.graph.nodes[name]
            kind = type_name(node)
            builder = node_map.get(kind)
            if builder is None:
                raise UnsupportedError(
                    f"no torch module for NIR type {kind}; this target maps {sorted(node_map)}",
                    node=name,
                )
            key = f"n{i}_" + "".join(c if c.isalnum() else "_" for c in name)
            self._keys[name] = key
            self.nodes[key] = builder(name, node, ctx)
        self.inputs = [n for n in self.names if type_name(self.graph.nodes[n]) == "Input"]
        self.outputs = [n for n in self.graph.nodes if type_name(self.graph.nodes[n]) == "Output"]

    def module(self, name: str) -> torch.nn.Module:
        """The module of node ``name``."""
        return self.nodes[self._keys[name]]

    def forward(self, inputs, record: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
        if isinstance(inputs, torch.Tensor):
            if len(self.inputs) != 1:
                raise SimulationInputError(
                    f"the graph has Input nodes {self.inputs}: pass a dict of tensors"
                )
            inputs = {self.inputs[0]: inputs}
        missing = [n for n in self.inputs if n not in inputs]
        if missing:
            raise SimulationInputError(f"no input for Input node(s) {missing}")
        xs = {n: torch.as_tensor(inputs[n], dtype=self.dtype) for n in self.inputs}
        steps = next(iter(xs.values())).shape[0]
        plan = self.plan
        delayed_sources = {p for ps in plan.delayed.values() for p in ps}
        previous: dict[str, torch.Tensor] = {}
        states: dict[str, Any] = {}
        keep = list(self.outputs) + [r for r in record if r not in self.outputs]
        outs: dict[str, list[torch.Tensor]] = {n: [] for n in keep}
        for t in range(steps):
            current: dict[str, torch.Tensor] = {}
            for name in self.names:
                if name in xs:
                    current[name] = xs[name][t]
                    continue
                x = None
                for p in plan.forward[name]:
                    x = current[p] if x is None else x + current[p]
                for p in plan.delayed[name]:
                    if t == 0:
                        continue
                    x = previous[p] if x is None else x + previous[p]
                if x is None:  # only back edges in, first step: zeros of the first source
                    x = torch.zeros(
                        (xs[self.inputs[0]].shape[1], *self._in_shape(name)), dtype=self.dtype
                    )
                module = self.module(name)
                if isinstance(module, StepModule):
                    if name not in states:
                        states[name] = module.init_state(x)
                        for k, v in self.initial.get(name, {}).items():
                            states[name][k] = states[name][k] + v
                    y, states[name] = module(x, states[name])
                else:
                    y = module(x)
                current[name] = y
            for n in keep:
                outs[n].append(current[n])
            for n in delayed_sources:
                previous[n] = current[n]
        return {n: torch.stack(v) for n, v in outs.items()}

    def _in_shape(self, name: str) -> tuple[int, ...]:
        sources = self.plan.forward[name] + self.plan.delayed[name]
        return self.shapes[sources[0]]


__all__ = ["LINEAR_MAP", "BuildContext", "Builder", "Delay", "Functional", "GraphExecutor"]
