"""Face preprocessing shared by training and serving.

There is exactly one way a face crop becomes model input: ``Preprocessing.__call__``.
Training resizes with ``resize`` and normalises with the same ``mean``/``std`` after
augmentation; serving calls the whole thing. The settings travel inside checkpoints and ONNX
metadata so inference never guesses how a model was trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class Preprocessing:
    """Grayscale face crops ``(N, H, W)`` uint8 -> model input ``(N, 1, size, size)`` float32."""

    size: int = 48
    mean: float = 0.5
    std: float = 0.5

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ValueError(f"input size must be at least 8 pixels, got {self.size}")
        if self.std <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    def resize(self, faces: np.ndarray) -> np.ndarray:
        """Resize grayscale crops ``(N, H, W)`` to ``(N, size, size)`` uint8."""
        faces = np.asarray(faces)
        if faces.ndim != 3:
            raise ValueError(f"expected grayscale crops shaped (N, H, W), got {faces.shape}")
        if faces.dtype != np.uint8:
            raise ValueError(f"expected uint8 crops, got {faces.dtype}")
        if faces.shape[1:] == (self.size, self.size):
            return faces
        out = np.empty((len(faces), self.size, self.size), dtype=np.uint8)
        for i, face in enumerate(faces):
            shrinking = face.shape[0] > self.size or face.shape[1] > self.size
            interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
            out[i] = cv2.resize(face, (self.size, self.size), interpolation=interpolation)
        return out

    def normalize(self, faces: np.ndarray) -> np.ndarray:
        """Scale ``(N, size, size)`` uint8 to ``(N, 1, size, size)`` float32, zero-centred."""
        scaled = np.asarray(faces, dtype=np.float32)[:, None] * np.float32(1.0 / 255.0)
        return (scaled - np.float32(self.mean)) / np.float32(self.std)

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        return self.normalize(self.resize(faces))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Preprocessing:
        return cls(size=int(values["size"]), mean=float(values["mean"]), std=float(values["std"]))
