"""The snnTorch target behind the converter protocol."""

from __future__ import annotations

from typing import Any

import nir

from ..torch import ExecutorConverter
from ._export import export
from ._import import NODE_MAP


class SnnTorchConverter(ExecutorConverter):
    """snnTorch <-> NIR.

    ``to_nir(model, dt=..., input_shape=None, approximate=False)`` exports a Sequential of torch
    layers and snnTorch neurons (see :mod:`._export` for what each computes) and stores ``dt`` and
    the reset mode in the graph's nirbridge metadata. ``from_nir(graph, dt=None, reset=None,
    node_map=None, dtype=torch.float64)`` builds a :class:`GraphExecutor` of snnTorch ``Leaky``
    modules that reproduces the reference simulator spike for spike.
    """

    name = "snntorch"
    label = "snnTorch"
    node_map = NODE_MAP

    def export(
        self, obj: Any, *, dt: float, **options: Any
    ) -> tuple[nir.NIRGraph, str, dict[str, dict[str, Any]]]:
        graph, reset = export(obj, dt=dt, **options)
        return graph, reset, {}
