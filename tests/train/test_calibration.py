"""Temperature scaling: it must lower the held-out NLL of a miscalibrated model, leave
predictions alone, and reach the serving classifier through the ONNX metadata."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from moodreel.assets import default_model_path
from moodreel.cli import cli
from moodreel.train.calibration import (
    calibration_report,
    expected_calibration_error,
    fit_temperature,
    nll,
    softmax,
)
from moodreel.vision.classifier import EmotionClassifier


def sampled(n: int, scale: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z) and logits ``scale * z``: calibrated at T = ``scale``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, (n, 7))
    cumulative = softmax(z).cumsum(axis=1)
    labels = (rng.random((n, 1)) > cumulative).sum(axis=1)
    return scale * z, labels


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.5])
def test_the_fitted_temperature_undoes_the_miscalibration(scale: float) -> None:
    logits, labels = sampled(6000, scale)
    assert fit_temperature(logits, labels) == pytest.approx(scale, rel=0.1)


def test_fitting_lowers_the_nll_on_held_out_data() -> None:
    logits, labels = sampled(6000, 3.0)
    fit, held = slice(0, 3000), slice(3000, None)
    temperature = fit_temperature(logits[fit], labels[fit])
    assert nll(logits[held], labels[held], temperature) < nll(logits[held], labels[held]) - 0.1
    before = expected_calibration_error(softmax(logits[held]), labels[held])
    after = expected_calibration_error(softmax(logits[held], temperature), labels[held])
    assert after < before / 3


def test_temperature_never_changes_a_prediction() -> None:
    logits, labels = sampled(500, 2.0)
    report = calibration_report(logits, labels)
    np.testing.assert_array_equal(softmax(logits).argmax(1),
                                  softmax(logits, report["temperature"]).argmax(1))
    assert report["nll_after"] <= report["nll_before"]
    assert sum(report["reliability_after"]["count"]) == 500


def test_the_stored_temperature_is_applied_when_serving(tmp_path, csv_dataset) -> None:
    model = tmp_path / "model.onnx"
    shutil.copy(default_model_path(), model)
    shutil.copy(default_model_path().with_suffix(".json"), tmp_path / "model.json")
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    raw = EmotionClassifier(model)
    logits = raw.predict_logits(raw.info.preprocessing(faces))

    result = CliRunner().invoke(cli, ["calibrate", "--data", str(csv_dataset), "--model",
                                      str(model), "--write", "--plot",
                                      str(tmp_path / "reliability.png"), "--json"])
    assert result.exit_code == 0, result.output
    temperature = EmotionClassifier(model).info.temperature
    assert temperature != 1.0 and (tmp_path / "reliability.png").stat().st_size > 1000
    np.testing.assert_allclose(EmotionClassifier(model).predict_proba(faces),
                               softmax(logits, temperature), atol=1e-5)
    assert '"calibration"' in (tmp_path / "model.json").read_text()


def test_calibrating_a_checkpoint_is_refused_with_advice(tmp_path, csv_dataset) -> None:
    result = CliRunner().invoke(cli, ["calibrate", "--data", str(csv_dataset), "--model",
                                      str(tmp_path / "best.pt")])
    assert result.exit_code == 1 and "moodreel export" in result.output
