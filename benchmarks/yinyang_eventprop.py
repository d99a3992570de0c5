"""Train the Yin-Yang classifier of Wunderlich & Pehle (2021) with EventProp; report test accuracy.

Network and loss as W&P's published run: 5 inputs (x, y, 1-x, 1-y and a bias spike, one spike
each at ``30 ms * value``, the bias at 0), 200 CubaLIF hidden, 3 CubaLIF outputs (tau_mem 20 ms,
tau_syn 5 ms, threshold 1), time-to-first-spike loss (tau0 0.5 ms, tau1 6.4 ms, alpha 0.003),
Adam (learning rate 5e-3, decay 0.95 per epoch), initial weights N(1.5, 0.78) and N(0.93, 0.1)
in W&P's units (a spike through weight w adds w to I, tau_mem dV/dt = -V + I). Here on the euler
grid of ``_layers.py`` (``--dt``, default 0.05 ms; ``--t-end`` per sample, default 50 ms), so a
weight of the step equations is ``w * dt / tau_mem``; batches of ``--batch`` (default 128), 45
epochs. With dt 0.1 ms or W&P's batch of 32 the runs degrade or collapse on this grid (see
docs/eventprop.md). After training the network is
exported to NIR with its EventProp rule and 100 test samples are checked spike for spike on the
reference.

Usage: ``python benchmarks/yinyang_eventprop.py [--epochs 45] [--seed 0] [--cpu-minutes 55]
[--curve curve.json]``; prints progress per epoch and one JSON line at the end (final test
accuracy, test accuracy at the best validation epoch, seconds, seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (sets one thread before torch is imported)
import numpy as np  # noqa: E402
import torch  # noqa: E402

import nirbridge  # noqa: E402
from nirbridge.learning import EventProp, Loss, Optimizer, Scope  # noqa: E402
from nirbridge.training import LayerParams  # noqa: E402
from nirbridge.training.datasets import (  # noqa: E402
    latency_raster,
    yinyang_spike_times,
    yinyang_split,
)
from nirbridge.training.eventprop import (  # noqa: E402
    eventprop_forward,
    layers_to_nir,
    readout_loss,
)

TAU_MEM, TAU_SYN = 20e-3, 5e-3
LOSS = Loss(name="ttfs", tau0=0.5e-3, tau1=6.4e-3, alpha=0.003)


def data(split: str, t_end: float, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
    points, labels = yinyang_split(split)
    steps = int(round(t_end / dt))
    raster = latency_raster(yinyang_spike_times(points), dt, steps)
    return torch.tensor(raster), torch.tensor(labels)


def network(w_hidden: torch.Tensor, w_out: torch.Tensor, dt: float) -> list:
    """Weights in W&P's units -> layers of the step equations (scaled by dt / tau_mem)."""
    params = LayerParams(kind="cubalif", dt=dt, tau_mem=TAU_MEM, tau_syn=TAU_SYN)
    scale = dt / TAU_MEM
    return [(w_hidden * scale, None, None, params), (w_out * scale, None, None, params)]


def evaluate(w_hidden, w_out, x, labels, dt: float, chunk: int = 500) -> tuple[float, float]:
    correct, losses = 0, []
    with torch.no_grad():
        for lo in range(0, x.shape[1], chunk):
            out = eventprop_forward(x[:, lo : lo + chunk], network(w_hidden, w_out, dt), LOSS)
            y = labels[lo : lo + chunk]
            correct += int((out.prediction == y).sum())
            losses.append(float(readout_loss(out.readout, y, LOSS)) * len(y))
    return correct / x.shape[1], sum(losses) / x.shape[1]


