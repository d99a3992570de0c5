"""Reading and writing NIR files, keeping nirbridge's metadata.

:func:`read` parses the HDF5 layout itself, so that a broken file meets an error of this package
that names the node and the field, instead of whatever nir's reader trips over; it builds the same
``nir`` node objects nir's reader builds. :func:`write` is nir's writer behind an atomic rename,
with our namespace filled in.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import mmap
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

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
from ._spec import NEURON_TYPES, NODE_SPECS, Field
from ._validate import validate

#: Largest dataset the reader loads (bytes); a corrupted header can claim absurd sizes.
MAX_DATASET_BYTES = 4 * 2**30
#: Largest amount of data the reader loads from one file, all datasets together (bytes).
MAX_TOTAL_BYTES = 4 * 2**30
#: Most HDF5 objects (groups and datasets) the reader visits in one file.
MAX_OBJECTS = 1_000_000
#: A dataset claiming more than this many bytes must store at least 1/_MAX_RATIO of them: no
#: compression filter HDF5 ships (deflate tops out near 1:1032) packs more, so a tiny file
#: that claims gigabytes of data is corrupt, and reading it would only allocate and fill memory.
_CHECKED_BYTES = 2**20
_MAX_RATIO = 2048
#: Most elements a shape (Input, Output, Flatten's input_type) may claim.
MAX_SHAPE_ELEMENTS = 2**40
_MAX_DEPTH = 64
_INT_LIMIT = 2**62


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
    if os.path.isdir(path):
        raise FileFormatError("is a directory, not a NIR file", path=path)
    facts = _check_raw(path)
    try:
        handle = h5py.File(path, "r")
    except Exception as exc:  # h5py raises OSError, but other types on odd files
        raise FileFormatError(
            f"not an HDF5 file (NIR files are HDF5): {type(exc).__name__}: {exc}", path=path
        ) from exc
    try:
        with handle:
            if "node" not in handle or not isinstance(handle["node"], h5py.Group):
                raise FileFormatError(
                    "no 'node' group: this HDF5 file does not hold a NIR graph", path=path
                )
            with open(path, "rb") as raw_file:
                version = _read_version(handle, path, facts, raw_file)
                raw = _Loader(path, facts, raw_file).group(handle["node"], "node", 0)
    except NirBridgeError:
        raise
    except Exception as exc:  # HDF5 meets corrupted data with many exception types
        raise FileFormatError(
            f"unreadable HDF5 content ({type(exc).__name__}: {exc})", path=path
        ) from exc
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

    A graph that has no ``nir_version`` in our namespace is written with the installed nir's
    version there: its semantics are those of the format it is written in. ``graph`` itself is
    not changed. The file is written beside ``path``, flushed to disk and renamed over it only
    when complete, so an interruption never leaves half a file; a file it replaces keeps its
    permissions, a new one gets the usual ones (0666 less the umask).

    Raises:
        GraphError: (when ``check``) the graph is invalid; nothing is written.
        MetadataError: the graph's nirbridge namespace is malformed; nothing is written.
    """
    if check:
        validate(graph)
    out = copy.copy(graph)
    out.metadata = dict(graph.metadata) if isinstance(graph.metadata, Mapping) else {}
    if read_metadata(out).nir_version is None:
        with_metadata(out, nir_version=nir.version)
    else:
        with_metadata(out)  # normalise the namespace to its canonical form
    target = Path(path)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    os.close(fd)
    try:
        nir.write(os.fspath(tmp), out)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _check_dtype(item: h5py.Dataset, name: str, path: str) -> None:
    """Only the types NIR files hold: numbers, booleans and strings. HDF5 crashes on some
    corrupted variable-length types, so anything else is refused before its data is read."""
    dtype = item.dtype
    if dtype.kind in "biufS" and dtype.fields is None and dtype.subdtype is None:
        return
    if dtype.kind == "O" and h5py.check_string_dtype(dtype) is not None:
        return
    raise FileFormatError(
        f"dataset {name!r} has a type NIR files do not use ({dtype}, HDF5 class "
        f"{item.id.get_type().get_class()}): expected numbers or strings",
        path=path,
    )


