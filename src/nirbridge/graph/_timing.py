"""Time step and time unit of a graph: explicit argument first, then our metadata, else an error."""

from __future__ import annotations

import nir

from .._errors import MetadataError, TimeStepError
from ._metadata import TIME_UNITS, check_dt, read_metadata
from ._versions import resolve_reset


def resolve_dt(graph: nir.NIRGraph, dt: float | None = None) -> float:
    """The simulation time step in seconds.

    Raises:
        TimeStepError: neither ``dt`` nor the graph's ``nirbridge.dt`` metadata gives one.
    """
    if dt is not None:
        return check_dt(dt, source="dt argument")
    meta_dt = read_metadata(graph).dt
    if meta_dt is not None:
        return meta_dt
    raise TimeStepError(
        "no time step: NIR graphs do not carry one. Pass dt in seconds (CLI: --dt SECONDS, "
        "e.g. --dt 1e-4), or store it in the file with "
        "nirbridge.graph.with_metadata(graph, dt=...) before nirbridge.write"
    )


def time_scale(graph: nir.NIRGraph, time_unit: str | None = None) -> float:
    """Seconds per unit of the time constants and delays stored in ``graph``."""
    unit = time_unit if time_unit is not None else read_metadata(graph).time_unit
    if unit not in TIME_UNITS:
        raise MetadataError(f"time unit: expected one of {sorted(TIME_UNITS)}, got {unit!r}")
    return TIME_UNITS[unit]


def reset_mode(graph: nir.NIRGraph, override: str | None = None) -> str:
    """The reset convention to run ``graph`` with: "subtract" or "zero" (reset to v_reset).

    Explicit ``override`` first ("auto" or None defer), then ``nirbridge.reset`` metadata, then
    the NIR version of the file (up to 1.0.5: subtract; later: zero).
    """
    meta = read_metadata(graph)
    return resolve_reset(override, meta.reset, meta.nir_version)[0]


def reset_source(graph: nir.NIRGraph, override: str | None = None) -> str:
    """In words, where :func:`reset_mode` took its answer from."""
    meta = read_metadata(graph)
    return resolve_reset(override, meta.reset, meta.nir_version)[1]


__all__ = ["resolve_dt", "time_scale", "reset_mode", "reset_source", "TimeStepError"]
