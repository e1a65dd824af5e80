"""Label names, their FER order, and the 4-class basic view."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodreel import labels
from moodreel.labels import (
    BASIC_EMOTIONS,
    BASIC_INDICES,
    EMOTIONS,
    as_dict,
    basic_view,
    emotion_index,
    from_dict,
)


def test_emotions_are_in_fer_order():
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_basic_emotions_and_their_indices():
    assert BASIC_EMOTIONS == ("happy", "sad", "neutral", "angry")
    assert BASIC_INDICES == (3, 4, 6, 0)
    assert [EMOTIONS[i] for i in BASIC_INDICES] == list(BASIC_EMOTIONS)


@pytest.mark.parametrize(("name", "index"),
                         [("angry", 0), ("neutral", 6), ("Happy", 3), ("  SAD ", 4)])
def test_emotion_index(name, index):
    assert emotion_index(name) == index


@pytest.mark.parametrize("name", ["contempt", "", "happiness", "3"])
def test_emotion_index_rejects_unknown_names_listing_the_choices(name):
    with pytest.raises(ValueError, match="unknown emotion") as error:
        emotion_index(name)
    assert repr(name) in str(error.value)
    assert ", ".join(EMOTIONS) in str(error.value)


def test_basic_view_renormalises_over_the_basic_emotions():
    probabilities = np.array([0.1, 0.2, 0.1, 0.3, 0.1, 0.1, 0.1])

    basic = basic_view(probabilities)

    # happy 0.3, sad 0.1, neutral 0.1, angry 0.1 out of 0.6
    np.testing.assert_allclose(basic, [0.5, 1 / 6, 1 / 6, 1 / 6])
    assert basic.shape == (4,)


def test_basic_view_works_on_batches():
    probabilities = np.random.default_rng(0).dirichlet(np.ones(7), size=(3, 5))

    basic = basic_view(probabilities)

    assert basic.shape == (3, 5, 4)
    np.testing.assert_allclose(basic.sum(axis=-1), 1.0)
    kept = probabilities[..., list(BASIC_INDICES)]
    np.testing.assert_allclose(basic, kept / kept.sum(axis=-1, keepdims=True))


def test_basic_view_of_no_basic_mass_is_zero_without_warnings():
    probabilities = np.array([0.0, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(basic_view(probabilities), np.zeros(4))


def test_basic_view_rejects_the_wrong_number_of_classes():
    with pytest.raises(ValueError, match="expected 7 class probabilities"):
        basic_view(np.ones(4) / 4)


def test_as_dict_is_json_ready_in_fer_order():
    values = np.array([0.1, 0.0, 0.05, 0.6, 0.1, 0.05, 0.1], dtype=np.float32)

    mapping = as_dict(values)

    assert list(mapping) == list(EMOTIONS)
    assert all(type(v) is float for v in mapping.values())
    assert mapping["happy"] == pytest.approx(0.6)
    json.dumps(mapping)


def test_as_dict_with_basic_names_and_length_check():
    assert as_dict([0.7, 0.1, 0.1, 0.1], BASIC_EMOTIONS) == pytest.approx(
        {"happy": 0.7, "sad": 0.1, "neutral": 0.1, "angry": 0.1})
    with pytest.raises(ValueError, match="expected 7 values, got 4"):
        as_dict([0.25] * 4)


def test_from_dict_fills_missing_emotions_with_zero():
    vector = from_dict({"happy": 0.75, "Neutral": 0.25})
    np.testing.assert_array_equal(vector, [0, 0, 0, 0.75, 0, 0, 0.25])
    assert vector.dtype == np.float64


def test_from_dict_rejects_unknown_emotions():
    with pytest.raises(ValueError, match="unknown emotion 'bored'"):
        from_dict({"happy": 0.5, "bored": 0.5})


def test_as_dict_from_dict_round_trip():
    values = np.random.default_rng(3).dirichlet(np.ones(7))
    np.testing.assert_allclose(from_dict(as_dict(values)), values)


def test_module_exports_one_source_of_truth():
    # The metrics and the serving side must see the very same tuples.
    from moodreel.train import metrics

    assert metrics.EMOTIONS is labels.EMOTIONS
    assert metrics.BASIC_EMOTIONS is labels.BASIC_EMOTIONS
