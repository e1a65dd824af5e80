"""The 4-class view with the other emotions' share folded into a basic one, against the plain view.

    .venv/bin/python benchmarks/basic_view_folds.py [MODEL.onnx] [--data ../shared/data/fer2013]

Why: the movie side works with four moods (happy, sad, neutral, angry), and the 4-class view
takes the argmax over those four classes alone, so whatever the model gives disgust, fear or
surprise is dropped. Faces of one mood are often read as a neighbouring emotion (sad as fear,
angry as disgust), so adding that emotion's probability to the mood it resembles could move
the view's answer to the right mood more often than to a wrong one. Whether it does is
measured here on ``val``'s basic faces (2,622), for each fold alone and together.

Prints the plain view's accuracy and each fold's, with the change in points.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from frames import DEFAULT_DATA

from moodreel.assets import default_model_path
from moodreel.data.fer2013 import load_split
from moodreel.labels import BASIC_INDICES, EMOTIONS
from moodreel.train.evaluate import logits_of
from moodreel.vision.classifier import EmotionClassifier

#: Each fold: {emotion left out of the view: the basic mood its probability is added to}.
FOLDS = (
    {"disgust": "angry"},
    {"fear": "sad"},
    {"fear": "angry"},
    {"surprise": "happy"},
    {"surprise": "neutral"},
    {"disgust": "angry", "fear": "sad"},
    {"disgust": "angry", "fear": "sad", "surprise": "happy"},
)


def basic_accuracy(probabilities: np.ndarray, labels: np.ndarray,
                   fold: dict[str, str]) -> float:
    """4-class accuracy on the faces whose label is basic, with ``fold`` applied."""
    basic = list(BASIC_INDICES)
    keep = np.isin(labels, basic)
    scores = probabilities[keep][:, basic].copy()
    for source, target in fold.items():
        scores[:, basic.index(EMOTIONS.index(target))] += probabilities[keep][
            :, EMOTIONS.index(source)]
    truth = np.array([basic.index(label) for label in labels[keep]])
    return float(np.mean(scores.argmax(axis=1) == truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, nargs="?", default=None,
                        help="ONNX model (default: the shipped one)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    path = args.model or default_model_path()
    dataset = load_split(args.data, "val")
    logits = logits_of(EmotionClassifier(path, threads=1), dataset.images).astype(np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    labels = np.asarray(dataset.labels)

    plain = basic_accuracy(probabilities, labels, {})
    print(f"{path.name}: 4-class view {plain:.2%} on {np.isin(labels, BASIC_INDICES).sum()} "
          "basic val faces")
    for fold in FOLDS:
        accuracy = basic_accuracy(probabilities, labels, fold)
        named = ", ".join(f"{source} -> {target}" for source, target in fold.items())
        print(f"  {named:<48} {accuracy:.2%}  {100 * (accuracy - plain):+.2f} points")


if __name__ == "__main__":
    main()
