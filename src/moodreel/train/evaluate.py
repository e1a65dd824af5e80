"""Score a checkpoint (PyTorch) or an ONNX model on a dataset split.

ONNX models are scored through the serving classifier, so this path needs no torch and
measures exactly what users get.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moodreel.assets import default_model_path
from moodreel.data.fer2013 import load_split
from moodreel.train.metrics import evaluate_scores

if TYPE_CHECKING:
    from moodreel.vision.classifier import EmotionClassifier

BATCH = 512


def in_batches(predict: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray) -> np.ndarray:
    """``predict`` over ``inputs`` ``BATCH`` at a time, results concatenated: a whole split
    never goes through ONNX Runtime at once."""
    return np.concatenate([predict(inputs[i:i + BATCH]) for i in range(0, len(inputs), BATCH)])


def logits_of(classifier: EmotionClassifier, images: np.ndarray) -> np.ndarray:
    """``classifier``'s logits for raw face images, before its temperature: what calibration
    and other post-hoc fits start from."""
    return in_batches(classifier.predict_logits, classifier.info.preprocessing(images))


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


def calibrate_model(data: str | Path, model: str | Path | None = None, *, split: str = "val",
                    write: bool = False, skip_bad: bool = False) -> dict[str, Any]:
    """Fit the temperature of an ONNX model on ``split`` (``calibration_report``); with
    ``write``, store it in the model's metadata and its JSON card. No torch, except that
    rewriting the metadata needs the ``onnx`` package (training extras)."""
    from moodreel.train.calibration import calibration_report
    from moodreel.vision.classifier import EmotionClassifier

    path = Path(model) if model is not None else default_model_path()
    if path.suffix != ".onnx":
        raise ValueError(f"{path}: calibrate an exported ONNX model (moodreel export)")
    dataset = load_split(data, split, on_error="skip" if skip_bad else "raise")
    classifier = EmotionClassifier(path, threads=0)
    logits = logits_of(classifier, dataset.images)
    report = calibration_report(logits, dataset.labels)
    report.update(model=str(path), data=str(data), split=split,
                  previous_temperature=classifier.info.temperature)
    if write:
        from moodreel.nn.onnx_export import write_metadata

        write_metadata(path, replace(classifier.info, temperature=report["temperature"]))
        card = path.with_suffix(".json")
        if card.is_file():
            values = json.loads(card.read_text(encoding="utf-8"))
            values["calibration"] = {key: report[key] for key in (
                "temperature", "split", "n", "nll_before", "nll_after", "nll_after_heldout",
                "ece_before", "ece_after", "ece_after_heldout")}
            card.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
    return report


def _onnx_scores(path: Path, images: np.ndarray, tta_flip: bool) -> np.ndarray:
    from moodreel.vision.classifier import EmotionClassifier

    classifier = EmotionClassifier(path, threads=0)
    return in_batches(partial(classifier.predict_proba, tta_flip=tta_flip), images)


def _checkpoint_scores(path: Path, images: np.ndarray, tta_flip: bool) -> np.ndarray:
    from moodreel.train.checkpoint import model_from_checkpoint
    from moodreel.train.engine import predict_logits

    model, preprocessing, _ = model_from_checkpoint(path)
    return predict_logits(model, preprocessing(images), batch_size=BATCH, tta_flip=tta_flip)
