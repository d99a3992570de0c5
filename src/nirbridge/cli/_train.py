"""``nirbridge train``: train a recipe and write the network with its learning rule as NIR."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

_EPILOG = """\
outputs:
  MODEL.nir      the trained network plus its learning rule (nirbridge metadata); runs spike
                 for spike on `nirbridge simulate` and the other targets.
  CHECKPOINT     written atomically after every epoch (default MODEL.nir.ckpt); --resume it to
                 continue an interrupted run exactly where it stopped.
  METRICS.json   test_accuracy, train_loss per epoch, seconds, seed, recipe.
  CURVES.png     learning curves (--plot).

examples:
  nirbridge train --dataset digits --algorithm surrogate --epochs 20 --output digits.nir
  nirbridge train --dataset yinyang --algorithm eventprop --seed 1 --output yy.nir \\
      --metrics yy.json --plot yy.png
  nirbridge train ... --resume yy.nir.ckpt   # after an interruption
"""


def add_parser(sub: Any) -> None:
    from ..training._recipes import ALGORITHMS, DATASETS

    p = sub.add_parser(
        "train",
        help="train a spiking network and write it with its learning rule as NIR",
        description="Train a recipe (network, encoding and learning rule chosen for the "
        "dataset and algorithm; see docs/training.md) and write the trained network with its "
        "learning rule to MODEL.nir.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", choices=DATASETS, required=True, help="dataset (no download)")
    p.add_argument("--algorithm", choices=ALGORITHMS, required=True, help="learning rule")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="weights and sample order")
    p.add_argument("--output", required=True, metavar="MODEL.nir", help="trained network")
    p.add_argument("--metrics", metavar="METRICS.json", help="write metrics here")
    p.add_argument("--plot", metavar="CURVES.png", help="plot learning curves here")
    p.add_argument(
        "--checkpoint", metavar="CHECKPOINT", help="checkpoint file (default: MODEL.nir.ckpt)"
    )
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue from this checkpoint")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="data-parallel processes on this machine (gloo); same weights as 1 process",
    )
    p.add_argument("--batch-size", type=int, metavar="B", help="global batch (default: recipe)")
    p.add_argument("--lr", type=float, metavar="RATE", help="learning rate (default: recipe)")
    p.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="progress bars (auto: only on a terminal)",
    )


def _recipe(args: argparse.Namespace):
    from ..training._recipes import recipe

    r = recipe(args.dataset, args.algorithm)
    changes = {}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    opt = {}
    if args.batch_size is not None:
        opt["batch_size"] = args.batch_size
    if args.lr is not None:
        opt["learning_rate"] = args.lr
    if opt:
        changes["optimizer"] = dataclasses.replace(r.optimizer, **opt)
    return dataclasses.replace(r, **changes)


def _run(rank: int, world: int, args: argparse.Namespace) -> None:
    from ..graph import write
    from ..training import Trainer
    from ..training._plots import plot_history

    recipe = _recipe(args)
    net = recipe.network(args.seed)
    rule = recipe.rule(net)
    train, test = recipe.data("train"), recipe.data("test")
    progress = {"auto": None, "on": True, "off": False}[args.progress]
    checkpoint = args.checkpoint or f"{args.output}.ckpt"
    trainer = Trainer(
        net,
        rule,
        seed=args.seed,
        checkpoint=checkpoint,
        progress=progress,
        schedule=recipe.schedule,
        lr_decay=recipe.lr_decay,
    )

    def report(rec) -> None:
        if rank == 0:
            test = "" if rec.test_accuracy is None else f", test accuracy {rec.test_accuracy:.4f}"
            print(
                f"epoch {rec.epoch}/{recipe.epochs}: train loss {rec.train_loss:.4f}, "
                f"train accuracy {rec.train_accuracy:.4f}{test} ({rec.seconds:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    start = time.perf_counter()
    try:
        trainer.fit(train, test, epochs=recipe.epochs, resume=args.resume, on_epoch=report)
    except KeyboardInterrupt:
        if rank == 0:
            done = len(trainer.history.epochs)
            print(
                f"nirbridge train: interrupted; {done} finished epoch(s) are in {checkpoint} "
                f"(continue with --resume {checkpoint})",
                file=sys.stderr,
            )
        raise
    if rank != 0:
        return
    write(args.output, trainer.to_nir())
    extra = {
        "seed": args.seed,
        "dataset": args.dataset,
        "algorithm": args.algorithm,
        "workers": world,
        "wall_seconds": time.perf_counter() - start,
        "recipe": json.loads(json.dumps(dataclasses.asdict(recipe), default=str)),
    }
    if args.metrics:
        trainer.write_metrics(args.metrics, **extra)
    if args.plot:
        plot_history(trainer.history, args.plot, title=f"{args.dataset} / {args.algorithm}")
    acc = trainer.history.metrics()["test_accuracy"]
    print(f"wrote {args.output} (test accuracy {acc:.4f})" if acc is not None else args.output)


def cmd_train(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise SystemExit("nirbridge train: --workers must be at least 1")
    if args.resume and not Path(args.resume).exists():
        from .._errors import CheckpointError

        raise CheckpointError(f"no checkpoint at {args.resume!r}")
    if args.workers == 1:
        _run(0, 1, args)
    else:
        from ..training import launch

        launch(_run, args.workers, args)
    return 0


__all__ = ["add_parser", "cmd_train"]
