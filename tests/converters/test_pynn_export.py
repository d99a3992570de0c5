"""PyNN -> NIR (``from_pynn``): the tables run backwards, and graph round trips checked on the
reference simulator against the original graph."""

from __future__ import annotations

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nirbridge
from nirbridge.converters.pynn import from_pynn, to_pynn
from nirbridge.converters.pynn._cells import CELL_MAPS, Ctx
from nirbridge.converters.pynn._export import node_parameters, table_mismatch
from nirbridge.converters.pynn._standard_cells import BRIAN2_CELL_MAPS, NEURON_CELL_MAPS
from tests.conftest import paper_file, require
from tests.converters._pynn_graphs import Case, merge, random_cases

TABLES = {"nest": CELL_MAPS, "brian2": BRIAN2_CELL_MAPS, "neuron": NEURON_CELL_MAPS}
MAPS = [(t, k) for t, table in TABLES.items() for k in sorted(table)]
RANGES = {
    "tau": (2e-3, 50e-3),
    "tau_syn": (2e-3, 20e-3),
    "tau_mem": (2e-3, 50e-3),
    "v_threshold": (0.2, 2.0),
    "v_reset": (-0.5, 0.1),
    "v_leak": (-0.3, 0.3),
    "r": (0.5, 3.0),
    "w_in": (0.5, 2.0),
}
DT = 1e-3


# -- (a) the tables, both ways ----------------------------------------------------------------
@st.composite
def _draw(draw, fields):
    n = draw(st.integers(1, 4))
    values = {
        f: np.array(draw(st.lists(st.floats(*RANGES[f]), min_size=n, max_size=n))) for f in fields
    }
    integrator = draw(st.sampled_from(["euler", "exact"]))
    h = draw(st.sampled_from([0.1, 0.5, 1.0]))
    return values, Ctx(dt=DT, h=h, integrator=integrator, node="n")


@pytest.mark.parametrize("table,key", MAPS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_table_round_trip(table, key, data):
    """NIR -> native -> NIR gives the rows' parameters back to float precision, and the node
    from_pynn makes of the native parameters maps onto the same native parameters and is valid."""
    cells = TABLES[table][key]
    fields = [f.name for f in nirbridge.graph.NODE_SPECS[cells.nir_type] if f.kind == "float"]
    params, ctx = data.draw(_draw(fields))
    native = cells.native_parameters(params, ctx)
    back = node_parameters(cells, native, ctx)
    for row in cells.rows:
        np.testing.assert_allclose(back[row.nir], params[row.nir], rtol=1e-12, err_msg=row.nir)
    assert set(back) == set(fields)
    assert table_mismatch(cells, native, back, ctx) is None
    node = getattr(nir, cells.nir_type)(**back)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([len(back["r"])])}),
            "n": node,
            "output": nir.Output(output_type={"output": np.array([len(back["r"])])}),
        },
        edges=[("input", "n"), ("n", "output")],
        type_check=False,
    )
    nirbridge.validate(graph, reset="zero" if key[1] in ("zero", "-") else "subtract")
    # what the table folds into the weights: gain(back) * W' = gain(params) * W
    assert np.all(np.isfinite(cells.gain(back, ctx))) and np.all(cells.gain(back, ctx) > 0)


def test_mismatch_names_the_parameter():
    cells = CELL_MAPS[("LIF", "zero")]
    ctx = Ctx(dt=DT, h=1.0, integrator="euler", node="n")
    params = {f: np.full(2, np.mean(RANGES[f])) for f in ("tau", "r", "v_leak", "v_threshold")}
    native = cells.native_parameters({**params, "v_reset": np.zeros(2)}, ctx)
    native["C_m"] = np.array([1.0, 250.0])
    why = table_mismatch(cells, native, node_parameters(cells, native, ctx), ctx)
    assert why is not None and "'C_m' = 250 (cell 1)" in why


# -- (b) graph round trips --------------------------------------------------------------------
def _both_biases(case: Case) -> bool:
    """A layer with a constant input on its forward path (a bias, or a LIF's leak towards
    ``v_leak``, which to_pynn sends the same way) and a bias on its recurrent projection: two
    bias projections onto one population (``"bias-><layer>"`` and ``"...:recurrent"``)."""
    return any(layer.b_rec is not None and _forward_constant(layer) for layer in case.net.layers)


