"""The reference simulator behind the converter protocol."""

from __future__ import annotations

from typing import Any

import nir

from .._converter import Issue
from .._errors import GraphError, NirBridgeError, UnsupportedError
from ..graph import SUPPORTED_TYPES, check_graph
from ._simulator import ReferenceSimulator


class ReferenceConverter:
    """``from_nir`` gives a :class:`ReferenceSimulator`; the reference has no model to export."""

    name = "reference"
    kind = "simulator"
    node_types = frozenset(SUPPORTED_TYPES)

    def check(self, graph: nir.NIRGraph) -> list[Issue]:
        issues = []
        for problem in check_graph(graph):
            node = getattr(problem, "node", None) if isinstance(problem, GraphError) else None
            param = getattr(problem, "parameter", None)
            issues.append(Issue("error", str(problem), node=node, parameter=param))
        return issues

    def from_nir(self, graph: nir.NIRGraph, **options: Any) -> ReferenceSimulator:
        return ReferenceSimulator(graph, **options)

    def to_nir(self, obj: Any, **options: Any) -> nir.NIRGraph:
        raise UnsupportedError(
            "the reference simulator reads NIR; it has no model to export", target=self.name
        )


__all__ = ["ReferenceConverter", "NirBridgeError"]