#: Signature of an HDF5 file (its superblock) and of a global heap collection.
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_GCOL = b"GCOL"
_GCOL_MIN_SIZE = 4096


@dataclasses.dataclass
class _RawFacts:
    """What the reader learns from the file's bytes before HDF5 parses them.

    Attributes:
        size: File size in bytes.
        base: Where the superblock starts (HDF5 addresses count from there).
        offsets: The superblock's "size of offsets" (bytes per file address).
        lengths: The superblock's "size of lengths".
        heaps: Global heap collections found: file position -> size.
    """

    size: int
    base: int = 0
    offsets: int = 8
    lengths: int = 8
    heaps: dict[int, int] = dataclasses.field(default_factory=dict)


def _check_raw(path: str) -> _RawFacts:
    """Walk the global heap collections (where HDF5 keeps variable-length strings) as HDF5's
    reader will, and refuse a file whose walk would not end: HDF5 2.0 loops forever on a heap
    object of size zero and reads past a collection whose objects overrun it."""
    try:
        with open(path, "rb") as fh:
            facts = _RawFacts(size=os.fstat(fh.fileno()).st_size)
            if facts.size < len(_HDF5_SIGNATURE):
                return facts  # h5py reports what is wrong with it
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                _read_superblock(data, facts)
                pos = data.find(_GCOL)
                while pos != -1:
                    size, problem = _walk_heap(data, pos, facts.lengths)
                    if problem:
                        raise FileFormatError(
                            f"corrupted global heap (variable-length strings) at byte {pos}: "
                            f"{problem}",
                            path=path,
                        )
                    if size:
                        facts.heaps[pos] = size
                    pos = data.find(_GCOL, pos + 1)
            return facts
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"cannot read the file: {exc}", path=path) from exc


def _read_superblock(data: mmap.mmap, facts: _RawFacts) -> None:
    base = 0
    while base + 16 <= len(data):
        if data[base : base + 8] == _HDF5_SIGNATURE:
            version = data[base + 8]
            at = base + (13 if version in (0, 1) else 9)
            offsets, lengths = data[at], data[at + 1]
            facts.base = base
            facts.offsets = offsets if offsets in (2, 4, 8) else 8
            facts.lengths = lengths if lengths in (2, 4, 8) else 8
            return
        base = 512 if base == 0 else base * 2  # a user block moves the superblock


def _walk_heap(data: mmap.mmap, pos: int, length: int) -> tuple[int, str | None]:
    """(size of the collection at ``pos``, or 0 if there is none; the problem found, if any)."""
    header = 8 + length
    if pos + header > len(data) or data[pos + 4] != 1:
        return 0, None  # not a collection (the 4 bytes are part of other data)
    size = int.from_bytes(data[pos + 8 : pos + header], "little")
    end = pos + size
    if size < _GCOL_MIN_SIZE or end > len(data):
        return 0, None  # not a plausible collection: HDF5 checks these itself
    p = pos + header
    while p < end:
        if p + 8 + length > end:
            return size, None  # the tail is free space
        index = int.from_bytes(data[p : p + 2], "little")
        obj_size = int.from_bytes(data[p + 8 : p + 8 + length], "little")
        need = 8 + length + ((obj_size + 7) & ~7) if index else obj_size
        if need == 0:
            return size, f"object at byte {p} has size 0"
        p += need
    if p > end:
        return size, f"its objects overrun the collection by {p - end} bytes"
    return size, None


