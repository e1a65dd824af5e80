"""The weight average: the arithmetic of each step, and what a run evaluates and saves."""

from __future__ import annotations

import pytest
import torch

from moodreel.nn import create_model
from moodreel.train.checkpoint import load_checkpoint
from moodreel.train.config import TrainConfig
from moodreel.train.ema import weight_average
from moodreel.train.trainer import TrainError, run_training


def test_each_update_moves_the_average_a_share_of_the_way_to_the_weights():
    torch.manual_seed(0)
    model = create_model("simple_cnn_small")
    average = weight_average(model, decay=0.75)
    average.update_parameters(model)  # the first update copies
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.add_(2.0)
    average.update_parameters(model)
    averaged = average.module.state_dict()
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(averaged[key], 0.75 * before[key] + 0.25 * value)
    assert any("running_mean" in key for key in averaged)  # BatchNorm statistics averaged too


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_a_decay_that_cannot_average_is_an_error(decay):
    with pytest.raises(ValueError, match="ema_decay"):
        weight_average(create_model("simple_cnn_small"), decay)


def test_a_run_evaluates_and_saves_the_average_and_logs_the_raw_weights(folder_dataset,
                                                                          tmp_path):
    config = TrainConfig(data=str(folder_dataset), out=str(tmp_path / "run"),
                         model="simple_cnn_small", epochs=1, batch_size=16, threads=1,
                         ema_decay=0.9)
    result = run_training(config, progress=False)
    row = result.history[0]
    assert 0 <= row["raw_val_acc"] <= 1 and 0 <= row["raw_val_acc4"] <= 1
    best = load_checkpoint(tmp_path / "run" / "best.pt")["state_dict"]
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    for key, value in best.items():  # epoch 1 is the best: best.pt holds the average
        torch.testing.assert_close(last["weight_average"][f"module.{key}"], value)
    assert any(not torch.equal(value, last["state_dict"][key]) for key, value in best.items()
               if value.is_floating_point())
    assert "raw_val_acc" in (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]


def test_a_bad_decay_stops_the_run_before_training(folder_dataset, tmp_path):
    config = TrainConfig(data=str(folder_dataset), out=str(tmp_path / "run"),
                         model="simple_cnn_small", epochs=1, batch_size=16, threads=1,
                         ema_decay=1.0)
    with pytest.raises(TrainError, match="ema_decay"):
        run_training(config, progress=False)