def _forward_constant(layer) -> bool:
    leak = layer.kind != "CubaLIF" and np.any(layer.params.get("v_leak", 0) != 0)
    return layer.b_in is not None or bool(leak)  # CubaLIF's v_leak is a parameter (E_L)


def _round_trip(sim, cases, *, reset, integrator, steps=None):
    """(reference of the original, reference of the exported graph) per merged batch."""
    graph = merge([c.graph for c in cases])
    inputs = {f"g{k}_input": c.x for k, c in enumerate(cases)}
    with to_pynn(graph, sim, dt=DT, reset=reset, integrator=integrator) as net:
        back = from_pynn(net)
    meta = nirbridge.graph.read_metadata(back)
    assert (meta.dt, meta.integrator, meta.reset) == (DT, integrator, reset)
    want = nirbridge.simulate(graph, inputs, dt=DT, reset=reset, integrator=integrator).outputs
    got = nirbridge.simulate(back, inputs).outputs  # dt, integrator and reset from its metadata
    return back, want, got


def _assert_same(cases, want, got):
    spikes = 0
    for k, case in enumerate(cases):
        name = f"g{k}_output"
        np.testing.assert_array_equal(got[name], want[name], err_msg=case.net.describe())
        spikes += int(want[name].sum())
    return spikes


