"""The PyNN targets (NEST, Brian2, NEURON) behind the converter protocol: ``from_nir`` is
:func:`to_pynn`, ``to_nir`` is :func:`from_pynn`."""

from __future__ import annotations

import importlib
import os
import warnings
from typing import Any

import nir

from nirbridge._converter import Issue
from nirbridge._errors import GraphError, NirBridgeError, UnsupportedError
from nirbridge.graph import SUPPORTED_TYPES

from ._convert import to_pynn
from ._export import from_pynn, simulator_of

#: Node types the PyNN converter maps (Delay and Threshold have no event-driven form yet).
NODE_TYPES = frozenset(SUPPORTED_TYPES) - {"Delay", "Threshold"}


class NestConverter:
    """``from_nir`` builds the graph on ``pyNN.nest`` (see :func:`to_pynn` for the options)."""

    name = "pynn-nest"
    kind = "simulator"
    node_types = NODE_TYPES
    module = "pyNN.nest"
    simulator = "nest"

    def _sim(self) -> Any:
        os.environ.setdefault("PYNEST_QUIET", "1")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(self.module)

    def check(self, graph: nir.NIRGraph, **options: Any) -> list[Issue]:
        """What stands in the way of ``from_nir`` (planning only; nothing is built)."""
        from nirbridge.graph import reset_mode

        from ._backends import backend_for
        from ._cells import cell_map
        from ._plan import plan_network

        backend = backend_for(self.simulator)
        try:
            mode = reset_mode(graph, options.get("reset", "auto"))
            for name, node in graph.nodes.items():
                kind = type(node).__name__
                if kind in ("LIF", "IF", "CubaLIF", "LI", "I", "CubaLI"):
                    cell_map(kind, mode, name, backend.cells, backend.name)
            plan = plan_network(
                graph,
                synaptic_lag=backend.lag,
                approximate=options.get("approximate", False),
            )
        except (UnsupportedError, GraphError) as exc:
            return [Issue("error", str(exc), node=getattr(exc, "node", None))]
        except NirBridgeError as exc:
            return [Issue("error", str(exc))]
        return [Issue("warning", note) for note in plan.approximations]

    def from_nir(self, graph: nir.NIRGraph, **options: Any) -> Any:
        return to_pynn(graph, self._sim(), **options)

    def to_nir(self, obj: Any, **options: Any) -> nir.NIRGraph:
        """The NIR graph of a PyNN network on this simulator (see :func:`from_pynn`)."""
        simulator = simulator_of(obj)
        if simulator != self.simulator:
            raise UnsupportedError(
                f"the network runs on {simulator}, not {self.simulator}: export it with "
                f"target 'pynn-{simulator}'",
                target=self.name,
            )
        return from_pynn(obj, **options)


class Brian2Converter(NestConverter):
    """``from_nir`` builds the graph on ``pyNN.brian2`` with PyNN's standard cell types (both
    resets: subtract through a Brian2 reset statement; see ``docs/pynn.md``)."""

    name = "pynn-brian2"
    module = "pyNN.brian2"
    simulator = "brian2"


class NeuronConverter(NestConverter):
    """``from_nir`` builds the graph on ``pyNN.neuron`` with PyNN's standard cell types (zero
    reset only; approximate, see ``docs/pynn.md``)."""

    name = "pynn-neuron"
    module = "pyNN.neuron"
    simulator = "neuron"
