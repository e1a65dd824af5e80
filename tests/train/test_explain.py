"""Grad-CAM, guided backpropagation and guided Grad-CAM, and ``moodreel explain``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from moodreel.assets import default_model_path
from moodreel.cli import cli
from moodreel.data.preprocess import Preprocessing
from moodreel.nn import create_model
from moodreel.nn.onnx_import import model_from_onnx
from moodreel.train.checkpoint import save_checkpoint
from moodreel.train.explain import METHODS, GradientExplainer, guided_backprop, load_explainer
from moodreel.vision.classifier import EmotionClassifier
from moodreel.vision.crop import crop_faces
from tests.vision.conftest import ASTRONAUT_FACE

ASTRONAUT = Path(__file__).resolve().parents[2] / "docs" / "images" / "astronaut.jpg"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """A few faces need no parallelism, and OpenMP threads waiting for busy cores (a
    training run beside the tests) make each pass take up to a second."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shipped():
    return model_from_onnx(default_model_path())


@pytest.fixture(scope="module")
def face(shipped) -> np.ndarray:
    """The astronaut's face cropped at the shipped model's input size, ``(1, size, size)``."""
    gray = cv2.imread(str(ASTRONAUT), cv2.IMREAD_GRAYSCALE)
    return crop_faces(gray, np.array([ASTRONAUT_FACE]), shipped[1].preprocessing, margin=0.0)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model=create_model("simple_cnn_small").eval(),
                    preprocessing=Preprocessing())
    return path


@pytest.mark.parametrize("method", list(METHODS))
def test_maps_have_the_input_size_are_scaled_and_follow_the_input(shipped, face, method):
    model, info = shipped
    explainer = GradientExplainer(model, info.preprocessing, method, info.temperature)
    probabilities, maps = explainer(face)
    assert probabilities.argmax() == 3  # happy
    assert maps.shape == face.shape and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() == pytest.approx(1)
    assert maps.std() > 0.02, "a constant map explains nothing"
    covered = face.copy()
    covered[:, face.shape[1] * 7 // 12:, :] = 128  # hide the smile (the lower 5/12)
    assert np.abs(explainer(covered)[1] - maps).max() > 0.1


def test_grad_cam_agrees_with_the_onnx_class_activation_map(shipped, face):
    model, info = shipped
    _, grad_cam_maps = GradientExplainer(model, info.preprocessing, "gradcam")(face)
    _, cam_maps = EmotionClassifier().explain(face)
    assert np.corrcoef(grad_cam_maps.ravel(), cam_maps.ravel())[0, 1] > 0.5


def test_guided_backprop_is_not_the_plain_gradient_and_leaves_the_model_as_it_was(shipped, face):
    model, info = shipped
    x = torch.from_numpy(info.preprocessing(face))
    with torch.no_grad():
        before = model(x)
    _, guided = guided_backprop(model, x)
    plain = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(model(plain)[0, 3], plain)
    plain_map = np.maximum(gradient[0, 0].numpy(), 0)
    assert np.corrcoef(guided[0].ravel(), plain_map.ravel())[0, 1] < 0.95
    assert all(not module._forward_hooks for module in model.modules())
    assert any(getattr(module, "inplace", False) for module in model.modules())
    with torch.no_grad():
        torch.testing.assert_close(model(x), before)


def test_a_model_in_training_mode_is_refused(face):
    model = create_model("simple_cnn_small").train()
    with pytest.raises(ValueError, match="eval mode"):
        guided_backprop(model, torch.zeros(1, 1, 48, 48))


def test_a_checkpoint_loads_as_an_explainer(tiny_checkpoint, face):
    explainer = load_explainer(tiny_checkpoint, "guided-gradcam")
    probabilities, maps = explainer(np.concatenate([face, face[:, ::-1]]))
    assert probabilities.shape == (2, 7) and maps.shape == (2, 48, 48)


def test_explain_writes_the_picture_of_a_photo(tmp_path):
    out = tmp_path / "why.png"
    result = CliRunner().invoke(cli, ["explain", str(ASTRONAUT), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "face 1" in result.output and "happy" in result.output
    picture = cv2.imread(str(out))
    assert picture.shape == (512, 512, 3)


def test_explain_a_face_crop_directly(tmp_path, face):
    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), face[0])
    out = tmp_path / "why.png"
    result = CliRunner().invoke(cli, ["explain", str(crop), "--method", "guided", "-o",
                                      str(out)])
    assert result.exit_code == 0, result.output
    side = face.shape[1]
    assert f"at [0, 0, {side}, {side}]: happy" in result.output
    assert min(cv2.imread(str(out)).shape[:2]) >= 384  # enlarged to be legible


def test_explain_a_gallery_of_a_dataset(tmp_path, folder_dataset, tiny_checkpoint):
    out = tmp_path / "gallery.png"
    result = CliRunner().invoke(cli, ["explain", "--gallery", "--data", str(folder_dataset),
                                      "--per-class", "3", "--model", str(tiny_checkpoint),
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    picture = cv2.imread(str(out))
    assert picture.shape[0] > 7 * 96 and picture.shape[1] > 3 * 96


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "x.png"], "give an IMAGE, or --gallery"),
    (["--gallery", "-o", "x.png"], "--gallery needs --data"),
    (["IMAGE", "--method", "cam", "--model", "m.pt", "-o", "x.png"], "reads an ONNX model"),
])
def test_explain_usage_errors(args, message, tmp_path):
    args = [str(ASTRONAUT) if a == "IMAGE" else a for a in args]
    result = CliRunner().invoke(cli, ["explain", *args])
    assert result.exit_code == 2 and message in result.output


def test_explain_without_a_face_says_so(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 300), 128, np.uint8))
    result = CliRunner().invoke(cli, ["explain", str(blank), "--method", "cam", "-o",
                                      str(tmp_path / "x.png")])
    assert result.exit_code == 1 and "no face found" in result.output
