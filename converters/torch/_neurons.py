"""SEMANTICS.md's neurons as plain PyTorch modules (euler step), for the "torch" target.

Each module is ``forward(x, state=None) -> (output, state)`` (nirtorch's stateful convention;
``state`` a dict of tensors, zeros when None) and holds its NIR node's parameters as buffers
of one value per neuron; ``to_nir()`` gives the node back.

- LI: ``v = v + a*(v_leak - v + r*x)``, ``a = dt/tau``; output v.   I: ``v = v + dt*r*x``.
- LIF / IF: the same, then ``z = v > v_threshold`` and reset (subtract or to v_reset); output z.
- CubaLI / CubaLIF: first ``i = i + a_syn*(-i + w_in*x)``, then LI / LIF with input i.
"""

from __future__ import annotations

import nir
import numpy as np
import torch

_FIELDS = {
    "I": ("r",),
    "IF": ("r", "v_threshold", "v_reset"),
    "LI": ("tau", "r", "v_leak"),
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
}
_DEFAULTS = {"v_reset": 0.0, "w_in": 1.0}


class Neuron(torch.nn.Module):
    """One NIR neuron node of SEMANTICS.md, euler, in plain PyTorch.

    Args:
        kind: "I", "IF", "LI", "LIF", "CubaLI" or "CubaLIF".
        params: The node's parameters (time constants in seconds), one value per neuron.
        dt: Time step in seconds.
        reset: "subtract" or "zero" (to v_reset).
    """

    def __init__(
        self, kind: str, params: dict[str, torch.Tensor], *, dt: float, reset: str
    ) -> None:
        super().__init__()
        if kind not in _FIELDS:
            raise TypeError(f"not a neuron type: {kind}")
        self.kind, self.dt, self.reset = kind, float(dt), reset
        for name in _FIELDS[kind]:
            self.register_buffer(name, params[name])
        self.spiking = kind in ("IF", "LIF", "CubaLIF")

    @classmethod
    def from_node(
        cls, node: nir.NIRNode, shape: tuple[int, ...], *, dt: float, reset: str, dtype
    ) -> Neuron:
        kind = type(node).__name__
        params = {}
        for name in _FIELDS[kind]:
            value = getattr(node, name, None)
            value = _DEFAULTS[name] if value is None else value
            arr = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
            params[name] = torch.as_tensor(arr, dtype=dtype)
        return cls(kind, params, dt=dt, reset=reset)

    def to_nir(self) -> nir.NIRNode:
        values = {
            k: getattr(self, k).detach().cpu().to(torch.float64).numpy() for k in _FIELDS[self.kind]
        }
        return getattr(nir, self.kind)(**values)

    def forward(self, x, state=None):
        if state is None:
            state = {"v": torch.zeros_like(x)}
            if self.kind.startswith("Cuba"):
                state["i"] = torch.zeros_like(x)
        out = {}
        if self.kind.startswith("Cuba"):
            a_syn = self.dt / self.tau_syn
            i = state["i"] + a_syn * (-state["i"] + self.w_in * x)
            out["i"] = i
            x = i
        v = state["v"]
        if self.kind in ("I", "IF"):
            v = v + self.dt * self.r * x
        else:
            tau = self.tau if self.kind in ("LI", "LIF") else self.tau_mem
            v = v + (self.dt / tau) * (self.v_leak - v + self.r * x)
        if not self.spiking:
            out["v"] = v
            return v, out
        z = (v > self.v_threshold).to(v.dtype)
        if self.reset == "subtract":
            v = v - z * self.v_threshold
        else:
            v = torch.where(z > 0, self.v_reset, v)
        out["v"] = v
        return z, out
