"""NIR -> sPyNNaker on a virtual board: mapping and fit (nothing runs: there is no board).

What can be checked without a board:
- the mapping itself, by sPyNNaker: the Braille graph maps and every neuron of every population
  is placed once; a population's core count is what sPyNNaker's 256 neurons per core give; a
  network larger than a SpiNN-3 board is reported as not fitting, with sPyNNaker's message;
- the SpiNNaker cell tables against the reference: the update sPyNNaker's C sources compute
  (LIF closed form, delta and exponential synapses, ``v >= v_thresh``, reset to ``v_reset``) is
  written out here in float and driven with the tables' native parameters and weights; it must
  give the reference's spikes on random LIF and CubaLIF networks (euler);
- the fixed-point design rules against their analytic values, and sPyNNaker's own weight scales
  against the best-case bound the rules assume;
- that the user's home and working directory stay untouched.
"""

from __future__ import annotations

import logging
import os

import nir
import numpy as np
import pytest

import nirbridge
from nirbridge.converters import registry
from nirbridge.converters.pynn import plan_network, to_pynn
from nirbridge.converters.pynn._cells import Ctx, cell_map
from nirbridge.converters.pynn._network import _nir_params
from nirbridge.converters.pynn._spinnaker import map_on_spinnaker
from nirbridge.converters.pynn._spinnaker_rules import (
    S1615_STEP,
    spinnaker_rules,
    weight_step,
)
from nirbridge.converters.pynn._standard_cells import SPINNAKER_CELL_MAPS
from tests.conftest import paper_file, require
from tests.reference._nets import random_net, random_spikes, to_nir

pytestmark = pytest.mark.spinnaker

BRAILLE = ("03_rnn", "braille_noDelay_bias_zero.nir")
#: sPyNNaker's default neurons per core for its standard cells.
NEURONS_PER_CORE = 256


@pytest.fixture(scope="module")
def sim():
    return require("spinnaker")


def _lif_graph(n: int, n_in: int = 1, *, tau: float = 0.02, threshold: float = 1.0, w=None):
    w = np.full((n, n_in), 0.5) if w is None else w
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([n_in])),
            "fc": nir.Linear(w),
            "lif": nir.LIF(
                tau=np.full(n, tau),
                r=np.ones(n),
                v_leak=np.zeros(n),
                v_threshold=np.full(n, threshold),
                v_reset=np.zeros(n),
            ),
            "output": nir.Output(np.array([n])),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )


# -- mapping, by sPyNNaker ---------------------------------------------------------------------
def test_braille_maps_on_one_board_and_places_every_neuron(sim):
    graph = nirbridge.read(paper_file(*BRAILLE))
    report = map_on_spinnaker(graph, dt=1e-4, reset="zero", steps=256, sim=sim)
    assert report.fits and report.failure is None
    sizes = {"input": 12, "lif1.lif": 38, "lif2": 7, "bias": 1}  # from the graph's shapes
    assert set(report.placements) == set(sizes)
    for label, cores in report.placements.items():
        atoms = sorted(a for _, _, _, lo, hi in cores for a in range(lo, hi + 1))
        assert atoms == list(range(sizes[label])), label
    assert report.cores == 4 and report.chips == 1
    assert report.system_cores > 0 and report.board_cores > report.cores
    # sPyNNaker's ring-buffer shifts never give a finer weight step than the best-case bound
    plan = plan_network(graph)
    for name, steps in report.weight_steps.items():
        pop = plan.populations[name]
        params = _nir_params(pop)
        cells = cell_map(pop.kind, "zero", name, SPINNAKER_CELL_MAPS, "spinnaker")
        gain = cells.gain(params, Ctx(1e-4, 1.0, "euler", name))
        w = np.concatenate(
            [
                (p.weights.multiply(gain[:, None])).tocsr().data
                for p in plan.projections
                if p.target == name
            ]
        )
        assert steps["excitatory"] >= weight_step(w[w > 0].max())
        assert steps["inhibitory"] >= weight_step(-w[w < 0].min())
    assert 0 < report.weight_error < 1e-2


