"""The Norse target behind the converter protocol."""

from __future__ import annotations

from typing import Any

import nir

from ..torch import ExecutorConverter
from ._export import export
from ._import import NODE_MAP


class NorseConverter(ExecutorConverter):
    """Norse <-> NIR.

    ``to_nir(model, dt=..., input_shape=None)`` exports a Sequential of torch layers and Norse
    cells (:mod:`._export` says what each computes) with ``dt`` and the reset mode in the graph's
    nirbridge metadata. ``from_nir(graph, dt=None, reset=None, node_map=None,
    dtype=torch.float64)`` builds a :class:`GraphExecutor` stepping Norse's functional API that
    reproduces the reference simulator spike for spike.
    """

    name = "norse"
    label = "Norse"
    node_map = NODE_MAP

    def export(
        self, obj: Any, *, dt: float, **options: Any
    ) -> tuple[nir.NIRGraph, str, dict[str, dict[str, Any]]]:
        return export(obj, dt=dt, **options)
