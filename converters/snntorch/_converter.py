"""The snnTorch target behind the converter protocol."""

from __future__ import annotations

from typing import Any

import nir

from nirbridge._converter import Issue
from nirbridge._errors import NirBridgeError
from nirbridge.graph import reset_mode, resolve_dt, with_metadata

from ..torch import GraphExecutor
from ._export import export
from ._import import NODE_MAP


class SnnTorchConverter:
    """snnTorch <-> NIR.

    ``to_nir(model, dt=..., input_shape=None, approximate=False)`` exports a Sequential of torch
    layers and snnTorch neurons (see :mod:`._export` for what each computes) and stores ``dt`` and
    the reset mode in the graph's nirbridge metadata. ``from_nir(graph, dt=None, reset=None,
    node_map=None, dtype=torch.float64)`` builds a :class:`GraphExecutor` of snnTorch ``Leaky``
    modules that reproduces the reference simulator spike for spike.
    """

    name = "snntorch"
    kind = "framework"
    node_types = frozenset(NODE_MAP) - {"Input", "Output"}

    def check(self, graph: nir.NIRGraph) -> list[Issue]:
        issues = []
        for name, node in graph.nodes.items():
            kind = type(node).__name__
            if kind not in NODE_MAP and kind != "NIRGraph":
                issues.append(Issue("error", f"snnTorch target has no map for {kind}", node=name))
        try:
            resolve_dt(graph)
        except NirBridgeError as exc:  # check() never raises: it reports
            issues.append(Issue("error", str(exc)))
        return issues

    def from_nir(self, graph: nir.NIRGraph, **options: Any) -> GraphExecutor:
        import torch

        dt = resolve_dt(graph, options.pop("dt", None))
        reset = reset_mode(graph, options.pop("reset", None))
        node_map = options.pop("node_map", None) or NODE_MAP
        dtype = options.pop("dtype", torch.float64)
        if options:
            raise TypeError(f"unknown options for the snnTorch target: {sorted(options)}")
        return GraphExecutor(graph, node_map, dt=dt, reset=reset, dtype=dtype)

    def to_nir(self, obj: Any, **options: Any) -> nir.NIRGraph:
        dt = options.pop("dt")
        graph, reset = export(obj, dt=dt, **options)
        return with_metadata(graph, dt=float(dt), reset=reset, integrator="euler")