@pytest.mark.nest
@pytest.mark.parametrize("integrator", ["euler", "exact"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_random_lif_if_graphs_round_trip_on_nest(integrator, reset):
    """30 random feed-forward and recurrent LIF/IF graphs per mode (120 in all): the exported
    graph gives the original's spikes on the reference."""
    sim = require("nest")
    rng = np.random.default_rng(100 + 10 * len(reset) + len(integrator))
    cases = random_cases(rng, 30, kinds=("LIF", "IF"))
    back, want, got = _round_trip(sim, cases, reset=reset, integrator=integrator)
    assert _assert_same(cases, want, got) > 300
    assert sum(any(layer.w_rec is not None for layer in c.net.layers) for c in cases) >= 8
    assert any(isinstance(n, nir.Affine) for n in back.nodes.values())  # biases came back


@pytest.mark.nest
def test_feed_forward_cubalif_graphs_round_trip_on_nest():
    sim = require("nest")
    rng = np.random.default_rng(7)
    cases = random_cases(rng, 20, kinds=("CubaLIF", "LIF"), steps=80, p_in=0.3, recurrent=False)
    for integrator in ("euler", "exact"):
        _, want, got = _round_trip(sim, cases, reset="zero", integrator=integrator)
        assert _assert_same(cases, want, got) > 100


@pytest.mark.nest
def test_export_builds_the_same_nest_network_again():
    """to_pynn(from_pynn(to_pynn(g))) has the cell parameters and weights of to_pynn(g)."""
    sim = require("nest")
    rng = np.random.default_rng(5)
    cases = random_cases(rng, 10, kinds=("LIF", "IF"))
    graph = merge([c.graph for c in cases])

    def snapshot(g):
        with to_pynn(g, sim, dt=DT, reset="zero") as net:
            cells = {
                n: {k: np.asarray(p.get(k, simplify=False)) for k in ("tau_m", "V_th", "V_reset")}
                for n, p in net.populations.items()
                if n.endswith(tuple(f"n{i}" for i in range(3)))
            }
            weights = {
                label: np.nan_to_num(sum(p.get("weight", format="array") for p in made))
                for label, made in net.projections.items()
            }
            return cells, weights, net

    cells, weights, _ = snapshot(graph)
    with to_pynn(graph, sim, dt=DT, reset="zero") as net:
        back = from_pynn(net)
    cells2, weights2, _ = snapshot(back)
    assert cells.keys() == cells2.keys() and len(cells) > 12
    for name in cells:
        for k in cells[name]:
            np.testing.assert_allclose(cells2[name][k], cells[name][k], rtol=1e-12, err_msg=k)
    assert set(weights2) == set(weights)
    for label in weights:
        np.testing.assert_allclose(weights2[label], weights[label], rtol=1e-9, err_msg=label)


@pytest.mark.nest
def test_paper_lif_benchmark_round_trips_on_nest():
    sim = require("nest")
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    with to_pynn(graph, sim, dt=1e-4) as net:
        back = nirbridge.from_pynn(net)  # the package-level name is the same function
    assert nirbridge.graph.read_metadata(back).reset == "subtract"  # eprop_iaf
    out = nirbridge.simulate(back, {"input": stim}).outputs["output"][:, 0]
    np.testing.assert_array_equal(np.flatnonzero(out), [460, 510, 710, 760])


def _readout_graph(rng, readout):
    """Input -> Affine -> LIF -> Linear -> <readout> -> Output, with random parameters."""
    n_in, n, m = 6, 8, 3
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc": nir.Affine(weight=rng.normal(0.6, 0.5, (n, n_in)), bias=rng.uniform(0, 0.5, n)),
        "lif": nir.LIF(
            tau=rng.uniform(3e-3, 20e-3, n),
            r=rng.uniform(0.5, 2, n),
            v_leak=rng.uniform(-0.2, 0.2, n),
            v_threshold=rng.uniform(0.3, 1.0, n),
            v_reset=np.zeros(n),
        ),
        "ro": nir.Linear(weight=rng.normal(0, 1, (m, n))),
        "output": nir.Output(output_type={"output": np.array([m])}),
    }
    p = {"r": rng.uniform(0.5, 2, m)}
    if readout == "LI":
        nodes["li"] = nir.LI(tau=rng.uniform(3e-3, 20e-3, m), v_leak=rng.uniform(-0.2, 0.2, m), **p)
    elif readout == "I":
        nodes["li"] = nir.I(r=p["r"] / DT)
    else:
        nodes["li"] = nir.CubaLI(
            tau_syn=rng.uniform(2e-3, 8e-3, m),
            tau_mem=rng.uniform(3e-3, 20e-3, m),
            v_leak=rng.uniform(-0.2, 0.2, m),
            w_in=rng.uniform(0.5, 2, m),
            **p,
        )
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "ro"), ("ro", "li"), ("li", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@pytest.mark.nest
@pytest.mark.parametrize("readout", ["LI", "I", "CubaLI"])
def test_recorded_voltage_populations_come_back_as_readouts(readout):
    sim = require("nest")
    rng = np.random.default_rng({"LI": 1, "I": 2, "CubaLI": 3}[readout])
    graph = _readout_graph(rng, readout)
    x = (rng.random((60, 6)) < 0.3).astype(float)
    with to_pynn(graph, sim, dt=DT, reset="zero", integrator="exact") as net:
        back = from_pynn(net)
    assert type(back.nodes["li"]).__name__ == readout
    want = nirbridge.simulate(graph, {"input": x}, dt=DT, reset="zero", integrator="exact")
    got = nirbridge.simulate(back, {"input": x})
    assert np.ptp(want.outputs["output"]) > 0.1
    np.testing.assert_allclose(got.outputs["output"], want.outputs["output"], rtol=1e-9, atol=1e-12)


@pytest.mark.nest
def test_shaped_input_and_composed_convolution_round_trip():
    """Conv2d -> LIF -> SumPool2d -> Flatten -> Affine -> LIF: each chain comes back as one
    Linear/Affine; the Input keeps its shape (a Flatten follows it)."""
    sim = require("nest")
    rng = np.random.default_rng(4)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([2, 6, 6])}),
        "conv": nir.Conv2d(
            input_shape=(6, 6),
            weight=rng.normal(0.5, 0.5, (3, 2, 3, 3)),
            stride=1,
            padding=1,
            dilation=1,
            groups=1,
            bias=rng.uniform(0, 0.2, 3),
        ),
        "lif1": nir.LIF(
            tau=np.full((3, 6, 6), 5e-3),
            r=np.ones((3, 6, 6)),
            v_leak=np.zeros((3, 6, 6)),
            v_threshold=np.full((3, 6, 6), 0.6),
            v_reset=np.zeros((3, 6, 6)),
        ),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=0),
        "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=rng.normal(0.1, 0.3, (5, 27)), bias=rng.uniform(0, 0.1, 5)),
        "lif2": nir.LIF(
            tau=rng.uniform(3e-3, 9e-3, 5),
            r=np.ones(5),
            v_leak=np.zeros(5),
            v_threshold=np.full(5, 0.5),
            v_reset=np.zeros(5),
        ),
        "output": nir.Output(output_type={"output": np.array([5])}),
    }
    order = ["input", "conv", "lif1", "pool", "flat", "fc", "lif2", "output"]
    graph = nir.NIRGraph(
        nodes=nodes, edges=list(zip(order[:-1], order[1:], strict=True)), type_check=False
    )
    x = (rng.random((50, 2, 6, 6)) < 0.2).astype(float)
    with to_pynn(graph, sim, dt=DT, reset="zero") as net:
        back = from_pynn(net)
    kinds = sorted(type(n).__name__ for n in back.nodes.values())
    assert kinds == ["Affine", "Affine", "Flatten", "Input", "LIF", "LIF", "Output"]
    assert back.nodes["input"].output_type["output"].tolist() == [2, 6, 6]
    want = nirbridge.simulate(graph, {"input": x}, dt=DT, reset="zero").outputs["output"]
    got = nirbridge.simulate(back, {"input": x}).outputs["output"]
    assert want.sum() > 20
    np.testing.assert_array_equal(got, want)


