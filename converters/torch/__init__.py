"""PyTorch: the plain-PyTorch target ("torch": a nirtorch GraphModule of SEMANTICS.md's neurons)
and the machinery the snnTorch and Norse targets share.

The snnTorch and Norse converters build on :class:`GraphExecutor` (a NIR graph as a module with
its own time loop) with their own neuron modules; the stateless nodes (Affine, Linear, Conv,
pooling, Flatten, Scale, Threshold, Delay) are shared in :data:`LINEAR_MAP`. The "torch" target
(:class:`TorchConverter`) builds on nirtorch's interpreter instead, with :class:`Neuron`.
"""

from ._converter import NirTorchModule, TorchConverter
from ._executor import (
    LINEAR_MAP,
    BuildContext,
    Builder,
    Delay,
    Functional,
    GraphExecutor,
    StepModule,
)
from ._framework import ExecutorConverter
from ._neurons import Neuron

__all__ = [
    "LINEAR_MAP",
    "BuildContext",
    "Builder",
    "Delay",
    "ExecutorConverter",
    "Functional",
    "GraphExecutor",
    "Neuron",
    "NirTorchModule",
    "StepModule",
    "TorchConverter",
]
