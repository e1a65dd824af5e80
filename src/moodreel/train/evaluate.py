"""Score a checkpoint (PyTorch) or an ONNX model on a dataset split.

ONNX models are scored through the serving classifier, so this path needs no torch and
measures exactly what users get.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from moodreel.assets import default_model_path
from moodreel.data.fer2013 import load_split
from moodreel.train.metrics import evaluate_scores

BATCH = 512


def evaluate_model(data: str | Path, model: str | Path | None = None, *, split: str = "val",
                   tta_flip: bool = False, skip_bad: bool = False) -> dict[str, Any]:
    """Metrics report (see ``metrics.evaluate_scores``) plus what was evaluated."""
    path = Path(model) if model is not None else default_model_path()
    dataset = load_split(data, split, on_error="skip" if skip_bad else "raise")
    if path.suffix == ".onnx":
        scores = _onnx_scores(path, dataset.images, tta_flip)
    else:
        scores = _checkpoint_scores(path, dataset.images, tta_flip)
    report = evaluate_scores(dataset.labels, scores)
    report.update(model=str(path), data=str(data), split=split, tta="flip" if tta_flip else None,
                  skipped=len(dataset.skipped))
    return report


def _onnx_scores(path: Path, images: np.ndarray, tta_flip: bool) -> np.ndarray:
    from moodreel.vision.classifier import EmotionClassifier

    classifier = EmotionClassifier(path, threads=0)
    return np.concatenate([classifier.predict_proba(images[i:i + BATCH], tta_flip=tta_flip)
                           for i in range(0, len(images), BATCH)])


def _checkpoint_scores(path: Path, images: np.ndarray, tta_flip: bool) -> np.ndarray:
    from moodreel.train.checkpoint import model_from_checkpoint
    from moodreel.train.engine import predict_logits

    model, preprocessing, _ = model_from_checkpoint(path)
    return predict_logits(model, preprocessing(images), batch_size=BATCH, tta_flip=tta_flip)
