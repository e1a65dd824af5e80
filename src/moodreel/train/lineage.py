"""What a trained model came from: each run's record, and the model it started from, in turn.

A shipped model is the last of several runs, each fine-tuning the model before it
(``finetune``) or warm-started from its weights (``init_from``), read from a checkpoint under
``runs/`` or from an exported ONNX file. A run describes its start when it reads it, at its
first epoch, and keeps that in every checkpoint: later the start may be overwritten by another
run or gone with the session's machine. Export copies the chain into the card and into the
ONNX metadata, so an exported file that starts another run passes its own history on.

Teachers are described the same way, and a file of a teacher's scores (``.npz``) carries the
descriptions of the models that scored it, since those models' weights are seldom kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The val figures a record keeps of a model.
VAL_KEYS = ("accuracy_7", "accuracy_4", "macro_f1_7")


def training_record(state: dict[str, Any], checkpoint: str | Path | None = None
                    ) -> dict[str, Any]:
    """A checkpoint's run: the epoch kept, the epochs run and their wall time, the devices,
    its config, what it started from and its teachers. A best checkpoint's history stops at
    the epoch it kept; the run's whole length comes from ``summary.json`` beside
    ``checkpoint`` when that names the same epoch (written when the run ended)."""
    history = state.get("history") or []
    record = {"checkpoint_epoch": state.get("epoch"), "epochs_run": len(history),
              "wall_seconds": round(sum(row["seconds"] for row in history), 1)}
    summary = None if checkpoint is None else _read_json(
        Path(checkpoint).with_name("summary.json"))
    if summary is not None and summary.get("best_epoch") == state.get("epoch"):
        record |= {"epochs_run": summary["epochs_run"], "wall_seconds": summary["seconds"]}
    if "devices" in state:  # each start and resume: the epoch it began at and the machine
        record["devices"] = state["devices"]
    record["config"] = state.get("train_config")
    config = record["config"] or {}
    # checkpoints written before runs recorded these are described now, as far as possible
    start = state.get("started_from") or describe_start(config)
    if start is not None:
        record["started_from"] = start
    teachers = state.get("teachers") or describe_teachers(config)
    if teachers:
        record["teachers"] = teachers
    return record


def describe_start(config: dict[str, Any]) -> dict[str, Any] | None:
    """The model a run of ``config`` (a ``TrainConfig`` as a dict) starts from, as a record,
    or None for a run from scratch."""
    source = config.get("finetune") or config.get("init_from")
    if not source:
        return None
    return ({"file": str(source), "as": "finetune" if config.get("finetune") else "init_from"}
            | describe_model(source))


def describe_teachers(config: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The teachers of a run of ``config``, each as a record, or None for a run without."""
    return [{"file": str(path)} | describe_model(path)
            for path in config.get("teachers") or []] or None


def describe_model(path: str | Path) -> dict[str, Any]:
    """A file a run learns from (a checkpoint, an ONNX model or a teacher's scores): its val
    figures and training record, as far as the file tells; ``found: False`` when it is gone,
    ``unreadable`` with the reason when it is not such a file."""
    path = Path(path)
    if not path.is_file():
        return {"found": False}
    if path.suffix == ".onnx":
        return _onnx_lineage(path)
    if path.suffix == ".npz":
        return _scores_lineage(path)
    from moodreel.train.checkpoint import CheckpointError, load_checkpoint  # imports torch

    try:
        state = load_checkpoint(path)
    except CheckpointError as error:
        return {"unreadable": str(error)}
    report = state.get("val_report") or {}
    return {"val": {key: report.get(key) for key in VAL_KEYS},
            "training": training_record(state, path)}


def _onnx_lineage(path: Path) -> dict[str, Any]:
    """An ONNX start's val figures and training record: from its metadata (files exported
    with their lineage), else from the card beside it (``<name>.json``), else the metadata's
    figures alone."""
    from moodreel.vision.classifier import EmotionClassifier
    from moodreel.vision.model_info import ModelError

    try:
        metadata = EmotionClassifier(path).info.extra
    except ModelError as error:
        return {"unreadable": str(error)}
    if "training" in metadata:
        return {"val": _val_from_metadata(metadata), "training": metadata["training"]}
    card = _read_json(path.with_suffix(".json"))
    if card is not None and "training" in card:
        return {"val": {key: card.get("val", {}).get(key) for key in VAL_KEYS},
                "training": card["training"]}
    return {"val": _val_from_metadata(metadata)}


def _scores_lineage(path: Path) -> dict[str, Any]:
    """A teacher scores file's faces and views, and the models that scored it: as recorded in
    it (files scored since they were), else as the JSON beside it (``<name>.json``) tells,
    else by their file names alone."""
    from moodreel.train.teacher_scores import ScoresError, load_scores  # imports torch

    try:
        scores = load_scores(path)
    except ScoresError as error:
        return {"unreadable": str(error)}
    teachers = list(scores.described) or (_read_json(path.with_suffix(".json")) or {}).get(
        "teachers") or [{"file": name} for name in scores.teachers]
    return {"faces": len(scores.logits), "flip": scores.flip, "teachers": teachers}


def _val_from_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: metadata.get(f"val_{key}") for key in VAL_KEYS if f"val_{key}" in metadata}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return values if isinstance(values, dict) else None