def _check_vlen_lengths(
    item: h5py.Dataset, name: str, path: str, facts: _RawFacts, raw_file: BinaryIO
) -> None:
    """The lengths a variable-length string dataset claims for its strings, read from its raw
    heap references: HDF5 allocates (and fills) each claimed length before it finds the heap
    object is smaller, which takes seconds and gigabytes for a corrupted length."""
    dcpl = item.id.get_create_plist()
    offset = item.id.get_offset()
    if dcpl.get_layout() != h5py.h5d.CONTIGUOUS or offset is None or facts.base:
        return  # nir writes these contiguous; HDF5 alone judges other layouts
    ref = 4 + facts.offsets + 4  # length, collection address, object index
    count = math.prod(item.shape or ())
    if count * ref > _CHECKED_BYTES or offset + count * ref > facts.size:
        return
    raw_file.seek(offset)
    raw = raw_file.read(count * ref)
    for i in range(count):
        at = i * ref
        length = int.from_bytes(raw[at : at + 4], "little")
        if not length:
            continue
        heap = int.from_bytes(raw[at + 4 : at + 4 + facts.offsets], "little")
        limit = facts.heaps.get(heap, facts.size)
        if length > limit:
            raise FileFormatError(
                f"dataset {name!r}: string {i} claims {length} bytes, more than the "
                f"{'heap collection' if heap in facts.heaps else 'file'} holds ({limit})",
                path=path,
            )


def _read_version(handle: h5py.File, path: str, facts: _RawFacts, raw_file: BinaryIO) -> str | None:
    if "version" not in handle:
        return None
    value = handle["version"]
    if not isinstance(value, h5py.Dataset):
        raise FileFormatError("'version' is not a dataset", path=path)
    _check_dtype(value, "version", path)
    if value.dtype.kind == "O":
        _check_vlen_lengths(value, "version", path, facts, raw_file)
    if value.shape != () or value.dtype.kind not in "SO":
        raise FileFormatError(
            f"'version' is not a string: {value.dtype} dataset of shape {value.shape}", path=path
        )
    raw = value[()]
    if isinstance(raw, bytes):
        return raw.decode("utf8", "replace")
    if isinstance(raw, str):
        return raw
    raise FileFormatError(f"'version' is not a string: {_short(raw)}", path=path)


