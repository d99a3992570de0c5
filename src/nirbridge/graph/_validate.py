"""Validation of NIR graphs: structure, parameter values and shapes, with errors that name
the node, the parameter and what was expected."""

from __future__ import annotations

from collections.abc import Callable

import nir
import numpy as np

from .._errors import (
    EdgeError,
    GraphError,
    InvalidParameterError,
    NirBridgeError,
    ShapeError,
    UnknownNodeTypeError,
)
from . import _linear
from ._metadata import read_metadata
from ._spec import LINEAR_TYPES, NEURON_TYPES, NODE_SPECS, type_name
from ._versions import resolve_reset
from ._walk import inline_subgraphs, schedule

_RULES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "positive": (lambda a: a > 0, "> 0"),
    "nonnegative": (lambda a: a >= 0, ">= 0"),
}


def check_graph(graph: nir.NIRGraph, *, reset: str | None = None) -> list[NirBridgeError]:
    """Every problem found in ``graph``, in the order found; empty when it is valid.

    Never raises for a problem of the graph itself. ``reset`` ("auto", "subtract" or "zero")
    decides whether ``v_reset < v_threshold`` is required (only when resetting to ``v_reset``).
    """
    problems: list[NirBridgeError] = []
    if not isinstance(graph, nir.NIRGraph):
        return [GraphError("expected a nir.NIRGraph", got=type(graph).__name__)]
    try:
        mode: str | None = _reset_mode(graph, reset)
    except NirBridgeError:
        mode = None
    _check_nodes(graph, "", mode, problems)
    if problems:
        return problems
    try:
        flat = inline_subgraphs(graph)
    except GraphError as exc:
        return [exc]
    _check_edges(flat, problems)
    if problems:
        return problems
    try:
        infer_shapes(flat)
    except GraphError as exc:
        problems.append(exc)
    return problems


def validate(graph: nir.NIRGraph, *, reset: str | None = None) -> None:
    """Raise the first problem :func:`check_graph` finds."""
    problems = check_graph(graph, reset=reset)
    if problems:
        raise problems[0]


def _reset_mode(graph: nir.NIRGraph, reset: str | None) -> str:
    meta = read_metadata(graph)
    return resolve_reset(reset, meta.reset, meta.nir_version)[0]


def _check_nodes(
    graph: nir.NIRGraph, prefix: str, mode: str | None, problems: list[NirBridgeError]
) -> None:
    nodes = graph.nodes
    if not isinstance(nodes, dict) or not nodes:
        problems.append(GraphError("graph has no nodes", node=prefix.rstrip(".") or None))
        return
    for raw_name, node in nodes.items():
        name = f"{prefix}{raw_name}"
        if not isinstance(raw_name, str) or not raw_name or "/" in raw_name:
            problems.append(
                GraphError(
                    "invalid node name",
                    node=str(raw_name),
                    expected="a non-empty string without '/'",
                )
            )
            continue
        tname = type_name(node)
        if tname not in NODE_SPECS and tname != "Identity":
            problems.append(
                UnknownNodeTypeError(
                    "unknown node type",
                    node=name,
                    expected=f"one of {sorted(NODE_SPECS)}",
                    got=tname,
                )
            )
            continue
        if isinstance(node, nir.NIRGraph):
            _check_nodes(node, f"{name}.", mode, problems)
            continue
        _check_params(node, name, tname, mode, problems)


def _check_params(
    node: nir.NIRNode, name: str, tname: str, mode: str | None, problems: list[NirBridgeError]
) -> None:
    shapes = []
    for field in NODE_SPECS[tname]:
        if field.kind != "float":
            continue
        value = getattr(node, field.name, None)
        if value is None:
            if field.required:
                problems.append(
                    InvalidParameterError(
                        "missing",
                        node=name,
                        node_type=tname,
                        parameter=field.name,
                        expected="an array of numbers",
                    )
                )
            continue
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            problems.append(
                InvalidParameterError(
                    "not numeric",
                    node=name,
                    node_type=tname,
                    parameter=field.name,
                    expected="real numbers",
                    got=f"dtype {arr.dtype}",
                )
            )
            continue
        if field.ndim is not None and arr.ndim != field.ndim:
            problems.append(
                InvalidParameterError(
                    "wrong number of dimensions",
                    node=name,
                    node_type=tname,
                    parameter=field.name,
                    expected=f"{field.ndim}-D array",
                    got=f"shape {arr.shape}",
                )
            )
            continue
        bad = ~np.isfinite(arr)
        if bad.any():
            problems.append(
                InvalidParameterError(
                    "not finite",
                    node=name,
                    node_type=tname,
                    parameter=field.name,
                    expected="finite numbers",
                    got=f"{int(bad.sum())} NaN/inf value(s), first at index "
                    f"{tuple(int(i) for i in np.argwhere(bad)[0])}",
                )
            )
            continue
        if field.rule:
            test, words = _RULES[field.rule]
            ok = test(arr)
            if not ok.all():
                first = np.argwhere(~ok)[0]
                problems.append(
                    InvalidParameterError(
                        "out of range",
                        node=name,
                        node_type=tname,
                        parameter=field.name,
                        expected=f"{words} ({field.unit})",
                        got=f"{arr[tuple(first)]!r} at index {tuple(int(i) for i in first)}",
                    )
                )
                continue
        if tname in NEURON_TYPES:
            shapes.append((field.name, arr.shape))
    if tname in NEURON_TYPES and shapes:
        try:
            np.broadcast_shapes(*(s for _, s in shapes))
        except ValueError:
            problems.append(
                InvalidParameterError(
                    "parameter shapes do not agree",
                    node=name,
                    node_type=tname,
                    expected="one shape (or broadcastable shapes) for all parameters",
                    got=", ".join(f"{k}{s}" for k, s in shapes),
                )
            )
            return
    if (
        mode != "subtract"
        and getattr(node, "v_reset", None) is not None
        and getattr(node, "v_threshold", None) is not None
    ):
        v_reset = np.asarray(node.v_reset, dtype=float)
        v_th = np.asarray(node.v_threshold, dtype=float)
        if np.isfinite(v_reset).all() and np.isfinite(v_th).all():
            bad = np.broadcast_to(v_reset >= v_th, np.broadcast_shapes(v_reset.shape, v_th.shape))
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                problems.append(
                    InvalidParameterError(
                        "reset potential not below threshold",
                        node=name,
                        node_type=tname,
                        parameter="v_reset",
                        expected="v_reset < v_threshold (the neuron resets to v_reset)",
                        got=f"v_reset={np.broadcast_to(v_reset, bad.shape)[idx]!r}, "
                        f"v_threshold={np.broadcast_to(v_th, bad.shape)[idx]!r} at index {idx}",
                    )
                )


