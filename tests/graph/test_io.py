"""Reading and writing NIR files: fixtures, versions and reset modes, our metadata, atomicity."""

from __future__ import annotations

import os
import stat

import h5py
import nir
import numpy as np
import pytest

import nirbridge
from nirbridge import FileFormatError, MetadataError, ResetModeError, TimeStepError
from nirbridge.graph import (
    NAMESPACE,
    SCHEMA_VERSION,
    _io,
    check_graph,
    infer_shapes,
    inline_subgraphs,
    read_metadata,
    reset_mode,
    reset_source,
    resolve_dt,
    with_metadata,
)

from ..conftest import PAPER, paper_file
from ._builders import graph, lif, lif_chain, nested, random_graph

FIXTURES = sorted(PAPER.glob("*/*.nir"))
#: NIR version each fixture was written with (the file's ``version`` dataset).
VERSIONS = {
    "lif_norse.nir": "0.1.1",
    "lif_rockpool.nir": "0.2.0",
    "two_lif_neurons.nir": "0.2.0",
    "cnn_sinabs.nir": "0.2.0",
    "braille_noDelay_bias_zero.nir": "0.2.0",
    "braille_noDelay_noBias_subtract.nir": "0.2.0",
}


def test_fixtures_present():
    assert sorted(p.name for p in FIXTURES) == sorted(VERSIONS)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_reads(path):
    g = nirbridge.read(path)
    assert isinstance(g, nir.NIRGraph)
    assert check_graph(g) == []
    kinds = [type(n).__name__ for n in g.nodes.values()]
    assert "Input" in kinds and "Output" in kinds
    # the edges of the file, in the file's order
    with h5py.File(path, "r") as f:
        stored = [(a.decode(), b.decode()) for a, b in f["node/edges"][()]]
    assert list(map(tuple, g.edges)) == stored


def test_rockpool_legacy_output_shape_reads():
    """lif_rockpool.nir declares its Output as (1, 1, 1) for a 1-neuron layer."""
    path = paper_file("01_lif", "lif_rockpool.nir")
    with h5py.File(path, "r") as f:
        assert f["node/nodes/output/shape"][()].tolist() == [1, 1, 1]
    g = nirbridge.read(path)
    assert np.asarray(g.nodes["output"].output_type["output"]).tolist() == [1, 1, 1]
    assert infer_shapes(g)["output"] == (1,)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_version_recorded_and_reset_is_subtract(path):
    with h5py.File(path, "r") as f:
        assert f["version"][()].decode() == VERSIONS[path.name]
    g = nirbridge.read(path)
    assert g.metadata[NAMESPACE]["nir_version"] == VERSIONS[path.name]
    assert read_metadata(g).nir_version == VERSIONS[path.name]
    assert reset_mode(g) == "subtract"
    assert reset_mode(g, "auto") == "subtract"
    assert VERSIONS[path.name] in reset_source(g)


def test_fresh_graph_written_by_nir_resets_to_zero(tmp_path):
    path = tmp_path / "fresh.nir"
    nir.write(path, lif_chain())  # stock nir 1.0.8 writer, no nirbridge metadata
    with h5py.File(path, "r") as f:
        assert f["version"][()].decode() == nir.version == "1.0.8"
    g = nirbridge.read(path)
    assert read_metadata(g).nir_version == "1.0.8"
    assert reset_mode(g) == "zero"


def test_fresh_graph_written_by_us_resets_to_zero(tmp_path):
    path = tmp_path / "fresh.nir"
    nirbridge.write(path, lif_chain())
    g = nirbridge.read(path)
    assert read_metadata(g).nir_version == nir.version
    assert reset_mode(g) == "zero"


