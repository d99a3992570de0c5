"""Translation tables onto PyNN's standard cell types, for backends without NEST's native models.

The rows run both ways like the NEST tables in :mod:`._cells` and use PyNN's standard parameter
names and units: ``tau_m``/``tau_syn_*`` in ms, ``cm`` in nF, ``v_*`` in mV (one NIR voltage unit
is one mV), ``i_offset`` in nA; weights in mV (``IF_curr_delta``) or nA (``IF_curr_exp``). As on
NEST, one simulator step of ``h`` ms stands for one reference step ``dt``: the time constants are
chosen so that the per-step decay of Brian2's exact integration equals the reference's.

Standard cells reset to ``v_reset`` (the zero reset). On Brian2 the subtract reset runs on the same
standard types with PyNN's reset statement replaced by ``v = v - v_thresh`` (cell types defined by
equations, see ``_backends``); NEURON and SpiNNaker have no subtracting standard cell, so there the
subtract reset has no row and is refused by node name.

Brian2 timing (measured, see ``docs/pynn.md``): the network runs its synapses first in each step
(the converter sets that schedule), so a spike that arrives jumps the voltage *before* the step's
decay, ``v <- decay * (v + w)``, where NEST adds it after, ``v <- decay * v + w``. The delta
weights are therefore the reference's per-step jump divided by the per-step decay. An exponential
synapse's current jump enters the voltage within the same step, which is NEST's recursion one step
earlier, so the NEST gain applies unchanged and the synaptic lag is zero.
"""

from __future__ import annotations

from ._cells import (
    NO_LEAK_TAU,
    CellMap,
    Ctx,
    Params,
    Row,
    _decay,
    _gain_delta,
    _gain_exp,
    _leak_drive,
    _same,
    _tau_row,
    with_current_sources,
)

_THRESHOLD = Row("v_threshold", "v_thresh", _same, _same)
_RESET = Row("v_reset", "v_reset", _same, _same)
_REST = Row("v_leak", "v_rest", _same, _same)
_NO_THRESHOLD = 1e300
_BASE = {"cm": 1.0, "tau_refrac": 0.0, "i_offset": 0.0}
_NAMES = {"voltage": "v", "rest": "v_rest", "tau_m": "tau_m", "threshold": "v_thresh"}


def _step_decay(params: Params, ctx: Ctx):
    return _decay(params["tau"], ctx, "tau") if "tau" in params else 1.0


def _gain_delta_first(params: Params, ctx: Ctx):
    """Voltage jump per unit input when the jump precedes the step's decay."""
    return _gain_delta(params, ctx) / _step_decay(params, ctx)


def _leak_drive_first(params: Params, ctx: Ctx):
    return _leak_drive(params, ctx) / _step_decay(params, ctx)


def _delta(
    nir_type: str,
    rows: tuple[Row, ...],
    constants: dict,
    spiking: bool,
    model: str = "IF_curr_delta",
) -> CellMap:
    leaky = nir_type in ("LIF", "LI")
    return CellMap(
        nir_type,
        model,
        ((_tau_row("tau", "tau_m"),) if leaky else ()) + rows,
        {**_BASE, "v_rest": 0.0, **({} if leaky else {"tau_m": NO_LEAK_TAU}), **constants},
        "delta",
        spiking,
        _gain_delta_first,
        _leak_drive_first if leaky else None,
        **_NAMES,
    )


def _exp(
    nir_type: str,
    rows: tuple[Row, ...],
    constants: dict,
    spiking: bool,
    model: str = "IF_curr_exp",
    gain=None,
) -> CellMap:
    """PyNN's current-based exponential-synapse cell (``gain``: the NIR-input to native-weight
    factor, default Brian2's exact one)."""
    return CellMap(
        nir_type,
        model,
        (
            _tau_row("tau_syn", "tau_syn_E"),
            _tau_row("tau_syn", "tau_syn_I"),
            _tau_row("tau_mem", "tau_m"),
            _REST,
            *rows,
        ),
        {**_BASE, **constants},
        "exp",
        spiking,
        _gain_exp if gain is None else gain,
        **_NAMES,
    )


_QUIET = {"v_thresh": _NO_THRESHOLD, "v_reset": 0.0}

#: Brian2 cell types that subtract the threshold on a spike (``v -= v_thresh``): PyNN's standard
#: types with another reset statement (``_backends.brian2_subtract_type``). ``v_reset`` is
#: unused there and set to 0.
BRIAN2_SUBTRACT = {"IF_curr_delta_subtract": "IF_curr_delta", "IF_curr_exp_subtract": "IF_curr_exp"}
_UNUSED_RESET = {"v_reset": 0.0}

