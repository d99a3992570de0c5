"""NIR -> PyNN: run a NIR graph on NEST (default) and the other PyNN simulators.

The PyNN backend module is passed in by the caller (``import pyNN.nest as sim``); nothing here
imports a simulator at module level.
"""

from ._convert import SYNAPTIC_LAG, to_pynn
from ._converter import NestConverter
from ._network import PyNNNetwork
from ._plan import NetworkPlan, OutputPlan, PopulationPlan, ProjectionPlan, plan_network

__all__ = [
    "NestConverter",
    "NetworkPlan",
    "OutputPlan",
    "PopulationPlan",
    "ProjectionPlan",
    "PyNNNetwork",
    "SYNAPTIC_LAG",
    "plan_network",
    "to_pynn",
]
