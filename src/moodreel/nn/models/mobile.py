"""A MobileNetV3-style family: inverted residual blocks with squeeze-excitation."""

from __future__ import annotations

from typing import Any

from moodreel.nn.layers import make_divisible
from moodreel.nn.registry import register_model
from moodreel.nn.spec import SpecNet

# (width, stride, repeats, expand) per stage at width 1.0
STAGES = ((16, 2, 1, 2.0), (24, 2, 2, 3.0), (40, 2, 2, 3.0), (72, 2, 2, 3.0))


def mobile_emotion_spec(width: float = 1.0, se: bool = True, dropout: float = 0.2,
                        act: str = "hardswish") -> dict[str, Any]:
    stages = [
        {"block": "inverted_residual", "width": make_divisible(w * width), "stride": s,
         "repeats": r, "expand": e, "se": se, "act": act}
        for w, s, r, e in STAGES
    ]
    return {
        "name": "mobile_emotion",
        "stem": [{"block": "conv", "width": make_divisible(16 * width), "act": act}],
        "stages": stages,
        "head": {"type": "linear", "dropout": dropout},
    }


@register_model
def mobile_emotion(num_classes: int = 7, in_chans: int = 1, **kwargs: Any) -> SpecNet:
    return SpecNet(mobile_emotion_spec(**kwargs), num_classes=num_classes, in_chans=in_chans)


@register_model
def mobile_emotion_small(num_classes: int = 7, in_chans: int = 1, **kwargs: Any) -> SpecNet:
    return SpecNet(mobile_emotion_spec(**{"width": 0.75, **kwargs}), num_classes=num_classes,
                   in_chans=in_chans)
