"""``to_pynn``: the entry point."""

from __future__ import annotations

import types

import nir

from nirbridge._errors import UnsupportedError
from nirbridge.graph import (
    INTEGRATORS,
    NEURON_TYPES,
    inline_subgraphs,
    read_metadata,
    reset_mode,
    resolve_dt,
    type_name,
    validate,
)

from ._backends import Backend, backend_for
from ._cells import cell_map
from ._network import PyNNNetwork
from ._plan import plan_network

#: Steps from delivery to effect per synapse kind of NEST's native models.
SYNAPTIC_LAG = {"delta": 0, "exp": 1}


def to_pynn(
    graph: nir.NIRGraph,
    sim: types.ModuleType,
    *,
    dt: float | None = None,
    integrator: str | None = None,
    reset: str | None = "auto",
    h: float = 1.0,
    approximate: bool = False,
    threads: int = 1,
    progress: bool = False,
    setup: bool = True,
    backend: Backend | None = None,
) -> PyNNNetwork:
    """Build ``graph`` on the PyNN backend ``sim`` so that it computes what the reference does.

    Args:
        graph: The NIR graph.
        sim: The PyNN backend module: ``pyNN.nest`` (native models), ``pyNN.brian2``
            (standard cell types, spike-exact), ``pyNN.neuron`` (standard cell types, zero
            reset only, approximate) or ``pyNN.spiNNaker`` (a virtual board: the network is
            mapped, not run; see :func:`map_on_spinnaker`). See docs/pynn.md.
        dt: Reference time step in seconds (default: the graph's metadata).
        integrator: "euler" (default) or "exact".
        reset: "auto", "subtract" or "zero".
        h: Simulator resolution in ms; one simulator step stands for one reference step.
        approximate: Allow recurrences that need a delay below one step (acting one step late).
        threads: Simulator threads.
        progress: Show progress while building.
        setup: Call ``sim.setup`` here (one-step resolution and minimum delay, on-grid spikes);
            pass False if you called it yourself with ``timestep=h, min_delay=h``.
        backend: The simulator's row (default: the one of ``sim``, see ``_backends``); pass a
            variant, e.g. another SpiNNaker board.

    Returns:
        A :class:`PyNNNetwork`; use it as a context manager to ``sim.end()`` on exit.
    """
    meta = read_metadata(graph)
    dt = resolve_dt(graph, dt)
    integrator = integrator or meta.integrator or "euler"
    if integrator not in INTEGRATORS:
        raise UnsupportedError(f"unknown integrator {integrator!r}", target="pynn")
    mode = reset_mode(graph, reset)
    validate(graph, reset=mode)
    backend = backend or backend_for(sim)

    flat = inline_subgraphs(graph)
    for name, node in flat.nodes.items():
        if type_name(node) in NEURON_TYPES:
            # fails first, naming the node, if the backend has no model for it
            cell_map(type_name(node), mode, name, backend.cells, backend.name)
    plan = plan_network(graph, synaptic_lag=backend.lag, approximate=approximate)
    setup_kwargs = None
    if setup:
        setup_kwargs = {"timestep": h, "min_delay": h, **backend.setup(threads)}
    return PyNNNetwork(
        plan,
        sim,
        dt=dt,
        integrator=integrator,
        reset=mode,
        h=h,
        progress=progress,
        setup=setup_kwargs,
        backend=backend,
    )
