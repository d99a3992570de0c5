"""snnTorch <-> NIR: own exporter (snnTorch 1.0's writes v_reset = 0 for subtraction, fails on
scalar beta, fixes dt = 1e-4 and drops the recurrent bias timing), and an importer that builds
snnTorch ``Leaky`` modules reproducing SEMANTICS.md spike for spike. docs/frameworks.md says what
each snnTorch module computes and which resets NIR cannot express."""

from ._converter import SnnTorchConverter
from ._export import SemanticsWarning, export
from ._import import NODE_MAP, SnnNeuron

__all__ = ["NODE_MAP", "SemanticsWarning", "SnnNeuron", "SnnTorchConverter", "export"]
