"""nirbridge's namespace in a NIR graph's metadata.

NIR carries no time step, integrator, reset convention or initial state. nirbridge stores them
in ``graph.metadata["nirbridge"]``, a plain dictionary that nir's own writer stores as an HDF5
group and stock ``nir.read`` reads back, so a file with our metadata stays a valid NIR file and a
file without it stays valid for us.

The namespace is versioned (``schema``). Older schemas are migrated on read; a newer one than this
release knows fails with a clear message instead of being misread.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import MetadataError

NAMESPACE = "nirbridge"
SCHEMA_VERSION = 1

INTEGRATORS = ("euler", "exact")
RESET_MODES = ("subtract", "zero")
#: Units time constants in a graph may be stored in, with their length in seconds.
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}

_KNOWN_KEYS = {
    "schema",
    "dt",
    "time_unit",
    "integrator",
    "reset",
    "nir_version",
    "initial_state",
    "quantization",
}
#: Fields of one quantized parameter: ``value = scale * (integer - zero_point)``.
_QUANT_FIELDS = ("bits", "scale", "zero_point", "signed")


@dataclasses.dataclass(frozen=True)
class BridgeMetadata:
    """What nirbridge stores beside a NIR graph.

    Attributes:
        dt: Simulation time step in seconds, or None when the writer did not fix one.
        time_unit: Unit of the time constants and delays stored in the graph ("s", "ms", "us").
        integrator: "euler" or "exact" (see docs/semantics.md), or None for the default (euler).
        reset: "subtract" or "zero", or None to decide from the NIR version.
        nir_version: Version of the NIR format whose semantics the graph follows (the version of
            the file it was first read from), e.g. "0.2.0". Decides the reset mode when ``reset``
            is None.
        initial_state: Initial state per node: ``{node: {state: array}}`` (e.g. ``{"lif1":
            {"v": ...}}``), shapes as the node's; states not given start at zero.
        quantization: Fixed-point form of parameters, per node and parameter:
            ``{node: {parameter: {"bits": int, "scale": float, "zero_point": int, "signed":
            0|1}}}``, meaning ``value = scale * (integer - zero_point)`` with ``integer`` a
            ``bits``-bit (signed or unsigned) integer: what a hardware target quantized to, or
            must quantize to.
        extra: Keys of the namespace this module does not interpret (the learning rule and other
            later extensions), kept as they are.
    """

    dt: float | None = None
    time_unit: str = "s"
    integrator: str | None = None
    reset: str | None = None
    nir_version: str | None = None
    initial_state: Mapping[str, Mapping[str, np.ndarray]] = dataclasses.field(default_factory=dict)
    quantization: Mapping[str, Mapping[str, Mapping[str, Any]]] = dataclasses.field(
        default_factory=dict
    )
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dt is not None:
            check_dt(self.dt, source="metadata 'nirbridge.dt'")
        if not isinstance(self.time_unit, str) or self.time_unit not in TIME_UNITS:
            raise MetadataError(
                f"metadata 'nirbridge.time_unit': expected one of {sorted(TIME_UNITS)}, "
                f"got {self.time_unit!r}"
            )
        if self.integrator is not None and (
            not isinstance(self.integrator, str) or self.integrator not in INTEGRATORS
        ):
            raise MetadataError(
                f"metadata 'nirbridge.integrator': expected one of {INTEGRATORS}, "
                f"got {self.integrator!r}"
            )
        if self.reset is not None and (
            not isinstance(self.reset, str) or self.reset not in RESET_MODES
        ):
            raise MetadataError(
                f"metadata 'nirbridge.reset': expected one of {RESET_MODES}, got {self.reset!r}"
            )

        object.__setattr__(self, "quantization", _as_quantization(self.quantization))

    def to_dict(self) -> dict[str, Any]:
        """The namespace as stored in ``graph.metadata["nirbridge"]`` (None values omitted)."""
        out: dict[str, Any] = dict(self.extra)
        out["schema"] = SCHEMA_VERSION
        for key in ("dt", "time_unit", "integrator", "reset", "nir_version"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.initial_state:
            out["initial_state"] = {
                node: {name: np.asarray(v) for name, v in states.items()}
                for node, states in self.initial_state.items()
            }
        if self.quantization:
            out["quantization"] = {
                node: {param: dict(spec) for param, spec in params.items()}
                for node, params in self.quantization.items()
            }
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BridgeMetadata:
        """Parse the namespace as read from a file (numpy scalars and bytes accepted)."""
        if not isinstance(raw, Mapping):
            raise MetadataError(
                f"metadata 'nirbridge': expected a group of values, got {type(raw).__name__}"
            )
        raw = migrate(dict(raw))
        kwargs: dict[str, Any] = {}
        if "dt" in raw:
            kwargs["dt"] = _as_float(raw["dt"], "dt")
        for key in ("time_unit", "integrator", "reset", "nir_version"):
            if key in raw:
                kwargs[key] = _as_str(raw[key], key)
        if "initial_state" in raw:
            kwargs["initial_state"] = _as_initial_state(raw["initial_state"])
        if "quantization" in raw:
            kwargs["quantization"] = raw["quantization"]
        kwargs["extra"] = {k: v for k, v in raw.items() if k not in _KNOWN_KEYS}
        return cls(**kwargs)


def migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored namespace to the current schema, or fail if it is from a newer release."""
    stored = raw.get("schema", SCHEMA_VERSION)
    try:
        number = np.asarray(stored).item()
        if isinstance(number, bytes):
            number = number.decode("ascii")
        schema = int(number)
        if isinstance(number, float) and number != schema:
            raise ValueError("not a whole number")
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError) as exc:
        raise MetadataError(
            f"metadata 'nirbridge.schema': expected an integer, got {stored!r}"
        ) from exc
    if schema > SCHEMA_VERSION:
        raise MetadataError(
            f"metadata 'nirbridge.schema' is {schema}, newer than the {SCHEMA_VERSION} this "
            "nirbridge understands: upgrade nirbridge to read this file"
        )
    if schema < 1:
        raise MetadataError(f"metadata 'nirbridge.schema': expected >= 1, got {schema}")
    # Schema 1 is the first; later schemas add their migrations here, oldest first.
    raw["schema"] = SCHEMA_VERSION
    return raw


