from __future__ import annotations

import numpy as np
import pytest

from moodreel.vision.boxes import iou
from moodreel.vision.recognizer import Face
from moodreel.vision.tracker import FaceTracker


def face(x, y, probs=(0, 0, 0, 1, 0, 0, 0)):
    return Face((x, y, 50, 50), tuple(float(p) for p in probs))


def test_iou():
    assert iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10]]))[0, 0] == 1
    assert iou(np.array([[0, 0, 10, 10]]), np.array([[20, 20, 5, 5]]))[0, 0] == 0
    assert iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 10, 10]]))[0, 0] == pytest.approx(
        50 / 150)


def test_ids_follow_moving_faces_and_new_faces_get_new_ids():
    tracker = FaceTracker()
    first = tracker.update([face(0, 0), face(200, 0)])
    assert [t.id for t in first] == [1, 2]
    moved = tracker.update([face(205, 3), face(6, 2)])  # order swapped, both moved a little
    assert [t.id for t in moved] == [2, 1]
    third = tracker.update([face(8, 4), face(400, 400)])
    assert [t.id for t in third] == [1, 3]


def test_probabilities_are_smoothed_over_time():
    tracker = FaceTracker(smoothing=0.6)
    tracker.update([face(0, 0, (0, 0, 0, 1, 0, 0, 0))])
    [track] = tracker.update([face(2, 0, (0, 0, 0, 0, 1, 0, 0))])
    assert track.face.emotions["happy"] == pytest.approx(0.6)
    assert track.face.emotions["sad"] == pytest.approx(0.4)
    assert track.raw.emotions["sad"] == 1
    unsmoothed = FaceTracker(smoothing=0.0)
    unsmoothed.update([face(0, 0)])
    [track] = unsmoothed.update([face(2, 0, (0, 0, 0, 0, 1, 0, 0))])
    assert track.face.top == "sad"


def test_tracks_expire_after_missed_updates():
    tracker = FaceTracker(max_missed=2)
    tracker.update([face(0, 0)])
    for _ in range(3):
        tracker.update([])
    assert tracker.tracks == []
    assert tracker.update([face(0, 0)])[0].id == 2
