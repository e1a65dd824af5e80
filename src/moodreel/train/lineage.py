"""What a trained model came from: each run's record, and the model it started from, in turn.

A shipped model is the last of several runs, each fine-tuning the model before it
(``finetune``) or warm-started from its weights (``init_from``), read from a checkpoint under
``runs/`` or from an exported ONNX file. A run describes its start when it reads it, at its
first epoch, and keeps that in every checkpoint: later the start may be overwritten by another
run or gone with the session's machine. Export copies the chain into the card and into the
ONNX metadata, so an exported file that starts another run passes its own history on.
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
    its config and what it started from. A best checkpoint's history stops at the epoch it
    kept; the run's whole length comes from ``summary.json`` beside ``checkpoint`` when that
    names the same epoch (written when the run ended)."""
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
    start = state.get("started_from")
    if start is None:  # a checkpoint written before runs recorded their start
        start = describe_start(state.get("train_config") or {})
    if start is not None:
        record["started_from"] = start
    return record


def describe_start(config: dict[str, Any]) -> dict[str, Any] | None:
    """The model a run of ``config`` (a ``TrainConfig`` as a dict) starts from, as a record,
    or None for a run from scratch."""
    source = config.get("finetune") or config.get("init_from")
    if not source:
        return None
    path = Path(source)
    record: dict[str, Any] = {"file": str(source),
                              "as": "finetune" if config.get("finetune") else "init_from"}
    if not path.is_file():
        return record | {"found": False}
    if path.suffix == ".onnx":
        return record | _onnx_lineage(path)
    from moodreel.train.checkpoint import CheckpointError, load_checkpoint  # imports torch

    try:
        state = load_checkpoint(path)
    except CheckpointError as error:
        return record | {"unreadable": str(error)}
    report = state.get("val_report") or {}
    return record | {"val": {key: report.get(key) for key in VAL_KEYS},
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


def _val_from_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: metadata.get(f"val_{key}") for key in VAL_KEYS if f"val_{key}" in metadata}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return values if isinstance(values, dict) else None
