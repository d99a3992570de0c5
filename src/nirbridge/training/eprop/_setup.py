"""The constants of one e-prop network, resolved from the rule and the two layers' parameters.

Both variants run the network of NEST's e-prop examples: spiking input -> recurrent hidden layer
(LIF or ALIF, reset by subtraction) -> leaky-integrator readout, with the weight of a synapse
the voltage jump one spike causes (SEMANTICS.md's euler step with ``r = tau/dt``; NEST's
``C_m = 1``, ``E_L = 0``, ``t_ref = 0``, ``regular_spike_arrival = true``). Decays are those of
the layer parameters (``beta = 1 - dt/tau``, NEST's ``exp(-dt/tau_m)``: a NEST model has
``tau_m = -dt / ln(beta)``); ALIF's adaptation decays by ``exp(-dt/adapt_tau)`` in both.
"""

from __future__ import annotations

import dataclasses
import math

from ..._errors import LearningRuleError
from ...learning import EProp
from .._layers import LayerParams
from ._surrogate import Surrogate

_RULE = "eprop"


def _fail(message: str, field: str, expected: str, got: object) -> LearningRuleError:
    return LearningRuleError(message, rule=_RULE, field=field, expected=expected, got=repr(got))


def _steps(seconds: float, dt: float, field: str) -> int:
    """A duration in whole time steps (NEST rounds a time to its grid the same way)."""
    n = seconds / dt
    if abs(n - round(n)) > 1e-9 * max(1.0, abs(n)):
        raise _fail("not a whole number of time steps", field, f"a multiple of dt = {dt:g} s", n)
    return int(round(n))


@dataclasses.dataclass(frozen=True)
class EPropSetup:
    """Everything the engines need, in plain numbers (time in steps, NEST's ms where noted).

    Attributes:
        online: NEST's ``eprop_iaf*`` (True) or ``*_bsshslm_2020`` (False).
        alif: adaptive-threshold hidden neurons.
        dt: time step in seconds; ``dt_ms`` the same in NEST's milliseconds.
        decay: hidden membrane decay per step (``1 - dt/tau_mem``, NEST ``P_v_m``).
        decay_out: readout decay per step (NEST ``P_v_m`` of the readout).
        threshold: hidden spike threshold (NEST ``V_th`` with ``E_L = 0``).
        adapt_beta, adapt_decay: ALIF's threshold increase per unit of adaptation and its decay
            per step (NEST ``adapt_beta``, ``P_adapt``); 0 for LIF.
        surrogate: the pseudo-derivative.
        kappa: filter of the eligibility trace: ``online`` the rule's ``kappa``;
            ``bsshslm_2020`` the readout's decay per step (NEST's ``tau_m_readout``).
        kappa_reg: ``online``: filter of the firing rate (NEST ``kappa_reg``).
        c_reg, f_target_ms: firing-rate regularization: coefficient, target in spikes per ms.
        cutoff: ``online``: steps after a presynaptic spike the update is integrated (None: all).
        interval, window: ``bsshslm_2020``: update interval and learning window in steps.
        reset_on_update, average_gradient: ``bsshslm_2020`` switches (NEST defaults: True, False).
        cross_entropy: the readout's loss is cross entropy (``bsshslm_2020`` only).
        optimize_each_step: ``online``: optimizer called at every step, else per presynaptic spike.
    """

    online: bool
    alif: bool
    dt: float
    dt_ms: float
    decay: float
    decay_out: float
    threshold: float
    adapt_beta: float
    adapt_decay: float
    surrogate: Surrogate
    kappa: float
    kappa_reg: float
    c_reg: float
    f_target_ms: float
    cutoff: int | None
    interval: int
    window: int
    reset_on_update: bool
    average_gradient: bool
    cross_entropy: bool
    optimize_each_step: bool


