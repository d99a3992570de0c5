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
    MetadataError,
    NirBridgeError,
    ResetModeError,
    ShapeError,
    UnknownNodeTypeError,
)
from . import _linear
from ._metadata import BridgeMetadata, read_metadata
from ._spec import LINEAR_TYPES, NEURON_STATES, NEURON_TYPES, NODE_SPECS, Field, type_name
from ._versions import resolve_reset
from ._walk import inline_subgraphs, schedule

_RULES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "positive": (lambda a: a > 0, "> 0"),
    "nonnegative": (lambda a: a >= 0, ">= 0"),
}


def check_graph(graph: nir.NIRGraph, *, reset: str | None = None) -> list[NirBridgeError]:
    """Every problem found in ``graph``, in the order found; empty when it is valid.

    Never raises for a problem of the graph itself. ``reset`` ("auto", "subtract" or "zero")
    decides whether ``v_reset < v_threshold`` is required (only when resetting to ``v_reset``;
    when the mode cannot be decided, it is required).

    Raises:
        ResetModeError: ``reset`` is not one of the modes (a bad argument, not a bad graph).
    """
    problems: list[NirBridgeError] = []
    if not isinstance(graph, nir.NIRGraph):
        return [GraphError("expected a nir.NIRGraph", got=type(graph).__name__)]
    meta: BridgeMetadata | None
    try:
        meta = read_metadata(graph)
    except MetadataError as exc:
        problems.append(exc)
        meta = None
    mode = _reset_mode(meta, reset)
    _check_nodes(graph, "", mode, problems)
    if problems:
        return problems
    try:
        flat = inline_subgraphs(graph)
    except GraphError as exc:
        return [exc]
    _check_nested_edges(graph, "", problems)
    _check_edges(flat, problems)
    if problems:
        return problems
    try:
        shapes = infer_shapes(flat)
    except GraphError as exc:
        problems.append(exc)
        return problems
    if meta is not None:
        _check_initial_state(flat, shapes, meta, problems)
    return problems


def validate(graph: nir.NIRGraph, *, reset: str | None = None) -> None:
    """Raise the first problem :func:`check_graph` finds."""
    problems = check_graph(graph, reset=reset)
    if problems:
        raise problems[0]


def _reset_mode(meta: BridgeMetadata | None, reset: str | None) -> str | None:
    """The reset mode, or None where the graph leaves it undecided; a bad ``reset`` raises."""
    try:
        return resolve_reset(
            reset,
            meta.reset if meta is not None else None,
            meta.nir_version if meta is not None else None,
        )[0]
    except ResetModeError:
        if reset not in (None, "auto"):
            raise
        return None


def _check_nodes(
    graph: nir.NIRGraph, prefix: str, mode: str | None, problems: list[NirBridgeError]
) -> None:
    nodes = graph.nodes
    if not isinstance(nodes, dict) or not nodes:
        problems.append(GraphError("graph has no nodes", node=prefix.rstrip(".") or None))
        return
    if not isinstance(graph.edges, (list, tuple)):
        problems.append(
            EdgeError(
                "edges are not a list",
                node=prefix.rstrip(".") or None,
                parameter="edges",
                expected="a list of (source, target) pairs",
                got=type(graph.edges).__name__,
            )
        )
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
    for field in NODE_SPECS.get(tname, ()):
        if field.kind != "float":
            _check_integers(node, name, tname, field, problems)
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
                        got=f"{arr[tuple(first)].item()!r} at index {tuple(int(i) for i in first)}",
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
    if tname == "Affine":
        _check_affine_bias(node, name, problems)
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
                        got=f"v_reset={np.broadcast_to(v_reset, bad.shape)[idx].item()!r}, "
                        f"v_threshold={np.broadcast_to(v_th, bad.shape)[idx].item()!r} "
                        f"at index {idx}",
                    )
                )


def _check_integers(
    node: nir.NIRNode, name: str, tname: str, field: Field, problems: list[NirBridgeError]
) -> None:
    """Integer fields (strides, kernel sizes, shapes...): integers, and in range."""
    if tname == "Input" and field.name == "shape":
        value = (getattr(node, "input_type", None) or {}).get("input")
    elif tname == "Output" and field.name == "shape":
        value = (getattr(node, "output_type", None) or {}).get("output")
    else:
        value = getattr(node, field.name, None)
    if isinstance(value, dict):  # Flatten's input_type
        value = next(iter(value.values()), None)
    if value is None or (field.kind == "padding" and isinstance(value, (str, bytes))):
        return
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        arr = np.asarray(None)
    if arr.dtype.kind not in "iub" or arr.ndim > 1:
        problems.append(
            InvalidParameterError(
                "not an integer",
                node=name,
                node_type=tname,
                parameter=field.name,
                expected="an integer or a 1-D array of integers",
                got=f"{_short(value)}",
            )
        )
        return
    rule = field.rule or ("positive" if field.kind == "shape" else None)
    if rule:
        test, words = _RULES[rule]
        ok = test(arr)
        if not np.all(ok):
            problems.append(
                InvalidParameterError(
                    "out of range",
                    node=name,
                    node_type=tname,
                    parameter=field.name,
                    expected=f"integers {words}",
                    got=str(arr.tolist()),
                )
            )


