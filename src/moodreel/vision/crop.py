"""Face crops for the CNN: a square box with margin, padded at the image edges, and turned
upright when the detector found the face tilted.

Padding replicates the border pixels instead of wrapping around or clipping the box, so a
face touching the edge keeps its position in the crop and no pixel from the opposite side
leaks in. Resizing is ``Preprocessing.resize``, the same function training uses.
"""

from __future__ import annotations

import cv2
import numpy as np

from moodreel.data.preprocess import Preprocessing


def square_box(box: np.ndarray, margin: float) -> tuple[int, int, int]:
    """``(x0, y0, side)`` of the square centred on ``box`` grown by ``margin`` per side."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    return round(cx - side / 2), round(cy - side / 2), max(1, round(side))


def crop_faces(gray: np.ndarray, boxes: np.ndarray, preprocessing: Preprocessing,
               margin: float = 0.1, rolls: np.ndarray | None = None) -> np.ndarray:
    """Crops ``(N, size, size)`` uint8 for boxes ``(N, 4)`` in a grayscale image. With
    ``rolls`` (degrees, one per box, as ``MtcnnFaceDetector.locate`` measures them), each
    face is turned back by its roll about its box's centre, eyes level as in FER-2013."""
    boxes = np.asarray(boxes).reshape(-1, 4)
    rolls = rolls_for(boxes, rolls)
    height, width = gray.shape[:2]
    crops = []
    for box, roll in zip(boxes, rolls, strict=True):
        x0, y0, side = square_box(box, margin)
        x1, y1 = x0 + side, y0 + side
        inside = gray[max(0, y0):min(height, y1), max(0, x0):min(width, x1)]
        if inside.size == 0:
            raise ValueError(f"face box {box.tolist()} lies outside the {width}x{height} image")
        if roll:
            inside = turned_square(gray, x0, y0, side, roll, cv2.BORDER_REPLICATE)
        elif x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            inside = cv2.copyMakeBorder(inside, max(0, -y0), max(0, y1 - height), max(0, -x0),
                                        max(0, x1 - width), cv2.BORDER_REPLICATE)
        crops.append(preprocessing.resize(inside[None])[0])
    if not crops:
        return np.zeros((0, preprocessing.size, preprocessing.size), dtype=np.uint8)
    return np.stack(crops)


def rolls_for(boxes: np.ndarray, rolls: np.ndarray | None) -> np.ndarray:
    """One roll in degrees per box (all 0 without ``rolls``); ``ValueError`` if the counts
    differ."""
    if rolls is None:
        return np.zeros(len(boxes))
    rolls = np.asarray(rolls, dtype=np.float64).reshape(-1)
    if len(rolls) != len(boxes):
        raise ValueError(f"{len(rolls)} rolls for {len(boxes)} boxes")
    return rolls


def turned_square(image: np.ndarray, x0: int, y0: int, side: int, degrees: float,
                  border: int) -> np.ndarray:
    """The square at ``(x0, y0)`` of ``side`` pixels, its content turned counter-clockwise
    by ``degrees`` about its centre; pixels from outside ``image`` follow OpenCV's
    ``border`` mode (a crop repeats the image's border, as the unturned crop does; a heat
    map turned back takes 0)."""
    matrix = cv2.getRotationMatrix2D((x0 + side / 2, y0 + side / 2), degrees, 1.0)
    matrix[:, 2] -= (x0, y0)
    return cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR,
                          borderMode=border)
