"""Exported models explain themselves: the outputs class activation maps need, for both head
types, and the PyTorch rebuild of an ONNX file (how the shipped model gets Grad-CAM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from moodreel.assets import default_model_path
from moodreel.data.preprocess import Preprocessing
from moodreel.labels import EMOTIONS
from moodreel.nn import create_model
from moodreel.nn.class_maps import add_class_map_outputs
from moodreel.nn.onnx_export import write_onnx
from moodreel.nn.onnx_import import model_from_onnx
from moodreel.nn.registry import MODEL_CONFIG_KEYS
from moodreel.vision.cam import CAM_OUTPUTS, class_maps
from moodreel.vision.classifier import EmotionClassifier, ModelError
from moodreel.vision.model_info import ModelInfo

TINY_HIDDEN_HEAD = {"name": "tiny_hidden", "stages": [{"block": "conv", "width": 8, "stride": 2}],
                    "head": {"type": "linear", "hidden": 16}}


#: What files exported before session 11 kept: a registered name and arguments, no spec.
LEGACY_CONFIG_KEYS = tuple(k for k in MODEL_CONFIG_KEYS if k != "spec")


def export(model: torch.nn.Module, path: Path, *,
           keys: tuple[str, ...] = MODEL_CONFIG_KEYS) -> Path:
    """``model`` with non-trivial BatchNorm statistics, exported with its architecture
    (``keys`` of its config; files exported before session 11 have no ``spec``)."""
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 48, 48))
    model.eval()
    config = {k: model.config[k] for k in keys}
    info = ModelInfo(EMOTIONS, Preprocessing(), name=config["name"],
                     extra={"model_config": config})
    write_onnx(model, info, path)
    return path


@pytest.fixture(scope="module", params=[("mini_xception", {}), ("mini_xception", {"se": 8}),
                                        ("simple_cnn_small", {})], ids=["conv", "se", "linear"])
def exported(request, tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    """A conv head (mini-Xception, also with squeeze-excitation gates) and a pooling + linear
    head (the VGG-style baseline)."""
    name, kwargs = request.param
    model = create_model(name, **kwargs)
    return model, export(model, tmp_path_factory.mktemp("onnx") / "model.onnx")


def test_class_maps_come_from_extra_outputs_and_average_to_the_logits(exported):
    model, path = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits", *CAM_OUTPUTS]
    x = np.random.default_rng(0).standard_normal((4, 1, 48, 48), dtype=np.float32)
    logits, features, *head = session.run(None, {"input": x})
    with torch.no_grad():
        expected = model.forward_features(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(features, expected, atol=1e-5)
    maps = class_maps(features, *head)
    assert maps.shape == (4, 7, *features.shape[2:])
    np.testing.assert_allclose(maps.mean(axis=(2, 3)), logits, atol=1e-5)


@pytest.fixture(scope="module")
def hidden_head(tmp_path_factory) -> Path:
    """A model built from a spec (not a registered name) with a hidden layer in its head."""
    return export(create_model(TINY_HIDDEN_HEAD), tmp_path_factory.mktemp("onnx") / "h.onnx")


def test_a_head_with_a_hidden_layer_gets_no_class_maps(hidden_head):
    assert not EmotionClassifier(hidden_head).explains
    onnx = pytest.importorskip("onnx")
    assert add_class_map_outputs(onnx.load_model(hidden_head)) is False


def test_an_exported_model_is_rebuilt_in_pytorch_exactly(exported):
    model, path = exported
    rebuilt, info = model_from_onnx(path)
    assert type(rebuilt) is type(model) and not rebuilt.training
    x = torch.randn(8, 1, 48, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x), atol=1e-4, rtol=0)
    assert info.labels == EMOTIONS


def test_the_shipped_model_is_rebuilt_with_logit_parity():
    model, info = model_from_onnx(default_model_path())
    assert sum(p.numel() for p in model.parameters()) == info.params
    classifier = EmotionClassifier()
    size = info.preprocessing.size
    x = np.random.default_rng(2).standard_normal((32, 1, size, size), dtype=np.float32)
    with torch.no_grad():
        diff = np.abs(model(torch.from_numpy(x)).numpy() - classifier.predict_logits(x)).max()
    assert diff < 1e-4


def test_a_model_declared_by_a_spec_is_rebuilt_from_the_spec_in_its_metadata(hidden_head):
    rebuilt, _ = model_from_onnx(hidden_head)
    assert rebuilt.config["name"] == "tiny_hidden"
    assert rebuilt.config["spec"] == create_model(TINY_HIDDEN_HEAD).config["spec"]


def test_a_file_without_a_spec_is_rebuilt_from_its_registered_name(tmp_path):
    model = create_model("mini_xception", se=8)
    path = export(model, tmp_path / "old.onnx", keys=LEGACY_CONFIG_KEYS)
    rebuilt, _ = model_from_onnx(path)
    x = torch.randn(2, 1, 48, 48, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x), atol=1e-4, rtol=0)


def test_a_model_the_metadata_does_not_describe_cannot_be_rebuilt(tmp_path):
    path = export(create_model(TINY_HIDDEN_HEAD), tmp_path / "unknown.onnx",
                  keys=LEGACY_CONFIG_KEYS)
    with pytest.raises(ModelError, match="no spec or registered architecture"):
        model_from_onnx(path)


def test_a_trainable_rebuild_restores_batchnorm_so_training_starts_from_the_same_model(
        exported):
    model, path = exported
    faces = np.random.default_rng(3).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    x = torch.from_numpy(Preprocessing()(faces))
    plain, _ = model_from_onnx(path)
    trainable, _ = model_from_onnx(path, trainable_on=faces)
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(trainable(x), expected, atol=1e-4, rtol=0)
        for rebuilt in (plain, trainable):  # batch statistics, as when training
            for module in rebuilt.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.train()
        assert (trainable(x) - expected).abs().max() < 1e-3
        assert (plain(x) - expected).abs().max() > 0.05  # why the plain rebuild cannot train


def test_a_trainable_rebuild_needs_faces(exported):
    with pytest.raises(ModelError, match="no faces"):
        model_from_onnx(exported[1], trainable_on=np.zeros((0, 48, 48), np.uint8))
