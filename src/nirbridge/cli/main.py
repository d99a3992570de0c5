"""``nirbridge``: the umbrella command.

Subcommands:
    simulate   run a NIR graph on the reference simulator (IN.npz -> OUT.npz)
    inspect    show a NIR file's nodes, shapes, parameters, version, reset mode and metadata
    rule       check the learning rule stored in a NIR file (rule validate FILE.nir)
    train      train a spiking network and write it with its learning rule as NIR
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from .._errors import NirBridgeError
from ._commands import cmd_inspect, cmd_rule, cmd_simulate
from ._train import add_parser as add_train_parser
from ._train import cmd_train

_FILE_CONTRACT = """\
file contract (every nirbridge command):
  IN.npz   one array per Input node, named after the node, shape (steps, *input shape);
           a spike is the value 1 in its step.
  OUT.npz  one array per Output node, named after the node, shape (steps, *output shape);
           spikes as 0/1, in reference timing (entry t is the output of step t+1).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nirbridge",
        description="Spiking networks and their learning rules, portable through NIR.",
        epilog=_FILE_CONTRACT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nirbridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sim = sub.add_parser(
        "simulate",
        help="run a NIR graph on the reference simulator",
        description="Run MODEL.nir on nirbridge's reference simulator, which computes exactly "
        "the step semantics of docs/semantics.md, and write every Output node's activity.",
        epilog=_FILE_CONTRACT
        + "\nexample:\n  nirbridge simulate lif.nir --dt 1e-4 --input in.npz --output out.npz "
        "--plot raster.png\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("model", metavar="MODEL.nir", help="the NIR graph")
    sim.add_argument(
        "--dt",
        type=float,
        metavar="SECONDS",
        help="time step in seconds (default: the file's nirbridge.dt metadata; NIR itself "
        "carries none, so one of the two is needed)",
    )
    sim.add_argument(
        "--input",
        metavar="IN.npz",
        help="inputs, one array per Input node (default: zeros, then --steps is needed)",
    )
    sim.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="number of steps (default: the inputs' length; longer pads the inputs with zeros)",
    )
    sim.add_argument(
        "--reset",
        choices=("auto", "subtract", "zero"),
        default="auto",
        help="reset of spiking neurons: subtract the threshold, or set to v_reset ('zero'); "
        "auto: the file's metadata, else its NIR version (<= 1.0.5 subtract, later zero)",
    )
    sim.add_argument(
        "--integrator",
        choices=("euler", "exact"),
        default=None,
        help="euler (default; what snnTorch, Norse and the NIR paper compute) or exact "
        "(closed-form solution per step, as NEST and Brian2 integrate)",
    )
    sim.add_argument(
        "--time-unit",
        choices=("s", "ms", "us"),
        default=None,
        help="unit of the time constants in the file (default: metadata, else seconds)",
    )
    sim.add_argument("--output", required=True, metavar="OUT.npz", help="where to write outputs")
    sim.add_argument("--plot", metavar="RASTER.png", help="also plot the outputs to this image")
    sim.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="progress bar (auto: only on a terminal)",
    )

    ins = sub.add_parser(
        "inspect",
        help="show a NIR file's nodes, parameters, version, reset mode and metadata",
        description="Describe MODEL.nir: nodes with types, shapes and parameter ranges; edges "
        "(back edges marked); the file's NIR version and the reset mode it implies; nirbridge "
        "metadata (dt, integrator, initial state) and the learning rule, if any.",
    )
    ins.add_argument("model", metavar="MODEL.nir", help="the NIR graph")
    ins.add_argument("--json", action="store_true", help="print one JSON object instead")
    ins.add_argument(
        "--no-check",
        action="store_true",
        help="show the file even if it fails validation (problems are listed)",
    )

    rule = sub.add_parser(
        "rule",
        help="check the learning rule stored in a NIR file",
        description="Learning rules stored in NIR files (metadata nirbridge.learning_rule; "
        "see docs/learning.md).",
    )
    rule_sub = rule.add_subparsers(dest="rule_command", metavar="ACTION", required=True)
    rv = rule_sub.add_parser(
        "validate",
        help="check a file's learning rule against its graph",
        description="Read MODEL.nir, parse its learning rule and check it against the graph. "
        "Exit 0 with a one-line summary when valid; exit 2 with the error otherwise (no rule, "
        "a malformed or newer-schema rule, a rule naming edges or nodes the graph lacks).",
    )
    rv.add_argument("model", metavar="MODEL.nir", help="the NIR file")
    add_train_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "simulate":
            return cmd_simulate(args)
        if args.command == "inspect":
            return cmd_inspect(args)
        if args.command == "rule":
            return cmd_rule(args)
        if args.command == "train":
            return cmd_train(args)
    except NirBridgeError as exc:
        print(f"nirbridge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nirbridge {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
