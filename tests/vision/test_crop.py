from __future__ import annotations

import cv2
import numpy as np

from moodreel.data.preprocess import Preprocessing
from moodreel.vision.crop import crop_faces, square_box


def test_square_box_grows_by_the_margin_around_the_centre():
    x0, y0, side = square_box(np.array([100, 100, 40, 60]), margin=0.25)
    assert side == 90
    assert (x0 + side / 2, y0 + side / 2) == (120, 130)


def test_a_face_at_the_border_is_padded_not_wrapped():
    # Left half dark, right half bright: wrap-around would pull bright pixels into the left pad.
    gray = np.zeros((100, 200), np.uint8)
    gray[:, 100:] = 250
    box = np.array([[-10, 20, 40, 40]])  # partly outside the left edge
    crop = crop_faces(gray, box, Preprocessing(size=48), margin=0.2)
    assert crop.shape == (1, 48, 48)
    assert crop.max() == 0


def test_a_box_fully_outside_the_image_is_an_error():
    import pytest

    with pytest.raises(ValueError, match="outside"):
        crop_faces(np.zeros((50, 50), np.uint8), np.array([[100, 100, 10, 10]]),
                   Preprocessing())


def test_serving_crops_equal_training_preprocessing():
    rng = np.random.default_rng(0)
    face = rng.integers(0, 256, (96, 96), dtype=np.uint8)
    frame = np.zeros((300, 400), np.uint8)
    frame[50:146, 120:216] = face
    pre = Preprocessing(size=48)
    crop = crop_faces(frame, np.array([[120, 50, 96, 96]]), pre, margin=0.0)
    np.testing.assert_array_equal(crop, pre.resize(face[None]))
    np.testing.assert_array_equal(pre.normalize(crop), pre(face[None]))


def test_no_boxes_give_an_empty_batch():
    assert crop_faces(np.zeros((10, 10), np.uint8), np.zeros((0, 4)),
                      Preprocessing()).shape == (0, 48, 48)


def test_a_roll_turns_the_face_back_upright():
    # A bar tilted by 20 degrees about the box centre reads as a level bar once turned back.
    level = np.zeros((200, 200), np.uint8)
    level[95:105, 40:160] = 255
    tilt = cv2.getRotationMatrix2D((100, 100), -20, 1.0)  # clockwise, as a head tilts
    tilted = cv2.warpAffine(level, tilt, (200, 200))
    box = np.array([[50, 50, 100, 100]])
    pre = Preprocessing(size=100)
    plain = crop_faces(tilted, box, pre, margin=0.0)[0]
    turned = crop_faces(tilted, box, pre, margin=0.0, rolls=[20.0])[0]
    expected = crop_faces(level, box, pre, margin=0.0)[0]
    assert np.abs(turned.astype(int) - expected).mean() < 3
    assert np.abs(plain.astype(int) - expected).mean() > 20


def test_a_zero_roll_is_the_plain_crop():
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    boxes = np.array([[-10, 5, 50, 50], [60, 40, 70, 70]])
    pre = Preprocessing(size=48)
    np.testing.assert_array_equal(crop_faces(gray, boxes, pre, rolls=[0.0, 0.0]),
                                  crop_faces(gray, boxes, pre))
