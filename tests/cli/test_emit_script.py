"""``nir2pynn --emit-script``: the standalone PyNN script runs without nirbridge and gives
nir2pynn's outputs, and the reference's, spike for spike."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nir
import numpy as np
import pytest

import nirbridge
from nirbridge.cli.nir2pynn import main
from tests.conftest import paper_file, require
from tests.converters._pynn_graphs import merge, random_cases

DT = 1e-3


def _bare_env() -> dict[str, str]:
    """The venv's packages without nirbridge: ``python -S`` skips site-packages' .pth files
    (nirbridge's editable install is one), and PYTHONPATH names site-packages itself."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run_script(script: Path, out: Path) -> dict[str, np.ndarray]:
    proc = subprocess.run(
        [sys.executable, "-S", str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_bare_env(),
        cwd=script.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def test_the_script_environment_cannot_import_nirbridge(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-S", "-c", "import numpy, pyNN; import nirbridge"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_bare_env(),
        cwd=tmp_path,
    )
    assert proc.returncode != 0 and "No module named 'nirbridge'" in proc.stderr


def _emit(tmp_path, model, inputs, *extra):
    """nir2pynn with --emit-script and --output: (script, nir2pynn's outputs)."""
    np.savez(tmp_path / "in.npz", **inputs)
    script, out = tmp_path / "net.py", tmp_path / "nir2pynn.npz"
    args = [str(model), "--input", str(tmp_path / "in.npz"), "--emit-script", str(script)]
    assert main([*args, "--output", str(out), *extra]) == 0
    assert (tmp_path / "net.npz").exists()
    text = script.read_text()
    assert "nirbridge" not in text.replace("by nir2pynn (nirbridge)", "").replace(
        "nirbridge's", ""
    ).replace("not nirbridge", "")
    with np.load(out) as data:
        return script, {k: data[k] for k in data.files}


@pytest.mark.nest
def test_paper_lif_script_gives_the_papers_spikes(tmp_path):
    require("nest")
    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    model = paper_file("01_lif", "lif_norse.nir")
    script, ours = _emit(tmp_path, model, {"input": stim}, "--dt", "1e-4")
    text = script.read_text()
    assert "eprop_iaf" in text and "depth(1) 1 - depth(input) 0" in text  # commented blocks
    theirs = _run_script(script, tmp_path / "script.npz")
    assert theirs.keys() == ours.keys() == {"output"}
    assert theirs["output"].dtype == ours["output"].dtype == np.uint8
    np.testing.assert_array_equal(theirs["output"], ours["output"])
    np.testing.assert_array_equal(np.flatnonzero(theirs["output"][:, 0]), [460, 510, 710, 760])


def _random_model(tmp_path, rng, kinds, count, **kw):
    cases = random_cases(rng, count, kinds=kinds, **kw)
    graph = merge([c.graph for c in cases])
    model = tmp_path / "random.nir"
    nirbridge.write(model, graph)
    inputs = {f"g{k}_input": c.x for k, c in enumerate(cases)}
    return graph, model, inputs


def _reference(graph, inputs, reset, integrator):
    return nirbridge.simulate(graph, inputs, dt=DT, reset=reset, integrator=integrator).outputs


@pytest.mark.nest
@pytest.mark.parametrize("reset,integrator", [("subtract", "euler"), ("zero", "exact")])
def test_random_graphs_script_on_nest(tmp_path, reset, integrator):
    """12 random LIF/IF graphs side by side (recurrence, biases, leaks): script = nir2pynn =
    reference."""
    require("nest")
    rng = np.random.default_rng({"subtract": 1, "zero": 2}[reset])
    graph, model, inputs = _random_model(tmp_path, rng, ("LIF", "IF"), 12)
    extra = ["--dt", str(DT), "--reset", reset, "--integrator", integrator]
    script, ours = _emit(tmp_path, model, inputs, *extra)
    theirs = _run_script(script, tmp_path / "script.npz")
    want = _reference(graph, inputs, reset, integrator)
    assert set(theirs) == set(want)
    for name in want:
        np.testing.assert_array_equal(theirs[name], ours[name], err_msg=name)
        np.testing.assert_array_equal(theirs[name], want[name], err_msg=name)
    assert sum(int(w.sum()) for w in want.values()) > 100
    assert "back edge" in script.read_text()


@pytest.mark.brian2
@pytest.mark.parametrize("reset", ["subtract", pytest.param("zero", marks=pytest.mark.slow)])
def test_random_graphs_script_on_brian2(tmp_path, reset):
    """Brian2's own functions (schedule, refractoriness, vectorised synapses, subtracting cell
    types) travel with the script."""
    require("brian2")
    rng = np.random.default_rng({"zero": 3, "subtract": 4}[reset])
    graph, model, inputs = _random_model(tmp_path, rng, ("LIF", "IF", "CubaLIF"), 6)
    extra = ["--dt", str(DT), "--reset", reset, "--simulator", "brian2"]
    script, ours = _emit(tmp_path, model, inputs, *extra)
    assert "_brian2_connect" in script.read_text()
    theirs = _run_script(script, tmp_path / "script.npz")
    want = _reference(graph, inputs, reset, "euler")
    for name in want:
        np.testing.assert_array_equal(theirs[name], ours[name], err_msg=name)
        np.testing.assert_array_equal(theirs[name], want[name], err_msg=name)
    assert sum(int(w.sum()) for w in want.values()) > 50


@pytest.mark.neuron
def test_random_graphs_script_on_neuron(tmp_path):
    """NEURON only approximates the reference (docs/pynn.md): the script gives nir2pynn's
    outputs, NetCon delays below PyNN's minimum included."""
    require("neuron")
    rng = np.random.default_rng(6)
    _, model, inputs = _random_model(tmp_path, rng, ("LIF", "IF"), 6)
    extra = ["--dt", str(DT), "--reset", "zero", "--simulator", "neuron"]
    script, ours = _emit(tmp_path, model, inputs, *extra)
    assert "_neuron_projection" in script.read_text()
    theirs = _run_script(script, tmp_path / "script.npz")
    assert sum(int(o.sum()) for o in ours.values()) > 50
    for name in ours:
        np.testing.assert_array_equal(theirs[name], ours[name], err_msg=name)


@pytest.mark.nest
def test_voltage_output_script_on_nest(tmp_path):
    """A CubaLI readout (exponential synapse, synaptic lag 1) whose voltage is the output."""
    require("nest")
    rng = np.random.default_rng(5)
    n_in, n, m = 5, 7, 3
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc": nir.Affine(weight=rng.normal(0.8, 0.5, (n, n_in)), bias=rng.uniform(0, 0.3, n)),
        "lif": nir.LIF(
            tau=rng.uniform(3e-3, 9e-3, n),
            r=np.ones(n),
            v_leak=np.zeros(n),
            v_threshold=np.full(n, 0.4),
            v_reset=np.zeros(n),
        ),
        "ro": nir.Linear(weight=rng.normal(0, 1, (m, n))),
        "li": nir.CubaLI(
            tau_syn=np.full(m, 4e-3),
            tau_mem=rng.uniform(5e-3, 9e-3, m),
            r=np.ones(m),
            v_leak=rng.uniform(-0.1, 0.1, m),
        ),
        "output": nir.Output(output_type={"output": np.array([m])}),
    }
    order = ["input", "fc", "lif", "ro", "li", "output"]
    graph = nir.NIRGraph(
        nodes=nodes, edges=list(zip(order[:-1], order[1:], strict=True)), type_check=False
    )
    model = tmp_path / "readout.nir"
    nirbridge.write(model, graph)
    x = (rng.random((50, n_in)) < 0.3).astype(float)
    extra = ["--dt", str(DT), "--reset", "zero", "--integrator", "exact"]
    script, ours = _emit(tmp_path, model, {"input": x}, *extra)
    theirs = _run_script(script, tmp_path / "script.npz")
    want = _reference(graph, {"input": x}, "zero", "exact")["output"]
    assert theirs["output"].dtype == np.float64 and np.ptp(want) > 0.05
    # the weights come back through PyNN's unit conversion (nA <-> pA): equal to the last bit
    # or two, not bit for bit
    np.testing.assert_allclose(theirs["output"], ours["output"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(theirs["output"], want, rtol=1e-9, atol=1e-12)


@pytest.mark.nest
def test_emit_only_runs_nothing_and_refuses_analog_inputs(tmp_path, capsys):
    require("nest")
    model = str(paper_file("01_lif", "lif_norse.nir"))
    np.savez(tmp_path / "in.npz", input=np.full((20, 1), 0.5))
    args = [model, "--dt", "1e-4", "--input", str(tmp_path / "in.npz")]
    assert main([*args, "--emit-script", str(tmp_path / "a.py")]) == 2
    assert "input" in capsys.readouterr().err and not (tmp_path / "a.py").exists()
    np.savez(tmp_path / "in.npz", input=np.eye(20, 1))
    clash = ["--emit-script", str(tmp_path / "c.py"), "--output", str(tmp_path / "c.npz")]
    assert main([*args, *clash]) == 2
    assert "arrays" in capsys.readouterr().err and not (tmp_path / "c.py").exists()
    assert main([*args, "--emit-script", str(tmp_path / "b.py")]) == 0
    out = capsys.readouterr().out
    assert "b.py" in out and "ran " not in out  # written, not run
    assert (tmp_path / "b.py").exists() and (tmp_path / "b.npz").exists()


def test_help_names_emit_script():
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "nir2pynn"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "--emit-script" in proc.stdout and "OUT.npz" in proc.stdout
    import nirbridge.cli.nir2pynn as module

    assert "--emit-script" in module.__doc__
