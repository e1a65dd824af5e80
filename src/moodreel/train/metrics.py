"""Classification metrics in numpy (no torch), shared by training and ``moodreel eval``.

The 4-class view takes the argmax over the basic emotions (happy, sad, neutral, angry) and is
scored only on images whose true label is one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from moodreel.labels import BASIC_EMOTIONS, BASIC_INDICES, EMOTIONS


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int
                     ) -> np.ndarray:
    """``(K, K)`` counts, rows = true class, columns = predicted class."""
    index = np.asarray(labels, dtype=np.int64) * num_classes + np.asarray(predictions)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def per_class(confusion: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    tp = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, actual, strict=True)
    }


def accuracy(confusion: np.ndarray) -> float:
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else 0.0


def basic_view(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions in the 4-class view, for images whose label is basic."""
    labels = np.asarray(labels)
    keep = np.isin(labels, BASIC_INDICES)
    remap = np.full(len(EMOTIONS), -1)
    remap[list(BASIC_INDICES)] = np.arange(len(BASIC_INDICES))
    predictions = np.asarray(scores)[keep][:, list(BASIC_INDICES)].argmax(axis=1)
    return remap[labels[keep]], predictions


def confusions(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """7-class and 4-class-view confusion matrices for scores ``(N, 7)``."""
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    confusion7 = confusion_matrix(labels, scores.argmax(axis=1), len(EMOTIONS))
    labels4, predictions4 = basic_view(labels, scores)
    return confusion7, confusion_matrix(labels4, predictions4, len(BASIC_EMOTIONS))


def report_from_confusions(confusion7: np.ndarray, confusion4: np.ndarray) -> dict[str, Any]:
    """The JSON-ready evaluation report (accuracies, per-class metrics, confusions)."""
    classes = per_class(confusion7, EMOTIONS)
    return {
        "n": int(confusion7.sum()),
        "n_4": int(confusion4.sum()),
        "accuracy_7": accuracy(confusion7),
        "accuracy_4": accuracy(confusion4),
        "macro_f1_7": float(np.mean([c["f1"] for c in classes.values()])),
        "labels": list(EMOTIONS),
        "labels_4": list(BASIC_EMOTIONS),
        "per_class": classes,
        "per_class_4": per_class(confusion4, BASIC_EMOTIONS),
        "confusion": np.asarray(confusion7).tolist(),
        "confusion_4": np.asarray(confusion4).tolist(),
    }


def evaluate_scores(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """Full report for 7-class scores ``(N, 7)`` (probabilities or logits) and labels."""
    return report_from_confusions(*confusions(labels, scores))


def format_report(report: dict[str, Any]) -> str:
    """A human-readable table of a report from ``evaluate_scores``."""
    lines = [
        f"images: {report['n']}  accuracy (7 classes): {report['accuracy_7']:.2%}  "
        f"accuracy (4 basic, n={report['n_4']}): {report['accuracy_4']:.2%}",
        "",
        f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for name, row in report["per_class"].items():
        lines.append(f"{name:<10}{row['precision']:>10.3f}{row['recall']:>10.3f}"
                     f"{row['f1']:>10.3f}{row['support']:>10d}")
    lines += ["", "confusion (rows true, columns predicted):",
              " " * 10 + "".join(f"{name[:8]:>9}" for name in report["labels"])]
    for name, row in zip(report["labels"], report["confusion"], strict=True):
        lines.append(f"{name:<10}" + "".join(f"{v:>9d}" for v in row))
    return "\n".join(lines)
