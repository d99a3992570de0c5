"""Data sets that need no download, with the spike codes the training papers used."""

from .yinyang import (
    SPLITS,
    latency_raster,
    yinyang,
    yinyang_class,
    yinyang_spike_times,
    yinyang_split,
)

__all__ = [
    "SPLITS",
    "latency_raster",
    "yinyang",
    "yinyang_class",
    "yinyang_spike_times",
    "yinyang_split",
]
