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

import numpy as np

from moodreel.labels import BASIC_EMOTIONS, EMOTIONS, as_dict, basic_view
from moodreel.vision.cam import HeatMap
from moodreel.vision.classifier import EmotionClassifier
from moodreel.vision.crop import crop_faces, square_box
from moodreel.vision.detector import FaceDetector
from moodreel.vision.image import ColorOrder, ImageError, to_gray
from moodreel.vision.mtcnn import MtcnnFaceDetector

#: Below this top probability a face is flagged ``uncertain``.
UNCERTAIN_BELOW = 0.4
#: Images with a shorter side than this cannot hold a detectable face.
MIN_SIDE = 24


@dataclass(frozen=True)
class Face:
    """One face: where it is and what the model reads in it."""

    box: tuple[int, int, int, int]
    probabilities: tuple[float, ...]  # 7 classes, FER order
    uncertain_below: float = UNCERTAIN_BELOW

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
                "top": self.top, "confidence": self.confidence, "uncertain": self.uncertain}


class Recognizer:
    """Build once (loads the model and the detector), then call ``analyze`` per image.

    The detector is MTCNN unless one is given (``HaarFaceDetector`` is the other one we
    ship). ``margin`` grows each face box before cropping; 0 is best measured
    (``benchmarks/detection.py``): both detectors' boxes already match FER-2013's framing.
    """

    def __init__(self, model_path: str | Path | None = None, *,
                 detector: FaceDetector | None = None, threads: int = 1, margin: float = 0.0,
                 uncertain_below: float = UNCERTAIN_BELOW,
                 classifier: EmotionClassifier | None = None) -> None:
        # ``classifier``: share one ONNX Runtime session (thread-safe) between recognizers
        self.classifier = classifier or EmotionClassifier(model_path, threads=threads)
        if self.classifier.labels != EMOTIONS:
            raise ValueError(f"model labels {self.classifier.labels} are not the 7 FER "
                             f"emotions {EMOTIONS}")
        self.detector = detector or MtcnnFaceDetector(threads=threads)
        self.margin = margin
        self.uncertain_below = uncertain_below

    def detect(self, image: np.ndarray, color_order: ColorOrder = "bgr") -> np.ndarray:
        """Face boxes ``(N, 4)`` in ``image``."""
        return self.detector.detect(to_gray(image, color_order))

    def analyze(self, image: np.ndarray, *, boxes: np.ndarray | None = None,
                color_order: ColorOrder = "bgr") -> list[Face]:
        """Emotions of every face in ``image`` (or in the given ``boxes``, skipping detection)."""
        gray = to_gray(image, color_order)
        if boxes is not None:
            return self.classify(gray, np.asarray(boxes).reshape(-1, 4))
        return self.classify(gray, self._detect_in(gray))

    def classify(self, gray: np.ndarray, boxes: np.ndarray) -> list[Face]:
        """Emotions for known ``boxes`` in a grayscale image, all faces in one batch."""
        return self._faces(boxes, self.classifier.predict_proba(self._crops(gray, boxes)))

    def explain(self, image: np.ndarray, faces: Sequence[Face], *,
                color_order: ColorOrder = "bgr") -> list[HeatMap]:
        """Where the model found each face's top emotion (``moodreel.vision.cam``), all faces in
        one batch; ``ModelError`` if the model has no class maps. Not part of ``analyze``, so
        reading emotions costs nothing extra."""
        boxes = np.array([face.box for face in faces]).reshape(-1, 4)
        probabilities, values = self.classifier.explain(
            self._crops(to_gray(image, color_order), boxes))
        return self._heat_maps(boxes, probabilities, values)

    def analyze_explained(self, image: np.ndarray, *, color_order: ColorOrder = "bgr"
                          ) -> tuple[list[Face], list[HeatMap]]:
        """``analyze`` and ``explain`` in one pass: the faces are cropped and run through the
        model once, for their emotions and their heat maps together."""
        gray = to_gray(image, color_order)
        boxes = self._detect_in(gray)
        probabilities, values = self.classifier.explain(self._crops(gray, boxes))
        return (self._faces(boxes, probabilities),
                self._heat_maps(boxes, probabilities, values))

    def _detect_in(self, gray: np.ndarray) -> np.ndarray:
        if min(gray.shape) < MIN_SIDE:
            raise ImageError(f"image of {gray.shape[1]}x{gray.shape[0]} pixels is too small to "
                             f"find a face in (at least {MIN_SIDE}x{MIN_SIDE})")
        return self.detector.detect(gray)

    def _crops(self, gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return crop_faces(gray, boxes, self.classifier.info.preprocessing, self.margin)

    def _faces(self, boxes: np.ndarray, probabilities: np.ndarray) -> list[Face]:
        return [Face(tuple(int(v) for v in box), tuple(float(p) for p in probs),
                     self.uncertain_below)
                for box, probs in zip(boxes, probabilities, strict=True)]

    def _heat_maps(self, boxes: np.ndarray, probabilities: np.ndarray, values: np.ndarray
                   ) -> list[HeatMap]:
        maps = []
        for box, probs, heat in zip(boxes, probabilities, values, strict=True):
            x0, y0, side = square_box(box, self.margin)
            maps.append(HeatMap((x0, y0, side, side), EMOTIONS[int(probs.argmax())], heat))
        return maps
