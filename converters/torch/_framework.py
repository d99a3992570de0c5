"""The converter protocol for PyTorch frameworks whose import is a :class:`GraphExecutor` of the
framework's own neurons (snnTorch, Norse): one class, each framework names its map and exporter."""

from __future__ import annotations

from typing import Any

import nir

from nirbridge._converter import Issue
from nirbridge._errors import NirBridgeError
from nirbridge.graph import reset_mode, resolve_dt, with_metadata

from ._executor import Builder, GraphExecutor


class ExecutorConverter:
    """Framework <-> NIR through a :class:`GraphExecutor`.

    Subclasses set ``name``, ``label`` (the framework's name in messages), ``node_map`` (NIR type
    -> builder) and implement :meth:`export`.
    """

    name: str
    label: str
    kind = "framework"
    node_map: dict[str, Builder]

    @property
    def node_types(self) -> frozenset[str]:
        return frozenset(self.node_map) - {"Input", "Output"}

    def export(
        self, obj: Any, *, dt: float, **options: Any
    ) -> tuple[nir.NIRGraph, str, dict[str, dict[str, Any]]]:
        """The graph of ``obj``, its reset mode and its initial state (``{}`` if zero)."""
        raise NotImplementedError

    def check(self, graph: nir.NIRGraph) -> list[Issue]:
        issues = []
        for name, node in graph.nodes.items():
            kind = type(node).__name__
            if kind not in self.node_map and kind != "NIRGraph":
                issues.append(
                    Issue("error", f"{self.label} target has no map for {kind}", node=name)
                )
        try:
            resolve_dt(graph)
        except NirBridgeError as exc:  # check() never raises: it reports
            issues.append(Issue("error", str(exc)))
        return issues

    def from_nir(self, graph: nir.NIRGraph, **options: Any) -> GraphExecutor:
        import torch

        dt = resolve_dt(graph, options.pop("dt", None))
        reset = reset_mode(graph, options.pop("reset", None))
        node_map = options.pop("node_map", None) or self.node_map
        dtype = options.pop("dtype", torch.float64)
        if options:
            raise TypeError(f"unknown options for the {self.label} target: {sorted(options)}")
        return GraphExecutor(graph, node_map, dt=dt, reset=reset, dtype=dtype)

    def to_nir(self, obj: Any, **options: Any) -> nir.NIRGraph:
        dt = options.pop("dt")
        graph, reset, initial = self.export(obj, dt=dt, **options)
        changes: dict[str, Any] = {"dt": float(dt), "reset": reset, "integrator": "euler"}
        if initial:
            changes["initial_state"] = initial
        return with_metadata(graph, **changes)
