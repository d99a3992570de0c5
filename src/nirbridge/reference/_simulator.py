"""The reference simulator: SEMANTICS.md in numpy, the oracle every backend is tested against."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import nir
import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from .._errors import SimulationInputError, UnsupportedError
from ..graph import (
    INTEGRATORS,
    LINEAR_TYPES,
    NEURON_TYPES,
    _linear,
    infer_shapes,
    inline_subgraphs,
    read_metadata,
    reset_mode,
    resolve_dt,
    schedule,
    time_scale,
    type_name,
    validate,
)
from ._neurons import NeuronStep, prepare_neuron

#: Affine/Linear nodes fed only by spiking nodes multiply a sparse (CSR) matrix of this step's
#: spikes with the weights, adding one weight row per spike, when at most this fraction of the
#: inputs is nonzero; above it, the dense product is faster.
EVENT_DENSITY = 0.25


@dataclasses.dataclass(frozen=True)
class SimulationResult:
    """Outputs of a run.

    Attributes:
        outputs: Output node name -> array ``(steps, *shape)`` (``(steps, batch, *shape)`` when
            the run was batched), in reference timing: entry t is the output of step t+1.
        recorded: Recorded node outputs and states: ``"node"`` or ``"node.state"`` -> array of the
            same layout.
        dt: Time step used, seconds.
        integrator: Integrator used.
        reset: Reset mode used.
    """

    outputs: dict[str, np.ndarray]
    recorded: dict[str, np.ndarray]
    dt: float
    integrator: str
    reset: str


class ReferenceSimulator:
    """Steps a NIR graph exactly as SEMANTICS.md defines.

    Args:
        graph: The NIR graph (nested subgraphs are inlined with dotted names).
        dt: Time step in seconds; default: the graph's ``nirbridge.dt`` metadata, else an error.
        integrator: "euler" (default) or "exact"; default: the graph's metadata, else euler.
        reset: "auto" (default: metadata, then file version), "subtract" or "zero".
        time_unit: Unit of the graph's time constants ("s", "ms", "us"); default: metadata,
            else seconds.
        event_driven: Accumulate weight rows per spike where inputs are sparse spikes (same
            result up to float rounding order; switch off to use dense products only).

    Example:
        >>> sim = ReferenceSimulator(nirbridge.read("lif.nir"), dt=1e-4)
        >>> out = sim.run({"input": x}).outputs["output"]
    """

    def __init__(
        self,
        graph: nir.NIRGraph,
        *,
        dt: float | None = None,
        integrator: str | None = None,
        reset: str | None = "auto",
        time_unit: str | None = None,
        event_driven: bool = True,
    ) -> None:
        meta = read_metadata(graph)
        self.dt = resolve_dt(graph, dt)
        self.integrator = integrator or meta.integrator or "euler"
        if self.integrator not in INTEGRATORS:
            raise UnsupportedError(
                f"unknown integrator {self.integrator!r}; expected one of {INTEGRATORS}"
            )
        self.reset = reset_mode(graph, reset)
        validate(graph, reset=self.reset)
        self.graph = inline_subgraphs(graph)
        self.shapes = infer_shapes(self.graph)
        self.plan = schedule(self.graph)
        self.event_driven = event_driven
        scale = time_scale(graph, time_unit)
        self._initial = meta.initial_state
        self.inputs = [n for n in self.plan.order if type_name(self.graph.nodes[n]) == "Input"]
        self.outputs = [n for n in self.graph.nodes if type_name(self.graph.nodes[n]) == "Output"]
        self._neurons: dict[str, NeuronStep] = {}
        self._spiking: set[str] = set()
        self._delays: dict[str, np.ndarray] = {}
        self._weights_t: dict[str, np.ndarray] = {}
        for name in self.plan.order:
            node = self.graph.nodes[name]
            kind = type_name(node)
            if kind in NEURON_TYPES:
                step = prepare_neuron(
                    node,
                    self.shapes[name],
                    dt=self.dt,
                    time_scale=scale,
                    integrator=self.integrator,
                    reset=self.reset,
                )
                self._neurons[name] = step
                if step.spiking:
                    self._spiking.add(name)
            elif kind == "Threshold":
                self._spiking.add(name)
            elif kind == "Delay":
                steps = np.rint(np.asarray(node.delay, dtype=np.float64) * scale / self.dt)
                self._delays[name] = np.broadcast_to(steps.astype(np.int64), self.shapes[name])
            elif kind in ("Affine", "Linear"):
                self._weights_t[name] = np.ascontiguousarray(
                    np.asarray(node.weight, dtype=np.float64).T
                )
        self._event_fed = {
            name
            for name in self._weights_t
            if self.plan.forward[name] or self.plan.delayed[name]
            if all(p in self._spiking for p in self.plan.forward[name] + self.plan.delayed[name])
        }

    def run(
        self,
        inputs: Mapping[str, np.ndarray],
        steps: int | None = None,
        *,
        batched: bool = False,
        record: Iterable[str] = (),
        progress: bool = False,
    ) -> SimulationResult:
        """Run the graph.

        Args:
            inputs: Input node name -> array ``(steps, *shape)``, or ``(steps, batch, *shape)``
                when ``batched``. A spike is the value 1 in its step.
            steps: Number of steps; default: the inputs' length. Longer runs pad the inputs
                with zeros, shorter ones cut them.
            batched: Whether the arrays carry a batch dimension after time.
            record: Node names (their outputs) and ``"node.state"`` names (e.g. ``"lif1.v"``)
                to record every step.
            progress: Show a progress bar.

        Raises:
            SimulationInputError: inputs missing, unknown, of the wrong shape or not finite.
        """
        xs, steps, batch = self._check_inputs(inputs, steps, batched)
        record = list(record)
        for key in record:
            base, _, state = key.rpartition(".") if key not in self.graph.nodes else (key, "", "")
            if key in self.graph.nodes:
                continue
            if base not in self._neurons or state not in self._neurons[base].states:
                raise SimulationInputError(
                    f"cannot record {key!r}: expected a node name or '<neuron>.<state>' with "
                    f"state in the neuron's states"
                )
        states = {
            name: step.init(batch, self._initial.get(name)) for name, step in self._neurons.items()
        }
        buffers = {
            name: np.zeros((int(d.max(initial=0)) + 1, batch, *self.shapes[name]))
            for name, d in self._delays.items()
        }
        out_arrays = {
            n: np.zeros((steps, batch, *self.shapes[n]), dtype=np.float64) for n in self.outputs
        }
        rec_arrays: dict[str, np.ndarray] = {}
        for key in record:
            shape = self.shapes[key] if key in self.shapes else self.shapes[key.rpartition(".")[0]]
            rec_arrays[key] = np.zeros((steps, batch, *shape))
        delayed_sources = {p for ps in self.plan.delayed.values() for p in ps}
        previous = {n: np.zeros((batch, *self.shapes[n])) for n in delayed_sources}
        nodes = self.graph.nodes
        iterator = tqdm(range(steps), desc="reference", unit="step", disable=not progress)
        for t in iterator:
            current: dict[str, np.ndarray] = {}
            for name in self.plan.order:
                node = nodes[name]
                kind = type_name(node)
                if kind == "Input":
                    current[name] = xs[name][t]
                    continue
                x = self._gather(name, current, previous, batch)
                if name in self._neurons:
                    y, states[name] = self._neurons[name].step(states[name], x)
                elif name in self._weights_t:
                    y = self._matmul(name, node, x)
                elif kind in LINEAR_TYPES:
                    y = _linear.apply(node, name, x)
                elif kind == "Threshold":
                    y = (x > np.asarray(node.threshold, dtype=np.float64)).astype(np.float64)
                elif kind == "Delay":
                    buf = buffers[name]
                    slots = buf.shape[0]
                    buf[t % slots] = x
                    index = (t - self._delays[name]) % slots
                    y = np.take_along_axis(buf, index[None, None, ...].repeat(batch, 1), 0)[0]
                elif kind in ("Output", "Identity"):
                    y = x
                else:  # validate() admits only the types above
                    raise UnsupportedError(f"cannot simulate {kind}", node=name, target="reference")
                current[name] = y
            for n in self.outputs:
                out_arrays[n][t] = current[n].reshape(out_arrays[n].shape[1:])
            for key, arr in rec_arrays.items():
                arr[t] = (
                    current[key]
                    if key in current
                    else states[key.rpartition(".")[0]][key.rpartition(".")[2]]
                )
            for n in delayed_sources:
                previous[n] = current[n]
        squeeze = (lambda a: a[:, 0]) if not batched else (lambda a: a)
        return SimulationResult(
            outputs={k: squeeze(v) for k, v in out_arrays.items()},
            recorded={k: squeeze(v) for k, v in rec_arrays.items()},
            dt=self.dt,
            integrator=self.integrator,
            reset=self.reset,
        )

    def _gather(
        self,
        name: str,
        current: dict[str, np.ndarray],
        previous: dict[str, np.ndarray],
        batch: int,
    ) -> np.ndarray:
        total: Any = None
        for p in self.plan.forward[name]:
            total = current[p] if total is None else total + current[p]
        for p in self.plan.delayed[name]:
            total = previous[p] if total is None else total + previous[p]
        return total

    def _matmul(self, name: str, node: nir.NIRNode, x: np.ndarray) -> np.ndarray:
        wt = self._weights_t[name]
        bias = getattr(node, "bias", None)
        y = None
        if self.event_driven and name in self._event_fed and x.ndim == 2:
            counts = np.count_nonzero(x, axis=1)
            if counts.sum() <= EVENT_DENSITY * x.size:
                b, j = np.nonzero(x)
                events = sp.csr_matrix(
                    (x[b, j], j, np.concatenate(([0], np.cumsum(counts)))), shape=x.shape
                )
                y = np.asarray(events @ wt)
        if y is None:
            y = x @ wt
        return y if bias is None else y + np.asarray(bias, dtype=np.float64)

    def _check_inputs(
        self, inputs: Mapping[str, np.ndarray], steps: int | None, batched: bool
    ) -> tuple[dict[str, np.ndarray], int, int]:
        return check_inputs(
            inputs, {n: self.shapes[n] for n in self.inputs}, steps, batched=batched
        )


def check_inputs(
    inputs: Mapping[str, np.ndarray],
    shapes: Mapping[str, tuple[int, ...]],
    steps: int | None = None,
    *,
    batched: bool = False,
) -> tuple[dict[str, np.ndarray], int, int]:
    """Check inputs against the Input nodes (name -> shape) in the IN contract.

    Returns:
        Per Input, a float64 array ``(steps, batch, *shape)`` (padded with zeros or cut to
        ``steps``), the number of steps and the batch size.

    Raises:
        SimulationInputError: inputs missing, unknown, of the wrong shape, length or batch, or not
            finite.
    """
    names = list(shapes)
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise SimulationInputError(
            f"inputs {unknown} name no Input node; the graph's Input nodes are {names}"
        )
    missing = [n for n in names if n not in inputs]
    if missing:
        raise SimulationInputError(
            f"no input given for Input node(s) {missing}: give an array of shape "
            f"(steps, *shape) for each (shapes: "
            f"{ {n: shapes[n] for n in missing} })"
        )
    arrays: dict[str, np.ndarray] = {}
    lengths = set()
    batches = set()
    for name in names:
        arr = np.asarray(inputs[name])
        if arr.dtype.kind not in "biuf":
            raise SimulationInputError(f"input {name!r}: expected numbers, got {arr.dtype}")
        arr = arr.astype(np.float64)
        shape = shapes[name]
        lead = 2 if batched else 1
        if arr.ndim != lead + len(shape) or tuple(arr.shape[lead:]) != shape:
            layout = "(steps, batch, *shape)" if batched else "(steps, *shape)"
            raise SimulationInputError(
                f"input {name!r}: expected an array {layout} with shape {shape}, got {arr.shape}"
            )
        if not np.isfinite(arr).all():
            raise SimulationInputError(f"input {name!r}: contains NaN or inf")
        if not batched:
            arr = arr[:, None]
        lengths.add(arr.shape[0])
        batches.add(arr.shape[1])
        arrays[name] = arr
    if len(lengths) > 1 or len(batches) > 1:
        raise SimulationInputError(
            f"inputs differ in length or batch size: "
            f"{ {n: a.shape[:2] for n, a in arrays.items()} }"
        )
    length = lengths.pop() if lengths else 0
    batch = batches.pop() if batches else 1
    if steps is None:
        steps = length
    if steps < 0:
        raise SimulationInputError(f"steps: expected >= 0, got {steps}")
    for name, arr in arrays.items():
        if steps > length:
            pad = np.zeros((steps - length, *arr.shape[1:]))
            arr = np.concatenate([arr, pad])
        arrays[name] = arr[:steps]
    return arrays, steps, batch


def simulate(
    graph: nir.NIRGraph,
    inputs: Mapping[str, np.ndarray],
    *,
    dt: float | None = None,
    steps: int | None = None,
    integrator: str | None = None,
    reset: str | None = "auto",
    time_unit: str | None = None,
    batched: bool = False,
    record: Iterable[str] = (),
    progress: bool = False,
) -> SimulationResult:
    """Run ``graph`` on the reference simulator (see :class:`ReferenceSimulator`)."""
    sim = ReferenceSimulator(graph, dt=dt, integrator=integrator, reset=reset, time_unit=time_unit)
    return sim.run(inputs, steps, batched=batched, record=record, progress=progress)
