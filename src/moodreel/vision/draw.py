"""Drawing results on BGR images: face boxes, the top emotion, per-class percentage bars."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from moodreel.labels import EMOTIONS
from moodreel.vision.image import to_gray
from moodreel.vision.recognizer import Face

#: BGR colour per emotion, so a glance at the bars tells which is which.
COLORS = {
    "angry": (40, 40, 220), "disgust": (40, 140, 40), "fear": (160, 60, 160),
    "happy": (40, 200, 250), "sad": (200, 120, 40), "surprise": (0, 140, 255),
    "neutral": (160, 160, 160),
}
FONT = cv2.FONT_HERSHEY_SIMPLEX


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A drawable 8-bit BGR copy of a gray, BGR or BGRA image."""
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return image.copy()
    if image.ndim == 3 and image.shape[2] == 4 and image.dtype == np.uint8:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return cv2.cvtColor(to_gray(image), cv2.COLOR_GRAY2BGR)


def draw_faces(image: np.ndarray, faces: Sequence[Face], *, labels: Sequence[str] = (),
               fps: float | None = None) -> np.ndarray:
    """A copy of ``image`` with each face's box, top emotion and bars (optional ``labels``
    such as track ids are prefixed to the caption)."""
    canvas = as_bgr(image)
    scale = max(0.4, min(canvas.shape[:2]) / 900)
    thickness = max(1, round(scale * 2))
    for i, face in enumerate(faces):
        x, y, w, h = face.box
        color = COLORS[face.top]
        cv2.rectangle(canvas, (x, y), (x + w, y + h), color, thickness)
        caption = f"{face.top} {face.confidence:.0%}" + (" ?" if face.uncertain else "")
        if i < len(labels):
            caption = f"{labels[i]} {caption}"
        cv2.putText(canvas, caption, (x, max(12, y - 6)), FONT, scale * 0.8, color, thickness,
                    cv2.LINE_AA)
        _draw_bars(canvas, face, x + w + 6, y, scale)
    if fps is not None:
        cv2.putText(canvas, f"{fps:.0f} FPS", (8, round(24 * scale + 8)), FONT, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return canvas


def _draw_bars(canvas: np.ndarray, face: Face, left: int, top: int, scale: float) -> None:
    row = round(16 * scale)
    width = round(90 * scale)
    if left + width + 70 * scale > canvas.shape[1]:
        left = max(0, face.box[0] - width - round(70 * scale) - 6)
    for i, name in enumerate(EMOTIONS):
        y = top + i * row
        if y + row > canvas.shape[0]:
            break
        p = face.emotions[name]
        cv2.rectangle(canvas, (left, y + 2), (left + width, y + row - 2), (50, 50, 50), -1)
        cv2.rectangle(canvas, (left, y + 2), (left + round(width * p), y + row - 2),
                      COLORS[name], -1)
        cv2.putText(canvas, f"{name[:4]} {p:4.0%}", (left + width + 4, y + row - 4), FONT,
                    scale * 0.45, (255, 255, 255), 1, cv2.LINE_AA)
