"""Which epoch becomes ``best.pt``: the best clean val accuracy, or for a robustness step the
best balance of clean accuracy and accuracy under the audit's occluders.

Why: a step that trains on occluders and blur (the shipped recipe's step 2) exists for faces
with glasses, masks and blur, yet judged on clean faces alone it keeps the epoch where those
had taken hold least: session 33's audits found its best clean epoch its least robust one.
``select_on: occluded`` also scores every epoch on val faces given the audit's dark glasses,
mouth mask and blur (sigma 1) (``moodreel.train.perturbations``) and keeps the best mean of
the clean accuracy and theirs.
"""

from __future__ import annotations

import numpy as np

from moodreel.data.preprocess import Preprocessing
from moodreel.train.perturbations import CONDITIONS

OCCLUDED_CONDITIONS = ("dark glasses", "mouth mask", "blur (sigma 1)")


def occluded_val_inputs(images: np.ndarray, preprocessing: Preprocessing) -> list[np.ndarray]:
    """The val faces (uint8, as loaded) under each of ``OCCLUDED_CONDITIONS``, preprocessed."""
    return [preprocessing(CONDITIONS[name](images)) for name in OCCLUDED_CONDITIONS]


def selection_score(clean_accuracy: float, occluded_accuracy: float | None) -> float:
    """The clean accuracy, or the mean of it and the mean accuracy under the occluders."""
    if occluded_accuracy is None:
        return clean_accuracy
    return (clean_accuracy + occluded_accuracy) / 2