class _Loader:
    """Reads an HDF5 group tree into dictionaries, within limits a corrupted file cannot dodge:
    nesting depth, objects visited, bytes per dataset and in all, each group read once (hard
    links can make cycles and exponentially many paths), no links or storage outside the file."""

    def __init__(self, path: str, facts: _RawFacts, raw_file: BinaryIO) -> None:
        self.path = path
        self.facts = facts
        self.raw_file = raw_file
        self.objects = 0
        self.total_bytes = 0
        self.seen: set[Any] = set()

    def fail(self, message: str) -> FileFormatError:
        return FileFormatError(message, path=self.path)

    def group(self, group: h5py.Group, where: str, depth: int) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise self.fail(f"groups nested deeper than {_MAX_DEPTH} at {where!r}")
        if group.id in self.seen:
            raise self.fail(f"{where!r} links to a group already read (a cycle or shared group)")
        self.seen.add(group.id)
        out: dict[str, Any] = {}
        for key in group:
            name = f"{where}/{key}"
            self.objects += 1
            if self.objects > MAX_OBJECTS:
                raise self.fail(f"more than {MAX_OBJECTS} HDF5 objects (at {name!r})")
            if group.id.links.get_info(key.encode("utf8")).type == h5py.h5l.TYPE_EXTERNAL:
                raise self.fail(f"{name!r} is a link to another file, not followed")
            item = group.get(key)
            if isinstance(item, h5py.Group):
                out[key] = self.group(item, name, depth + 1)
            elif isinstance(item, h5py.Dataset):
                out[key] = self.dataset(item, name)
            else:
                raise self.fail(f"{name!r} is neither a group nor a dataset (a dangling link?)")
        return out

    def dataset(self, item: h5py.Dataset, name: str) -> Any:
        if item.is_virtual or item.external:
            raise self.fail(f"dataset {name!r} keeps its data outside the file")
        _check_dtype(item, name, self.path)
        if item.dtype.kind == "O":
            _check_vlen_lengths(item, name, self.path, self.facts, self.raw_file)
        shape = item.shape
        nbytes = math.prod(shape or ()) * item.dtype.itemsize if shape is not None else 0
        if nbytes > MAX_DATASET_BYTES:
            raise self.fail(f"dataset {name!r} claims shape {shape}: {nbytes} bytes, too many")
        if nbytes > _CHECKED_BYTES:
            stored = item.id.get_storage_size()
            if stored * _MAX_RATIO < nbytes:
                raise self.fail(
                    f"dataset {name!r} claims shape {shape} ({nbytes} bytes) but the file "
                    f"stores only {stored} bytes for it"
                )
        self.total_bytes += nbytes
        if self.total_bytes > MAX_TOTAL_BYTES:
            raise self.fail(f"datasets hold more than {MAX_TOTAL_BYTES} bytes (at {name!r})")
        value = item[()]
        return value.decode("utf8", "replace") if isinstance(value, bytes) else value


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
        raise GraphError(
            "node is not a group", node=label, expected="an HDF5 group", got="a dataset"
        )
    if "type" not in raw:
        raise GraphError(
            "node has no 'type'",
            node=label,
            parameter="type",
            expected="a string naming the node type",
        )
    tname = _text(raw["type"])
    if tname is None:
        raise GraphError(
            "node's 'type' is not a string",
            node=label,
            parameter="type",
            expected="a string naming the node type",
            got=_short(raw["type"]),
        )
    if tname not in NODE_SPECS:
        raise UnknownNodeTypeError(
            "unknown node type",
            node=label,
            parameter="type",
            expected=f"one of {sorted(NODE_SPECS)}",
            got=_short(tname),
        )
    metadata = raw.get("metadata", {})
    if not isinstance(metadata, Mapping):
        metadata = {}
    if tname == "NIRGraph":
        return _build_graph(name, raw, dict(metadata))
    kwargs = {f.name: _coerce(label, tname, f, raw) for f in NODE_SPECS[tname]}
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if tname in NEURON_TYPES:
        _check_same_shapes(label, tname, kwargs)
    try:
        return _construct(label, tname, kwargs, dict(metadata))
    except NirBridgeError:
        raise
    except Exception as exc:  # nir's constructors assert and raise freely; name the node.
        raise InvalidParameterError(
            f"nir rejected the node's fields ({type(exc).__name__}: {exc})",
            node=label,
            node_type=tname,
        ) from exc


