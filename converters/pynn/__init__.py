"""NIR <-> PyNN: run a NIR graph on NEST (default) and the other PyNN simulators, and read a
PyNN network of the supported cell types back into NIR (:func:`from_pynn`); map a graph onto a
virtual SpiNNaker board (:func:`map_on_spinnaker`).

The PyNN backend module is passed in by the caller (``import pyNN.nest as sim``); nothing here
imports a simulator at module level.
"""

from ._backends import BACKENDS, Backend, backend_for
from ._convert import SYNAPTIC_LAG, to_pynn
from ._converter import Brian2Converter, NestConverter, NeuronConverter
from ._export import from_pynn
from ._network import PyNNNetwork
from ._plan import NetworkPlan, OutputPlan, PopulationPlan, ProjectionPlan, plan_network
from ._spinnaker import MappingReport, SpinnakerConverter, map_on_spinnaker

__all__ = [
    "BACKENDS",
    "Backend",
    "Brian2Converter",
    "backend_for",
    "from_pynn",
    "MappingReport",
    "map_on_spinnaker",
    "NestConverter",
    "NetworkPlan",
    "NeuronConverter",
    "OutputPlan",
    "PopulationPlan",
    "ProjectionPlan",
    "PyNNNetwork",
    "SYNAPTIC_LAG",
    "SpinnakerConverter",
    "plan_network",
    "to_pynn",
]
