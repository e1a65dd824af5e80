"""A mood: probabilities over emotions, as the recommender and feedback take them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from moodreel.labels import BASIC_EMOTIONS, EMOTIONS, emotion_index


def mood_probabilities(mood: Mapping[str, float] | Sequence[float]) -> dict[str, float]:
    """Normalised ``{emotion: p}`` (only p > 0) from a mapping over any of the 7 emotions,
    or a sequence of 7 (FER order) or 4 (``BASIC_EMOTIONS`` order) numbers."""
    if isinstance(mood, Mapping):
        pairs = [(EMOTIONS[emotion_index(name)], value) for name, value in mood.items()]
    else:
        values = list(mood)
        names = {len(EMOTIONS): EMOTIONS, len(BASIC_EMOTIONS): BASIC_EMOTIONS}.get(len(values))
        if names is None:
            raise ValueError(f"expected {len(EMOTIONS)} or {len(BASIC_EMOTIONS)} "
                             f"probabilities, got {len(values)}")
        pairs = list(zip(names, values, strict=True))
    totals: dict[str, float] = {}
    for name, value in pairs:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"probability of {name} is not a number: {value!r}") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"probability of {name} must be a finite number >= 0, got {value}")
        totals[name] = totals.get(name, 0.0) + number
    total = sum(totals.values())
    if total <= 0:
        raise ValueError("the probabilities add up to 0: give at least one emotion weight")
    return {name: value / total for name, value in totals.items() if value > 0}