def _check_affine_bias(node: nir.NIRNode, name: str, problems: list[NirBridgeError]) -> None:
    weight, bias = getattr(node, "weight", None), getattr(node, "bias", None)
    if weight is None or bias is None or np.ndim(weight) != 2:
        return
    n_out = int(np.shape(weight)[0])
    if np.shape(bias) not in ((n_out,), (1,)):
        problems.append(
            InvalidParameterError(
                "bias does not match the weight",
                node=name,
                node_type="Affine",
                parameter="bias",
                expected=f"shape ({n_out},) (one per row of weight {np.shape(weight)})",
                got=f"shape {np.shape(bias)}",
            )
        )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_initial_state(
    graph: nir.NIRGraph,
    shapes: dict[str, tuple[int, ...]],
    meta: BridgeMetadata,
    problems: list[NirBridgeError],
) -> None:
    """``nirbridge.initial_state`` names neurons of the (flat) graph, their states, and values of
    a shape that broadcasts to the neuron's."""
    for node, states in meta.initial_state.items():
        target = graph.nodes.get(node)
        tname = type_name(target) if target is not None else None
        if tname not in NEURON_STATES:
            neurons = sorted(k for k, n in graph.nodes.items() if type_name(n) in NEURON_STATES)
            problems.append(
                InvalidParameterError(
                    "initial state given for a node that is not a neuron of the graph",
                    node=node,
                    node_type=tname,
                    parameter="initial_state",
                    expected=f"a neuron, one of {neurons[:20]}",
                )
            )
            continue
        for state, value in states.items():
            param = f"initial_state.{state}"
            known = NEURON_STATES[tname]
            if state not in known:
                problems.append(
                    InvalidParameterError(
                        "unknown state",
                        node=node,
                        node_type=tname,
                        parameter=param,
                        expected=f"one of {known}",
                        got=repr(state),
                    )
                )
                continue
            arr = np.asarray(value)
            if not np.isfinite(arr).all():
                problems.append(
                    InvalidParameterError(
                        "not finite",
                        node=node,
                        node_type=tname,
                        parameter=param,
                        expected="finite numbers",
                    )
                )
                continue
            shape = shapes[node]
            try:
                ok = np.broadcast_shapes(arr.shape, shape) == shape
            except ValueError:
                ok = False
            if not ok:
                problems.append(
                    InvalidParameterError(
                        "shape does not match the neuron",
                        node=node,
                        node_type=tname,
                        parameter=param,
                        expected=f"a shape broadcastable to {shape}",
                        got=f"shape {arr.shape}",
                    )
                )


def _check_nested_edges(graph: nir.NIRGraph, prefix: str, problems: list[NirBridgeError]) -> None:
    """Check the edges of every nested subgraph on its own level, where its Input and Output
    nodes are still Input and Output (the flat graph has them as pass-through nodes)."""
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            continue
        full = f"{prefix}{name}"
        try:
            _check_edges(inline_subgraphs(node), problems, prefix=f"{full}.", owner=full)
        except GraphError as exc:
            problems.append(exc)
        _check_nested_edges(node, f"{full}.", problems)


def _check_edges(
    graph: nir.NIRGraph, problems: list[NirBridgeError], prefix: str = "", owner: str | None = None
) -> None:
    edges = graph.edges
    seen = set()
    for edge in edges:
        if not (
            isinstance(edge, (tuple, list))
            and len(edge) == 2
            and all(isinstance(e, str) for e in edge)
        ):
            problems.append(
                EdgeError(
                    "malformed edge", node=owner, expected="a pair of node names", got=repr(edge)
                )
            )
            continue
        src, dst = edge
        shown = f"({prefix}{src!s}, {prefix}{dst!s})" if prefix else f"({src!r}, {dst!r})"
        for end, role in ((src, "source"), (dst, "target")):
            if end not in graph.nodes:
                problems.append(
                    EdgeError(
                        f"edge {shown} names a {role} that does not exist",
                        node=f"{prefix}{end}",
                        expected=f"one of {sorted(f'{prefix}{k}' for k in graph.nodes)[:20]}",
                    )
                )
        if (src, dst) in seen:
            problems.append(EdgeError(f"duplicate edge {shown}", node=f"{prefix}{dst}"))
        seen.add((src, dst))
        if src in graph.nodes and type_name(graph.nodes[src]) == "Output":
            problems.append(
                EdgeError(
                    "an Output node cannot feed other nodes",
                    node=f"{prefix}{src}",
                    node_type="Output",
                )
            )
        if dst in graph.nodes and type_name(graph.nodes[dst]) == "Input":
            problems.append(
                EdgeError(
                    "an Input node cannot be fed by other nodes",
                    node=f"{prefix}{dst}",
                    node_type="Input",
                )
            )
    if not any(type_name(n) == "Input" for n in graph.nodes.values()):
        problems.append(
            EdgeError("graph has no Input node", node=owner, expected="at least one Input")
        )


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
        try:
            out[name] = _node_output_shape(node, name, tname, in_shape)
        except GraphError:
            raise
        except Exception as exc:  # a malformed in-memory node; name it instead of crashing
            raise InvalidParameterError(
                f"cannot compute the output shape ({type(exc).__name__}: {exc})",
                node=name,
                node_type=tname,
                got=f"input shape {in_shape}",
            ) from exc
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
        types = getattr(node, "output_type", None) or {}
        if types.get("output") is None:
            return in_shape
        declared = tuple(int(s) for s in np.asarray(types["output"]).ravel())
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
        for f in NODE_SPECS.get(tname, ())
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
