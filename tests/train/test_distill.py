"""Knowledge distillation: soft targets from checkpoint and ONNX teachers, the loss, a run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from moodreel.cli import cli
from moodreel.data.preprocess import Preprocessing
from moodreel.nn import create_model
from moodreel.train.checkpoint import load_checkpoint, save_checkpoint
from moodreel.train.config import TrainConfig
from moodreel.train.distill import Distillation, TeacherError, Teachers, distillation_loss
from moodreel.train.export import export_onnx
from moodreel.train.trainer import TrainError, run_training


def _checkpoint(path, seed: int, preprocessing: Preprocessing | None = None):
    torch.manual_seed(seed)
    model = create_model("simple_cnn_small")
    with torch.no_grad():  # logits far from uniform, so soft targets differ between teachers
        for parameter in model.parameters():
            parameter.mul_(3)
    save_checkpoint(path, model=model.eval(), preprocessing=preprocessing or Preprocessing())
    return path, model


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("teachers")
    return [_checkpoint(folder / f"t{seed}.pt", seed) for seed in (1, 2)]


@pytest.fixture
def batch():
    return torch.randn(6, 1, 48, 48, generator=torch.Generator().manual_seed(0))


def test_soft_targets_are_the_teachers_mean_softened_probabilities(teachers, batch):
    (first, model1), (second, model2) = teachers
    with torch.no_grad():
        expected = (F.softmax(model1(batch) / 3, 1) + F.softmax(model2(batch) / 3, 1)) / 2
    soft = Teachers([first, second], Preprocessing()).soft_targets(batch, 3.0)
    torch.testing.assert_close(soft, expected)
    assert torch.allclose(soft.sum(1), torch.ones(6))
    one = Teachers([first], Preprocessing()).soft_targets(batch, 3.0)
    assert not torch.allclose(one, soft, atol=1e-3), "the second teacher changed nothing"


def test_flip_adds_the_mirrored_view(teachers, batch):
    (path, model), _ = teachers
    with torch.no_grad():
        expected = (F.softmax(model(batch), 1) + F.softmax(model(batch.flip(-1)), 1)) / 2
    soft = Teachers([path], Preprocessing(), flip=True).soft_targets(batch, 1.0)
    torch.testing.assert_close(soft, expected)


def test_an_onnx_teacher_gives_the_checkpoints_targets(teachers, batch, tmp_path):
    path, _ = teachers[0]
    onnx_path = export_onnx(path, tmp_path / "teacher.onnx").path
    from_onnx = Teachers([onnx_path], Preprocessing()).soft_targets(batch, 2.0)
    from_torch = Teachers([path], Preprocessing()).soft_targets(batch, 2.0)
    torch.testing.assert_close(from_onnx, from_torch, atol=1e-5, rtol=1e-4)


def test_the_loss_is_zero_only_when_the_student_matches(batch):
    teacher_logits = torch.randn(6, 7, generator=torch.Generator().manual_seed(1))
    soft = F.softmax(teacher_logits / 4, 1)
    assert distillation_loss(teacher_logits, soft, 4.0).item() == pytest.approx(0, abs=1e-6)
    student = torch.zeros(6, 7, requires_grad=True)
    loss = distillation_loss(student, soft, 4.0)
    assert loss.item() > 0.01
    loss.backward()
    step = student.detach() - 10 * student.grad
    assert distillation_loss(step, soft, 4.0) < loss


def test_cached_targets_are_the_teachers_answers_for_those_faces(teachers, batch):
    live = Distillation(Teachers([p for p, _ in teachers], Preprocessing(), flip=True),
                        weight=0.6, temperature=3.0)
    cached = Distillation(live.teachers, weight=0.6, temperature=3.0)
    cached.cache(batch)
    torch.testing.assert_close(cached.cached, live.teachers.soft_targets(batch, 3.0))
    index = torch.tensor([4, 1, 1])
    student, hard = torch.randn(3, 7), torch.tensor(1.3)
    torch.testing.assert_close(cached.loss(hard, student, torch.zeros(3, 1, 48, 48), index),
                               live.loss(hard, student, batch[index], index))


def test_a_cached_distilled_run_trains_and_refuses_mixing(folder_dataset, teachers, tmp_path):
    config = TrainConfig(data=str(folder_dataset), out=str(tmp_path / "run"),
                         model="simple_cnn_small", epochs=1, batch_size=16, threads=1,
                         teachers=[str(p) for p, _ in teachers], distill_cache=True)
    result = run_training(config, progress=False)
    assert np.isfinite(result.history[-1]["train_loss"])
    mixed = config.updated(out=str(tmp_path / "mixed"), **{"augment.mixup": 0.4})
    with pytest.raises(TrainError, match="mixup"):
        run_training(mixed, progress=False)


def test_mismatched_or_missing_teachers_are_clear_errors(tmp_path):
    path, _ = _checkpoint(tmp_path / "t64.pt", 0, Preprocessing(64, 0.5, 0.5))
    with pytest.raises(TeacherError, match="expects .*64.* set input_size"):
        Teachers([path], Preprocessing())
    with pytest.raises(TeacherError, match="not found"):
        Teachers([tmp_path / "missing.pt"], Preprocessing())
    with pytest.raises(TeacherError, match="at least one"):
        Teachers([], Preprocessing())


def test_a_distilled_run_trains_and_records_its_teachers(folder_dataset, teachers, tmp_path):
    paths = [str(p) for p, _ in teachers]
    config = TrainConfig(data=str(folder_dataset), out=str(tmp_path / "run"),
                         model="simple_cnn_small", epochs=2, batch_size=16, threads=1,
                         teachers=paths, distill_weight=0.7, distill_temperature=2.0)
    result = run_training(config, progress=False)
    assert result.epochs_run == 2 and np.isfinite(result.history[-1]["train_loss"])
    saved = load_checkpoint(tmp_path / "run" / "last.pt")["train_config"]
    assert saved["teachers"] == paths and saved["distill_weight"] == 0.7
    with pytest.raises(TrainError, match="distill_weight"):
        run_training(TrainConfig(**{**config.to_dict(), "augment": config.augment,
                                    "distill_weight": 1.5}), progress=False)


def test_cli_teacher_option(folder_dataset, teachers, tmp_path):
    runner = CliRunner()
    args = ["train", "--data", str(folder_dataset), "--model", "simple_cnn_small",
            "--epochs", "1", "--batch-size", "16", "--threads", "1", "--no-progress",
            "--out", str(tmp_path / "run")]
    result = runner.invoke(cli, [*args, "--teacher", str(teachers[0][0]),
                                 "--teacher", str(teachers[1][0]), "--distill-flip"])
    assert result.exit_code == 0, result.output
    saved = load_checkpoint(tmp_path / "run" / "last.pt")["train_config"]
    assert len(saved["teachers"]) == 2 and saved["distill_flip"] is True
    missing = runner.invoke(cli, [*args, "--teacher", str(tmp_path / "nope.pt")])
    assert missing.exit_code == 1 and "teacher not found" in missing.output
