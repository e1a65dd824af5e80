"""Pictures for ``moodreel explain``: heat maps over the faces of a photo with their top three
emotions, and galleries of dataset faces per class. Any explainer fits: the ONNX model's
class activation maps (``EmotionClassifier.explain``, no torch) or the gradient methods of
``moodreel.train.explain``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from moodreel.data.preprocess import Preprocessing
from moodreel.labels import EMOTIONS
from moodreel.vision.crop import crop_faces, square_box
from moodreel.vision.detector import FaceDetector
from moodreel.vision.draw import as_bgr
from moodreel.vision.image import ImageError, to_gray
from moodreel.vision.mtcnn import MtcnnFaceDetector

#: Grayscale uint8 crops ``(N, H, W)`` -> probabilities ``(N, K)`` and heat maps
#: ``(N, S, S)`` in [0, 1] of each face's top class.
Explainer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Pictures of small crops are enlarged to at least this many pixels a side.
MIN_SIDE = 384


def overlay_heat_map(canvas: np.ndarray, values: np.ndarray,
                     box: tuple[int, int, int, int], strength: float = 0.6) -> None:
    """Blend ``values`` ``(S, S)`` in [0, 1], coloured hot to cold, over ``box`` ``(x, y, w,
    h)`` of the BGR ``canvas`` in place; cold areas stay as they are, the edges clip."""
    x, y, w, h = (int(v) for v in box)
    heat = cv2.resize(values.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(canvas.shape[1], x + w), min(canvas.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    inside = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    weight = strength * heat[inside][..., None]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    blend = region * (1 - weight) + colours[inside] * weight
    canvas[y0:y1, x0:x1] = np.rint(blend).astype(np.uint8)


def explain_image(image: np.ndarray, explainer: Explainer, preprocessing: Preprocessing, *,
                  detector: FaceDetector | None = None, labels: Sequence[str] = EMOTIONS
                  ) -> tuple[np.ndarray, list[dict]]:
    """The picture (BGR) and, per face, its box and top three emotions.

    A square image no larger than twice the model's input (a face crop, as in FER-2013) is
    explained whole; in any other image the faces are detected first.
    """
    gray = to_gray(image)
    height, width = gray.shape
    if height == width and height <= 2 * preprocessing.size:
        boxes = np.array([[0, 0, width, height]])
    else:
        boxes = (detector or MtcnnFaceDetector()).detect(gray)
        if not len(boxes):
            raise ImageError("no face found; try a photo with a frontal face, or a face crop")
    probabilities, maps = explainer(crop_faces(gray, boxes, preprocessing, margin=0.0))
    canvas = as_bgr(image)
    scale = max(1, math.ceil(MIN_SIDE / min(height, width)))
    if scale > 1:
        canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    text_scale = max(0.6, min(canvas.shape[:2]) / 900)
    faces = []
    for box, probs, values in zip(boxes, probabilities, maps, strict=True):
        x0, y0, side = (v * scale for v in square_box(box, 0.0))
        overlay_heat_map(canvas, values, (x0, y0, side, side))
        cv2.rectangle(canvas, (x0, y0), (x0 + side - 1, y0 + side - 1), (255, 255, 255), 1)
        top3 = [(labels[k], float(probs[k])) for k in np.argsort(probs)[::-1][:3]]
        _caption(canvas, [f"{name} {p:.0%}" for name, p in top3], x0, y0 + side, text_scale)
        faces.append({"box": [int(v) for v in box], "top3": top3})
    return canvas, faces


def explain_gallery(images: np.ndarray, labels: np.ndarray, explainer: Explainer,
                    per_class: int, *, names: Sequence[str] = EMOTIONS, title: str = "",
                    tile: int = 96) -> np.ndarray:
    """A grid with one row per class of the first ``per_class`` faces of ``images`` ``(N, H,
    W)`` labelled ``labels``, each under its heat map and captioned with the prediction
    (green when right, red when wrong)."""
    rows = [(k, np.flatnonzero(labels == k)[:per_class]) for k in range(len(names))]
    rows = [(k, picks) for k, picks in rows if len(picks)]
    if not rows:
        raise ValueError("no faces to show")
    picks = np.concatenate([p for _, p in rows])
    probabilities, maps = explainer(images[picks])
    left, top, caption = 90, 30, 18
    cols = max(len(p) for _, p in rows)
    canvas = np.full((top + len(rows) * (tile + caption), left + cols * tile, 3), 32, np.uint8)
    cv2.putText(canvas, title, (8, 20), FONT, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    for r, (k, _) in enumerate(rows):
        cv2.putText(canvas, names[k], (8, top + r * (tile + caption) + tile // 2), FONT, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
    cells = [(r, c, k) for r, (k, chosen) in enumerate(rows) for c in range(len(chosen))]
    for i, (r, c, k) in enumerate(cells):
        x, y = left + c * tile, top + r * (tile + caption)
        face = cv2.cvtColor(cv2.resize(images[picks[i]], (tile, tile),
                                       interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
        overlay_heat_map(face, maps[i], (0, 0, tile, tile))
        canvas[y:y + tile, x:x + tile] = face
        predicted = int(probabilities[i].argmax())
        colour = (80, 200, 80) if predicted == k else (60, 60, 230)
        cv2.putText(canvas, f"{names[predicted]} {probabilities[i, predicted]:.0%}",
                    (x + 2, y + tile + 13), FONT, 0.38, colour, 1, cv2.LINE_AA)
    return canvas


def _caption(canvas: np.ndarray, lines: list[str], x: int, y: int, scale: float) -> None:
    """Lines of text on a dark band at ``(x, y)``, moved inside the picture if need be."""
    row = round(22 * scale)
    width = max(cv2.getTextSize(line, FONT, scale * 0.7, 1)[0][0] for line in lines) + 8
    height = row * len(lines) + 6
    x = min(max(0, x), max(0, canvas.shape[1] - width))
    y = min(max(0, y), max(0, canvas.shape[0] - height))
    cv2.rectangle(canvas, (x, y), (x + width, y + height), (0, 0, 0), -1)
    for i, line in enumerate(lines):
        cv2.putText(canvas, line, (x + 4, y + (i + 1) * row), FONT, scale * 0.7,
                    (255, 255, 255), 1, cv2.LINE_AA)
