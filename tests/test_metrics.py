"""Numpy metrics: confusion matrices, per-class scores, the 4-class view and the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodreel.labels import BASIC_EMOTIONS, EMOTIONS
from moodreel.train.metrics import (
    accuracy,
    basic_view,
    confusion_matrix,
    confusions,
    evaluate_scores,
    format_report,
    per_class,
    report_from_confusions,
)

ANGRY, DISGUST, FEAR, HAPPY, SAD, SURPRISE, NEUTRAL = range(7)


def scores_row(**probabilities: float) -> list[float]:
    row = [0.0] * len(EMOTIONS)
    for name, value in probabilities.items():
        row[EMOTIONS.index(name)] = value
    return row


# Six hand-made predictions; the comment says what each one tests.
LABELS = np.array([HAPPY, HAPPY, SAD, FEAR, ANGRY, NEUTRAL])
SCORES = np.array([
    scores_row(happy=0.6, sad=0.4),                # right in both views
    scores_row(surprise=0.5, happy=0.3, sad=0.2),  # 7-class says surprise; 4-class happy: right
    scores_row(fear=0.7, neutral=0.2, sad=0.1),    # wrong in both (fear / neutral)
    scores_row(fear=0.9, happy=0.1),               # right; not basic, so left out of the 4 view
    scores_row(disgust=0.6, angry=0.4),            # 7-class says disgust; 4-class angry: right
    scores_row(neutral=0.8, happy=0.2),            # right in both views
])


def test_confusion_matrix_by_hand():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 2])

    confusion = confusion_matrix(labels, predictions, 3)

    np.testing.assert_array_equal(confusion, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_confusion_matrix_has_room_for_absent_classes():
    confusion = confusion_matrix(np.array([1, 1]), np.array([1, 0]), 4)
    assert confusion.shape == (4, 4)
    assert confusion.sum() == 2 and confusion[1, 1] == 1 and confusion[1, 0] == 1


def test_precision_recall_f1_by_hand():
    confusion = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])

    scores = per_class(confusion, ["a", "b", "c"])

    assert list(scores) == ["a", "b", "c"]
    assert scores["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                         "support": 2})
    assert scores["b"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3,
                                         "support": 1})
    assert scores["c"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8,
                                         "support": 3})
    assert isinstance(scores["c"]["support"], int)


def test_classes_never_seen_or_predicted_score_zero_without_warnings():
    # filterwarnings=error turns a 0/0 RuntimeWarning into a failure.
    scores = per_class(np.array([[2, 0], [0, 0]]), ["seen", "unseen"])
    assert scores["unseen"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert scores["seen"]["f1"] == 1.0


def test_accuracy_and_empty_confusion():
    assert accuracy(np.array([[3, 1], [0, 4]])) == 7 / 8
    assert accuracy(np.zeros((2, 2), dtype=np.int64)) == 0.0


def test_basic_view_scores_only_basic_labels_by_argmax_over_basic_columns():
    labels4, predictions4 = basic_view(LABELS, SCORES)

    basic = list(BASIC_EMOTIONS)  # happy, sad, neutral, angry
    assert labels4.tolist() == [basic.index(n) for n in
                                ("happy", "happy", "sad", "angry", "neutral")]
    assert predictions4.tolist() == [basic.index(n) for n in
                                     ("happy", "happy", "neutral", "angry", "neutral")]


def test_4_class_view_is_right_where_the_7_class_argmax_is_a_non_basic_class():
    labels = np.array([HAPPY])
    scores = np.array([scores_row(surprise=0.5, happy=0.3, sad=0.2)])

    report = evaluate_scores(labels, scores)

    assert report["accuracy_7"] == 0.0
    assert report["accuracy_4"] == 1.0
    assert report["confusion"][HAPPY][SURPRISE] == 1


def test_evaluate_scores_by_hand():
    report = evaluate_scores(LABELS, SCORES)

    assert report["n"] == 6 and report["n_4"] == 5
    assert report["accuracy_7"] == pytest.approx(3 / 6)
    assert report["accuracy_4"] == pytest.approx(4 / 5)
    assert report["labels"] == list(EMOTIONS) and report["labels_4"] == list(BASIC_EMOTIONS)
    assert list(report["per_class"]) == list(EMOTIONS)
    assert list(report["per_class_4"]) == list(BASIC_EMOTIONS)

    expected7 = np.zeros((7, 7), dtype=int)
    for true, predicted in [(HAPPY, HAPPY), (HAPPY, SURPRISE), (SAD, FEAR), (FEAR, FEAR),
                            (ANGRY, DISGUST), (NEUTRAL, NEUTRAL)]:
        expected7[true, predicted] += 1
    assert report["confusion"] == expected7.tolist()
    # rows/columns in BASIC_EMOTIONS order: happy, sad, neutral, angry
    assert report["confusion_4"] == [[2, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]]

    classes = report["per_class"]
    assert classes["fear"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3,
                                             "support": 1})
    assert classes["happy"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3,
                                              "support": 2})
    assert classes["neutral"]["f1"] == 1.0
    for name in ("angry", "sad", "disgust", "surprise"):
        assert classes[name]["f1"] == 0.0
    assert classes["surprise"]["support"] == 0
    assert report["macro_f1_7"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 7)
    assert report["per_class_4"]["neutral"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert report["per_class_4"]["sad"]["support"] == 1

    json.dumps(report)  # JSON-ready: plain ints, floats, lists and dicts only


def test_logits_give_the_same_report_as_probabilities():
    probabilities = np.random.default_rng(0).dirichlet(np.ones(7), size=40)
    labels = np.random.default_rng(1).integers(0, 7, 40)

    assert evaluate_scores(labels, np.log(probabilities)) == evaluate_scores(labels,
                                                                             probabilities)


def test_report_from_summed_batch_confusions_equals_evaluate_scores():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 7, 101)
    scores = rng.normal(size=(101, 7))
    scores[np.arange(101), labels] += 1.0  # better than chance, so the numbers mean something

    total7 = np.zeros((7, 7), dtype=np.int64)
    total4 = np.zeros((4, 4), dtype=np.int64)
    for start in range(0, 101, 16):
        c7, c4 = confusions(labels[start:start + 16], scores[start:start + 16])
        total7 += c7
        total4 += c4

    assert report_from_confusions(total7, total4) == evaluate_scores(labels, scores)


def test_empty_evaluation_is_all_zeros_without_warnings():
    report = evaluate_scores(np.zeros(0, dtype=np.int64), np.zeros((0, 7)))
    assert report["n"] == 0 and report["n_4"] == 0
    assert report["accuracy_7"] == 0.0 and report["accuracy_4"] == 0.0
    assert report["macro_f1_7"] == 0.0


def test_format_report_shows_accuracies_classes_and_confusion():
    report = evaluate_scores(LABELS, SCORES)

    text = format_report(report)

    assert "images: 6" in text
    assert "accuracy (7 classes): 50.00%" in text
    assert "accuracy (4 basic, n=5): 80.00%" in text
    lines = text.splitlines()
    for name in EMOTIONS:
        assert any(line.startswith(name) for line in lines), name
    header = next(line for line in lines if "angry" in line and "disgust" in line)
    assert header.split() == [name[:8] for name in EMOTIONS]
    confusion_rows = lines[lines.index(header) + 1:]
    assert [row.split()[0] for row in confusion_rows] == list(EMOTIONS)
    happy_row = confusion_rows[HAPPY].split()
    assert [int(v) for v in happy_row[1:]] == report["confusion"][HAPPY]
    fear_metrics = next(line for line in lines if line.startswith("fear"))
    assert fear_metrics.split() == ["fear", "0.500", "1.000", "0.667", "1"]
