"""Export a checkpoint to ONNX with a dynamic batch axis and self-describing metadata.

    moodreel export runs/mini_xception/best.pt -o src/moodreel/assets/emotion_mini_xception.onnx

The graph maps normalised faces ``input (B, 1, S, S)`` to ``logits (B, 7)`` and, for heads
that allow it, what class activation maps need (``moodreel.nn.class_maps``). The metadata
key ``moodreel`` holds JSON with labels, input size, normalisation and the model's
description, which the serving side (``moodreel.vision.classifier``) reads; serving never
guesses. After export the ONNX Runtime output is compared with PyTorch on random batches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from moodreel.nn.onnx_export import write_onnx
from moodreel.nn.profile import count_macs, count_params
from moodreel.nn.registry import MODEL_CONFIG_KEYS
from moodreel.train.checkpoint import model_from_checkpoint
from moodreel.train.lineage import VAL_KEYS, training_record
from moodreel.vision.model_info import ModelInfo


@dataclass
class ExportReport:
    path: Path
    max_abs_diff: float
    batch_sizes: tuple[int, ...]
    size_bytes: int


def export_onnx(checkpoint: str | Path, out: str | Path,
                *, batch_sizes: tuple[int, ...] = (1, 7, 64)) -> ExportReport:
    """Write ``out`` from ``checkpoint`` and report the largest difference to PyTorch."""
    trained, preprocessing, state = model_from_checkpoint(checkpoint)
    trained = trained.float().eval()
    model = trained.deployed()
    report = state.get("val_report") or {}
    training = training_record(state, checkpoint)
    info = ModelInfo(
        labels=tuple(state["labels"]),
        preprocessing=preprocessing,
        name=model.config.get("name", "spec"),
        params=count_params(model),
        extra={
            "model_config": {k: model.config[k] for k in MODEL_CONFIG_KEYS},
            "epoch": state.get("epoch"),
            **{f"val_{key}": report.get(key) for key in VAL_KEYS},
            "training": training,  # so that a run starting from this file can say its history
        },
    )
    out = Path(out)
    write_onnx(model, info, out)
    diff = parity(trained, out, preprocessing.size, batch_sizes)  # folding included
    write_card(out.with_suffix(".json"), info, state, training,
               macs=count_macs(model, preprocessing.size), parity_max_abs_diff=diff,
               outputs=[output.name for output in onnx.load_model(out).graph.output])
    return ExportReport(out, diff, batch_sizes, out.stat().st_size)


def write_card(path: Path, info: ModelInfo, state: dict[str, Any], training: dict[str, Any],
               **facts: Any) -> None:
    """Machine-readable model card beside the ONNX file, from what the checkpoint knows and
    its ``training`` record (``moodreel.train.lineage``)."""
    report = state.get("val_report") or {}
    card = {
        "model": info.name,
        "params": info.params,
        "labels": list(info.labels),
        "input": {"size": info.preprocessing.size, "channels": 1, "color": "grayscale"},
        "normalisation": {"scale": "1/255", "mean": info.preprocessing.mean,
                          "std": info.preprocessing.std},
        "model_config": info.extra["model_config"],
        "training": training,
        "val": {key: report.get(key) for key in ("n", *VAL_KEYS)}
        | {"per_class_recall": {name: row["recall"]
                                for name, row in (report.get("per_class") or {}).items()}},
        **facts,
    }
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")


@torch.no_grad()
def parity(model: torch.nn.Module, onnx_path: Path, size: int, batch_sizes: tuple[int, ...]
           ) -> float:
    """Largest absolute logit difference between PyTorch and ONNX Runtime."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    for n in batch_sizes:
        x = torch.randn(n, 1, size, size, generator=generator)
        expected = model(x).numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        worst = max(worst, float(np.abs(expected - got).max()))
    return worst
