"""The ``nirbridge`` command: simulate and inspect, through main() and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nirbridge.cli.main import main
from tests.conftest import paper_file


@pytest.fixture
def lif_input(tmp_path: Path) -> Path:
    stim = np.loadtxt(paper_file("01_lif", "lif_exact.csv"), delimiter=",")[:, :1]
    path = tmp_path / "in.npz"
    np.savez(path, input=stim)
    return path


def test_simulate_writes_the_output_contract_and_plot(tmp_path, lif_input, capsys):
    out = tmp_path / "out.npz"
    png = tmp_path / "raster.png"
    code = main(
        [
            "simulate",
            str(paper_file("01_lif", "lif_norse.nir")),
            "--dt",
            "1e-4",
            "--input",
            str(lif_input),
            "--output",
            str(out),
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    with np.load(out) as data:
        assert data.files == ["output"]
        spikes = data["output"]
    assert spikes.shape == (1000, 1) and spikes.dtype == np.uint8
    np.testing.assert_array_equal(np.flatnonzero(spikes[:, 0]), [460, 510, 710, 760])
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert "4 spikes" in capsys.readouterr().out


def test_simulate_steps_pads_and_integrator_option(tmp_path, lif_input):
    out = tmp_path / "out.npz"
    assert (
        main(
            [
                "simulate",
                str(paper_file("01_lif", "lif_norse.nir")),
                "--dt",
                "1e-4",
                "--input",
                str(lif_input),
                "--steps",
                "1200",
                "--integrator",
                "exact",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    with np.load(out) as data:
        assert data["output"].shape == (1200, 1)


def test_missing_dt_is_a_clear_error_and_writes_nothing(tmp_path, lif_input, capsys):
    out = tmp_path / "out.npz"
    code = main(
        [
            "simulate",
            str(paper_file("01_lif", "lif_norse.nir")),
            "--input",
            str(lif_input),
            "--output",
            str(out),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--dt" in err and "time step" in err
    assert not out.exists()


def test_wrong_input_name_and_shape(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, stimulus=np.zeros((10, 1)))
    args = [
        "simulate",
        str(paper_file("01_lif", "lif_norse.nir")),
        "--dt",
        "1e-4",
        "--output",
        str(tmp_path / "o.npz"),
        "--input",
        str(bad),
    ]
    assert main(args) == 2
    assert "stimulus" in capsys.readouterr().err
    np.savez(bad, input=np.zeros((10, 3)))
    assert main(args) == 2
    assert "(1,)" in capsys.readouterr().err


def test_existing_output_survives_a_failed_run(tmp_path, capsys):
    out = tmp_path / "out.npz"
    np.savez(out, keep=np.arange(3))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert (
        main(
            [
                "simulate",
                str(paper_file("01_lif", "lif_norse.nir")),
                "--dt",
                "1e-4",
                "--input",
                str(bad),
                "--output",
                str(out),
            ]
        )
        == 2
    )
    with np.load(out) as data:
        np.testing.assert_array_equal(data["keep"], np.arange(3))


def test_inspect_json_shows_version_reset_back_edges(capsys):
    path = paper_file("03_rnn", "braille_noDelay_noBias_subtract.nir")
    assert main(["inspect", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["nir_version"] == "0.2.0"
    assert info["reset"] == "subtract"
    back = [(e["source"], e["target"]) for e in info["edges"] if e["back_edge"]]
    assert back == [("lif1.w_rec", "lif1.lif")]
    types = {n["name"]: n["type"] for n in info["nodes"]}
    assert types["lif1.lif"] == "CubaLIF"
    shapes = {n["name"]: n["shape"] for n in info["nodes"]}
    assert shapes["lif1.lif"] == [40] and shapes["output"] == [7]
    assert info["learning_rule"] is None


def test_inspect_text(capsys):
    assert main(["inspect", str(paper_file("02_cnn", "cnn_sinabs.nir"))]) == 0
    text = capsys.readouterr().out
    assert "Conv2d" in text and "16x16x16" in text and "reset mode    subtract" in text


def test_inspect_non_nir_file_fails_cleanly(tmp_path, capsys):
    junk = tmp_path / "junk.nir"
    junk.write_text("hello")
    assert main(["inspect", str(junk)]) == 2
    assert "HDF5" in capsys.readouterr().err


def test_console_scripts_run_with_help():
    for cmd in (
        ["nirbridge", "--help"],
        ["nirbridge", "simulate", "--help"],
        ["nirbridge", "inspect", "--help"],
        ["nir2pynn", "--help"],
    ):
        exe = Path(sys.executable).parent / cmd[0]
        proc = subprocess.run([str(exe), *cmd[1:]], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "usage:" in proc.stdout
    sim_help = subprocess.run(
        [str(Path(sys.executable).parent / "nirbridge"), "simulate", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "IN.npz" in sim_help and "--integrator" in sim_help


def test_nir2pynn_missing_model_is_a_clear_error():
    exe = Path(sys.executable).parent / "nir2pynn"
    proc = subprocess.run([str(exe), "model.nir"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "model.nir: no such file" in proc.stderr


def test_one_rule_says_which_outputs_carry_spikes(tmp_path, capsys):
    """``nirbridge simulate`` and ``nir2pynn`` share ``spiking_outputs`` and the summary: an
    Output fed by a spiking neuron holds 0/1 bytes, one fed by an LI neuron or an Input values."""
    import nir

    from nirbridge.cli._outputs import spiking_outputs

    n = 3
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n])}),
            "lif": nir.LIF(
                tau=np.full(n, 2e-3),
                r=np.ones(n),
                v_leak=np.zeros(n),
                v_threshold=np.full(n, 0.3),
                v_reset=np.zeros(n),
            ),
            "li": nir.LI(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n)),
            "spikes": nir.Output(output_type={"output": np.array([n])}),
            "voltage": nir.Output(output_type={"output": np.array([n])}),
            "echo": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[
            ("input", "lif"),
            ("lif", "spikes"),
            ("lif", "li"),
            ("li", "voltage"),
            ("input", "echo"),
        ],
        type_check=False,
    )
    assert spiking_outputs(graph) == {"spikes": True, "voltage": False, "echo": False}
    import nirbridge

    model = tmp_path / "g.nir"
    nirbridge.write(model, graph)
    np.savez(tmp_path / "in.npz", input=np.eye(20, n))
    out = tmp_path / "out.npz"
    args = ["simulate", str(model), "--dt", "1e-3", "--input", str(tmp_path / "in.npz")]
    assert main([*args, "--output", str(out), "--reset", "zero"]) == 0
    text = capsys.readouterr().out
    assert "spikes: 3 spikes, shape (20, 3)" in text and "voltage: range [" in text
    with np.load(out) as data:
        assert data["spikes"].dtype == np.uint8 and data["voltage"].dtype == np.float64
        assert data["echo"].dtype == np.float64
