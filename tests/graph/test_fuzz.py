"""Fuzzing ``nirbridge.read`` with corrupted and hand-broken NIR files.

Every case is generated deterministically (seeded) from the NIR paper fixtures and from small
random valid graphs. For each, ``nirbridge.read`` must either return a valid graph or raise a
subclass of ``nirbridge.NirBridgeError`` with a non-empty message; for hand-broken cases the
message must name the node or the field that was broken. Any other exception (warnings count:
they are errors here), a crash of the reading process, or a read taking more than
``TIME_BUDGET_S`` fails the test.

Cases run in two worker processes, so that a crash in HDF5 is reported with the case that caused
it instead of taking pytest down.
"""

from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

import nirbridge
from nirbridge.graph import check_graph, inline_subgraphs, schedule

from ..conftest import PAPER
from ._builders import random_graph

SEED = 20240607
N_CASES = 1300
N_CASES_SLOW = 13000
N_RANDOM_SOURCES = 14
TIME_BUDGET_S = 5.0
#: A worker that reports no progress for this long is stuck (in C code no signal interrupts).
HANG_S = 4 * TIME_BUDGET_S
WORKERS = 2


@dataclasses.dataclass(frozen=True)
class Expect:
    """What a case's read must do.

    Attributes:
        must_fail: The file is broken: reading must raise.
        must_succeed: The file is valid: reading must succeed.
        names: When reading raises, one of these must appear in the message.
        types: When reading raises, the error must be one of these (names of classes).
    """

    must_fail: bool = False
    must_succeed: bool = False
    names: tuple[str, ...] = ()
    types: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Record:
    index: int
    kind: str
    source: str
    expect: Expect
    outcome: str  # "ok", "error" (a NirBridgeError), "bug" (anything else), "timeout"
    error_type: str = ""
    message: str = ""
    seconds: float = 0.0


class _Timeout(BaseException):
    pass


# --- walking the HDF5 layout of a NIR file ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Node:
    name: str  # dotted, as nirbridge names it
    path: str  # HDF5 path of the node group
    type: str
    graph: str  # HDF5 path of the graph group holding it
    fields: tuple[str, ...]  # datasets of the node (not 'type', not metadata)


def _nodes(f: h5py.File) -> list[_Node]:
    out: list[_Node] = []

    def walk(group_path: str, prefix: str) -> None:
        nodes = f[group_path].get("nodes")
        if not isinstance(nodes, h5py.Group):
            return
        for key in nodes:
            path = f"{group_path}/nodes/{key}"
            item = f[path]
            if not isinstance(item, h5py.Group) or "type" not in item:
                continue
            tname = item["type"][()]
            tname = tname.decode() if isinstance(tname, bytes) else str(tname)
            fields = tuple(
                k
                for k in item
                if k not in ("type", "metadata") and isinstance(item[k], h5py.Dataset)
            )
            name = f"{prefix}{key}"
            out.append(_Node(name, path, tname, group_path, fields))
            if tname == "NIRGraph":
                walk(path, f"{name}.")

    walk("node", "")
    return out


def _neighbours(f: h5py.File, node: _Node) -> tuple[str, ...]:
    """Dotted names of the nodes joined to ``node`` by an edge of its graph."""
    edges = f[node.graph].get("edges")
    if not isinstance(edges, h5py.Dataset):
        return ()
    prefix = node.name[: len(node.name) - len(node.path.rsplit("/", 1)[1])]
    leaf = node.path.rsplit("/", 1)[1]
    out = []
    for a, b in edges[()]:
        a, b = (x.decode() if isinstance(x, bytes) else str(x) for x in (a, b))
        if a == leaf:
            out.append(prefix + b)
        if b == leaf:
            out.append(prefix + a)
    return tuple(out)


_FLOAT_FIELDS = {
    "weight",
    "bias",
    "tau",
    "tau_syn",
    "tau_mem",
    "r",
    "v_leak",
    "v_threshold",
    "v_reset",
    "w_in",
    "scale",
    "threshold",
    "delay",
}
_OPTIONAL = {"v_reset", "w_in", "input_shape", "input_type", "start_dim", "end_dim"}
_TIME_FIELDS = ("tau", "tau_syn", "tau_mem", "delay")