@pytest.mark.parametrize(
    ("version", "mode"),
    [
        ("0.1.1", "subtract"),
        ("0.2.0", "subtract"),
        ("1.0.5", "subtract"),
        ("1.0.5.post1", "subtract"),
        ("1.0.6", "zero"),
        ("1.0.8", "zero"),
        ("1.1", "zero"),
        ("2.0.0", "zero"),
    ],
)
def test_reset_mode_from_version(version, mode):
    g = with_metadata(lif_chain(), nir_version=version)
    assert reset_mode(g) == mode
    assert nirbridge.graph.reset_mode_for_version(version) == mode


def test_override_wins():
    sub = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    assert reset_mode(sub, "zero") == "zero"
    assert reset_source(sub, "zero") == "given explicitly"
    fresh = with_metadata(lif_chain(), nir_version="1.0.8", reset="zero")
    assert reset_mode(fresh, "subtract") == "subtract"
    with pytest.raises(ResetModeError, match="'sideways'"):
        reset_mode(fresh, "sideways")


def test_metadata_reset_beats_version(tmp_path):
    g = nirbridge.read(paper_file("03_rnn", "braille_noDelay_bias_zero.nir"))
    with_metadata(g, reset="zero")
    assert reset_mode(g) == "zero"
    assert reset_source(g) == "nirbridge metadata"
    nirbridge.write(tmp_path / "b.nir", g)
    back = nirbridge.read(tmp_path / "b.nir")
    assert read_metadata(back).nir_version == "0.2.0"  # the semantics' version survives
    assert reset_mode(back) == "zero"
    fresh = with_metadata(lif_chain(), nir_version="1.0.8", reset="subtract")
    assert reset_mode(fresh) == "subtract"


def test_rewritten_legacy_file_keeps_its_semantics(tmp_path):
    """Written again by nir 1.0.8, a 0.2.0 graph must still reset by subtraction."""
    g = nirbridge.read(paper_file("01_lif", "two_lif_neurons.nir"))
    nirbridge.write(tmp_path / "t.nir", g)
    with h5py.File(tmp_path / "t.nir", "r") as f:
        assert f["version"][()].decode() == nir.version
    assert reset_mode(nirbridge.read(tmp_path / "t.nir")) == "subtract"


def test_no_version_and_no_metadata_asks_for_a_reset_mode(tmp_path):
    path = tmp_path / "noversion.nir"
    nir.write(path, lif_chain())
    with h5py.File(path, "a") as f:
        del f["version"]
    g = nirbridge.read(path)
    assert read_metadata(g).nir_version is None
    with pytest.raises(ResetModeError, match="reset='subtract' or reset='zero'"):
        reset_mode(g)
    assert reset_mode(g, "subtract") == "subtract"


def test_unparseable_version_asks_for_a_reset_mode(tmp_path):
    path = tmp_path / "badversion.nir"
    nir.write(path, lif_chain())
    with h5py.File(path, "a") as f:
        del f["version"]
        f.create_dataset("version", data="unknown", dtype=h5py.string_dtype())
    g = nirbridge.read(path)
    with pytest.raises(ResetModeError, match="'unknown'.*reset='subtract'"):
        reset_mode(g)


# --- round trip -------------------------------------------------------------------------------


def _params(node) -> dict[str, np.ndarray]:
    skip = {"input_type", "output_type", "metadata"}
    return {k: v for k, v in vars(node).items() if k not in skip}


