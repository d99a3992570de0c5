"""NIR -> snnTorch: a :class:`~nirbridge.converters.torch.GraphExecutor` whose neurons are
snnTorch ``Leaky`` modules configured to SEMANTICS.md's euler step.

``snn.Leaky(beta, threshold, reset_delay=False)`` computes ``mem' = beta*mem + input``, spikes on
``mem' > threshold`` and resets at once. For a NIR neuron with ``a = dt/tau`` we track
``u = v - s`` (``s = v_reset`` under reset "zero", else 0) and feed the Leaky
``a*r*I + a*(v_leak - s)``: then ``u' = (1-a)*u + a*r*I + a*(v_leak - s)`` is SEMANTICS.md's
``v'`` shifted by s, the threshold is ``v_threshold - s`` and snnTorch's reset to zero is the reset
to ``v_reset``. Under reset "subtract" the Leaky runs with ``reset_mechanism="none"`` and the
module subtracts the threshold from spiking neurons itself: snnTorch's own subtract bookkeeping
differs from SEMANTICS.md when v stays above threshold after a reset
(tests/reference/test_vs_snntorch.py).

- LIF / LI: one Leaky, ``beta = 1 - dt/tau`` (LI: no reset, the output is v).
- IF / I: one Leaky with ``beta = 1`` fed ``dt*r*I``.
- CubaLIF / CubaLI: a Leaky with no reset for the synaptic current (``beta = 1 - dt/tau_syn``,
  fed ``(dt/tau_syn)*w_in*I``), then the membrane Leaky fed ``(dt/tau_mem)*r*i``.

Recurrence stays in the graph (back edges), so RLeaky / RSynaptic are not needed: their default
delayed reset is not SEMANTICS.md's. Needs ``dt <= tau`` (snnTorch clamps beta to [0, 1]).
"""

from __future__ import annotations

import numpy as np
import torch

from nirbridge._errors import UnsupportedError

from ..torch import LINEAR_MAP, BuildContext, StepModule


def _heaviside(x: torch.Tensor) -> torch.Tensor:
    return (x > 0).to(x.dtype)


class SnnNeuron(StepModule):
    """One NIR neuron node as snnTorch Leaky modules (see the module docstring).

    Attributes:
        membrane: The membrane ``snn.Leaky``.
        synapse: The synaptic-current ``snn.Leaky`` (CubaLIF / CubaLI), else None.
    """

    def __init__(
        self,
        *,
        beta: torch.Tensor,
        gain: torch.Tensor,
        bias: torch.Tensor,
        threshold: torch.Tensor | None,
        offset: torch.Tensor,
        reset: str,
        syn_beta: torch.Tensor | None = None,
        syn_gain: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        import snntorch as snn

        self.spiking = threshold is not None
        self.subtract = reset == "subtract"
        mechanism = "zero" if self.spiking and not self.subtract else "none"
        thr = threshold - offset if self.spiking else torch.full_like(beta, np.inf)
        self.membrane = snn.Leaky(
            beta=beta,
            threshold=thr,
            spike_grad=_heaviside,
            reset_mechanism=mechanism,
            reset_delay=False,
        )
        self.synapse = None
        if syn_beta is not None:
            self.synapse = snn.Leaky(
                beta=syn_beta,
                threshold=torch.full_like(syn_beta, np.inf),
                spike_grad=_heaviside,
                reset_mechanism="none",
                reset_delay=False,
            )
            self.register_buffer("syn_gain", syn_gain)
        self.register_buffer("gain", gain)
        self.register_buffer("bias", bias)
        self.register_buffer("offset", offset)
        self.states = ("i", "v") if syn_beta is not None else ("v",)

    def init_state(self, like):
        state = {s: torch.zeros_like(like) for s in self.states}
        state["v"] = state["v"] - self.offset  # u = v - offset starts where v = 0
        return state

    def forward(self, x, state):
        out = {}
        if self.synapse is not None:
            _, i = self.synapse(self.syn_gain * x, state["i"])
            out["i"] = i
            x = i
        spk, u = self.membrane(self.gain * x + self.bias, state["v"])
        spk = spk.to(u.dtype)
        if self.spiking and self.subtract:
            u = u - spk.detach() * self.membrane.threshold
        out["v"] = u
        return (spk if self.spiking else u + self.offset), out


def _neuron(name, node, ctx: BuildContext) -> SnnNeuron:
    kind = type(node).__name__
    shape = ctx.shapes[name]
    t = ctx.tensor
    dt = ctx.dt
    spiking = kind in ("IF", "LIF", "CubaLIF")
    thr = t(node.v_threshold, shape) if spiking else None
    v_reset = getattr(node, "v_reset", None)
    zero = np.zeros(shape)
    offset = t(v_reset if (spiking and ctx.reset == "zero" and v_reset is not None) else 0.0, shape)
    r = t(node.r, shape)
    kw = {}
    if kind in ("IF", "I"):
        beta, gain, bias = torch.ones(shape, dtype=ctx.dtype), dt * r, t(zero)
    else:
        tau = node.tau if kind in ("LIF", "LI") else node.tau_mem
        a = dt / t(tau, shape)
        if (a > 1).any():
            raise UnsupportedError(
                f"dt = {dt} s exceeds a membrane time constant: snnTorch clamps beta = 1 - dt/tau "
                "to [0, 1]",
                node=name,
                target="snntorch",
            )
        beta, gain, bias = 1 - a, a * r, a * (t(node.v_leak, shape) - offset)
        if kind in ("CubaLIF", "CubaLI"):
            a_syn = dt / t(node.tau_syn, shape)
            w_in = t(1.0 if getattr(node, "w_in", None) is None else node.w_in, shape)
            if (a_syn > 1).any():
                raise UnsupportedError(f"dt = {dt} s exceeds tau_syn", node=name, target="snntorch")
            kw = {"syn_beta": 1 - a_syn, "syn_gain": a_syn * w_in}
    return SnnNeuron(
        beta=beta, gain=gain, bias=bias, threshold=thr, offset=offset, reset=ctx.reset, **kw
    )


#: NIR type -> builder; copy and override entries to map a node differently.
NODE_MAP = dict(LINEAR_MAP)
NODE_MAP.update({k: _neuron for k in ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF")})