#: Brian2: (NIR type, reset) -> standard cell map. Reset "-" for non-spiking types.
BRIAN2_CELL_MAPS: dict[tuple[str, str], CellMap] = {
    ("LIF", "zero"): _delta("LIF", (_THRESHOLD, _RESET), {}, True),
    ("IF", "zero"): _delta("IF", (_THRESHOLD, _RESET), {}, True),
    ("LIF", "subtract"): _delta(
        "LIF", (_THRESHOLD,), _UNUSED_RESET, True, "IF_curr_delta_subtract"
    ),
    ("IF", "subtract"): _delta("IF", (_THRESHOLD,), _UNUSED_RESET, True, "IF_curr_delta_subtract"),
    ("LI", "-"): _delta("LI", (), _QUIET, False),
    ("I", "-"): _delta("I", (), _QUIET, False),
    ("CubaLIF", "zero"): _exp("CubaLIF", (_THRESHOLD, _RESET), {}, True),
    ("CubaLIF", "subtract"): _exp(
        "CubaLIF", (_THRESHOLD,), _UNUSED_RESET, True, "IF_curr_exp_subtract"
    ),
    ("CubaLI", "-"): _exp("CubaLI", (), _QUIET, False),
}
#: Analog inputs on Brian2's delta rows (``cm`` = 1 nF).
BRIAN2_CELL_MAPS = with_current_sources(BRIAN2_CELL_MAPS, "cm", 1.0)


# -- NEURON -------------------------------------------------------------------------------------
# PyNN's NEURON cells integrate the membrane with NEURON's fixed-step backward Euler, ``v_n =
# (v_{n-1} + h*i/c) / (1 + h/tau_m)``, where ``i`` is the synaptic current after this step's
# deliveries; the current itself decays exactly (cnexp). Measured, see docs/pynn.md. So the
# per-step decay is ``1/(1 + h/tau_m)`` and the current-to-voltage propagator ``decay*h/c``.
# ``IF_curr_delta`` cannot be instantiated there; an ``IF_curr_exp`` whose current decays within
# one step (tau_syn far below h) acts as a delta synapse with jump ``decay*h*w/c``.

#: Synaptic time constant (ms) standing for a delta synapse on NEURON (decay exp(-h/tau) ~ 0).
DELTA_TAU_SYN = 1e-3


def _be_decay_to_tau(decay, h):
    return h * decay / (1.0 - decay)


def _be_tau_to_decay(tau_native, h):
    return 1.0 / (1.0 + h / tau_native)


def _be_tau_row(nir_field: str, native: str) -> Row:
    from ._cells import _tau_from_decay

    return Row(
        nir_field,
        native,
        lambda tau, ctx: _be_decay_to_tau(_decay(tau, ctx, nir_field), ctx.h),
        lambda tau_n, ctx: _tau_from_decay(_be_tau_to_decay(tau_n, ctx.h), ctx),
    )


def _gain_delta_neuron(params: Params, ctx: Ctx):
    return _gain_delta(params, ctx) / (_step_decay(params, ctx) * ctx.h)


def _leak_drive_neuron(params: Params, ctx: Ctx):
    return _leak_drive(params, ctx) / (_step_decay(params, ctx) * ctx.h)


def _gain_exp_neuron(params: Params, ctx: Ctx):
    """As :func:`._cells._gain_exp`, with NEURON's propagator ``decay*h`` in place of NEST's."""
    import numpy as np

    from ._cells import _phi

    dt = ctx.dt
    tau_s, tau_m = params["tau_syn"], params["tau_mem"]
    a, a_s = dt / tau_m, dt / tau_s
    w_in, r = params.get("w_in", np.ones_like(params["r"])), params["r"]
    p21_native = _decay(tau_m, ctx, "tau_mem") * ctx.h
    if ctx.integrator == "exact":
        return r * a * np.exp(-a) * _phi(a - a_s) * w_in * a_s / p21_native
    return a * r * a_s * w_in / p21_native


def _neuron_delta(nir_type: str, rows: tuple[Row, ...], constants: dict, spiking: bool) -> CellMap:
    leaky = nir_type in ("LIF", "LI")
    return CellMap(
        nir_type,
        "IF_curr_exp",
        ((_be_tau_row("tau", "tau_m"),) if leaky else ()) + rows,
        {
            **_BASE,
            "v_rest": 0.0,
            "tau_syn_E": DELTA_TAU_SYN,
            "tau_syn_I": DELTA_TAU_SYN,
            **({} if leaky else {"tau_m": NO_LEAK_TAU}),
            **constants,
        },
        "delta",
        spiking,
        _gain_delta_neuron,
        _leak_drive_neuron if leaky else None,
        **_NAMES,
    )


def _neuron_exp(nir_type: str, rows: tuple[Row, ...], constants: dict, spiking: bool) -> CellMap:
    return CellMap(
        nir_type,
        "IF_curr_exp",
        (
            _tau_row("tau_syn", "tau_syn_E"),
            _tau_row("tau_syn", "tau_syn_I"),
            _be_tau_row("tau_mem", "tau_m"),
            _REST,
            *rows,
        ),
        {**_BASE, **constants},
        "exp",
        spiking,
        _gain_exp_neuron,
        **_NAMES,
    )


#: NEURON: (NIR type, reset) -> standard cell map.
NEURON_CELL_MAPS: dict[tuple[str, str], CellMap] = {
    ("LIF", "zero"): _neuron_delta("LIF", (_THRESHOLD, _RESET), {}, True),
    ("IF", "zero"): _neuron_delta("IF", (_THRESHOLD, _RESET), {}, True),
    ("LI", "-"): _neuron_delta("LI", (), _QUIET, False),
    ("I", "-"): _neuron_delta("I", (), _QUIET, False),
    ("CubaLIF", "zero"): _neuron_exp("CubaLIF", (_THRESHOLD, _RESET), {}, True),
    ("CubaLI", "-"): _neuron_exp("CubaLI", (), _QUIET, False),
}


