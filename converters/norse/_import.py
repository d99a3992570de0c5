"""NIR -> Norse: a :class:`~nirbridge.converters.torch.GraphExecutor` whose neurons step Norse's
functional API, configured to SEMANTICS.md's euler step (``dt`` passed to every step).

- LIF: ``lif_box_feed_forward_step`` (``tau_mem_inv = 1/tau``, v_leak, v_th, v_reset,
  ``reset_value`` or ``reset_subtract``) fed ``r*I`` (Norse 1.1.0's own importer ignores r).
- LI: ``li_box_feed_forward_step`` (``tau_mem_inv = 1/tau``, v_leak) fed ``r*I``.
- IF, reset "zero": ``iaf_feed_forward_step`` fed ``dt*r*I``; reset "subtract" (Norse's IAF has
  none): ``v' = v + dt*r*I``, then Norse's ``threshold`` and ``reset_subtract``. I: ``v + dt*r*I``.
- CubaLIF / CubaLI: ``li_box_feed_forward_step`` for the current (``tau_mem_inv = 1/tau_syn``,
  ``v_leak = 0``) fed ``w_in*I``, then the box LIF / LI fed ``r*i``.

(Norse's ``LIFCell`` is the same CubaLIF, see :mod:`._export`; the box form is used here because
it keeps ``w_in`` and ``r`` explicit.)
"""

from __future__ import annotations

import importlib

import torch

from ..torch import LINEAR_MAP, BuildContext, StepModule

_FN = "norse.torch.functional."


class NorseNeuron(StepModule):
    """One NIR neuron node stepped with Norse's functional API (see the module docstring)."""

    def __init__(self, kind: str, params: dict[str, torch.Tensor], *, dt: float, reset: str):
        super().__init__()
        self.kind, self.dt, self.reset = kind, dt, reset
        for k, v in params.items():
            self.register_buffer(k, v)
        self._lif_box = importlib.import_module(_FN + "lif_box")
        self._li_box = importlib.import_module(_FN + "leaky_integrator_box")
        self._iaf = importlib.import_module(_FN + "iaf")
        self._resets = importlib.import_module(_FN + "reset")
        self._threshold = importlib.import_module(_FN + "threshold").threshold
        reset_method = (
            self._resets.reset_subtract if reset == "subtract" else self._resets.reset_value
        )
        self.states = ("i", "v") if kind.startswith("Cuba") else ("v",)
        p = params
        if kind in ("LIF", "CubaLIF"):
            self.p = self._lif_box.LIFBoxParameters(
                tau_mem_inv=1.0 / p["tau_mem"],
                v_leak=p["v_leak"],
                v_th=p["v_threshold"],
                v_reset=p["v_reset"],
                method="heaviside",
                reset_method=reset_method,
            )
        elif kind in ("LI", "CubaLI"):
            self.p = self._li_box.LIBoxParameters(
                tau_mem_inv=1.0 / p["tau_mem"], v_leak=p["v_leak"]
            )
        elif kind == "IF":
            self.p = self._iaf.IAFParameters(
                v_th=p["v_threshold"], v_reset=p["v_reset"], method="heaviside"
            )
        if kind.startswith("Cuba"):
            self.p_syn = self._li_box.LIBoxParameters(
                tau_mem_inv=1.0 / p["tau_syn"], v_leak=torch.zeros_like(p["tau_syn"])
            )

    def forward(self, x, state):
        dt = self.dt
        out = {}
        if self.kind.startswith("Cuba"):
            i, s = self._li_box.li_box_feed_forward_step(
                self.w_in * x, self._li_box.LIBoxState(v=state["i"]), self.p_syn, dt=dt
            )
            out["i"] = s.v
            x = i
        if self.kind in ("I", "IF"):
            drive = dt * self.r * x
            if self.kind == "I":
                v = state["v"] + drive
                return v, {"v": v}
            if self.reset == "zero":
                z, s = self._iaf.iaf_feed_forward_step(
                    drive, self._iaf.IAFFeedForwardState(v=state["v"]), self.p, dt=dt
                )
                return z, {"v": s.v}
            v_new = state["v"] + drive
            z = self._threshold(v_new - self.v_threshold, "heaviside", 0.0)
            v = self._resets.reset_subtract(z, v_new, self.v_reset, self.v_threshold)
            return z, {"v": v}
        if self.kind in ("LI", "CubaLI"):
            v, s = self._li_box.li_box_feed_forward_step(
                self.r * x, self._li_box.LIBoxState(v=state["v"]), self.p, dt=dt
            )
            out["v"] = s.v
            return v, out
        z, s = self._lif_box.lif_box_feed_forward_step(
            self.r * x, self._lif_box.LIFBoxFeedForwardState(v=state["v"]), self.p, dt=dt
        )
        out["v"] = s.v
        return z, out


def _neuron(name, node, ctx: BuildContext) -> NorseNeuron:
    kind = type(node).__name__
    shape = ctx.shapes[name]
    params = {"r": ctx.tensor(node.r, shape)}
    if kind in ("LIF", "LI"):
        params["tau_mem"] = ctx.tensor(node.tau, shape)
    if kind in ("CubaLIF", "CubaLI"):
        params["tau_mem"] = ctx.tensor(node.tau_mem, shape)
        params["tau_syn"] = ctx.tensor(node.tau_syn, shape)
        w_in = getattr(node, "w_in", None)
        params["w_in"] = ctx.tensor(1.0 if w_in is None else w_in, shape)
    if kind not in ("I", "IF"):
        params["v_leak"] = ctx.tensor(node.v_leak, shape)
    if kind in ("IF", "LIF", "CubaLIF"):
        params["v_threshold"] = ctx.tensor(node.v_threshold, shape)
        v_reset = getattr(node, "v_reset", None)
        params["v_reset"] = ctx.tensor(0.0 if v_reset is None else v_reset, shape)
    return NorseNeuron(kind, params, dt=ctx.dt, reset=ctx.reset)


#: NIR type -> builder; copy and override entries to map a node differently.
NODE_MAP = dict(LINEAR_MAP)
NODE_MAP.update({k: _neuron for k in ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF")})
