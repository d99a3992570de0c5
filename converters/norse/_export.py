"""Norse -> NIR, with what each Norse cell computes written out in SEMANTICS.md's terms.

Norse's time constants are inverse seconds (``tau_mem_inv`` = 1/tau) and its cells step with the
module's ``dt``, which must equal the ``dt`` asked for. Norse 1.1.0's own exporter writes
``tau = dt/tau_inv`` (a factor dt off), ``r = 1`` whatever the cell, and drops ``w_in``; here:

- ``LIFBoxCell``: ``v' = v + dt*tau_mem_inv*(v_leak - v + I)``, i.e. SEMANTICS.md's euler
  ``LIF(tau = 1/tau_mem_inv, r = 1, v_leak, v_threshold = v_th, v_reset)``; reset mode from
  ``p.reset_method`` (``reset_value``: "zero", ``reset_subtract``: "subtract").
- ``LIBoxCell``: ``LI(tau = 1/tau_mem_inv, r = 1, v_leak)``.
- ``IAFCell``: ``v' = v + I`` (dt unused), so ``IF(r = 1/dt, v_threshold = v_th, v_reset)``,
  reset "zero".
- ``LIFCell`` (current based): Norse first jumps the current ``j = i + I``, integrates
  ``v' = v + dt*tau_mem_inv*(v_leak - v + j)`` and stores ``i = (1 - dt*tau_syn_inv)*j``. So
  ``j[t] = (1 - a_syn)*j[t-1] + I[t]``: SEMANTICS.md's euler CubaLIF with
  ``tau_syn = 1/tau_syn_inv``, ``w_in = 1/(dt*tau_syn_inv)`` (then ``a_syn*w_in = 1``),
  ``tau_mem = 1/tau_mem_inv``, ``r = 1``; reset "zero" to v_reset. Exact.
- ``LICell``: the same without threshold: ``CubaLI``.

Norse starts its cells at ``v = v_leak`` (IAFCell: ``v = v_reset``), SEMANTICS.md at zero: the
exporter stores those starting values as the graph's ``initial_state`` metadata, which the
reference simulator and nirbridge's importers apply.

- ``LIFRecurrentCell``: ``i += W_in x + W_rec z[t-1]``, then as ``LIFCell``: ``<name>.in``
  (``Linear(W_in)``) -> the CubaLIF -> ``<name>.rec`` (``Linear(W_rec)``) on a back edge, which
  carries last step's spikes (none in the first step, as Norse's zero initial z). Exact.

Torch layers (Linear, Conv2d, AvgPool2d, Flatten) map as in :mod:`..torch._layers`. Other
recurrent Norse cells are not mapped yet.
"""

from __future__ import annotations

from typing import Any

import nir
import numpy as np
import torch

from nirbridge._errors import UnsupportedError

from ..torch._layers import as_array, children, first_shape, layer_node, probe


def _reset_of(cell: Any) -> str:
    from norse.torch.functional import reset

    method = getattr(cell.p, "reset_method", reset.reset_value)
    if method is reset.reset_subtract:
        return "subtract"
    if method is reset.reset_value:
        return "zero"
    raise UnsupportedError(f"unknown reset_method {method!r}", target="norse")


