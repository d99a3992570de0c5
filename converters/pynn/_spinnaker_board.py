"""sPyNNaker's virtual board, configured in a temporary directory.

sPyNNaker reads its settings from a user file (``~/.spynnaker.cfg``, or the same name in the XDG
config directories) and from ``spynnaker.cfg`` in the working directory; when it finds no user
file it *writes* a template into the home directory and stops. Nothing here touches the user's
home: a :class:`VirtualBoard` writes its own file into a temporary directory and points the
search there (``HOME``, the XDG config directories and the working directory) only while
``sim.setup`` reads the configuration; sPyNNaker's reports go to the same directory, which is
removed when the network is closed. On a virtual board sPyNNaker partitions, places and routes
the network (the whole mapping) and skips loading and running it: nothing is executed.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Board versions sPyNNaker knows: 3 = SpiNN-3 (4 chips), 5 = SpiNN-5 (48 chips).
BOARD_VERSIONS = {3: "SpiNN-3 (4 chips)", 5: "SpiNN-5 (48 chips)"}

CFG_NAME = ".spynnaker.cfg"


def board_cfg(version: int, directory: Path) -> str:
    """The configuration text of a virtual board of ``version`` whose reports go to
    ``directory/reports``.

    Logging through sPyNNaker's own root handler is off (``instantiate = False``), so that it
    does not reconfigure the caller's logging."""
    if version not in BOARD_VERSIONS:
        raise ValueError(f"unknown SpiNNaker board version {version}; known: {BOARD_VERSIONS}")
    return (
        "[Logging]\n"
        "instantiate = False\n"
        "default = warning\n"
        "[Machine]\n"
        "virtual_board = True\n"
        f"version = {version}\n"
        "[Reports]\n"
        f"default_report_file_path = {directory}\n"
    )


class VirtualBoard:
    """A temporary sPyNNaker configuration for a virtual board; a context manager.

    Attributes:
        version: Board version (see :data:`BOARD_VERSIONS`).
        directory: The temporary directory (set while entered).
    """

    def __init__(self, version: int = 5) -> None:
        self.version = version
        self.directory: Path | None = None

    def __enter__(self) -> VirtualBoard:
        self.directory = Path(tempfile.mkdtemp(prefix="nirbridge-spinnaker-"))
        (self.directory / CFG_NAME).write_text(board_cfg(self.version, self.directory))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.directory is None:
            return
        from spinn_utilities.data.utils_data_writer import UtilsDataWriter
        from spinn_utilities.log import FormatAdapter

        # sPyNNaker stores later log messages in a database in its report directory (and
        # would create it again), and registers, at each setup, an exit handler that marks
        # that directory as errored unless it finished: the directory goes now.
        FormatAdapter.set_log_store(None)
        atexit.unregister(UtilsDataWriter.write_errored_file)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    @contextlib.contextmanager
    def setup_scope(self) -> Iterator[None]:
        """Point sPyNNaker's configuration search at the temporary directory (for
        ``sim.setup``, which reads the files); the environment, the working directory and the
        root logger's handlers are restored afterwards."""
        if self.directory is None:
            raise RuntimeError("enter the VirtualBoard before setup")
        # the user file is found once, in HOME; the XDG directories are empty
        xdg = self.directory / "xdg"
        xdg.mkdir(exist_ok=True)
        values = {"HOME": self.directory, "XDG_CONFIG_HOME": xdg, "XDG_CONFIG_DIRS": xdg}
        saved = {k: os.environ.get(k) for k in values}
        cwd = os.getcwd()
        # sPyNNaker also gives the root logger's handlers its own filter and formatter
        handlers = [(h, list(h.filters), h.formatter) for h in logging.root.handlers]
        os.environ.update({k: str(v) for k, v in values.items()})
        os.chdir(self.directory)
        try:
            yield
        finally:
            for handler, filters, formatter in handlers:
                handler.filters[:] = filters
                handler.setFormatter(formatter)
            os.chdir(cwd)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