def _pick(rng: np.random.Generator, items):
    items = list(items)
    return items[int(rng.integers(len(items)))]


def _field_nodes(f: h5py.File, wanted=None) -> list[tuple[_Node, str]]:
    pairs = [(n, k) for n in _nodes(f) if n.type != "NIRGraph" for k in n.fields]
    return [(n, k) for n, k in pairs if wanted is None or k in wanted]


def _replace(group: h5py.Group, key: str, data, **kw) -> None:
    if key in group:
        del group[key]
    group.create_dataset(key, data=data, **kw)


def _edges(group: h5py.Group) -> list[list[str]]:
    return [
        [x.decode() if isinstance(x, bytes) else str(x) for x in row] for row in group["edges"][()]
    ]


def _write_edges(group: h5py.Group, rows: list[list[str]]) -> None:
    data = np.empty((len(rows), 2), dtype=object)
    for i, (a, b) in enumerate(rows):
        data[i] = a, b
    _replace(group, "edges", data, dtype=h5py.string_dtype())


def _names_of(node: _Node, field: str | None = None) -> tuple[str, ...]:
    names = [repr(node.name)]
    if field is not None:
        names.append(repr(field))
    return tuple(names)


# --- byte-level corruption (blind: the file may even stay valid) ------------------------------


def _bytes_flip(src: Path, dst: Path, rng) -> Expect:
    data = bytearray(src.read_bytes())
    for _ in range(int(rng.integers(1, 17))):
        i = int(rng.integers(len(data)))
        data[i] ^= int(rng.integers(1, 256))
    dst.write_bytes(bytes(data))
    return Expect()


def _bytes_flip_header(src: Path, dst: Path, rng) -> Expect:
    """Bits flipped in the first 4 KiB: superblock, root group, object headers."""
    data = bytearray(src.read_bytes())
    for _ in range(int(rng.integers(1, 5))):
        i = int(rng.integers(min(4096, len(data))))
        data[i] ^= 1 << int(rng.integers(8))
    dst.write_bytes(bytes(data))
    return Expect()


def _bytes_truncate(src: Path, dst: Path, rng) -> Expect:
    data = src.read_bytes()
    dst.write_bytes(data[: int(rng.integers(0, len(data)))])
    return Expect(must_fail=True)


def _bytes_empty(src: Path, dst: Path, rng) -> Expect:
    dst.write_bytes(b"")
    return Expect(must_fail=True, names=("not an HDF5 file",), types=("FileFormatError",))


def _bytes_random(src: Path, dst: Path, rng) -> Expect:
    dst.write_bytes(rng.bytes(int(rng.integers(1, 8192))))
    return Expect(must_fail=True, names=("not an HDF5 file",), types=("FileFormatError",))


def _bytes_magic_then_garbage(src: Path, dst: Path, rng) -> Expect:
    dst.write_bytes(b"\x89HDF\r\n\x1a\n" + rng.bytes(int(rng.integers(0, 4096))))
    return Expect(must_fail=True, types=("FileFormatError",))


def _bytes_splice(src: Path, dst: Path, rng) -> Expect:
    data = bytearray(src.read_bytes())
    start = int(rng.integers(len(data)))
    length = int(rng.integers(1, 512))
    fill = _pick(rng, [0x00, 0xFF, None])
    chunk = rng.bytes(length) if fill is None else bytes([fill]) * length
    data[start : start + length] = chunk[: len(data) - start]
    dst.write_bytes(bytes(data))
    return Expect()


# --- structural corruption with h5py (hand-broken: the message must say where) ----------------


def _h5(fn):
    """Run ``fn(f, rng)`` on a copy of the source opened for writing."""

    def mutate(src: Path, dst: Path, rng) -> Expect:
        shutil.copyfile(src, dst)
        with h5py.File(dst, "a") as f:
            return fn(f, rng)

    mutate.__name__ = fn.__name__
    return mutate


@_h5
def _no_node(f, rng):
    del f["node"]
    if rng.random() < 0.5:
        f["node"] = np.arange(3)
    return Expect(must_fail=True, names=("'node'",), types=("FileFormatError",))