def export_check(w_hidden, w_out, x, dt: float, lr: float, batch: int, n: int = 100) -> dict:
    """Export with the rule, run on the reference, compare the output spikes step for step."""
    layers = network(w_hidden.detach(), w_out.detach(), dt)
    rule = EventProp(
        scope=Scope(plastic_edges=(("input", "fc0"), ("n0", "fc1")), readout="n1"),
        loss=LOSS,
        optimizer=Optimizer.adam(lr, batch_size=batch),
    )
    graph = layers_to_nir(layers, rule=rule)
    sample = x[:, :n].double()
    result = nirbridge.simulate(graph, {"input": sample.numpy()}, batched=True, record=["n0"])
    layers64 = [(w.double(), b, r, p) for w, b, r, p in layers]
    out = eventprop_forward(sample, layers64, LOSS)
    same = np.array_equal(out.spike_raster(0).numpy(), result.recorded["n0"]) and np.array_equal(
        out.spike_raster(1).numpy(), result.outputs["output"]
    )
    return {
        "export_samples": n,
        "export_spike_exact": bool(same),
        "export_rule": nirbridge.learning.rule_of(graph).kind,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=45)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-3, help="Adam's learning rate")
    parser.add_argument("--decay", type=float, default=0.95, help="learning rate factor per epoch")
    parser.add_argument("--t-end", type=float, default=50e-3, help="trial length in seconds")
    parser.add_argument("--dt", type=float, default=5e-5, help="time step in seconds")
    parser.add_argument("--cpu-minutes", type=float, default=55.0, help="stop after this CPU time")
    parser.add_argument("--curve", type=Path, default=None, help="write the curve as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    x_train, y_train = data("train", args.t_end, args.dt)
    x_val, y_val = data("validation", args.t_end, args.dt)
    x_test, y_test = data("test", args.t_end, args.dt)
    w_hidden = (torch.randn(200, 5) * 0.78 + 1.5).requires_grad_()
    w_out = (torch.randn(3, 200) * 0.1 + 0.93).requires_grad_()
    opt = torch.optim.Adam([w_hidden, w_out], lr=args.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=args.decay)
    gen = torch.Generator().manual_seed(args.seed)
    curve = []
    acc0, _ = evaluate(w_hidden, w_out, x_test, y_test, args.dt)
    print(f"epoch 0: test accuracy {acc0:.4f}", flush=True)
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(x_train.shape[1], generator=gen)
        losses = []
        for lo in range(0, len(order), args.batch):
            idx = order[lo : lo + args.batch]
            out = eventprop_forward(x_train[:, idx], network(w_hidden, w_out, args.dt), LOSS)
            loss = readout_loss(out.readout, y_train[idx], LOSS)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        sched.step()
        val_acc, _ = evaluate(w_hidden, w_out, x_val, y_val, args.dt)
        test_acc, test_loss = evaluate(w_hidden, w_out, x_test, y_test, args.dt)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        curve.append(
            {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "validation_accuracy": val_acc,
                "test_accuracy": test_acc,
                "test_loss": test_loss,
                "seconds": elapsed,
                "cpu_seconds": cpu,
            }
        )
        print(
            f"epoch {epoch}: train loss {np.mean(losses):.4f}, validation {val_acc:.4f}, "
            f"test {test_acc:.4f}, {elapsed:.0f} s ({cpu:.0f} s CPU)",
            flush=True,
        )
        if args.curve is not None:
            args.curve.write_text(json.dumps(curve, indent=1))
        if cpu > 60 * args.cpu_minutes:
            break
    best = max(curve, key=lambda c: c["validation_accuracy"])
    result = {
        "benchmark": "yinyang_eventprop",
        "seed": args.seed,
        "data_seeds": {"train": 42, "validation": 41, "test": 40},
        "epochs": len(curve),
        "batch": args.batch,
        "learning_rate": args.lr,
        "lr_decay_per_epoch": args.decay,
        "dt": args.dt,
        "t_end": args.t_end,
        "test_accuracy": curve[-1]["test_accuracy"],
        "test_accuracy_at_best_validation": best["test_accuracy"],
        "best_validation_epoch": best["epoch"],
        "seconds": curve[-1]["seconds"],
        "cpu_seconds": curve[-1]["cpu_seconds"],
        **export_check(w_hidden, w_out, x_test, args.dt, args.lr, args.batch),
        **_common.machine(),
    }
    _common.emit(result)


if __name__ == "__main__":
    main()
