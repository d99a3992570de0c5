"""The IN.npz / OUT.npz file contract, with atomic writes."""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .._errors import SimulationInputError


def load_inputs(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Arrays of an IN.npz file, by Input node name.

    Raises:
        SimulationInputError: the file is missing, not an .npz archive, or holds object arrays.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SimulationInputError(f"input file {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise SimulationInputError(
                    f"input file {path}: expected an .npz archive (np.savez) with one array per "
                    "Input node, got a single array"
                )
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise SimulationInputError(
            f"input file {path}: not a readable .npz archive: {exc}"
        ) from exc


def save_outputs(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays to ``path`` (.npz) atomically: complete or not at all."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".npz", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **dict(arrays))
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