def check_dt(dt: Any, *, source: str = "dt") -> float:
    """Return ``dt`` as a float number of seconds, or raise TimeStepError naming ``source``."""
    from .._errors import TimeStepError

    try:
        value = float(np.asarray(dt).item())
    except (TypeError, ValueError, OverflowError) as exc:
        raise TimeStepError(f"{source}: expected a number of seconds, got {dt!r}") from exc
    if not math.isfinite(value) or value <= 0:
        raise TimeStepError(f"{source}: expected a positive finite number of seconds, got {dt!r}")
    return value


def read_metadata(graph: Any) -> BridgeMetadata:
    """The nirbridge namespace of ``graph`` (defaults when it has none)."""
    meta = getattr(graph, "metadata", None)
    if not isinstance(meta, Mapping) or NAMESPACE not in meta:
        return BridgeMetadata()
    return BridgeMetadata.from_dict(meta[NAMESPACE])


def with_metadata(graph: Any, **changes: Any) -> Any:
    """Set fields of ``graph``'s nirbridge namespace in place and return the graph.

    Example:
        >>> with_metadata(graph, dt=1e-4, reset="subtract")
    """
    current = read_metadata(graph)
    updated = dataclasses.replace(current, **changes)
    if not isinstance(graph.metadata, dict):
        graph.metadata = {}
    graph.metadata[NAMESPACE] = updated.to_dict()
    return graph


def _as_float(value: Any, key: str) -> float:
    try:
        return float(np.asarray(value).item())
    except (TypeError, ValueError, OverflowError) as exc:
        raise MetadataError(
            f"metadata 'nirbridge.{key}': expected a number, got {value!r}"
        ) from exc


def _as_str(value: Any, key: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf8")
        except UnicodeDecodeError as exc:
            raise MetadataError(f"metadata 'nirbridge.{key}': not valid UTF-8") from exc
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "SUO":
        return _as_str(value.item(), key)
    raise MetadataError(f"metadata 'nirbridge.{key}': expected a string, got {value!r}")


def _as_quantization(value: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Check and normalise the quantization table (python ints and floats)."""

    def where(*path: object) -> str:
        return "metadata '" + ".".join(("nirbridge.quantization", *map(str, path))) + "'"

    if not isinstance(value, Mapping):
        raise MetadataError(f"{where()}: expected a group per node")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for node, params in value.items():
        if not isinstance(params, Mapping):
            raise MetadataError(f"{where(node)}: expected a group per parameter")
        out[str(node)] = {}
        for param, spec in params.items():
            at = where(node, param)
            if not isinstance(spec, Mapping) or set(spec) - set(_QUANT_FIELDS):
                raise MetadataError(f"{at}: expected fields among {_QUANT_FIELDS}, got {spec!r}")
            try:
                bits = int(np.asarray(spec["bits"]).item())
                scale = float(np.asarray(spec.get("scale", 1.0)).item())
                zero = int(np.asarray(spec.get("zero_point", 0)).item())
                signed = int(np.asarray(spec.get("signed", 1)).item())
            except (KeyError, TypeError, ValueError) as exc:
                raise MetadataError(
                    f"{at}: expected bits (int), scale, zero_point, signed ({exc})"
                ) from exc
            if not 1 <= bits <= 64:
                raise MetadataError(f"{where(node, param, 'bits')}: expected 1..64, got {bits}")
            if not (math.isfinite(scale) and scale > 0):
                raise MetadataError(
                    f"{where(node, param, 'scale')}: expected a positive finite number, got {scale}"
                )
            if signed not in (0, 1):
                raise MetadataError(
                    f"{where(node, param, 'signed')}: expected 0 or 1, got {signed}"
                )
            out[str(node)][str(param)] = {
                "bits": bits,
                "scale": scale,
                "zero_point": zero,
                "signed": signed,
            }
    return out


def _as_initial_state(value: Any) -> dict[str, dict[str, np.ndarray]]:
    if not isinstance(value, Mapping):
        raise MetadataError("metadata 'nirbridge.initial_state': expected a group per node")
    out: dict[str, dict[str, np.ndarray]] = {}
    for node, states in value.items():
        if not isinstance(states, Mapping):
            raise MetadataError(
                f"metadata 'nirbridge.initial_state.{node}': expected a group of state arrays"
            )
        out[str(node)] = {}
        for name, arr in states.items():
            try:
                a = np.asarray(arr)
            except (TypeError, ValueError) as exc:
                raise MetadataError(
                    f"metadata 'nirbridge.initial_state.{node}.{name}': not an array ({exc})"
                ) from exc
            if a.dtype.kind not in "biuf":
                raise MetadataError(
                    f"metadata 'nirbridge.initial_state.{node}.{name}': expected numbers, "
                    f"got dtype {a.dtype}"
                )
            out[str(node)][str(name)] = a.astype(np.float64)
    return out
