"""The whole serving pipeline on real faces, with the shipped model."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from moodreel.labels import BASIC_EMOTIONS, EMOTIONS
from moodreel.vision.boxes import iou
from moodreel.vision.crop import crop_faces
from moodreel.vision.image import ImageError
from moodreel.vision.recognizer import Face
from tests.vision.conftest import ASTRONAUT_FACE


def test_the_astronaut_is_found_and_smiles(recognizer, astronaut_bgr):
    [best] = recognizer.analyze(astronaut_bgr)  # and nothing on the suit or the flag
    assert iou(np.array([best.box]), np.array([ASTRONAUT_FACE]))[0, 0] > 0.6
    assert best.top == "happy"
    assert best.confidence > 0.5 and not best.uncertain
    data = json.loads(json.dumps(best.to_dict()))
    assert set(data) == {"box", "emotions", "basic", "top", "confidence", "uncertain", "roll"}
    assert list(data["emotions"]) == list(EMOTIONS)
    assert list(data["basic"]) == list(BASIC_EMOTIONS)
    assert sum(data["emotions"].values()) == pytest.approx(1, abs=1e-5)
    assert sum(data["basic"].values()) == pytest.approx(1, abs=1e-9)


def test_color_order_and_formats_give_the_same_answer(recognizer, astronaut_bgr):
    reference = recognizer.analyze(astronaut_bgr)
    rgb = astronaut_bgr[..., ::-1].copy()
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    sixteen = astronaut_bgr.astype(np.uint16) * 257
    for image, order in ((rgb, "rgb"), (rgba, "rgb"), (sixteen, "bgr")):
        faces = recognizer.analyze(image, color_order=order)
        assert [f.box for f in faces] == [f.box for f in reference]
        np.testing.assert_allclose([f.probabilities for f in faces],
                                   [f.probabilities for f in reference], atol=1e-6)


def test_given_boxes_skip_detection(recognizer, astronaut_bgr):
    calls = []
    original = recognizer.detector

    class Counting:
        def detect(self, gray):
            calls.append(gray.shape)
            return original.detect(gray)

    recognizer.detector = Counting()
    try:
        faces = recognizer.analyze(astronaut_bgr, boxes=[ASTRONAUT_FACE, (0, 0, 40, 40)])
    finally:
        recognizer.detector = original
    assert calls == []
    assert [f.box for f in faces] == [ASTRONAUT_FACE, (0, 0, 40, 40)]


def test_tiny_and_blank_images(recognizer):
    with pytest.raises(ImageError, match="too small"):
        recognizer.analyze(np.zeros((1, 1, 3), np.uint8))
    assert recognizer.analyze(np.full((480, 640, 3), 127, np.uint8)) == []


def _fer_faces(shared_fer2013, recognizer, count):
    """The first ``count`` val faces (upscaled 4x) that the detector finds on their own."""
    chosen = []
    for path in sorted((shared_fer2013 / "val" / "happy").glob("*.jpg")):
        face = cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (192, 192),
                          interpolation=cv2.INTER_CUBIC)
        canvas = np.full((320, 320), 110, np.uint8)
        canvas[64:256, 64:256] = face
        if len(recognizer.detect(canvas)) == 1:
            chosen.append(face)
        if len(chosen) == count:
            return chosen
    pytest.fail("too few FER val faces were detected")


@pytest.mark.slow
def test_a_frame_with_three_faces_gives_three_results(recognizer, shared_fer2013):
    faces = _fer_faces(shared_fer2013, recognizer, 3)
    frame = np.full((480, 720), 110, np.uint8)
    for i, face in enumerate(faces):
        frame[140:332, 24 + i * 232:216 + i * 232] = face
    results = recognizer.analyze(frame)
    assert len(results) == 3
    boxes = np.array([r.box for r in results])
    overlaps = iou(boxes, boxes)
    assert (overlaps[~np.eye(3, dtype=bool)] == 0).all()  # three distinct faces
    assert sum(r.top == "happy" for r in results) >= 2


@pytest.mark.slow
def test_a_face_touching_the_border_is_found(recognizer, shared_fer2013):
    [face] = _fer_faces(shared_fer2013, recognizer, 1)
    frame = np.full((480, 640), 110, np.uint8)
    frame[288:480, 0:192] = face  # bottom-left corner
    results = recognizer.analyze(frame)
    assert len(results) == 1
    x, y, w, h = results[0].box
    assert x < 40 and y + h > 440


def test_every_public_name_of_the_vision_package_resolves() -> None:
    import moodreel.vision as vision

    for name in vision.__all__:
        assert getattr(vision, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        vision.nothing  # noqa: B018


def test_a_tilted_face_is_read_upright(recognizer, astronaut_bgr):
    from moodreel.vision.detector import HaarFaceDetector
    from moodreel.vision.recognizer import Recognizer

    x, y, w, h = ASTRONAUT_FACE
    turn = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), 25, 1.0)
    tilted = cv2.warpAffine(astronaut_bgr, turn, astronaut_bgr.shape[1::-1],
                            borderMode=cv2.BORDER_REFLECT)
    [upright] = recognizer.analyze(astronaut_bgr)
    [aligned] = recognizer.analyze(tilted)
    [unaligned] = Recognizer(align=False).analyze(tilted)
    assert aligned.roll == pytest.approx(upright.roll - 25, abs=5) and unaligned.roll == 0
    # turned back, the model sees about the upright face (its probabilities for this one
    # smiling face barely move either way: a pixel of box changes which gap is smaller)
    def seen(image: np.ndarray, face: Face) -> np.ndarray:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return crop_faces(gray, np.array([face.box]), recognizer.classifier.info.preprocessing,
                          recognizer.margin, np.array([face.roll]))[0].astype(np.float64)

    model_input = seen(astronaut_bgr, upright)
    turned_back = np.abs(seen(tilted, aligned) - model_input).mean()
    assert 2 * turned_back < np.abs(seen(tilted, unaligned) - model_input).mean()
    assert aligned.top == upright.top
    assert Recognizer(detector=HaarFaceDetector()).analyze(astronaut_bgr)[0].roll == 0
    [heat] = recognizer.explain(tilted, [aligned])
    assert heat.values.max() == pytest.approx(1) and heat.values[0, 0] == 0


def test_rolls_must_match_the_boxes(recognizer, astronaut_bgr):
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    with pytest.raises(ValueError, match="2 rolls for 1 boxes"):
        recognizer.classify(gray, np.array([ASTRONAUT_FACE]), rolls=[0.0, 1.0])
