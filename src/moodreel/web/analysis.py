"""A snapshot's faces and the mood of the group they form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from moodreel.labels import BASIC_EMOTIONS, EMOTIONS, as_dict, basic_view
from moodreel.vision.recognizer import Face

#: Advice shown with "no face found" and "not sure".
NO_FACE_ADVICE = ("No face found. Face the camera, with light from the front, and come "
                  "closer if you are far away.")
UNSURE_ADVICE = ("Not sure about this one. Try even light on your face, look straight at "
                 "the camera, or pick your mood by hand.")


def group_mood(faces: Sequence[Face], uncertain_below: float) -> dict[str, Any] | None:
    """The mood of everyone in the picture: the mean of the faces' probabilities (each face
    counts once, whatever its size); ``None`` without faces."""
    if not faces:
        return None
    mean = np.mean([face.probabilities for face in faces], axis=0)
    top = int(np.argmax(mean))
    return {"faces": len(faces), "emotions": as_dict(mean),
            "basic": as_dict(basic_view(mean), BASIC_EMOTIONS),
            "top": EMOTIONS[top], "confidence": float(mean[top]),
            "uncertain": bool(mean[top] < uncertain_below)}