@_h5
def _delete_dataset(f, rng):
    node, field = _pick(rng, _field_nodes(f) + [(n, "type") for n in _nodes(f)])
    del f[node.path][field]
    if field in _OPTIONAL:
        return Expect(names=(*_names_of(node, field), *map(repr, _neighbours(f, node))))
    if field in ("edges", "nodes"):
        return Expect(must_fail=True)
    return Expect(must_fail=True, names=_names_of(node, field))


@_h5
def _delete_edges(f, rng):
    graphs = ["node"] + [n.path for n in _nodes(f) if n.type == "NIRGraph"]
    where = _pick(rng, graphs)
    if "edges" in f[where]:
        del f[where]["edges"]
    return Expect(must_fail=True)  # unreachable nodes, or an unconnected Input


@_h5
def _string_for_array(f, rng):
    node, field = _pick(rng, _field_nodes(f))
    text = _pick(rng, ["not a number", "1e-3", "", "NaN", "∞", "[1, 2, 3]"])
    _replace(f[node.path], field, text, dtype=h5py.string_dtype())
    return Expect(must_fail=True, names=_names_of(node, field), types=("InvalidParameterError",))


@_h5
def _group_for_dataset(f, rng):
    node, field = _pick(rng, _field_nodes(f) + [(n, "type") for n in _nodes(f)])
    del f[node.path][field]
    g = f[node.path].create_group(field)
    if rng.random() < 0.5:
        g["x"] = np.ones(2)
    return Expect(must_fail=True, names=_names_of(node, field))


@_h5
def _bytes_array_for_array(f, rng):
    node, field = _pick(rng, _field_nodes(f))
    shape = f[node.path][field].shape
    _replace(f[node.path], field, np.full(shape or (), b"x", dtype="S1"))
    return Expect(must_fail=True, names=_names_of(node, field))


@_h5
def _inject_non_finite(f, rng):
    pairs = _field_nodes(f, _FLOAT_FIELDS)
    node, field = _pick(rng, pairs)
    data = np.array(f[node.path][field][()], dtype=np.float64)
    value = _pick(rng, [np.nan, np.inf, -np.inf])
    if data.ndim == 0:
        data = np.float64(value)
    else:
        data.flat[int(rng.integers(data.size))] = value
    _replace(f[node.path], field, data)
    return Expect(must_fail=True, names=_names_of(node, field), types=("InvalidParameterError",))


@_h5
def _change_shape(f, rng):
    node, field = _pick(rng, _field_nodes(f))
    data = np.asarray(f[node.path][field][()])
    how = _pick(rng, ["drop", "extra_dim", "scalar", "grow", "transpose"])
    if how == "drop" and data.size > 0:
        data = data.ravel()[:-1]
    elif how == "extra_dim":
        data = data[None, ...]
    elif how == "scalar" and data.size > 0:
        data = data.ravel()[0]
    elif how == "grow":
        data = np.concatenate([data.ravel(), data.ravel()[:1] if data.size else [1]])
    elif data.ndim > 1:
        data = data.T
    else:
        data = np.atleast_1d(data)[::-1]
    _replace(f[node.path], field, data)
    # a wrong shape surfaces where shapes meet: at the node, or at any node downstream of it
    return Expect(names=(*_names_of(node, field), *(repr(n.name) for n in _nodes(f))))


@_h5
def _dangling_edge(f, rng):
    graphs = ["node"] + [n.path for n in _nodes(f) if n.type == "NIRGraph"]
    where = _pick(rng, [g for g in graphs if isinstance(f[g].get("edges"), h5py.Dataset)])
    edges = _edges(f[where])
    if not edges:
        return Expect()
    ghost = f"ghost_{int(rng.integers(1000))}"
    edges[int(rng.integers(len(edges)))][int(rng.integers(2))] = ghost
    _write_edges(f[where], edges)
    return Expect(must_fail=True, names=(ghost,), types=("EdgeError",))


