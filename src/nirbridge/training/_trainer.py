"""The training loop every rule shares: epochs, optimizer, checkpoints, metrics, processes.

Runs are reproducible and resumable by construction: the sample order of epoch ``e`` is drawn
from ``seed`` and ``e`` alone, and a checkpoint (network, optimizer, history, written atomically
after every epoch) is all the state there is, so ``fit(resume=...)`` continues a run exactly as
if it had not stopped. With ``torch.distributed`` initialised, each process takes its contiguous
part of every global batch and gradients are summed across processes (each process divides its
losses by the global batch size), so N processes compute the weights one process computes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .._errors import CheckpointError, LearningRuleError
from ..learning import LearningRule, Optimizer
from ._data import SpikeDataset
from ._engines import Engine, engine_for
from ._network import SpikingNetwork

CHECKPOINT_FORMAT = 1


@dataclasses.dataclass
class EpochRecord:
    """What one epoch measured."""

    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float | None
    test_accuracy: float | None
    seconds: float


@dataclasses.dataclass
class History:
    """Every epoch's record, and the metrics file's content."""

    epochs: list[EpochRecord] = dataclasses.field(default_factory=list)

    def metrics(self, **extra: Any) -> dict[str, Any]:
        last = self.epochs[-1] if self.epochs else None
        return {
            "test_accuracy": None if last is None else last.test_accuracy,
            "train_loss": [e.train_loss for e in self.epochs],
            "train_accuracy": [e.train_accuracy for e in self.epochs],
            "test_loss": [e.test_loss for e in self.epochs],
            "test_accuracy_per_epoch": [e.test_accuracy for e in self.epochs],
            "seconds": sum(e.seconds for e in self.epochs),
            "epochs": len(self.epochs),
            **extra,
        }


def make_optimizer(spec: Optimizer, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The torch optimizer for the schema's :class:`~nirbridge.learning.Optimizer`."""
    if spec.name == "adam":
        return torch.optim.Adam(
            params,
            lr=spec.learning_rate,
            betas=(spec.beta_1, spec.beta_2),
            eps=spec.epsilon,
            weight_decay=spec.weight_decay,
        )
    return torch.optim.SGD(
        params, lr=spec.learning_rate, momentum=spec.momentum or 0.0, weight_decay=spec.weight_decay
    )


SCHEDULES = ("constant", "cosine", "exponential")


def learning_rate(
    base: float, schedule: str, epoch: int, epochs: int, decay: float = 0.95
) -> float:
    """The learning rate of ``epoch`` (0-based) of ``epochs`` under ``schedule``."""
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * epoch / max(epochs, 1)))
    if schedule == "exponential":
        return base * decay**epoch
    return base


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of ``epoch``: a function of the seed and the epoch only."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


