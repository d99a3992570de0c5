"""Shared test helpers.

Backends: a test that needs an optional package calls ``require("snntorch")`` (or uses the
``snntorch`` / ``norse`` fixtures). Where the package is missing the test is skipped with the
reason, unless NIRBRIDGE_REQUIRE names it (or is "all"), as CI sets it: then it fails.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("NIRBRIDGE_FIXTURES", REPO / "tests" / "fixtures"))
PAPER = FIXTURES / "nir-paper"

#: Import name of each optional backend the suite knows.
BACKENDS = {
    "torch": "torch",
    "snntorch": "snntorch",
    "norse": "norse.torch",
    "nest": "pyNN.nest",
    "brian2": "pyNN.brian2",
    "neuron": "pyNN.neuron",
    "spinnaker": "pyNN.spiNNaker",
}


def _required() -> set[str]:
    raw = os.environ.get("NIRBRIDGE_REQUIRE", "")
    names = {n.strip() for n in raw.split(",") if n.strip()}
    return set(BACKENDS) if "all" in names else names


def require(backend: str):
    """Import an optional backend, skipping (or, when required, failing) if it is missing."""
    module = BACKENDS.get(backend, backend)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if backend in _required():
            pytest.fail(f"backend {backend!r} is required (NIRBRIDGE_REQUIRE) but missing: {exc}")
        pytest.skip(f"backend {backend!r} not installed: {exc}")


def paper_file(*parts: str) -> Path:
    """A file of the NIR paper fixtures; fails (never skips) when the fixtures are absent."""
    path = PAPER.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"fixture {path} missing: tests/fixtures is part of the repository")
    return path


@pytest.fixture
def torch():
    return require("torch")


@pytest.fixture
def snntorch():
    return require("snntorch")


@pytest.fixture
def norse():
    return require("norse")


# Property tests draw the same examples on every machine (CI meets what was checked here); set
# NIRBRIDGE_HYPOTHESIS_RANDOM=1 to explore with fresh random draws instead.
try:
    from hypothesis import settings as _hyp_settings
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    _hyp_settings = None
if _hyp_settings is not None:
    _hyp_settings.register_profile("nirbridge-deterministic", derandomize=True, database=None)
    _hyp_settings.register_profile("nirbridge-random")
    _hyp_settings.load_profile(
        "nirbridge-random"
        if os.environ.get("NIRBRIDGE_HYPOTHESIS_RANDOM")
        else "nirbridge-deterministic"
    )
