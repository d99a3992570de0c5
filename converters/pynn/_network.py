"""Building and running a planned network on a PyNN backend passed in by the caller."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import types
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from nirbridge._errors import UnsupportedError
from nirbridge.graph import NODE_SPECS
from nirbridge.reference import check_inputs

from ._backends import NEST, Backend
from ._cells import CellMap, Ctx, cell_map
from ._plan import NetworkPlan, PopulationPlan

TARGET = "pynn"
#: NEST's start offset (kept for callers; each backend has its own, see ``_backends``).
START_STEPS = NEST.start_steps


@dataclasses.dataclass
class BuiltPopulation:
    plan: PopulationPlan
    cells: CellMap | None
    population: Any
    lag: int  # steps the population's activity lags the reference (its depth + start offset)
    native: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


class PyNNNetwork:
    """A NIR graph built on a PyNN simulator; runs in the reference's IN/OUT contract.

    Use as a context manager (``sim.end()`` on exit) or call :meth:`close`.

    Attributes:
        sim: The PyNN backend module.
        plan: The simulator-independent plan (populations, projections, output lags).
        populations: PyNN Population per NIR node name (Inputs included).
        projections: PyNN Projections per ``"source->target"``, excitatory and inhibitory.
    """

    def __init__(
        self,
        plan: NetworkPlan,
        sim: types.ModuleType,
        *,
        dt: float,
        integrator: str,
        reset: str,
        h: float = 1.0,
        progress: bool = False,
        setup: dict[str, Any] | None = None,
        backend: Backend = NEST,
    ) -> None:
        self.plan = plan
        self.backend = backend
        self._setup = setup
        self.sim = sim
        self.dt = dt
        self.h = h
        self.integrator = integrator
        self.reset = reset
        self._runs = 0
        self._analog: frozenset[str] = frozenset()  # Inputs built as current sources
        self._built: dict[str, BuiltPopulation] = {}
        self.populations: dict[str, Any] = {}
        self.projections: dict[str, list[Any]] = {}
        self._progress = progress
        self._resources = contextlib.ExitStack()
        self._workspace = None
        if backend.workspace is not None:
            self._workspace = self._resources.enter_context(backend.workspace())
        try:
            self._build(progress)
        except BaseException:
            self._resources.close()
            raise

    # -- construction -------------------------------------------------------------------------
    def _build(self, progress: bool) -> None:
        sim = self.sim
        if self._setup is not None:
            scope = self._workspace.setup_scope() if self._workspace else contextlib.nullcontext()
            with scope:
                sim.setup(**self._setup)
        self.backend.prepare(sim, self.h)
        self._gains: dict[str, np.ndarray] = {}
        pops = list(self.plan.populations.values())
        bar = tqdm(
            total=len(pops) + len(self.plan.projections) + 1,
            desc="building",
            disable=not progress,
            unit="item",
        )
        for pop in pops:
            if pop.kind == "Input":
                population = sim.Population(
                    pop.size, sim.SpikeSourceArray(spike_times=[]), label=pop.name
                )
                built = BuiltPopulation(pop, None, population, pop.depth)
            else:
                built = self._neuron_population(pop)
            self._built[pop.name] = built
            self.populations[pop.name] = built.population
            bar.update()
        self._bias = None
        for pop in pops:
            if pop.kind == "Input":
                continue
            built = self._built[pop.name]
            lag = self.plan.synaptic_lag[pop.name]
            drive = (
                built.cells.drive(_nir_params(pop), self._ctx(pop))
                if built.cells.drive is not None
                else 0.0
            )
            # Bias inputs: a source firing every step from the first, at depth 0 like an Input;
            # biases behind a back edge start one step later.
            # (the back-edge one is kept as "bias-><name>:recurrent")
            biases = ((pop.bias, 0, drive, ""), (pop.recurrent_bias, 1, 0.0, ":recurrent"))
            for bias, extra_delay, extra, suffix in biases:
                native = bias * self._gains[pop.name] + extra
                if not np.any(native != 0):
                    continue
                if self._bias is None:
                    self._bias = sim.Population(
                        1, sim.SpikeSourceArray(spike_times=[]), label="bias"
                    )
                self._connect(
                    "bias",
                    self._bias,
                    pop.name,
                    native[None, :],
                    pop.depth - lag + extra_delay,
                    native_units=True,
                    suffix=suffix,
                )
        bar.update()
        for proj in self.plan.projections:
            if proj.source in self._analog:
                continue  # current sources, set in run
            dense = proj.weights.toarray().T  # (pre, post)
            self._connect(
                proj.source, self.populations[proj.source], proj.target, dense, proj.delay
            )
            bar.update()
        bar.close()
        for out in self.plan.outputs.values():
            built = self._built[out.source]
            variable = "spikes" if built.plan.spiking else built.cells.voltage
            built.population.record(variable)

    def _neuron_population(self, pop: PopulationPlan) -> BuiltPopulation:
        backend = self.backend
        cells = cell_map(pop.kind, self.reset, pop.name, backend.cells, backend.name)
        params = _nir_params(pop)
        ctx = self._ctx(pop)
        native = cells.native_parameters(params, ctx)
        model = backend.cell_model(self.sim, cells)
        v0 = self._initial_voltage(pop, cells, native)
        with warnings.catch_warnings(), _quiet_logger("PyNN"):
            warnings.simplefilter("ignore")
            population = self.sim.Population(pop.size, model(**native), label=pop.name)
            population.initialize(**{cells.voltage: v0})
            backend.adjust_population(population)
        self._gains[pop.name] = cells.gain(params, ctx)
        return BuiltPopulation(pop, cells, population, pop.depth, native)

    def _initial_voltage(self, pop: PopulationPlan, cells: CellMap, native: dict) -> Any:
        """V_m at time 0 such that the membrane is at 0 when the network's first step begins.

        A population at depth d is updated ``k = start + d + prestart_offset`` times before the
        reference's first step; with a leak towards ``E_L != 0`` it would drift meanwhile, so it
        starts where that drift ends at 0: ``E_L * (1 - P**-k)``."""
        e_l = native.get(cells.rest)
        if e_l is None or not np.any(e_l != 0):
            return 0.0
        k = self.backend.start_steps + pop.depth + self.backend.prestart_offset
        decay = np.exp(-self.h / native[cells.tau_m])
        v0 = e_l * (1.0 - decay ** (-k))
        if np.any(v0 >= native.get(cells.threshold, np.inf)):
            raise UnsupportedError(
                "the leak potential would make the neuron fire before the network starts; "
                "cannot align this population with the reference",
                node=pop.name,
                target=TARGET,
            )
        return v0

    def _ctx(self, pop: PopulationPlan) -> Ctx:
        return Ctx(self.dt, self.h, self.integrator, pop.name)

    def _connect(
        self,
        source: str,
        pre: Any,
        target: str,
        weights: np.ndarray,
        delay_steps: int,
        *,
        native_units: bool = False,
        suffix: str = "",
    ) -> None:
        """Projections from ``pre`` to ``target`` with weights ``(pre, post)`` in the units of
        the NIR node's input (or already native, with ``native_units``), kept in
        ``projections`` under ``"source->target"`` plus ``suffix``."""
        built = self._built[target]
        if not native_units:
            weights = weights * self._gains[target][None, :]
        native = weights * self.backend.weight_scale
        label = f"{source}->{target}{suffix}"
        made = []
        sim_delay = delay_steps + self.backend.delay_offset
        pynn_delay = max(sim_delay, 1)
        groups = (("excitatory", native > 0), ("inhibitory", native < 0))
        if not self.backend.split_signs:
            groups = (("excitatory", native != 0),)
        for receptor, mask in groups:
            if not mask.any():
                continue
            if self.backend.connect is not None:
                made.append(
                    self.backend.connect(
                        self.sim,
                        pre,
                        built.population,
                        mask,
                        np.where(mask, native, 0.0),
                        sim_delay,
                        self.h,
                        receptor,
                        f"{label}:{receptor}",
                    )
                )
                continue
            connector = self.sim.ArrayConnector(mask)
            synapse = self.sim.StaticSynapse(
                weight=np.where(mask, native, 0.0), delay=pynn_delay * self.h
            )
            projection = self.sim.Projection(
                pre,
                built.population,
                connector,
                synapse,
                receptor_type=receptor,
                label=f"{label}:{receptor}",
            )
            if sim_delay != pynn_delay:
                self.backend.adjust_projection(projection, sim_delay, self.h)
            made.append(projection)
        self.projections[label] = made

    # -- running ------------------------------------------------------------------------------
    def run(
        self, inputs: Mapping[str, np.ndarray], steps: int | None = None
    ) -> dict[str, np.ndarray]:
        """Run on ``inputs`` (Input name -> ``(steps, *shape)``); return each Output's activity
        ``(steps, *shape)`` in reference timing (spikes 0/1, or voltages).

        An Input whose values are all 0 or 1 drives spike sources; any other (analog) Input
        enters each neuron it projects to in the step it belongs to, through the composed
        weights: as a step current source per neuron (NEST, delta-synapse neurons) or added to
        the state directly (Brian2, delta and exponential synapses); elsewhere an error names
        the node."""
        arrays, steps, analog = self._check_inputs(inputs, steps)
        if not self.backend.executes:
            raise UnsupportedError(
                f"the {self.backend.name} backend maps the network but cannot run it here (a "
                "virtual board); use map_on_spinnaker for the mapping report",
                target=TARGET,
            )
        if self._runs or analog != self._analog:
            # NEST cannot reset a network's state through PyNN: build it afresh.
            if self._setup is None:
                raise UnsupportedError(
                    "a second run needs a fresh network; build with setup=True (the default)",
                    target=TARGET,
                )
            self.sim.end()
            self._built.clear()
            self.populations.clear()
            self.projections.clear()
            self._analog = analog
            self._build(self._progress)
        start = self.backend.start_steps
        set_times = self.backend.set_spike_times
        for name, x in arrays.items():
            if name in analog:
                continue
            times = [(np.flatnonzero(x[:, i]) + start) * self.h for i in range(x.shape[1])]
            set_times(self.sim, self.populations[name], times)
        self._inject_analog(arrays, steps)
        if self._bias is not None:
            set_times(self.sim, self._bias, [(np.arange(steps) + start) * self.h])
        max_lag = max((b.lag for b in self._built.values()), default=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.sim.run((steps + start + max_lag + 1) * self.h)
        self._runs += 1
        return {name: self._read(out, steps) for name, out in self.plan.outputs.items()}

    def _inject_analog(self, arrays: dict[str, np.ndarray], steps: int) -> None:
        """Analog inputs: per target population, the composed input of each step (no synaptic
        delay: the depth is kept as is) goes to the backend's ``inject_analog`` together with
        the first simulator step, ``start + depth + analog_offset``, that stands for reference
        step 0 of the population."""
        totals: dict[str, np.ndarray] = {}
        for proj in self.plan.projections:
            if proj.source not in self._analog:
                continue
            drive = np.asarray(proj.weights @ arrays[proj.source].T).T  # (steps, post)
            totals[proj.target] = totals.get(proj.target, 0.0) + drive
        for target, drive in totals.items():
            built = self._built[target]
            first = self.backend.start_steps + built.plan.depth + self.backend.analog_offset
            jump = None
            if built.cells.current is not None:
                jump = drive * built.cells.current(_nir_params(built.plan), self._ctx(built.plan))
            native = drive * self._gains[target] * self.backend.weight_scale
            self.backend.inject_analog(self.sim, built, jump, native, first, self.h)

    def _read(self, out: Any, steps: int) -> np.ndarray:
        built = self._built[out.source]
        size = built.plan.size
        offset = self.backend.start_steps + built.lag
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            block = built.population.get_data()
        segment = block.segments[-1]
        result = np.zeros((steps, size))
        if built.plan.spiking:
            for train in segment.spiketrains:
                index = int(train.annotations["source_index"])
                t = np.rint(np.asarray(train.magnitude) / self.h).astype(int) - offset
                t = t[(t >= 0) & (t < steps)]
                result[t, index] = 1.0
        else:
            signal = segment.filter(name=built.cells.voltage)[0]
            v = np.asarray(signal.magnitude)
            idx = np.arange(steps) + offset + self.backend.voltage_offset
            ok = idx < v.shape[0]
            result[ok] = v[idx[ok]]
        return result.reshape(steps, *out.shape)

    def _check_inputs(
        self, inputs: Mapping[str, np.ndarray], steps: int | None
    ) -> tuple[dict[str, np.ndarray], int, frozenset[str]]:
        """The reference's checks (:func:`check_inputs`); then ``(steps, cells)`` per Input,
        the steps, and the analog Inputs (values other than 0/1), each checked for current
        sources: the backend must have them and every neuron it feeds a delta synapse."""
        shapes = {p.name: p.shape for p in self.plan.populations.values() if p.kind == "Input"}
        arrays, steps, _ = check_inputs(inputs, shapes, steps)
        flat = {}
        analog = set()
        for name, x in arrays.items():
            x = x[:, 0].reshape(steps, -1)
            flat[name] = x
            if np.all((x == 0) | (x == 1)):
                continue
            analog.add(name)
            if self.backend.inject_analog is None:
                raise UnsupportedError(
                    f"analog (non-spike) inputs need current sources or direct state input, "
                    f"which the {self.backend.name} backend does not support here; give spikes "
                    "(0/1 per step)",
                    node=name,
                    target=TARGET,
                )
            for proj in self.plan.projections:
                if proj.source != name:
                    continue
                target = self.plan.populations[proj.target]
                cells = cell_map(
                    target.kind, self.reset, target.name, self.backend.cells, self.backend.name
                )
                if cells.synapse not in self.backend.analog_synapses:
                    raise UnsupportedError(
                        f"the analog input {name!r} would enter {self.backend.name}'s "
                        f"{cells.model} as a current source, which bypasses the {target.kind}'s "
                        "synaptic current; give spikes, or feed an LIF/IF/LI/I node",
                        node=target.name,
                        target=TARGET,
                    )
        return flat, steps, frozenset(analog)

    def close(self) -> None:
        """End the simulation (``sim.end()``) and release the backend's workspace."""
        try:
            self.sim.end()
        finally:
            self._resources.close()

    def __enter__(self) -> PyNNNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """PyNN logs a warning for each native state variable NEST will not initialise (eprop_iaf's
    learning_signal...); those are not ours to set. Silence that logger while building."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _native_type(sim: types.ModuleType, name: str) -> Any:
    """``sim.native_cell_type(name)`` without boolean defaults, which PyNN passes back to NEST
    as numpy booleans that NEST 3.10 rejects (e.g. ``ignore_and_spike`` of ``eprop_iaf``)."""
    model = sim.native_cell_type(name)
    booleans = [k for k, v in model.default_parameters.items() if isinstance(v, (bool, np.bool_))]
    if booleans:
        model = type(
            model.__name__,
            (model,),
            {
                "default_parameters": {
                    k: v for k, v in model.default_parameters.items() if k not in booleans
                },
            },
        )
    return model


def _nir_params(pop: PopulationPlan) -> dict[str, np.ndarray]:
    """The node's float parameters, broadcast to the population and flattened (C order)."""
    out = {}
    for field in NODE_SPECS[pop.kind]:
        if field.kind != "float":
            continue
        value = getattr(pop.node, field.name, None)
        if value is None:
            continue
        out[field.name] = np.broadcast_to(np.asarray(value, dtype=np.float64), pop.shape).ravel()
    return out
