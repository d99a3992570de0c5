"""A standalone PyNN script of a network :func:`to_pynn` built (``nir2pynn --emit-script``).

The script is written from what the converter made, not from a second mapping:
:class:`BuildLog` stands in for the PyNN module while :func:`to_pynn` builds, and keeps the
``sim.setup`` arguments and every Population and Projection it made (the bias source included);
:func:`write_script` then reads those PyNN objects: each cell type and the parameters it was
given, initial values, recorded variables, and each projection's synapses with the weights and
delays the simulator holds. What the converter does besides PyNN's standard calls -- its backend
row's functions (:mod:`._backends`: Brian2's schedule, cell types and synapses, NEURON's delays,
setting spike times) and NEST's native-type helper -- is copied into the script from its source,
so the script runs the same code. The timing (when a reference step's input spike is sent, how
late each Output is read) comes from the backend row and the plan's depths, as
:meth:`PyNNNetwork.run` uses them.

The script imports numpy and ``pyNN.<simulator>`` (and the simulator where the copied functions
do), reads its arrays from the ``.npz`` file of the same name beside it, and writes the outputs
in nir2pynn's OUT.npz contract. Spike inputs only: their spike times are part of the arrays.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import os
import tempfile
import textwrap
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nirbridge._errors import UnsupportedError
from nirbridge.reference import check_inputs

from ._backends import _nothing
from ._cells import cell_map
from ._export import synapse_rows
from ._network import PyNNNetwork, _native_type

TARGET = "pynn"


class BuildLog:
    """A PyNN backend module that keeps what is made with it.

    Every attribute is the module's own, except that ``setup`` remembers its arguments and
    ``Population`` and ``Projection`` remember what they make, in order (a new ``setup`` starts
    the record afresh). Pass it to :func:`to_pynn` in place of the module.
    """

    def __init__(self, sim: types.ModuleType | Any) -> None:
        self._sim = sim
        self.__name__ = sim.__name__
        self.setup_kwargs: dict[str, Any] = {}
        self.made: list[Any] = []  # Populations and Projections, in the order they were made

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sim, name)

    def setup(self, *args: Any, **kwargs: Any) -> Any:
        self.setup_kwargs = dict(kwargs)
        self.made.clear()
        return self._sim.setup(*args, **kwargs)

    def Population(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (PyNN's name)
        population = self._sim.Population(*args, **kwargs)
        self.made.append(population)
        return population

    def Projection(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (PyNN's name)
        projection = self._sim.Projection(*args, **kwargs)
        self.made.append(projection)
        return projection


def write_script(
    path: str | os.PathLike[str],
    net: PyNNNetwork,
    log: BuildLog,
    inputs: Mapping[str, np.ndarray],
    steps: int | None = None,
    *,
    spiking: Mapping[str, bool],
    title: str = "a NIR graph",
) -> Path:
    """Write a standalone PyNN script of ``net`` to ``path`` and its arrays beside it.

    Args:
        path: The script (``OUT.py``); the arrays go to ``OUT.npz`` beside it.
        net: The network, built by :func:`to_pynn` with ``log`` as its module, not yet run.
        log: The :class:`BuildLog` it was built with.
        inputs: Input name -> ``(steps, *shape)`` spikes (0/1), as for :meth:`PyNNNetwork.run`.
        steps: Steps to run (default: the inputs' length).
        spiking: Output name -> whether OUT.npz stores it as spikes (uint8).
        title: What the network is, for the script's docstring (e.g. the NIR file).

    Returns:
        The path of the arrays file.

    Raises:
        UnsupportedError: analog inputs, or a backend that cannot run here (a virtual board).
    """
    script = Path(path)
    data_path = script.with_suffix(".npz")
    writer = _Writer(net, log, data_path.name, spiking, script.name)
    text = writer.script(_spike_inputs(net, inputs, steps), title)
    _atomic(data_path, lambda handle: np.savez(handle, **writer.data))
    _atomic(script, lambda handle: handle.write(text.encode()))
    return data_path


def _spike_inputs(
    net: PyNNNetwork, inputs: Mapping[str, np.ndarray], steps: int | None
) -> tuple[dict[str, np.ndarray], int]:
    """The reference's input checks, then spikes only: Input -> ``(steps, cells)``."""
    shapes = {p.name: p.shape for p in net.plan.populations.values() if p.kind == "Input"}
    arrays, steps, _ = check_inputs(inputs, shapes, steps)
    flat = {}
    for name, x in arrays.items():
        x = x[:, 0].reshape(steps, -1)
        if not np.all((x == 0) | (x == 1)):
            raise UnsupportedError(
                "--emit-script writes spike inputs (0/1 per step) only; this input is analog",
                node=name,
                target=TARGET,
            )
        flat[name] = x
    return flat, steps


def _atomic(path: Path, write: Callable[[Any], Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # what a new file gets, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class _Writer:
    """The script's text and arrays, block by block."""

    def __init__(
        self,
        net: PyNNNetwork,
        log: BuildLog,
        data_name: str,
        spiking: Mapping[str, bool],
        script_name: str,
    ) -> None:
        backend = net.backend
        if not backend.executes or backend.workspace is not None:
            raise UnsupportedError(
                f"--emit-script writes scripts for simulators that run here; {backend.name} "
                "does not",
                target=TARGET,
            )
        self.net, self.log, self.backend = net, log, backend
        self.data_name, self.spiking, self.script_name = data_name, spiking, script_name
        self.data: dict[str, np.ndarray] = {}
        self.helpers = _Helpers()
        self.names: dict[int, str] = {}  # id(population) -> label
        self.n_projections = 0

    # -- the whole script ---------------------------------------------------------------------
    def script(self, inputs: tuple[dict[str, np.ndarray], int], title: str) -> str:
        arrays, steps = inputs
        blocks = "\n\n".join(self._build_block(made) for made in self.log.made)
        run = self._run(arrays, steps)
        functions = self._functions()
        parts = [self._header(title, steps), self._helpers_block(), functions, self._setup()]
        return "\n\n\n".join([*parts, blocks, run]) + "\n"

    def _header(self, title: str, steps: int) -> str:
        net, backend = self.net, self.backend
        start = backend.start_steps
        module = self.log.__name__
        stem = Path(self.script_name).stem
        return f'''\
#!/usr/bin/env python
"""{title} on PyNN ({backend.name}), written by nir2pynn (nirbridge).

Standalone: it needs numpy and {module}, not nirbridge. The arrays (cell parameters, weights,
input spike times) are in {self.data_name} beside this file. Run:

    python {self.script_name} [OUTPUT.npz]      (default: {stem}_output.npz beside it)

OUTPUT.npz holds one array per NIR Output node, named after it, shaped (steps, *shape): spikes
as 0/1 (uint8), voltages as floats, in the timing of nirbridge's reference simulator (entry t is
the output of reference step t + 1), as ``nir2pynn --output`` writes them.

How this network reproduces the reference (nirbridge's docs/semantics.md):
- one simulator step of H = {net.h:g} ms stands for one reference step of dt = {net.dt:g} s
  ({net.integrator} integrator, {net.reset} reset); cell parameters and weights were translated
  so that the per-step decays and jumps equal the reference's;
- every spike source sends reference step t's spike at (t + START) * H ms (START = {start});
- each population has a depth, the longest chain of projections from an input; it runs that
  many steps behind the reference, a projection's delay is the difference of the depths (plus
  one on a back edge, minus the target's synaptic lag), and an Output is read that many steps
  late. Constant inputs (biases, leaks) come from a source that fires every step.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np

# Quiet: NEST's banner, deprecation warnings of PyNN's dependencies, and PyNN's notes on native
# state variables NEST will not initialise.
os.environ.setdefault("PYNEST_QUIET", "1")
logging.getLogger("PyNN").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module="(pyNN|nest|neo|quantities|brian2|neuron)(\\\\..*)?")
import {module} as sim  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = np.load(HERE / {self.data_name!r})
H = {net.h!r}  # ms per simulator step = one reference step
STEPS = {steps}  # reference steps to run
START = {start}  # steps before reference step 0 is sent (see the docstring)'''

    def _helpers_block(self) -> str:
        backend = self.backend
        uses = [backend.set_spike_times]
        uses += [f for f in (backend.prepare, backend.adjust_population) if f is not _nothing]
        uses += [backend.connect] if backend.connect is not None else []
        uses += [backend.adjust_projection] if backend.adjust_projection is not _nothing else []
        for fn in uses:
            self.helpers.add(fn)
        text = self.helpers.text()  # cell type helpers were added while writing the blocks
        intro = (
            "# -- the converter's own functions for this simulator (nirbridge's converters/pynn, "
            "copied) --"
        )
        return f"{intro}\n{text}" if text else ""

    def _setup(self) -> str:
        lines = [
            "# -- set-up: one step resolution and minimum delay, as the converter set it up --",
            f"sim.setup(**{self.log.setup_kwargs!r})",
        ]
        if self.backend.prepare is not _nothing:
            lines.append(f"{self.helpers.add(self.backend.prepare)}(sim, H)")
        lines += ["populations = {}", "projections = []"]
        return "\n".join(lines)

    # -- populations and projections ----------------------------------------------------------
    def _build_block(self, made: Any) -> str:
        if hasattr(made, "celltype"):
            return self._population(made)
        return self._projection(made)

    def _population(self, population: Any) -> str:
        label = population.label
        self.names[id(population)] = label
        plan = self.net.plan.populations.get(label)
        make = "sim.Population({}, {}, label={!r})"
        if plan is None or self.net.populations.get(label) is not population:
            return "\n".join(
                [
                    _comment(
                        "Bias source: one cell that fires every step from reference step 0; its "
                        "projections carry each population's constant inputs (the biases of the "
                        "graph's Affine nodes, the leak towards v_leak)."
                    ),
                    f"populations[{label!r}] = "
                    + make.format(1, "sim.SpikeSourceArray(spike_times=[])", label),
                ]
            )
        if plan.kind == "Input":
            return "\n".join(
                [
                    _comment(
                        f"NIR Input {label!r}, shape {plan.shape}: one spike source per channel "
                        "(C order), depth 0."
                    ),
                    f"populations[{label!r}] = "
                    + make.format(population.size, "sim.SpikeSourceArray(spike_times=[])", label),
                ]
            )
        net, backend = self.net, self.backend
        cells = cell_map(plan.kind, net.reset, label, backend.cells, backend.name)
        key = f"population{len(self.names) - 1}"
        names = [r.native for r in cells.rows] + list(cells.constants)
        for name, value in _given(population, names).items():
            self.data[f"{key}.{name}"] = value
        lag = net.plan.synaptic_lag[label]
        rows = ", ".join(f"{r.nir} -> {r.native}" for r in cells.rows) or "none"
        behaviour = f"{net.reset} reset" if cells.spiking else "no threshold, voltage read"
        lines = [
            _comment(
                f"NIR {plan.kind} {label!r}, shape {plan.shape}: {population.size} x "
                f"{cells.model} ({behaviour}). Depth {plan.depth}: it runs {plan.depth} "
                f"step(s) behind the reference"
                + (f", {lag} of them its synaptic lag." if lag else ".")
                + f" Translated parameters ({rows}) make one step of H = one step of dt; "
                f"fixed by the mapping: {', '.join(cells.constants)}."
            ),
            f"populations[{label!r}] = sim.Population(",
            f"    {population.size}, {self._cell_type(cells.model)}(**parameters({key!r})), "
            f"label={label!r}",
            ")",
        ]
        v0 = _initial(population, cells.voltage)
        if np.any(v0 != 0):
            self.data[f"initial.{key}"] = v0
            lines += [
                _comment(
                    "Start where the leak towards v_leak brings the membrane to 0 when the first "
                    "reference step begins (the population is updated before that)."
                ),
                f"populations[{label!r}].initialize({cells.voltage}=DATA[{'initial.' + key!r}])",
            ]
        else:
            lines.append(f"populations[{label!r}].initialize({cells.voltage}=0.0)  # at rest")
        if backend.adjust_population is not _nothing:
            fn = self.helpers.add(backend.adjust_population)
            lines.append(f"{fn}(populations[{label!r}])")
        recorded = sorted(
            getattr(v, "name", v) for v, ids in population.recorder.recorded.items() if ids
        )
        if recorded:
            lines.append(f"populations[{label!r}].record({recorded!r})")
        return "\n".join(lines)

    def _cell_type(self, model: str) -> str:
        """The script's expression for a cell type, as :meth:`Backend.cell_model` makes it."""
        backend = self.backend
        if backend.native:
            return f"{self.helpers.add(_native_type)}(sim, {model!r})"
        if model in backend.custom_cells:
            maker = backend.custom_cells[model]
            keywords = dict(getattr(maker, "keywords", {}))
            fn = self.helpers.add(getattr(maker, "func", maker))
            args = "".join(f", {k}={v!r}" for k, v in keywords.items())
            return f"{fn}(sim{args})"
        return f"sim.{model}"

    def _projection(self, projection: Any) -> str:
        pre = self.names[id(projection.pre)]
        post = self.names[id(projection.post)]
        key = f"projection{self.n_projections}"
        self.n_projections += 1
        rows = synapse_rows(projection)
        self.data[f"{key}.pre"] = rows[:, 0].astype(np.int64)
        self.data[f"{key}.post"] = rows[:, 1].astype(np.int64)
        self.data[f"{key}.weight"] = rows[:, 2]
        h = self.net.h
        delays = np.unique(np.rint(rows[:, 3] / h).astype(int))
        delay = int(delays[0]) if len(delays) else 0
        why = self._delay_reason(pre, post, delay, bias=_is_bias(self.net, projection.pre))
        receptor = projection.receptor_type
        return "\n".join(
            [
                _comment(f"{pre} -> {post} ({receptor}, {len(rows)} synapses): {why}"),
                "projections.append(",
                f"    connect(populations[{pre!r}], populations[{post!r}], {key!r}, "
                f"{receptor!r}, {delay}, {projection.label!r})",
                ")",
            ]
        )

    def _delay_reason(self, pre: str, post: str, delay: int, *, bias: bool) -> str:
        """Why a projection has its delay, in the plan's terms (SEMANTICS.md)."""
        plan, offset = self.net.plan, self.backend.delay_offset
        depth, lag = plan.populations[post].depth, plan.synaptic_lag[post]
        planned = delay - offset
        sim_note = (
            f"; this simulator delivers a spike {-offset} step(s) earlier than the plan counts, "
            f"so its delay is {delay}"
            if offset
            else ""
        )
        lag_note = f" - synaptic lag {lag}" if lag else ""
        if bias:
            back = planned > depth - lag
            what = "biases of back-edge paths, a step later" if back else "biases and leak"
            return (
                f"constant input every step ({what}): delay {planned} steps = depth({post}) "
                f"{depth}{lag_note}{' + 1' if back else ''}{sim_note}."
            )
        chains = [p for p in plan.projections if (p.source, p.target) == (pre, post)]
        nodes = ", ".join(repr(n) for p in chains for n in p.chain) or "a direct edge"
        back = any(p.recurrent for p in chains)
        return (
            f"from NIR nodes {nodes}, composed into one matrix; delay {planned} steps = "
            f"{'1 + ' if back else ''}depth({post}) {depth} - depth({pre}) "
            f"{plan.populations[pre].depth}{lag_note}{' (a back edge)' if back else ''}{sim_note}."
        )

    # -- connecting, running, reading --------------------------------------------------------
    def _connect_function(self) -> str:
        backend = self.backend
        head = [
            "def connect(pre, post, key, receptor, delay_steps, label):",
            '    """A projection with the synapses of DATA[key + ".pre"/".post"/".weight"] (cell',
            "    indices and weights in PyNN units) and a delay of delay_steps simulator steps.",
            '    """',
            '    i, j, w = DATA[key + ".pre"], DATA[key + ".post"], DATA[key + ".weight"]',
        ]
        if backend.connect is not None:
            fn = self.helpers.add(backend.connect)
            return "\n".join(
                [
                    *head,
                    "    mask = np.zeros((pre.size, post.size), dtype=bool)",
                    "    weights = np.zeros(mask.shape)",
                    "    mask[i, j], weights[i, j] = True, w",
                    f"    return {fn}(sim, pre, post, mask, weights, delay_steps, H, receptor, "
                    "label)",
                ]
            )
        lines = [
            *head,
            "    delay = max(delay_steps, 1) * H  # PyNN's minimum delay is one step",
            "    connections = np.column_stack([i, j, w, np.full(len(i), delay)])",
            "    projection = sim.Projection(",
            "        pre,",
            "        post,",
            '        sim.FromListConnector(connections, column_names=["weight", "delay"]),',
            "        sim.StaticSynapse(),",
            "        receptor_type=receptor,",
            "        label=label,",
            "    )",
        ]
        if backend.adjust_projection is not _nothing:
            fn = self.helpers.add(backend.adjust_projection)
            lines += [
                "    if delay_steps < 1:  # below PyNN's minimum: set on the simulator's objects",
                f"        {fn}(projection, delay_steps, H)",
            ]
        return "\n".join([*lines, "    return projection"])

    def _functions(self) -> str:
        """The script's helpers: connect, parameters, spike times, reading the outputs."""
        backend = self.backend
        return "\n".join(
            [
                self._connect_function(),
                "",
                "",
                "def parameters(key):",
                '    """The cell parameters stored under key, by PyNN parameter name."""',
                "    return {",
                '        n[len(key) + 1 :]: DATA[n] for n in DATA.files if n.startswith(key + ".")',
                "    }",
                "",
                "",
                "def spike_times(name):",
                '    """Spike times (ms) per cell of an Input population."""',
                '    cell, time = DATA[f"input.{name}.cell"], DATA[f"input.{name}.time"]',
                "    return [time[cell == i] for i in range(populations[name].size)]",
                "",
                "",
                "def read_spikes(population, depth):",
                '    """0/1 per (reference step, cell): a spike at time T belongs to reference',
                '    step round(T / H) - START - depth."""',
                "    out = np.zeros((STEPS, population.size))",
                "    for train in population.get_data().segments[-1].spiketrains:",
                '        cell = int(train.annotations["source_index"])',
                "        t = np.rint(np.asarray(train.magnitude) / H).astype(int) - START - depth",
                "        out[t[(t >= 0) & (t < STEPS)], cell] = 1.0",
                "    return out",
                "",
                "",
                "def read_voltage(population, variable, depth):",
                '    """The membrane per (reference step, cell): reference step t is sample',
                f"    t + START + depth + {backend.voltage_offset} of the recording (the backend's "
                'offset)."""',
                "    signal = population.get_data().segments[-1].filter(name=variable)[0]",
                "    v = np.asarray(signal.magnitude)",
                f"    index = np.arange(STEPS) + START + depth + {backend.voltage_offset}",
                "    out = np.zeros((STEPS, population.size))",
                "    ok = index < v.shape[0]",
                "    out[ok] = v[index[ok]]",
                "    return out",
            ]
        )

    def _run(self, arrays: Mapping[str, np.ndarray], steps: int) -> str:
        net, backend = self.net, self.backend
        plan, start, h = net.plan, backend.start_steps, net.h
        set_times = self.helpers.add(backend.set_spike_times)
        lines = [
            "# -- inputs: reference step t's spikes are sent at (t + START) * H ms --",
        ]
        for name, x in arrays.items():
            cells, steps_of = np.nonzero(x.T)
            self.data[f"input.{name}.cell"] = cells.astype(np.int64)
            self.data[f"input.{name}.time"] = (steps_of + start) * h
            lines.append(f"{set_times}(sim, populations[{name!r}], spike_times({name!r}))")
        bias = [p for p in self.log.made if hasattr(p, "celltype") and _is_bias(self.net, p)]
        if bias:
            lines.append(
                f"{set_times}(sim, populations[{bias[0].label!r}], "
                "[(np.arange(STEPS) + START) * H])  # every step"
            )
        lines += [
            "",
            "# Run until the deepest population has been through every reference step.",
            f"sim.run((STEPS + START + {plan.max_depth} + 1) * H)",
            "",
            "# -- outputs, in reference timing: each read as many steps late as its depth --",
            "outputs = {}",
        ]
        for name, out in plan.outputs.items():
            source = plan.populations[out.source]
            dtype = ".astype(np.uint8)" if self.spiking.get(name, False) else ""
            if source.spiking:
                read = f"read_spikes(populations[{out.source!r}], {source.depth})"
            else:
                cells = cell_map(source.kind, net.reset, source.name, backend.cells, backend.name)
                read = (
                    f"read_voltage(populations[{out.source!r}], {cells.voltage!r}, {source.depth})"
                )
            lines.append(f"outputs[{name!r}] = {read}.reshape(STEPS, *{tuple(out.shape)!r}){dtype}")
        lines += [
            "",
            "target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "
            '(Path(__file__).stem + "_output.npz")',
            "np.savez(target, **outputs)",
            "sim.end()",
            'print(f"ran {STEPS} steps on ' + backend.name + ' -> {target}")',
        ]
        return "\n".join(lines)


def _comment(text: str) -> str:
    """``text`` as comment lines of at most 99 characters."""
    return "\n".join("# " + line for line in textwrap.wrap(text, 97, break_on_hyphens=False))


def _is_bias(net: PyNNNetwork, population: Any) -> bool:
    return net.populations.get(population.label) is not population


def _given(population: Any, names: list[str]) -> dict[str, np.ndarray]:
    """The parameters the cell type was made with (PyNN's parameter space: the values the
    converter passed, before any unit translation), one value per cell."""
    space = population.celltype.parameter_space
    out = {}
    for name in names:
        value = space[name]
        if hasattr(value, "evaluate"):
            value.shape = (population.size,)
            value = value.evaluate(simplify=False)
        out[name] = np.broadcast_to(np.asarray(value, dtype=np.float64), (population.size,))
    return out


def _initial(population: Any, variable: str) -> np.ndarray:
    value = population.initial_values.get(variable, 0.0)
    if hasattr(value, "evaluate"):
        value.shape = (population.size,)
        value = value.evaluate(simplify=False)
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (population.size,))


class _Helpers:
    """Functions of the converter copied into the script from their source, with the module
    constants and imports they use (and the converter functions they call, copied too)."""

    def __init__(self) -> None:
        self._sources: dict[str, str] = {}
        self._imports: set[str] = set()
        self._constants: dict[str, str] = {}

    def add(self, fn: Callable[..., Any]) -> str:
        plain = inspect.unwrap(fn)
        name = plain.__name__
        if name in self._sources:
            return name
        source = textwrap.dedent(inspect.getsource(fn))
        self._sources[name] = ""  # placeholder: recursion stops here
        for used in sorted(_globals_used(ast.parse(source))):
            self._depend(plain, used)
        self._sources[name] = source
        return name

    def _depend(self, fn: Callable[..., Any], used: str) -> None:
        scope = fn.__globals__
        if used not in scope:
            if hasattr(builtins, used):
                return
            raise UnsupportedError(
                f"cannot copy {fn.__name__} into a script: it uses {used!r}", target=TARGET
            )
        value = scope[used]
        if isinstance(value, types.ModuleType):
            module = value.__name__
            self._imports.add(f"import {module}" + ("" if module == used else f" as {used}"))
        elif callable(value) and getattr(value, "__module__", "").startswith("nirbridge."):
            self.add(value)
        elif isinstance(value, (list, tuple, dict, str, int, float, bool)):
            self._constants[used] = f"{used} = {value!r}"
        elif callable(value) and hasattr(value, "__module__"):
            self._imports.add(f"from {value.__module__} import {value.__name__}")
        else:
            raise UnsupportedError(
                f"cannot copy {fn.__name__} into a script: it uses {used!r} "
                f"({type(value).__name__})",
                target=TARGET,
            )

    def text(self) -> str:
        parts = sorted(self._imports - {"import numpy as np"})
        parts += list(self._constants.values())
        body = "\n\n\n".join(s.rstrip() for s in self._sources.values() if s)
        head = "\n".join(parts)
        return "\n\n".join(p for p in (head, body) if p)


def _globals_used(tree: ast.AST) -> set[str]:
    """Names a function's source reads that it does not bind itself (annotations left out:
    the script does not evaluate them)."""
    loaded: set[str] = set()
    bound: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_arg(self, node: ast.arg) -> None:
            bound.add(node.arg)  # the annotation is not visited

        def visit_FunctionDef(self, node: ast.FunctionDef) -> None:  # noqa: N802
            bound.add(node.name)
            for child in (*node.decorator_list, node.args, *node.body):
                self.visit(child)

        def visit_ClassDef(self, node: ast.ClassDef) -> None:  # noqa: N802
            bound.add(node.name)
            for child in (*node.decorator_list, *node.bases, *node.keywords, *node.body):
                self.visit(child)

        def visit_AnnAssign(self, node: ast.AnnAssign) -> None:  # noqa: N802
            self.visit(node.target)
            if node.value is not None:
                self.visit(node.value)

        def visit_Import(self, node: ast.Import) -> None:  # noqa: N802
            bound.update((a.asname or a.name).partition(".")[0] for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802
            bound.update(a.asname or a.name for a in node.names)

        def visit_Name(self, node: ast.Name) -> None:  # noqa: N802
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)

    Visitor().visit(tree)
    return loaded - bound