@_h5
def _duplicate_edge(f, rng):
    edges = _edges(f["node"])
    a, b = edges[int(rng.integers(len(edges)))]
    _write_edges(f["node"], [*edges, [a, b]])
    # an edge into a subgraph is reported at the subgraph's Input node: 'sub.in'
    return Expect(must_fail=True, names=(f"'{b}'", f"'{b}."), types=("EdgeError",))


@_h5
def _numeric_edges(f, rng):
    n = len(f["node/edges"][()])
    _replace(f["node"], "edges", rng.integers(0, 5, size=(n, 2)))
    return Expect(must_fail=True, names=("'edges'",), types=("EdgeError",))


@_h5
def _unknown_type(f, rng):
    node = _pick(rng, [n for n in _nodes(f)])
    tname = _pick(rng, ["Frobnicator", "lif", "LIF ", "Conv3d", "", "NIRGraph2"])
    _replace(f[node.path], "type", tname, dtype=h5py.string_dtype())
    return Expect(must_fail=True, names=_names_of(node), types=("UnknownNodeTypeError",))


@_h5
def _numeric_type(f, rng):
    node = _pick(rng, _nodes(f))
    _replace(f[node.path], "type", np.int64(int(rng.integers(100))))
    return Expect(must_fail=True, names=_names_of(node, "type"))


@_h5
def _nonpositive_time_constant(f, rng):
    pairs = _field_nodes(f, _TIME_FIELDS)
    if not pairs:  # no neuron with a time constant: break a Input shape instead
        node = _pick(rng, [n for n in _nodes(f) if n.type == "Input"])
        _replace(f[node.path], "shape", np.array([0]))
        return Expect(must_fail=True, names=_names_of(node, "shape"))
    node, field = _pick(rng, pairs)
    data = np.array(f[node.path][field][()], dtype=np.float64)
    value = -abs(float(rng.normal())) - 1e-6 if field == "delay" or rng.random() < 0.7 else 0.0
    data.flat[int(rng.integers(max(data.size, 1)))] = value
    _replace(f[node.path], field, data)
    return Expect(must_fail=True, names=_names_of(node, field), types=("InvalidParameterError",))


def _set_bridge(f, key, value) -> None:
    meta = f["node"].require_group("metadata").require_group("nirbridge")
    if key in meta:
        del meta[key]
    if isinstance(value, str):
        meta.create_dataset(key, data=value, dtype=h5py.string_dtype())
    else:
        meta[key] = value


@_h5
def _v_reset_above_threshold(f, rng):
    nodes = [n for n in _nodes(f) if "v_threshold" in n.fields]
    if not nodes:
        _set_bridge(f, "reset", "zero")
        return Expect()
    node = _pick(rng, nodes)
    th = np.asarray(f[node.path]["v_threshold"][()], dtype=np.float64)
    _replace(f[node.path], "v_reset", th + float(rng.uniform(0, 1)))
    _set_bridge(f, "reset", "zero")
    return Expect(
        must_fail=True, names=_names_of(node, "v_reset"), types=("InvalidParameterError",)
    )


@_h5
def _non_integer_shape(f, rng):
    node = _pick(rng, [n for n in _nodes(f) if n.type in ("Input", "Output")])
    shape = np.asarray(f[node.path]["shape"][()], dtype=np.float64)
    shape.flat[0] += _pick(rng, [0.5, -1e9, np.nan, 1e300, -0.25])
    _replace(f[node.path], "shape", shape)
    return Expect(must_fail=True, names=_names_of(node, "shape"))


@_h5
def _huge_claimed_shape(f, rng):
    node, field = _pick(rng, _field_nodes(f))
    group = f[node.path]
    del group[field]
    shape = _pick(rng, [(2**40,), (2**31, 2**31), (2**21, 2**21, 2**21), (2**28,), (2**14, 2**14)])
    chunks = (1,) * (len(shape) - 1) + (1024,)
    group.create_dataset(field, shape=shape, dtype=_pick(rng, ["f8", "f4", "i8"]), chunks=chunks)
    return Expect(must_fail=True, names=(f"/{field}'",), types=("FileFormatError",))


@_h5
def _deep_groups(f, rng):
    node = _pick(rng, _nodes(f))
    depth = int(rng.integers(70, 300))
    f[node.path].create_group("metadata/" + "/".join(["deeper"] * depth))
    return Expect(must_fail=True, names=("nested deeper",), types=("FileFormatError",))


