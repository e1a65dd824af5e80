"""What an exported model says about itself (stored as JSON in the ONNX metadata)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moodreel.data.preprocess import Preprocessing

METADATA_KEY = "moodreel"
FORMAT = "moodreel-onnx/1"


class ModelError(ValueError):
    """A model file that is missing, unreadable, or not a moodreel model. Defined here, not
    beside the classifier, so that catching it does not import ONNX Runtime: ``serve``'s
    gunicorn master catches it, and workers forked from a process that has imported ONNX
    Runtime hang when they exit."""


@dataclass(frozen=True)
class ModelInfo:
    labels: tuple[str, ...]
    preprocessing: Preprocessing
    name: str = "unknown"
    params: int = 0
    temperature: float = 1.0  # logits are divided by it before the softmax (calibration)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "labels": list(self.labels), "name": self.name,
                "params": self.params, "input_size": self.preprocessing.size,
                "mean": self.preprocessing.mean, "std": self.preprocessing.std,
                "temperature": self.temperature, **self.extra}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelInfo:
        known = {"format", "labels", "name", "params", "input_size", "mean", "std",
                 "temperature"}
        return cls(
            labels=tuple(values["labels"]),
            preprocessing=Preprocessing(int(values["input_size"]), float(values["mean"]),
                                        float(values["std"])),
            name=str(values.get("name", "unknown")),
            params=int(values.get("params", 0)),
            temperature=float(values.get("temperature", 1.0)),
            extra={k: v for k, v in values.items() if k not in known},
        )
