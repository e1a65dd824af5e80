"""Per-class logit offsets chosen on ``val``: what they are worth on faces they were not fitted on.

    .venv/bin/python benchmarks/class_offsets.py [MODEL.onnx] [--data ../shared/data/fer2013]
        [--repeats 5] [--seed 0]

Why: issue 4 allows thresholds to be chosen on ``val``. Adding one offset per class to the
logits moves the decision boundaries without retraining, and fitted on all of ``val`` it
always raises ``val`` accuracy, since it is tuned on the very faces it is scored on. Whether
it would raise accuracy on unseen faces is what counts, so this fits the offsets on one random
half of ``val`` and scores them on the other, both ways round, ``--repeats`` times.

Prints the model's accuracy, the offsets fitted on all of ``val`` with their in-sample
accuracy (optimistic by construction), and each held-out half's change in accuracy with their
mean and standard deviation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from frames import DEFAULT_DATA

from moodreel.assets import default_model_path
from moodreel.data.fer2013 import load_split
from moodreel.labels import EMOTIONS
from moodreel.train.evaluate import logits_of
from moodreel.vision.classifier import EmotionClassifier

#: Offsets tried for each class, in logits.
GRID = np.linspace(-1.5, 1.5, 61)
#: Passes of coordinate ascent over the classes.
PASSES = 4


def accuracy(logits: np.ndarray, labels: np.ndarray, offsets: np.ndarray | float = 0.0) -> float:
    return float(((logits + offsets).argmax(1) == labels).mean())


def fit_offsets(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Offsets maximising accuracy, one class at a time over ``GRID`` (accuracy is a step
    function of them, so no gradient); centred, since a common shift changes nothing."""
    offsets = np.zeros(logits.shape[1])
    for _ in range(PASSES):
        for k in range(len(offsets)):
            best_acc, best = accuracy(logits, labels, offsets), offsets[k]
            for value in GRID:
                offsets[k] = value
                trial_acc = accuracy(logits, labels, offsets)
                if trial_acc > best_acc:
                    best_acc, best = trial_acc, value
            offsets[k] = best
    return offsets - offsets.mean()


def held_out_gains(logits: np.ndarray, labels: np.ndarray, repeats: int, seed: int) -> list[float]:
    """Accuracy change on one half of the faces from offsets fitted on the other half."""
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(repeats):
        order = rng.permutation(len(labels))
        halves = order[:len(order) // 2], order[len(order) // 2:]
        for fit, held in (halves, halves[::-1]):
            offsets = fit_offsets(logits[fit], labels[fit])
            gains.append(accuracy(logits[held], labels[held], offsets)
                         - accuracy(logits[held], labels[held]))
    return gains


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, nargs="?", default=None,
                        help="ONNX model (default: the shipped one)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5, help="random halvings of val")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    path = args.model or default_model_path()
    dataset = load_split(args.data, "val")
    classifier = EmotionClassifier(path, threads=1)
    logits = logits_of(classifier, dataset.images).astype(np.float64)
    labels = np.asarray(dataset.labels)

    print(f"{path.name}: val accuracy {accuracy(logits, labels):.2%} on {len(labels)} faces")
    offsets = fit_offsets(logits, labels)
    named = ", ".join(f"{name} {value:+.2f}"
                      for name, value in zip(EMOTIONS, offsets, strict=True))
    print(f"offsets fitted on all of val: {accuracy(logits, labels, offsets):.2%} in sample; "
          f"{named}")
    gains = np.array(held_out_gains(logits, labels, args.repeats, args.seed)) * 100
    print("held-out change, points: " + " ".join(f"{g:+.2f}" for g in gains))
    print(f"mean {gains.mean():+.2f} points, standard deviation {gains.std(ddof=1):.2f}")


if __name__ == "__main__":
    main()
