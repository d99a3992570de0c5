"""Validation: every class of error, on a hand-broken graph, with the right type and a message
that names the node and the parameter."""

from __future__ import annotations

import dataclasses

import h5py
import nir
import numpy as np
import pytest

import nirbridge
from nirbridge import (
    EdgeError,
    FileFormatError,
    GraphError,
    InvalidParameterError,
    MetadataError,
    ResetModeError,
    ShapeError,
    UnknownNodeTypeError,
)
from nirbridge.graph import check_graph, validate, with_metadata

from ._builders import graph, lif, lif_chain, nested, recurrent


def _error(g, *, reset=None) -> Exception:
    problems = check_graph(g, reset=reset)
    assert problems, "expected the graph to be rejected"
    with pytest.raises(type(problems[0])) as info:
        validate(g, reset=reset)
    assert type(info.value) is type(problems[0]) and str(info.value) == str(problems[0])
    return problems[0]


def _names(exc: Exception, cls: type, node: str | None, parameter: str | None = None) -> None:
    assert type(exc) is cls, f"{type(exc).__name__}: {exc}"
    message = str(exc)
    assert message.strip()
    if node is not None:
        assert exc.node == node
        assert repr(node) in message, message
    if parameter is not None:
        assert exc.parameter == parameter
        assert repr(parameter) in message, message


def test_valid_graphs_pass():
    for g in (lif_chain(), recurrent(), nested()):
        assert check_graph(g) == []
        validate(g)


# --- parameter values -------------------------------------------------------------------------


@pytest.mark.parametrize("tau", [0.0, -1e-3])
def test_nonpositive_tau(tau):
    g = lif_chain()
    g.nodes["lif"].tau[2] = tau
    exc = _error(g)
    _names(exc, InvalidParameterError, "lif", "tau")
    assert "> 0" in str(exc) and "index (2,)" in str(exc)


@pytest.mark.parametrize("field", ["tau_syn", "tau_mem"])
def test_nonpositive_cuba_time_constants(field):
    g = lif_chain()
    g.nodes["lif"] = nir.CubaLIF(
        tau_syn=np.full(4, 1e-3),
        tau_mem=np.full(4, 1e-2),
        r=np.ones(4),
        v_leak=np.zeros(4),
        v_threshold=np.ones(4),
    )
    getattr(g.nodes["lif"], field)[0] = -5e-3
    _names(_error(g), InvalidParameterError, "lif", field)


def test_negative_delay():
    g = lif_chain()
    g.nodes["delay"] = nir.Delay(delay=np.array([1e-3, -1e-3, 0.0, 0.0]))
    g.edges = [("in", "fc"), ("fc", "delay"), ("delay", "lif"), ("lif", "out")]
    _names(_error(g), InvalidParameterError, "delay", "delay")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(("node", "field"), [("lif", "v_leak"), ("lif", "tau"), ("fc", "weight")])
def test_non_finite_parameters(value, node, field):
    g = lif_chain()
    arr = getattr(g.nodes[node], field)
    arr.flat[1] = value
    exc = _error(g)
    _names(exc, InvalidParameterError, node, field)
    assert "finite" in str(exc)


def test_v_reset_not_below_threshold_only_matters_when_resetting_to_it():
    g = lif_chain()
    g.nodes["lif"].v_reset[3] = 1.0  # == v_threshold
    _names(_error(g, reset="zero"), InvalidParameterError, "lif", "v_reset")
    assert check_graph(g, reset="subtract") == []
    # "auto" follows the file's version: subtraction up to NIR 1.0.5 ...
    assert check_graph(with_metadata(g, nir_version="0.2.0")) == []
    # ... reset to v_reset after
    _names(_error(with_metadata(g, nir_version="1.0.6")), InvalidParameterError, "lif", "v_reset")
    # and our metadata beats the version
    assert check_graph(with_metadata(g, reset="subtract")) == []
    g.nodes["lif"].v_reset[3] = 2.0  # above
    exc = _error(g, reset="zero")
    assert "v_threshold" in str(exc) and "index (3,)" in str(exc)


def test_invalid_reset_argument_is_not_ignored():
    with pytest.raises(ResetModeError, match="'sometimes'"):
        check_graph(lif_chain(), reset="sometimes")


def test_missing_required_parameter():
    g = lif_chain()
    g.nodes["lif"].v_threshold = None
    _names(_error(g), InvalidParameterError, "lif", "v_threshold")


def test_strings_where_numbers_belong():
    g = lif_chain()
    g.nodes["lif"].r = np.array(["1", "1", "1", "1"])
    exc = _error(g)
    _names(exc, InvalidParameterError, "lif", "r")
    assert "numeric" in str(exc) or "numbers" in str(exc)


def test_weight_of_wrong_rank():
    g = lif_chain()
    g.nodes["fc"].weight = np.ones(12)
    _names(_error(g), InvalidParameterError, "fc", "weight")


