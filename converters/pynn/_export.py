"""PyNN -> NIR: read a PyNN network of the supported cell types back into a NIR graph.

:func:`from_pynn` is :func:`to_pynn` run backwards, from the PyNN objects themselves (cell
parameters, weights and delays as the simulator holds them, read with PyNN's ``get``):

- a neuron population's cell type and parameters go back through the same translation tables
  (:mod:`._cells` on NEST, :mod:`._standard_cells` on Brian2 and NEURON) with each
  :class:`~._cells.Row`'s inverse. A cell type is recognised by its model and by the parameters
  the table fixes (an ``iaf_psc_delta`` with ``tau_m = 1e300`` is an IF neuron, with
  ``V_th = 1e300`` and its ``V_m`` recorded an LI neuron); every native parameter the table sets
  is then computed again from the NIR parameters and must equal the simulator's, so a parameter
  the table cannot express (``C_m = 250``, ``tau_syn_ex != tau_syn_in``, ``t_ref > 0``) is an error
  naming the population and the parameter;
- the projections between two populations (PyNN's excitatory and inhibitory halves) are summed
  into one signed weight matrix in the units of the target's input (the PyNN weight divided by
  the table's gain), one Linear node (an Affine node where a bias lands) per pair of populations;
- spike sources are Input nodes; recorded populations feed Output nodes (spikes of spiking
  populations, the membrane voltage of non-spiking ones: LI, I, CubaLI);
- the one-cell spike source that fires every step (to_pynn's bias source) goes back into Affine
  biases: a projection from it delayed like the target's forward inputs is a bias on a forward
  path, one delayed a step more the bias of a back edge (a self-connection).

Timing is checked, not assumed: the graph is planned as :func:`to_pynn` would plan it
(:func:`._plan.plan_network`), and every projection must have the delay that plan gives it
(SEMANTICS.md's depths); a network whose delays no NIR graph without Delay nodes has (a
hand-written one with other delays, or one to_pynn built with ``approximate=True``) is refused by
projection.

What comes back computes what the PyNN network computes; it is not the graph to_pynn was given:

- a chain of linear nodes (Affine, Conv, pooling, Flatten, Scale) was composed into one matrix
  and comes back as one dense Linear or Affine node, named ``"<source>-><target>"``;
- factors that only scale a neuron's input are folded into the weights: ``r = 1`` (``1/dt`` for
  I and IF, so that a weight is the voltage jump per spike) and ``w_in = 1``; the leak towards
  ``v_leak`` of delta-synapse cells, which to_pynn sends through the bias source, comes back as
  part of the bias (``v_leak = 0``);
- neuron populations are one-dimensional (PyNN keeps no shape); Inputs of a
  :class:`PyNNNetwork` keep their shape, followed by a Flatten node;
- initial membrane values are not read: to_pynn sets them so that the membrane is at rest when
  the network's first step begins, which is where the graph starts too.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

import nir
import numpy as np

from nirbridge._errors import UnsupportedError
from nirbridge.graph import NODE_SPECS, validate, with_metadata
from nirbridge.graph._metadata import check_dt

from ._backends import Backend, backend_for
from ._cells import CellMap, Ctx
from ._plan import NetworkPlan, plan_network

TARGET = "pynn"
#: Relative tolerance between the simulator's parameters and those recomputed from the NIR
#: parameters (PyNN's unit translations round at the last digits).
RTOL = 1e-9


def node_parameters(
    cells: CellMap, native: Mapping[str, np.ndarray], ctx: Ctx
) -> dict[str, np.ndarray]:
    """The NIR node parameters of a population's native parameters.

    The table's rows are inverted; the node's other float fields, which the mapping folds into
    the weights and biases, take fixed values: ``r = 1`` (``1/dt`` for I and IF), ``w_in = 1``,
    ``v_leak = 0`` and ``v_reset = 0`` where the table has no row for them.

    Args:
        cells: The table entry the population was built from.
        native: Native parameter name -> one value per cell.
        ctx: Time step, resolution and integrator of the translation.
    """
    params = cells.nir_parameters(native, ctx)
    size = np.asarray(next(iter(native.values()))).shape
    for field in NODE_SPECS[cells.nir_type]:
        if field.kind == "float" and field.name not in params:
            params[field.name] = np.full(size, _convention(field.name, cells.nir_type, ctx))
    return params


def _convention(field: str, nir_type: str, ctx: Ctx) -> float:
    if field == "r":
        return 1.0 / ctx.dt if nir_type in ("I", "IF") else 1.0
    if field == "w_in":
        return 1.0
    return 0.0  # v_leak, v_reset


def table_mismatch(
    cells: CellMap, native: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray], ctx: Ctx
) -> str | None:
    """Why ``params`` do not give back ``native`` through the table, or None when they do."""
    try:
        with np.errstate(all="ignore"):
            again = cells.native_parameters(dict(params), ctx)
    except UnsupportedError as exc:
        return str(exc)
    for name, want in again.items():
        got = np.asarray(native[name], dtype=np.float64)
        want = np.broadcast_to(want, got.shape)
        bad = ~np.isclose(got, want, rtol=RTOL, atol=0.0, equal_nan=True)
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            return (
                f"parameter {name!r} = {got.flat[k]:.6g} (cell {k}), the table gives "
                f"{want.flat[k]:.6g}"
            )
    return None


@dataclasses.dataclass
class _Neuron:
    """A neuron population read back: its table entry, NIR parameters and input gain."""

    name: str
    cells: CellMap
    reset: str
    params: dict[str, np.ndarray]
    gain: np.ndarray


@dataclasses.dataclass
class _Network:
    """The PyNN objects to export, by population label."""

    populations: dict[str, Any]
    projections: list[Any]
    bias: set[str]
    dt: float | None = None
    integrator: str | None = None
    outputs: dict[str, str] | None = None  # Output name -> population
    shapes: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)


def from_pynn(
    network: Any,
    *,
    dt: float | None = None,
    integrator: str | None = None,
    outputs: Mapping[str, str] | None = None,
    bias: str = "bias",
) -> nir.NIRGraph:
    """The NIR graph that computes what a PyNN network of the supported cell types computes.

    Lossless for networks :func:`to_pynn` built, in what the graph computes: the reference
    simulator runs the returned graph spike for spike as it runs the graph to_pynn was given.
    It is not the same graph: composed linear chains (convolutions, pooling) come back as one
    dense Linear/Affine node per pair of populations, and input-scaling factors are folded into
    the weights (see the module's documentation).

    Args:
        network: A :class:`PyNNNetwork` (from :func:`to_pynn`), a ``pyNN.network.Network``, or
            an iterable of PyNN Populations and Projections (the populations the projections
            connect are included without being listed). Call this before ``sim.end()``.
        dt: Reference time step in seconds that one simulator step stands for (default: the
            PyNNNetwork's, else the simulator's resolution in seconds).
        integrator: "euler" or "exact": the reference discretisation the graph is stored for
            (default: the PyNNNetwork's, else "exact", under which the native time constants
            come back unchanged when ``dt`` is the simulator's resolution).
        outputs: Output node name -> population label (default: the PyNNNetwork's Outputs,
            else ``"<label>_output"`` for every recorded population).
        bias: Label of the one-cell spike source that fires every step and carries constant
            inputs (to_pynn's bias source; a PyNNNetwork's is found without it).

    Returns:
        A NIR graph with nirbridge metadata: ``dt``, ``integrator`` and the reset mode of its
        spiking cells.

    Raises:
        UnsupportedError: a cell type or parameter outside the tables, cell types of two reset
            modes, a projection whose delay the graph's timing does not give, a projection from
            a non-spiking population, or PyNN objects of another kind (views, assemblies,
            current sources); the message names the population, projection and parameter.
        TimeStepError: ``dt`` is not a positive number of seconds.
    """
    net = _components(network, bias)
    backend, sim = _simulator(net.populations)
    h = float(sim.get_time_step())
    dt = check_dt(dt if dt is not None else net.dt if net.dt is not None else h * 1e-3)
    integrator = integrator or net.integrator or "exact"
    if integrator not in ("euler", "exact"):
        raise UnsupportedError(f"unknown integrator {integrator!r}", target=TARGET)

    spiking_needed = {p.pre.label for p in net.projections}
    recorded = {name: _recorded(name, pop) for name, pop in net.populations.items()}
    neurons: dict[str, _Neuron] = {}
    inputs: list[str] = []
    for name, pop in net.populations.items():
        if name in net.bias:
            continue
        if type(pop.celltype).__name__ == "SpikeSourceArray":
            inputs.append(name)
            continue
        wants = "spikes" in recorded[name] or name in spiking_needed
        voltage = not wants and bool(recorded[name])
        ctx = Ctx(dt, h, integrator, name)
        neurons[name] = _read_neuron(name, pop, backend, ctx, spiking=wants, voltage=voltage)
    if not inputs:
        raise UnsupportedError(
            "the network has no spike source other than the bias: a NIR graph starts at an "
            "Input node",
            target=TARGET,
        )
    reset = _reset_mode(neurons)

    groups, biases = _synapses(net, neurons, backend, h)
    if outputs is None:
        outputs = net.outputs or {
            f"{n}_output": n
            for n, neuron in neurons.items()
            if ("spikes" if neuron.cells.spiking else neuron.cells.voltage) in recorded[n]
        }
    builder = _GraphBuilder(net, neurons, inputs, groups, outputs)
    plan = plan_network(builder.graph(), synaptic_lag=backend.lag)
    _check_delays(plan, groups)
    builder.add_biases(_split_biases(plan, biases, neurons, backend))
    graph = builder.graph()
    plan_network(graph, synaptic_lag=backend.lag)  # the biases' back edges plan too
    with_metadata(graph, dt=dt, integrator=integrator, reset=reset)
    validate(graph)
    return graph


def simulator_of(network: Any) -> str:
    """Name of the PyNN backend ("nest", "brian2", ...) a network runs on."""
    return _simulator(_components(network, "bias").populations)[0].name


# -- collecting the PyNN objects --------------------------------------------------------------
def _components(network: Any, bias: str) -> _Network:
    from pyNN.common import Population, Projection

    if hasattr(network, "plan") and hasattr(network, "populations"):  # a PyNNNetwork
        plan: NetworkPlan = network.plan
        pops = dict(network.populations)
        projections = [p for made in network.projections.values() for p in made]
        known = {id(p) for p in pops.values()}
        extra = {p.pre.label: p.pre for p in projections if id(p.pre) not in known}
        pops.update(extra)
        return _Network(
            pops,
            projections,
            set(extra),
            dt=network.dt,
            integrator=network.integrator,
            outputs={name: out.source for name, out in plan.outputs.items()},
            shapes={n: p.shape for n, p in plan.populations.items() if p.kind == "Input"},
        )
    items = (
        [*network.populations, *network.projections]
        if hasattr(network, "projections") and hasattr(network, "populations")
        else list(network)
    )
    pops: dict[str, Any] = {}
    projections = []

    def add(pop: Any, where: str) -> None:
        if not isinstance(pop, Population):
            raise UnsupportedError(
                f"{where} is a {type(pop).__name__}; only whole Populations can be exported",
                target=TARGET,
            )
        label = pop.label
        if not label:
            raise UnsupportedError("a population without a label cannot name a node", target=TARGET)
        if pops.setdefault(label, pop) is not pop:
            raise UnsupportedError(
                "two populations carry this label; labels name the NIR nodes",
                node=label,
                target=TARGET,
            )

    for item in items:
        if isinstance(item, Projection):
            projections.append(item)
            add(item.pre, f"the presynaptic side of projection {item.label!r}")
            add(item.post, f"the postsynaptic side of projection {item.label!r}")
        else:
            add(item, f"{item!r}")
    sources = {
        n
        for n, p in pops.items()
        if type(p.celltype).__name__ == "SpikeSourceArray" and p.size == 1
    }
    return _Network(pops, projections, {bias} & sources)


def _simulator(populations: Mapping[str, Any]) -> tuple[Backend, Any]:
    names = {type(p).__module__.split(".")[1] for p in populations.values()}
    if len(names) != 1:
        raise UnsupportedError(
            f"the populations run on {sorted(names) or 'no simulator'}; export one simulator's "
            "network at a time",
            target=TARGET,
        )
    (name,) = names
    return backend_for(name), sys.modules[f"pyNN.{name}"]


def _recorded(name: str, pop: Any) -> set[str]:
    """Variables recorded from every cell of ``pop`` (a part of the cells is refused)."""
    out = set()
    for variable, ids in pop.recorder.recorded.items():
        if not ids:
            continue
        var = getattr(variable, "name", variable)
        if len(ids) != pop.size:
            raise UnsupportedError(
                f"records {var!r} from {len(ids)} of its {pop.size} cells; an Output reads a "
                "whole population",
                node=name,
                target=TARGET,
            )
        out.add(var)
    return out


# -- cells ------------------------------------------------------------------------------------
def _read_neuron(
    name: str, pop: Any, backend: Backend, ctx: Ctx, *, spiking: bool, voltage: bool
) -> _Neuron:
    """Which table entry ``pop`` was built from, and its NIR parameters.

    Of the entries for the population's model whose parameters fit, the one fixing the most
    parameters wins (an IF, whose ``tau_m`` is fixed, over a LIF); a population that sends
    spikes or has them recorded must be a spiking type, one whose voltage is recorded a
    non-spiking one."""
    model = type(pop.celltype).__name__
    entries = [(k, c) for k, c in backend.cells.items() if c.model == model]
    if not entries:
        models = sorted({c.model for c in backend.cells.values()})
        raise UnsupportedError(
            f"cell type {model} has no translation to NIR on {backend.name} (cell types: "
            f"{', '.join(models)})",
            node=name,
            target=TARGET,
        )
    if spiking or voltage:
        entries = [(k, c) for k, c in entries if c.spiking == spiking]
    if not entries:
        raise UnsupportedError(
            f"{model} has no {'spiking' if spiking else 'non-spiking'} translation on "
            f"{backend.name}",
            node=name,
            target=TARGET,
        )
    names = sorted(
        {r.native for _, c in entries for r in c.rows}
        | {p for _, c in entries for p in c.constants}
    )
    values = pop.get(names, gather=True, simplify=False)
    native = {
        n: np.broadcast_to(np.asarray(v, dtype=np.float64), (pop.size,))
        for n, v in zip(names, values, strict=True)
    }
    fits, misses = [], {}
    for key, cells in entries:
        with np.errstate(all="ignore"):
            params = node_parameters(cells, native, ctx)
        why = table_mismatch(cells, native, params, ctx)
        if why is None:
            fits.append((len(cells.constants), key, cells, params))
        else:
            misses.setdefault(why, []).append(
                key[0] + ("" if key[1] == "-" else f" ({key[1]} reset)")
            )
    if not fits:
        role = " (spiking)" if spiking else " (voltage recorded)" if voltage else ""
        raise UnsupportedError(
            f"{model}{role} with these parameters is outside the {backend.name} translation "
            "table: " + "; ".join(f"{why} (as {', '.join(k)})" for why, k in misses.items()),
            node=name,
            target=TARGET,
        )
    _, key, cells, params = max(fits, key=lambda f: f[0])
    return _Neuron(name, cells, key[1], params, np.asarray(cells.gain(params, ctx), float))


def _reset_mode(neurons: Mapping[str, _Neuron]) -> str | None:
    modes = {n.reset: n.name for n in neurons.values() if n.reset != "-"}
    if len(modes) > 1:
        which = ", ".join(f"{m} in {n!r}" for m, n in modes.items())
        raise UnsupportedError(
            f"cell types of both reset modes ({which}); a NIR graph has one",
            node=modes.get("subtract"),
            target=TARGET,
        )
    return next(iter(modes), None)


# -- synapses ---------------------------------------------------------------------------------
@dataclasses.dataclass
class _Group:
    """The projections from one population to another, summed: weights ``(post, pre)`` in the
    units of the target node's input, and their delay in plan steps."""

    pre: str
    post: str
    weights: np.ndarray
    delay: int
    labels: list[str]


def _synapses(
    net: _Network, neurons: Mapping[str, _Neuron], backend: Backend, h: float
) -> tuple[dict[tuple[str, str], _Group], list[tuple[str, np.ndarray, int, str]]]:
    """Projections summed per (pre, post), and the bias projections ``(post, native weight per
    cell, plan delay, label)``."""
    groups: dict[tuple[str, str], _Group] = {}
    biases = []
    for proj in net.projections:
        pre, post, label = proj.pre.label, proj.post.label, proj.label
        if post not in neurons:
            raise UnsupportedError(
                f"projection {label!r} targets {post!r}, which is not a neuron population",
                node=post,
                target=TARGET,
            )
        if pre in neurons and not neurons[pre].cells.spiking:
            raise UnsupportedError(
                f"projection {label!r} starts at a non-spiking population",
                node=pre,
                target=TARGET,
            )
        rows = synapse_rows(proj)
        i, j = rows[:, 0].astype(int), rows[:, 1].astype(int)
        native = rows[:, 2] / backend.weight_scale
        delay = _delay_steps(rows[:, 3], h, label) - backend.delay_offset
        if pre in net.bias:
            per_cell = np.zeros(proj.post.size)
            np.add.at(per_cell, j, native)
            biases.append((post, per_cell, delay, label))
            continue
        weights = np.zeros((proj.post.size, proj.pre.size))
        np.add.at(weights, (j, i), native / neurons[post].gain[j])
        group = groups.get((pre, post))
        if group is None:
            groups[(pre, post)] = _Group(pre, post, weights, delay, [label])
        elif group.delay != delay:
            raise UnsupportedError(
                f"projections {group.labels[0]!r} and {label!r} connect the same populations "
                f"with delays of {group.delay} and {delay} steps; one NIR edge has one timing",
                node=post,
                target=TARGET,
            )
        else:
            group.weights += weights
            group.labels.append(label)
    return groups, biases


def synapse_rows(projection: Any) -> np.ndarray:
    """``(pre index, post index, weight, delay)`` per synapse, ``(n, 4)``, in PyNN units.

    PyNN 0.13's Brian2 backend cannot list a projection of a single synapse (its one value
    evaluates to a scalar); for those the array format is read instead."""
    if projection.size() == 1:
        weight, delay = projection.get(["weight", "delay"], format="array")
        i, j = np.nonzero(~np.isnan(weight))
        return np.column_stack([i, j, weight[i, j], delay[i, j]]).astype(np.float64)
    rows = projection.get(["weight", "delay"], format="list", with_address=True)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def _delay_steps(delays_ms: np.ndarray, h: float, label: str) -> int:
    steps = np.unique(np.rint(delays_ms / h).astype(int))
    if len(steps) > 1 or (len(delays_ms) and not np.allclose(delays_ms, steps[0] * h)):
        raise UnsupportedError(
            f"projection {label!r} has delays {sorted(set(delays_ms.tolist()))[:4]} ms; a NIR "
            f"edge needs one delay, a whole number of {h} ms steps",
            target=TARGET,
        )
    return int(steps[0]) if len(steps) else 0


def _check_delays(plan: NetworkPlan, groups: Mapping[tuple[str, str], _Group]) -> None:
    """Every PyNN projection has the delay the graph's plan gives it."""
    for planned in plan.projections:
        group = groups.get((planned.source, planned.target))
        if group is not None and group.delay != planned.delay:
            rule = "1 + " if planned.recurrent else ""
            raise UnsupportedError(
                f"projection {group.labels[0]!r} has a delay of {group.delay} steps where the "
                f"graph's depths give {planned.delay} ({rule}depth(post) - depth(pre) - "
                "synaptic lag, SEMANTICS.md); no NIR graph without "
                "Delay nodes computes this network",
                node=planned.target,
                target=TARGET,
            )


def _split_biases(
    plan: NetworkPlan,
    biases: list[tuple[str, np.ndarray, int, str]],
    neurons: Mapping[str, _Neuron],
    backend: Backend,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per population, (forward bias, back-edge bias) in the units of its input: a bias
    projection delayed like the population's forward inputs, or one step more."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for post, native, delay, label in biases:
        forward = plan.populations[post].depth - plan.synaptic_lag[post]
        if delay not in (forward, forward + 1):
            raise UnsupportedError(
                f"bias projection {label!r} has a delay of {delay} steps; constant inputs of this "
                f"population take {forward} (forward paths) or {forward + 1} (back edges)",
                node=post,
                target=TARGET,
            )
        size = len(native)
        fwd, rec = out.setdefault(post, (np.zeros(size), np.zeros(size)))
        (fwd if delay == forward else rec)[:] += native / neurons[post].gain
    return out


# -- the graph --------------------------------------------------------------------------------
class _GraphBuilder:
    """Nodes and edges of the exported graph: Inputs (with a Flatten where shaped), neurons,
    one Linear/Affine per pair of connected populations, Outputs."""

    def __init__(
        self,
        net: _Network,
        neurons: Mapping[str, _Neuron],
        inputs: list[str],
        groups: Mapping[tuple[str, str], _Group],
        outputs: Mapping[str, str],
    ) -> None:
        self.nodes: dict[str, nir.NIRNode] = {}
        self.edges: list[tuple[str, str]] = []
        self.links: dict[tuple[str, str], str] = {}  # (pre, post) -> linear node
        self.sizes = {n: net.populations[n].size for n in net.populations}
        self.taken = set(net.populations) | set(outputs)
        self.sends: dict[str, str] = {}  # population -> node its projections start from
        for name in inputs:
            shape = tuple(net.shapes.get(name, (self.sizes[name],)))
            self.nodes[name] = nir.Input(input_type={"input": np.array(shape)})
            self.sends[name] = name
            if len(shape) > 1:
                flat = self._name(f"{name}_flat")
                self.nodes[flat] = nir.Flatten(
                    input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1
                )
                self.edges.append((name, flat))
                self.sends[name] = flat
        for name, neuron in neurons.items():
            self.nodes[name] = getattr(nir, neuron.cells.nir_type)(**neuron.params)
            self.sends[name] = name
        for (pre, post), group in groups.items():
            self._link(pre, post, group.weights)
        for name in neurons:
            if not any(post == name and pre != name for pre, post in self.links):
                # no forward input: the original reached it through zero weights, which PyNN
                # does not keep; a zero Linear from an Input places it (and its bias) likewise
                self._link(inputs[0], name, np.zeros((self.sizes[name], self.sizes[inputs[0]])))
        for out, source in outputs.items():
            if source not in neurons and source not in inputs:
                raise UnsupportedError(
                    f"Output {out!r} reads {source!r}, which is not a population here",
                    target=TARGET,
                )
            self.nodes[out] = nir.Output(output_type={"output": np.array([self.sizes[source]])})
            self.edges.append((source, out))

    def _name(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def _link(self, pre: str, post: str, weights: np.ndarray) -> str:
        node = self._name(f"{pre}->{post}")
        self.nodes[node] = nir.Linear(weight=weights)
        self.edges += [(self.sends[pre], node), (node, post)]
        self.links[(pre, post)] = node
        return node

    def add_biases(self, biases: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Forward biases onto a forward input's node, back-edge biases onto the
        self-connection's (a zero one where there is none)."""
        for post, (forward, recurrent) in biases.items():
            if np.any(forward != 0):
                pre = next(p for p, q in self.links if q == post and p != post)
                self._affine(self.links[(pre, post)], forward)
            if np.any(recurrent != 0):
                node = self.links.get((post, post))
                if node is None:
                    size = self.sizes[post]
                    node = self._link(post, post, np.zeros((size, size)))
                self._affine(node, recurrent)

    def _affine(self, name: str, bias: np.ndarray) -> None:
        node = self.nodes[name]
        self.nodes[name] = nir.Affine(weight=node.weight, bias=getattr(node, "bias", 0.0) + bias)

    def graph(self) -> nir.NIRGraph:
        return nir.NIRGraph(nodes=dict(self.nodes), edges=list(self.edges), type_check=False)