def _distributed() -> tuple[int, int]:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Trainer:
    """Train ``network`` with ``rule`` (its optimizer, batch size, loss, regularizers).

    Args:
        network: The network; trained in place.
        rule: :class:`~nirbridge.learning.SurrogateGradient` or
            :class:`~nirbridge.learning.EventProp` (e-prop trains with its own online learner).
        engine: Overrides the rule's default engine (e.g. ``SurrogateEngine(rule, impl="eager")``).
        seed: Seeds the sample order of every epoch.
        checkpoint: File written atomically after every epoch (and read by ``resume``).
        progress: Show progress bars on stderr (default: when stderr is a terminal).
        schedule: Learning rate per epoch: "constant" (the rule's), "cosine" (the rule's
            rate decayed along half a cosine to 0 at the last epoch) or "exponential" (times
            ``lr_decay`` per epoch). A function of the epoch only, so resumed runs follow it.
        lr_decay: The factor per epoch of the "exponential" schedule.
    """

    def __init__(
        self,
        network: SpikingNetwork,
        rule: LearningRule,
        *,
        engine: Engine | None = None,
        seed: int = 0,
        checkpoint: str | os.PathLike | None = None,
        progress: bool | None = None,
        schedule: str = "constant",
        lr_decay: float = 0.95,
    ) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {SCHEDULES}, got {schedule!r}")
        self.schedule, self.lr_decay = schedule, lr_decay
        self.network = network
        self.rule = rule
        self.engine = engine if engine is not None else engine_for(rule)
        spec = getattr(rule, "optimizer", None)
        if spec is None:
            raise LearningRuleError("the rule has no optimizer", rule=rule.kind, field="optimizer")
        self.spec: Optimizer = spec
        self.optimizer = make_optimizer(spec, list(network.parameters()))
        self.seed = seed
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.history = History()
        self.rank, self.world = _distributed()
        if self.world > 1 and getattr(self.engine, "applies_updates", False):
            raise LearningRuleError(
                "this rule changes the weights during each batch; it cannot be data-parallel",
                rule=rule.kind,
                expected="one process",
                got=f"{self.world} processes",
            )

    # -- the loop -------------------------------------------------------------------------------

    def fit(
        self,
        train: SpikeDataset,
        test: SpikeDataset | None = None,
        *,
        epochs: int | None = None,
        resume: str | os.PathLike | None = None,
        on_epoch: Callable[[EpochRecord], None] | None = None,
    ) -> History:
        """Train for ``epochs`` (default: the rule's ``epochs``) and return the history.

        ``resume`` continues from a checkpoint: the epochs it holds are not repeated.
        """
        epochs = getattr(self.rule, "epochs", 1) if epochs is None else epochs
        if resume is not None:
            self.load_checkpoint(resume)
        self._check_data(train)
        for epoch in range(len(self.history.epochs), epochs):
            start = time.perf_counter()
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate(
                    self.spec.learning_rate, self.schedule, epoch, epochs, self.lr_decay
                )
            loss, acc = self._train_epoch(train, epoch, epochs)
            test_loss = test_acc = None
            if test is not None:
                test_loss, test_acc = self.evaluate(test)
            record = EpochRecord(
                epoch + 1, loss, acc, test_loss, test_acc, time.perf_counter() - start
            )
            self.history.epochs.append(record)
            if self.checkpoint is not None and self.rank == 0:
                self.save_checkpoint(self.checkpoint)
            if on_epoch is not None:
                on_epoch(record)
        return self.history

    def _check_data(self, data: SpikeDataset) -> None:
        net = self.network
        if data.n_in != net.sizes[0]:
            raise ValueError(
                f"dataset {data.name!r} has {data.n_in} inputs, the network takes {net.sizes[0]}"
            )
        if not math.isclose(data.dt, net.dt, rel_tol=1e-9):
            raise ValueError(
                f"dataset {data.name!r} is sampled at dt={data.dt}, network dt={net.dt}"
            )

    def _train_epoch(self, data: SpikeDataset, epoch: int, epochs: int) -> tuple[float, float]:
        from tqdm import tqdm

        net, batch = self.network, self.spec.batch_size
        dtype = next(net.parameters()).dtype
        order = epoch_order(len(data), self.seed, epoch)
        total_loss = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.float64)
        n_batches = math.ceil(len(data) / batch)
        bar = tqdm(
            data.batches(batch, order=order, rank=self.rank, world=self.world, dtype=dtype),
            total=n_batches,
            desc=f"epoch {epoch + 1}/{epochs}",
            disable=not self.progress or self.rank != 0,
            leave=False,
            file=sys.stderr,
        )
        net.train()
        for x, labels, size in bar:
            if getattr(self.engine, "applies_updates", False):
                result = self.engine.train_batch(net, x, labels)
                total_loss += result.loss.detach().to(torch.float64) * x.shape[1]
                correct += (result.predictions == labels).sum()
                continue
            self.optimizer.zero_grad(set_to_none=False)
            result = self.engine.run(net, x, labels, normalizer=size, share=1.0 / self.world)
            result.loss.backward()
            self._reduce_gradients()
            self.optimizer.step()
            self._clip_weights()
            total_loss += result.loss.detach().to(torch.float64) * size
            correct += (result.predictions == labels).sum()
            bar.set_postfix(loss=f"{float(result.loss.detach()) * self.world:.4f}")
        totals = self._reduce(torch.stack([total_loss, correct]))
        return float(totals[0]) / len(data), float(totals[1]) / len(data)

    @torch.no_grad()
    def evaluate(self, data: SpikeDataset) -> tuple[float, float]:
        """Mean loss and accuracy on ``data`` (every process takes its share of each batch)."""
        net = self.network
        net.eval()
        dtype = next(net.parameters()).dtype
        total = torch.zeros(2, dtype=torch.float64)
        batch = max(self.spec.batch_size, 256)
        for x, labels, size in data.batches(batch, rank=self.rank, world=self.world, dtype=dtype):
            if x.shape[1] == 0:
                continue
            result = self.engine.run(net, x, labels, normalizer=size)
            total[0] += float(result.loss) * size
            total[1] += float((result.predictions == labels).sum())
        total = self._reduce(total)
        return float(total[0]) / len(data), float(total[1]) / len(data)

    def _reduce_gradients(self) -> None:
        if self.world == 1:
            return
        for p in self.network.parameters():
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad)

    def _reduce(self, values: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            torch.distributed.all_reduce(values)
        return values

    @torch.no_grad()
    def _clip_weights(self) -> None:
        lo, hi = self.spec.w_min, self.spec.w_max
        if lo is None and hi is None:
            return
        for layer in self.network.layers:
            for w in (layer.weight, layer.rec_weight):
                if w is not None:
                    w.clamp_(min=lo, max=hi)

    # -- checkpoints ----------------------------------------------------------------------------

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write network, optimizer and history to ``path`` atomically (temp file + rename)."""
        path = Path(path)
        state = {
            "format": CHECKPOINT_FORMAT,
            "rule": self.rule.kind,
            "sizes": self.network.sizes,
            "seed": self.seed,
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "history": [dataclasses.asdict(e) for e in self.history.epochs],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore network, optimizer and history from a checkpoint of this network and rule."""
        import pickle

        try:
            state = torch.load(Path(path), map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
            raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {exc}") from exc
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{str(path)!r} is not a nirbridge training checkpoint")
        for key, mine in (
            ("rule", self.rule.kind),
            ("sizes", self.network.sizes),
            ("seed", self.seed),
        ):
            if state[key] != mine:
                raise CheckpointError(
                    f"checkpoint {str(path)!r} has {key} {state[key]!r}, this run {mine!r}"
                )
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.history = History([EpochRecord(**e) for e in state["history"]])
        if hasattr(self.engine, "reset"):
            self.engine.reset()

    def to_nir(self):
        """The trained network with its rule, as the engine computes it."""
        return self.engine.to_nir(self.network)

    def write_metrics(self, path: str | os.PathLike, **extra: Any) -> None:
        """Write the history as METRICS.json (atomically)."""
        path = Path(path)
        text = json.dumps(self.history.metrics(**extra), indent=2, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent or ".")
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, path)


__all__ = [
    "EpochRecord",
    "History",
    "SCHEDULES",
    "Trainer",
    "epoch_order",
    "learning_rate",
    "make_optimizer",
]
