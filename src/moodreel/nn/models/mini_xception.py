"""mini-Xception (Arriaga, Ploeger, Valdenegro 2017) and its width/depth variants.

Stem: two unpadded 3x3 conv-BN-ReLU with 8 filters; four Xception residual modules of
16/32/64/128 filters, each halving the resolution; a 3x3 conv to the classes and global
average pooling. About 57k parameters at 7 classes.
"""

from __future__ import annotations

from typing import Any

from moodreel.nn.layers import make_divisible
from moodreel.nn.registry import register_model
from moodreel.nn.spec import SpecNet

BASE_WIDTHS = (16, 32, 64, 128)


def mini_xception_spec(width: float = 1.0, depth: int = 1, dropout: float = 0.0,
                       head: str = "conv", se: int = 0, branches: int = 0,
                       act: str = "relu") -> dict[str, Any]:
    """Spec of mini-Xception scaled by ``width`` (channels) and ``depth`` (modules/stage);
    ``se`` > 0 adds squeeze-excitation with that channel reduction to every module;
    ``branches`` > 0 trains every separable conv over-parameterised (``moodreel.nn.reparam``);
    ``act`` replaces ReLU in the stem and the modules (``moodreel.nn.layers.ACTIVATIONS``)."""
    # ReLU is the blocks' default: left unsaid, the specs of earlier runs stay as they were
    activation = {} if act == "relu" else {"act": act}
    stem_width = make_divisible(8 * width)
    stem = [{"block": "conv", "width": stem_width, "padding": "valid", "repeats": 2,
             **activation}]
    options = {key: value for key, value in (("se", se), ("branches", branches)) if value}
    options |= activation
    stages: list[dict[str, Any]] = []
    for base in BASE_WIDTHS:
        chans = make_divisible(base * width)
        stages.append({"block": "xception", "width": chans, "stride": 2, **options})
        if depth > 1:
            stages.append({"block": "xception", "width": chans, "stride": 1,
                           "repeats": depth - 1, **options})
    head_spec: dict[str, Any] = {"type": head, "dropout": dropout}
    if head == "conv":
        head_spec["kernel"] = 3
    return {"name": "mini_xception", "stem": stem, "stages": stages, "head": head_spec}


def _build(num_classes: int, in_chans: int, **kwargs: Any) -> SpecNet:
    return SpecNet(mini_xception_spec(**kwargs), num_classes=num_classes, in_chans=in_chans)


@register_model
def mini_xception(num_classes: int = 7, in_chans: int = 1, **kwargs: Any) -> SpecNet:
    return _build(num_classes, in_chans, **kwargs)


@register_model
def mini_xception_w2(num_classes: int = 7, in_chans: int = 1, **kwargs: Any) -> SpecNet:
    return _build(num_classes, in_chans, **{"width": 2.0, **kwargs})


@register_model
def mini_xception_deep(num_classes: int = 7, in_chans: int = 1, **kwargs: Any) -> SpecNet:
    return _build(num_classes, in_chans, **{"depth": 2, **kwargs})
