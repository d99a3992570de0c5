"""snnTorch -> NIR, with what each snnTorch neuron computes written out in SEMANTICS.md's terms.

snnTorch steps ``mem = beta*mem + input`` (Leaky; ``syn = alpha*syn + input`` first for Synaptic,
whose membrane adds the new ``syn``). With the time step ``dt`` the caller gives, that is exactly
SEMANTICS.md's euler step of

- ``Leaky``, beta < 1: ``LIF(tau = dt/(1-beta), r = 1/(1-beta), v_leak = 0)`` (then ``a*r = 1``);
- ``Leaky``, beta = 1: ``IF(r = 1/dt)``;
- ``Synaptic``: ``CubaLIF(tau_syn = dt/(1-alpha), w_in = 1/(1-alpha), tau_mem = dt/(1-beta),
  r = 1/(1-beta), v_leak = 0)``;
- ``RLeaky`` / ``RSynaptic``: the same neuron with a recurrent ``Linear`` on a back edge (last
  step's spikes, as snnTorch's ``recurrent(self.spk)``). snnTorch adds the recurrent layer's
  bias from the first step on, a back edge carries nothing in the first step, so that bias moves
  into the bias of the projection feeding the neuron (which then must be a Linear or Conv2d).

beta and alpha are clamped to [0, 1] as snnTorch does. Thresholds and decays may be shared
(scalars) or per neuron; the graph stores one value per neuron either way.

Resets (``v_reset = 0``; the graph's reset mode in our metadata, ``reset="subtract"`` or
``"zero"``: one per graph, so a model mixing both is refused):

- ``reset_delay=False``, ``"zero"``: exactly SEMANTICS.md.
- ``reset_delay=False``, ``"subtract"``: exactly SEMANTICS.md while ``v <= threshold`` after a
  reset; where a subtract reset leaves v above threshold, snnTorch tests the next step against
  ``v' - threshold`` (tests/reference/test_vs_snntorch.py pins this down). Not expressible in NIR;
  exported as the plain LIF (docs/frameworks.md states the condition).
- ``reset_delay=True`` (snnTorch's default), ``Leaky``, ``"zero"``: snnTorch zeroes the stored
  membrane at the start of the next step, before the decay: the same spikes as SEMANTICS.md's zero
  reset. Exact.
- ``reset_delay=True``, ``"subtract"``: snnTorch subtracts the threshold in the next step after
  the decay, ``mem[t+1] = beta*mem[t] + x - s[t]*thr``, where SEMANTICS.md's reset subtracts it
  before the decay. The difference is a kick ``-(1-beta)*thr*s[t]`` at step t+1, which NIR
  expresses exactly: for LIF a self-connection ``Scale`` on a back edge (merged into RLeaky's
  recurrent weights); for CubaLIF, whose input passes the synapse, that kick plus
  ``+alpha*(1-beta)*thr*s[t-1]`` through a one-step Delay, so that the synaptic current carries
  it for one step only. Exact (spike for spike); the graph gains nodes ``<name>.reset`` (and
  ``<name>.reset_delay``, ``<name>.reset2`` for CubaLIF).
- ``reset_delay=True``, ``"zero"``, ``Synaptic`` / ``RLeaky`` / ``RSynaptic``: snnTorch zeroes
  the membrane in the step after a spike *including that step's input*. No NIR graph computes
  that (it multiplies input by state). Refused with :class:`~nirbridge.UnsupportedError` naming
  the module, unless ``approximate=True``: then the closest graph (SEMANTICS.md's zero reset,
  which keeps that input) is exported with a :class:`SemanticsWarning`.
- ``RSynaptic`` with ``reset_delay=False`` raises TypeError inside snnTorch 1.0's forward, and
  its immediate-reset branch only changes a local variable: it runs as ``reset_delay=True``,
  and is exported as such.

``reset_mechanism="none"``, ``inhibition``, ``state_quant`` and graded spikes have no NIR form
and are refused by name.
"""

from __future__ import annotations

import warnings
from typing import Any

import nir
import numpy as np
import torch

from nirbridge._errors import UnsupportedError

from ..torch._layers import as_array as _np
from ..torch._layers import children, first_shape, layer_node, probe


class SemanticsWarning(UserWarning):
    """An export that changes what the model computes (only when asked for, by name)."""


