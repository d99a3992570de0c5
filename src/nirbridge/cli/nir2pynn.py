"""``nir2pynn``: run a NIR graph on a PyNN simulator, in the reference's timing.

``--emit-script OUT.py`` writes the converted network as a standalone, commented PyNN script
(numpy and pyNN only; no nirbridge) with its arrays (cell parameters, weights, input spike times)
in ``OUT.npz`` beside it; ``python OUT.py [OUTPUT.npz]`` runs it and writes the outputs in the
OUT.npz contract below. With ``--emit-script`` and neither ``--output`` nor ``--plot``, nothing
runs here. Progress bars (building, running) go to stderr when it is a terminal, or with
``--progress``.

NEST is the default (native models, both resets, spike or analog inputs); Brian2 runs PyNN's
standard cell types in both resets (spike or analog inputs); NEURON runs them with zero reset and
spike inputs, approximately (docs/pynn.md); sPyNNaker maps the network onto a virtual board and
prints the mapping report (cores, placements, fixed-point errors): nothing runs without a board.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from .._errors import NirBridgeError, SimulationInputError, UnsupportedError
from ..graph import read
from ._files import load_inputs, save_outputs
from ._outputs import print_summary, spiking_outputs, stored
from ._plot import plot_outputs
from ._progress import ProgressSim, progress_enabled

SIMULATORS = {
    "nest": "pyNN.nest",
    "brian2": "pyNN.brian2",
    "neuron": "pyNN.neuron",
    "spinnaker": "pyNN.spiNNaker",
}
SUPPORTED = ("nest", "brian2", "neuron", "spinnaker")

_EPILOG = """\
file contract: IN.npz holds one array per Input node, named after the node, shaped
(steps, *input shape), spikes as 0/1 or analog values (NEST and Brian2 drive analog inputs as
per-step currents); OUT.npz one array per Output node, shaped
(steps, *output shape), spikes as 0/1 (voltages for non-spiking outputs), in the reference's
timing: the converter shifts every population by its depth and reads outputs that many steps late.

examples:
  nir2pynn lif.nir --dt 1e-4 --input in.npz --output out.npz --plot raster.png
  nir2pynn lif.nir --dt 1e-4 --input in.npz --emit-script lif_nest.py   # + lif_nest.npz
  python lif_nest.py out.npz      # the same outputs, with PyNN and NEST only
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nir2pynn",
        description="Run a NIR graph on a PyNN simulator so that it reproduces nirbridge's "
        "reference simulator (docs/semantics.md) spike for spike where the simulator can, and "
        "say so by node where it cannot.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL.nir", help="the NIR graph")
    p.add_argument(
        "--dt",
        type=float,
        metavar="SECONDS",
        help="reference time step in seconds (default: the file's nirbridge.dt)",
    )
    p.add_argument(
        "--simulator",
        choices=tuple(SIMULATORS),
        default="nest",
        help="PyNN backend (default: nest; neuron: zero reset, spike inputs, approximate; "
        "spinnaker: maps on a virtual board, runs nothing)",
    )
    p.add_argument("--input", metavar="IN.npz", help="inputs, one array per Input node")
    p.add_argument("--steps", type=int, metavar="N", help="steps to run (default: input length)")
    p.add_argument(
        "--integrator",
        choices=("euler", "exact"),
        default=None,
        help="discretization to reproduce (default: metadata, else euler)",
    )
    p.add_argument(
        "--reset",
        choices=("auto", "subtract", "zero"),
        default="auto",
        help="reset mode (auto: metadata, else the NIR version of the file)",
    )
    p.add_argument(
        "--approximate",
        action="store_true",
        help="allow recurrences that need a delay below one step (they act one step "
        "late); without it such graphs are refused",
    )
    p.add_argument("--output", metavar="OUT.npz", help="where to write the outputs")
    p.add_argument("--plot", metavar="RASTER.png", help="plot the outputs to this image")
    p.add_argument("--threads", type=int, default=1, help="simulator threads (default 1)")
    p.add_argument(
        "--map-only",
        action="store_true",
        help="spinnaker (implied there): map onto a virtual SpiNNaker board and report cores, "
        "placements and fixed-point errors instead of running",
    )
    p.add_argument(
        "--emit-script",
        metavar="OUT.py",
        help="write the converted network as a standalone, commented PyNN script (needs only "
        "numpy and PyNN) with its arrays and input spike times in OUT.npz beside it; runs "
        "nothing here unless --output or --plot is given",
    )
    p.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        nargs="?",
        const="on",
        default="auto",
        help="progress bars for building and running, on stderr (auto: only on a terminal; "
        "--progress alone: on)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except NirBridgeError as exc:
        print(f"nir2pynn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nir2pynn: interrupted; nothing was written", file=sys.stderr)
        return 130