def _check_same_shapes(label: str, tname: str, kwargs: Mapping[str, Any]) -> None:
    """nir's neuron constructors need one shape for all parameters (``w_in`` broadcasts)."""
    shapes = {k: np.shape(v) for k, v in kwargs.items() if k != "w_in"}
    if len(set(shapes.values())) > 1:
        first = next(iter(shapes))
        odd = next(k for k, s in shapes.items() if s != shapes[first])
        raise InvalidParameterError(
            "parameter shapes differ",
            node=label,
            node_type=tname,
            parameter=odd,
            expected=f"the shape of {first!r}, {shapes[first]}, for every parameter",
            got=", ".join(f"{k}{s}" for k, s in shapes.items()),
        )
    if "w_in" in kwargs and shapes:
        target = next(iter(shapes.values()))
        try:
            ok = np.broadcast_shapes(np.shape(kwargs["w_in"]), target) == target
        except ValueError:
            ok = False
        if not ok:
            raise InvalidParameterError(
                "shape does not match the other parameters",
                node=label,
                node_type=tname,
                parameter="w_in",
                expected=f"a shape broadcastable to {target}",
                got=f"shape {np.shape(kwargs['w_in'])}",
            )


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

    def fail(expected: str, got: str | None = None) -> InvalidParameterError:
        return InvalidParameterError(
            "wrong kind of value",
            node=label,
            node_type=tname,
            parameter=field.name,
            expected=expected,
            got=got if got is not None else _short(value),
        )

    if field.kind == "padding":
        text = _text(value)
        if text is not None:
            if text not in ("same", "valid"):
                raise fail("'same', 'valid' or integers")
            return text
    if isinstance(value, Mapping):
        raise fail(f"a dataset ({field.kind})", got="a group")
    arr = np.asarray(value)
    if field.kind == "float":
        if arr.dtype.kind not in "biuf":
            raise fail("an array of real numbers", got=f"{arr.dtype} data {_short(value)}")
        if field.ndim is not None and arr.ndim != field.ndim:
            raise fail(f"a {field.ndim}-D array", got=f"shape {arr.shape}")
        return arr
    if (
        arr.dtype.kind == "f"
        and arr.size
        and np.isfinite(arr).all()
        and (arr == np.round(arr)).all()
        and (np.abs(arr) < _INT_LIMIT).all()
    ):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise fail("integers", got=f"{arr.dtype} data {_short(value)}")
    if arr.size and (arr.max() >= _INT_LIMIT or arr.min() <= -_INT_LIMIT):
        raise fail("integers of magnitude below 2**62")
    arr = arr.astype(np.int64)
    if field.kind == "shape":
        if arr.ndim > 1:
            arr = arr.ravel()  # some legacy writers store (1, n)
        arr = np.atleast_1d(arr)
        if arr.size == 0 or (arr < 1).any() or arr.size > 16:
            raise fail("a shape: 1 to 16 positive integers")
        if math.prod(int(v) for v in arr) > MAX_SHAPE_ELEMENTS:
            raise fail(f"a shape of at most {MAX_SHAPE_ELEMENTS} elements")
        return arr
    if arr.ndim > 1 or arr.size > 16:
        raise fail("an integer or a short list of integers")
    if field.rule == "positive" and (arr < 1).any():
        raise fail("integers >= 1")
    if field.rule == "nonnegative" and (arr < 0).any():
        raise fail("integers >= 0")
    return arr if arr.ndim else int(arr)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _one_int(label: str, tname: str, kwargs: Mapping[str, Any], key: str, size: int) -> Any:
    """``kwargs[key]`` as ``size`` integers (an int when ``size`` is 1), or an error naming it."""
    arr = np.atleast_1d(np.asarray(kwargs[key])).ravel()
    if arr.size != size:
        raise InvalidParameterError(
            "wrong number of values",
            node=label,
            node_type=tname,
            parameter=key,
            expected=f"{size} integer(s)",
            got=str(arr.tolist()),
        )
    values = tuple(int(v) for v in arr)
    return values[0] if size == 1 else values


def _construct(
    label: str, tname: str, kwargs: dict[str, Any], metadata: dict[str, Any]
) -> nir.NIRNode:
    cls = getattr(nir, tname)
    if tname == "Input":
        return nir.Input(input_type={"input": kwargs["shape"]}, metadata=metadata)
    if tname == "Output":
        return nir.Output(output_type={"output": kwargs["shape"]}, metadata=metadata)
    if tname == "Flatten":
        for key, default in (("start_dim", 1), ("end_dim", -1)):
            kwargs[key] = _one_int(label, tname, kwargs, key, 1) if key in kwargs else default
        return nir.Flatten(
            input_type={"input": kwargs.get("input_type")},
            start_dim=kwargs["start_dim"],
            end_dim=kwargs["end_dim"],
            metadata=metadata,
        )
    if tname in ("Conv1d", "Conv2d"):
        nd = 1 if tname == "Conv1d" else 2
        if kwargs.get("input_shape") is not None:
            kwargs["input_shape"] = _one_int(label, tname, kwargs, "input_shape", nd)
        else:
            kwargs["input_shape"] = None
        kwargs["groups"] = _one_int(label, tname, kwargs, "groups", 1)
        for key in ("stride", "dilation") + (
            () if isinstance(kwargs["padding"], str) else ("padding",)
        ):
            values = np.atleast_1d(np.asarray(kwargs[key])).ravel()
            if values.size not in (1, nd):
                raise InvalidParameterError(
                    "wrong number of values",
                    node=label,
                    node_type=tname,
                    parameter=key,
                    expected=f"1 or {nd} integers",
                    got=str(values.tolist()),
                )
    return cls(**kwargs, metadata=metadata)