def resolve(rule: EProp, hidden: LayerParams, readout: LayerParams) -> EPropSetup:
    """Check that ``rule`` fits the layers and resolve its constants.

    Raises:
        LearningRuleError: a field the PyTorch engine (or NEST) cannot honour, named.
    """
    if not isinstance(rule, EProp):
        raise LearningRuleError(
            "not an e-prop rule", rule=_RULE, expected="nirbridge.learning.EProp", got=repr(rule)
        )
    dt = hidden.dt
    if readout.dt != dt:
        raise _fail("the readout steps with another dt", "dt", f"{dt:g} s", readout.dt)
    want = "alif" if rule.neuron == "alif" else "lif"
    if hidden.kind != want or hidden.reset != "subtract":
        raise _fail(
            f"rule.neuron={rule.neuron!r} needs {want.upper()} hidden neurons reset by subtraction",
            "neuron",
            f"LayerParams(kind={want!r}, reset='subtract')",
            f"kind={hidden.kind!r}, reset={hidden.reset!r}",
        )
    if readout.kind != "li":
        raise _fail("the readout is a leaky integrator", "scope.readout", "kind 'li'", readout.kind)
    if rule.readout_tau is not None and not math.isclose(
        rule.readout_tau, readout.tau_mem, rel_tol=1e-9
    ):
        raise _fail(
            "disagrees with the readout layer",
            "readout_tau",
            f"{readout.tau_mem!r} s",
            rule.readout_tau,
        )
    if rule.neuron == "alif":
        for name in ("adapt_beta", "adapt_tau"):
            mine, theirs = getattr(rule, name), getattr(hidden, name)
            if not math.isclose(float(mine), float(theirs), rel_tol=1e-12):
                raise _fail("disagrees with the hidden layer", name, repr(theirs), mine)
    opt = rule.optimizer
    if opt.momentum is not None:
        raise _fail(
            "NEST's e-prop optimizers have no momentum", "optimizer.momentum", "None", opt.momentum
        )
    if opt.weight_decay != 0.0:
        raise _fail(
            "NEST's e-prop optimizers have no weight decay",
            "optimizer.weight_decay",
            "0",
            opt.weight_decay,
        )
    online = rule.variant == "online"
    if online and rule.loss != "mean_squared_error":
        raise _fail(
            "NEST's eprop_readout computes the mean squared error only",
            "loss",
            "'mean_squared_error' with variant 'online'",
            rule.loss,
        )
    cutoff = None
    if online and rule.isi_trace_cutoff is not None:
        cutoff = _steps(rule.isi_trace_cutoff, dt, "isi_trace_cutoff")
        if cutoff < 2:
            raise _fail(
                "NEST's eprop_synapse misplaces the presynaptic spike with a cutoff under two "
                "steps",
                "isi_trace_cutoff",
                f">= 2 steps ({2 * dt:g} s)",
                rule.isi_trace_cutoff,
            )
    interval = window = 0
    if not online:
        interval = _steps(rule.update_interval, dt, "update_interval")  # type: ignore[arg-type]
        window = _steps(rule.learning_window, dt, "learning_window")  # type: ignore[arg-type]
    decay_out = readout.beta_mem
    return EPropSetup(
        online=online,
        alif=rule.neuron == "alif",
        dt=dt,
        dt_ms=dt * 1000.0,
        decay=hidden.beta_mem,
        decay_out=decay_out,
        threshold=float(hidden.threshold),
        adapt_beta=float(hidden.adapt_beta) if rule.neuron == "alif" else 0.0,
        adapt_decay=hidden.adapt_rho if rule.neuron == "alif" else 0.0,
        surrogate=Surrogate.of(rule.surrogate),
        kappa=float(rule.kappa) if online else decay_out,  # type: ignore[arg-type]
        kappa_reg=float(rule.kappa_reg) if online else 0.0,  # type: ignore[arg-type]
        c_reg=float(rule.c_reg),
        f_target_ms=float(rule.f_target) / 1000.0,
        cutoff=cutoff,
        interval=interval,
        window=window,
        reset_on_update=rule.reset_neurons_on_update is not False,
        average_gradient=bool(rule.average_gradient),
        cross_entropy=rule.loss == "cross_entropy",
        optimize_each_step=bool(rule.optimize_each_step),
    )
