"""Bias and robustness audit: how the model's readings move under everyday changes.

Each condition perturbs the evaluation faces (FER-2013's 48x48 grayscale crops, which the
model's preprocessing then scales to its input) and the model scores them again: accuracy
(7 classes and the 4-class view), the share of each predicted emotion against the clean
faces, and in particular how much more often "angry" is read. The conditions are synthetic
stand-ins, drawn where FER-2013's framing puts the eyes and the mouth: dark glasses (a dark
band with two lenses over the eyes), a mask over the mouth and chin, brightness and contrast
changes, blur, small rotations, and the left-right mirror image (a face and its mirror
should read the same).

numpy + OpenCV + ONNX Runtime (the serving classifier): no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from moodreel.assets import default_model_path
from moodreel.data.fer2013 import load_split
from moodreel.labels import EMOTIONS
from moodreel.train.evaluate import in_batches
from moodreel.train.metrics import evaluate_scores
from moodreel.train.perturbations import CONDITIONS, Perturbation
from moodreel.vision.classifier import EmotionClassifier

ANGRY = EMOTIONS.index("angry")


def _row(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    report = evaluate_scores(labels, probabilities)
    predicted = np.bincount(probabilities.argmax(axis=1), minlength=len(EMOTIONS))
    return {"accuracy_7": report["accuracy_7"], "accuracy_4": report["accuracy_4"],
            "predicted_share": {name: float(count / len(labels))
                                for name, count in zip(EMOTIONS, predicted, strict=True)}}


def audit_faces(classifier: EmotionClassifier, faces: np.ndarray, labels: np.ndarray,
                conditions: dict[str, Perturbation] | None = None) -> dict[str, Any]:
    """The audit of ``faces`` (uint8 ``(N, 48, 48)``) with true ``labels``."""
    conditions = conditions or CONDITIONS
    clean_probabilities = in_batches(classifier.predict_proba, faces)
    clean_predictions = clean_probabilities.argmax(axis=1)
    clean = _row(labels, clean_probabilities)
    rows = {}
    for name, perturb in conditions.items():
        probabilities = in_batches(classifier.predict_proba, perturb(faces))
        row = _row(labels, probabilities)
        predictions = probabilities.argmax(axis=1)
        row["agreement_with_clean"] = float((predictions == clean_predictions).mean())
        row["share_shift"] = {e: row["predicted_share"][e] - clean["predicted_share"][e]
                              for e in EMOTIONS}
        clean_angry = clean["predicted_share"]["angry"]
        row["angry_ratio"] = (row["predicted_share"]["angry"] / clean_angry
                              if clean_angry else float("nan"))
        not_angry = labels != ANGRY
        row["false_angry_rate"] = float((predictions[not_angry] == ANGRY).mean())
        rows[name] = row
    clean["false_angry_rate"] = float((clean_predictions[labels != ANGRY] == ANGRY).mean())
    return {"n": int(len(labels)), "clean": clean, "conditions": rows}


def audit_model(data: str | Path, model: str | Path | None = None, *, split: str = "val",
                skip_bad: bool = False) -> dict[str, Any]:
    path = Path(model) if model is not None else default_model_path()
    dataset = load_split(data, split, on_error="skip" if skip_bad else "raise")
    report = audit_faces(EmotionClassifier(path, threads=0), dataset.images, dataset.labels)
    report.update(model=path.name, data=str(data), split=split)
    return report


def audit_markdown(report: dict[str, Any]) -> str:
    """The audit as the model card's markdown section body."""
    clean = report["clean"]
    lines = [
        f"`moodreel audit` on `{report['split']}` ({report['n']:,} faces) with "
        f"`{report['model']}`. Shift: change in the share of faces read as each emotion, "
        "in points; false angry: share of faces that are not angry read as angry.",
        "",
        "| condition | acc 7 | acc 4 | agrees with clean | false angry | angry x | "
        "largest shifts |",
        "|---|---|---|---|---|---|---|",
        f"| clean | {clean['accuracy_7']:.1%} | {clean['accuracy_4']:.1%} | - | "
        f"{clean['false_angry_rate']:.1%} | 1.00 | - |",
    ]
    for name, row in report["conditions"].items():
        shifts = sorted(row["share_shift"].items(), key=lambda item: -abs(item[1]))[:3]
        text = ", ".join(f"{e} {100 * s:+.1f}" for e, s in shifts)
        lines.append(f"| {name} | {row['accuracy_7']:.1%} | {row['accuracy_4']:.1%} | "
                     f"{row['agreement_with_clean']:.1%} | {row['false_angry_rate']:.1%} | "
                     f"{row['angry_ratio']:.2f} | {text} |")
    return "\n".join(lines)


START, END = "<!-- audit:start -->", "<!-- audit:end -->"


def write_card_section(card: str | Path, body: str) -> None:
    """Replace the text between the audit markers of the model card (added at the end if
    the card has none); the file is replaced whole, never half-written."""
    card = Path(card)
    text = card.read_text(encoding="utf-8") if card.exists() else ""
    section = f"{START}\n{body}\n{END}"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## Bias and robustness audit\n\n{section}\n"
    partial = card.with_suffix(card.suffix + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(card)
