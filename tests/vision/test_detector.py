from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodreel.vision.boxes import iou
from moodreel.vision.detector import HaarFaceDetector, HaarSettings
from moodreel.vision.image import shrink
from tests.vision.conftest import ASTRONAUT_FACE


@pytest.fixture(scope="module")
def astronaut_gray(astronaut_bgr):
    return cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)


def test_the_astronaut_photo_holds_exactly_one_face(astronaut_gray):
    boxes = HaarFaceDetector().detect(astronaut_gray)
    assert len(boxes) == 1
    assert iou(boxes, np.array([ASTRONAUT_FACE]))[0, 0] > 0.6


def test_verification_removes_the_false_face_on_the_suit(astronaut_gray):
    face = np.array([ASTRONAUT_FACE])
    unverified = HaarFaceDetector(HaarSettings(min_neighbors=1, verify_cascade=None))
    boxes = unverified.detect(astronaut_gray)
    assert len(boxes) == 2 and (iou(boxes, face)[:, 0] < 0.1).sum() == 1
    assert len(HaarFaceDetector(HaarSettings(min_neighbors=1)).detect(astronaut_gray)) == 1


def test_large_groups_skip_verification(astronaut_gray):
    trusted = HaarFaceDetector(HaarSettings(verify_under=0)).detect(astronaut_gray)
    unverified = HaarFaceDetector(HaarSettings(verify_cascade=None)).detect(astronaut_gray)
    np.testing.assert_array_equal(trusted, unverified)
    assert len(trusted) > 1


def test_of_overlapping_boxes_the_one_with_more_windows_stays():
    boxes = np.array([[300, 300, 50, 50], [0, 0, 100, 100], [10, 10, 100, 100]])
    counts = np.array([1, 3, 5])
    kept = HaarFaceDetector(HaarSettings(overlap=0.2)).select(boxes, counts)
    np.testing.assert_array_equal(kept, [[10, 10, 100, 100], [300, 300, 50, 50]])
    everything = HaarFaceDetector(HaarSettings(overlap=1.0)).select(boxes, counts)
    assert len(everything) == 3


def test_boxes_map_back_to_full_resolution(astronaut_gray):
    big = cv2.resize(astronaut_gray, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    detector = HaarFaceDetector()
    face = np.array([ASTRONAUT_FACE])
    small_hits = iou(detector.detect(astronaut_gray), face).max()
    big_hits = iou(detector.detect(big), face * 2).max()
    assert small_hits > 0.6 and big_hits > 0.6


def test_boxes_come_sorted_top_to_bottom_then_left_to_right(astronaut_gray):
    detector = HaarFaceDetector(HaarSettings(scale_factor=1.1, verify_cascade=None,
                                             overlap=1.0))
    boxes = detector.detect(astronaut_gray)
    assert len(boxes) > 3
    keys = [(int(y), int(x)) for x, y, _, _ in boxes]
    assert keys == sorted(keys)


def test_faces_below_the_minimum_size_are_not_searched():
    detector = HaarFaceDetector()
    assert detector.detect(np.full((20, 20), 128, np.uint8)).shape == (0, 4)
    assert detector.candidates(np.full((20, 20), 128, np.uint8))[0].shape == (0, 4)


def test_the_first_cascade_is_a_setting(astronaut_gray):
    small = cv2.resize(astronaut_gray, (280, 210), interpolation=cv2.INTER_AREA)
    default = HaarFaceDetector().windows(small, 25)
    alt2 = HaarFaceDetector(HaarSettings(cascade="haarcascade_frontalface_alt2.xml")).windows(
        small, 25)
    assert len(default) and len(alt2)
    assert sorted(map(tuple, default)) != sorted(map(tuple, alt2))
    with pytest.raises(RuntimeError, match="could not load"):
        HaarFaceDetector(HaarSettings(cascade="no_such_cascade.xml"))


@pytest.mark.parametrize(("shape", "size"), [((480, 640), (280, 210)), ((481, 641), (280, 210)),
                                              ((720, 1280), (280, 158)), ((300, 400), (280, 210)),
                                              ((240, 320), (280, 210))])
def test_the_detection_copy_averages_like_one_area_resize(shape, size):
    """Halvings first, then one short step: the size asked for, the same brightness, and
    about as much fine detail (here noise) left to alias as one area resize leaves; one
    bilinear or nearest-neighbour resize of 640x480 would keep 1.8x as much."""
    gray = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    small = shrink(gray, size)
    assert small.shape == size[::-1] and small.dtype == np.uint8
    reference = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    assert abs(small.mean() - reference.mean()) < 0.5
    assert small.std() <= 1.1 * reference.std()
