"""Gradient explanations of any moodreel model: Grad-CAM, guided backpropagation and guided
Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: visual explanations from deep networks").

    explainer = load_explainer("runs/mini_xception/best.pt", "gradcam")  # or an ONNX file
    probabilities, maps = explainer(crops)       # uint8 (N, S, S) -> (N, 7), (N, S, S)

Grad-CAM weighs the channels of the last feature map (``forward_features``, the interface
every model shares) by the mean gradient of the class score and keeps the positive sum: a
coarse map of where the evidence lies. Guided backpropagation is the input gradient with
negative gradients stopped at every activation: fine detail, but not class-specific. Their
product, guided Grad-CAM, is both. All maps have the input's size, are non-negative and are
scaled to [0, 1] by the same ``heat_map`` the serving side's class activation maps use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from moodreel.assets import default_model_path
from moodreel.data.preprocess import Preprocessing
from moodreel.nn.onnx_import import model_from_onnx
from moodreel.nn.spec import SpecNet
from moodreel.train.checkpoint import model_from_checkpoint
from moodreel.vision.cam import heat_map
from moodreel.vision.classifier import softmax

#: Activations whose backward pass guided backpropagation restricts to positive gradients.
GUIDED_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU, nn.GELU)


def grad_cam(model: SpecNet, inputs: torch.Tensor, targets: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, np.ndarray]:
    """Logits ``(N, K)`` and Grad-CAM maps ``(N, S, S)`` of ``targets`` (default: the top
    class) for normalised ``inputs`` ``(N, C, S, S)``."""
    _check_eval(model)
    with torch.enable_grad():
        # An input that needs a gradient keeps the graph even for a frozen model.
        features = model.forward_features(inputs.detach().requires_grad_(True))  # (N, C, h, w)
        logits = model.forward_head(features)                  # (N, K)
        targets = logits.argmax(dim=1) if targets is None else targets
        score = logits.gather(1, targets[:, None]).sum()
        (gradients,) = torch.autograd.grad(score, features)
    weights = gradients.mean(dim=(2, 3), keepdim=True)          # (N, C, 1, 1)
    cams = (weights * features).sum(dim=1).detach().numpy()     # (N, h, w)
    return logits.detach(), _heat_maps(cams, inputs.shape[-1])


def guided_backprop(model: SpecNet, inputs: torch.Tensor, targets: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, np.ndarray]:
    """Logits and the positive part of the guided input gradient ``(N, S, S)``."""
    _check_eval(model)
    inputs = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad(), _guided(model):
        logits = model(inputs)
        targets = logits.argmax(dim=1) if targets is None else targets
        score = logits.gather(1, targets[:, None]).sum()
        (gradients,) = torch.autograd.grad(score, inputs)      # (N, C, S, S)
    return logits.detach(), _heat_maps(gradients.sum(dim=1).numpy(), inputs.shape[-1])


def guided_grad_cam(model: SpecNet, inputs: torch.Tensor, targets: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, np.ndarray]:
    """Logits and guided backpropagation times Grad-CAM, rescaled to [0, 1]."""
    logits, cams = grad_cam(model, inputs, targets)
    targets = logits.argmax(dim=1) if targets is None else targets
    _, guided = guided_backprop(model, inputs, targets)
    return logits, _heat_maps(cams * guided, inputs.shape[-1])


#: Method name (as ``moodreel explain --method`` takes it) -> function.
METHODS = {"gradcam": grad_cam, "guided": guided_backprop, "guided-gradcam": guided_grad_cam}


class GradientExplainer:
    """Face crops to probabilities and maps of each face's top class, with one ``method``."""

    def __init__(self, model: SpecNet, preprocessing: Preprocessing, method: str,
                 temperature: float = 1.0) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
        self.model = model.eval()
        self.preprocessing = preprocessing
        self.method = method
        self.temperature = temperature

    def __call__(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grayscale uint8 crops ``(N, H, W)`` -> probabilities ``(N, K)`` and maps
        ``(N, S, S)`` in [0, 1]."""
        inputs = torch.from_numpy(self.preprocessing(faces))
        logits, maps = METHODS[self.method](self.model, inputs)
        return softmax(logits.numpy(), self.temperature), maps


def load_explainer(model_path: str | Path | None, method: str) -> GradientExplainer:
    """An explainer for a training checkpoint (``.pt``) or an ONNX model rebuilt in PyTorch
    (default: the shipped model), calibrated like the ONNX model when it is one."""
    path = Path(model_path) if model_path is not None else default_model_path()
    if path.suffix == ".onnx":
        model, info = model_from_onnx(path)
        return GradientExplainer(model, info.preprocessing, method, info.temperature)
    model, preprocessing, _ = model_from_checkpoint(path)
    return GradientExplainer(model, preprocessing, method)


class _PositiveGradient(torch.autograd.Function):
    """Identity forward; backward lets only positive gradients through."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        return grad.clamp(min=0)


@contextlib.contextmanager
def _guided(model: nn.Module) -> Iterator[None]:
    """Route every activation's output through ``_PositiveGradient``, so its backward sees
    only positive gradients: the guided rule. A forward hook, unlike a backward hook on the
    module, works with the blocks' ``inplace=True`` activations and leaves them unchanged."""
    handles = [module.register_forward_hook(lambda _m, _i, out: _PositiveGradient.apply(out))
               for module in model.modules() if isinstance(module, GUIDED_ACTIVATIONS)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _heat_maps(maps: np.ndarray, size: int) -> np.ndarray:
    return np.array([heat_map(m, size) for m in maps], dtype=np.float32).reshape(-1, size, size)


def _check_eval(model: nn.Module) -> None:
    if model.training:
        raise ValueError("explain a model in eval mode (model.eval()): dropout and batch "
                         "statistics would change the maps")