def test_neuron_parameter_shapes_disagree():
    g = lif_chain()
    g.nodes["lif"].r = np.ones(3)
    exc = _error(g)
    assert isinstance(exc, InvalidParameterError) and exc.node == "lif"
    assert "r(3,)" in str(exc) and "tau(4,)" in str(exc)


def test_affine_bias_does_not_match_weight():
    g = lif_chain()
    g.nodes["fc"].bias = np.zeros(5)
    exc = _error(g)
    _names(exc, InvalidParameterError, "fc", "bias")
    assert "(4,)" in str(exc) and "(5,)" in str(exc)


@pytest.mark.parametrize(("field", "value"), [("stride", 0), ("dilation", -1), ("groups", 0)])
def test_conv_integer_fields_out_of_range(field, value):
    g = graph(
        {
            "in": nir.Input(np.array([1, 6])),
            "conv": nir.Conv1d(
                input_shape=None,
                weight=np.ones((2, 1, 3)),
                stride=1,
                padding=0,
                dilation=1,
                groups=1,
                bias=np.zeros(2),
            ),
            "out": nir.Output(np.array([2, 4])),
        },
        [("in", "conv"), ("conv", "out")],
    )
    assert check_graph(g) == []
    setattr(g.nodes["conv"], field, value)
    _names(_error(g), InvalidParameterError, "conv", field)


def test_input_shape_not_positive():
    g = lif_chain()
    g.nodes["in"] = nir.Input(np.array([0]))
    _names(_error(g), InvalidParameterError, "in", "shape")


# --- structure --------------------------------------------------------------------------------


def test_dangling_edge():
    g = lif_chain()
    g.edges.append(("lif", "ghost"))
    exc = _error(g)
    _names(exc, EdgeError, "ghost")
    assert "target" in str(exc) and "'lif'" in str(exc)
    g = lif_chain()
    g.edges.insert(0, ("phantom", "lif"))
    exc = _error(g)
    _names(exc, EdgeError, "phantom")
    assert "source" in str(exc)


def test_duplicate_edge():
    g = lif_chain()
    g.edges.append(("fc", "lif"))
    exc = _error(g)
    _names(exc, EdgeError, "lif")
    assert "duplicate" in str(exc) and "'fc'" in str(exc)


def test_malformed_edge():
    g = lif_chain()
    g.edges.append(("fc", "lif", "out"))
    assert isinstance(_error(g), EdgeError)


@dataclasses.dataclass(eq=False)
class Banana(nir.NIRNode):
    ripeness: float = 1.0

    def __post_init__(self):
        self.input_type = {"input": np.array([4])}
        self.output_type = {"output": np.array([4])}


def test_unknown_node_type():
    g = lif_chain()
    g.nodes["fruit"] = Banana()
    g.edges = [("in", "fc"), ("fc", "fruit"), ("fruit", "lif"), ("lif", "out")]
    exc = _error(g)
    _names(exc, UnknownNodeTypeError, "fruit")
    assert "Banana" in str(exc)


def test_unknown_node_type_inside_a_subgraph_is_named_with_its_path():
    g = nested()
    g.nodes["sub"].nodes["lif"] = Banana()
    _names(_error(g), UnknownNodeTypeError, "sub.lif")


def test_shape_mismatch_along_an_edge():
    g = lif_chain()
    g.nodes["lif"] = lif(5)  # fed 4 values
    g.nodes["out"] = nir.Output(np.array([5]))
    exc = _error(g)
    assert isinstance(exc, ShapeError) and exc.node == "lif"
    assert "(4,)" in str(exc) and "(5,)" in str(exc)


def test_inputs_of_different_shapes_summed():
    g = lif_chain()
    g.nodes["in2"] = nir.Input(np.array([3]))
    g.nodes["fc2"] = nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2))
    g.edges += [("in2", "fc2"), ("fc2", "lif")]
    exc = _error(g)
    assert isinstance(exc, ShapeError) and exc.node == "lif"
    assert "fc2" in str(exc)


def test_output_shape_mismatch():
    g = lif_chain()
    g.nodes["out"] = nir.Output(np.array([7]))
    exc = _error(g)
    assert isinstance(exc, ShapeError) and exc.node == "out"


def test_recurrent_input_shape_mismatch():
    g = recurrent()
    g.nodes["rec"] = nir.Linear(weight=np.ones((3, 4)))
    exc = _error(g)
    assert isinstance(exc, ShapeError) and "rec" in str(exc)


def test_affine_weight_does_not_match_input():
    g = lif_chain(n_in=3, n=4)
    g.nodes["fc"] = nir.Affine(weight=np.ones((4, 5)), bias=np.zeros(4))
    exc = _error(g)
    _names(exc, ShapeError, "fc", "weight")
    assert "5" in str(exc) and "(3,)" in str(exc)