def _quiet_simulators() -> None:
    """NEST prints a banner on import and PyNN 0.13 calls NEST APIs that 3.10 deprecates."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    for module in ("nest", "pyNN", "neo", "quantities", "brian2", "neuron"):
        warnings.filterwarnings("ignore", module=module + r"(\..*)?")


def _run(args: argparse.Namespace) -> int:
    _quiet_simulators()
    if args.simulator not in SUPPORTED:
        raise UnsupportedError(
            f"simulator {args.simulator!r} is not supported by nir2pynn yet (supported: "
            f"{', '.join(SUPPORTED)})",
            target="pynn",
        )
    if args.emit_script and args.output:
        arrays = os.path.splitext(args.emit_script)[0] + ".npz"
        if os.path.abspath(arrays) == os.path.abspath(args.output):
            raise UnsupportedError(
                f"--output {args.output} is where --emit-script writes the script's arrays; "
                "name the outputs another way",
                target="pynn",
            )
    graph = read(args.model, reset=args.reset)
    if args.map_only or args.simulator == "spinnaker":
        if args.emit_script:
            raise UnsupportedError(
                "--emit-script writes scripts for simulators that run here, not for mapping "
                "onto a virtual board",
                target="pynn",
            )
        return _map_only(args, graph)
    from nirbridge.converters.pynn import to_pynn
    from nirbridge.converters.pynn._script import BuildLog, write_script

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sim = importlib.import_module(SIMULATORS[args.simulator])
    except ImportError as exc:
        raise UnsupportedError(
            f"PyNN backend {SIMULATORS[args.simulator]} is not installed ({exc}); install: "
            f"pip install 'nirbridge[{args.simulator}]'",
            target="pynn",
        ) from exc
    progress = progress_enabled(args.progress)
    log = BuildLog(sim) if args.emit_script else None  # keeps what the converter makes
    module = log if log is not None else sim
    net = to_pynn(
        graph,
        ProgressSim(module) if progress else module,
        dt=args.dt,
        integrator=args.integrator,
        reset=args.reset,
        approximate=args.approximate,
        threads=args.threads,
        progress=progress,
    )
    spiking = spiking_outputs(graph)
    with net:
        inputs_names = [p.name for p in net.plan.populations.values() if p.kind == "Input"]
        if args.input:
            inputs = load_inputs(args.input)
        elif args.steps is not None:
            inputs = {
                n: np.zeros((args.steps, *net.plan.populations[n].shape)) for n in inputs_names
            }
        else:
            raise SimulationInputError("give --input IN.npz, or --steps N to run on zero input")
        for note in net.plan.approximations:
            print(f"nir2pynn: approximation: {note}", file=sys.stderr)
        if log is not None:
            data = write_script(
                args.emit_script,
                net,
                log,
                inputs,
                args.steps,
                spiking=spiking,
                title=os.path.basename(args.model),
            )
            print(
                f"script -> {args.emit_script} (arrays: {data}); run: python "
                f"{args.emit_script} [OUTPUT.npz]"
            )
            if not (args.output or args.plot):
                return 0
        outputs = net.run(inputs, args.steps)
    arrays = stored(outputs, spiking)
    if args.output:
        save_outputs(args.output, arrays)
    steps = next(iter(arrays.values())).shape[0] if arrays else 0
    print(
        f"ran {steps} steps on {args.simulator} (dt = {net.dt:g} s, {net.integrator}, "
        f"reset {net.reset}, {net.plan.n_synapses} synapses)"
        + (f" -> {args.output}" if args.output else "")
    )
    print_summary(arrays, spiking)
    if args.plot:
        plot_outputs(
            args.plot,
            outputs,
            dt=net.dt,
            spiking=spiking,
            title=f"{args.model} on {args.simulator}",
        )
        print(f"  plot -> {args.plot}")
    return 0


def _map_only(args: argparse.Namespace, graph) -> int:
    """sPyNNaker on a virtual board: the mapping report (nothing runs)."""
    if args.simulator != "spinnaker":
        raise UnsupportedError("--map-only maps onto SpiNNaker: use --simulator spinnaker")
    from nirbridge.converters.pynn import map_on_spinnaker

    inputs = load_inputs(args.input) if args.input else None
    steps = args.steps or (next(iter(inputs.values())).shape[0] if inputs else 1000)
    report = map_on_spinnaker(
        graph,
        dt=args.dt,
        integrator=args.integrator,
        reset=args.reset,
        steps=steps,
        approximate=args.approximate,
        inputs=inputs,
    )
    print(report.summary())
    return 0 if report.fits else 1


if __name__ == "__main__":
    sys.exit(main())
