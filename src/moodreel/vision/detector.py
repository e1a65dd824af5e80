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

#: Rectangles within this fraction of their size count as one detection (OpenCV's value).
GROUP_EPS = 0.2


class FaceDetector(Protocol):
    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Boxes ``(N, 4)`` int ``x, y, w, h`` for faces in a grayscale ``(H, W)`` image."""
        ...


def haar_cascade_path(name: str = "haarcascade_frontalface_default.xml") -> Path:
    return Path(cv2.data.haarcascades) / name


@dataclass
class HaarSettings:
    """Haar cascade settings; the defaults were chosen by ``benchmarks/detection.py``.

    Detection is permissive and verification strict: every group of windows the default
    cascade finds on a downscaled copy, single windows included, is a candidate; a second
    cascade (``verify_cascade``, trained separately) must find a face again in each
    candidate's neighbourhood at full resolution, and of overlapping survivors the one with
    the most windows is kept. There, on 640x480 frames, against fer's full-resolution call
    (1.1, 5 neighbours, 50 px) and the settings before verification (1.3, 1 neighbour, no
    second cascade): recall 0.769 vs 0.742 and 0.723, false positives 0.04 vs 0.23 and 0.10
    per frame, 0 vs 3 and 4 false faces on 40 frames of a real photo, at 1.2x the time of
    the settings before. Requiring a second window per group (``min_neighbors=1``), the
    old way to keep false faces down, drops a fifth of the small faces. Histogram
    equalisation lowered recall at every setting measured. The smallest face found is
    ``min_face`` of the shorter side, and never below the cascade's 24-pixel window in the
    detection copy, ``24 / detect_side`` of the longer side: 57 px at 640x480. Raise
    ``detect_side`` to find smaller faces, at a cost in speed.
    """

    scale_factor: float = 1.3
    min_neighbors: int = 0     # keep groups of more than this many windows
    min_face: float = 0.12     # smallest face side, as a fraction of the shorter image side
    detect_side: int = 280     # detect on a copy whose longer side is at most this
    equalize: bool = False     # histogram equalisation before detection
    verify_cascade: str | None = "haarcascade_frontalface_alt.xml"  # None: no verification
    verify_margin: float = 0.3   # the neighbourhood searched, in face sides around the box
    verify_side: int = 40        # candidates are rescaled to this face side to be verified
    verify_scale_factor: float = 1.2
    overlap: float = 0.2       # of two boxes with a larger IoU, the one with fewer windows goes


class HaarFaceDetector:
    """OpenCV Haar cascade on a downscaled copy; boxes are mapped back to full resolution."""

    def __init__(self, settings: HaarSettings | None = None) -> None:
        self.settings = settings or HaarSettings()
        self.cascade = _load_cascade(haar_cascade_path())
        self.verifier = (None if self.settings.verify_cascade is None else
                         _load_cascade(haar_cascade_path(self.settings.verify_cascade)))

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
        windows = self.cascade.detectMultiScale(
            small, scaleFactor=s.scale_factor, minNeighbors=0, minSize=(min_side, min_side))
        if len(windows) == 0:
            return np.zeros((0, 4), dtype=np.int64)
        # groupRectangles drops groups of at most `threshold` windows; listing every window
        # twice keeps single-window groups at threshold 1 and doubles each count.
        groups, counts = cv2.groupRectangles(np.repeat(windows, 2, axis=0).tolist(),
                                             2 * s.min_neighbors + 1, GROUP_EPS)
        if len(groups) == 0:
            return np.zeros((0, 4), dtype=np.int64)
        boxes = np.round(np.asarray(groups, dtype=np.float64) / scale).astype(np.int64)
        counts = np.asarray(counts, dtype=np.float64).reshape(-1)
        if self.verifier is not None:
            confirmed = np.array([self._confirmed(gray, box) for box in boxes], dtype=bool)
            boxes, counts = boxes[confirmed], counts[confirmed]
        kept = cv2.dnn.NMSBoxes(boxes.tolist(), counts.tolist(), 0.0, s.overlap)
        boxes = boxes[np.asarray(kept, dtype=np.int64).reshape(-1)].reshape(-1, 4)
        # OpenCV's threads return boxes in whichever order they finish; sort for repeatability.
        return boxes[np.lexsort((boxes[:, 0], boxes[:, 1]))]

    def _confirmed(self, gray: np.ndarray, box: np.ndarray) -> bool:
        """Whether the second cascade finds a face of about this size around ``box``."""
        s = self.settings
        x, y, w, h = (int(v) for v in box)
        pad = round(w * s.verify_margin)
        roi = gray[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad]
        factor = s.verify_side / w
        roi = cv2.resize(roi, None, fx=factor, fy=factor,
                         interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        low, high = round(s.verify_side * 0.7), round(s.verify_side * 1.45)
        found = self.verifier.detectMultiScale(
            roi, scaleFactor=s.verify_scale_factor, minNeighbors=0, minSize=(low, low),
            maxSize=(high, high))
        return len(found) > 0


def _load_cascade(path: Path) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"could not load the Haar cascade at {path}")
    return cascade
