"""Per-simulator conventions: which translation table, and the simulator's timing.

Everything a PyNN backend does differently from another is in one :class:`Backend` row, chosen
from the module the caller passes in; :mod:`._network` builds from the row and has no special
cases of its own. The timing fields were measured on each simulator (``docs/pynn.md``).
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from nirbridge._errors import UnsupportedError

from ._cells import ANALOG_NO_LEAK_TAU, CELL_MAPS, CellMap, current_propagator
from ._spinnaker_board import VirtualBoard
from ._standard_cells import (
    BRIAN2_CELL_MAPS,
    BRIAN2_SUBTRACT,
    NEURON_CELL_MAPS,
    SPINNAKER_CELL_MAPS,
)

TARGET = "pynn"


def _nothing(*_args: Any) -> None:
    return None


@dataclasses.dataclass(frozen=True)
class Backend:
    """A PyNN simulator's table and timing.

    Attributes:
        name: "nest", "brian2", ...
        cells: (NIR type, reset) -> cell map.
        native: Cell models are native (``sim.native_cell_type``), else standard (``sim.<name>``).
        weight_scale: PyNN weight per unit of the table's weights (NEST native pA -> PyNN nA).
        start_steps: Reference step t of an Input is sent at simulator time ``(t + start) * h``.
        delay_offset: Simulator delay (steps) of a projection the plan gives ``d`` steps:
            ``d + delay_offset`` (Brian2 delivers a spike one step earlier than NEST).
        prestart_offset: Steps a population at depth q is updated before its first reference
            step: ``start + q + prestart_offset``.
        voltage_offset: Recorded sample of reference step t of a population at depth q:
            ``t + start + q + voltage_offset``.
        synaptic_lag: Steps from delivery to effect per synapse kind.
        setup: Extra ``sim.setup`` arguments.
        prepare: Called with the module after ``sim.setup``.
        adjust_population: Called with each neuron Population after it is made.
        adjust_projection: Called with each Projection and its simulator delay in steps.
        connect: Makes one Projection ``(sim, pre, post, mask, weights, delay_steps, h,
            receptor, label)`` (weights ``(pre, post)`` in PyNN units); default: PyNN's
            ArrayConnector.
        set_spike_times: Sets a SpikeSourceArray's spike times (list of arrays, ms).
        split_signs: Positive and negative weights go to separate excitatory and inhibitory
            projections (PyNN rejects mixed signs). Brian2's synapses made by ``connect`` add
            the signed weight to the same variable either way (``v``, or the synaptic current
            whose excitatory and inhibitory time constants the tables set equal), so there one
            projection carries both signs: half the Brian2 objects to generate code for.
        workspace: Makes a context manager the network holds from its first build to
            ``close`` (e.g. sPyNNaker's temporary configuration); its ``setup_scope()`` is
            entered around each ``sim.setup``. None: nothing.
        executes: ``run`` simulates; False where the backend only maps (a virtual board).
        custom_cells: Cell type names of the tables that are not the module's own, each with
            the function that makes the type from the module.
        inject_analog: Makes analog inputs act ``(sim, built population, jump, native,
            first, h)``: ``jump`` (steps, cells) is the reference's membrane change of each step
            (None for exponential synapses), ``native`` the same input in native weight units,
            and simulator step ``first + t`` stands for reference step t; None: no analog
            inputs on this backend.
        analog_offset: ``first = start + depth + analog_offset`` (measured).
        analog_synapses: Synapse kinds (``CellMap.synapse``) analog inputs can enter.
    """

    name: str
    cells: dict[tuple[str, str], CellMap]
    native: bool
    weight_scale: float
    start_steps: int
    delay_offset: int
    prestart_offset: int
    voltage_offset: int
    synaptic_lag: dict[str, int]
    setup: Callable[[int], dict[str, Any]]
    prepare: Callable[[types.ModuleType, float], None] = _nothing
    adjust_population: Callable[[Any], None] = _nothing
    adjust_projection: Callable[[Any, int, float], None] = _nothing
    connect: Callable[..., Any] | None = None
    set_spike_times: Callable[[types.ModuleType, Any, list[np.ndarray]], None] | None = None
    split_signs: bool = True
    workspace: Callable[[], Any] | None = None
    executes: bool = True
    inject_analog: Callable[..., None] | None = None
    analog_offset: int = 0
    analog_synapses: frozenset[str] = frozenset()
    custom_cells: dict[str, Callable[[types.ModuleType], Any]] = dataclasses.field(
        default_factory=dict
    )

    def cell_model(self, sim: types.ModuleType, cells: CellMap) -> Any:
        if self.native:
            from ._network import _native_type

            return _native_type(sim, cells.model)
        if cells.model in self.custom_cells:
            return self.custom_cells[cells.model](sim)
        return getattr(sim, cells.model)

    def lag(self, kind: str) -> int:
        for (nir_type, _), cells in self.cells.items():
            if nir_type == kind:
                return self.synaptic_lag[cells.synapse]
        return 0


def _set_times_pynn(sim: types.ModuleType, population: Any, times: list[np.ndarray]) -> None:
    population.set(spike_times=[sim.Sequence(t.tolist()) for t in times])


def _nest_currents(
    sim: types.ModuleType,
    built: Any,
    jump: np.ndarray,
    native: np.ndarray,
    first: int,
    h: float,
) -> None:
    """One ``StepCurrentSource`` per neuron, amplitude ``jump / P30`` (the exact propagator of
    a constant current, :func:`current_propagator`), set at time ``(first + t) * h``: NEST
    applies an amplitude set at T in the step ending at T + h. A current needs a leak (P30 = 0
    without one), so leak-free neurons get ``tau_m = ANALOG_NO_LEAK_TAU``."""
    cells = built.cells
    tau = built.native[cells.tau_m]
    if np.any(tau > ANALOG_NO_LEAK_TAU):
        tau = np.minimum(tau, ANALOG_NO_LEAK_TAU)
        built.population.set(**{cells.tau_m: tau})
    name, unit_nf = cells.capacitance
    amplitudes = jump / current_propagator(tau, built.native[name] * unit_nf, h)
    times = (np.arange(jump.shape[0] + 1) + first) * h
    for i in np.flatnonzero(np.any(amplitudes != 0, axis=0)):
        source = sim.StepCurrentSource(times=times, amplitudes=np.append(amplitudes[:, i], 0.0))
        source.inject_into(built.population[i : i + 1])


NEST = Backend(
    name="nest",
    cells=CELL_MAPS,
    native=True,
    weight_scale=1e-3,
    # NEST cannot place a spike at t = 0 and PyNN shifts spike sources by one min_delay.
    start_steps=2,
    delay_offset=0,
    prestart_offset=-1,
    voltage_offset=0,
    synaptic_lag={"delta": 0, "exp": 1},
    setup=lambda threads: {"spike_precision": "on_grid", "threads": threads},
    set_spike_times=_set_times_pynn,
    inject_analog=_nest_currents,
    # a StepCurrentSource amplitude set at time T acts in the step ending at T + h (measured)
    analog_offset=-1,
    analog_synapses=frozenset({"delta"}),
)


# -- Brian2 -------------------------------------------------------------------------------------
#: Brian2 step order the converter sets: synaptic events first, then the state update, the
#: threshold test and the reset, as in the reference step (input, update, spike, reset).
BRIAN2_SCHEDULE = ["start", "synapses", "groups", "thresholds", "resets", "end"]


def _brian2_prepare(sim: types.ModuleType, h: float) -> None:
    import brian2

    # PyNN's spike sources run on Brian2's default clock, not on the network's.
    brian2.defaultclock.dt = h * brian2.ms
    if brian2.prefs.codegen.target == "auto":
        # The numpy target starts at once; "auto" would compile Cython (tens of seconds, and
        # a cache in the user's home).
        brian2.prefs.codegen.target = "numpy"
    sim.simulator.state.network.schedule = list(BRIAN2_SCHEDULE)


def _brian2_population(population: Any) -> None:
    """No refractoriness at all (PyNN passes ``tau_refrac = 0``, which Brian2 still treats as
    refractory until the next threshold test: synaptic input in the step after a spike would be
    dropped)."""
    group = population.brian2_group
    group._refractory = False
    group.thresholder["spike"].template_kwds["_uses_refractory"] = False


@functools.cache
def brian2_subtract_type(sim: types.ModuleType, name: str) -> Any:
    """PyNN's Brian2 standard type ``BRIAN2_SUBTRACT[name]`` whose reset subtracts the threshold.

    PyNN's Brian2 cell types name their equations and a Brian2 group class
    (``brian2_model``) that adds the threshold ``v > v_thresh`` and the reset ``v = v_reset``;
    this type keeps the equations, parameters and translations and swaps the group for one
    that resets by ``v = v - v_thresh``."""
    from pyNN.brian2.cells import BaseNeuronGroup

    class SubtractNeuronGroup(BaseNeuronGroup):  # type: ignore[misc]
        def __init__(self, n: int, equations: str, **parameters: Any) -> None:
            equations += """v_thresh : volt (constant)
                            v_reset  : volt (constant)"""
            super().__init__(n, equations, "v > v_thresh", reset="v = v - v_thresh", **parameters)

    base = getattr(sim, BRIAN2_SUBTRACT[name])
    return type(name, (base,), {"brian2_model": SubtractNeuronGroup})


def _brian2_connect(
    sim: types.ModuleType,
    pre: Any,
    post: Any,
    mask: np.ndarray,
    weights: np.ndarray,
    delay_steps: int,
    h: float,
    receptor: str,
    label: str,
) -> Any:
    """A Projection whose synapses are made in one vectorised call: PyNN 0.13's Brian2 backend
    connects and sets weights cell by cell (seconds per thousand synapses). Delays below one
    step (zero, see ``delay_offset``) are set on Brian2's Synapses, which accept them."""
    import brian2

    class _Deferred(sim.ArrayConnector):  # type: ignore[name-defined,misc]
        def connect(self, projection: Any) -> None:
            return None

    projection = sim.Projection(
        pre,
        post,
        _Deferred(mask),
        sim.StaticSynapse(weight=0.0, delay=h),
        receptor_type=receptor,
        label=label,
    )
    synapses = projection._brian2_synapses[0][0]
    i, j = np.nonzero(mask)
    if i.size:
        synapses.connect(i=i, j=j)
        unit = brian2.mV if getattr(post.celltype, "voltage_based_synapses", False) else brian2.nA
        synapses.weight = weights[i, j] * unit
        synapses.delay = delay_steps * h * brian2.ms
    projection._n_connections = int(i.size)
    return projection


def _brian2_inputs(
    sim: types.ModuleType,
    built: Any,
    jump: np.ndarray | None,
    native: np.ndarray,
    first: int,
    h: float,
) -> None:
    """Added to the state variable a synapse of the cell type writes (``v`` of a delta cell,
    the current ``ie`` of an exponential one) at the start of step ``first + t``, as a spike
    arriving then would be: a ``TimedArray`` read by a ``run_regularly`` operation in the
    ``start`` slot, vectorised (PyNN's current sources update cell by cell in Python)."""
    import brian2

    group = built.population.brian2_group
    variable = built.population.celltype.post_synaptic_variables["excitatory"]
    unit = brian2.mV if variable == "v" else brian2.nA
    table = np.zeros((first + native.shape[0] + 1, native.shape[1]))
    table[first : first + native.shape[0]] = native
    name = f"nirbridge_input_{group.name}"
    group.namespace[name] = brian2.TimedArray(table * unit, dt=h * brian2.ms)
    runner = group.run_regularly(f"{variable} += {name}(t, i)", when="start", name=name + "_op")
    sim.simulator.state.network.add(runner)


def _brian2_set_times(sim: types.ModuleType, population: Any, times: list[np.ndarray]) -> None:
    """PyNN 0.13's Brian2 ``SpikeSourceArray.set(spike_times=...)`` fails; set them directly."""
    import brian2

    indices = np.concatenate([np.full(len(t), i) for i, t in enumerate(times)] or [[]])
    flat = np.concatenate([np.asarray(t, dtype=float) for t in times] or [[]])
    order = np.lexsort((indices, flat))
    population.brian2_group.set_spikes(indices[order].astype(int), flat[order] * brian2.ms)


BRIAN2 = Backend(
    name="brian2",
    cells=BRIAN2_CELL_MAPS,
    native=False,
    weight_scale=1.0,
    start_steps=0,
    delay_offset=-1,
    prestart_offset=0,
    voltage_offset=1,
    synaptic_lag={"delta": 0, "exp": 0},
    setup=lambda threads: {},
    prepare=_brian2_prepare,
    adjust_population=_brian2_population,
    connect=_brian2_connect,
    set_spike_times=_brian2_set_times,
    split_signs=False,
    inject_analog=_brian2_inputs,
    analog_offset=0,
    analog_synapses=frozenset({"delta", "exp"}),
    custom_cells={n: functools.partial(brian2_subtract_type, name=n) for n in BRIAN2_SUBTRACT},
)


# -- NEURON -------------------------------------------------------------------------------------
def _neuron_projection(projection: Any, delay_steps: int, h: float) -> None:
    """NetCons accept delays below PyNN's minimum (zero, see ``delay_offset``)."""
    for connection in projection.connections:
        connection.nc.delay = delay_steps * h


NEURON = Backend(
    name="neuron",
    cells=NEURON_CELL_MAPS,
    native=False,
    weight_scale=1.0,
    start_steps=1,
    delay_offset=-1,
    prestart_offset=-1,
    voltage_offset=0,
    synaptic_lag={"delta": 0, "exp": 0},
    setup=lambda threads: {},
    adjust_projection=_neuron_projection,
    set_spike_times=_set_times_pynn,
)


# -- SpiNNaker (sPyNNaker, virtual board: mapping only) -------------------------------------------
def _spinnaker_connect(
    sim: types.ModuleType,
    pre: Any,
    post: Any,
    mask: np.ndarray,
    weights: np.ndarray,
    delay_steps: int,
    h: float,
    receptor: str,
    label: str,
) -> Any:
    """A Projection from a ``(pre, post, weight, delay)`` list, which sPyNNaker turns into its
    synaptic rows without a dense matrix (it takes the weights' magnitude; the receptor
    carries the sign)."""
    i, j = np.nonzero(mask)
    rows = np.column_stack([i, j, weights[i, j], np.full(i.size, delay_steps * h)])
    return sim.Projection(
        pre,
        post,
        sim.FromListConnector(rows),
        sim.StaticSynapse(),
        receptor_type=receptor,
        label=label,
    )


def _set_times_lists(sim: types.ModuleType, population: Any, times: list[np.ndarray]) -> None:
    population.set(spike_times=[t.tolist() for t in times])


#: Timing read from sPyNNaker's sources (``_standard_cells``), not measured: a spike sent in
#: step n with delay D enters the ring buffer of step n + D and acts in that step. No board runs
#: here, so ``executes`` is False and ``map_on_spinnaker`` maps instead of running.
SPINNAKER = Backend(
    name="spinnaker",
    cells=SPINNAKER_CELL_MAPS,
    native=False,
    weight_scale=1.0,
    start_steps=1,
    delay_offset=0,
    prestart_offset=-1,
    voltage_offset=0,
    synaptic_lag={"delta": 0, "exp": 0},
    setup=lambda threads: {},
    connect=_spinnaker_connect,
    set_spike_times=_set_times_lists,
    workspace=VirtualBoard,
    executes=False,
)

BACKENDS = {"nest": NEST, "brian2": BRIAN2, "neuron": NEURON, "spinnaker": SPINNAKER}


def backend_for(sim: types.ModuleType | str) -> Backend:
    """The backend row of a PyNN module (``pyNN.nest``, ``pyNN.spiNNaker``) or simulator
    name."""
    name = sim if isinstance(sim, str) else sim.__name__.rsplit(".", 1)[-1]
    name = name.lower()
    found = BACKENDS.get(name)
    if found is None:
        raise UnsupportedError(
            f"PyNN backend {name!r} is not supported (supported: {', '.join(BACKENDS)})",
            target=TARGET,
        )
    return found
