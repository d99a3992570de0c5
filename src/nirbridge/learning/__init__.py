"""The learning-rule extension schema: rules as data, stored in ``.nir`` files.

A rule is a frozen, versioned dataclass that checks itself on construction and against a graph
(:meth:`LearningRule.validate`). :func:`attach` stores it in the graph's nirbridge metadata,
where ``nirbridge.write`` puts it in the file as plain HDF5 groups and datasets (stock
``nir.read`` still reads the file); :func:`rule_of` reads it back. :func:`json_schema` is the
published JSON Schema (docs/learning-rule.schema.json); docs/learning.md is the reference.

Rules:
    :class:`SurrogateGradient` (BPTT), :class:`EventProp`, :class:`EProp` (NEST's e-prop),
    :class:`STDP` (PyNN's STDPMechanism), :class:`LocalRule` (Lava's sum-of-products rules).
Parts:
    :class:`Scope`, :class:`Optimizer`, :class:`AdamState`, :class:`Loss`,
    :class:`Regularizer`, :class:`Surrogate`, :class:`EPropSurrogate`,
    :class:`TimingDependence`, :class:`WeightDependence`.
"""

from ._base import Spec
from ._common import LOSSES, SURROGATES, AdamState, Loss, Optimizer, Regularizer, Scope, Surrogate
from ._eprop import NEST_SURROGATES, EProp, EPropSurrogate
from ._gradient import EVENTPROP_LOSSES, EventProp, SurrogateGradient
from ._jsonschema import json_schema
from ._local import LocalRule, parse_product_series
from ._rule import LearningRule, Migration
from ._stdp import (
    STDP,
    TIMING_DEPENDENCES,
    WEIGHT_DEPENDENCES,
    TimingDependence,
    WeightDependence,
)
from ._store import METADATA_KEY, RULE_TYPES, attach, detach, rule_from_dict, rule_of

__all__ = [
    "AdamState",
    "EPropSurrogate",
    "EProp",
    "EVENTPROP_LOSSES",
    "EventProp",
    "LOSSES",
    "LearningRule",
    "LocalRule",
    "Loss",
    "METADATA_KEY",
    "Migration",
    "NEST_SURROGATES",
    "Optimizer",
    "RULE_TYPES",
    "Regularizer",
    "STDP",
    "SURROGATES",
    "Scope",
    "Spec",
    "Surrogate",
    "SurrogateGradient",
    "TIMING_DEPENDENCES",
    "TimingDependence",
    "WEIGHT_DEPENDENCES",
    "WeightDependence",
    "attach",
    "detach",
    "json_schema",
    "parse_product_series",
    "rule_from_dict",
    "rule_of",
]
