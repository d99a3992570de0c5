"""docs/learning.md: its Python examples run, one per rule type."""

from __future__ import annotations

import re

import nirbridge.learning as nl
from tests.conftest import REPO

DOC = REPO / "docs" / "learning.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_examples_in_the_docs_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_learning"}
    blocks = python_blocks()
    assert len(blocks) >= 6
    for i, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name}[python block {i}]", "exec"), namespace)
    assert (tmp_path / "trained.nir").exists()
    out = capsys.readouterr().out
    assert "field 'learning_rate'" in out and "field 'alpha'" in out


def test_the_docs_have_an_example_of_each_rule_type():
    code = "\n".join(python_blocks())
    for cls in nl.RULE_TYPES.values():
        assert f"nl.{cls.__name__}(" in code, cls.__name__


def test_the_comparison_covers_the_names_it_promises():
    text = DOC.read_text()
    for name in (
        "STDPMechanism", "SpikePairRule", "tau_plus", "A_minus", "AdditiveWeightDependence",
        "MultiplicativeWeightDependence", "GutigWeightDependence", "mu_plus",
        "Loihi2FLearningRule", "x1_impulse", "x1_tau", "y1_tau", "t_epoch",
        "eprop_iaf", "eprop_iaf_bsshslm_2020", "eprop_readout", "eprop_synapse",
        "surrogate_gradient_function", "c_reg", "f_target", "kappa", "eta", "batch_size",
        "beta_1", "beta_2", "epsilon", "eprop_learning_window", "eprop_update_interval",
    ):  # fmt: skip
        assert f"`{name}" in text, name