def test_unreachable_node():
    g = lif_chain()
    g.nodes["island"] = lif(4)
    g.edges.append(("island", "out"))
    exc = _error(g)
    _names(exc, EdgeError, "island")
    assert "not reachable" in str(exc)


def test_graph_without_input():
    g = lif_chain()
    del g.nodes["in"]
    g.edges = [("fc", "lif"), ("lif", "out")]
    exc = _error(g)
    assert isinstance(exc, EdgeError)
    assert "no Input" in str(exc)


def test_edges_into_input_and_out_of_output():
    g = lif_chain()
    g.edges.append(("lif", "in"))
    _names(_error(g), EdgeError, "in")
    g = lif_chain()
    g.edges.append(("out", "fc"))
    _names(_error(g), EdgeError, "out")


def test_empty_graph():
    exc = _error(graph({}, []))
    assert isinstance(exc, GraphError) and "no nodes" in str(exc)


def test_not_a_graph():
    (exc,) = check_graph(lif(3))
    assert isinstance(exc, GraphError)
    assert "NIRGraph" in str(exc) and "LIF" in str(exc)


def test_subgraph_problems_are_named_with_their_path():
    g = nested()
    g.nodes["sub"].edges.append(("lif", "ghost"))
    _names(_error(g), EdgeError, "sub.ghost")
    g = nested()
    g.nodes["sub"].nodes["lif"].tau[0] = -1.0
    _names(_error(g), InvalidParameterError, "sub.lif", "tau")
    g = nested()
    g.nodes["sub"].edges.append(("lif", "in"))  # into the subgraph's own Input
    _names(_error(g), EdgeError, "sub.in")


def test_flat_name_collision():
    g = nested()
    g.nodes["sub.lif"] = lif(4)
    g.edges.append(("fc", "sub.lif"))
    exc = _error(g)
    _names(exc, EdgeError, "sub.lif")
    assert "same flat name" in str(exc)


def test_subgraph_with_two_inputs_must_be_named():
    g = nested()
    sub = g.nodes["sub"]
    sub.nodes["in2"] = nir.Input(np.array([4]))
    sub.edges.append(("in2", "lif"))
    exc = _error(g)
    _names(exc, EdgeError, "sub")
    assert "sub.<node>" in str(exc)
    g.edges[g.edges.index(("fc", "sub"))] = ("fc", "sub.in")
    _names(_error(g), EdgeError, "sub.in2")  # not fed: unreachable
    g.edges.append(("fc", "sub.in2"))
    assert check_graph(g) == []


# --- initial state ----------------------------------------------------------------------------


def test_initial_state_checked():
    ok = with_metadata(lif_chain(), initial_state={"lif": {"v": np.full(4, 0.5)}})
    assert check_graph(ok) == []
    cases = [
        ({"ghost": {"v": np.zeros(4)}}, "ghost", "initial_state"),
        ({"fc": {"v": np.zeros(4)}}, "fc", "initial_state"),
        ({"lif": {"w": np.zeros(4)}}, "lif", "initial_state.w"),
        ({"lif": {"v": np.zeros(3)}}, "lif", "initial_state.v"),
        ({"lif": {"v": np.array([0, np.nan, 0, 0])}}, "lif", "initial_state.v"),
    ]
    for state, node, parameter in cases:
        g = with_metadata(lif_chain(), initial_state=state)
        _names(_error(g), InvalidParameterError, node, parameter)


def test_malformed_metadata_is_reported():
    g = lif_chain()
    g.metadata = {"nirbridge": {"time_unit": "parsec"}}
    exc = _error(g)
    assert isinstance(exc, MetadataError) and "time_unit" in str(exc)


# --- errors found while reading a file --------------------------------------------------------


def _write_raw(path, mutate) -> None:
    nir.write(path, lif_chain())
    with h5py.File(path, "a") as f:
        mutate(f["node/nodes"])


