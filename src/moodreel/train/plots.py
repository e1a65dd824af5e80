"""Learning-curve and confusion-matrix PNGs (matplotlib's object API: no global backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure


def plot_learning_curves(history: Sequence[dict[str, Any]], path: str | Path) -> None:
    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [r["train_loss"] for r in history], label="train")
    loss_ax.plot(epochs, [r["val_loss"] for r in history], label="val")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    acc_ax.plot(epochs, [r["train_acc"] for r in history], label="train")
    acc_ax.plot(epochs, [r["val_acc"] for r in history], label="val (7 classes)")
    acc_ax.plot(epochs, [r["val_acc4"] for r in history], label="val (4 basic)")
    raw = [r.get("raw_val_acc") for r in history]  # runs with a weight average
    if all(value not in (None, "") for value in raw):
        acc_ax.plot(epochs, [float(value) for value in raw], linestyle="--",
                    label="val (7 classes), raw weights")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=110)


def plot_confusion(confusion: Sequence[Sequence[int]], labels: Sequence[str],
                   path: str | Path, title: str = "Confusion (row-normalised)") -> None:
    counts = np.asarray(confusion, dtype=np.float64)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xlabel="predicted",
           ylabel="true", title=title)
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_yticklabels(labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    fig.savefig(path, dpi=110)


def plot_reliability(report: dict[str, Any], path: str | Path) -> None:
    """Reliability diagram before and after temperature scaling (``calibration_report``)."""
    fig = Figure(figsize=(10, 4.5), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, stage in zip(axes, ("before", "after"), strict=True):
        table = report[f"reliability_{stage}"]
        edges = np.asarray(table["edges"])
        centres = (edges[:-1] + edges[1:]) / 2
        accuracy = np.nan_to_num(np.asarray(table["accuracy"], dtype=float))
        ax.bar(centres, accuracy, width=np.diff(edges), edgecolor="black", alpha=0.7,
               label="accuracy")
        ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
        temperature = 1.0 if stage == "before" else report["temperature"]
        ax.set(xlabel="confidence (top probability)", xlim=(0, 1), ylim=(0, 1),
               title=f"{stage.capitalize()}: T = {temperature:.2f}, "
                     f"ECE = {100 * report[f'ece_{stage}']:.1f}%")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    axes[0].set_ylabel("accuracy")
    fig.savefig(path, dpi=110)