@_h5
def _hard_link_cycle(f, rng):
    node = _pick(rng, _nodes(f))
    target = _pick(rng, ["/node", node.path, "/"])
    f[node.path].require_group("metadata")["loop"] = f[target]
    return Expect(must_fail=True, names=("already read", "nested deeper"))


@_h5
def _metadata_schema(f, rng):
    _set_bridge(f, "schema", _pick(rng, [2, 99, 10**6]))
    return Expect(must_fail=True, names=("schema",), types=("MetadataError",))


@_h5
def _metadata_garbage(f, rng):
    key, value = _pick(
        rng,
        [
            ("dt", "soon"),
            ("dt", -1e-4),
            ("dt", np.nan),
            ("dt", np.array([1e-4, 2e-4])),
            ("time_unit", "fortnight"),
            ("integrator", "rk45"),
            ("reset", "sometimes"),
            ("schema", "one"),
            ("schema", np.inf),
            ("nir_version", 1.5),
        ],
    )
    _set_bridge(f, key, value)
    return Expect(must_fail=True, names=(key,), types=("MetadataError", "TimeStepError"))


@_h5
def _initial_state_garbage(f, rng):
    node = _pick(rng, _nodes(f))
    state = _pick(rng, ["v", "i", "w"])
    value = _pick(rng, [np.zeros(10**3 + 1), np.array([np.nan]), np.zeros((2, 3, 5))])
    meta = f["node"].require_group("metadata").require_group("nirbridge")
    meta.require_group("initial_state").require_group(node.name)[state] = value
    return Expect(must_fail=True, names=(repr(node.name), "initial_state"))


@_h5
def _version_garbage(f, rng):
    del f["version"]
    choice = _pick(rng, ["string", "number", "group", "array"])
    if choice == "string":
        f.create_dataset("version", data="v-garbage", dtype=h5py.string_dtype())
        return Expect(must_succeed=True)  # the reset mode must then be given explicitly
    if choice == "number":
        f["version"] = 1.0
    elif choice == "group":
        f.create_group("version")
    else:
        f["version"] = np.array([b"0.2.0", b"1.0.8"])
    return Expect(must_fail=True, names=("'version'",), types=("FileFormatError",))


@_h5
def _extra_unreachable_node(f, rng):
    node = _pick(rng, [n for n in _nodes(f) if n.type not in ("Input", "Output", "NIRGraph")])
    parent = f[node.graph]["nodes"]
    new = f"stray_{int(rng.integers(1000))}"
    f.copy(f[node.path], parent, name=new)
    edges = _edges(f[node.graph])
    outgoing = [b for a, b in edges if a == node.path.rsplit("/", 1)[1]]
    if outgoing:
        _write_edges(f[node.graph], [*edges, [new, outgoing[0]]])
    prefix = node.name[: len(node.name) - len(node.path.rsplit("/", 1)[1])]
    return Expect(must_fail=True, names=(repr(prefix + new),), types=("EdgeError",))


@_h5
def _remove_input(f, rng):
    inputs = [n for n in _nodes(f) if n.type == "Input" and n.graph == "node"]
    for node in inputs:
        del f[node.path]
    return Expect(must_fail=True)


@_h5
def _dataset_is_dangling_link(f, rng):
    node, field = _pick(rng, _field_nodes(f))
    del f[node.path][field]
    f[node.path][field] = h5py.SoftLink("/does/not/exist")
    return Expect(must_fail=True, names=(f"/{field}'",), types=("FileFormatError",))


