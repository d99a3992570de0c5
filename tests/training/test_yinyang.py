"""The Yin-Yang generator against the data set's published geometry (Kriener et al. 2021).

The disc of radius R = 0.5 holds two dots of radius r = 0.1, so uniform points fall on a dot
with probability 2 r^2 / R^2 = 0.08 and on each half with (1 - 0.08) / 2 = 0.46; the figure is
point-symmetric about the centre with the halves swapped; the published splits are balanced
(each class drawn with probability 1/3).
"""

from __future__ import annotations

import numpy as np
import pytest

from nirbridge import SimulationInputError
from nirbridge.training.datasets import (
    SPLITS,
    latency_raster,
    yinyang,
    yinyang_class,
    yinyang_spike_times,
    yinyang_split,
)


def uniform_disc(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    radius = 0.5 * np.sqrt(rng.random(n))
    angle = 2 * np.pi * rng.random(n)
    return np.stack([0.5 + radius * np.cos(angle), 0.5 + radius * np.sin(angle)], axis=1)


def test_class_areas_are_the_analytic_ones():
    n = 400_000
    points = uniform_disc(n)
    classes = yinyang_class(points[:, 0], points[:, 1])
    fractions = np.bincount(classes, minlength=3) / n
    expected = np.array([0.46, 0.46, 0.08])
    sigma = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(fractions - expected) < 4 * sigma), fractions


def test_figure_is_point_symmetric_with_the_halves_swapped():
    points = uniform_disc(50_000, seed=1)
    here = yinyang_class(points[:, 0], points[:, 1])
    mirrored = yinyang_class(1 - points[:, 0], 1 - points[:, 1])
    swap = np.array([1, 0, 2])
    # points exactly on a boundary have probability zero
    assert np.mean(mirrored == swap[here]) == 1.0


@pytest.mark.parametrize(
    ("point", "label"),
    [
        ((0.25, 0.5), 2),  # centre of the left dot
        ((0.75, 0.5), 2),  # centre of the right dot
        ((0.43, 0.5), 1),  # ring around the left dot, inside its half-disc
        ((0.57, 0.5), 0),  # ring around the right dot
        ((0.2, 0.8), 1),  # upper half, far from the right half-disc
        ((0.8, 0.2), 0),  # lower half, far from the left half-disc
        ((0.7, 0.78), 1),  # upper half, just outside the right half-disc
        ((0.3, 0.22), 0),  # its mirror image
    ],
)
def test_landmarks(point, label):
    assert yinyang_class(*point) == label


def test_published_splits_are_balanced_inside_the_disc_and_mirrored():
    for name, (size, _seed) in SPLITS.items():
        points, labels = yinyang_split(name)
        assert points.shape == (size, 4) and labels.shape == (size,)
        np.testing.assert_allclose(points[:, 2:], 1.0 - points[:, :2])
        assert np.all(np.hypot(points[:, 0] - 0.5, points[:, 1] - 0.5) <= 0.5)
        np.testing.assert_array_equal(yinyang_class(points[:, 0], points[:, 1]), labels)
        counts = np.bincount(labels, minlength=3)
        sigma = np.sqrt(size * (1 / 3) * (2 / 3))
        assert np.all(np.abs(counts - size / 3) < 4 * sigma), counts


def test_seeds_reproduce_and_differ():
    a, la = yinyang(50, 42)
    b, lb = yinyang(50, 42)
    c, _ = yinyang(50, 41)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.allclose(a, c)
    with pytest.raises(SimulationInputError, match="r_small"):
        yinyang(10, 0, r_small=0.3)


def test_latency_code():
    points, _ = yinyang(20, 7)
    times = yinyang_spike_times(points)
    assert times.shape == (20, 5)
    np.testing.assert_allclose(times[:, :4], 30e-3 * points)
    assert np.all(times[:, 4] == 0.0)
    raster = latency_raster(times, 1e-4, 400)
    assert raster.shape == (400, 20, 5)
    assert np.all(raster.sum(axis=0) == 1)  # every spike lands, once
    rows = raster.argmax(axis=0)
    np.testing.assert_array_equal(rows, np.floor(times / 1e-4 + 1e-9).astype(int))
    late = latency_raster(times, 1e-4, 100)  # 10 ms: later spikes are dropped
    assert np.array_equal(late.sum(axis=0), (times < 10e-3).astype(np.float32))
