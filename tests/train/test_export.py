"""ONNX export: dynamic batch, metadata, parity with PyTorch, torch-free serving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from moodreel.data.preprocess import Preprocessing
from moodreel.labels import EMOTIONS
from moodreel.nn import create_model
from moodreel.nn.onnx_import import model_from_onnx
from moodreel.nn.profile import count_params
from moodreel.train.checkpoint import model_from_checkpoint, save_checkpoint
from moodreel.train.export import export_onnx
from moodreel.vision.classifier import EmotionClassifier, ModelError


def save_warmed_checkpoint(path: Path, val_report: dict, **model_kwargs) -> Path:
    """A mini-Xception checkpoint whose BatchNorm statistics are non-trivial, so that parity
    covers folded normalisation too."""
    torch.manual_seed(0)
    model = create_model("mini_xception", **model_kwargs)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 48, 48))
    save_checkpoint(path, model=model.eval(), preprocessing=Preprocessing(48, 0.5, 0.5),
                    epoch=1, val_report=val_report)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_warmed_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pt",
                                  {"accuracy_7": 0.5, "accuracy_4": 0.6})


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    return export_onnx(checkpoint, out)


def test_parity_with_pytorch(exported):
    assert exported.max_abs_diff < 1e-4
    assert exported.path.stat().st_size > 10_000


def test_metadata_describes_the_model(exported, checkpoint):
    classifier = EmotionClassifier(exported.path)
    assert classifier.labels == EMOTIONS
    assert classifier.info.preprocessing == Preprocessing(48, 0.5, 0.5)
    assert classifier.info.name == "mini_xception"
    assert classifier.info.extra["val_accuracy_7"] == 0.5
    model, _, _ = model_from_checkpoint(checkpoint)
    assert classifier.info.extra["model_config"]["spec"] == model.config["spec"]


@pytest.mark.parametrize("batch", [1, 3, 50])
def test_dynamic_batch_and_probabilities(exported, checkpoint, batch):
    rng = np.random.default_rng(batch)
    faces = rng.integers(0, 256, size=(batch, 48, 48), dtype=np.uint8)
    classifier = EmotionClassifier(exported.path)
    probs = classifier.predict_proba(faces)
    assert probs.shape == (batch, 7)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    model, pre, _ = model_from_checkpoint(checkpoint)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(pre(faces))), 1).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_flip_tta_averages_both_views(exported):
    faces = np.random.default_rng(0).integers(0, 256, size=(4, 48, 48), dtype=np.uint8)
    classifier = EmotionClassifier(exported.path)
    tta = classifier.predict_proba(faces, tta_flip=True)
    assert not np.allclose(tta, classifier.predict_proba(faces))
    np.testing.assert_allclose(tta, classifier.predict_proba(faces[..., ::-1].copy(),
                                                            tta_flip=True), atol=1e-5)


def test_bad_model_files_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        EmotionClassifier(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        EmotionClassifier(junk)


def test_a_branched_model_ships_folded_and_rebuilds_from_its_file(tmp_path):
    checkpoint = save_warmed_checkpoint(tmp_path / "branched.pt", {}, se=8, branches=2)
    report = export_onnx(checkpoint, tmp_path / "branched.onnx")
    assert report.max_abs_diff < 1e-4  # against the branched model: the fold is exact
    info = EmotionClassifier(report.path).info
    plain = create_model("mini_xception", se=8)
    assert info.params == count_params(plain)
    assert info.extra["model_config"]["spec"] == plain.spec
    rebuilt, _ = model_from_onnx(report.path)
    assert count_params(rebuilt) == info.params