def _assert_same_node(a, b, where=""):
    assert type(a) is type(b), where
    if isinstance(a, nir.NIRGraph):
        assert sorted(a.nodes) == sorted(b.nodes), where  # HDF5 lists groups alphabetically
        assert [tuple(e) for e in a.edges] == [tuple(e) for e in b.edges], where
        for k in a.nodes:
            _assert_same_node(a.nodes[k], b.nodes[k], f"{where}.{k}")
        return
    pa, pb = _params(a), _params(b)
    assert pa.keys() == pb.keys(), where
    for key in pa:
        x, y = np.asarray(pa[key]), np.asarray(pb[key])
        if x.dtype.kind in "fiu":
            assert x.dtype == y.dtype, f"{where}.{key}"
            assert x.shape == y.shape, f"{where}.{key}"
            assert x.tobytes() == y.tobytes(), f"{where}.{key} not bit-exact"
        else:
            assert np.array_equal(x, y), f"{where}.{key}"
    assert {k: np.asarray(v).tolist() for k, v in a.input_type.items() if v is not None} == {
        k: np.asarray(v).tolist() for k, v in b.input_type.items() if v is not None
    }


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_round_trip_bit_exact(path, tmp_path):
    g = nirbridge.read(path)
    nirbridge.write(tmp_path / "rt.nir", g)
    _assert_same_node(g, nirbridge.read(tmp_path / "rt.nir"))


def _rich_graph() -> nir.NIRGraph:
    rng = np.random.default_rng(7)
    g = graph(
        {
            "in": nir.Input(np.array([3])),
            "fc": nir.Affine(
                weight=rng.normal(size=(4, 3)).astype(np.float32),
                bias=rng.normal(size=4).astype(np.float32),
            ),
            "lif": nir.LIF(
                tau=rng.uniform(1e-3, 1e-2, 4),
                r=np.array([1.0, 1.0 + 2**-52, np.pi, 1e-300]),
                v_leak=np.array([0.0, -0.0, 1e-310, -1.5]),
                v_threshold=np.ones(4),
                v_reset=np.array([-0.1, 0.0, 0.2, -7.0]),
            ),
            "rec": nir.Linear(weight=rng.normal(size=(4, 4))),
            "out": nir.Output(np.array([4])),
        },
        [("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")],
        metadata={"other_tool": {"flag": 1}},
    )
    return with_metadata(
        g,
        dt=1.25e-4,
        time_unit="ms",
        integrator="exact",
        reset="zero",
        initial_state={"lif": {"v": np.array([0.1, -0.2, 0.3, 1e-9])}},
        extra={
            "learning_rule": {"name": "stdp", "eta": 0.01, "taus": np.array([2e-2, 3e-2])},
            "comment": "kept as is",
        },
    )


def test_round_trip_parameters_edges_and_metadata(tmp_path):
    g = _rich_graph()
    path = tmp_path / "rich.nir"
    nirbridge.write(path, g)
    back = nirbridge.read(path)
    _assert_same_node(g, back)
    meta = read_metadata(back)
    assert meta.dt == 1.25e-4
    assert meta.time_unit == "ms"
    assert meta.integrator == "exact"
    assert meta.reset == "zero"
    assert meta.nir_version == nir.version
    assert list(meta.initial_state) == ["lif"]
    v = meta.initial_state["lif"]["v"]
    assert v.tobytes() == np.array([0.1, -0.2, 0.3, 1e-9]).tobytes()
    rule = meta.extra["learning_rule"]
    assert rule["name"] == "stdp"
    assert rule["eta"] == 0.01
    assert np.array_equal(rule["taus"], [2e-2, 3e-2])
    assert meta.extra["comment"] == "kept as is"
    assert back.metadata["other_tool"]["flag"] == 1  # other namespaces survive too
    assert resolve_dt(back) == 1.25e-4
    # a second round trip changes nothing
    nirbridge.write(tmp_path / "again.nir", back)
    again = read_metadata(nirbridge.read(tmp_path / "again.nir"))
    assert again.to_dict().keys() == meta.to_dict().keys()
    assert again.extra["learning_rule"]["name"] == "stdp"


@pytest.mark.parametrize("seed", range(40))
def test_random_graph_round_trip(seed, tmp_path):
    g = random_graph(seed)
    assert check_graph(g) == []
    nirbridge.write(tmp_path / "g.nir", g)
    back = nirbridge.read(tmp_path / "g.nir")
    _assert_same_node(g, back)
    assert read_metadata(back).dt == read_metadata(g).dt


