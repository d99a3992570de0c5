"""Raster and trace plots of simulation outputs."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np


def plot_outputs(
    path: str | os.PathLike[str],
    outputs: Mapping[str, np.ndarray],
    *,
    dt: float,
    spiking: Mapping[str, bool],
    title: str = "",
) -> None:
    """One panel per output: a spike raster for spiking outputs, voltage traces otherwise.

    Args:
        path: Image file to write (format from the extension, e.g. .png, .pdf).
        outputs: Output name -> array (steps, *shape).
        dt: Time step in seconds (x axis in steps and ms).
        spiking: Output name -> whether it carries spikes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(outputs)
    fig, axes = plt.subplots(
        len(names), 1, figsize=(8, 2.2 + 1.8 * len(names)), squeeze=False, sharex=True
    )
    for ax, name in zip(axes[:, 0], names, strict=True):
        arr = np.asarray(outputs[name])
        flat = arr.reshape(arr.shape[0], -1)
        if spiking.get(name, False):
            t, n = np.nonzero(flat)
            ax.scatter(t, n, s=4, marker="|", color="k")
            ax.set_ylabel("neuron")
            ax.set_ylim(-0.5, flat.shape[1] - 0.5)
            ax.set_title(f"{name}: {int(flat.sum())} spikes", fontsize=9)
        else:
            ax.plot(flat[:, : min(flat.shape[1], 20)], lw=0.8)
            ax.set_ylabel("v")
            ax.set_title(
                name + (f" (first 20 of {flat.shape[1]})" if flat.shape[1] > 20 else ""),
                fontsize=9,
            )
    axes[-1, 0].set_xlabel(f"step (dt = {dt * 1e3:g} ms)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
