"""Shared torch machinery of the PyTorch targets: a NIR graph as a module with its own time loop.

The snnTorch and Norse converters build on :class:`GraphExecutor` with their own neuron modules;
the stateless nodes (Affine, Linear, Conv, pooling, Flatten, Scale, Threshold, Delay) are shared
in :data:`LINEAR_MAP`.
"""

from ._executor import (
    LINEAR_MAP,
    BuildContext,
    Builder,
    Delay,
    Functional,
    GraphExecutor,
    StepModule,
)

__all__ = [
    "LINEAR_MAP",
    "BuildContext",
    "Builder",
    "Delay",
    "Functional",
    "GraphExecutor",
    "StepModule",
]