def test_write_does_not_change_the_graph(tmp_path):
    g = lif_chain()
    nirbridge.write(tmp_path / "g.nir", g)
    assert g.metadata == {}


def test_stock_nir_reads_what_we_wrote(tmp_path):
    g = _rich_graph()
    nirbridge.write(tmp_path / "rich.nir", g)
    stock = nir.read(tmp_path / "rich.nir")
    assert sorted(stock.nodes) == sorted(g.nodes)
    ns = stock.metadata[NAMESPACE]
    assert float(ns["dt"]) == 1.25e-4
    assert ns["reset"] == "zero"
    assert np.array_equal(stock.nodes["lif"].v_reset, g.nodes["lif"].v_reset)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_stock_nir_reads_rewritten_fixtures(path, tmp_path):
    g = nirbridge.read(path)
    with_metadata(g, dt=1e-4)
    nirbridge.write(tmp_path / "f.nir", g)
    try:
        nir.read(path)
        stock_type_checks = True
    except ValueError:  # lif_rockpool.nir: nir's own type check rejects the original too
        stock_type_checks = False
    stock = nir.read(tmp_path / "f.nir", type_check=stock_type_checks)
    assert set(stock.nodes) >= set(g.nodes)
    assert float(stock.metadata[NAMESPACE]["dt"]) == 1e-4


def test_newer_metadata_schema_fails(tmp_path):
    path = tmp_path / "future.nir"
    g = lif_chain()
    g.metadata = {NAMESPACE: {"schema": SCHEMA_VERSION + 1, "dt": 1e-4}}
    nir.write(path, g)  # as a future nirbridge would write it
    with pytest.raises(MetadataError, match="schema.*upgrade nirbridge") as info:
        nirbridge.read(path)
    assert str(SCHEMA_VERSION + 1) in str(info.value)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"time_unit": "fortnight"}, "time_unit"),
        ({"integrator": "rk4"}, "integrator"),
        ({"reset": "sometimes"}, "reset"),
        ({"schema": "one"}, "schema"),
        ({"schema": 1.5}, "schema"),
        ({"schema": 0}, "schema"),
        ({"dt": "soon"}, "dt"),
        ({"initial_state": {"lif": {"v": "high"}}}, "initial_state"),
    ],
)
def test_malformed_metadata_fails_naming_the_field(tmp_path, bad, field):
    path = tmp_path / "bad.nir"
    g = lif_chain()
    g.metadata = {NAMESPACE: bad}
    nir.write(path, g)
    with pytest.raises(MetadataError, match=f"nirbridge.{field}"):
        nirbridge.read(path)


@pytest.mark.parametrize("dt", [0.0, -1e-4, float("nan"), float("inf")])
def test_bad_dt_in_metadata_fails(tmp_path, dt):
    path = tmp_path / "bad.nir"
    g = lif_chain()
    g.metadata = {NAMESPACE: {"dt": dt}}
    nir.write(path, g)
    with pytest.raises(TimeStepError, match="nirbridge.dt"):
        nirbridge.read(path)


def test_file_without_our_metadata_is_valid(tmp_path):
    path = tmp_path / "plain.nir"
    nir.write(path, lif_chain())
    with h5py.File(path, "r") as f:
        assert "metadata" not in f["node"]
    g = nirbridge.read(path)
    assert check_graph(g) == []
    meta = read_metadata(g)
    assert meta.dt is None and meta.reset is None and meta.initial_state == {}
    assert meta.time_unit == "s"


# --- atomic write -----------------------------------------------------------------------------


def test_write_is_atomic_when_the_writer_fails(tmp_path, monkeypatch):
    path = tmp_path / "model.nir"
    nirbridge.write(path, lif_chain())
    before = path.read_bytes()

    def broken_write(filename, graph, *args, **kwargs):
        with open(filename, "wb") as fh:  # half a file, then the failure
            fh.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
        raise RuntimeError("disk full")

    monkeypatch.setattr(nir, "write", broken_write)
    with pytest.raises(RuntimeError, match="disk full"):
        nirbridge.write(path, _rich_graph())
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.nir"]  # no temporary file left behind
    monkeypatch.undo()
    g = nirbridge.read(path)
    assert sorted(g.nodes) == ["fc", "in", "lif", "out"]