def _cell_node(cell: Any, name: str, shape: tuple[int, ...], dt: float):
    """(node, reset mode or None, initial state) of a Norse cell."""
    import norse.torch as norse

    cells = (norse.LIFBoxCell, norse.LIBoxCell, norse.IAFCell, norse.LIFCell, norse.LICell)
    if not isinstance(cell, cells):
        return None, None, {}
    p = cell.p
    cell_dt = float(getattr(cell, "dt", dt))
    if not isinstance(cell, norse.IAFCell) and not np.isclose(cell_dt, dt, rtol=1e-12, atol=0):
        raise UnsupportedError(
            f"the cell steps with dt = {cell_dt} s, but dt = {dt} s was asked for",
            node=name,
            target="norse",
        )

    def a(value):
        return as_array(value, shape)

    if isinstance(cell, norse.LIFBoxCell):
        node = nir.LIF(
            tau=1.0 / a(p.tau_mem_inv),
            r=np.ones(shape),
            v_leak=a(p.v_leak),
            v_threshold=a(p.v_th),
            v_reset=a(p.v_reset),
        )
        return node, _reset_of(cell), {"v": a(p.v_leak)}
    if isinstance(cell, norse.LIBoxCell):
        node = nir.LI(tau=1.0 / a(p.tau_mem_inv), r=np.ones(shape), v_leak=a(p.v_leak))
        return node, None, {"v": a(p.v_leak)}
    if isinstance(cell, norse.IAFCell):
        node = nir.IF(r=np.full(shape, 1.0 / dt), v_threshold=a(p.v_th), v_reset=a(p.v_reset))
        return node, "zero", {"v": a(p.v_reset)}
    if isinstance(cell, (norse.LIFCell, norse.LICell)):
        syn_inv = a(p.tau_syn_inv)
        common = {
            "tau_syn": 1.0 / syn_inv,
            "tau_mem": 1.0 / a(p.tau_mem_inv),
            "r": np.ones(shape),
            "v_leak": a(p.v_leak),
            "w_in": 1.0 / (dt * syn_inv),
        }
        if isinstance(cell, norse.LICell):
            return nir.CubaLI(**common), None, {"v": a(p.v_leak)}
        node = nir.CubaLIF(**common, v_threshold=a(p.v_th), v_reset=a(p.v_reset))
        return node, "zero", {"v": a(p.v_leak)}
    return None, None, {}  # pragma: no cover - the types are checked above


def export(
    model: torch.nn.Module, *, dt: float, input_shape: tuple[int, ...] | None = None
) -> tuple[nir.NIRGraph, str]:
    """Export a Norse model (a ``torch.nn.Sequential`` or ``norse.torch.SequentialState`` of
    torch layers and Norse cells) to a NIR graph; see the module docstring.

    Returns:
        ``(graph, reset, initial_state)``: the graph, its reset mode ("zero" when no cell
        says) and the initial state Norse starts its cells in (v = v_leak; IAF: v = v_reset),
        for the graph's metadata (SEMANTICS.md starts at zero otherwise).
    """
    layers = children(model) if not _is_seqstate(model) else list(model.named_children())
    if input_shape is None:
        input_shape = first_shape(layers, "norse")
    shape = tuple(int(s) for s in input_shape)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array(shape)})}
    edges: list[tuple[str, str]] = []
    src = "input"
    reset: str | None = None
    reset_from = None
    initial: dict[str, dict[str, np.ndarray]] = {}
    for name, m in layers:
        import norse.torch as norse

        if isinstance(m, norse.LIFRecurrentCell):
            # i += W_in x + W_rec z[t-1]: a Linear in front, a Linear on a back edge
            w_in = as_array(m.input_weights)
            nodes[f"{name}.in"] = nir.Linear(weight=w_in)
            edges.append((src, f"{name}.in"))
            src, shape = f"{name}.in", (w_in.shape[0],)
            cell = norse.LIFCell(m.p, dt=m.dt)
            node, mode, start = _cell_node(cell, name, shape, dt)
            nodes[f"{name}.rec"] = nir.Linear(weight=as_array(m.recurrent_weights))
            edges += [(name, f"{name}.rec"), (f"{name}.rec", name)]
        else:
            node, mode, start = _cell_node(m, name, shape, dt)
        start = {k: v for k, v in start.items() if np.any(v != 0)}
        if start:
            initial[name] = start
        if node is None:
            if type(m).__module__.startswith("norse"):
                raise UnsupportedError(
                    f"no NIR map for Norse {type(m).__name__} (mapped: LIFBoxCell, LIBoxCell, "
                    "IAFCell, LIFCell, LICell, LIFRecurrentCell)",
                    node=name,
                    target="norse",
                )
            node = layer_node(m, name, shape, "norse")
            if node is None:
                continue
            shape = probe(m, shape)
        elif mode is not None:
            if reset is not None and mode != reset:
                raise UnsupportedError(
                    f"resets by {mode!r}, but {reset_from!r} by {reset!r}: a graph has one reset "
                    "mode",
                    node=name,
                    target="norse",
                )
            reset, reset_from = mode, name
        nodes[name] = node
        edges.append((src, name))
        src = name
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    edges.append((src, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    return graph, reset or "zero", initial


def _is_seqstate(model: torch.nn.Module) -> bool:
    try:
        from norse.torch import SequentialState
    except ImportError:  # pragma: no cover - norse is there whenever this runs
        return False
    return isinstance(model, SequentialState)