def test_cores_follow_neurons_per_core_and_misfits_are_reported(sim):
    n = 600
    report = map_on_spinnaker(_lif_graph(n), dt=1e-3, reset="zero", steps=50, sim=sim)
    assert report.fits
    assert len(report.placements["lif"]) == -(-n // NEURONS_PER_CORE)
    big = 70 * NEURONS_PER_CORE  # more than a SpiNN-3 board's 68 application cores
    report = map_on_spinnaker(_lif_graph(big), dt=1e-3, reset="zero", steps=50, board=3, sim=sim)
    assert not report.fits and report.cores == 0
    assert "Place" in report.failure
    assert any(i.rule == "spinnaker.fit" for i in report.issues)


def test_home_and_working_directory_stay_untouched(sim, tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    handler = logging.StreamHandler()
    logging.root.addHandler(handler)
    graph = _lif_graph(3)
    with to_pynn(graph, sim, dt=1e-3, reset="zero") as net:
        directory = net._workspace.directory
        assert directory.is_dir() and (directory / ".spynnaker.cfg").is_file()
        assert os.environ["HOME"] == str(home)
        with pytest.raises(nirbridge.UnsupportedError, match="map_on_spinnaker"):
            net.run({"input": np.zeros((5, 1))})
    assert not directory.exists()
    assert map_on_spinnaker(graph, dt=1e-3, reset="zero", steps=10, sim=sim).fits
    assert list(home.iterdir()) == [] and list(work.iterdir()) == []
    assert os.getcwd() == str(work)
    logging.root.removeHandler(handler)
    assert handler.filters == [] and handler.formatter is None  # the caller's logging as it was


def test_constructs_without_a_spinnaker_form_are_named(sim):
    graph = nirbridge.read(paper_file("03_rnn", "braille_noDelay_noBias_subtract.nir"))
    with pytest.raises(nirbridge.UnsupportedError, match="lif1.lif.*subtract"):
        map_on_spinnaker(graph, dt=1e-4, sim=sim)
    with pytest.raises(nirbridge.UnsupportedError, match="lif1.lif.*exact"):
        map_on_spinnaker(graph, dt=1e-4, reset="zero", integrator="exact", sim=sim)
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([2])),
            "fc": nir.Linear(np.ones((2, 2))),
            "acc": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
            "output": nir.Output(np.array([2])),
        },
        edges=[("input", "fc"), ("fc", "acc"), ("acc", "output")],
    )
    with pytest.raises(nirbridge.UnsupportedError, match="node 'acc'.*leak"):
        to_pynn(g, sim, dt=1e-3, reset="zero")


def test_registry_entry_checks_and_maps(sim):
    converter = registry.get("pynn-spinnaker")
    zero = nirbridge.read(paper_file(*BRAILLE))
    issues = converter.check(zero, dt=1e-4, reset="zero")
    assert not [i for i in issues if i.severity == "error"]
    subtract = nirbridge.read(paper_file("03_rnn", "braille_noDelay_noBias_subtract.nir"))
    assert [i.node for i in converter.check(subtract, dt=1e-4)] == ["lif1.lif"]
    assert converter.from_nir(zero, dt=1e-4, reset="zero", steps=20, sim=sim).fits


def test_nir2pynn_map_only(sim, capsys):
    from nirbridge.cli.nir2pynn import main

    code = main(
        [str(paper_file(*BRAILLE)), "--dt", "1e-4", "--reset", "zero", "--simulator", "spinnaker"]
    )
    assert code == 0
    assert "4 cores" in capsys.readouterr().out
    # SpiNNaker's standard cells cannot subtract (the LIF file's own reset): exit code 2
    args = [str(paper_file("01_lif", "lif_norse.nir")), "--dt", "1e-4", "--steps", "10"]
    assert main([*args, "--simulator", "spinnaker"]) == 2
    assert main([*args, "--simulator", "spinnaker", "--reset", "zero"]) == 0


