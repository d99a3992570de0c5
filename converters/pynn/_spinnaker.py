"""NIR on SpiNNaker through sPyNNaker, on a virtual board: mapping and fit, nothing executed.

:func:`map_on_spinnaker` builds the graph with :func:`to_pynn` on ``pyNN.spiNNaker`` (the
SpiNNaker row of ``_backends``, cell tables in ``_standard_cells``), lets sPyNNaker partition,
place and route it on a virtual board (:mod:`._spinnaker_board`), and reports the cores and chips
used, where each population went, the weight scales sPyNNaker chose, and what did not fit. The
design rules of :mod:`._spinnaker_rules` run first, on the plan alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import logging
import types
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import nir
import numpy as np

from nirbridge._converter import Issue
from nirbridge._errors import GraphError, NirBridgeError, UnsupportedError
from nirbridge.graph import INTEGRATORS, read_metadata, reset_mode, resolve_dt

from ._backends import SPINNAKER
from ._converter import NODE_TYPES
from ._plan import plan_network
from ._spinnaker_board import VirtualBoard
from ._spinnaker_rules import native_values, quantize_weights, spinnaker_rules

TARGET = "pynn-spinnaker"
#: Label prefix of sPyNNaker's own vertices (monitors, gatherers).
_SYSTEM = "SYSTEM"


@dataclasses.dataclass(frozen=True)
class MappingReport:
    """What sPyNNaker's mapping made of a graph on a virtual board.

    Attributes:
        board: Board version (5: SpiNN-5, 48 chips; 3: SpiNN-3, 4 chips).
        fits: Whether partitioning, placement and routing succeeded.
        cores: Cores the network's own vertices occupy (populations, spike sources, delay
            extensions); 0 when it did not fit.
        system_cores: Cores sPyNNaker's system vertices occupy (monitors).
        chips: Chips with at least one of the network's cores.
        board_cores: Application cores the virtual board offers.
        placements: Per PyNN population label: ``(x, y, core, first neuron, last neuron)``
            of each of its cores.
        delay_extension_cores: Cores added for delays beyond what a neuron core holds.
        weight_steps: Per neuron population and receptor: the weight step (nA) sPyNNaker's
            chosen ring-buffer shift gives.
        weight_error: Largest error of a synaptic weight after sPyNNaker's 16-bit encoding
            with those steps, relative to the largest weight of its population and receptor.
        weights_lost: Nonzero weights that encode as zero.
        issues: The design-rule findings (:func:`spinnaker_rules`), and the mapping error when
            it did not fit.
        failure: sPyNNaker's message when the mapping failed, else None.
    """

    board: int
    fits: bool
    cores: int
    system_cores: int
    chips: int
    board_cores: int
    placements: dict[str, list[tuple[int, int, int, int, int]]]
    delay_extension_cores: int
    weight_steps: dict[str, dict[str, float]]
    weight_error: float
    weights_lost: int
    issues: tuple[Issue, ...]
    failure: str | None = None

    def summary(self) -> str:
        """A few lines for people."""
        if not self.fits:
            return f"does not fit on a board of version {self.board}: {self.failure}"
        lines = [
            f"mapped on a virtual SpiNNaker board (version {self.board}): {self.cores} cores "
            f"on {self.chips} chips (+{self.system_cores} system cores; the board has "
            f"{self.board_cores} application cores)",
        ]
        for label, cores in self.placements.items():
            where = ", ".join(f"({x},{y},{p})" for x, y, p, _, _ in cores)
            lines.append(f"  {label}: {len(cores)} core(s) {where}")
        if self.delay_extension_cores:
            lines.append(f"  delay extensions: {self.delay_extension_cores} core(s)")
        lines.append(
            f"  16-bit weights: largest error {self.weight_error:.3g} of the largest weight, "
            f"{self.weights_lost} weight(s) encode as zero"
        )
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(lines)


def map_on_spinnaker(
    graph: nir.NIRGraph,
    *,
    dt: float | None = None,
    integrator: str | None = None,
    reset: str | None = "auto",
    steps: int = 1000,
    board: int = 5,
    boards: int | None = 1,
    approximate: bool = False,
    inputs: Mapping[str, np.ndarray] | None = None,
    progress: bool = False,
    sim: types.ModuleType | None = None,
) -> MappingReport:
    """Map ``graph`` onto a virtual SpiNNaker board with sPyNNaker; nothing is executed.

    Args:
        graph: The NIR graph.
        dt: Reference time step in seconds (default: the graph's metadata).
        integrator: "euler" (default) or "exact".
        reset: "auto", "subtract" or "zero" (SpiNNaker's standard cells reset to ``v_reset``).
        steps: Steps the mapping provisions recording memory for.
        board: Virtual board version (5: SpiNN-5, 48 chips; 3: SpiNN-3, 4 chips).
        boards: Boards of the virtual machine (SpiNN-5 only above 1); None: as many as the
            network needs (sPyNNaker sizes the machine).
        approximate: As :func:`to_pynn`.
        inputs: Spike inputs to load into the spike sources (they take memory), else none.
        progress: Show sPyNNaker's progress bars (they go to stdout).
        sim: ``pyNN.spiNNaker`` (imported here when None).

    Returns:
        A :class:`MappingReport`; ``fits`` is False, with sPyNNaker's message, when the
        network does not fit the board.

    Raises:
        UnsupportedError: a construct with no SpiNNaker form (named by node).
    """
    from ._convert import to_pynn

    sim = sim or _import_spinnaker()
    dt = resolve_dt(graph, dt)
    integrator = integrator or read_metadata(graph).integrator or "euler"
    mode = reset_mode(graph, reset)
    setup = {} if boards is None else {"n_boards_required": boards}
    backend = dataclasses.replace(
        SPINNAKER, workspace=lambda: VirtualBoard(board), setup=lambda threads: setup
    )
    plan = plan_network(graph, synaptic_lag=backend.lag, approximate=approximate)
    native_values(plan, dt, integrator, mode)  # a neuron without a SpiNNaker form, by name
    issues = [
        *[Issue("warning", a) for a in plan.approximations],
        *spinnaker_rules(plan, dt=dt, integrator=integrator, reset=mode),
    ]
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        first = errors[0]
        raise UnsupportedError(f"{first.message} [{first.rule}]", node=first.node, target=TARGET)
    from pacman.exceptions import PacmanException
    from spinn_front_end_common.utilities.exceptions import SpinnFrontEndException
    from spinn_machine.exceptions import SpinnMachineException

    with _quiet(progress):
        net = to_pynn(
            graph,
            sim,
            dt=dt,
            integrator=integrator,
            reset=mode,
            approximate=approximate,
            backend=backend,
        )
        try:
            if inputs:
                _load_inputs(net, inputs, steps)
            try:
                sim.run((steps + net.backend.start_steps + plan.max_depth + 1) * net.h)
            except (PacmanException, SpinnFrontEndException, SpinnMachineException) as exc:
                # (its pointer to a report in the temporary directory would outlive the file)
                message = f"{type(exc).__name__}: {exc}".split(" Report written to")[0].strip()
                return MappingReport(
                    board,
                    False,
                    0,
                    0,
                    0,
                    _board_cores(),
                    {},
                    0,
                    {},
                    float("nan"),
                    0,
                    (*issues, Issue("error", message, rule="spinnaker.fit")),
                    message,
                )
            return _report(net, board, tuple(issues))
        finally:
            net.close()


def _report(net: Any, board: int, issues: tuple[Issue, ...]) -> MappingReport:
    from spinn_front_end_common.data import FecDataView

    own = set(net.populations) | {"bias"}
    placements: dict[str, list[tuple[int, int, int, int, int]]] = {}
    system = delay_cores = 0
    chips = set()
    for placement in FecDataView.iterate_placemements():
        vertex = placement.vertex
        app = getattr(vertex, "app_vertex", None)
        label = app.label if app is not None else vertex.label
        if label is None or label.startswith(_SYSTEM):
            system += 1
            continue
        chips.add((placement.x, placement.y))
        if label not in own:
            delay_cores += 1  # a delay extension of a population
            continue
        lo, hi = vertex.vertex_slice.lo_atom, vertex.vertex_slice.hi_atom
        placements.setdefault(label, []).append((placement.x, placement.y, placement.p, lo, hi))
    steps, error, lost = _weight_steps(net)
    cores = sum(len(v) for v in placements.values()) + delay_cores
    return MappingReport(
        board,
        True,
        cores,
        system,
        len(chips),
        _board_cores(),
        placements,
        delay_cores,
        steps,
        error,
        lost,
        issues,
    )


def _weight_steps(net: Any) -> tuple[dict[str, dict[str, float]], float, int]:
    """Weight steps from the ring-buffer shifts sPyNNaker chose; the largest error of the
    network's synaptic weights (from the plan) encoded with them, relative to the largest
    weight of the same population and receptor; how many weights encode as zero."""
    steps: dict[str, dict[str, float]] = {}
    worst = 0.0
    lost = 0
    for name, population in net.populations.items():
        vertex = population._vertex
        if not hasattr(vertex, "get_ring_buffer_shifts"):
            continue  # a spike source
        scales = vertex.get_weight_scales(vertex.get_ring_buffer_shifts())
        steps[name] = {"excitatory": 1.0 / float(scales[0]), "inhibitory": 1.0 / float(scales[1])}
    incoming: dict[str, list[np.ndarray]] = {name: [] for name in steps}
    for proj in net.plan.projections:
        w = proj.weights.tocoo()
        incoming[proj.target].append(w.data * net._gains[proj.target][w.row])
    for name, arrays in incoming.items():
        w = np.concatenate(arrays) if arrays else np.zeros(0)
        for receptor, part in (("excitatory", w[w > 0]), ("inhibitory", -w[w < 0])):
            if part.size:
                q = quantize_weights(part, steps[name][receptor])
                worst = max(worst, float(np.max(np.abs(q - part)) / part.max()))
                lost += int(np.sum(q == 0))
    return steps, worst, lost


def _board_cores() -> int:
    from spinn_front_end_common.data import FecDataView

    if not FecDataView.has_machine():
        return 0
    machine = FecDataView.get_machine()
    return sum(chip.n_placable_processors for chip in machine.chips)


def _load_inputs(net: Any, inputs: Mapping[str, np.ndarray], steps: int) -> None:
    arrays, steps, _ = net._check_inputs(inputs, steps)
    start = net.backend.start_steps
    for name, x in arrays.items():
        times = [(np.flatnonzero(x[:, i]) + start) * net.h for i in range(x.shape[1])]
        net.backend.set_spike_times(net.sim, net.populations[name], times)
    if net._bias is not None:
        net.backend.set_spike_times(net.sim, net._bias, [(np.arange(steps) + start) * net.h])


@contextlib.contextmanager
def _quiet(progress: bool) -> Iterator[None]:
    """sPyNNaker prints progress bars and logs each algorithm at INFO."""
    loggers = [
        logging.getLogger(n)
        for n in (
            "spinn_utilities",
            "spinn_front_end_common",
            "spynnaker",
            "pacman",
            "spinnman",
            "spinn_machine",
        )
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    sinks = contextlib.ExitStack()
    if not progress:  # progress bars go to stderr, a few messages to stdout
        sinks.enter_context(contextlib.redirect_stdout(io.StringIO()))
        sinks.enter_context(contextlib.redirect_stderr(io.StringIO()))
    try:
        with sinks, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _import_spinnaker() -> types.ModuleType:
    try:
        return importlib.import_module("pyNN.spiNNaker")
    except ImportError as exc:
        raise UnsupportedError(
            f"sPyNNaker is not installed ({exc}); install: pip install 'nirbridge[spinnaker]'",
            target=TARGET,
        ) from exc


class SpinnakerConverter:
    """``from_nir`` maps the graph onto a virtual SpiNNaker board and returns the
    :class:`MappingReport` (nothing runs: there is no board); ``check`` runs the design rules."""

    name = TARGET
    kind = "simulator"
    node_types = NODE_TYPES - {"IF", "I"}

    def check(self, graph: nir.NIRGraph, **options: Any) -> list[Issue]:
        try:
            dt = resolve_dt(graph, options.get("dt"))
            integrator = options.get("integrator") or read_metadata(graph).integrator or "euler"
            if integrator not in INTEGRATORS:
                return [Issue("error", f"unknown integrator {integrator!r}")]
            mode = reset_mode(graph, options.get("reset", "auto"))
            plan = plan_network(
                graph,
                synaptic_lag=SPINNAKER.lag,
                approximate=options.get("approximate", False),
            )
        except (UnsupportedError, GraphError) as exc:
            return [Issue("error", str(exc), node=getattr(exc, "node", None))]
        except NirBridgeError as exc:
            return [Issue("error", str(exc))]
        return [
            *[Issue("warning", a) for a in plan.approximations],
            *spinnaker_rules(plan, dt=dt, integrator=integrator, reset=mode),
        ]

    def from_nir(self, graph: nir.NIRGraph, **options: Any) -> MappingReport:
        return map_on_spinnaker(graph, **options)

    def to_nir(self, obj: Any, **options: Any) -> nir.NIRGraph:
        raise UnsupportedError("a SpiNNaker mapping cannot be read back to NIR", target=TARGET)
