"""``nir2pynn``: run a NIR graph on a PyNN simulator, in the reference's timing.

NEST is the default; Brian2 and NEURON run PyNN's standard cell types (zero reset only). sPyNNaker
is named in ``--simulator`` and fails with a clear message until it is supported.
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
from ._plot import plot_outputs

SIMULATORS = {
    "nest": "pyNN.nest",
    "brian2": "pyNN.brian2",
    "neuron": "pyNN.neuron",
    "spinnaker": "pyNN.spiNNaker",
}
SUPPORTED = ("nest", "brian2", "neuron", "spinnaker")

_EPILOG = """\
file contract: IN.npz holds one array per Input node, named after the node, shaped
(steps, *input shape), spikes as 0/1; OUT.npz one array per Output node, shaped
(steps, *output shape), spikes as 0/1 (voltages for non-spiking outputs), in the reference's
timing: the converter shifts every population by its depth and reads outputs that many steps late.

example:
  nir2pynn lif.nir --dt 1e-4 --input in.npz --output out.npz --plot raster.png
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
        help="PyNN backend (default: nest; brian2 and neuron: zero reset only)",
    )
    p.add_argument("--input", metavar="IN.npz", help="spike inputs, one array per Input node")
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
        "--emit-script", metavar="OUT.py", help="write a standalone PyNN script (not available yet)"
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
    if args.emit_script:
        raise UnsupportedError("--emit-script is not implemented yet", target="pynn")
    if args.simulator not in SUPPORTED:
        raise UnsupportedError(
            f"simulator {args.simulator!r} is not supported by nir2pynn yet (supported: "
            f"{', '.join(SUPPORTED)})",
            target="pynn",
        )
    graph = read(args.model, reset=args.reset)
    if args.map_only or args.simulator == "spinnaker":
        return _map_only(args, graph)
    from nirbridge.converters.pynn import to_pynn

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
    net = to_pynn(
        graph,
        sim,
        dt=args.dt,
        integrator=args.integrator,
        reset=args.reset,
        approximate=args.approximate,
        threads=args.threads,
        progress=sys.stderr.isatty(),
    )
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
        outputs = net.run(inputs, args.steps)
    spiking = {n: net.plan.populations[o.source].spiking for n, o in net.plan.outputs.items()}
    arrays = {n: (a.astype(np.uint8) if spiking[n] else a) for n, a in outputs.items()}
    if args.output:
        save_outputs(args.output, arrays)
    steps = next(iter(arrays.values())).shape[0] if arrays else 0
    print(
        f"ran {steps} steps on {args.simulator} (dt = {net.dt:g} s, {net.integrator}, "
        f"reset {net.reset}, {net.plan.n_synapses} synapses)"
        + (f" -> {args.output}" if args.output else "")
    )
    for name, arr in arrays.items():
        if spiking[name]:
            print(f"  {name}: {int(arr.sum())} spikes, shape {arr.shape}")
        else:
            print(f"  {name}: range [{arr.min():.4g}, {arr.max():.4g}], shape {arr.shape}")
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
    from nirbridge.converters.pynn._spinnaker import map_on_spinnaker

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
