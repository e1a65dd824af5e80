"""Rebuild a PyTorch model from an exported moodreel ONNX file, for gradient-based tools.

The shipped model exists only as ONNX. Its metadata holds the architecture
(``model_config``: the full spec, or in files exported before the spec was kept, a registered
name and its arguments), and the exporter keeps parameter names as initializer names, so the
weights map back onto a fresh model. The exporter folds each BatchNorm into the conv before
it (folded weight under the conv's name, the bias as ``<conv>.weight_bias``, absent when
zero); such a BatchNorm is rebuilt as the identity plus that bias. The result is checked
against ONNX Runtime, so a rebuild that is not faithful fails loudly instead of explaining
a different model.

Such a model explains but cannot be trained: in training mode a BatchNorm normalises with
the batch's statistics, which the identity does not expect. ``model_from_onnx(path,
trainable_on=faces)`` measures each folded BatchNorm's input on those faces and sets its
statistics and affine parameters so that evaluation is unchanged and training starts from
the same function (fine-tuning the shipped model, e.g. on feedback data). The faces are
preprocessed as the model's metadata says, so they cannot disagree with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from moodreel.nn.registry import UnknownModelError, create_model, model_from_config
from moodreel.nn.reparam import batchnorm_adding
from moodreel.nn.spec import SpecError, SpecNet
from moodreel.vision.classifier import EmotionClassifier, ModelError
from moodreel.vision.model_info import METADATA_KEY, ModelInfo

#: Largest logit difference to ONNX Runtime accepted for a rebuilt model.
PARITY_TOLERANCE = 1e-4


def model_from_onnx(path: str | Path, *, trainable_on: np.ndarray | None = None
                    ) -> tuple[SpecNet, ModelInfo]:
    """The eval-mode PyTorch twin of the ONNX model at ``path`` and its metadata; raises
    ``ModelError`` when the architecture is unknown or the logits differ from ONNX Runtime.
    With ``trainable_on`` (8-bit grayscale faces ``(N, H, W)``) folded BatchNorms are
    restored from those faces' statistics, so the model can be trained."""
    path = Path(path)
    classifier = EmotionClassifier(path)  # checks the file and reads the metadata
    proto = onnx.load_model(path)
    metadata = json.loads({p.key: p.value for p in proto.metadata_props}[METADATA_KEY])
    config = metadata.get("model_config") or {}
    try:
        model = model_from_config(config) if "spec" in config else create_model(
            config["name"], num_classes=config["num_classes"], in_chans=config["in_chans"],
            **config.get("kwargs", {}))
    except (KeyError, UnknownModelError, SpecError):
        raise ModelError(f"{path}: the metadata holds no spec or registered architecture to "
                         "rebuild; use the training checkpoint instead") from None
    weights = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    state, folded = _state_dict(model, weights, path)
    model.load_state_dict(state)
    model.eval()
    if trainable_on is not None:
        if len(trainable_on) == 0:
            raise ModelError("no faces to measure the model's BatchNorm statistics on")
        _unfold_batchnorms(model, folded, classifier.info.preprocessing(trainable_on))
    _check_parity(model, classifier, path)
    return model, classifier.info


def _state_dict(model: nn.Module, weights: dict[str, np.ndarray], path: Path
                ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The state dict for ``model`` and the names of the BatchNorms folded on export."""
    state = model.state_dict()
    folded = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm2d) and f"{name}.weight" not in weights:
            bias = weights.get(f"{_conv_before(model, name)}.weight_bias")
            folded[name] = batchnorm_adding(module, torch.zeros(module.num_features)
                                            if bias is None else torch.from_numpy(bias.copy()))
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
    return out, list(folded)


@torch.no_grad()
def _unfold_batchnorms(model: nn.Module, names: list[str], inputs: np.ndarray,
                       batch_size: int = 256) -> None:
    """Give each folded BatchNorm (``x + bias`` in eval mode) its input's mean ``m`` and
    variance ``v`` on ``inputs``: running statistics ``m, v``, weight ``sqrt(v + eps)`` and
    bias ``m + bias``, which evaluates to the same ``x + bias``."""
    sums = {name: torch.zeros(2, model.get_submodule(name).num_features, dtype=torch.float64)
            for name in names}  # per channel: sum of x, sum of x^2
    counts = dict.fromkeys(names, 0)  # values per channel

    def keep(name: str):
        def hook(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0].double().transpose(0, 1).flatten(1)  # (C, N * H * W)
            sums[name] += torch.stack([x.sum(1), (x * x).sum(1)])
            counts[name] += x.shape[1]
        return hook

    hooks = [model.get_submodule(name).register_forward_pre_hook(keep(name)) for name in names]
    try:
        for start in range(0, len(inputs), batch_size):
            model(torch.from_numpy(np.ascontiguousarray(inputs[start:start + batch_size])))
    finally:
        for hook in hooks:
            hook.remove()
    for name in names:
        mean = sums[name][0] / counts[name]
        var = (sums[name][1] / counts[name] - mean * mean).clamp_min(0)
        module = model.get_submodule(name)
        bias = module.bias.double()
        module.running_mean.copy_(mean)
        module.running_var.copy_(var)
        module.weight.copy_((var + module.eps).sqrt())
        module.bias.copy_(mean + bias)


def _conv_before(model: nn.Module, batchnorm_name: str) -> str:
    """Name of the conv a BatchNorm follows: ``P.1`` normalises the last conv in ``P.0``
    (``ConvBNAct`` and ``SeparableConvBNAct`` alike)."""
    first = f"{batchnorm_name.rpartition('.')[0]}.0"
    last = [name for name, module in model.get_submodule(first).named_modules()
            if isinstance(module, nn.Conv2d)][-1]
    return f"{first}.{last}" if last else first


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
