"""Loading, validating and walking NIR graphs, with nirbridge's metadata beside them."""

from ._compose import ComposedLinear, LinearChain, compose, compose_nodes, linear_chains
from ._io import read, write
from ._metadata import (
    INTEGRATORS,
    NAMESPACE,
    RESET_MODES,
    SCHEMA_VERSION,
    TIME_UNITS,
    BridgeMetadata,
    read_metadata,
    with_metadata,
)
from ._spec import (
    LINEAR_TYPES,
    NEURON_TYPES,
    NODE_SPECS,
    SPIKING_TYPES,
    SUPPORTED_TYPES,
    type_name,
)
from ._timing import reset_mode, reset_source, resolve_dt, time_scale
from ._validate import check_graph, infer_shapes, validate
from ._versions import parse_version, reset_mode_for_version, resolve_reset
from ._walk import Schedule, back_edges, inline_subgraphs, schedule

__all__ = [
    "BridgeMetadata",
    "ComposedLinear",
    "INTEGRATORS",
    "LINEAR_TYPES",
    "LinearChain",
    "NAMESPACE",
    "NEURON_TYPES",
    "NODE_SPECS",
    "RESET_MODES",
    "SCHEMA_VERSION",
    "SPIKING_TYPES",
    "SUPPORTED_TYPES",
    "Schedule",
    "TIME_UNITS",
    "back_edges",
    "check_graph",
    "compose",
    "compose_nodes",
    "infer_shapes",
    "inline_subgraphs",
    "linear_chains",
    "parse_version",
    "read",
    "read_metadata",
    "reset_mode",
    "reset_mode_for_version",
    "reset_source",
    "resolve_dt",
    "resolve_reset",
    "schedule",
    "time_scale",
    "type_name",
    "validate",
    "with_metadata",
    "write",
]
