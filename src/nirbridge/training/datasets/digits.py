"""scikit-learn's handwritten digits (8x8, 1,797 samples, shipped with the package: no download),
latency-coded: each pixel spikes once, earlier the darker it is; blank pixels stay silent.

A pixel of value ``p`` (0..16) spikes at ``t = (1 - p/16) * t_max`` (so ``p = 16`` fires in the
first step); the split into train and test is a fixed stratified permutation of ``seed``.
"""

from __future__ import annotations

import numpy as np

from .._data import SpikeDataset

#: Samples per class kept for testing (about 28 % of the 1,797).
TEST_PER_CLASS = 50


def digits_raw(split: str = "train", *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixel values (n, 64) in 0..16 and labels (n,) of the ``split`` ("train" or "test")."""
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - the training extra installs it
        raise ImportError(
            "the digits dataset needs scikit-learn: pip install scikit-learn"
        ) from exc
    data = load_digits()
    x, y = data.data.astype(np.float64), data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in range(10):
        members = rng.permutation(np.flatnonzero(y == c))
        test[members[:TEST_PER_CLASS]] = True
    keep = test if split == "test" else ~test
    order = rng.permutation(np.flatnonzero(keep))
    return x[order], y[order]


def digit_spike_times(pixels: np.ndarray, *, t_max: float) -> np.ndarray:
    """Latency code: ``(1 - p/16) * t_max`` per pixel, ``inf`` (no spike) for blank pixels."""
    pixels = np.asarray(pixels, dtype=np.float64)
    times = (1.0 - pixels / 16.0) * t_max
    return np.where(pixels > 0, times, np.inf)


def digits(
    split: str = "train",
    *,
    dt: float = 1e-3,
    steps: int = 30,
    t_max: float | None = None,
    t_offset: float = 0.0,
    seed: int = 0,
) -> SpikeDataset:
    """The digits ``split`` as spike rasters of ``steps`` steps of ``dt`` (64 inputs, 10 classes).

    ``t_max`` (default: ``(steps // 2) * dt``) is the latest input spike time; the rest of the
    window lets the network answer. ``t_offset`` delays every spike (``dt`` keeps the first
    step silent, as e-prop's bsshslm_2020 trials need: NEST drops their first step's input).
    """
    t_max = (steps // 2) * dt if t_max is None else t_max
    if not 0 <= t_max < steps * dt:
        raise ValueError(f"t_max: expected in [0, {steps * dt}) s, got {t_max}")
    pixels, labels = digits_raw(split, seed=seed)
    times = digit_spike_times(pixels, t_max=t_max) + t_offset
    return SpikeDataset.from_spike_times(times, labels, dt=dt, steps=steps, name=f"digits-{split}")


__all__ = ["TEST_PER_CLASS", "digit_spike_times", "digits", "digits_raw"]