def test_write_is_atomic_when_interrupted_before_rename(tmp_path, monkeypatch):
    path = tmp_path / "model.nir"
    nirbridge.write(path, lif_chain())
    before = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        nirbridge.write(path, _rich_graph())
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.nir"]


def test_write_of_an_invalid_graph_writes_nothing(tmp_path):
    g = lif_chain()
    g.nodes["lif"].tau[0] = -1.0
    with pytest.raises(nirbridge.InvalidParameterError, match="tau"):
        nirbridge.write(tmp_path / "bad.nir", g)
    assert os.listdir(tmp_path) == []


def test_written_file_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "new.nir"
    nirbridge.write(path, lif_chain())
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    path.chmod(0o640)
    nirbridge.write(path, lif_chain())
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# --- time step --------------------------------------------------------------------------------


def test_resolve_dt_order():
    g = with_metadata(lif_chain(), dt=1e-3)
    assert resolve_dt(g, 2e-4) == 2e-4  # explicit first
    assert resolve_dt(g) == 1e-3  # then metadata
    with pytest.raises(TimeStepError) as info:
        resolve_dt(lif_chain())
    message = str(info.value)
    assert "dt" in message and "seconds" in message
    assert "--dt" in message and "with_metadata(graph, dt=" in message


@pytest.mark.parametrize("dt", [0, -1e-4, float("nan"), float("inf"), "soon", [1e-4, 2e-4]])
def test_resolve_dt_rejects_bad_explicit_values(dt):
    with pytest.raises(TimeStepError, match="dt argument"):
        resolve_dt(with_metadata(lif_chain(), dt=1e-3), dt)


def test_dt_survives_round_trip_exactly(tmp_path):
    dt = 1 / 3 * 1e-3
    nirbridge.write(tmp_path / "g.nir", with_metadata(lif_chain(), dt=dt))
    assert resolve_dt(nirbridge.read(tmp_path / "g.nir")) == dt


# --- nested graphs ----------------------------------------------------------------------------


def test_nested_subgraph_round_trip_and_inlining(tmp_path):
    g = nested()
    nirbridge.write(tmp_path / "nested.nir", g)
    back = nirbridge.read(tmp_path / "nested.nir")
    assert isinstance(back.nodes["sub"], nir.NIRGraph)
    _assert_same_node(g, back)
    flat = inline_subgraphs(back)
    assert sorted(flat.nodes) == ["fc", "in", "out", "sub.in", "sub.lif", "sub.out"]
    assert [tuple(e) for e in flat.edges] == [
        ("sub.in", "sub.lif"),
        ("sub.lif", "sub.out"),
        ("in", "fc"),
        ("fc", "sub.in"),
        ("sub.out", "out"),
    ]
    kinds = {k: type(n).__name__ for k, n in flat.nodes.items()}
    # only the top level's Input and Output remain graph inputs and outputs
    assert [k for k, t in kinds.items() if t == "Input"] == ["in"]
    assert [k for k, t in kinds.items() if t == "Output"] == ["out"]
    assert kinds["sub.in"] == kinds["sub.out"] == "Identity"
    assert infer_shapes(flat)["sub.out"] == (4,)


