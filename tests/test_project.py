"""Project wiring: packaging, the support table, the examples."""

from __future__ import annotations

import subprocess
import sys

import pytest
import tomllib

import nirbridge
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import support_table  # noqa: E402


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    src = {
        ".".join(p.parent.relative_to(REPO / "src").parts)
        for p in (REPO / "src").rglob("__init__.py")
    }
    converters = {
        ".".join(("nirbridge", "converters", *p.parent.relative_to(REPO / "converters").parts))
        for p in (REPO / "converters").rglob("__init__.py")
    }
    assert src | converters == listed


def test_converters_are_importable_as_nirbridge_converters():
    from nirbridge.converters import registry

    assert registry.get("reference").name == "reference"


@pytest.mark.parametrize("path", [REPO / "README.md", REPO / "docs" / "support.md"])
def test_support_table_is_current(path):
    from nirbridge.converters.registry import support_table as table

    text = path.read_text()
    assert support_table.render(text, table()) == text, (
        f"{path.name} is stale: run python scripts/support_table.py --write"
    )


def test_registry_hints_for_planned_and_unknown_targets():
    from nirbridge import UnsupportedError
    from nirbridge.converters import registry

    planned = [e.name for e in registry.entries() if e.status == "planned"]
    assert planned, "no planned target left to test the refusal with"
    with pytest.raises(UnsupportedError, match="not available yet"):
        registry.get(planned[0])
    with pytest.raises(UnsupportedError, match="known"):
        registry.get("nope")


def test_nest_target_checks_without_building():
    from nirbridge.converters import registry
    from tests.conftest import paper_file, require

    require("nest")
    nest = registry.get("pynn-nest")
    assert nest.check(nirbridge.read(paper_file("01_lif", "lif_norse.nir"))) == []
    issues = nest.check(nirbridge.read(paper_file("03_rnn", "braille_noDelay_noBias_subtract.nir")))
    assert len(issues) == 1 and issues[0].node == "lif1.lif" and "subtract" in issues[0].message


def test_demo_example_prints_the_papers_spike_steps():
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "paper_lif.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "spike steps: [460, 510, 710, 760]" in proc.stdout
