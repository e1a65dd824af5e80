"""The model that ships inside the package: present, self-describing, and as good as its card."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from moodreel.assets import default_model_path
from moodreel.cli import cli
from moodreel.data.preprocess import Preprocessing
from moodreel.labels import EMOTIONS
from moodreel.vision.classifier import EmotionClassifier


@pytest.fixture(scope="module")
def card():
    return json.loads(default_model_path().with_suffix(".json").read_text())


def test_the_model_ships_small_and_self_describing(card):
    path = default_model_path()
    assert path.is_file()
    assert path.stat().st_size < 2 * 1024 * 1024
    classifier = EmotionClassifier()
    assert classifier.labels == EMOTIONS
    assert classifier.info.preprocessing == Preprocessing(
        card["input"]["size"], card["normalisation"]["mean"], card["normalisation"]["std"])
    assert classifier.info.params == card["params"]
    assert card["labels"] == list(EMOTIONS)
    assert card["parity_max_abs_diff"] < 1e-4
    assert sum(run["checkpoint_epoch"] for run in runs_behind(card["training"])) >= 20


def runs_behind(training):
    """The runs that made the model, last first: each fine-tuned the one it started from."""
    while training is not None:
        yield training
        training = training.get("started_from", {}).get("training")


@pytest.mark.slow
def test_eval_without_a_model_scores_the_shipped_one_as_its_card_says(shared_fer2013, card):
    result = CliRunner().invoke(cli, ["eval", "--data", str(shared_fer2013), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["model"] == str(default_model_path())
    assert report["n"] == 3589
    # The card's figure was measured in PyTorch at export; ONNX Runtime must agree.
    assert report["accuracy_7"] == pytest.approx(card["val"]["accuracy_7"], abs=0.002)
    assert report["accuracy_4"] == pytest.approx(card["val"]["accuracy_4"], abs=0.002)
    assert report["accuracy_7"] > 0.60
