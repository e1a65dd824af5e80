"""Face detection behind a small interface, with OpenCV's Haar cascade as the default.

A detector takes an 8-bit grayscale image and returns boxes ``(N, 4)`` as ``x, y, w, h``
in that image's pixels. Callers who have their own detector implement ``FaceDetector``;
callers who already know where faces are pass boxes and skip detection altogether.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np


class FaceDetector(Protocol):
    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Boxes ``(N, 4)`` int ``x, y, w, h`` for faces in a grayscale ``(H, W)`` image."""
        ...


def haar_cascade_path() -> Path:
    return Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"


@dataclass
class HaarSettings:
    """Haar cascade settings; the defaults were chosen by ``benchmarks/detection.py``.

    There, on 640x480 frames, against fer's full-resolution call (1.1, 5 neighbours, 50 px):
    7.8x faster, recall 0.723 vs 0.742, false positives 0.10 vs 0.23 per frame, and 4 vs 3
    false faces on 40 frames of a real photo. Lower ``min_neighbors`` at a finer scale step
    find more of the pasted faces but fire on clothing and props in real photos, and
    histogram equalisation lowered recall at every setting measured. The smallest face found
    is ``min_face`` of the shorter side, and never below the cascade's 24-pixel window in
    the detection copy, ``24 / detect_side`` of the longer side: 57 px at 640x480. Raise
    ``detect_side`` to find smaller faces, at a cost in speed.
    """

    scale_factor: float = 1.3
    min_neighbors: int = 1
    min_face: float = 0.12     # smallest face side, as a fraction of the shorter image side
    detect_side: int = 280     # detect on a copy whose longer side is at most this
    equalize: bool = False     # histogram equalisation before detection


class HaarFaceDetector:
    """OpenCV Haar cascade on a downscaled copy; boxes are mapped back to full resolution."""

    def __init__(self, settings: HaarSettings | None = None) -> None:
        self.settings = settings or HaarSettings()
        self.cascade = cv2.CascadeClassifier(str(haar_cascade_path()))
        if self.cascade.empty():
            raise RuntimeError(f"could not load the Haar cascade at {haar_cascade_path()}")

    def detect(self, gray: np.ndarray) -> np.ndarray:
        s = self.settings
        height, width = gray.shape[:2]
        scale = min(1.0, s.detect_side / max(height, width))
        small = gray if scale == 1.0 else cv2.resize(
            gray, (max(1, round(width * scale)), max(1, round(height * scale))),
            interpolation=cv2.INTER_AREA)
        if s.equalize:
            small = cv2.equalizeHist(small)
        min_side = max(12, round(min(small.shape[:2]) * s.min_face))
        if min(small.shape[:2]) < min_side:
            return np.zeros((0, 4), dtype=np.int64)
        boxes = self.cascade.detectMultiScale(
            small, scaleFactor=s.scale_factor, minNeighbors=s.min_neighbors,
            minSize=(min_side, min_side))
        if len(boxes) == 0:
            return np.zeros((0, 4), dtype=np.int64)
        boxes = np.round(np.asarray(boxes, dtype=np.float64) / scale).astype(np.int64)
        # OpenCV's threads return boxes in whichever order they finish; sort for repeatability.
        return boxes[np.lexsort((boxes[:, 0], boxes[:, 1]))]
