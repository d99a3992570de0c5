"""Reading and writing NIR files, keeping nirbridge's metadata.

:func:`read` parses the HDF5 layout itself, so that a broken file meets an error of this package
that names the node and the field, instead of whatever nir's reader trips over; it builds the same
``nir`` node objects nir's reader builds. :func:`write` is nir's writer behind an atomic rename,
with our namespace filled in.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np

from .._errors import (
    EdgeError,
    FileFormatError,
    GraphError,
    InvalidParameterError,
    NirBridgeError,
    UnknownNodeTypeError,
)
from ._metadata import NAMESPACE, read_metadata, with_metadata
from ._spec import NODE_SPECS, Field
from ._validate import validate

#: Largest dataset the reader loads (bytes); a corrupted header can claim absurd sizes.
MAX_DATASET_BYTES = 4 * 2**30
_MAX_DEPTH = 64


def read(
    path: str | os.PathLike[str], *, reset: str | None = None, check: bool = True
) -> nir.NIRGraph:
    """Read a NIR file written by any NIR release (0.1 onwards) or by nirbridge.

    The returned graph's ``metadata["nirbridge"]`` holds our namespace; ``nir_version`` in it
    records the version of the file's format, which decides the reset convention
    (see :func:`nirbridge.graph.reset_mode`).

    Args:
        path: The ``.nir`` (HDF5) file.
        reset: Reset mode the graph will be run with ("auto", "subtract", "zero"); only used to
            decide whether ``v_reset < v_threshold`` must hold.
        check: Validate the graph (structure, values, shapes). Only switch off to inspect a
            graph that fails validation.

    Raises:
        FileFormatError: not an HDF5 file, not a NIR file, or unreadable data.
        GraphError: (and subclasses) the graph is malformed; the message names node and field.
        MetadataError: our namespace is malformed or from a newer nirbridge.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileFormatError("no such file", path=path)
    try:
        handle = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"not an HDF5 file (NIR files are HDF5): {exc}", path=path) from exc
    with handle:
        try:
            if "node" not in handle or not isinstance(handle["node"], h5py.Group):
                raise FileFormatError(
                    "no 'node' group: this HDF5 file does not hold a NIR graph", path=path
                )
            version = _read_version(handle, path)
            raw = _group_to_dict(handle["node"], "node", path, 0)
        except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise FileFormatError(f"unreadable HDF5 content: {exc}", path=path) from exc
    try:
        graph = build_node("", raw)
    except RecursionError as exc:
        raise FileFormatError("graph nested too deeply", path=path) from exc
    if not isinstance(graph, nir.NIRGraph):
        raise FileFormatError(
            f"the root node is a {type(graph).__name__}, expected a NIRGraph", path=path
        )
    meta = read_metadata(graph)
    if meta.nir_version is None and version is not None:
        meta = dataclasses.replace(meta, nir_version=version)
    graph.metadata[NAMESPACE] = meta.to_dict()
    if check:
        validate(graph, reset=reset)
    return graph


def write(path: str | os.PathLike[str], graph: nir.NIRGraph, *, check: bool = True) -> None:
    """Write ``graph`` to ``path`` with nir's writer, atomically, keeping our namespace.

    A graph that has no ``nir_version`` in our namespace gets the installed nir's version: its
    semantics are those of the format it is written in. The file is written beside ``path`` and
    renamed over it only when complete, so an interruption never leaves half a file.

    Raises:
        GraphError: (when ``check``) the graph is invalid; nothing is written.
    """
    if check:
        validate(graph)
    if read_metadata(graph).nir_version is None:
        with_metadata(graph, nir_version=nir.version)
    else:
        with_metadata(graph)  # normalise the namespace to its canonical form
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    os.close(fd)
    try:
        nir.write(tmp, graph)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_version(handle: h5py.File, path: str) -> str | None:
    if "version" not in handle:
        return None
    value = handle["version"]
    if not isinstance(value, h5py.Dataset):
        raise FileFormatError("'version' is not a dataset", path=path)
    raw = value[()]
    if isinstance(raw, bytes):
        return raw.decode("utf8", "replace")
    if isinstance(raw, str):
        return raw
    raise FileFormatError(f"'version' is not a string: {raw!r}", path=path)


