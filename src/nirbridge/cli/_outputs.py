"""What every command does with a graph's outputs: tell spikes from voltages, store spikes as
0/1 bytes, and print one summary line per output."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TextIO

import nir
import numpy as np

from ..graph import SPIKING_TYPES, inline_subgraphs, type_name


def spiking_outputs(graph: nir.NIRGraph) -> dict[str, bool]:
    """Output node -> whether it carries spikes: every node feeding it is a spiking one (LIF,
    IF, CubaLIF, Threshold). Outputs fed by Inputs, linear or non-spiking nodes carry values."""
    flat = inline_subgraphs(graph)
    feeds: dict[str, list[str]] = {}
    for source, target in flat.edges:
        feeds.setdefault(target, []).append(source)
    return {
        name: bool(feeds.get(name))
        and all(type_name(flat.nodes[s]) in SPIKING_TYPES for s in feeds[name])
        for name, node in flat.nodes.items()
        if type_name(node) == "Output"
    }


def stored(outputs: Mapping[str, np.ndarray], spiking: Mapping[str, bool]) -> dict[str, np.ndarray]:
    """The arrays as OUT.npz holds them: spikes as uint8 0/1, values unchanged."""
    return {n: (a.astype(np.uint8) if spiking[n] else a) for n, a in outputs.items()}


def print_summary(
    arrays: Mapping[str, np.ndarray], spiking: Mapping[str, bool], file: TextIO | None = None
) -> None:
    """One line per output: its spike count, or its value range, and its shape."""
    file = file or sys.stdout
    for name, arr in arrays.items():
        if spiking[name]:
            print(f"  {name}: {int(arr.sum())} spikes, shape {arr.shape}", file=file)
        else:
            print(
                f"  {name}: range [{arr.min():.4g}, {arr.max():.4g}], shape {arr.shape}", file=file
            )
