"""MTCNN face detection (Zhang et al. 2016): three small CNNs in a cascade, under ONNX Runtime.

P-Net scans an image pyramid for 12x12 face windows, R-Net re-scores its proposals on 24x24
crops and O-Net the survivors on 48x48 crops; each stage also regresses the box. The weights
are facenet-pytorch's (MIT), converted by ``tools/convert_mtcnn.py`` to take a gray image,
in forms of the same networks that ONNX Runtime runs 1.5x faster, all three float: an int8 O-Net
read faces differently on CPUs without int8 dot products.

Why it is the default rather than OpenCV's Haar cascade (``benchmarks/detector_alternatives.py``,
1,020 frames of pasted FER-2013 faces and 40 of a real photo): it finds more faces, puts
fewer false ones on the frames and none on the photo, in about half the time per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from moodreel.assets import ASSETS_DIR
from moodreel.vision.boxes import iou
from moodreel.vision.image import shrink
from moodreel.vision.onnx_session import open_session

#: P-Net's window and the stride of its output grid, in pyramid pixels.
CELL, STRIDE = 12, 2
#: Pixel values in [-1, 1), as the networks were trained.
MEAN, SCALE = 127.5, 1 / 128


@dataclass(frozen=True)
class MtcnnSettings:
    """MTCNN settings; the defaults were measured in ``benchmarks/detector_alternatives.py``.

    The thresholds are the face probabilities each stage needs; a larger ``scale_step``
    scans more pyramid levels, finding more faces at more cost. The original paper's
    (0.709 and 0.6 / 0.7 / 0.7) found 1 point more faces in 1.15x the time, and one false
    face on the real photo.
    """

    min_face: float = 0.12      # smallest face side, as a fraction of the shorter image side
    min_face_px: int = 20       # and never below this many pixels
    scale_step: float = 0.65    # each pyramid level's size relative to the one before
    thresholds: tuple[float, float, float] = (0.6, 0.8, 0.7)  # P-Net, R-Net, O-Net
    level_overlap: float = 0.5   # IoU above which a proposal goes, within one pyramid level
    stage_overlap: float = 0.7   # the same after P-Net's levels are pooled and after R-Net
    final_overlap: float = 0.7   # the same after O-Net, as a fraction of the smaller box
    group_overlap: float = 0.5   # IoU above which R-Net's moved boxes go to O-Net as a group

    def __post_init__(self) -> None:
        if self.min_face_px < CELL:
            raise ValueError(f"min_face_px must be at least P-Net's {CELL}-pixel window")
        if not 0 < self.group_overlap <= 1:
            raise ValueError(f"group_overlap must lie in (0, 1], not {self.group_overlap}")
        if not 0 < self.scale_step < 1:
            raise ValueError(f"scale_step must lie between 0 and 1, not {self.scale_step}")


class MtcnnFaceDetector:
    """MTCNN on an 8-bit gray image; boxes ``x, y, w, h``, square, top to bottom.

    Build once and reuse: loading the three ONNX Runtime sessions is the costly part.
    """

    def __init__(self, settings: MtcnnSettings | None = None, *,
                 model_dir: str | Path = ASSETS_DIR, threads: int = 1) -> None:
        self.settings = settings or MtcnnSettings()
        self.pnet, self.rnet, self.onet = (
            open_session(Path(model_dir) / f"mtcnn_{name}.onnx", threads=threads,
                         what="face detector model") for name in ("pnet", "rnet", "onet"))

    def detect(self, gray: np.ndarray) -> np.ndarray:
        return self.locate(gray)[0]

    def locate(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes ``(N, 4)`` as ``detect`` returns them, and each face's roll ``(N,)``: the
        angle in degrees of the line from the eye on the image's left to the other one,
        positive when that line falls to the right (the angle ``Recognizer`` rotates the
        face back by, counter-clockwise, before reading it)."""
        s = self.settings
        none = np.zeros((0, 4), dtype=np.int64), np.zeros(0)
        boxes = self.proposals(gray)
        if len(boxes) == 0:
            return none
        # R-Net's 24-pixel crops come from a half-size copy, for speed
        half = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2),
                          interpolation=cv2.INTER_AREA)
        scaled = _scaled(boxes, 0.5)
        offsets, probability = self.rnet.run(None, {"image": _crops(half, scaled, 24)})
        kept = probability > s.thresholds[1]
        boxes = _with_probability(boxes[kept], probability[kept])
        nms = _nms(boxes, s.stage_overlap)
        boxes = _squared(_regressed(boxes[nms], offsets[kept][nms]))
        if len(boxes) == 0:
            return none
        boxes, offsets, probability, landmarks = self.refine(gray, boxes)
        kept = probability > s.thresholds[2]
        rolls = _rolls(boxes[kept], landmarks[kept])
        boxes = _regressed(_with_probability(boxes[kept], probability[kept]), offsets[kept])
        nms = _nms(boxes, s.final_overlap, by_smaller=True)
        boxes, rolls = _squared(boxes[nms]), rolls[nms]
        xywh = np.round(np.column_stack([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2] + 1]))
        xywh = xywh.astype(np.int64).reshape(-1, 4)
        order = np.lexsort((xywh[:, 0], xywh[:, 1]))
        return xywh[order], rolls[order]

    def refine(self, gray: np.ndarray, boxes: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """O-Net on R-Net's boxes ``(N, 5)``: the boxes it read, and its box offsets, face
        probabilities and landmarks for each.

        Moved by R-Net, several boxes often land on one face (three with IoU 0.9 on the web
        benchmark's snapshot), and O-Net costs about 0.35 ms a box. So it reads the most
        probable box of each group overlapping by more than ``group_overlap`` first, then
        only the boxes that no box it accepted covers: a face whose first box it rejects is
        still found by another, as when it read them all (``group_overlap`` 1)."""
        s = self.settings
        first = _nms(boxes, s.group_overlap)  # at 1 every box: none overlaps by more
        leaders = boxes[first]
        offsets, probability, landmarks = self.onet.run(None, {"image": _crops(gray, leaders, 48)})
        accepted = _rects(leaders[probability > s.thresholds[2]])
        rest = np.setdiff1d(np.arange(len(boxes)), first)
        if len(rest) and len(accepted):
            rest = rest[iou(_rects(boxes[rest]), accepted).max(axis=1) <= s.group_overlap]
        if len(rest) == 0:
            return leaders, offsets, probability, landmarks
        others = boxes[rest]
        more = self.onet.run(None, {"image": _crops(gray, others, 48)})
        read = [np.concatenate(pair) for pair in zip((offsets, probability, landmarks), more,
                                                     strict=True)]
        return np.concatenate([leaders, others]), read[0], read[1], read[2]

    def pyramid(self, gray: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """``(scale, image)`` pairs: the image shrunk so that the smallest face sought fills
        P-Net's window, then by ``scale_step`` while the window still fits."""
        s = self.settings
        height, width = gray.shape[:2]
        smallest = max(s.min_face_px, s.min_face * min(height, width))
        scale = CELL / smallest
        levels: list[tuple[float, np.ndarray]] = []
        while min(height, width) * scale >= CELL:
            size = (int(width * scale + 1), int(height * scale + 1))
            if not levels:  # from the full image, cheaply; the rest from this small copy
                image = shrink(gray, size)
            else:
                image = cv2.resize(levels[0][1], size, interpolation=cv2.INTER_AREA)
            levels.append((scale, image))
            scale *= s.scale_step
        return levels

    def proposals(self, gray: np.ndarray) -> np.ndarray:
        """P-Net's boxes ``(N, 5)``: ``x1, y1, x2, y2, probability`` in ``gray``'s pixels."""
        s = self.settings
        windows, offsets = [], []
        for scale, image in self.pyramid(gray):
            moves, probability = self.pnet.run(None, {"image": _normalised(image)[None, None]})
            rows, cols = np.nonzero(probability[0] >= s.thresholds[0])
            if len(rows) == 0:
                continue
            corners = np.column_stack([cols, rows]).astype(np.float64) * STRIDE
            found = np.column_stack([np.floor((corners + 1) / scale),
                                     np.floor((corners + CELL) / scale),
                                     probability[0, rows, cols]])
            kept = _nms(found, s.level_overlap)
            windows.append(found[kept])
            offsets.append(moves[0][:, rows[kept], cols[kept]].T)
        if not windows:
            return np.zeros((0, 5))
        found, moves = np.concatenate(windows), np.concatenate(offsets)
        kept = _nms(found, s.stage_overlap)
        return _squared(_regressed(found[kept], moves[kept]))


def _normalised(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) - MEAN) * SCALE


def _crops(gray: np.ndarray, boxes: np.ndarray, side: int) -> np.ndarray:
    """Network input ``(N, 1, side, side)``: each box's pixels, resized and normalised."""
    corners = np.trunc(boxes[:, :4]).astype(np.int64).tolist()  # plain ints: cheap to use
    return _normalised(np.stack([_crop(gray, corner, side) for corner in corners])[:, None])


def _with_probability(boxes: np.ndarray, probability: np.ndarray) -> np.ndarray:
    return np.column_stack([boxes[:, :4], probability])


def _rolls(boxes: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Degrees from the first eye to the second; landmarks are O-Net's box fractions
    (x of both eyes, nose and mouth corners, then their y) of the boxes it was given."""
    sides = boxes[:, 2:4] - boxes[:, :2] + 1
    dx = (landmarks[:, 1] - landmarks[:, 0]) * sides[:, 0]
    dy = (landmarks[:, 6] - landmarks[:, 5]) * sides[:, 1]
    return np.degrees(np.arctan2(dy, dx))


def _scaled(boxes: np.ndarray, factor: float) -> np.ndarray:
    return np.column_stack([boxes[:, :4] * factor, boxes[:, 4:]])


def _regressed(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Boxes moved by offsets given as fractions of their width and height."""
    sides = np.tile(boxes[:, 2:4] - boxes[:, :2] + 1, 2)
    moved = boxes.copy()
    moved[:, :4] += offsets * sides
    return moved


def _squared(boxes: np.ndarray) -> np.ndarray:
    """Square boxes on the same centres, sides the longer of each box's two."""
    centres = (boxes[:, :2] + boxes[:, 2:4]) / 2
    half = (boxes[:, 2:4] - boxes[:, :2]).max(axis=1, keepdims=True) / 2
    return np.column_stack([centres - half, centres + half, boxes[:, 4:]])


def _crop(gray: np.ndarray, corners: Sequence[int], side: int) -> np.ndarray:
    """The pixels of the box with these inclusive corners ``x1, y1, x2, y2``, resized to
    ``side``, black where the box leaves the image."""
    x1, y1, x2, y2 = corners
    height, width = gray.shape[:2]
    w, h = max(1, x2 - x1 + 1), max(1, y2 - y1 + 1)
    if x1 >= 0 and y1 >= 0 and x1 + w <= width and y1 + h <= height:  # inside: no copy
        return cv2.resize(gray[y1:y1 + h, x1:x1 + w], (side, side), interpolation=cv2.INTER_AREA)
    patch = np.zeros((h, w), dtype=np.uint8)
    top, left = max(0, y1), max(0, x1)
    bottom, right = min(height, y1 + h), min(width, x1 + w)
    if bottom > top and right > left:
        patch[top - y1:bottom - y1, left - x1:right - x1] = gray[top:bottom, left:right]
    return cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA)


def _rects(boxes: np.ndarray) -> np.ndarray:
    """``x, y, w, h`` of boxes given by their inclusive corners ``x1, y1, x2, y2``."""
    return np.column_stack([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2] + 1])


def _nms(boxes: np.ndarray, overlap: float, *, by_smaller: bool = False) -> np.ndarray:
    """Indices of the boxes kept by non-maximum suppression on their probability (column
    4): a box goes when its overlap with a more probable kept one (intersection over union,
    or over the smaller box) exceeds ``overlap``. Over the union, OpenCV's loop does it 10x
    faster than numpy's for P-Net's dozens of boxes per level; probabilities must be > 0."""
    if not by_smaller:
        kept = cv2.dnn.NMSBoxes(_rects(boxes), boxes[:, 4], 0.0, overlap)
        return np.asarray(kept, dtype=np.int64).reshape(-1)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(boxes[:, 4])[::-1]
    kept = []
    while len(order):
        best, rest = order[0], order[1:]
        kept.append(best)
        width = np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1
        height = np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1
        inter = np.maximum(0, width) * np.maximum(0, height)
        order = rest[inter / np.minimum(areas[best], areas[rest]) <= overlap]
    return np.asarray(kept, dtype=np.int64)
