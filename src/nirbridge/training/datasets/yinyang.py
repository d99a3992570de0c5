"""The Yin-Yang data set (Kriener, Göltz, Petrovici 2021) and its spike-latency code.

Points lie in the disc of radius ``r_big`` centred at ``(r_big, r_big)``. The disc is cut into
three classes by two small dots of radius ``r_small`` centred at ``(r_big / 2, r_big)`` and
``(3 r_big / 2, r_big)``, each inside a half-disc of radius ``r_big / 2``:

- class 2, the dots: within ``r_small`` of either dot centre;
- class 1 ("yin"): within ``r_small`` of the right dot centre, or between ``r_small`` and
  ``r_big / 2`` from the left one, or in the upper half (``y > r_big``) farther than
  ``r_big / 2`` from the right one (dots excepted);
- class 0 ("yang"): the rest.

Classes are balanced: each sample first draws its class uniformly, then draws points uniformly in
the bounding square until one of that class falls inside the disc. With numpy's legacy
generator seeded 42 / 41 / 40 this gives the published training / validation / test sets
(5000 / 1000 / 1000 samples). A sample is ``(x, y, 1 - x, 1 - y)`` (with ``r_big = 0.5``), so
that every class is equally distant from "no spike" in the latency code.

Wunderlich & Pehle (2021) feed each of the four coordinates to the network as one spike at
``t_early + value * (t_late - t_early)`` (``t_early = 0``, ``t_late = 30 ms``) plus a bias spike
at ``t_bias = 0``.
"""

from __future__ import annotations

import numpy as np

from ..._errors import SimulationInputError
from .._data import SpikeDataset

#: The published splits: (samples, seed).
SPLITS = {"train": (5000, 42), "validation": (1000, 41), "test": (1000, 40)}


def yinyang_class(x: np.ndarray, y: np.ndarray, r_small: float = 0.1, r_big: float = 0.5):
    """Class (0, 1 or 2) of points inside the disc (arrays of any shape)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    d_right = np.hypot(x - 1.5 * r_big, y - r_big)
    d_left = np.hypot(x - 0.5 * r_big, y - r_big)
    dot = (d_right < r_small) | (d_left < r_small)
    yin = (
        (d_right <= r_small)
        | ((d_left > r_small) & (d_left <= 0.5 * r_big))
        | ((y > r_big) & (d_right > 0.5 * r_big))
    )
    return np.where(dot, 2, yin.astype(int))


def yinyang(
    n: int, seed: int, r_small: float = 0.1, r_big: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` balanced samples: points ``(n, 4)`` as ``(x, y, 1-x, 1-y)`` and labels ``(n,)``.

    Args:
        n: Number of samples.
        seed: Seed of numpy's legacy generator (42 / 41 / 40 for the published train /
            validation / test sets).
        r_small: Radius of the dots.
        r_big: Radius of the disc (0.5: coordinates in [0, 1]).
    """
    if n < 0 or not 0 < r_small < 0.5 * r_big:
        raise SimulationInputError(
            f"yinyang: expected n >= 0 and 0 < r_small < r_big / 2, got n={n}, "
            f"r_small={r_small}, r_big={r_big}"
        )
    rng = np.random.RandomState(seed)
    points = np.empty((n, 4))
    labels = np.empty(n, dtype=np.int64)
    for k in range(n):
        goal = rng.randint(3)
        while True:
            x, y = rng.rand(2) * 2.0 * r_big
            if np.hypot(x - r_big, y - r_big) > r_big:
                continue
            if yinyang_class(x, y, r_small, r_big) == goal:
                break
        points[k] = (x, y, 1.0 - x, 1.0 - y)
        labels[k] = goal
    return points, labels


def yinyang_split(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The published ``"train"``, ``"validation"`` or ``"test"`` set."""
    if name not in SPLITS:
        raise SimulationInputError(f"yinyang_split: expected one of {list(SPLITS)}, got {name!r}")
    size, seed = SPLITS[name]
    return yinyang(size, seed)


def yinyang_spike_times(
    points: np.ndarray,
    t_early: float = 0.0,
    t_late: float = 30e-3,
    t_bias: float = 0.0,
) -> np.ndarray:
    """Spike times ``(n, 5)`` in seconds: one per coordinate, ``t_early + value * (t_late -
    t_early)``, then the bias spike at ``t_bias`` (Wunderlich & Pehle 2021)."""
    points = np.asarray(points, float)
    times = t_early + points * (t_late - t_early)
    return np.concatenate([times, np.full((len(points), 1), t_bias)], axis=1)


def latency_raster(times: np.ndarray, dt: float, steps: int) -> np.ndarray:
    """Spike times ``(n, channels)`` as a raster ``(steps, n, channels)`` of 0/1 (time first):
    a spike at ``s`` seconds falls in step ``floor(s / dt) + 1`` (row ``floor(s / dt)``);
    spikes at or after ``steps * dt`` are dropped (:meth:`SpikeDataset.from_spike_times`)."""
    times = np.asarray(times, float)
    labels = np.zeros(times.shape[0], dtype=np.int64)
    data = SpikeDataset.from_spike_times(times, labels, dt=dt, steps=steps)
    return data.x.numpy().transpose(1, 0, 2).astype(np.float32)


__all__ = [
    "SPLITS",
    "latency_raster",
    "yinyang",
    "yinyang_class",
    "yinyang_spike_times",
    "yinyang_split",
]
