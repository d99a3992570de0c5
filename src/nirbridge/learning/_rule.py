"""The base of the five rules: kind, schema version, migration, validation against a graph."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import nir

from .._errors import LearningRuleError
from ._base import Spec, param, render
from ._common import Scope
from ._graphview import GraphView

#: A migration takes a stored rule of schema n (a dict) and returns it in schema n + 1.
Migration = Callable[[dict[str, Any]], dict[str, Any]]


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class LearningRule(Spec):
    """A learning rule: data that any backend implementing it can apply.

    Each rule class has a ``kind`` (the discriminator stored beside its fields) and a
    ``schema`` version. A stored rule of an older schema is brought up to date by the class's
    ``migrations`` (``{n: function from schema n to n + 1}``) when read; a newer one fails with
    a :class:`~nirbridge.LearningRuleError` saying to upgrade nirbridge.
    """

    kind: ClassVar[str] = ""
    schema: ClassVar[int] = 1
    migrations: ClassVar[Mapping[int, Migration]] = {}

    scope: Scope = param(doc="which weights learn, the readout and the target input")

    # -- storage --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The rule as stored in ``graph.metadata["nirbridge"]["learning_rule"]``."""
        return {"kind": self.kind, "schema": self.schema, **super().to_dict()}

    @classmethod
    def from_dict(cls, raw: Any) -> LearningRule:
        """Parse a stored rule of this kind, migrating an older schema.

        Raises:
            LearningRuleError: wrong kind, newer schema, or a malformed field (named).
        """
        if not isinstance(raw, Mapping):
            raise LearningRuleError(
                "not a group of fields", rule=cls.kind, expected="a mapping", got=repr(raw)[:80]
            )
        body = dict(raw)
        kind = body.pop("kind", cls.kind)
        if str(kind) != cls.kind:
            raise LearningRuleError(
                "wrong kind", rule=cls.kind, field="kind", expected=repr(cls.kind), got=repr(kind)
            )
        version = stored_version(body.pop("schema", None), cls.kind)
        body = cls.migrate(body, version)
        rule = super().from_dict(body)
        assert isinstance(rule, LearningRule)
        return rule

    @classmethod
    def migrate(cls, raw: dict[str, Any], version: int) -> dict[str, Any]:
        """The migration hook: bring a stored rule (without kind and schema) from ``version``
        to :attr:`schema`, one step at a time through :attr:`migrations`."""
        if version > cls.schema:
            raise LearningRuleError(
                f"stored with schema {version}, newer than the schema {cls.schema} this "
                "nirbridge knows: upgrade nirbridge to read this file",
                rule=cls.kind,
                field="schema",
            )
        if version < 1:
            raise LearningRuleError(
                "unknown schema version",
                rule=cls.kind,
                field="schema",
                expected=">= 1",
                got=str(version),
            )
        while version < cls.schema:
            step = cls.migrations.get(version)
            if step is None:
                raise LearningRuleError(
                    f"no migration from schema {version} to {version + 1}",
                    rule=cls.kind,
                    field="schema",
                )
            raw = step(dict(raw))
            version += 1
        return raw

    # -- validation -----------------------------------------------------------------------------

    def validate(self, graph: nir.NIRGraph | GraphView) -> None:
        """Check that this rule fits ``graph``: every node and edge it names exists and has
        the type and shape the rule needs.

        Raises:
            LearningRuleError: naming the field and what was expected.
            GraphError: the graph itself cannot be walked (see ``nirbridge.validate``).
        """
        view = graph if isinstance(graph, GraphView) else GraphView(graph)
        self.scope.validate(view, self.kind)
        self._validate_graph(view)

    def _validate_graph(self, view: GraphView) -> None:
        """Rule-specific checks against the graph."""

    # -- display --------------------------------------------------------------------------------

    def summary(self) -> str:
        """One line: the kind and the fields that matter most."""
        return f"{self.kind} (schema {self.schema}): {self._headline()}"

    def _headline(self) -> str:
        n = len(self.scope.plastic_edges)
        return f"{n} plastic edge{'s' if n != 1 else ''}"

    def details(self) -> list[tuple[str, str]]:
        """(field, rendering) of every field in use, for ``nirbridge inspect``."""
        return [(name, render(value)) for name, value in self.items()]


def stored_version(value: Any, kind: str) -> int:
    """The schema number of a stored rule (1 when absent)."""
    if value is None:
        return 1
    try:
        import numpy as np

        number = np.asarray(value).item()
        if isinstance(number, bytes):
            number = number.decode("ascii")
        version = int(number)
        if isinstance(number, float) and number != version:
            raise ValueError("not a whole number")
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError) as exc:
        raise LearningRuleError(
            "not an integer", rule=kind or None, field="schema", got=repr(value)[:80]
        ) from exc
    return version


__all__ = ["LearningRule", "Migration", "stored_version"]