@pytest.mark.nest
def test_plain_pynn_objects_export_like_the_network():
    """A list of PyNN populations and projections (no PyNNNetwork): labels name the nodes, the
    spike source labelled "bias" carries the biases, recorded populations get Outputs."""
    sim = require("nest")
    rng = np.random.default_rng(9)
    cases = random_cases(rng, 5, kinds=("LIF", "IF"))
    graph = merge([c.graph for c in cases])
    inputs = {f"g{k}_input": c.x for k, c in enumerate(cases)}
    with to_pynn(graph, sim, dt=DT, reset="zero", integrator="exact") as net:
        objects = [*net.populations.values()] + [
            p for made in net.projections.values() for p in made
        ]
        back = from_pynn(objects, dt=DT)  # integrator: "exact" by default
    want = nirbridge.simulate(graph, inputs, dt=DT, reset="zero", integrator="exact").outputs
    got = nirbridge.simulate(back, inputs).outputs
    last = {k: f"g{k}_n{len(c.net.layers) - 1}_output" for k, c in enumerate(cases)}
    assert set(got) == set(last.values())
    for k in range(len(cases)):
        np.testing.assert_array_equal(got[last[k]], want[f"g{k}_output"])


@pytest.mark.nest
def test_registry_target_exports_through_from_pynn():
    sim = require("nest")
    graph = nirbridge.read(paper_file("01_lif", "lif_norse.nir"))
    with to_pynn(graph, sim, dt=1e-4) as net:
        back = nirbridge.to_nir(net, dt=1e-4, target="pynn-nest")
        with pytest.raises(nirbridge.UnsupportedError, match="runs on nest"):
            nirbridge.to_nir(net, dt=1e-4, target="pynn-brian2")
    assert nirbridge.graph.read_metadata(back).dt == 1e-4


@pytest.mark.nest
def test_forward_and_recurrent_bias_of_one_population():
    sim = require("nest")
    rng = np.random.default_rng(1)
    cases = [c for c in random_cases(rng, 40, kinds=("LIF", "IF")) if _both_biases(c)][:3]
    assert len(cases) == 3
    _, want, got = _round_trip(sim, cases, reset="zero", integrator="euler")
    _assert_same(cases, want, got)


@pytest.mark.brian2
@pytest.mark.parametrize("integrator", ["euler", "exact"])
def test_random_graphs_round_trip_on_brian2(integrator):
    """25 random LIF/IF and 15 CubaLIF/LIF graphs with recurrence (zero reset)."""
    sim = require("brian2")
    rng = np.random.default_rng({"euler": 31, "exact": 32}[integrator])
    for kinds, count, minimum in ((("LIF", "IF"), 25, 300), (("CubaLIF", "LIF"), 15, 100)):
        cases = random_cases(rng, count, kinds=kinds)
        _, want, got = _round_trip(sim, cases, reset="zero", integrator=integrator)
        assert _assert_same(cases, want, got) > minimum


@pytest.mark.neuron
def test_random_graphs_round_trip_on_neuron():
    """NEURON runs these graphs only approximately, but its tables invert exactly: 15 LIF/IF
    and 15 CubaLIF/LIF graphs (zero reset, euler) come back computing the original."""
    sim = require("neuron")
    rng = np.random.default_rng(41)
    for kinds in (("LIF", "IF"), ("CubaLIF", "LIF")):
        cases = random_cases(rng, 15, kinds=kinds)
        _, want, got = _round_trip(sim, cases, reset="zero", integrator="euler")
        assert _assert_same(cases, want, got) > 100


# -- (c) what cannot be exported --------------------------------------------------------------
@pytest.fixture
def nest_sim():
    sim = require("nest")
    sim.setup(timestep=1.0, min_delay=1.0, spike_precision="on_grid")
    yield sim
    sim.end()


