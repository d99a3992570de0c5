"""Translation tables onto PyNN's standard cell types, for backends without NEST's native models.

The rows run both ways like the NEST tables in :mod:`._cells` and use PyNN's standard parameter
names and units: ``tau_m``/``tau_syn_*`` in ms, ``cm`` in nF, ``v_*`` in mV (one NIR voltage unit
is one mV), ``i_offset`` in nA; weights in mV (``IF_curr_delta``) or nA (``IF_curr_exp``). As on
NEST, one simulator step of ``h`` ms stands for one reference step ``dt``: the time constants are
chosen so that the per-step decay of Brian2's exact integration equals the reference's.

Standard cells reset to ``v_reset`` (the zero reset); there is no standard cell that subtracts the
threshold, so the subtract reset has no row and is refused by node name.

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


def _delta(nir_type: str, rows: tuple[Row, ...], constants: dict, spiking: bool) -> CellMap:
    leaky = nir_type in ("LIF", "LI")
    return CellMap(
        nir_type,
        "IF_curr_delta",
        ((_tau_row("tau", "tau_m"),) if leaky else ()) + rows,
        {**_BASE, "v_rest": 0.0, **({} if leaky else {"tau_m": NO_LEAK_TAU}), **constants},
        "delta",
        spiking,
        _gain_delta_first,
        _leak_drive_first if leaky else None,
        **_NAMES,
    )


def _exp(nir_type: str, rows: tuple[Row, ...], constants: dict, spiking: bool) -> CellMap:
    return CellMap(
        nir_type,
        "IF_curr_exp",
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
        _gain_exp,
        **_NAMES,
    )


_QUIET = {"v_thresh": _NO_THRESHOLD, "v_reset": 0.0}

#: Brian2: (NIR type, reset) -> standard cell map. Reset "-" for non-spiking types.
BRIAN2_CELL_MAPS: dict[tuple[str, str], CellMap] = {
    ("LIF", "zero"): _delta("LIF", (_THRESHOLD, _RESET), {}, True),
    ("IF", "zero"): _delta("IF", (_THRESHOLD, _RESET), {}, True),
    ("LI", "-"): _delta("LI", (), _QUIET, False),
    ("I", "-"): _delta("I", (), _QUIET, False),
    ("CubaLIF", "zero"): _exp("CubaLIF", (_THRESHOLD, _RESET), {}, True),
    ("CubaLI", "-"): _exp("CubaLI", (), _QUIET, False),
}
