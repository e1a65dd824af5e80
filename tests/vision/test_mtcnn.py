from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from moodreel.vision.boxes import iou
from moodreel.vision.model_info import ModelError
from moodreel.vision.mtcnn import MtcnnFaceDetector, MtcnnSettings, _crop, _nms
from tests.vision.conftest import ASTRONAUT_FACE


@pytest.fixture(scope="module")
def detector():
    return MtcnnFaceDetector()


@pytest.fixture(scope="module")
def astronaut_gray(astronaut_bgr):
    return cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)


def test_the_astronaut_photo_holds_exactly_one_square_face(detector, astronaut_gray):
    boxes = detector.detect(astronaut_gray)
    assert boxes.shape == (1, 4) and boxes.dtype == np.int64
    assert iou(boxes, np.array([ASTRONAUT_FACE]))[0, 0] > 0.6
    assert abs(boxes[0, 2] - boxes[0, 3]) <= 1


def test_boxes_are_in_the_pixels_of_the_image_given(detector, astronaut_gray):
    big = cv2.resize(astronaut_gray, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    assert iou(detector.detect(big), np.array([ASTRONAUT_FACE]) * 2).max() > 0.6


def test_several_faces_come_sorted_top_to_bottom_then_left_to_right(detector, astronaut_gray):
    x, y, w, h = ASTRONAUT_FACE
    face = astronaut_gray[y - 40:y + h + 40, x - 40:x + w + 40]
    mosaic = np.vstack([np.hstack([face, face, face]), np.hstack([face, face, face])])
    boxes = detector.detect(mosaic)
    assert len(boxes) == 6
    keys = [(int(by), int(bx)) for bx, by, _, _ in boxes]
    assert keys == sorted(keys)
    assert boxes[0, 1] < face.shape[0] <= boxes[3, 1]  # three in the top row first


@pytest.mark.parametrize("image", [np.full((480, 640), 128, np.uint8),
                                   np.random.default_rng(0).integers(0, 256, (480, 640),
                                                                     dtype=np.uint8),
                                   np.zeros((24, 24), np.uint8)])
def test_no_face_in_flat_grey_noise_or_a_tiny_image(detector, image):
    assert detector.detect(image).shape == (0, 4)


def test_a_face_half_out_of_the_image_is_still_found(detector, astronaut_gray):
    x, y, w, h = ASTRONAUT_FACE
    cut = astronaut_gray[:, x + w // 3:]  # the left third of the face is gone
    boxes = detector.detect(cut)
    visible = np.array([[0, y, w - w // 3, h]])
    assert len(boxes) == 1 and iou(boxes, visible)[0, 0] > 0.4


def test_crops_leaving_the_image_are_black_there():
    gray = np.full((10, 10), 200, np.uint8)
    crop = _crop(gray, [-10, 0, 9, 19], 20)  # left and bottom halves outside
    assert crop.shape == (20, 20)
    assert (crop[:10, :10] == 0).all() and (crop[:10, 10:] == 200).all()
    assert (crop[10:] == 0).all()


def test_a_crop_inside_the_image_matches_one_that_leaves_it_where_the_image_is_black():
    gray = np.pad(np.random.default_rng(0).integers(1, 256, (40, 50), dtype=np.uint8), 10)
    inside = _crop(gray, [0, 2, 29, 31], 24)  # within the black border: cut straight out
    leaving = _crop(gray[10:, 10:], [-10, -8, 19, 21], 24)  # the same pixels, black added
    assert inside.any() and np.array_equal(inside, leaving)


def test_suppression_keeps_the_most_probable_of_overlapping_boxes():
    boxes = np.array([[0, 0, 99, 99, 0.9], [10, 10, 109, 109, 0.95], [0, 0, 39, 39, 0.99],
                      [300, 300, 349, 349, 0.5]], dtype=np.float64)
    assert sorted(_nms(boxes, 0.5).tolist()) == [1, 2, 3]
    # over the smaller box, the small one inside the large one counts as a duplicate
    assert sorted(_nms(boxes, 0.5, by_smaller=True).tolist()) == [2, 3]


def greedy_nms(boxes: np.ndarray, overlap: float) -> list[int]:
    """Textbook non-maximum suppression on intersection over union, inclusive pixels."""
    kept: list[int] = []
    for i in np.argsort(-boxes[:, 4], kind="stable"):
        if all(pixel_iou(boxes[i], boxes[k]) <= overlap for k in kept):
            kept.append(int(i))
    return kept


def pixel_iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    inter = width * height
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / (area - inter)


@pytest.mark.parametrize("whole_pixels", [True, False])
def test_suppression_over_the_union_keeps_what_the_textbook_loop_keeps(whole_pixels):
    rng = np.random.default_rng(0)
    for _ in range(300):
        count = int(rng.integers(0, 40))
        corners = rng.uniform(0, 150, (count, 2))
        boxes = np.column_stack([corners, corners + rng.uniform(4, 60, (count, 2)),
                                 rng.uniform(0.5, 1, count)])
        if whole_pixels:
            boxes[:, :4] = np.floor(boxes[:, :4])
        for overlap in (0.5, 0.7):
            assert _nms(boxes, overlap).tolist() == greedy_nms(boxes, overlap)


class ScriptedONet:
    """Stands in for O-Net: answers each call with the next face probabilities given, and
    keeps the batch sizes it was asked to read."""

    def __init__(self, *answers: list[float]) -> None:
        self.answers = list(answers)
        self.batches: list[int] = []

    def run(self, _outputs: None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        count = len(feeds["image"])
        self.batches.append(count)
        probability = np.asarray(self.answers.pop(0), dtype=np.float32)
        assert len(probability) == count
        return [np.zeros((count, 4), np.float32), probability, np.zeros((count, 10), np.float32)]


#: R-Net's moved boxes: three on one face (most probable first), one on another face.
ONE_FACE_THREE_BOXES = np.array([[205, 70, 347, 212, 0.99], [200, 72, 348, 220, 0.98],
                                 [202, 73, 348, 219, 0.97], [400, 300, 450, 350, 0.9]])


def test_o_net_reads_one_box_of_each_group_when_it_accepts_it(detector, monkeypatch):
    onet = ScriptedONet([0.99, 0.95])
    monkeypatch.setattr(detector, "onet", onet)
    boxes, _, probability, _ = detector.refine(np.zeros((480, 640), np.uint8),
                                               ONE_FACE_THREE_BOXES)
    assert onet.batches == [2]
    assert boxes[:, 4].tolist() == [0.99, 0.9] and probability.tolist() == pytest.approx(
        [0.99, 0.95])


def test_a_face_whose_first_box_o_net_rejects_is_read_again_from_its_other_boxes(
        detector, monkeypatch):
    # the first face's best box is rejected; the second face is accepted, so only the
    # first face's two other boxes are read again
    onet = ScriptedONet([0.2, 0.95], [0.9, 0.6])
    monkeypatch.setattr(detector, "onet", onet)
    boxes, _, probability, _ = detector.refine(np.zeros((480, 640), np.uint8),
                                               ONE_FACE_THREE_BOXES)
    assert onet.batches == [2, 2]
    assert boxes[:, 4].tolist() == [0.99, 0.9, 0.98, 0.97]
    assert (probability > detector.settings.thresholds[2]).tolist() == [False, True, True,
                                                                         False]


def test_with_group_overlap_1_o_net_reads_every_box_at_once(monkeypatch):
    detector = MtcnnFaceDetector(MtcnnSettings(group_overlap=1.0))
    onet = ScriptedONet([0.99, 0.98, 0.97, 0.9])
    monkeypatch.setattr(detector, "onet", onet)
    boxes, *_ = detector.refine(np.zeros((480, 640), np.uint8), ONE_FACE_THREE_BOXES)
    assert onet.batches == [4] and len(boxes) == 4


def test_reading_boxes_in_groups_finds_the_faces_that_reading_them_all_finds(detector,
                                                                           astronaut_gray):
    every = MtcnnFaceDetector(MtcnnSettings(group_overlap=1.0))
    x, y, w, h = ASTRONAUT_FACE
    face = astronaut_gray[y - 40:y + h + 40, x - 40:x + w + 40]
    for image in (astronaut_gray, np.hstack([face, cv2.flip(face, 1), face])):
        grouped, all_read = detector.detect(image), every.detect(image)
        assert len(grouped) == len(all_read) > 0
        assert iou(grouped, all_read).max(axis=1).min() > 0.8


def test_the_pyramid_starts_where_the_smallest_face_fills_the_window(detector):
    levels = detector.pyramid(np.zeros((480, 640), np.uint8))
    smallest = MtcnnSettings().min_face * 480
    first_scale, first = levels[0]
    assert first_scale == pytest.approx(12 / smallest)
    assert first.shape == (int(480 * first_scale + 1), int(640 * first_scale + 1))
    sides = [min(image.shape) for _, image in levels]
    assert sides == sorted(sides, reverse=True) and sides[-1] >= 12
    assert min(480, 640) * levels[-1][0] * MtcnnSettings().scale_step < 12


def test_one_detector_serves_several_threads_alike(detector, astronaut_gray):
    images = [astronaut_gray, cv2.flip(astronaut_gray, 1), astronaut_gray[50:, 30:]] * 4
    alone = [detector.detect(image) for image in images]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(detector.detect, images))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("settings", [{"min_face_px": 11}, {"scale_step": 1.0},
                                      {"scale_step": 0.0}, {"group_overlap": 0.0},
                                      {"group_overlap": 1.5}])
def test_settings_that_cannot_work_are_refused(settings):
    with pytest.raises(ValueError):
        MtcnnSettings(**settings)


def test_a_missing_or_broken_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        MtcnnFaceDetector(model_dir=tmp_path)
    for name in ("pnet", "rnet", "onet"):
        (tmp_path / f"mtcnn_{name}.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        MtcnnFaceDetector(model_dir=tmp_path)


@pytest.mark.parametrize("angle", [-20, 15])
def test_the_roll_follows_the_eyes(detector, astronaut_gray, angle):
    _, [upright] = detector.locate(astronaut_gray)
    x, y, w, h = ASTRONAUT_FACE
    turn = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, 1.0)  # counter-clockwise
    turned = cv2.warpAffine(astronaut_gray, turn, astronaut_gray.shape[::-1],
                            borderMode=cv2.BORDER_REFLECT)
    boxes, rolls = detector.locate(turned)
    assert len(boxes) == 1 and abs(upright) < 10
    assert rolls[0] == pytest.approx(upright - angle, abs=4)
    np.testing.assert_array_equal(boxes, detector.detect(turned))
