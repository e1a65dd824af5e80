"""The one place where emotion names and their order live.

FER-2013 numbers its classes 0..6 in this order; every model, dataset and result uses it.
The 4-class "basic" view (happy, sad, neutral, angry) is what the movie side works with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
BASIC_EMOTIONS: tuple[str, ...] = ("happy", "sad", "neutral", "angry")

#: Indices of the basic emotions inside ``EMOTIONS``, in ``BASIC_EMOTIONS`` order.
BASIC_INDICES: tuple[int, ...] = tuple(EMOTIONS.index(name) for name in BASIC_EMOTIONS)


def emotion_index(name: str) -> int:
    """Index of an emotion in FER order; raises ``ValueError`` naming the valid choices."""
    key = name.strip().lower()
    if key not in EMOTIONS:
        raise ValueError(f"unknown emotion {name!r}; expected one of {', '.join(EMOTIONS)}")
    return EMOTIONS.index(key)


def basic_view(probabilities: np.ndarray) -> np.ndarray:
    """Renormalise 7-class probabilities ``(..., 7)`` over the 4 basic emotions ``(..., 4)``."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.shape[-1] != len(EMOTIONS):
        raise ValueError(f"expected {len(EMOTIONS)} class probabilities, got shape {probs.shape}")
    basic = probs[..., list(BASIC_INDICES)]
    total = basic.sum(axis=-1, keepdims=True)
    return basic / np.where(total > 0, total, 1.0)


def as_dict(probabilities: Sequence[float], names: Sequence[str] = EMOTIONS) -> dict[str, float]:
    """JSON-ready ``{emotion: probability}`` mapping."""
    if len(probabilities) != len(names):
        raise ValueError(f"expected {len(names)} values, got {len(probabilities)}")
    return {name: float(p) for name, p in zip(names, probabilities, strict=True)}


def from_dict(probabilities: Mapping[str, float]) -> np.ndarray:
    """7-class vector from a ``{emotion: probability}`` mapping; missing emotions count as 0."""
    vector = np.zeros(len(EMOTIONS), dtype=np.float64)
    for name, value in probabilities.items():
        vector[emotion_index(name)] = float(value)
    return vector
