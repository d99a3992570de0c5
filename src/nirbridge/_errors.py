"""Exception types of nirbridge.

Every error this package raises on bad input is one of these. Each carries the node and the
parameter it concerns (where there is one) and what was expected, so that a message reads like
``node 'lif1' (LIF), parameter 'tau': expected > 0 s, got -0.001``.
"""

from __future__ import annotations


class NirBridgeError(Exception):
    """Base class of every error nirbridge raises on bad input or configuration."""


def _message(where: list[str], message: str, expected: str | None, got: str | None) -> str:
    """``"<where>: <message>: expected <expected>, got <got>"``, leaving out what is None."""
    detail = message
    if expected is not None:
        detail += f": expected {expected}"
        if got is not None:
            detail += f", got {got}"
    elif got is not None:
        detail += f": got {got}"
    prefix = ", ".join(where)
    return f"{prefix}: {detail}" if prefix else detail


class GraphError(NirBridgeError):
    """A NIR graph is malformed or holds invalid values.

    Attributes:
        node: Name of the offending node (dotted for nodes inside subgraphs), or None.
        parameter: Name of the offending parameter or field, or None.
        expected: What was expected, in words.
        got: What was found, in words (a short repr).
    """

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        node_type: str | None = None,
        parameter: str | None = None,
        expected: str | None = None,
        got: str | None = None,
    ) -> None:
        self.node = node
        self.node_type = node_type
        self.parameter = parameter
        self.expected = expected
        self.got = got
        parts = []
        if node is not None:
            parts.append(f"node {node!r}" + (f" ({node_type})" if node_type else ""))
        if parameter is not None:
            parts.append(f"parameter {parameter!r}")
        super().__init__(_message(parts, message, expected, got))


class InvalidParameterError(GraphError):
    """A parameter has the wrong shape, a non-finite value or a value out of range."""


class UnknownNodeTypeError(GraphError):
    """A node's type is not one NIR (or nirbridge) defines."""


class EdgeError(GraphError):
    """An edge names a node that does not exist, is duplicated, or leaves a node unreachable."""


class ShapeError(GraphError):
    """The shapes on the two ends of an edge do not agree."""


class FileFormatError(NirBridgeError):
    """A file is not a readable NIR file (not HDF5, no NIR root group, corrupted datasets)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class MetadataError(NirBridgeError):
    """nirbridge's metadata namespace in a graph is malformed or from an unknown newer version."""


class LearningRuleError(NirBridgeError):
    """A learning rule is malformed, does not fit its graph, or is from an unknown newer schema.

    Attributes:
        rule: Kind of the rule concerned ("eprop", "stdp", ...), or None.
        part: Class of the part of a rule concerned ("Optimizer"), when no rule is named.
        field: Dotted path of the offending field inside the rule (``"optimizer.beta_1"``,
            ``"scope.plastic_edges[2]"``), or None.
        expected: What was expected, in words.
        got: What was found, in words (a short repr).
    """

    def __init__(
        self,
        message: str,
        *,
        rule: str | None = None,
        part: str | None = None,
        field: str | None = None,
        expected: str | None = None,
        got: str | None = None,
    ) -> None:
        self.rule = rule
        self.part = part
        self.field = field
        self.expected = expected
        self.got = got
        self.detail = message
        parts = []
        if rule is not None:
            parts.append(f"learning rule {rule!r}")
        elif part is not None:
            parts.append(part)
        if field is not None:
            parts.append(f"field {field!r}")
        super().__init__(_message(parts, message, expected, got))

    def within(
        self, prefix: str, *, rule: str | None = None, part: str | None = None
    ) -> LearningRuleError:
        """The same error, its field path prefixed by ``prefix`` (the enclosing field)."""
        field = prefix if self.field is None else f"{prefix}.{self.field}"
        if self.field is not None and self.field.startswith("["):
            field = f"{prefix}{self.field}"
        return LearningRuleError(
            self.detail,
            rule=rule if rule is not None else self.rule,
            part=None if rule is not None else (part if part is not None else self.part),
            field=field,
            expected=self.expected,
            got=self.got,
        )


class TimeStepError(NirBridgeError):
    """No time step was given, or the one given is not a positive finite number of seconds."""


class ResetModeError(NirBridgeError):
    """The reset mode could not be decided or is not one of the known modes."""


class SimulationInputError(NirBridgeError):
    """Inputs given to a simulation do not match the graph's Input nodes."""


class CheckpointError(NirBridgeError):
    """A training checkpoint cannot be read, or belongs to another network, rule or seed."""


class UnsupportedError(NirBridgeError):
    """A construct is valid NIR but not supported by the component asked to handle it."""

    def __init__(self, message: str, *, node: str | None = None, target: str | None = None):
        self.node = node
        self.target = target
        where = f"node {node!r}: " if node else ""
        by = f" (target {target!r})" if target else ""
        super().__init__(f"{where}{message}{by}")