# -- SpiNNaker (sPyNNaker 7.4) ---------------------------------------------------------------
# From sPyNNaker's C sources (neuron_impl_standard.h, neuron_model_lif_impl.h, the exponential
# synapse shaping); there is no board here, so this timing is read, not measured. Each step:
# this step's synaptic input is added to the synaptic state, the membrane takes the closed form
# ``v <- d*v + (1 - d)*(R*I + v_rest)`` with ``d = exp(-h/tau_m)``, ``R = tau_m/cm`` and ``I``
# the input current held over the step, the threshold is tested (``v >= v_thresh``), a spike
# resets to ``v_reset``, and the synaptic state decays: ``I = 0`` for delta synapses; for
# exponential ones ``i <- d_s*i`` with a spike adding ``init*w``, ``init = (tau_s/h)*(1 - d_s)``.
# So an input changes the membrane in the step it arrives in (no synaptic lag) by
# ``(1 - d)*R*w``: a current, not a voltage jump. A membrane without leak (IF, I) has ``d = 1``
# and ignores its input; those types have no SpiNNaker row. The exponential synapse holds its
# current constant over the step, which is the euler CubaLIF recursion, not the exact one.

#: Threshold standing for "none" on SpiNNaker (mV): below the s16.15 range of 65536.
SPINNAKER_NO_THRESHOLD = 32767.0


def _spinnaker_tau_m(params: Params, ctx: Ctx, field: str = "tau"):
    from ._cells import decay_to_tau

    return decay_to_tau(_decay(params[field], ctx, field), ctx.h)


def _per_current(params: Params, ctx: Ctx, field: str = "tau"):
    """Membrane change per nA held over one step: ``(1 - d)*R`` (cm = 1 nF)."""
    return (1.0 - _decay(params[field], ctx, field)) * _spinnaker_tau_m(params, ctx, field)


def _gain_delta_spinnaker(params: Params, ctx: Ctx):
    return _gain_delta(params, ctx) / _per_current(params, ctx)


def _leak_drive_spinnaker(params: Params, ctx: Ctx):
    return _leak_drive(params, ctx) / _per_current(params, ctx)


def _gain_exp_spinnaker(params: Params, ctx: Ctx):
    """Synaptic weight (nA) per unit input for CubaLIF/CubaLI: the native current is the
    reference's ``i`` times ``k = a*r/((1 - d)*R)``, and a spike adds ``init*w`` to it where the
    reference adds ``a_syn*w_in``: ``w = k*a_syn*w_in/init``."""
    import numpy as np

    from nirbridge._errors import UnsupportedError

    if ctx.integrator == "exact":
        raise UnsupportedError(
            "SpiNNaker's exponential synapse holds its current constant over a step (the "
            "euler recursion); the exact CubaLIF integrator has no SpiNNaker form",
            node=ctx.node,
            target="pynn",
        )
    a = ctx.dt / params["tau_mem"]
    a_s = ctx.dt / params["tau_syn"]
    w_in = params.get("w_in", np.ones_like(params["r"]))
    k = a * params["r"] / _per_current(params, ctx, "tau_mem")
    tau_s = _spinnaker_tau_m(params, ctx, "tau_syn")
    init = (tau_s / ctx.h) * (1.0 - _decay(params["tau_syn"], ctx, "tau_syn"))
    return k * a_s * w_in / init


def _spinnaker_delta(nir_type: str, rows: tuple[Row, ...], constants: dict, spiking: bool):
    return CellMap(
        nir_type,
        "IF_curr_delta",
        (_tau_row("tau", "tau_m"), *rows),
        {**_BASE, "v_rest": 0.0, **constants},
        "delta",
        spiking,
        _gain_delta_spinnaker,
        _leak_drive_spinnaker,
        **_NAMES,
    )


def _spinnaker_exp(nir_type: str, rows: tuple[Row, ...], constants: dict, spiking: bool):
    return _exp(nir_type, rows, constants, spiking, gain=_gain_exp_spinnaker)


_SPINNAKER_QUIET = {"v_thresh": SPINNAKER_NO_THRESHOLD, "v_reset": 0.0}

#: SpiNNaker: (NIR type, reset) -> standard cell map (no IF, I: see above).
SPINNAKER_CELL_MAPS: dict[tuple[str, str], CellMap] = {
    ("LIF", "zero"): _spinnaker_delta("LIF", (_THRESHOLD, _RESET), {}, True),
    ("LI", "-"): _spinnaker_delta("LI", (), _SPINNAKER_QUIET, False),
    ("CubaLIF", "zero"): _spinnaker_exp("CubaLIF", (_THRESHOLD, _RESET), {}, True),
    ("CubaLI", "-"): _spinnaker_exp("CubaLI", (), _SPINNAKER_QUIET, False),
}
