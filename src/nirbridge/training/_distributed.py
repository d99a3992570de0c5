"""Data-parallel training on one machine: N processes joined by torch.distributed (gloo).

:func:`launch` starts ``fn(rank, world, *args)`` in ``world`` fresh processes that share a
process group (a rendezvous file in a temporary directory: no port to pick). Inside them
:class:`~nirbridge.training.Trainer` sees the group and splits every batch; rank 0 writes
checkpoints. ``torchrun`` works too: the trainer only asks torch.distributed whether it is on.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import torch
import torch.multiprocessing as mp


def _worker(rank: int, fn: Callable[..., Any], world: int, store: str, args: tuple) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{store}", rank=rank, world_size=world
    )
    try:
        fn(rank, world, *args)
    finally:
        torch.distributed.destroy_process_group()


def launch(fn: Callable[..., Any], world: int, *args: Any) -> None:
    """Run ``fn(rank, world, *args)`` in ``world`` processes sharing a gloo process group.

    ``fn`` must be importable (a module-level function): the processes are spawned fresh.
    Raises the first worker's exception (as ``torch.multiprocessing.ProcessRaisedException``).
    """
    if world < 1:
        raise ValueError(f"world: expected at least 1 process, got {world}")
    with tempfile.TemporaryDirectory(prefix="nirbridge-ddp-") as tmp:
        store = os.path.join(tmp, "rendezvous")
        mp.start_processes(
            _worker, args=(fn, world, store, args), nprocs=world, join=True, start_method="spawn"
        )


__all__ = ["launch"]
