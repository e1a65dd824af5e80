"""Class activation maps from the ONNX model, without torch: where in the face the model
found the evidence for the emotion it read.

Exported models output, besides ``logits``, their last feature map and the head's weights
per feature cell (``moodreel.nn.class_maps``). From them the class map of emotion k says how
much each cell of the feature grid adds to its logit; logit k is the mean of map k (Zhou et
al. 2016, "Learning deep features for discriminative localization"). Here a map becomes a
heat map over the face crop; ``moodreel.train.explain`` scales its Grad-CAM maps the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

#: ONNX outputs: the last feature map ``(N, C, h, w)``, the head's weights per cell
#: ``(K, C, h, w)`` (or ``(K, C, 1, 1)``, the same at every cell) and its bias ``(K, 1, 1)``.
FEATURES = "features"
CAM_WEIGHTS = "class_map_weights"
CAM_BIAS = "class_map_bias"
CAM_OUTPUTS = (FEATURES, CAM_WEIGHTS, CAM_BIAS)


def class_maps(features: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``(N, K, h, w)``: each feature cell's contribution to each logit, plus the bias, so
    that the mean of map k over the cells is logit k."""
    weights = np.broadcast_to(weights, (*weights.shape[:2], *features.shape[2:]))
    return np.einsum("nchw,kchw->nkhw", features, weights) + bias


def heat_map(activation: np.ndarray, size: int) -> np.ndarray:
    """A map ``(h, w)`` -> ``(size, size)`` float32 in [0, 1]: bilinear upsampling, negative
    evidence cut off (ReLU), divided by the maximum (all zeros when nothing is positive)."""
    values = cv2.resize(np.asarray(activation, dtype=np.float32), (size, size),
                        interpolation=cv2.INTER_LINEAR)
    values = np.maximum(values, 0.0)
    top = float(values.max())
    return values / top if top > 0 else values


def heat_maps(maps: np.ndarray, classes: np.ndarray, size: int) -> np.ndarray:
    """Class maps ``(N, K, h, w)`` and one class per face ``(N,)`` -> ``(N, size, size)``."""
    out = np.zeros((len(maps), size, size), dtype=np.float32)
    for i, (face_maps, k) in enumerate(zip(maps, classes, strict=True)):
        out[i] = heat_map(face_maps[int(k)], size)
    return out


@dataclass(frozen=True)
class HeatMap:
    """One face's heat map: ``values`` ``(S, S)`` in [0, 1] cover ``box`` ``(x, y, side,
    side)`` in image pixels, the square the face crop was cut from (it may reach past the
    image edge); ``emotion`` is the class it explains."""

    box: tuple[int, int, int, int]
    emotion: str
    values: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        # Two decimals are finer than any colour scale shows; float64 keeps them short in JSON.
        return {"box": list(self.box), "emotion": self.emotion,
                "heatmap": np.round(self.values.astype(np.float64), 2).tolist()}