class _Builder:
    def __init__(self, dt: float, approximate: bool) -> None:
        self.dt = dt
        self.approximate = approximate
        self.nodes: dict[str, nir.NIRNode] = {}
        self.edges: list[tuple[str, str]] = []
        self.reset: str | None = None
        self.reset_from: str | None = None

    def add(self, name: str, node: nir.NIRNode, src: str | None) -> str:
        self.nodes[name] = node
        if src is not None:
            self.edges.append((src, name))
        return name

    def set_reset(self, mode: str, name: str) -> None:
        if mode not in ("subtract", "zero"):
            raise UnsupportedError(
                f"reset_mechanism={mode!r} has no NIR form (a NIR neuron always resets); use "
                "'subtract' or 'zero'",
                node=name,
                target="snntorch",
            )
        if self.reset is None:
            self.reset, self.reset_from = mode, name
        elif self.reset != mode:
            raise UnsupportedError(
                f"reset_mechanism={mode!r}, but {self.reset_from!r} resets by {self.reset!r}: a "
                "graph has one reset mode (nirbridge metadata 'reset'); use one mechanism",
                node=name,
                target="snntorch",
            )


def _check_plain(module: Any, name: str) -> None:
    if getattr(module, "inhibition", False):
        raise UnsupportedError("inhibition has no NIR form", node=name, target="snntorch")
    if getattr(module, "state_quant", False) not in (None, False):
        raise UnsupportedError("state_quant has no NIR form", node=name, target="snntorch")
    factor = getattr(module, "graded_spikes_factor", 1.0)
    if not torch.all(torch.as_tensor(factor) == 1):
        raise UnsupportedError(
            "graded_spikes_factor != 1 has no NIR form (NIR spikes are 1)",
            node=name,
            target="snntorch",
        )


def export(
    model: torch.nn.Module,
    *,
    dt: float,
    input_shape: tuple[int, ...] | None = None,
    approximate: bool = False,
) -> nir.NIRGraph:
    """Export an snnTorch model (a ``torch.nn.Sequential``, possibly nested, of torch layers and
    snnTorch neurons) to a NIR graph; see the module docstring for what each layer becomes.

    Args:
        model: The model.
        dt: Time step in seconds the graph's time constants are written for.
        input_shape: Shape of one input sample (no batch, no time); default: the first layer's
            ``in_features``.
        approximate: Export the closest graph for resets NIR cannot express (with a
            :class:`SemanticsWarning`) instead of raising.

    Returns:
        ``(graph, reset)``: the graph and the reset mode it needs ("zero" when no neuron says).
    """
    import snntorch as snn

    layers = children(model)
    if input_shape is None:
        input_shape = first_shape(layers, "snntorch")
    b = _Builder(dt, approximate)
    shape = tuple(int(s) for s in input_shape)
    src = b.add("input", nir.Input(input_type={"input": np.array(shape)}), None)
    for name, m in layers:
        if isinstance(m, (snn.RLeaky, snn.RSynaptic, snn.Leaky, snn.Synaptic)):
            src = _neuron(b, name, m, src, shape)
            continue
        node = layer_node(m, name, shape, "snntorch")
        if node is None:
            continue
        shape = probe(m, shape)
        src = b.add(name, node, src)
    b.add("output", nir.Output(output_type={"output": np.array(shape)}), src)
    graph = nir.NIRGraph(nodes=b.nodes, edges=b.edges, type_check=False)
    return graph, b.reset or "zero"


