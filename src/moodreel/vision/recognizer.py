"""Faces to emotions: detect, crop, classify all faces of an image in one batched run.

    from moodreel import Recognizer
    faces = Recognizer().analyze(image)          # BGR/RGB/gray numpy image
    [face.to_dict() for face in faces]           # JSON-ready
    Recognizer().explain(image, faces)           # where each face's emotion was seen
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moodreel.labels import BASIC_EMOTIONS, EMOTIONS, as_dict, basic_view
from moodreel.vision.cam import HeatMap
from moodreel.vision.classifier import EmotionClassifier
from moodreel.vision.crop import crop_faces, rolls_for, square_box, turned_square
from moodreel.vision.detector import FaceDetector, FaceLocator
from moodreel.vision.image import ColorOrder, ImageError, to_gray
from moodreel.vision.mtcnn import MtcnnFaceDetector

#: Below this top probability a face is flagged ``uncertain``.
UNCERTAIN_BELOW = 0.4
#: Images with a shorter side than this cannot hold a detectable face.
MIN_SIDE = 24


@dataclass(frozen=True)
class Face:
    """One face: where it is and what the model reads in it; ``roll``: the degrees it was
    turned back by before reading (0 when the detector gives no landmarks)."""

    box: tuple[int, int, int, int]
    probabilities: tuple[float, ...]  # 7 classes, FER order
    uncertain_below: float = UNCERTAIN_BELOW
    roll: float = 0.0

    @property
    def emotions(self) -> dict[str, float]:
        return as_dict(self.probabilities)

    @property
    def basic(self) -> dict[str, float]:
        """The 4-class view (happy, sad, neutral, angry), renormalised."""
        return as_dict(basic_view(np.asarray(self.probabilities)), BASIC_EMOTIONS)

    @property
    def top(self) -> str:
        return EMOTIONS[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(max(self.probabilities))

    @property
    def uncertain(self) -> bool:
        return self.confidence < self.uncertain_below

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "emotions": self.emotions, "basic": self.basic,
                "top": self.top, "confidence": self.confidence, "uncertain": self.uncertain,
                "roll": round(self.roll, 1)}


class Recognizer:
    """Build once (loads the model and the detector), then call ``analyze`` per image.

    The detector is MTCNN unless one is given (``HaarFaceDetector`` is the other one we
    ship). ``margin`` grows each face box before cropping; 0 is best measured
    (``benchmarks/detection.py``): both detectors' boxes already match FER-2013's framing.
    With ``align`` (the default) and a detector that finds eyes (``locate``, as MTCNN's
    does), a tilted face is turned upright before it is read: +3.6 points of accuracy on
    faces tilted by 20 degrees, +8.9 at 30, +1.7 on upright ones (``benchmarks/alignment.py``).
    """

    def __init__(self, model_path: str | Path | None = None, *,
                 detector: FaceDetector | None = None, threads: int = 1, margin: float = 0.0,
                 uncertain_below: float = UNCERTAIN_BELOW, align: bool = True,
                 classifier: EmotionClassifier | None = None) -> None:
        # ``classifier``: share one ONNX Runtime session (thread-safe) between recognizers
        self.classifier = classifier or EmotionClassifier(model_path, threads=threads)
        if self.classifier.labels != EMOTIONS:
            raise ValueError(f"model labels {self.classifier.labels} are not the 7 FER "
                             f"emotions {EMOTIONS}")
        self.detector = detector or MtcnnFaceDetector(threads=threads)
        self.margin = margin
        self.uncertain_below = uncertain_below
        self.align = align and isinstance(self.detector, FaceLocator)

    def detect(self, image: np.ndarray, color_order: ColorOrder = "bgr") -> np.ndarray:
        """Face boxes ``(N, 4)`` in ``image``."""
        return self.detector.detect(to_gray(image, color_order))

    def analyze(self, image: np.ndarray, *, boxes: np.ndarray | None = None,
                color_order: ColorOrder = "bgr") -> list[Face]:
        """Emotions of every face in ``image`` (or in the given ``boxes``, skipping detection
        and alignment)."""
        gray = to_gray(image, color_order)
        if boxes is not None:
            return self.classify(gray, np.asarray(boxes).reshape(-1, 4))
        return self.classify(gray, *self._detect_in(gray))

    def classify(self, gray: np.ndarray, boxes: np.ndarray,
                 rolls: np.ndarray | None = None) -> list[Face]:
        """Emotions for known ``boxes`` in a grayscale image (each face turned back by its
        roll in degrees, if given), all faces in one batch."""
        rolls = rolls_for(boxes, rolls)
        return self._faces(boxes, rolls,
                           self.classifier.predict_proba(self._crops(gray, boxes, rolls)))

    def explain(self, image: np.ndarray, faces: Sequence[Face], *,
                color_order: ColorOrder = "bgr") -> list[HeatMap]:
        """Where the model found each face's top emotion (``moodreel.vision.cam``), all faces in
        one batch; ``ModelError`` if the model has no class maps. Not part of ``analyze``, so
        reading emotions costs nothing extra."""
        boxes = np.array([face.box for face in faces]).reshape(-1, 4)
        rolls = np.array([face.roll for face in faces], dtype=np.float64)
        probabilities, values = self.classifier.explain(
            self._crops(to_gray(image, color_order), boxes, rolls))
        return self._heat_maps(boxes, rolls, probabilities, values)

    def analyze_explained(self, image: np.ndarray, *, color_order: ColorOrder = "bgr"
                          ) -> tuple[list[Face], list[HeatMap]]:
        """``analyze`` and ``explain`` in one pass: the faces are cropped and run through the
        model once, for their emotions and their heat maps together."""
        gray = to_gray(image, color_order)
        boxes, rolls = self._detect_in(gray)
        probabilities, values = self.classifier.explain(self._crops(gray, boxes, rolls))
        return (self._faces(boxes, rolls, probabilities),
                self._heat_maps(boxes, rolls, probabilities, values))

    def _detect_in(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes and rolls (zeros unless aligning) of the faces in ``gray``."""
        if min(gray.shape) < MIN_SIDE:
            raise ImageError(f"image of {gray.shape[1]}x{gray.shape[0]} pixels is too small to "
                             f"find a face in (at least {MIN_SIDE}x{MIN_SIDE})")
        if self.align:
            return self.detector.locate(gray)
        boxes = self.detector.detect(gray)
        return boxes, np.zeros(len(boxes))

    def _crops(self, gray: np.ndarray, boxes: np.ndarray, rolls: np.ndarray) -> np.ndarray:
        return crop_faces(gray, boxes, self.classifier.info.preprocessing, self.margin, rolls)

    def _faces(self, boxes: np.ndarray, rolls: np.ndarray, probabilities: np.ndarray
               ) -> list[Face]:
        return [Face(tuple(int(v) for v in box), tuple(float(p) for p in probs),
                     self.uncertain_below, float(roll))
                for box, roll, probs in zip(boxes, rolls, probabilities, strict=True)]

    def _heat_maps(self, boxes: np.ndarray, rolls: np.ndarray, probabilities: np.ndarray,
                   values: np.ndarray) -> list[HeatMap]:
        """Heat maps over each face's square box as the image shows it: a turned face's map
        is turned back with it (its corners then cover no part of the crop, and stay 0) and
        scaled again so that its strongest cell is 1."""
        maps = []
        for box, roll, probs, heat in zip(boxes, rolls, probabilities, values, strict=True):
            x0, y0, side = square_box(box, self.margin)
            if roll:
                heat = turned_square(heat, 0, 0, heat.shape[0], -roll, cv2.BORDER_CONSTANT)
                heat = heat / max(float(heat.max()), 1e-12)  # interpolation lowers the peak
            maps.append(HeatMap((x0, y0, side, side), EMOTIONS[int(probs.argmax())], heat))
        return maps
