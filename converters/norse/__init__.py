"""Norse <-> NIR: own exporter (Norse 1.1.0's writes ``tau = dt/tau_inv``, ``r = 1`` and no
``w_in``) and an importer that steps Norse's functional API, honouring ``r``, and reproduces
SEMANTICS.md spike for spike. docs/frameworks.md says what each Norse cell computes."""

from ._converter import NorseConverter
from ._export import export
from ._import import NODE_MAP, NorseNeuron

__all__ = ["NODE_MAP", "NorseConverter", "NorseNeuron", "export"]
