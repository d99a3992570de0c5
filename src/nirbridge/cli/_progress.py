"""Progress bars of the commands: on stderr, when it is a terminal or when asked for.

Building a PyNN network shows :class:`~nirbridge.converters.pynn.PyNNNetwork`'s own bar; a
simulator runs a whole network in one ``sim.run`` call, so :class:`ProgressSim` stands in for the
PyNN backend module and shows that call's progress: NEST and NEURON run it in slices (a run in
slices computes what one run computes there, tested), Brian2 reports from inside one run
(``Network.run(report=...)``), because a Brian2 run in slices does not (measured: spikes change
after the first slice boundary, tests/cli/test_progress.py).
"""

from __future__ import annotations

import math
import sys
import time
import types
from typing import Any

from tqdm.auto import tqdm

#: Largest share of a run's wall time its slicing may add: each ``run`` call costs the simulator
#: a fixed preparation (milliseconds on NEST, about 0.6 s on Brian2's numpy target, measured).
OVERHEAD = 0.1
#: Slices a run is cut into at most (after the two probes): enough to show it moving.
SLICES = 20
#: Simulators on which a run in slices equals one run.
SLICED = ("nest", "neuron")


def progress_enabled(choice: str | None) -> bool:
    """``--progress`` "on" or "off", else ("auto") whether stderr is a terminal."""
    return {"on": True, "off": False}.get(choice or "auto", sys.stderr.isatty())


class ProgressSim:
    """A PyNN backend module whose ``run`` advances in slices and shows a bar.

    Everything else is the module's own (attribute access passes through), so a converter that
    takes the module can take this instead. Slicing does not change a simulation: PyNN's
    ``run_until`` continues exactly where the previous slice stopped, on the step grid.
    """

    def __init__(self, sim: types.ModuleType | Any) -> None:
        self._sim = sim
        self.__name__ = sim.__name__

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sim, name)

    def run(self, simtime: float) -> float:
        """Advance the simulation by ``simtime`` ms, showing a bar of its steps."""
        sim = self._sim
        total = int(round(simtime / float(sim.get_time_step())))
        name = self.__name__.rsplit(".", 1)[-1]
        with tqdm(total=total, desc="running", unit="step", file=sys.stderr) as bar:
            if name in SLICED:
                self._run_sliced(simtime, bar)
            elif name == "brian2":
                _run_reported(sim, simtime, bar)
            else:
                sim.run(simtime)
            bar.update(total - bar.n)
        return float(sim.get_current_time())

    def _run_sliced(self, simtime: float, bar: Any) -> None:
        """Two short probe slices measure the simulator's fixed cost per call and its cost per
        step; the rest runs in slices long enough that the fixed cost stays below
        :data:`OVERHEAD` of the time (and at most :data:`SLICES` of them)."""
        sim = self._sim
        h = float(sim.get_time_step())
        start = float(sim.get_current_time())
        total = int(round(simtime / h))
        probe = max(1, total // 100)
        timings: list[tuple[int, float]] = []
        chunk = probe
        done = 0
        while done < total:
            n = min(probe * (len(timings) + 1) if len(timings) < 2 else chunk, total - done)
            began = time.perf_counter()
            sim.run_until(start + (done + n) * h)
            timings.append((n, time.perf_counter() - began))
            done += n
            bar.update(n)
            if len(timings) == 2:
                chunk = _slice(timings, total)


def _run_reported(sim: Any, simtime: float, bar: Any) -> None:
    """One Brian2 run that moves the bar through Brian2's own progress report."""
    import brian2

    network = sim.simulator.state.network
    run = network.run

    def report(elapsed: Any, completed: float, start: Any, duration: Any) -> None:
        bar.update(round(completed * bar.total) - bar.n)

    def reporting(duration: Any, *args: Any, level: int = 0, **kwargs: Any) -> Any:
        # level + 1: Brian2 resolves names in the caller's frame, which is PyNN's, one up
        kwargs.update(report=report, report_period=0.5 * brian2.second)
        return run(duration, *args, level=level + 1, **kwargs)

    network.run = reporting
    try:
        sim.run(simtime)
    finally:
        del network.run


def _slice(timings: list[tuple[int, float]], total: int) -> int:
    """Steps per slice from two probes ``(steps, seconds)``: cost = fixed + per_step * steps."""
    (n1, t1), (n2, t2) = timings
    per_step = max((t2 - t1) / (n2 - n1), 1e-9)
    fixed = max(t1 - per_step * n1, 0.0)
    return max(math.ceil(fixed * (1 - OVERHEAD) / OVERHEAD / per_step), math.ceil(total / SLICES))