def _check_edges(graph: nir.NIRGraph, problems: list[NirBridgeError]) -> None:
    edges = graph.edges
    seen = set()
    for edge in edges:
        if not (
            isinstance(edge, (tuple, list))
            and len(edge) == 2
            and all(isinstance(e, str) for e in edge)
        ):
            problems.append(
                EdgeError("malformed edge", expected="a pair of node names", got=repr(edge))
            )
            continue
        src, dst = edge
        for end, role in ((src, "source"), (dst, "target")):
            if end not in graph.nodes:
                problems.append(
                    EdgeError(
                        f"edge ({src!r}, {dst!r}) names a {role} that does not exist",
                        node=end,
                        expected=f"one of {sorted(graph.nodes)[:20]}",
                    )
                )
        if (src, dst) in seen:
            problems.append(EdgeError(f"duplicate edge ({src!r}, {dst!r})", node=dst))
        seen.add((src, dst))
        if src in graph.nodes and type_name(graph.nodes[src]) == "Output":
            problems.append(
                EdgeError("an Output node cannot feed other nodes", node=src, node_type="Output")
            )
        if dst in graph.nodes and type_name(graph.nodes[dst]) == "Input":
            problems.append(
                EdgeError("an Input node cannot be fed by other nodes", node=dst, node_type="Input")
            )
    if not any(type_name(n) == "Input" for n in graph.nodes.values()):
        problems.append(EdgeError("graph has no Input node", expected="at least one Input"))


def infer_shapes(graph: nir.NIRGraph) -> dict[str, tuple[int, ...]]:
    """Output shape (no batch dimension) of every node of a flat graph, checked along every edge.

    Raises:
        ShapeError: shapes disagree at some node (named, with the shapes met).
        EdgeError: a node is not reachable from any Input.
    """
    plan = schedule(graph)
    out: dict[str, tuple[int, ...]] = {}
    for name in plan.order:
        node = graph.nodes[name]
        tname = type_name(node)
        if tname == "Input":
            out[name] = tuple(int(s) for s in np.asarray(node.input_type["input"]).ravel())
            continue
        incoming = [(p, out[p]) for p in plan.forward[name]]
        shapes = {s for _, s in incoming}
        if len(shapes) > 1:
            raise ShapeError(
                "inputs of different shapes are summed",
                node=name,
                node_type=tname,
                expected="one shape",
                got=", ".join(f"{p}: {s}" for p, s in incoming),
            )
        in_shape = incoming[0][1]
        out[name] = _node_output_shape(node, name, tname, in_shape)
    for src, dst in plan.back_edges:
        node = graph.nodes[dst]
        expected = out[[p for p in plan.forward[dst]][0]] if plan.forward[dst] else None
        if expected is not None and out[src] != expected:
            raise ShapeError(
                "recurrent input has a different shape from the forward input",
                node=dst,
                node_type=type_name(node),
                expected=str(expected),
                got=f"{out[src]} from {src!r}",
            )
    return out


def _node_output_shape(
    node: nir.NIRNode, name: str, tname: str, in_shape: tuple[int, ...]
) -> tuple[int, ...]:
    if tname in ("Output", "Identity"):
        declared = tuple(int(s) for s in np.asarray(node.output_type["output"]).ravel())
        if declared != in_shape and int(np.prod(declared)) != int(np.prod(in_shape)):
            raise ShapeError(
                "declared shape does not match its input",
                node=name,
                node_type=tname,
                expected=str(in_shape),
                got=str(declared),
            )
        return in_shape
    if tname in LINEAR_TYPES:
        return _linear.output_shape(node, name, in_shape)
    params = [
        np.shape(getattr(node, f.name))
        for f in NODE_SPECS[tname]
        if f.kind == "float" and getattr(node, f.name, None) is not None
    ]
    try:
        return tuple(np.broadcast_shapes(in_shape, *params))
    except ValueError as exc:
        raise ShapeError(
            "input does not match the node's parameters",
            node=name,
            node_type=tname,
            expected=f"input broadcastable with {np.broadcast_shapes(*params)}",
            got=str(in_shape),
        ) from exc
