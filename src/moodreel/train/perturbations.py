"""The audit's everyday changes to a face, as functions of uint8 ``(N, 48, 48)`` crops.

Why apart from ``moodreel.train.audit``: training scores epochs under some of them
(``moodreel.train.selection``) and must not load the serving classifier (ONNX Runtime) for
that. Drawn where FER-2013's framing puts the eyes and the mouth. numpy + OpenCV only.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Perturbation = Callable[[np.ndarray], np.ndarray]


def dark_glasses(faces: np.ndarray) -> np.ndarray:
    """Two dark lenses joined by a bridge over the eye line (rows 30-45% of the face)."""
    out = faces.copy()
    size = faces.shape[-1]
    mask = np.zeros((size, size), np.uint8)
    eye_y = int(0.38 * size)
    axes = (int(0.15 * size), int(0.08 * size))
    for eye_x in (int(0.31 * size), int(0.69 * size)):
        cv2.ellipse(mask, (eye_x, eye_y), axes, 0, 0, 360, 1, -1)
    cv2.line(mask, (int(0.44 * size), eye_y - 1), (int(0.56 * size), eye_y - 1), 1,
             max(1, size // 24))
    out[:, mask.astype(bool)] = 20
    return out


def mouth_mask(faces: np.ndarray) -> np.ndarray:
    """A light surgical-style mask from just under the nose to the chin."""
    out = faces.copy()
    size = faces.shape[-1]
    out[:, int(0.62 * size):, int(0.15 * size):int(0.85 * size)] = 200
    return out


def brightness(delta: float) -> Perturbation:
    def apply(faces: np.ndarray) -> np.ndarray:
        return np.clip(faces.astype(np.float32) + delta, 0, 255).astype(np.uint8)
    return apply


def contrast(factor: float) -> Perturbation:
    def apply(faces: np.ndarray) -> np.ndarray:
        mean = faces.reshape(len(faces), -1).mean(axis=1)[:, None, None]
        return np.clip((faces - mean) * factor + mean, 0, 255).astype(np.uint8)
    return apply


def blur(sigma: float) -> Perturbation:
    def apply(faces: np.ndarray) -> np.ndarray:
        return np.stack([cv2.GaussianBlur(face, (0, 0), sigma) for face in faces])
    return apply


def rotate(degrees: float) -> Perturbation:
    def apply(faces: np.ndarray) -> np.ndarray:
        size = faces.shape[-1]
        matrix = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), degrees, 1.0)
        return np.stack([cv2.warpAffine(face, matrix, (size, size),
                                        borderMode=cv2.BORDER_REPLICATE) for face in faces])
    return apply


def mirror(faces: np.ndarray) -> np.ndarray:
    return faces[..., ::-1].copy()


CONDITIONS: dict[str, Perturbation] = {
    "dark glasses": dark_glasses,
    "mouth mask": mouth_mask,
    "darker (-60)": brightness(-60),
    "brighter (+60)": brightness(60),
    "low contrast (x0.5)": contrast(0.5),
    "high contrast (x1.5)": contrast(1.5),
    "blur (sigma 1)": blur(1.0),
    "blur (sigma 2)": blur(2.0),
    "rotated -15°": rotate(-15),
    "rotated +15°": rotate(15),
    "mirrored": mirror,
}