def _deep_nesting(src: Path, dst: Path, rng) -> Expect:
    """The source graph wrapped in ``depth`` levels of subgraphs, written by stock nir."""
    g = nirbridge.read(src)
    depth = int(rng.integers(1, 45))
    bridge = dict(g.metadata.get("nirbridge", {}))
    (in_name,) = [k for k, n in g.nodes.items() if type(n).__name__ == "Input"]
    (out_name,) = [k for k, n in g.nodes.items() if type(n).__name__ == "Output"]
    in_shape = g.nodes[in_name].input_type["input"]
    out_shape = g.nodes[out_name].output_type["output"]
    for _ in range(depth):
        g = nir.NIRGraph(
            nodes={"in": nir.Input(in_shape), "inner": g, "out": nir.Output(out_shape)},
            edges=[("in", "inner"), ("inner", "out")],
            metadata={"nirbridge": bridge},
            type_check=False,
        )
    nir.write(dst, g)
    if depth <= 20:
        return Expect(must_succeed=True)
    return Expect(names=("nested deeper",), types=("FileFormatError",))


MUTATIONS = [
    _bytes_flip,
    _bytes_flip,
    _bytes_flip_header,
    _bytes_truncate,
    _bytes_empty,
    _bytes_random,
    _bytes_magic_then_garbage,
    _bytes_splice,
    _no_node,
    _delete_dataset,
    _delete_edges,
    _string_for_array,
    _group_for_dataset,
    _bytes_array_for_array,
    _inject_non_finite,
    _change_shape,
    _dangling_edge,
    _duplicate_edge,
    _numeric_edges,
    _unknown_type,
    _numeric_type,
    _nonpositive_time_constant,
    _v_reset_above_threshold,
    _non_integer_shape,
    _huge_claimed_shape,
    _deep_groups,
    _hard_link_cycle,
    _metadata_schema,
    _metadata_garbage,
    _initial_state_garbage,
    _version_garbage,
    _extra_unreachable_node,
    _remove_input,
    _dataset_is_dangling_link,
    _deep_nesting,
]


# --- running cases ----------------------------------------------------------------------------


def _sources(directory: Path) -> list[Path]:
    fixtures = sorted(PAPER.glob("*/*.nir"))
    assert len(fixtures) == 6, fixtures
    directory.mkdir(parents=True, exist_ok=True)
    out = list(fixtures)
    for seed in range(N_RANDOM_SOURCES):
        path = directory / f"random{seed:02d}.nir"
        nirbridge.write(path, random_graph(SEED + seed))
        out.append(path)
    return out


def _case(index: int, sources: list[Path]):
    kind = MUTATIONS[index % len(MUTATIONS)]
    source = sources[(index // len(MUTATIONS) + index) % len(sources)]
    return kind, source, np.random.default_rng([SEED, index])


def _on_alarm(signum, frame):
    raise _Timeout


def _run_cases(workdir: str, sources: list[Path], indices: list[int], slot: int) -> list[Record]:
    """Generate and read cases (in a worker process)."""
    warnings.simplefilter("error")  # as pytest's filterwarnings: a warning is a failure
    signal.signal(signal.SIGALRM, _on_alarm)
    work = Path(workdir)
    progress = work / f"progress-{slot}"
    records = []
    for index in indices:
        kind, source, rng = _case(index, sources)
        progress.write_text(f"case {index} ({kind.__name__} of {source.name})")
        path = work / f"case{index:05d}.nir"
        try:
            expect = kind(source, path, rng)
        except Exception:
            trace = traceback.format_exc()
            records.append(
                Record(index, kind.__name__, source.name, Expect(), "bug", "generator", trace)
            )
            continue
        start = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, TIME_BUDGET_S)
        try:
            graph = nirbridge.read(path)
            problems = check_graph(graph)
            if problems:
                raise AssertionError(f"read returned a graph that fails validation: {problems[0]}")
            schedule(inline_subgraphs(graph))
            outcome, etype, message = "ok", "", ""
        except _Timeout:
            outcome, etype, message = "timeout", "", f"read took more than {TIME_BUDGET_S} s"
        except nirbridge.NirBridgeError as exc:
            outcome, etype, message = "error", type(exc).__name__, str(exc)
        except BaseException as exc:  # the point of the test
            outcome, etype = "bug", type(exc).__name__
            message = f"{exc}\n{traceback.format_exc()}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        seconds = time.perf_counter() - start
        records.append(
            Record(index, kind.__name__, source.name, expect, outcome, etype, message, seconds)
        )
        path.unlink(missing_ok=True)
    return records


def _worker(workdir: str, sources: list[Path], indices: list[int], slot: int) -> None:
    records = _run_cases(workdir, sources, indices, slot)
    with open(Path(workdir) / f"result-{slot}.pkl", "wb") as fh:
        pickle.dump(records, fh)


def _run_all(tmp_path: Path, n_cases: int) -> list[Record]:
    """Run the cases in worker processes; a worker that dies or stops making progress (HDF5
    stuck in C code, where no signal reaches it) fails the test, naming its case."""
    sources = _sources(tmp_path / "sources")
    work = tmp_path / "cases"
    work.mkdir()
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(
            target=_worker, args=(str(work), sources, list(range(slot, n_cases, WORKERS)), slot)
        )
        for slot in range(WORKERS)
    ]
    for proc in procs:
        with warnings.catch_warnings():  # Python 3.12+ warns about fork in threaded processes
            warnings.simplefilter("ignore", DeprecationWarning)
            proc.start()
    started = time.monotonic()
    try:
        while any(proc.is_alive() for proc in procs):
            time.sleep(0.2)
            for slot, proc in enumerate(procs):
                progress = work / f"progress-{slot}"
                current = progress.read_text() if progress.exists() else "start-up"
                if not proc.is_alive() and proc.exitcode != 0:
                    pytest.fail(f"a reading process died (exit code {proc.exitcode}) at {current}")
                last = progress.stat().st_mtime if progress.exists() else None
                idle = time.time() - last if last else time.monotonic() - started
                if proc.is_alive() and idle > HANG_S:
                    pytest.fail(f"reading hung for more than {HANG_S} s at {current}")
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
            proc.join()
    records: list[Record] = []
    for slot in range(WORKERS):
        with open(work / f"result-{slot}.pkl", "rb") as fh:
            records += pickle.load(fh)
    return sorted(records, key=lambda r: r.index)


