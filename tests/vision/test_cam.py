"""Class activation maps from the shipped ONNX model, without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from moodreel.assets import default_model_path
from moodreel.vision.boxes import iou
from moodreel.vision.cam import CAM_OUTPUTS, class_maps, heat_map
from moodreel.vision.classifier import EmotionClassifier, ModelError
from tests.vision.conftest import ASTRONAUT_FACE

ASTRONAUT_JPEG = Path(__file__).resolve().parents[2] / "docs" / "images" / "astronaut.jpg"


@pytest.fixture(scope="module")
def astronaut(recognizer, astronaut_bgr):
    faces = recognizer.analyze(astronaut_bgr)
    face = max(faces, key=lambda f: iou(np.array([f.box]), np.array([ASTRONAUT_FACE]))[0, 0])
    return astronaut_bgr, face


def test_heat_map_is_upsampled_rectified_and_scaled():
    values = heat_map(np.array([[-2.0, 1.0], [4.0, 0.0]]), 48)
    assert values.shape == (48, 48) and values.dtype == np.float32
    assert values.min() == 0 and values.max() == pytest.approx(1)
    assert values[-1, 0] > values[0, -1]  # the strongest cell stays where it was
    assert not heat_map(-np.ones((3, 3)), 48).any()  # no positive evidence: no heat


def test_the_shipped_model_gives_class_maps_whose_mean_is_the_logits():
    classifier = EmotionClassifier()
    assert classifier.explains and classifier.output_names == ["logits", *CAM_OUTPUTS]
    size = classifier.info.preprocessing.size
    x = np.random.default_rng(0).standard_normal((5, 1, size, size), dtype=np.float32)
    logits, *cam = classifier.session.run(None, {"input": x})
    maps = class_maps(*cam)
    assert maps.shape[:2] == (5, 7) and min(maps.shape[2:]) > 1  # a map, not one cell
    np.testing.assert_allclose(maps.mean(axis=(2, 3)), logits, atol=1e-5)
    np.testing.assert_array_equal(classifier.predict_logits(x), logits)


def test_analyzing_and_explaining_in_one_pass_matches_the_two_steps(recognizer, astronaut):
    image, _ = astronaut
    faces, heat_maps = recognizer.analyze_explained(image)
    separate = recognizer.analyze(image)
    assert [f.box for f in faces] == [f.box for f in separate]
    np.testing.assert_allclose([f.probabilities for f in faces],
                               [f.probabilities for f in separate], atol=1e-6)
    for one_pass, two_steps in zip(heat_maps, recognizer.explain(image, separate), strict=True):
        assert (one_pass.box, one_pass.emotion) == (two_steps.box, two_steps.emotion)
        np.testing.assert_allclose(one_pass.values, two_steps.values, atol=1e-6)


def test_a_face_is_explained_where_it_was_cropped(recognizer, astronaut):
    image, face = astronaut
    (heat,) = recognizer.explain(image, [face])
    assert heat.emotion == face.top == "happy"
    assert heat.box == face.box[:2] + (face.box[2], face.box[2])  # margin 0: the square box
    size = recognizer.classifier.info.preprocessing.size
    assert heat.values.shape == (size, size)
    assert heat.values.min() >= 0 and heat.values.max() == pytest.approx(1)
    assert heat.values.std() > 0.05, "a constant map explains nothing"
    data = json.loads(json.dumps(heat.to_dict()))
    assert data["box"] == list(heat.box) and data["emotion"] == "happy"
    assert np.array(data["heatmap"]).shape == (size, size)


def test_the_map_changes_with_the_face(recognizer, astronaut):
    image, face = astronaut
    x, y, w, h = face.box
    covered = image.copy()
    covered[y + h // 2:y + h, x:x + w] = 128  # hide the smile
    (before,) = recognizer.explain(image, [face])
    (after,) = recognizer.explain(covered, [face])
    assert np.abs(before.values - after.values).max() > 0.1


def test_explaining_gives_the_probabilities_of_predict_proba(recognizer):
    size = recognizer.classifier.info.preprocessing.size
    crops = np.random.default_rng(1).integers(0, 256, (3, size, size), dtype=np.uint8)
    probabilities, maps = recognizer.classifier.explain(crops)
    np.testing.assert_allclose(probabilities, recognizer.classifier.predict_proba(crops),
                               atol=1e-6)
    assert maps.shape == (3, size, size)
    assert recognizer.explain(np.zeros((100, 100), np.uint8), []) == []


def test_a_model_without_class_maps_says_so(tmp_path):
    onnx = pytest.importorskip("onnx")
    proto = onnx.load_model(default_model_path())
    del proto.graph.output[1:]
    path = tmp_path / "logits_only.onnx"
    onnx.save_model(proto, path)
    classifier = EmotionClassifier(path)
    assert not classifier.explains
    with pytest.raises(ModelError, match="features"):
        classifier.explain(np.zeros((1, 48, 48), np.uint8))


def test_explain_with_cam_runs_without_torch(tmp_path):
    out = tmp_path / "why.png"
    code = ("import sys; sys.modules['torch'] = None; from moodreel.cli import main; "
            f"sys.argv = ['moodreel', 'explain', {str(ASTRONAUT_JPEG)!r}, '--method', 'cam', "
            f"'-o', {str(out)!r}]; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "happy" in done.stdout and out.read_bytes().startswith(b"\x89PNG")