def _group_to_dict(group: h5py.Group, where: str, path: str, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise FileFormatError(f"groups nested deeper than {_MAX_DEPTH} at {where!r}", path=path)
    out: dict[str, Any] = {}
    for key in group:
        item = group.get(key)
        name = f"{where}/{key}"
        if isinstance(item, h5py.Group):
            out[key] = _group_to_dict(item, name, path, depth + 1)
        elif isinstance(item, h5py.Dataset):
            nbytes = int(np.prod(item.shape or (1,))) * item.dtype.itemsize
            if nbytes > MAX_DATASET_BYTES:
                raise FileFormatError(f"dataset {name!r} claims {nbytes} bytes", path=path)
            value = item[()]
            out[key] = value.decode("utf8", "replace") if isinstance(value, bytes) else value
        else:
            raise FileFormatError(f"{name!r} is neither a group nor a dataset", path=path)
    return out


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf8", "replace")
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "SUO":
        return _text(value.item())
    return None


def build_node(name: str, raw: Any) -> nir.NIRNode:
    """Build a nir node object from the dictionary form of one HDF5 node group."""
    label = name or "<root>"
    if not isinstance(raw, Mapping):
        raise GraphError("node is not a group", node=label)
    tname = _text(raw.get("type"))
    if tname is None:
        raise GraphError(
            "node has no 'type'",
            node=label,
            parameter="type",
            expected="a string naming the node type",
        )
    if tname not in NODE_SPECS:
        raise UnknownNodeTypeError(
            "unknown node type",
            node=label,
            parameter="type",
            expected=f"one of {sorted(NODE_SPECS)}",
            got=repr(tname),
        )
    metadata = raw.get("metadata", {})
    if not isinstance(metadata, Mapping):
        metadata = {}
    if tname == "NIRGraph":
        return _build_graph(name, raw, dict(metadata))
    kwargs = {f.name: _coerce(label, tname, f, raw) for f in NODE_SPECS[tname]}
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        return _construct(tname, kwargs, dict(metadata))
    except NirBridgeError:
        raise
    except Exception as exc:  # nir's constructors assert and raise freely; name the node.
        raise InvalidParameterError(
            f"nir rejected the node's fields ({type(exc).__name__}: {exc})",
            node=label,
            node_type=tname,
        ) from exc


def _build_graph(name: str, raw: Mapping[str, Any], metadata: dict[str, Any]) -> nir.NIRGraph:
    label = name or "<root>"
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, Mapping):
        raise GraphError("graph has no 'nodes' group", node=label, parameter="nodes")
    nodes = {
        key: build_node(f"{name}.{key}" if name else key, value) for key, value in nodes_raw.items()
    }
    edges_raw = raw.get("edges", np.zeros((0, 2), dtype=object))
    arr = np.asarray(edges_raw)
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise EdgeError(
            "malformed edge list",
            node=label,
            parameter="edges",
            expected="an (n, 2) array of node names",
            got=f"shape {arr.shape}",
        )
    edges = []
    for src, dst in arr.tolist():
        s, d = _text(src), _text(dst)
        if s is None or d is None:
            raise EdgeError(
                "edge endpoints must be node names",
                node=label,
                parameter="edges",
                got=repr((src, dst)),
            )
        edges.append((s, d))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _coerce(label: str, tname: str, field: Field, raw: Mapping[str, Any]) -> Any:
    if field.name not in raw:
        if field.required:
            raise InvalidParameterError(
                "missing",
                node=label,
                node_type=tname,
                parameter=field.name,
                expected=f"a {field.kind} value",
            )
        return None
    value = raw[field.name]

    def fail(expected: str) -> InvalidParameterError:
        return InvalidParameterError(
            "wrong kind of value",
            node=label,
            node_type=tname,
            parameter=field.name,
            expected=expected,
            got=_short(value),
        )

    if field.kind == "padding":
        text = _text(value)
        if text is not None:
            return text
    if isinstance(value, Mapping):
        raise fail(f"a dataset ({field.kind})")
    arr = np.asarray(value)
    if field.kind == "float":
        if arr.dtype.kind not in "biuf":
            raise fail("an array of real numbers")
        return arr
    if arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all():
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise fail("integers")
    if field.kind == "shape":
        if arr.ndim > 1:
            arr = arr.ravel()  # some legacy writers store (1, n)
        arr = np.atleast_1d(arr).astype(np.int64)
        if (arr < 1).any() or arr.size > 16:
            raise fail("a shape: up to 16 positive integers")
        return arr
    if arr.ndim > 1 or arr.size > 16:
        raise fail("an integer or a short list of integers")
    return arr.astype(np.int64) if arr.ndim else int(arr)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _construct(tname: str, kwargs: dict[str, Any], metadata: dict[str, Any]) -> nir.NIRNode:
    cls = getattr(nir, tname)
    if tname == "Input":
        return nir.Input(input_type={"input": kwargs["shape"]}, metadata=metadata)
    if tname == "Output":
        return nir.Output(output_type={"output": kwargs["shape"]}, metadata=metadata)
    if tname == "Flatten":
        return nir.Flatten(
            input_type={"input": kwargs.get("input_type")},
            start_dim=int(kwargs.get("start_dim", 1)),
            end_dim=int(kwargs.get("end_dim", -1)),
            metadata=metadata,
        )
    if tname in ("Conv1d", "Conv2d"):
        kwargs.setdefault("input_shape", None)
        if tname == "Conv1d" and isinstance(kwargs["input_shape"], np.ndarray):
            kwargs["input_shape"] = int(kwargs["input_shape"].ravel()[0])
        if tname == "Conv2d" and isinstance(kwargs["input_shape"], np.ndarray):
            kwargs["input_shape"] = tuple(int(v) for v in kwargs["input_shape"].ravel())
        if isinstance(kwargs["groups"], np.ndarray):
            kwargs["groups"] = int(kwargs["groups"].ravel()[0])
    return cls(**kwargs, metadata=metadata)
