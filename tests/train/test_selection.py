"""Choosing best.pt on clean and occluded val faces together."""

from __future__ import annotations

import numpy as np
import pytest

from moodreel.data.preprocess import Preprocessing
from moodreel.train.selection import (
    OCCLUDED_CONDITIONS,
    occluded_val_inputs,
    selection_score,
)
from tests.synthetic import make_faces


def test_the_score_is_the_clean_accuracy_alone_or_its_mean_with_the_occluded_mean():
    assert selection_score(0.6, None) == 0.6
    assert selection_score(0.6, np.mean([0.5, 0.4, 0.3])) == pytest.approx((0.6 + 0.4) / 2)
    # a robust epoch can beat a cleaner but fragile one
    assert (selection_score(0.66, np.mean([0.60, 0.52, 0.64]))
            > selection_score(0.67, np.mean([0.57, 0.49, 0.63])))


def test_each_condition_changes_the_faces_and_is_preprocessed_as_val_is():
    images, _ = make_faces(2, seed=0)
    preprocessing = Preprocessing(64)
    sets = occluded_val_inputs(images, preprocessing)
    clean = preprocessing(images)
    assert len(sets) == len(OCCLUDED_CONDITIONS)
    for name, inputs in zip(OCCLUDED_CONDITIONS, sets, strict=True):
        assert inputs.shape == clean.shape and inputs.dtype == clean.dtype, name
        assert not np.allclose(inputs, clean), name
