"""Neuron translation tables: NIR neuron parameters <-> the simulator's native cell parameters.

Each :class:`CellMap` says which native model reproduces a NIR neuron type under an integrator and
a reset mode, and translates its parameters with rows that run both ways (PyNN's idea), so that
the round trip NIR -> native -> NIR is tested from the table itself. The mapping works by matching
the discrete propagators: one simulator step of length ``h`` (ms) equals one reference step of
length ``dt`` (s), so the native time constants are chosen such that the native per-step decay
equals the reference's (``1 - dt/tau`` for euler, ``exp(-dt/tau)`` for exact), and weights are
the reference's per-step voltage (or current) jump per unit input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from nirbridge._errors import UnsupportedError

Array = np.ndarray
Params = dict[str, Array]

TARGET = "pynn"


@dataclasses.dataclass(frozen=True)
class Ctx:
    """Translation context: reference step ``dt`` (s), simulator step ``h`` (ms), time scale."""

    dt: float
    h: float
    integrator: str
    node: str


def decay_to_tau(decay: Array, h: float) -> Array:
    """Native time constant (ms) whose per-step decay at resolution ``h`` is ``decay``."""
    return -h / np.log(decay)


def tau_to_decay(tau_native: Array, h: float) -> Array:
    return np.exp(-h / tau_native)


def _decay(tau: Array, ctx: Ctx, field: str) -> Array:
    """Per-step decay of the reference for a time constant in seconds."""
    a = ctx.dt / tau
    if ctx.integrator == "exact":
        return np.exp(-a)
    if np.any(a >= 1):
        raise UnsupportedError(
            f"euler decay 1 - dt/{field} is <= 0 (dt = {ctx.dt} s >= {field} = "
            f"{float(np.min(tau))} s): no leaky neuron has that propagator; use a smaller dt or "
            "the exact integrator",
            node=ctx.node,
            target=TARGET,
        )
    return 1.0 - a


def _tau_from_decay(decay: Array, ctx: Ctx) -> Array:
    """Inverse of :func:`_decay`: the reference time constant (s) of a per-step decay."""
    if ctx.integrator == "exact":
        return ctx.dt / -np.log(decay)
    return ctx.dt / (1.0 - decay)


@dataclasses.dataclass(frozen=True)
class Row:
    """One parameter translation: NIR field <-> native parameter, both directions."""

    nir: str
    native: str
    forward: Callable[[Array, Ctx], Array]
    inverse: Callable[[Array, Ctx], Array]


def _same(x: Array, _ctx: Ctx) -> Array:
    return x


def _tau_row(nir_field: str, native: str) -> Row:
    return Row(
        nir_field,
        native,
        lambda tau, ctx: decay_to_tau(_decay(tau, ctx, nir_field), ctx.h),
        lambda tau_n, ctx: _tau_from_decay(tau_to_decay(tau_n, ctx.h), ctx),
    )


#: Native time constant standing for "no leak" (decay exactly 1.0 in float64).
NO_LEAK_TAU = 1e300


@dataclasses.dataclass(frozen=True)
class CellMap:
    """A NIR neuron type on a native model.

    Attributes:
        nir_type: "LIF", "IF", "CubaLIF", ...
        model: Native model name.
        rows: Parameter translations.
        constants: Native parameters fixed by the mapping.
        synapse: "delta" (input jumps the voltage in the step it arrives) or "exp" (input jumps
            the synaptic current at the end of the step it arrives).
        spiking: Whether the population's spikes are its output (else its voltage is).
        gain: Native weight per unit of the NIR node's input ``x``, per neuron.
        drive: Native weight of a constant input each step that the model needs besides the
            node's input (e.g. the leak towards ``v_leak`` where the native leak cannot carry
            it), per neuron; None when none.
        voltage, rest, tau_m, threshold: The model's names of its membrane voltage (state),
            resting potential, membrane time constant and threshold.
        current: For analog inputs: the reference's voltage change per unit input in a step
            (:func:`_gain_delta`), which a current source held over the step gives with
            amplitude ``current / P30`` (``P30 = (1 - exp(-h/tau_m))*tau_m/C``, the exact
            propagator of a constant current); None where a current source cannot stand for
            the node's input (exponential synapses filter it, a current source does not).
        capacitance: The native capacitance parameter and its unit in nF (NEST ``C_m`` pF,
            PyNN ``cm`` nF).
    """

    nir_type: str
    model: str
    rows: tuple[Row, ...]
    constants: dict[str, float]
    synapse: str
    spiking: bool
    gain: Callable[[Params, Ctx], Array]
    drive: Callable[[Params, Ctx], Array] | None = None
    voltage: str = "V_m"
    rest: str = "E_L"
    tau_m: str = "tau_m"
    threshold: str = "V_th"
    current: Callable[[Params, Ctx], Array] | None = None
    capacitance: tuple[str, float] = ("C_m", 1e-3)

    def native_parameters(self, params: Params, ctx: Ctx) -> Params:
        out: Params = {r.native: r.forward(params[r.nir], ctx) for r in self.rows}
        for k, v in self.constants.items():
            out[k] = np.full_like(next(iter(params.values())), v, dtype=np.float64)
        return out

    def nir_parameters(self, native: Params, ctx: Ctx) -> Params:
        return {r.nir: r.inverse(native[r.native], ctx) for r in self.rows}


def _gain_delta(params: Params, ctx: Ctx) -> Array:
    """Voltage jump per unit input for LIF/IF/LI/I: euler ``a*r`` (IF: ``dt*r``); exact
    ``a*r*exp(-a)`` (the impulse enters at the start of the step and decays over it)."""
    if "tau" not in params:
        return ctx.dt * params["r"]
    a = ctx.dt / params["tau"]
    if ctx.integrator == "exact":
        return a * params["r"] * np.exp(-a)
    return a * params["r"]


def _leak_drive(params: Params, ctx: Ctx) -> Array:
    """Per-step voltage increment of the leak towards ``v_leak`` (with the native leak towards
    0): euler ``a*v_leak``; exact ``(1 - exp(-a))*v_leak``. With ``E_L = 0`` the membrane does
    not drift before the network's first step (populations start ``depth`` steps early), and
    ``eprop_iaf``, which subtracts ``V_th - E_L`` on a spike, resets as the reference does."""
    a = ctx.dt / params["tau"]
    factor = -np.expm1(-a) if ctx.integrator == "exact" else a
    return factor * params["v_leak"]


def _p21(tau_s: Array, tau_m: Array, h: float, c_m: float = 1.0) -> Array:
    """NEST's propagator from synaptic current to voltage over one step (iaf_psc_exp), computed
    without cancellation: ``(h/c_m) * exp(-h/tau_m) * phi(h/tau_m - h/tau_s)``."""
    u = h / tau_m - h / tau_s
    small = np.abs(u) < 1e-8
    phi = np.where(small, 1.0 + u / 2, np.expm1(np.where(small, 1.0, u)) / np.where(small, 1.0, u))
    return (h / c_m) * np.exp(-h / tau_m) * phi


def _gain_exp(params: Params, ctx: Ctx) -> Array:
    """Synaptic current jump per unit input for CubaLIF/CubaLI on iaf_psc_exp.

    Euler: the reference's ``v`` gains ``a*r*a_syn*w_in*x`` in the step of the input and its
    current ``i`` gains ``a_syn*w_in*x``; with native decays ``1 - a`` and ``1 - a_syn`` the
    native current jump J satisfies ``P21*J = a*r*a_syn*w_in``. Exact: the reference's impulse
    ``w_in*x*dt/tau_syn`` enters the current at the start of the step and reaches ``v`` through
    the exact propagator, which the native one equals when ``J*P21_native = r*P21_ref*jump``."""
    dt, h = ctx.dt, ctx.h
    tau_s, tau_m = params["tau_syn"], params["tau_mem"]
    a, a_s = dt / tau_m, dt / tau_s
    w_in, r = params.get("w_in", np.ones_like(r_ := params["r"])), params["r"]
    del r_
    tsn = decay_to_tau(_decay(tau_s, ctx, "tau_syn"), h)
    tmn = decay_to_tau(_decay(tau_m, ctx, "tau_mem"), h)
    p21_native = _p21(tsn, tmn, h)
    if ctx.integrator == "exact":
        p21_ref = a * np.exp(-a) * _phi(a - a_s)
        return r * p21_ref * w_in * a_s / p21_native
    return a * r * a_s * w_in / p21_native


def _phi(u: Array) -> Array:
    small = np.abs(u) < 1e-8
    safe = np.where(small, 1.0, u)
    return np.where(small, 1.0 + u / 2, np.expm1(safe) / safe)


_SPIKE_ROWS = (Row("v_threshold", "V_th", _same, _same),)
_RESET_ROW = Row("v_reset", "V_reset", _same, _same)
_LEAK_ROW = Row("v_leak", "E_L", _same, _same)
_NO_THRESHOLD = 1e300

CELL_MAPS: dict[tuple[str, str], CellMap] = {
    # (NIR type, reset) -> map. Reset "-" for non-spiking types.
    ("LIF", "zero"): CellMap(
        "LIF",
        "iaf_psc_delta",
        (_tau_row("tau", "tau_m"), *_SPIKE_ROWS, _RESET_ROW),
        {"C_m": 1.0, "t_ref": 0.0, "I_e": 0.0, "E_L": 0.0},
        "delta",
        True,
        _gain_delta,
        _leak_drive,
    ),
    ("LIF", "subtract"): CellMap(
        "LIF",
        "eprop_iaf",
        (_tau_row("tau", "tau_m"), *_SPIKE_ROWS),
        {"C_m": 1.0, "t_ref": 0.0, "I_e": 0.0, "E_L": 0.0},
        "delta",
        True,
        _gain_delta,
        _leak_drive,
    ),
    ("IF", "zero"): CellMap(
        "IF",
        "iaf_psc_delta",
        (*_SPIKE_ROWS, _RESET_ROW),
        {"C_m": 1.0, "t_ref": 0.0, "I_e": 0.0, "tau_m": NO_LEAK_TAU, "E_L": 0.0},
        "delta",
        True,
        _gain_delta,
    ),
    ("IF", "subtract"): CellMap(
        "IF",
        "eprop_iaf",
        _SPIKE_ROWS,
        {"C_m": 1.0, "t_ref": 0.0, "I_e": 0.0, "tau_m": NO_LEAK_TAU, "E_L": 0.0},
        "delta",
        True,
        _gain_delta,
    ),
    ("LI", "-"): CellMap(
        "LI",
        "iaf_psc_delta",
        (_tau_row("tau", "tau_m"),),
        {"C_m": 1.0, "t_ref": 0.0, "I_e": 0.0, "E_L": 0.0, "V_th": _NO_THRESHOLD, "V_reset": 0.0},
        "delta",
        False,
        _gain_delta,
        _leak_drive,
    ),
    ("I", "-"): CellMap(
        "I",
        "iaf_psc_delta",
        (),
        {
            "C_m": 1.0,
            "t_ref": 0.0,
            "I_e": 0.0,
            "tau_m": NO_LEAK_TAU,
            "E_L": 0.0,
            "V_th": _NO_THRESHOLD,
            "V_reset": 0.0,
        },
        "delta",
        False,
        _gain_delta,
    ),
    ("CubaLIF", "zero"): CellMap(
        "CubaLIF",
        "iaf_psc_exp",
        (
            _tau_row("tau_syn", "tau_syn_ex"),
            _tau_row("tau_syn", "tau_syn_in"),
            _tau_row("tau_mem", "tau_m"),
            _LEAK_ROW,
            *_SPIKE_ROWS,
            _RESET_ROW,
        ),
        {"C_m": 1.0, "t_ref": 0.0, "I_e": 0.0},
        "exp",
        True,
        _gain_exp,
    ),
    ("CubaLI", "-"): CellMap(
        "CubaLI",
        "iaf_psc_exp",
        (
            _tau_row("tau_syn", "tau_syn_ex"),
            _tau_row("tau_syn", "tau_syn_in"),
            _tau_row("tau_mem", "tau_m"),
            _LEAK_ROW,
        ),
        {"C_m": 1.0, "t_ref": 0.0, "I_e": 0.0, "V_th": _NO_THRESHOLD, "V_reset": 0.0},
        "exp",
        False,
        _gain_exp,
    ),
}


def with_current_sources(
    table: dict[tuple[str, str], CellMap], capacitance: str, unit_nf: float
) -> dict[tuple[str, str], CellMap]:
    """``table`` with analog inputs (current sources) on its delta-synapse rows."""
    return {
        key: dataclasses.replace(cells, current=_gain_delta, capacitance=(capacitance, unit_nf))
        if cells.synapse == "delta"
        else cells
        for key, cells in table.items()
    }


#: NEST's capacitance ``C_m`` is in pF.
CELL_MAPS = with_current_sources(CELL_MAPS, "C_m", 1e-3)

#: Native time constant (ms) of a leak-free neuron that a current source drives on NEST: the
#: current needs ``1 - exp(-h/tau_m) > 0``, so the membrane leaks ``h/2**40`` (~1e-12) per step.
ANALOG_NO_LEAK_TAU = 2.0**40


def current_propagator(tau_m: Array, capacitance_nf: Array, h: float) -> Array:
    """Voltage (mV) a constant current of 1 nA adds over one step, computed as NEST computes it
    (``(1 - exp(-h/tau_m))*tau_m/C``)."""
    return (1.0 - np.exp(-h / tau_m)) * tau_m / capacitance_nf


def cell_map(
    nir_type: str,
    reset: str,
    node: str,
    table: dict[tuple[str, str], CellMap] | None = None,
    simulator: str = "nest",
) -> CellMap:
    """The map for a NIR neuron type under a reset mode in ``table`` (default: the NEST native
    table), or an error naming the node."""
    table = CELL_MAPS if table is None else table
    key = (nir_type, reset if nir_type in ("LIF", "IF", "CubaLIF") else "-")
    found = table.get(key)
    if found is None:
        hint = ""
        if key == ("CubaLIF", "subtract") and simulator == "nest":
            hint = (
                ": NEST has no native current-based neuron with exponential synapses that resets "
                "by subtraction; run with reset='zero' or use the reference simulator"
            )
        elif simulator == "spinnaker" and nir_type in ("IF", "I"):
            hint = (
                ": SpiNNaker's membrane multiplies its input by 1 - exp(-h/tau_m), which is 0 "
                "without a leak; give the node a (long) tau as an LIF/LI instead"
            )
        elif key[1] == "subtract":
            hint = (
                f": PyNN's standard cell types (all {simulator} offers) reset to v_reset; run "
                "with reset='zero' or use "
                + ("the reference simulator" if nir_type == "CubaLIF" else "NEST")
            )
        kind = "native NEST model" if simulator == "nest" else f"{simulator} cell type"
        raise UnsupportedError(
            f"no {kind} for {nir_type} with reset {reset!r}{hint}",
            node=node,
            target=TARGET,
        )
    return found