def test_doubly_nested_subgraph(tmp_path):
    inner = nested(4, 4)
    outer = graph(
        {
            "in": nir.Input(np.array([2])),
            "fc": nir.Affine(weight=np.ones((4, 2)), bias=np.zeros(4)),
            "mid": inner,
            "lif": lif(4),
            "out": nir.Output(np.array([4])),
        },
        [("in", "fc"), ("fc", "mid"), ("mid", "lif"), ("lif", "out")],
    )
    nirbridge.write(tmp_path / "deep.nir", outer)
    back = nirbridge.read(tmp_path / "deep.nir")
    flat = inline_subgraphs(back)
    assert "mid.sub.lif" in flat.nodes
    assert ("mid.sub.out", "mid.out") in [tuple(e) for e in flat.edges]
    assert ("fc", "mid.in") in [tuple(e) for e in flat.edges]


# --- not NIR at all ---------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        nirbridge.read(tmp_path / "absent.nir")


def test_directory_is_not_a_nir_file(tmp_path):
    with pytest.raises(FileFormatError, match="directory"):
        nirbridge.read(tmp_path)


def _plain_file(path) -> None:
    nir.write(path, lif_chain())


def test_external_link_is_not_followed(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["tau"] = np.full(4, 1e-2)
    path = tmp_path / "g.nir"
    _plain_file(path)
    with h5py.File(path, "a") as f:
        del f["node/nodes/lif/tau"]
        f["node/nodes/lif/tau"] = h5py.ExternalLink(str(other), "/tau")
    with pytest.raises(FileFormatError, match="'node/nodes/lif/tau' is a link to another file"):
        nirbridge.read(path)


def test_dangling_soft_link(tmp_path):
    path = tmp_path / "g.nir"
    _plain_file(path)
    with h5py.File(path, "a") as f:
        del f["node/nodes/lif/tau"]
        f["node/nodes/lif/tau"] = h5py.SoftLink("/nowhere")
    with pytest.raises(FileFormatError, match="'node/nodes/lif/tau'"):
        nirbridge.read(path)


def test_hard_link_cycle(tmp_path):
    path = tmp_path / "g.nir"
    _plain_file(path)
    with h5py.File(path, "a") as f:
        f["node/nodes/lif/metadata"] = f["node"]
    with pytest.raises(FileFormatError, match="already read"):
        nirbridge.read(path)


def test_hard_links_sharing_groups_do_not_explode(tmp_path):
    """40 levels of groups each linked twice from the level above: 2**40 paths."""
    path = tmp_path / "g.nir"
    _plain_file(path)
    with h5py.File(path, "a") as f:
        levels = [f.create_group(f"pool/l{i}") for i in range(40)]
        for upper, lower in zip(levels, levels[1:], strict=False):
            upper["x"] = lower
            upper["y"] = lower
        f["node/nodes/lif/metadata"] = levels[0]
    with pytest.raises(FileFormatError, match="already read"):
        nirbridge.read(path)


@pytest.mark.parametrize(
    "shape", [(2**31, 2**31, 2**31), (2**32, 2**32), (2**40,), (2**27,), (2**20, 2**10)]
)
def test_huge_claimed_dataset_is_refused_without_allocating(tmp_path, shape):
    path = tmp_path / "g.nir"
    _plain_file(path)
    with h5py.File(path, "a") as f:
        del f["node/nodes/lif/tau"]
        chunks = (1,) * (len(shape) - 1) + (1024,)
        f["node/nodes/lif"].create_dataset("tau", shape=shape, dtype="f8", chunks=chunks)
    assert path.stat().st_size < 100_000
    with pytest.raises(FileFormatError, match="'node/nodes/lif/tau' claims shape") as info:
        nirbridge.read(path)
    assert str(path) in str(info.value)


def test_nesting_too_deep(tmp_path):
    path = tmp_path / "g.nir"
    _plain_file(path)
    with h5py.File(path, "a") as f:
        f.create_group("node/nodes/lif/metadata/" + "/".join(["d"] * 80))
    with pytest.raises(FileFormatError, match="nested deeper"):
        nirbridge.read(path)


def test_limits_are_sane():
    assert _io.MAX_DATASET_BYTES >= 2**30
    assert _io.MAX_OBJECTS >= 100_000
