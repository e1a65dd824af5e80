"""A plain VGG-style baseline: stages of two 3x3 conv-BN-ReLU and a 2x2 max-pool."""

from __future__ import annotations

from typing import Any

from moodreel.nn.registry import register_model
from moodreel.nn.spec import SpecNet


def simple_cnn_spec(widths: tuple[int, ...] = (32, 64, 128), dropout: float = 0.3
                    ) -> dict[str, Any]:
    stages: list[dict[str, Any]] = []
    for width in widths:
        stages.append({"block": "conv", "width": width, "repeats": 2})
        stages.append({"block": "maxpool", "stride": 2})
    return {"name": "simple_cnn", "stages": stages,
            "head": {"type": "linear", "dropout": dropout}}


@register_model
def simple_cnn(num_classes: int = 7, in_chans: int = 1, **kwargs: Any) -> SpecNet:
    return SpecNet(simple_cnn_spec(**kwargs), num_classes=num_classes, in_chans=in_chans)


@register_model
def simple_cnn_small(num_classes: int = 7, in_chans: int = 1, **kwargs: Any) -> SpecNet:
    return SpecNet(simple_cnn_spec(**{"widths": (16, 32, 64), **kwargs}),
                   num_classes=num_classes, in_chans=in_chans)