def _violations(r: Record) -> list[str]:
    e = r.expect
    out = []
    if r.outcome in ("bug", "timeout"):
        out.append(f"{r.outcome} {r.error_type}: {r.message[:1500]}")
    elif r.seconds > TIME_BUDGET_S:
        out.append(f"read took {r.seconds:.1f} s")
    elif r.outcome == "error":
        if not r.message.strip():
            out.append(f"{r.error_type} with an empty message")
        if e.must_succeed:
            out.append(f"expected success, got {r.error_type}: {r.message}")
        if e.names and not any(n in r.message for n in e.names):
            out.append(f"message does not name any of {e.names}: {r.error_type}: {r.message}")
        if e.types and r.error_type not in e.types:
            out.append(f"expected {e.types}, got {r.error_type}: {r.message}")
    elif r.outcome == "ok" and e.must_fail:
        out.append("a broken file was read without error")
    return [f"case {r.index} ({r.kind} of {r.source}): {v}" for v in out]


def _report(records: list[Record]) -> str:
    n_ok = sum(r.outcome == "ok" for r in records)
    by_type = collections.Counter(r.error_type or r.outcome for r in records if r.outcome != "ok")
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in records:
        by_kind[r.kind][r.error_type or r.outcome] += 1
    slowest = max(records, key=lambda r: r.seconds)
    lines = [
        f"fuzz: {len(records)} files, {n_ok} read successfully, "
        f"{len(records) - n_ok} raised; slowest read {slowest.seconds:.2f} s "
        f"(case {slowest.index}, {slowest.kind})",
        "errors by type: " + ", ".join(f"{k} {v}" for k, v in by_type.most_common()),
    ]
    for kind, counts in sorted(by_kind.items()):
        lines.append(f"  {kind:28s} " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    return "\n".join(lines)


def _fuzz(tmp_path: Path, capsys, n_cases: int) -> None:
    start = time.perf_counter()
    records = _run_all(tmp_path, n_cases)
    assert [r.index for r in records] == list(range(n_cases))
    report = _report(records)
    with capsys.disabled():
        print(f"\n{report}\n(fuzz wall time {time.perf_counter() - start:.1f} s)")
    problems = [v for r in records for v in _violations(r)]
    assert not problems, f"{len(problems)} violations:\n" + "\n".join(problems[:25])
    # the corpus is what it claims to be
    kinds = collections.Counter(r.kind for r in records)
    assert set(kinds) == {m.__name__ for m in MUTATIONS}
    assert sum(r.outcome == "ok" for r in records) >= n_cases // 50
    assert sum(r.outcome == "error" for r in records) >= n_cases // 2


def test_fuzz_read(tmp_path, capsys):
    assert N_CASES >= 1000
    _fuzz(tmp_path, capsys, N_CASES)


@pytest.mark.slow
def test_fuzz_read_large(tmp_path, capsys):
    _fuzz(tmp_path, capsys, N_CASES_SLOW)


def test_sources_are_valid(tmp_path):
    for path in _sources(tmp_path):
        assert check_graph(nirbridge.read(path)) == []


def test_case_generation_is_deterministic(tmp_path):
    sources = _sources(tmp_path / "s")
    digests = []
    for attempt in range(2):
        out = []
        for index in range(0, 3 * len(MUTATIONS)):
            kind, source, rng = _case(index, sources)
            if kind is _deep_nesting:
                continue  # nir's writer stores no timestamps, but h5py may place objects anew
            path = tmp_path / f"d{attempt}-{index}.nir"
            kind(source, path, rng)
            out.append(path.read_bytes() if path.stat().st_size < 10**6 else b"")
        digests.append(out)
    assert digests[0] == digests[1]


def test_violations_are_detected():
    """The checker itself: each kind of violation is caught."""
    ok = Record(0, "k", "s", Expect(must_fail=True), "ok")
    assert _violations(ok)
    bug = Record(0, "k", "s", Expect(), "bug", "KeyError", "x")
    assert _violations(bug)
    unnamed = Record(0, "k", "s", Expect(names=("'lif'",)), "error", "GraphError", "bad node")
    assert _violations(unnamed)
    empty = Record(0, "k", "s", Expect(), "error", "GraphError", " ")
    assert _violations(empty)
    slow = Record(0, "k", "s", Expect(), "error", "GraphError", "x", TIME_BUDGET_S + 1)
    assert _violations(slow)
    wrong = Record(0, "k", "s", Expect(types=("EdgeError",)), "error", "ShapeError", "x")
    assert _violations(wrong)
    fine = Record(0, "k", "s", Expect(names=("'lif'",)), "error", "GraphError", "node 'lif': x")
    assert not _violations(fine)


def _sabotaged_read(mode: str):
    real = nirbridge.read

    def read(path, *args, **kwargs):
        if Path(path).name == "case00003.nir":
            if mode == "crash":
                os.kill(os.getpid(), signal.SIGKILL)  # no handler runs, as in a crash
            if mode == "hang":  # stuck where no signal reaches, as HDF5 in C code
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
                time.sleep(60)
            if mode == "slow":  # slow but interruptible
                time.sleep(60)
            if mode == "bug":
                raise KeyError("node")
        return real(path, *args, **kwargs)

    return read


def test_harness_reports_a_crashing_read(tmp_path, monkeypatch):
    monkeypatch.setattr(nirbridge, "read", _sabotaged_read("crash"))
    with pytest.raises(pytest.fail.Exception, match=r"died .* at case 3 "):
        _run_all(tmp_path, 8)


def test_harness_reports_a_hanging_read(tmp_path, monkeypatch):
    monkeypatch.setattr(nirbridge, "read", _sabotaged_read("hang"))
    monkeypatch.setattr(sys.modules[__name__], "HANG_S", 2.0)
    start = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"hung .* at case 3 "):
        _run_all(tmp_path, 8)
    assert time.monotonic() - start < 30


@pytest.mark.parametrize(("mode", "outcome"), [("slow", "timeout"), ("bug", "bug")])
def test_harness_reports_slow_and_foreign_errors(tmp_path, monkeypatch, mode, outcome):
    monkeypatch.setattr(nirbridge, "read", _sabotaged_read(mode))
    monkeypatch.setattr(sys.modules[__name__], "TIME_BUDGET_S", 1.0)
    records = _run_all(tmp_path, 8)
    assert records[3].outcome == outcome
    assert _violations(records[3])
    assert all(r.outcome != outcome for r in records if r.index != 3)
