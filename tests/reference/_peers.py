"""A :class:`~tests.reference._nets.Net` rebuilt from a peer's own neurons: snnTorch modules or
Norse step functions, each configured to SEMANTICS.md's euler step (the test modules
test_vs_snntorch.py and test_vs_norse.py say why each configuration is that step).

Both step their own time loop: projections from the layer below act on this step's spikes,
recurrent and feedback projections on last step's, and those (biases included) carry nothing
in the first step, as SEMANTICS.md's back edges do. Everything is float64.
"""

from __future__ import annotations

import importlib

import numpy as np

from ._nets import Net

Result = tuple[list[np.ndarray], list[dict[str, np.ndarray]]]


def _tensors(torch, params: dict[str, np.ndarray]) -> dict:
    return {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in params.items()}


class _Loop:
    """The time loop both peers share; subclasses give ``_project`` and ``_neuron``."""

    net: Net

    def __init__(self, net: Net, torch) -> None:
        self.net, self.torch = net, torch

    def _project(self, k: int, j: int, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _neuron(self, k: int, current, state: dict) -> tuple[object, dict]:  # pragma: no cover
        raise NotImplementedError

    def run(self, x: np.ndarray) -> Result:
        """Spikes ``(T, B, n)`` and states after reset (``"v"``, and ``"i"`` for CubaLIF) of
        every layer, for input spikes ``x`` of shape ``(T, B, n_in)``."""
        torch = self.torch
        steps, batch, _ = x.shape
        xs = torch.from_numpy(np.asarray(x, dtype=np.float64))
        layers = self.net.layers
        sources = [[src for _, _, src in self.net.projections(k)] for k in range(len(layers))]
        z = [torch.zeros(batch, layer.n, dtype=torch.float64) for layer in layers]
        state = [{"v": torch.zeros_like(zk), "i": torch.zeros_like(zk)} for zk in z]
        spikes = [np.zeros((steps, batch, layer.n)) for layer in layers]
        states = [
            {"v": np.zeros((steps, batch, layer.n)), "i": np.zeros((steps, batch, layer.n))}
            for layer in layers
        ]
        with torch.no_grad():
            for t in range(steps):
                below = xs[t]
                new_z = []
                for k in range(len(layers)):
                    current = None
                    for j, source in enumerate(sources[k]):
                        if source != "below" and t == 0:
                            continue  # a back edge carries zero in the first step, bias too
                        term = self._project(k, j, below if source == "below" else z[source])
                        current = term if current is None else current + term
                    spk, new_state = self._neuron(k, current, state[k])
                    spk = spk.to(torch.float64)
                    state[k].update(new_state)
                    for name, value in new_state.items():
                        states[k][name][t] = value.numpy()
                    spikes[k][t] = spk.numpy()
                    new_z.append(spk)
                    below = spk
                z = new_z
        return spikes, states


class SnnTorchNet(_Loop):
    """``net`` from snnTorch modules: ``torch.nn.Linear`` projections and ``snn.Leaky`` neurons.

    - LIF: ``Leaky(beta=1 - dt/tau, reset_delay=False)`` fed ``(dt/tau) * r * I``;
    - IF: ``Leaky(beta=1, reset_delay=False)`` fed ``dt * r * I``;
    - CubaLIF: ``Leaky(beta=1 - dt/tau_syn, reset_mechanism="none")`` (the synaptic current)
      fed ``(dt/tau_syn) * w_in * I``, then the membrane Leaky fed ``(dt/tau_mem) * r * i``.

    Needs ``v_leak = 0`` (and ``v_reset = 0`` for reset "zero"): snnTorch's Leaky has neither.

    With ``explicit_subtract`` the membrane Leaky runs with ``reset_mechanism="none"`` (snnTorch
    integrates and fires, through ``Leaky.fire``) and the loop subtracts the threshold from
    spiking neurons itself; that sidesteps snnTorch's own subtract bookkeeping, which differs
    from SEMANTICS.md when v stays above threshold after a reset (see test_vs_snntorch.py).
    """

    def __init__(
        self, net: Net, snn, torch, *, dt: float, reset: str, explicit_subtract: bool = False
    ) -> None:
        super().__init__(net, torch)
        self.explicit = explicit_subtract and reset == "subtract"
        mechanism = "none" if self.explicit else reset
        f64 = torch.float64
        self.linears = []
        self.neurons = []
        for k, layer in enumerate(net.layers):
            linears = []
            for w, b, _ in net.projections(k):
                lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None, dtype=f64)
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(w))
                    if b is not None:
                        lin.bias.copy_(torch.from_numpy(b))
                linears.append(lin)
            self.linears.append(linears)
            p = _tensors(torch, layer.params)
            thr = p["v_threshold"]

            def membrane(beta, thr=thr):
                return snn.Leaky(
                    beta=beta, threshold=thr, reset_mechanism=mechanism, reset_delay=False
                )

            if layer.kind == "IF":
                self.neurons.append((membrane(torch.ones_like(thr)), dt * p["r"], None, None))
            elif layer.kind == "LIF":
                a = dt / p["tau"]
                self.neurons.append((membrane(1 - a), a * p["r"], None, None))
            else:
                a_syn = dt / p["tau_syn"]
                a_mem = dt / p["tau_mem"]
                syn = snn.Leaky(
                    beta=1 - a_syn,
                    threshold=torch.full_like(thr, np.inf),
                    reset_mechanism="none",
                )
                self.neurons.append((membrane(1 - a_mem), a_mem * p["r"], syn, a_syn * p["w_in"]))

    def _project(self, k: int, j: int, x):
        return self.linears[k][j](x)

    def _neuron(self, k: int, current, state: dict):
        mem, gain, syn, syn_gain = self.neurons[k]
        out = {}
        if syn is not None:
            _, i = syn(syn_gain * current, state["i"])
            out["i"] = i
            current = i
        spk, v = mem(gain * current, state["v"])
        if self.explicit:
            v = v - spk.to(v.dtype) * mem.threshold
        out["v"] = v
        return spk, out


