from __future__ import annotations

import cv2
import numpy as np

from moodreel.vision.detector import HaarFaceDetector, HaarSettings
from moodreel.vision.tracker import iou
from tests.vision.conftest import ASTRONAUT_FACE


def test_boxes_map_back_to_full_resolution(astronaut_bgr):
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    big = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    detector = HaarFaceDetector()
    face = np.array([ASTRONAUT_FACE])
    small_hits = iou(detector.detect(gray), face).max()
    big_hits = iou(detector.detect(big), face * 2).max()
    assert small_hits > 0.6 and big_hits > 0.6


def test_boxes_come_sorted_top_to_bottom_then_left_to_right(astronaut_bgr):
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    detector = HaarFaceDetector(HaarSettings(min_neighbors=0, scale_factor=1.1))
    boxes = detector.detect(gray)
    assert len(boxes) > 3
    keys = [(int(y), int(x)) for x, y, _, _ in boxes]
    assert keys == sorted(keys)


def test_faces_below_the_minimum_size_are_not_searched():
    detector = HaarFaceDetector()
    assert detector.detect(np.full((20, 20), 128, np.uint8)).shape == (0, 4)