def test_non_nir_hdf5_file(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["weights"] = np.ones(3)
    with pytest.raises(FileFormatError, match="no 'node' group") as info:
        nirbridge.read(path)
    assert str(path) in str(info.value)


def test_text_file_is_not_a_nir_file(tmp_path):
    path = tmp_path / "notes.nir"
    path.write_text("this is not HDF5\n")
    with pytest.raises(FileFormatError, match="not an HDF5 file"):
        nirbridge.read(path)


def test_file_missing_required_field(tmp_path):
    path = tmp_path / "g.nir"
    _write_raw(path, lambda nodes: nodes["lif"].__delitem__("tau"))
    with pytest.raises(InvalidParameterError) as info:
        nirbridge.read(path)
    _names(info.value, InvalidParameterError, "lif", "tau")
    assert "missing" in str(info.value)


def _replace(group, key, data, **kw):
    del group[key]
    group.create_dataset(key, data=data, **kw)


def test_file_strings_where_numbers_belong(tmp_path):
    path = tmp_path / "g.nir"
    _write_raw(path, lambda n: _replace(n["lif"], "tau", "ten ms", dtype=h5py.string_dtype()))
    with pytest.raises(InvalidParameterError) as info:
        nirbridge.read(path)
    _names(info.value, InvalidParameterError, "lif", "tau")
    assert "real numbers" in str(info.value)


def test_file_group_where_a_dataset_belongs(tmp_path):
    path = tmp_path / "g.nir"

    def mutate(nodes):
        del nodes["fc"]["weight"]
        nodes["fc"].create_group("weight")

    _write_raw(path, mutate)
    with pytest.raises(InvalidParameterError) as info:
        nirbridge.read(path)
    _names(info.value, InvalidParameterError, "fc", "weight")


def test_file_strings_where_integers_belong(tmp_path):
    path = tmp_path / "g.nir"
    _write_raw(path, lambda n: _replace(n["in"], "shape", "three", dtype=h5py.string_dtype()))
    with pytest.raises(InvalidParameterError) as info:
        nirbridge.read(path)
    _names(info.value, InvalidParameterError, "in", "shape")


def test_file_unknown_node_type(tmp_path):
    path = tmp_path / "g.nir"
    _write_raw(path, lambda n: _replace(n["lif"], "type", "Banana", dtype=h5py.string_dtype()))
    with pytest.raises(UnknownNodeTypeError) as info:
        nirbridge.read(path)
    _names(info.value, UnknownNodeTypeError, "lif", "type")
    assert "Banana" in str(info.value)


def test_file_node_without_type(tmp_path):
    path = tmp_path / "g.nir"
    _write_raw(path, lambda n: n["fc"].__delitem__("type"))
    with pytest.raises(GraphError) as info:
        nirbridge.read(path)
    _names(info.value, GraphError, "fc", "type")


def test_file_negative_tau(tmp_path):
    path = tmp_path / "g.nir"
    _write_raw(path, lambda n: _replace(n["lif"], "tau", -np.ones(4)))
    with pytest.raises(InvalidParameterError) as info:
        nirbridge.read(path)
    _names(info.value, InvalidParameterError, "lif", "tau")


def test_file_neuron_parameter_shapes_differ(tmp_path):
    path = tmp_path / "g.nir"
    _write_raw(path, lambda n: _replace(n["lif"], "v_leak", np.zeros(3)))
    with pytest.raises(InvalidParameterError) as info:
        nirbridge.read(path)
    _names(info.value, InvalidParameterError, "lif", "v_leak")


def test_file_integer_field_too_large_for_int64(tmp_path):
    path = tmp_path / "g.nir"
    _write_raw(path, lambda n: _replace(n["in"], "shape", np.array([1e300])))
    with pytest.raises(InvalidParameterError) as info:
        nirbridge.read(path)
    _names(info.value, InvalidParameterError, "in", "shape")


def test_file_dangling_edge(tmp_path):
    path = tmp_path / "g.nir"
    nir.write(path, lif_chain())
    with h5py.File(path, "a") as f:
        edges = f["node/edges"][()]
        edges[1, 1] = b"ghost"
        _replace(f["node"], "edges", edges.astype("S"))
    with pytest.raises(EdgeError) as info:
        nirbridge.read(path)
    _names(info.value, EdgeError, "ghost")


def test_read_without_check_returns_the_broken_graph(tmp_path):
    path = tmp_path / "g.nir"
    _write_raw(path, lambda n: _replace(n["lif"], "tau", -np.ones(4)))
    g = nirbridge.read(path, check=False)
    assert g.nodes["lif"].tau[0] == -1.0
    assert isinstance(check_graph(g)[0], InvalidParameterError)


def test_read_checks_v_reset_with_the_reset_mode_given(tmp_path):
    path = tmp_path / "g.nir"
    g = lif_chain()
    g.nodes["lif"].v_reset[:] = 2.0
    nirbridge.write(path, with_metadata(g, reset="subtract"))
    assert nirbridge.read(path) is not None
    with pytest.raises(InvalidParameterError, match="v_reset"):
        nirbridge.read(path, reset="zero")


# --- the message format itself ----------------------------------------------------------------


def test_message_format():
    exc = InvalidParameterError(
        "out of range",
        node="lif1",
        node_type="LIF",
        parameter="tau",
        expected="> 0 s",
        got="-0.001",
    )
    assert (
        str(exc) == "node 'lif1' (LIF), parameter 'tau': out of range: expected > 0 s, got -0.001"
    )
    assert str(GraphError("bad", got="x")) == "bad: got x"
    assert str(FileFormatError("broken", path="a.nir")) == "a.nir: broken"
