"""Rebuild a PyTorch model from an exported moodreel ONNX file, for gradient-based tools.

The shipped model exists only as ONNX. Its metadata names the registered architecture
(``model_config``), and the exporter keeps parameter names as initializer names, so the
weights map back onto a fresh model. The exporter folds each BatchNorm into the conv before
it (folded weight under the conv's name, the bias as ``<conv>.weight_bias``, absent when
zero); such a BatchNorm is rebuilt as the identity plus that bias. The result is checked
against ONNX Runtime, so a rebuild that is not faithful fails loudly instead of explaining
a different model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from moodreel.nn.registry import UnknownModelError, create_model
from moodreel.nn.spec import SpecNet
from moodreel.vision.classifier import EmotionClassifier, ModelError
from moodreel.vision.model_info import METADATA_KEY, ModelInfo

#: Largest logit difference to ONNX Runtime accepted for a rebuilt model.
PARITY_TOLERANCE = 1e-4


def model_from_onnx(path: str | Path) -> tuple[SpecNet, ModelInfo]:
    """The eval-mode PyTorch twin of the ONNX model at ``path`` and its metadata; raises
    ``ModelError`` when the architecture is unknown or the logits differ from ONNX Runtime."""
    path = Path(path)
    classifier = EmotionClassifier(path)  # checks the file and reads the metadata
    proto = onnx.load_model(path)
    metadata = json.loads({p.key: p.value for p in proto.metadata_props}[METADATA_KEY])
    config = metadata.get("model_config") or {}
    try:
        model = create_model(config["name"], num_classes=config["num_classes"],
                             in_chans=config["in_chans"], **config.get("kwargs", {}))
    except (KeyError, UnknownModelError):
        raise ModelError(f"{path}: the metadata names no registered architecture to rebuild; "
                         "use the training checkpoint instead") from None
    weights = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    model.load_state_dict(_state_dict(model, weights, path))
    model.eval()
    _check_parity(model, classifier, path)
    return model, classifier.info


def _state_dict(model: nn.Module, weights: dict[str, np.ndarray], path: Path
                ) -> dict[str, torch.Tensor]:
    state = model.state_dict()
    folded = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d) and f"{name}.weight" not in weights:
            bias = weights.get(f"{_conv_before(model, name)}.weight_bias")
            folded[name] = _identity_batchnorm(module, bias)
    out = {}
    for key, value in state.items():
        owner, _, leaf = key.rpartition(".")
        if owner in folded:
            out[key] = folded[owner].get(leaf, value)
        elif key in weights:
            out[key] = torch.from_numpy(weights[key].copy()).reshape(value.shape)
        elif leaf == "num_batches_tracked":
            out[key] = value
        else:
            raise ModelError(f"{path}: no weights for {key} in the ONNX file; it was not "
                             "exported from this architecture")
    return out


def _conv_before(model: nn.Module, batchnorm_name: str) -> str:
    """Name of the conv a BatchNorm follows: ``P.1`` normalises the last conv in ``P.0``
    (``ConvBNAct`` and ``SeparableConvBNAct`` alike)."""
    first = f"{batchnorm_name.rpartition('.')[0]}.0"
    last = [name for name, module in model.get_submodule(first).named_modules()
            if isinstance(module, nn.Conv2d)][-1]
    return f"{first}.{last}" if last else first


def _identity_batchnorm(module: nn.BatchNorm2d, bias: np.ndarray | None
                        ) -> dict[str, torch.Tensor]:
    # (x - 0) / sqrt((1 - eps) + eps) * 1 + bias == x + bias
    chans = module.num_features
    return {
        "weight": torch.ones(chans),
        "bias": torch.zeros(chans) if bias is None else torch.from_numpy(bias.copy()),
        "running_mean": torch.zeros(chans),
        "running_var": torch.full((chans,), 1.0 - module.eps),
    }


@torch.no_grad()
def _check_parity(model: nn.Module, classifier: EmotionClassifier, path: Path) -> None:
    size = classifier.info.preprocessing.size
    x = np.random.default_rng(0).standard_normal((4, model.in_chans, size, size),
                                                 dtype=np.float32)
    diff = float(np.abs(model(torch.from_numpy(x)).numpy()
                        - classifier.predict_logits(x)).max())
    if not diff < PARITY_TOLERANCE:
        raise ModelError(f"{path}: the rebuilt PyTorch model differs from the ONNX model "
                         f"(largest logit difference {diff:.2g}); use the training checkpoint")
