"""What one trainable layer computes, as plain data: the contract every training engine keeps.

Every engine (surrogate-gradient BPTT on the fused kernels, EventProp, e-prop) computes these
equations, which are SEMANTICS.md's euler step with the input gain chosen so that a weight is
the jump it causes (``r = tau_mem/dt``, ``w_in = tau_syn/dt``). A trained layer therefore
exports to NIR unchanged and runs identically on :mod:`nirbridge.reference`.

Shapes: inputs ``x`` are ``(T, B, n_in)`` (time first), weights ``(n_out, n_in)``, recurrent
weights ``(n_out, n_out)``. Per step ``t = 1..T`` (state zero at ``t = 0``)::

    I[t]  = x[t] @ W.T + b + z[t-1] @ W_rec.T        (z[0] = 0; W_rec only if recurrent)
    i[t]  = beta_syn * i[t-1] + I[t]                 (cubalif, cubali; else i[t] = I[t])
    v'[t] = beta_mem * v[t-1] + i[t]                 (pre-reset voltage)
    th[t] = threshold + adapt_beta * a[t-1]          (alif; else threshold)
    z[t]  = 1 if v'[t] - th[t] > 0 else 0            (strict, as SEMANTICS.md)
    a[t]  = adapt_rho * a[t-1] + z[t]                (alif)
    v[t]  = v'[t] - z[t] * threshold                 (reset "subtract"; alif too, as NEST)
    v[t]  = v_reset if z[t] else v'[t]               (reset "zero")

``li`` / ``cubali`` have no spike: their output is ``v[t] = v'[t]``. ``beta = 1 - dt/tau``.
ALIF follows NEST's ``eprop_iaf_adapt`` (Bellec et al. 2020): the threshold at ``t`` sees spikes
up to ``t-1``, and a spike subtracts the base threshold, not the adapted one, so the layer stays a
linear system between spikes and exports to NIR exactly (see :mod:`.eprop._nir`).
"""

from __future__ import annotations

import dataclasses
import math

KINDS = ("lif", "cubalif", "alif", "li", "cubali")
SPIKING = ("lif", "cubalif", "alif")
RESETS = ("subtract", "zero")


@dataclasses.dataclass(frozen=True)
class LayerParams:
    """The fixed (non-trained) constants of one layer; weights live in the engine's tensors.

    Args:
        kind: one of :data:`KINDS`.
        dt: time step in seconds.
        tau_mem: membrane time constant in seconds.
        tau_syn: synaptic time constant in seconds (cubalif, cubali).
        threshold: spike threshold (spiking kinds).
        reset: "subtract" or "zero" (spiking kinds; alif: "subtract" only).
        v_reset: voltage after a spike with reset "zero".
        adapt_tau: adaptation time constant in seconds (alif).
        adapt_beta: threshold increase per unit of adaptation (alif).
    """

    kind: str
    dt: float
    tau_mem: float
    tau_syn: float | None = None
    threshold: float = 1.0
    reset: str = "subtract"
    v_reset: float = 0.0
    adapt_tau: float | None = None
    adapt_beta: float = 0.0

    def __post_init__(self) -> None:
        def bad(field: str, expected: str, got: object) -> ValueError:
            return ValueError(f"LayerParams.{field}: expected {expected}, got {got!r}")

        if self.kind not in KINDS:
            raise bad("kind", f"one of {KINDS}", self.kind)
        for field in ("dt", "tau_mem"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value > 0):
                raise bad(field, "a positive number of seconds", value)
        if self.tau_mem < self.dt:
            raise bad("tau_mem", f">= dt = {self.dt} (euler is unstable below)", self.tau_mem)
        needs_syn = self.kind in ("cubalif", "cubali")
        if needs_syn and (self.tau_syn is None or not self.tau_syn >= self.dt):
            raise bad("tau_syn", f"seconds >= dt = {self.dt} for {self.kind}", self.tau_syn)
        if self.reset not in RESETS:
            raise bad("reset", f"one of {RESETS}", self.reset)
        if self.kind == "alif":
            if self.adapt_tau is None or not self.adapt_tau > 0:
                raise bad("adapt_tau", "positive seconds for alif", self.adapt_tau)
            if self.reset != "subtract":
                raise bad("reset", "'subtract' for alif (Bellec et al. 2020)", self.reset)

    @property
    def spiking(self) -> bool:
        return self.kind in SPIKING

    @property
    def beta_mem(self) -> float:
        return 1.0 - self.dt / self.tau_mem

    @property
    def beta_syn(self) -> float:
        return 0.0 if self.tau_syn is None else 1.0 - self.dt / self.tau_syn

    @property
    def adapt_rho(self) -> float:
        return 0.0 if self.adapt_tau is None else math.exp(-self.dt / self.adapt_tau)


__all__ = ["KINDS", "LayerParams", "RESETS", "SPIKING"]
