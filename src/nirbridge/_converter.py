"""The one protocol every target implements (frameworks, simulators, hardware)."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import nir

#: Kinds of target.
KINDS = ("framework", "simulator", "hardware")


@dataclasses.dataclass(frozen=True)
class Issue:
    """One thing a target finds about a graph before converting it.

    Attributes:
        severity: "error" (cannot convert) or "warning" (converts, approximately).
        message: What is wrong and what would fix it.
        node: The node concerned, if any.
        parameter: The parameter concerned, if any.
        rule: Name of the design rule broken (hardware targets), if any.
    """

    severity: str
    message: str
    node: str | None = None
    parameter: str | None = None
    rule: str | None = None

    def __str__(self) -> str:
        where = f"node {self.node!r}: " if self.node else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.severity}: {where}{self.message}{rule}"


@runtime_checkable
class Converter(Protocol):
    """A target of nirbridge.

    ``check`` never raises: it returns what stands in the way of ``from_nir``. ``from_nir``
    builds the target's object from a graph; ``to_nir`` goes back where the target allows it.
    """

    name: str
    kind: str
    node_types: frozenset[str]

    def check(self, graph: nir.NIRGraph) -> list[Issue]: ...

    def from_nir(self, graph: nir.NIRGraph, **options: Any) -> Any: ...

    def to_nir(self, obj: Any, **options: Any) -> nir.NIRGraph: ...
