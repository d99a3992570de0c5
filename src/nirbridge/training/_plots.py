"""Learning curves of a training run."""

from __future__ import annotations

import os

from ._trainer import History


def plot_history(history: History, path: str | os.PathLike, *, title: str = "") -> None:
    """Loss and accuracy per epoch (train and test) in two panels, written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [e.epoch for e in history.epochs]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax_loss.plot(epochs, [e.train_loss for e in history.epochs], "o-", ms=3, label="train")
    if any(e.test_loss is not None for e in history.epochs):
        ax_loss.plot(epochs, [e.test_loss for e in history.epochs], "s-", ms=3, label="test")
    ax_loss.set(xlabel="epoch", ylabel="loss")
    ax_acc.plot(epochs, [e.train_accuracy for e in history.epochs], "o-", ms=3, label="train")
    if any(e.test_accuracy is not None for e in history.epochs):
        ax_acc.plot(epochs, [e.test_accuracy for e in history.epochs], "s-", ms=3, label="test")
    accuracies = [a for e in history.epochs for a in (e.train_accuracy, e.test_accuracy)]
    lowest = min((a for a in accuracies if a is not None), default=0.0)
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(max(0.0, lowest - 0.02), 1.0))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = ["plot_history"]