def _delta(sim, label, size=2, **params):
    base = {"C_m": 1.0, "t_ref": 0.0, "I_e": 0.0, "E_L": 0.0, "V_reset": 0.0, "V_th": 1.0}
    return sim.Population(
        size, sim.native_cell_type("iaf_psc_delta")(**{**base, **params}), label=label
    )


def _source(sim, label="input", size=2):
    return sim.Population(size, sim.SpikeSourceArray(spike_times=[]), label=label)


def _connect(sim, pre, post, delay=1.0, weight=1e-3):
    return sim.Projection(
        pre,
        post,
        sim.AllToAllConnector(),
        sim.StaticSynapse(weight=weight, delay=delay),
        label=f"{pre.label}->{post.label}",
    )


@pytest.mark.nest
def test_hand_written_network_exports_and_errors_name_population_and_parameter(nest_sim):
    sim = nest_sim
    src, pop = _source(sim), _delta(sim, "pop", tau_m=10.0)
    pop.record("spikes")
    proj = _connect(sim, src, pop)
    graph = from_pynn([proj])  # dt: NEST's resolution, 1 ms; exact: tau = tau_m
    assert type(graph.nodes["pop"]).__name__ == "LIF"
    np.testing.assert_allclose(graph.nodes["pop"].tau, 10e-3, rtol=1e-12)
    np.testing.assert_allclose(graph.nodes["input->pop"].weight, 1.0 / (0.1 * np.exp(-0.1)))
    assert list(graph.nodes["pop_output"].output_type["output"]) == [2]

    heavy = _delta(sim, "heavy", C_m=250.0, tau_m=10.0)
    with pytest.raises(nirbridge.UnsupportedError, match="node 'heavy'.*'C_m' = 250"):
        from_pynn([_connect(sim, src, heavy)])
    late = _delta(sim, "late", tau_m=10.0)
    with pytest.raises(nirbridge.UnsupportedError, match="'input->late' has a delay of 3 steps"):
        from_pynn([_connect(sim, src, late, delay=3.0)])


@pytest.mark.nest
def test_unsupported_cell_types_and_mixed_resets_are_named(nest_sim):
    sim = nest_sim
    src = _source(sim)
    adex = sim.Population(2, sim.native_cell_type("aeif_cond_alpha")(), label="adex")
    with pytest.raises(nirbridge.UnsupportedError, match="node 'adex'.*aeif_cond_alpha has no"):
        from_pynn([_connect(sim, src, adex)])
    standard = sim.Population(2, sim.IF_curr_exp(), label="std")
    with pytest.raises(nirbridge.UnsupportedError, match="node 'std'.*IF_curr_exp has no"):
        from_pynn([_connect(sim, src, standard)])
    exp_cells = sim.native_cell_type("iaf_psc_exp")
    syn = sim.Population(
        2,
        exp_cells(C_m=1.0, t_ref=0.0, I_e=0.0, E_L=0.0, V_reset=0.0, V_th=1.0, tau_syn_ex=3.0),
        label="syn",
    )
    with pytest.raises(nirbridge.UnsupportedError, match="node 'syn'.*'tau_syn_(ex|in)'"):
        from_pynn([_connect(sim, src, syn)])
    zero = _delta(sim, "zero", tau_m=10.0)
    eprop = sim.Population(
        2,
        sim.native_cell_type("eprop_iaf")(C_m=1.0, t_ref=0.0, I_e=0.0, E_L=0.0, V_th=1.0),
        label="sub",
    )
    with pytest.raises(nirbridge.UnsupportedError, match="both reset modes"):
        from_pynn([_connect(sim, src, zero), _connect(sim, src, eprop)])
    part = _delta(sim, "part", tau_m=10.0)
    part[0:1].record("spikes")
    with pytest.raises(nirbridge.UnsupportedError, match="node 'part'.*1 of its 2 cells"):
        from_pynn([_connect(sim, src, part)])


@pytest.mark.nest
def test_approximated_recurrence_is_refused():
    """Braille on NEST needs approximate=True (the CubaLIF recurrence a step late): no NIR graph
    without Delay nodes computes that network."""
    sim = require("nest")
    graph = nirbridge.read(paper_file("03_rnn", "braille_noDelay_bias_zero.nir"))
    with (
        to_pynn(graph, sim, dt=1e-4, reset="zero", approximate=True) as net,
        pytest.raises(nirbridge.UnsupportedError, match="node 'lif1.lif'.*back edge"),
    ):
        from_pynn(net)
