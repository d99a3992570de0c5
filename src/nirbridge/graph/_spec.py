"""What each NIR node type holds: one table, read by the file reader and the validator.

Each entry names a node type's fields, what kind of value each is, whether it is required, and,
for physical parameters, the unit and the range a valid value lies in.
"""

from __future__ import annotations

import dataclasses

import nir


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a node type.

    Attributes:
        name: Field name as NIR stores it.
        kind: "float" (real array), "shape" (1-D positive integers), "int" (integer or integer
            array), "padding" (integers or "same"/"valid").
        required: Whether a file must hold it.
        unit: Physical unit in words ("time", "voltage", ...) for documentation and messages.
        rule: Range a valid value lies in: "positive", "nonnegative" or None (for "int" and
            "padding" fields it applies to every integer).
        ndim: Required number of dimensions, or None for any.
    """

    name: str
    kind: str = "float"
    required: bool = True
    unit: str = ""
    rule: str | None = None
    ndim: int | None = None


_TAU = "time (s, or the graph's time_unit)"


def _neuron(*fields: Field) -> tuple[Field, ...]:
    return fields


NODE_SPECS: dict[str, tuple[Field, ...]] = {
    "Input": (Field("shape", "shape"),),
    "Output": (Field("shape", "shape"),),
    "Affine": (Field("weight", ndim=2), Field("bias", ndim=1)),
    "Linear": (Field("weight", ndim=2),),
    "Scale": (Field("scale"),),
    "Threshold": (Field("threshold", unit="voltage"),),
    "Delay": (Field("delay", unit=_TAU, rule="nonnegative"),),
    "Flatten": (
        Field("start_dim", "int", required=False),
        Field("end_dim", "int", required=False),
        Field("input_type", "shape", required=False),
    ),
    "Conv1d": (
        Field("weight", ndim=3),
        Field("bias", ndim=1),
        Field("stride", "int", rule="positive"),
        Field("padding", "padding", rule="nonnegative"),
        Field("dilation", "int", rule="positive"),
        Field("groups", "int", rule="positive"),
        Field("input_shape", "int", required=False, rule="positive"),
    ),
    "Conv2d": (
        Field("weight", ndim=4),
        Field("bias", ndim=1),
        Field("stride", "int", rule="positive"),
        Field("padding", "padding", rule="nonnegative"),
        Field("dilation", "int", rule="positive"),
        Field("groups", "int", rule="positive"),
        Field("input_shape", "int", required=False, rule="positive"),
    ),
    "SumPool2d": (
        Field("kernel_size", "int", rule="positive"),
        Field("stride", "int", rule="positive"),
        Field("padding", "int", rule="nonnegative"),
    ),
    "AvgPool2d": (
        Field("kernel_size", "int", rule="positive"),
        Field("stride", "int", rule="positive"),
        Field("padding", "int", rule="nonnegative"),
    ),
    "I": _neuron(Field("r", unit="resistance")),
    "IF": _neuron(
        Field("r", unit="resistance"),
        Field("v_threshold", unit="voltage"),
        Field("v_reset", unit="voltage", required=False),
    ),
    "LI": _neuron(
        Field("tau", unit=_TAU, rule="positive"),
        Field("r", unit="resistance"),
        Field("v_leak", unit="voltage"),
    ),
    "LIF": _neuron(
        Field("tau", unit=_TAU, rule="positive"),
        Field("r", unit="resistance"),
        Field("v_leak", unit="voltage"),
        Field("v_threshold", unit="voltage"),
        Field("v_reset", unit="voltage", required=False),
    ),
    "CubaLI": _neuron(
        Field("tau_syn", unit=_TAU, rule="positive"),
        Field("tau_mem", unit=_TAU, rule="positive"),
        Field("r", unit="resistance"),
        Field("v_leak", unit="voltage"),
        Field("w_in", required=False),
    ),
    "CubaLIF": _neuron(
        Field("tau_syn", unit=_TAU, rule="positive"),
        Field("tau_mem", unit=_TAU, rule="positive"),
        Field("r", unit="resistance"),
        Field("v_leak", unit="voltage"),
        Field("v_threshold", unit="voltage"),
        Field("v_reset", unit="voltage", required=False),
        Field("w_in", required=False),
    ),
    "NIRGraph": (),
}

#: Node types whose output is a spike (0/1) per element.
SPIKING_TYPES = frozenset({"IF", "LIF", "CubaLIF", "Threshold"})
#: Neuron types (stateful, elementwise).
NEURON_TYPES = frozenset({"I", "IF", "LI", "LIF", "CubaLI", "CubaLIF"})
#: Stateless linear maps, composable into one matrix (Affine's bias becomes an offset).
LINEAR_TYPES = frozenset(
    {"Affine", "Linear", "Scale", "Flatten", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d"}
)
#: Nodes that pass their input through unchanged.
IDENTITY_TYPES = frozenset({"Input", "Output", "Identity"})
#: Every node type nirbridge reads, simulates and validates.
SUPPORTED_TYPES = tuple(NODE_SPECS)

#: State variables of each neuron type, as ``metadata["nirbridge"]["initial_state"]`` names them.
NEURON_STATES: dict[str, tuple[str, ...]] = {
    "I": ("v",),
    "IF": ("v",),
    "LI": ("v",),
    "LIF": ("v",),
    "CubaLI": ("i", "v"),
    "CubaLIF": ("i", "v"),
}

#: Parameters that are time constants or delays (scaled by the graph's time unit).
TIME_FIELDS = frozenset({"tau", "tau_syn", "tau_mem", "delay"})


def type_name(node: nir.NIRNode) -> str:
    """The NIR type name of a node object ("LIF", "Affine", ...)."""
    return type(node).__name__


def param_fields(type_: str) -> tuple[Field, ...]:
    """Float-valued (physical) fields of a node type."""
    return tuple(f for f in NODE_SPECS.get(type_, ()) if f.kind == "float")
