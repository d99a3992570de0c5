"""``nirbridge rule validate`` and the learning rule in ``nirbridge inspect``."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

import nirbridge
import nirbridge.learning as nl
from nirbridge.cli.main import main

from ._graphs import examples, network


def write(path, rule=None, *, check=True):
    graph = network()
    if rule is not None:
        nl.attach(graph, rule, check=check)
    nirbridge.write(path, graph)
    return path


@pytest.mark.parametrize("kind", list(nl.RULE_TYPES))
def test_rule_validate_prints_one_line_and_exits_0(kind, tmp_path, capsys):
    path = write(tmp_path / "net.nir", examples()[kind])
    assert main(["rule", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith(f"{path}: valid {kind} (schema 1): ")


def test_rule_validate_summary_names_the_key_fields(tmp_path, capsys):
    path = write(tmp_path / "net.nir", examples()["eprop"])
    assert main(["rule", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    for part in ("online e-prop", "ALIF", "random feedback B 8x2", "adam", "3 plastic edges"):
        assert part in out


def test_rule_validate_without_a_rule_exits_2(tmp_path, capsys):
    path = write(tmp_path / "plain.nir")
    assert main(["rule", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no learning rule" in err and err.startswith("nirbridge rule: error:")


def test_rule_validate_reports_a_rule_that_does_not_fit(tmp_path, capsys):
    bad = dataclasses.replace(examples()["eprop"], B=np.zeros((8, 3)))
    path = write(tmp_path / "bad.nir", bad, check=False)
    assert main(["rule", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "learning rule 'eprop', field 'B': wrong shape: expected (8, 2)" in err


def test_rule_validate_reports_a_newer_schema(tmp_path, capsys):
    path = write(tmp_path / "new.nir", examples()["stdp"])
    with h5py.File(path, "r+") as f:
        group = f["node/metadata/nirbridge/learning_rule"]
        del group["schema"]
        group["schema"] = 5
    assert main(["rule", "validate", str(path)]) == 2
    assert "upgrade nirbridge" in capsys.readouterr().err


def test_rule_validate_on_a_missing_file(tmp_path, capsys):
    assert main(["rule", "validate", str(tmp_path / "none.nir")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_inspect_shows_the_rule_readably(tmp_path, capsys):
    path = write(tmp_path / "net.nir", examples()["eprop"])
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  learning rule eprop (schema 1): online e-prop" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith(" " * 16)}
    assert "array 8x2" in lines["B"]
    assert "[input->w_in, lif->w_rec, lif->w_out]" in lines["scope"]
    assert "adam(learning_rate=0.005" in lines["optimizer"]


def test_inspect_json_has_the_rule_as_json(tmp_path, capsys):
    rule = examples()["local"]
    path = write(tmp_path / "net.nir", rule)
    assert main(["inspect", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["learning_rule"] == rule.to_json()
    assert info["learning_rule_summary"].startswith("local (schema 1): dw = 2^-2*x1*y0")
    assert info["learning_rule_details"]["t_epoch"] == "2"
    assert nl.rule_from_dict(info["learning_rule"]) == rule


def test_inspect_lists_a_bad_rule_as_a_problem(tmp_path, capsys):
    bad = dataclasses.replace(examples()["eprop"], B=np.zeros((8, 3)))
    path = write(tmp_path / "bad.nir", bad, check=False)
    assert main(["inspect", str(path)]) == 1
    out = capsys.readouterr().out
    assert "learning rule unreadable" in out
    assert "- learning rule: learning rule 'eprop', field 'B'" in out


def test_inspect_without_a_rule(tmp_path, capsys):
    assert main(["inspect", str(write(tmp_path / "plain.nir"))]) == 0
    assert "learning rule none" in capsys.readouterr().out


def test_rule_validate_as_a_command(tmp_path):
    path = write(tmp_path / "net.nir", examples()["eventprop"])
    proc = subprocess.run(
        [sys.executable, "-m", "nirbridge.cli.main", "rule", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "valid eventprop" in proc.stdout
    helped = subprocess.run(
        [sys.executable, "-m", "nirbridge.cli.main", "rule", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert helped.returncode == 0 and "validate" in helped.stdout
