"""A run fits its schedule into a time limit, and stops before an epoch that would pass it."""

from __future__ import annotations

import itertools
import json

import pytest
from click.testing import CliRunner

from moodreel.cli import cli
from moodreel.train.checkpoint import load_checkpoint
from moodreel.train.config import TrainConfig
from moodreel.train.time_limit import TimeLimit, parse_duration
from moodreel.train.trainer import run_training
from tests.train.test_training import tiny_config


def test_durations_read_as_seconds():
    assert parse_duration("5400") == parse_duration("90m") == parse_duration("1.5h") == 5400
    assert parse_duration(" 30 s ") == 30 and parse_duration(12) == 12
    for bad in ("soon", "-5", "5 min", "", True):
        with pytest.raises(ValueError, match="time limit"):
            parse_duration(bad)


def test_the_epochs_that_fit_at_the_first_epochs_pace():
    limit = TimeLimit(100)
    assert limit.fitted_epochs(30, 10) == 3
    assert limit.fitted_epochs(5, 10) == 10  # never more than asked for
    assert limit.fitted_epochs(500, 10) == 1  # the epoch already run
    assert TimeLimit(0).fitted_epochs(500, 10) == 10
    assert limit.allows_another([30, 30, 40]) is False  # 100 so far, the slowest is 40
    assert limit.allows_another([30, 30]) and limit.allows_another([])


def epochs_taking(monkeypatch, seconds):
    """Make the trainer's clock say that its epochs took ``seconds`` each, in turn."""
    def ticks():
        now = 0.0
        for duration in itertools.chain(seconds, itertools.repeat(seconds[-1])):
            yield now
            now += duration
            yield now
    monkeypatch.setattr("moodreel.train.trainer._clock", ticks().__next__)


def test_a_fresh_run_fits_its_schedule_and_ends_annealed(folder_dataset, tmp_path,
                                                         monkeypatch):
    epochs_taking(monkeypatch, [10.0])
    config = tiny_config(folder_dataset, tmp_path / "run", epochs=10, time_limit=35)
    result = run_training(config, progress=False)
    assert result.epochs_run == 3
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["train_config"]["epochs"] == 3 and last["train_config"]["time_limit"] == 35
    # the cosine ran to its floor over the 3 epochs, not over the 10 first asked for
    assert result.history[-1]["lr"] == pytest.approx(config.lr * config.min_lr_ratio, rel=0.05)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs_run"] == 3


def test_no_epoch_starts_that_would_end_past_the_limit(folder_dataset, tmp_path, monkeypatch):
    epochs_taking(monkeypatch, [10.0, 10.0, 30.0])  # the machine slows down at epoch 3
    result = run_training(tiny_config(folder_dataset, tmp_path / "run", epochs=10,
                                      time_limit=45), progress=False)
    # fitted to 4 epochs at 10 s; after 3 the run has spent 50 s: a fourth would pass 45
    assert result.epochs_run == 3
    assert load_checkpoint(tmp_path / "run" / "last.pt")["train_config"]["epochs"] == 4
    # resumed, the limit counts the new invocation's epochs: the fourth runs
    epochs_taking(monkeypatch, [10.0])
    resumed = run_training(TrainConfig(out=str(tmp_path / "run")), resume=True,
                           progress=False)
    assert resumed.epochs_run == 4


def test_settings_a_limit_cannot_fit_are_refused(folder_dataset):
    with pytest.raises(ValueError, match="time_limit fits a cosine"):
        TrainConfig.from_dict({"time_limit": 60, "schedule": "onecycle"})
    with pytest.raises(ValueError, match="time_limit fits a cosine"):
        TrainConfig.from_dict({"time_limit": "1m", "late_augment": {"blur": 0.2},
                               "late_augment_epoch": 2})
    assert TrainConfig.from_dict({"time_limit": "1.5h"}).time_limit == 5400
    result = CliRunner().invoke(cli, ["train", "--data", str(folder_dataset),
                                      "--time-limit", "soon"])
    assert result.exit_code == 2 and "expected seconds or a number with s, m or h" in (
        result.output)
