"""nirbridge: spiking networks and their learning rules, portable through NIR.

The core knows nothing of any simulator: :mod:`nirbridge.graph` reads, validates and walks NIR
graphs; :mod:`nirbridge.learning` holds learning rules as data, stored in the file;
:mod:`nirbridge.reference` simulates graphs exactly as docs/semantics.md defines; targets
live in :mod:`nirbridge.converters`. ``nirbridge.from_pynn`` (PyNN -> NIR) is
:func:`nirbridge.converters.pynn.from_pynn`, imported when first used.
"""

from . import learning
from ._convert import from_nir, to_nir
from ._errors import (
    CheckpointError,
    EdgeError,
    FileFormatError,
    GraphError,
    InvalidParameterError,
    LearningRuleError,
    MetadataError,
    NirBridgeError,
    ResetModeError,
    ShapeError,
    SimulationInputError,
    TimeStepError,
    UnknownNodeTypeError,
    UnsupportedError,
)
from .graph import read, validate, write
from .reference import ReferenceSimulator, SimulationResult, simulate

__version__ = "0.1.0"


def __getattr__(name: str):
    # from_pynn lives with the PyNN converter, which the core does not import up front
    if name == "from_pynn":
        from nirbridge.converters.pynn import from_pynn

        return from_pynn
    raise AttributeError(f"module 'nirbridge' has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "EdgeError",
    "FileFormatError",
    "GraphError",
    "InvalidParameterError",
    "LearningRuleError",
    "MetadataError",
    "NirBridgeError",
    "ReferenceSimulator",
    "ResetModeError",
    "ShapeError",
    "SimulationInputError",
    "SimulationResult",
    "TimeStepError",
    "UnknownNodeTypeError",
    "UnsupportedError",
    "__version__",
    "from_nir",
    "from_pynn",
    "learning",
    "read",
    "simulate",
    "to_nir",
    "validate",
    "write",
]
