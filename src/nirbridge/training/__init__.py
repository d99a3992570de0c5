"""Training engines: surrogate-gradient BPTT on fused kernels, EventProp and e-prop.

Every engine computes the step of :mod:`nirbridge.training._layers` (SEMANTICS.md's euler step),
so a trained network exports to NIR with its learning rule and runs identically on the reference.
"""

from ._layers import KINDS, RESETS, SPIKING, LayerParams

__all__ = ["KINDS", "LayerParams", "RESETS", "SPIKING"]
