"""Face detection behind a small interface, and OpenCV's Haar cascade behind it.

MTCNN (``moodreel.vision.mtcnn``) is ``Recognizer``'s default since session 14: it finds more
faces in less time. The Haar detector remains for callers who want no CNN in detection.

A detector takes an 8-bit grayscale image and returns boxes ``(N, 4)`` as ``x, y, w, h``
in that image's pixels. Callers who have their own detector implement ``FaceDetector``;
callers who already know where faces are pass boxes and skip detection altogether.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from moodreel.vision.image import shrink

#: Windows this close (a fraction of their size) form one group; OpenCV's own value.
GROUP_EPS = 0.2
#: Face sides, relative to the candidate's, that the verifying cascade looks for.
VERIFY_RANGE = (0.7, 1.45)
#: OpenCV's frontal-face cascade that proposes the faces unless settings name another.
DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


class FaceDetector(Protocol):
    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Boxes ``(N, 4)`` int ``x, y, w, h`` for faces in a grayscale ``(H, W)`` image."""
        ...


@runtime_checkable
class FaceLocator(FaceDetector, Protocol):
    """A detector that also measures how far each face is tilted."""

    def locate(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes ``(N, 4)`` as ``detect`` returns them and each face's roll ``(N,)``: the
        degrees (counter-clockwise) that turn it upright."""
        ...


def haar_cascade_path(name: str = DEFAULT_CASCADE) -> Path:
    return Path(cv2.data.haarcascades) / name


@dataclass
class HaarSettings:
    """Haar cascade settings; the defaults were chosen by ``benchmarks/detection.py``.

    Detection is permissive and a second opinion strict. Every group of windows that the
    default cascade finds on a downscaled copy is a candidate, single windows included
    (``min_neighbors=0``); a group of fewer than ``verify_under`` windows is kept only if a
    second, separately trained cascade (``verify_cascade``) finds a face of about its size
    around it at full resolution; of overlapping boxes the one with more windows is kept.
    There, on 640x480 frames of six seeds (1551 faces), against fer's full-resolution call
    (1.1, 5 neighbours, 50 px) and our settings before verification (1.3, 1 neighbour, no
    second cascade): recall 0.736 vs 0.725 and 0.681 (faces of 72-110 px: 0.68 vs 0.72 and
    0.55), false positives 0.09 vs 0.30 and 0.15 per frame, no false face on 40 frames of a
    real photo (fer: 3, before: 4), at 1.07x the time of the settings before. Requiring a
    second window as before (``min_neighbors=1``) keeps recall at 0.67 even with
    verification; detecting on a 320-pixel copy finds 2 points more at 1.3x the time;
    histogram equalisation lowers recall by 8 points. The smallest face found is
    ``min_face`` of the shorter side, and never below the cascade's 24-pixel window in the
    detection copy, ``24 / detect_side`` of the longer side: 57 px at 640x480. Raise
    ``detect_side`` to find smaller faces, at a cost in speed. OpenCV's other frontal
    cascades as the first one (``benchmarks/detector_alternatives.py``) are no better: ``alt``
    runs 1.14x as long, and ``alt2`` finds 1.4 points more faces but puts 8 to 11 false
    faces on the real photo.
    """

    cascade: str = DEFAULT_CASCADE  # the first cascade, a file in OpenCV's data
    scale_factor: float = 1.3
    min_neighbors: int = 0     # keep groups of more than this many windows
    min_face: float = 0.12     # smallest face side, as a fraction of the shorter image side
    detect_side: int = 280     # detect on a copy whose longer side is at most this
    equalize: bool = False     # histogram equalisation before detection
    verify_cascade: str | None = "haarcascade_frontalface_alt.xml"  # None: trust every group
    verify_under: int = 6      # groups of fewer windows need the second cascade's yes
    verify_margin: float = 0.15  # searched around a candidate, as a fraction of its side
    verify_side: int = 48        # candidates are rescaled to this side to be verified
    verify_scale_factor: float = 1.15
    overlap: float = 0.2       # IoU above which the box with fewer windows goes; 1 keeps all


class HaarFaceDetector:
    """OpenCV Haar cascade on a downscaled copy; boxes are mapped back to full resolution."""

    #: How the detection copy is made; ``benchmarks/detector_alternatives.py`` swaps in the
    #: one area resize it replaced, to time both.
    shrink = staticmethod(shrink)

    def __init__(self, settings: HaarSettings | None = None) -> None:
        self.settings = settings or HaarSettings()
        self.cascade = _load_cascade(haar_cascade_path(self.settings.cascade))
        self.verifier = (None if self.settings.verify_cascade is None else
                         _load_cascade(haar_cascade_path(self.settings.verify_cascade)))

    def detect(self, gray: np.ndarray) -> np.ndarray:
        boxes, counts = self.candidates(gray)
        if self.verifier is not None and len(boxes):
            kept = np.array([n >= self.settings.verify_under or self.confirmed(gray, box)
                             for box, n in zip(boxes, counts, strict=True)], dtype=bool)
            boxes, counts = boxes[kept], counts[kept]
        return self.select(boxes, counts)

    def candidates(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Groups of the first cascade's windows before verification: boxes ``(N, 4)`` at
        full resolution and the number of windows in each group ``(N,)``."""
        s = self.settings
        height, width = gray.shape[:2]
        scale = min(1.0, s.detect_side / max(height, width))
        small = gray if scale == 1.0 else self.shrink(
            gray, (max(1, round(width * scale)), max(1, round(height * scale))))
        if s.equalize:
            small = cv2.equalizeHist(small)
        none = np.zeros((0, 4), dtype=np.int64), np.zeros(0, dtype=np.int64)
        min_side = max(12, round(min(small.shape[:2]) * s.min_face))
        if min(small.shape[:2]) < min_side:
            return none
        windows = self.windows(small, min_side)
        if len(windows) == 0:
            return none
        # groupRectangles drops groups of at most `threshold` windows, so a single window
        # can never pass; listing every window twice lets it through and doubles the counts.
        groups, counts = cv2.groupRectangles(np.repeat(windows, 2, axis=0).tolist(),
                                             2 * s.min_neighbors + 1, GROUP_EPS)
        if len(groups) == 0:
            return none
        boxes = np.round(np.asarray(groups, dtype=np.float64) / scale).astype(np.int64)
        return boxes, np.asarray(counts, dtype=np.int64).reshape(-1) // 2

    def windows(self, small: np.ndarray, min_side: int) -> np.ndarray:
        """Every window ``(N, 4)`` of the first cascade on the detection copy ``small``, faces
        from ``min_side`` pixels up."""
        found = self.cascade.detectMultiScale(
            small, scaleFactor=self.settings.scale_factor, minNeighbors=0,
            minSize=(min_side, min_side))
        return np.asarray(found, dtype=np.int64).reshape(-1, 4)

    def confirmed(self, gray: np.ndarray, box: np.ndarray) -> bool:
        """Whether the second cascade finds a face of about the size of ``box`` around it."""
        return self.verifying_windows(gray, box) > 0

    def verifying_windows(self, gray: np.ndarray, box: np.ndarray) -> int:
        """How many windows of the second cascade find a face of about the size of ``box``
        around it."""
        s = self.settings
        x, y, w, h = (int(v) for v in box)
        pad = round(w * s.verify_margin)
        roi = gray[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad]
        factor = s.verify_side / w
        roi = cv2.resize(roi, None, fx=factor, fy=factor,
                         interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        low, high = (round(s.verify_side * r) for r in VERIFY_RANGE)
        found = self.verifier.detectMultiScale(
            roi, scaleFactor=s.verify_scale_factor, minNeighbors=0, minSize=(low, low),
            maxSize=(high, high))
        return len(found)

    def select(self, boxes: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Of overlapping ``boxes``, the ones with the most windows, sorted top to bottom."""
        if len(boxes) == 0:
            return np.zeros((0, 4), dtype=np.int64)
        kept = cv2.dnn.NMSBoxes(boxes.tolist(), counts.astype(np.float32).tolist(), 0.0,
                                self.settings.overlap)
        boxes = boxes[np.asarray(kept, dtype=np.int64).reshape(-1)]
        # By position, not by count: OpenCV's threads find groups in any order.
        return boxes[np.lexsort((boxes[:, 0], boxes[:, 1]))]


def _load_cascade(path: Path) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"could not load the Haar cascade at {path}")
    return cascade