class NorseNet(_Loop):
    """``net`` stepped with Norse's functional API (``torch.nn.functional.linear`` projections).

    - LIF: ``lif_box.lif_box_feed_forward_step`` (``tau_mem_inv = 1/tau``, v_leak, v_th,
      v_reset, ``reset_subtract`` or ``reset_value``) fed ``r * I``;
    - IF, reset "zero": ``iaf.iaf_feed_forward_step`` fed ``dt * r * I``;
    - IF, reset "subtract" (Norse has no such neuron): ``v' = v + dt*r*I``, then Norse's
      ``threshold.threshold`` and ``reset.reset_subtract``;
    - CubaLIF: ``leaky_integrator_box.li_box_feed_forward_step`` (``tau_mem_inv = 1/tau_syn``,
      ``v_leak = 0``) fed ``w_in * I`` as the current, then the box LIF fed ``r * i``.
    ``dt`` is passed to every step explicitly.
    """

    def __init__(self, net: Net, torch, *, dt: float, reset: str) -> None:
        super().__init__(net, torch)
        self.dt, self.reset = dt, reset
        fn = "norse.torch.functional."
        self.lif_box = importlib.import_module(fn + "lif_box")
        self.li_box = importlib.import_module(fn + "leaky_integrator_box")
        self.iaf = importlib.import_module(fn + "iaf")
        self.resets = importlib.import_module(fn + "reset")
        self.threshold = importlib.import_module(fn + "threshold").threshold
        reset_method = (
            self.resets.reset_subtract if reset == "subtract" else self.resets.reset_value
        )
        self.weights = [
            [
                (torch.from_numpy(w), None if b is None else torch.from_numpy(b))
                for w, b, _ in net.projections(k)
            ]
            for k in range(len(net.layers))
        ]
        self.params = []
        for layer in net.layers:
            p = _tensors(torch, layer.params)
            if layer.kind == "IF":
                iaf_p = self.iaf.IAFParameters(
                    v_th=p["v_threshold"], v_reset=p["v_reset"], method="heaviside"
                )
                self.params.append((p, iaf_p, None))
                continue
            tau_mem = p["tau"] if layer.kind == "LIF" else p["tau_mem"]
            lif = self.lif_box.LIFBoxParameters(
                tau_mem_inv=1.0 / tau_mem,
                v_leak=p["v_leak"],
                v_th=p["v_threshold"],
                v_reset=p["v_reset"],
                method="heaviside",
                reset_method=reset_method,
            )
            syn = None
            if layer.kind == "CubaLIF":
                syn = self.li_box.LIBoxParameters(
                    tau_mem_inv=1.0 / p["tau_syn"], v_leak=torch.zeros_like(p["tau_syn"])
                )
            self.params.append((p, lif, syn))

    def _project(self, k: int, j: int, x):
        w, b = self.weights[k][j]
        return self.torch.nn.functional.linear(x, w, b)

    def _neuron(self, k: int, current, state: dict):
        layer = self.net.layers[k]
        p, neuron, syn = self.params[k]
        dt = self.dt
        if layer.kind == "IF":
            drive = dt * p["r"] * current
            if self.reset == "zero":
                z, s = self.iaf.iaf_feed_forward_step(
                    drive, self.iaf.IAFFeedForwardState(v=state["v"]), neuron, dt=dt
                )
                return z, {"v": s.v}
            v_new = state["v"] + drive
            z = self.threshold(v_new - p["v_threshold"], "heaviside", 0.0)
            return z, {"v": self.resets.reset_subtract(z, v_new, p["v_reset"], p["v_threshold"])}
        out = {}
        if layer.kind == "CubaLIF":
            i, s = self.li_box.li_box_feed_forward_step(
                p["w_in"] * current, self.li_box.LIBoxState(v=state["i"]), syn, dt=dt
            )
            out["i"] = s.v
            current = i
        z, s = self.lif_box.lif_box_feed_forward_step(
            p["r"] * current, self.lif_box.LIFBoxFeedForwardState(v=state["v"]), neuron, dt=dt
        )
        out["v"] = s.v
        return z, out
