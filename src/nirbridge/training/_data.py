"""Spike-train datasets as the trainer reads them: rasters in memory, batched time-first."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import torch


@dataclasses.dataclass(frozen=True)
class SpikeDataset:
    """Input rasters ``x`` ``(N, T, n_in)`` (0/1 spikes or analog values) and labels ``y`` ``(N,)``.

    ``dt`` is the step the rasters are sampled at (seconds); ``name`` says where they came from.
    """

    x: torch.Tensor
    y: torch.Tensor
    dt: float
    name: str = ""

    def __post_init__(self) -> None:
        if self.x.ndim != 3:
            raise ValueError(
                f"SpikeDataset.x: expected (N, T, n_in), got shape {tuple(self.x.shape)}"
            )
        if self.y.shape != (self.x.shape[0],):
            raise ValueError(
                f"SpikeDataset.y: expected ({self.x.shape[0]},) labels, got {tuple(self.y.shape)}"
            )

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def steps(self) -> int:
        return self.x.shape[1]

    @property
    def n_in(self) -> int:
        return self.x.shape[2]

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1

    @classmethod
    def from_spike_times(
        cls,
        times: np.ndarray,
        labels: np.ndarray,
        *,
        dt: float,
        steps: int,
        name: str = "",
    ) -> SpikeDataset:
        """Rasters from one spike time per input (seconds; NaN or inf: no spike).

        A spike at time ``t`` lands in step ``floor(t/dt)`` (step 0 is the first step).
        """
        times = np.asarray(times, dtype=np.float64)
        x = np.zeros((times.shape[0], steps, times.shape[1]), dtype=np.uint8)
        finite = np.isfinite(times)
        idx = np.floor(np.where(finite, times, 0.0) / dt + 1e-9).astype(np.int64)
        ok = finite & (idx >= 0) & (idx < steps)
        n, i = np.nonzero(ok)
        x[n, idx[n, i], i] = 1
        return cls(torch.from_numpy(x), torch.as_tensor(labels, dtype=torch.long), dt, name)

    def batches(
        self,
        batch_size: int,
        *,
        order: torch.Tensor | None = None,
        rank: int = 0,
        world: int = 1,
        dtype: torch.dtype = torch.float32,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        """Yield ``(x (T, B_local, n_in), labels, global batch size)``.

        Each global batch of ``batch_size`` samples (in ``order``, default as stored) is split in
        ``world`` contiguous parts; this process (``rank``) gets its part.
        """
        order = torch.arange(len(self)) if order is None else order
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            part = torch.tensor_split(chunk, world)[rank]
            x = self.x[part].to(dtype).transpose(0, 1)
            yield x, self.y[part], len(chunk)


__all__ = ["SpikeDataset"]
