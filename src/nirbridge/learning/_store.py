"""Storing a rule in a graph's nirbridge metadata, and reading it back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nir

from .._errors import LearningRuleError
from ..graph import read_metadata, with_metadata
from ._eprop import EProp
from ._gradient import EventProp, SurrogateGradient
from ._local import LocalRule
from ._rule import LearningRule
from ._stdp import STDP

#: Key of the rule in ``graph.metadata["nirbridge"]``.
METADATA_KEY = "learning_rule"

#: Every rule class, by the ``kind`` stored with it.
RULE_TYPES: dict[str, type[LearningRule]] = {
    cls.kind: cls for cls in (SurrogateGradient, EventProp, EProp, STDP, LocalRule)
}


def rule_from_dict(raw: Any) -> LearningRule:
    """Parse a stored rule of any kind (its stored form, or its JSON form).

    Raises:
        LearningRuleError: unknown kind, newer schema, or a malformed field (named).
    """
    if not isinstance(raw, Mapping):
        raise LearningRuleError(
            "not a group of fields", expected="a mapping with a 'kind'", got=repr(raw)[:80]
        )
    if "kind" not in raw:
        raise LearningRuleError(
            "missing", field="kind", expected=f"one of {sorted(RULE_TYPES)}", got="nothing"
        )
    kind = raw["kind"]
    kind = kind.decode("utf8", "replace") if isinstance(kind, bytes) else kind
    cls = RULE_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise LearningRuleError(
            "unknown kind of learning rule (written by a newer nirbridge?)",
            field="kind",
            expected=f"one of {sorted(RULE_TYPES)}",
            got=repr(kind)[:80],
        )
    return cls.from_dict(raw)


def attach(graph: nir.NIRGraph, rule: LearningRule, *, check: bool = True) -> nir.NIRGraph:
    """Store ``rule`` in ``graph.metadata["nirbridge"]["learning_rule"]`` (in place).

    The rule is checked against the graph first (``check=False`` skips that). Other
    metadata is kept; a rule already there is replaced. ``nirbridge.write`` then stores it
    in the file, where stock ``nir.read`` reads it as plain metadata.

    Returns:
        ``graph``.

    Raises:
        LearningRuleError: the rule does not fit the graph (the field is named).
    """
    if not isinstance(rule, LearningRule):
        raise LearningRuleError(
            "not a learning rule",
            expected=f"one of {[c.__name__ for c in RULE_TYPES.values()]}",
            got=type(rule).__name__,
        )
    if check:
        rule.validate(graph)
    extra = dict(read_metadata(graph).extra)
    extra[METADATA_KEY] = rule.to_dict()
    return with_metadata(graph, extra=extra)


def detach(graph: nir.NIRGraph) -> nir.NIRGraph:
    """Remove the learning rule from ``graph``'s metadata, if any (in place)."""
    extra = dict(read_metadata(graph).extra)
    extra.pop(METADATA_KEY, None)
    return with_metadata(graph, extra=extra)


def rule_of(graph: nir.NIRGraph, *, check: bool = True) -> LearningRule | None:
    """The learning rule stored with ``graph``, or None when it has none.

    Args:
        graph: A graph, e.g. from ``nirbridge.read``.
        check: Also check the rule against the graph.

    Raises:
        LearningRuleError: the stored rule is malformed, of an unknown kind or newer schema,
            or (when ``check``) does not fit the graph.
    """
    raw = read_metadata(graph).extra.get(METADATA_KEY)
    if raw is None:
        return None
    rule = rule_from_dict(raw)
    if check:
        rule.validate(graph)
    return rule


__all__ = ["METADATA_KEY", "RULE_TYPES", "attach", "detach", "rule_from_dict", "rule_of"]
