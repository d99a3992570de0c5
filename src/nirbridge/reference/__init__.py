"""The numpy reference simulator of SEMANTICS.md: the oracle every backend is tested against."""

from ._neurons import NeuronStep, phi, prepare_neuron
from ._simulator import (
    EVENT_DENSITY,
    ReferenceSimulator,
    SimulationResult,
    check_inputs,
    simulate,
)

__all__ = [
    "EVENT_DENSITY",
    "NeuronStep",
    "ReferenceSimulator",
    "SimulationResult",
    "check_inputs",
    "phi",
    "prepare_neuron",
    "simulate",
]