# -- the SpiNNaker tables against the reference (sPyNNaker's update written out) ------------------
def _emulate(plan, x: np.ndarray, dt: float) -> dict[str, np.ndarray]:
    """Feed-forward plans: sPyNNaker's per-step update (neuron_impl_standard.h,
    neuron_model_lif_impl.h, exponential shaping), in float, with the tables' native values;
    spikes per population in reference steps (synaptic delays are the mapping's business)."""
    spikes = {"input": x}
    steps = x.shape[0]
    for pop in sorted(plan.populations.values(), key=lambda p: p.depth):
        if pop.kind == "Input":
            continue
        cells = cell_map(pop.kind, "zero", pop.name, SPINNAKER_CELL_MAPS, "spinnaker")
        params = _nir_params(pop)
        ctx = Ctx(dt, 1.0, "euler", pop.name)
        nat = cells.native_parameters(params, ctx)
        gain = cells.gain(params, ctx)
        drive = cells.drive(params, ctx) if cells.drive is not None else 0.0
        d = np.exp(-1.0 / nat["tau_m"])
        resistance = nat["tau_m"] / nat["cm"]
        exp = "tau_syn_E" in nat
        if exp:
            d_s = np.exp(-1.0 / nat["tau_syn_E"])
            init = nat["tau_syn_E"] * (1.0 - d_s)
        v = np.zeros(pop.size)
        i_syn = np.zeros(pop.size)
        out = np.zeros((steps, pop.size))
        for t in range(steps):
            ring = pop.bias * gain + drive  # the bias source's weights, every step
            for proj in plan.projections:
                if proj.target == pop.name:
                    ring = ring + gain * (proj.weights @ spikes[proj.source][t])
            if exp:
                i_syn = i_syn + init * ring
                current = i_syn
            else:
                current = ring
            alpha = current * resistance + nat["v_rest"]
            v = alpha - d * (alpha - v)
            fired = v >= nat["v_thresh"]
            out[t] = fired
            v = np.where(fired, nat["v_reset"], v)
            if exp:
                i_syn = d_s * i_syn
        spikes[pop.name] = out
    return spikes


@pytest.mark.parametrize("kinds", [("LIF",), ("CubaLIF", "LIF")])
def test_tables_reproduce_the_reference_through_spinnakers_update(kinds):
    rng = np.random.default_rng(len(kinds))
    compared = spikes = 0
    while compared < 40:
        dt = 1e-3
        net = random_net(
            rng,
            dt=dt,
            p_in=0.2,
            v_leak=bool(rng.random() < 0.6),
            v_reset=bool(rng.random() < 0.6),
            bound_input=False,
            kinds=kinds,
        )
        if net.w_fb is not None or any(layer.w_rec is not None for layer in net.layers):
            continue
        graph = to_nir(net)
        x = random_spikes(rng, 60, 1, net.n_in, 0.2)[:, 0]
        ref = nirbridge.simulate(graph, {"input": x}, dt=dt, reset="zero").outputs["output"]
        plan = plan_network(graph)
        out = _emulate(plan, x, dt)[plan.outputs["output"].source]
        np.testing.assert_array_equal(out, ref, err_msg=net.describe())
        compared += 1
        spikes += int(ref.sum())
    assert spikes > 200


# -- fixed-point rules against their analytic values ---------------------------------------------
def _rules(graph, dt=1e-3):
    return spinnaker_rules(plan_network(graph), dt=dt, reset="zero")


def test_decay_resolution_rule_measures_the_rounded_leak():
    dt = 1e-3
    assert not [i for i in _rules(_lif_graph(2, tau=10 * dt)) if "decay" in (i.rule or "")]
    tau = 3000 * dt  # leak 1/3000 per step: the s16.15 decay step is ~10% of it
    (issue,) = [i for i in _rules(_lif_graph(2, tau=tau)) if i.rule == "spinnaker.decay_resolution"]
    decay = 1 - dt / tau
    expected = abs((1 - np.round(decay / S1615_STEP) * S1615_STEP) - dt / tau) / (dt / tau)
    assert issue.node == "lif" and f"{expected:.3g}" in issue.message


def test_range_voltage_and_weight_rules():
    big = _rules(_lif_graph(2, threshold=1e5))
    assert [(i.severity, i.parameter) for i in big if i.rule == "spinnaker.s1615_range"] == [
        ("error", "v_thresh")
    ]
    tiny = _rules(_lif_graph(2, threshold=1e-2))
    assert any(i.rule == "spinnaker.voltage_resolution" for i in tiny)
    # weights spanning 2**20: the smallest encode as zero in 16 bits
    w = np.array([[1.0], [2.0**-20]])
    (issue,) = [i for i in _rules(_lif_graph(2, w=w)) if i.rule == "spinnaker.weight_resolution"]
    assert "1 of 2 encode as zero" in issue.message
    assert not [i for i in _rules(_lif_graph(2)) if i.severity == "error"]
    step = weight_step(1.0)  # 1.0 needs p = 1: 2**(1 + 1 - 16)
    assert step == 2.0**-14
    assert weight_step(0.75) == 2.0**-15 and weight_step(3.0) == 2.0**-13


def test_timestep_rule():
    plan = plan_network(_lif_graph(2))
    issues = spinnaker_rules(plan, dt=1e-3, reset="zero", h=0.1)
    assert [i.rule for i in issues if i.severity == "error"] == ["spinnaker.timestep"]