def _neuron(b: _Builder, name: str, m: Any, src: str, shape: tuple[int, ...]) -> str:
    import snntorch as snn

    _check_plain(m, name)
    mechanism = {0: "subtract", 1: "zero", 2: "none"}[int(m.reset_mechanism_val)]
    b.set_reset(mechanism, name)
    recurrent = isinstance(m, (snn.RLeaky, snn.RSynaptic))
    synaptic = isinstance(m, (snn.Synaptic, snn.RSynaptic))
    # RSynaptic runs delayed whatever its flag says (see the module docstring)
    delayed = bool(m.reset_delay) or isinstance(m, snn.RSynaptic)
    beta = np.clip(_np(m.beta, shape), 0.0, 1.0)
    thr = _np(m.threshold, shape)
    kind = type(m).__name__
    if delayed and mechanism == "zero" and (recurrent or synaptic):
        message = (
            f"{kind} with reset_delay=True and reset 'zero' zeroes the membrane in the step after "
            "a spike together with that step's input, which no NIR graph computes"
        )
        if not b.approximate:
            raise UnsupportedError(
                message + "; build it with reset_delay=False (Synaptic, RLeaky) or pass "
                "approximate=True to export SEMANTICS.md's zero reset instead",
                node=name,
                target="snntorch",
            )
        warnings.warn(
            f"node {name!r}: {message}; exported SEMANTICS.md's zero reset (keeps that input)",
            SemanticsWarning,
            stacklevel=4,
        )
    dt = b.dt
    zeros = np.zeros(shape)
    if synaptic:
        alpha = np.clip(_np(m.alpha, shape), 0.0, 1.0)
        if (alpha >= 1).any() or (beta >= 1).any():
            raise UnsupportedError(
                "alpha or beta = 1 (no decay) has no CubaLIF form (tau would be infinite)",
                node=name,
                target="snntorch",
            )
        node = nir.CubaLIF(
            tau_syn=dt / (1 - alpha),
            tau_mem=dt / (1 - beta),
            r=1 / (1 - beta),
            v_leak=zeros,
            v_threshold=thr,
            v_reset=zeros.copy(),
            w_in=1 / (1 - alpha),
        )
    elif (beta >= 1).all():
        node = nir.IF(r=np.full(shape, 1 / dt), v_threshold=thr, v_reset=zeros)
    elif (beta >= 1).any():
        raise UnsupportedError(
            "beta = 1 for some neurons and < 1 for others: neither LIF nor IF",
            node=name,
            target="snntorch",
        )
    else:
        node = nir.LIF(
            tau=dt / (1 - beta), r=1 / (1 - beta), v_leak=zeros, v_threshold=thr, v_reset=zeros
        )
    b.add(name, node, src)
    # the delayed subtract kick (module docstring), in the neuron's input units (a*r = 1)
    kick = -(1 - beta) * thr if delayed and mechanism == "subtract" else zeros
    w_self = np.diag(kick.reshape(-1))
    if recurrent:
        if not m.all_to_all:
            w_rec, b_rec = np.diag(_np(m.recurrent.V, shape).reshape(-1)), None
        elif isinstance(m.recurrent, torch.nn.Linear):
            w_rec = m.recurrent.weight.detach().to(torch.float64).numpy()
            b_rec = (
                None
                if m.recurrent.bias is None
                else m.recurrent.bias.detach().to(torch.float64).numpy()
            )
        else:
            raise UnsupportedError(
                f"{kind} with a convolutional recurrent layer is not mapped yet",
                node=name,
                target="snntorch",
            )
        if len(shape) != 1:
            raise UnsupportedError(f"{kind} on shape {shape}: expected 1-D", node=name)
        if b_rec is not None and np.any(b_rec != 0):
            _fold_bias(b, src, name, b_rec)
        b.add(f"{name}.rec", nir.Linear(weight=w_rec + w_self), name)
        b.edges.append((f"{name}.rec", name))
    elif np.any(kick != 0):
        b.add(f"{name}.reset", nir.Scale(scale=kick), name)
        b.edges.append((f"{name}.reset", name))
    if synaptic and np.any(kick != 0):
        b.add(f"{name}.reset_delay", nir.Delay(delay=np.full(shape, dt)), name)
        b.add(f"{name}.reset2", nir.Scale(scale=-alpha * kick), f"{name}.reset_delay")
        b.edges.append((f"{name}.reset2", name))
    return name


def _fold_bias(b: _Builder, src: str, name: str, bias: np.ndarray) -> None:
    """snnTorch adds a recurrent layer's bias from step one, a back edge does not: add it to the
    bias of the projection feeding the neuron instead."""
    node = b.nodes[src]
    if isinstance(node, nir.Affine):
        b.nodes[src] = nir.Affine(weight=node.weight, bias=node.bias + bias)
    elif isinstance(node, nir.Linear):
        b.nodes[src] = nir.Affine(weight=node.weight, bias=bias.copy())
    else:
        raise UnsupportedError(
            "the recurrent layer's bias acts from the first step, which a NIR back edge cannot "
            f"carry, and the node feeding {name!r} ({type(node).__name__}) has no bias to hold "
            "it; put a Linear before the neuron or build the recurrent layer without bias",
            node=name,
            target="snntorch",
        )
