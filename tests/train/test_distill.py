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
from moodreel.train.distill import (
    Distillation,
    TeacherError,
    Teachers,
    decoupled_loss,
    decoupled_terms,
    distillation_loss,
    score_training_set,
)
from moodreel.train.export import export_onnx
from moodreel.train.teacher_scores import load_scores, training_set_fingerprint
from moodreel.train.trainer import TrainError, run_training


def _checkpoint(path, seed: int, preprocessing: Preprocessing | None = None,
                scale: float = 3.0):
    torch.manual_seed(seed)
    model = create_model("simple_cnn_small")
    with torch.no_grad():  # logits far from uniform, so soft targets differ between teachers
        for parameter in model.parameters():
            parameter.mul_(scale)
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
    labels = torch.tensor([0, 6, 2])
    torch.testing.assert_close(
        cached.loss(hard, student, torch.zeros(3, 1, 48, 48), index, labels),
        live.loss(hard, student, batch[index], index, labels))


@pytest.fixture
def soft_and_labels():
    generator = torch.Generator().manual_seed(2)
    teacher_logits = 3 * torch.randn(8, 7, generator=generator)
    return teacher_logits, F.softmax(teacher_logits / 4, 1), torch.arange(8) % 7


def test_kd_is_the_target_term_plus_the_other_term_muted_by_the_teachers_confidence(
        soft_and_labels):
    _, soft, labels = soft_and_labels
    student = torch.randn(8, 7, generator=torch.Generator().manual_seed(3))
    target, other = decoupled_terms(student, soft, labels, 4.0)
    assert (target >= 0).all() and (other >= 0).all()
    p_label = soft[torch.arange(8), labels]
    kl_per_face = F.kl_div(F.log_softmax(student / 4, 1), soft, reduction="none").sum(1)
    torch.testing.assert_close(target + (1 - p_label) * other, kl_per_face)


def test_the_decoupled_loss_vanishes_only_when_the_student_matches(soft_and_labels):
    teacher_logits, soft, labels = soft_and_labels
    assert decoupled_loss(teacher_logits, soft, labels, 4.0, 1.0, 8.0).item() == pytest.approx(
        0, abs=1e-4)  # float32 rounding of logs near 0, times T^2
    student = torch.zeros(8, 7, requires_grad=True)
    loss = decoupled_loss(student, soft, labels, 4.0, 1.0, 8.0)
    assert loss.item() > 0.01
    loss.backward()
    assert decoupled_loss(student.detach() - 0.5 * student.grad, soft, labels, 4.0, 1.0,
                          8.0) < loss
    # beta weighs the other classes' spread: a student right on the label's share and wrong
    # on the rest pays in proportion to beta, and nothing for alpha
    wrong_rest = teacher_logits.clone()
    wrong_rest[torch.arange(8), (labels + 1) % 7] += 2
    target, other = decoupled_terms(wrong_rest, soft, labels, 4.0)
    assert other.mean() > 10 * target.mean()
    assert (decoupled_loss(wrong_rest, soft, labels, 4.0, 1.0, 8.0)
            > 3 * decoupled_loss(wrong_rest, soft, labels, 4.0, 1.0, 2.0))


def test_a_cached_distilled_run_trains_and_refuses_mixing(folder_dataset, teachers, tmp_path):
    config = TrainConfig(data=str(folder_dataset), out=str(tmp_path / "run"),
                         model="simple_cnn_small", epochs=1, batch_size=16, threads=1,
                         teachers=[str(p) for p, _ in teachers], distill_cache=True)
    result = run_training(config, progress=False)
    assert np.isfinite(result.history[-1]["train_loss"])
    mixed = config.updated(out=str(tmp_path / "mixed"), **{"augment.mixup": 0.4})
    with pytest.raises(TrainError, match="mixup"):
        run_training(mixed, progress=False)


def test_a_decoupled_run_trains_and_refuses_unknown_losses_and_mixing(folder_dataset, teachers,
                                                                      tmp_path):
    config = TrainConfig(data=str(folder_dataset), out=str(tmp_path / "run"),
                         model="simple_cnn_small", epochs=1, batch_size=16, threads=1,
                         teachers=[str(p) for p, _ in teachers], distill_cache=True,
                         distill_loss="dkd", dkd_alpha=1.0, dkd_beta=4.0)
    result = run_training(config, progress=False)
    assert np.isfinite(result.history[-1]["train_loss"])
    with pytest.raises(TrainError, match="distill_loss must be one of kd, dkd"):
        run_training(config.updated(distill_loss="dk"), progress=False)
    with pytest.raises(TrainError, match="not both 0"):
        run_training(config.updated(dkd_alpha=0.0, dkd_beta=0.0), progress=False)
    live_mixed = config.updated(distill_cache=False, **{"augment.cutmix": 0.5})
    with pytest.raises(TrainError, match="cutmix, which mix two labels"):
        run_training(live_mixed, progress=False)


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


# --- teacher scores files -------------------------------------------------------------------

@pytest.fixture(scope="module")
def mild_teachers(tmp_path_factory):
    """Teachers whose logits on the synthetic faces are about 1, not thousands: their soft
    targets then depend on the temperature, which the scores must honour."""
    folder = tmp_path_factory.mktemp("mild_teachers")
    return [_checkpoint(folder / f"t{seed}.pt", seed, scale=1.6) for seed in (1, 2)]


def _train_split(folder_dataset):
    from moodreel.data.fer2013 import load_split

    return load_split(folder_dataset, "train")


def test_a_scores_file_teaches_what_its_teachers_taught(folder_dataset, mild_teachers,
                                                        tmp_path):
    train = _train_split(folder_dataset)
    paths = [p for p, _ in mild_teachers]
    inputs = torch.from_numpy(Preprocessing()(train.images))
    fingerprint = training_set_fingerprint(train.images, train.labels)
    live = Distillation(Teachers(paths, Preprocessing(), flip=True), temperature=3.0)
    live.cache(inputs, fingerprint=fingerprint)

    scores = score_training_set(live.teachers, train.images, train.labels)
    assert scores.logits.shape == (len(train), 4, 7) and scores.logits.dtype == np.float16
    saved = load_scores(scores.save(tmp_path / "scores.npz"))
    assert saved.fingerprint == fingerprint and saved.flip and saved.teachers == ("t1.pt",
                                                                                  "t2.pt")
    from_file = Distillation(Teachers([tmp_path / "scores.npz"], Preprocessing(), flip=True),
                             temperature=3.0)
    from_file.cache(None, fingerprint=fingerprint)  # a file needs no faces
    torch.testing.assert_close(from_file.cached, live.cached, atol=2e-3, rtol=0)
    with pytest.raises(ValueError, match="need the training faces"):
        live.cache(None, fingerprint=fingerprint)
    cooler = Distillation(from_file.teachers, temperature=1.0)
    cooler.cache(inputs, fingerprint=fingerprint)
    assert (cooler.cached - live.cached).abs().max() > 0.05, "the temperature was ignored"
    with pytest.raises(TeacherError, match="only with distill_cache"):
        from_file.teachers.soft_targets(inputs[:2], 3.0)

    # a file and a model together: the mean over every view of both
    both = Distillation(Teachers([tmp_path / "scores.npz", paths[0]], Preprocessing(),
                                 flip=True), temperature=3.0)
    both.cache(inputs, fingerprint=fingerprint)
    first = Distillation(Teachers([paths[0]], Preprocessing(), flip=True), temperature=3.0)
    first.cache(inputs)
    torch.testing.assert_close(both.cached, (4 * live.cached + 2 * first.cached) / 6,
                               atol=2e-3, rtol=0)


def test_scores_of_another_training_set_or_view_are_refused(folder_dataset, teachers,
                                                            tmp_path):
    train = _train_split(folder_dataset)
    path = score_training_set(Teachers([teachers[0][0]], Preprocessing()), train.images,
                              train.labels).save(tmp_path / "scores.npz")
    other = Distillation(Teachers([path], Preprocessing()))
    inputs = torch.from_numpy(Preprocessing()(train.images[1:]))
    with pytest.raises(TeacherError, match="another training set"):
        other.cache(inputs, fingerprint=training_set_fingerprint(train.images[1:],
                                                                 train.labels[1:]))
    with pytest.raises(TeacherError, match="without the mirrored faces.*distill_flip true"):
        Teachers([path], Preprocessing(), flip=True)
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(TeacherError, match="not a teacher scores file .not an .npz archive"):
        Teachers([tmp_path / "broken.npz"], Preprocessing())
    with pytest.raises(TeacherError, match="not found"):
        Teachers([tmp_path / "missing.npz"], Preprocessing())


def test_scores_teach_a_student_of_another_input_size(folder_dataset, teachers, tmp_path):
    """A score belongs to the face: a 64-px student gets the targets a file scored at 48 px
    holds, while a teacher model still has to match the run's input."""
    train = _train_split(folder_dataset)
    fingerprint = training_set_fingerprint(train.images, train.labels)
    path = score_training_set(Teachers([teachers[0][0]], Preprocessing()), train.images,
                              train.labels).save(tmp_path / "scores.npz")
    at_64 = Distillation(Teachers([path], Preprocessing(64, 0.5, 0.5)))
    at_64.cache(torch.from_numpy(Preprocessing(64, 0.5, 0.5)(train.images)),
                fingerprint=fingerprint)
    at_own = Distillation(Teachers([path]))
    at_own.cache(torch.from_numpy(Preprocessing()(train.images)), fingerprint=fingerprint)
    assert at_own.teachers.preprocessing == Preprocessing()
    torch.testing.assert_close(at_64.cached, at_own.cached)
    with pytest.raises(TeacherError, match="expects .* set input_size"):
        Teachers([path, teachers[0][0]], Preprocessing(64, 0.5, 0.5))


def test_a_run_distils_from_a_scores_file_alone(folder_dataset, teachers, tmp_path):
    runner = CliRunner()
    scores = tmp_path / "scores.npz"
    made = runner.invoke(cli, ["teacher-scores", str(teachers[0][0]), str(teachers[1][0]),
                               "--data", str(folder_dataset), "--flip", "--out", str(scores)])
    assert made.exit_code == 0, made.output
    assert "scored 84 training faces, 4 view(s) each" in made.output
    config = TrainConfig(data=str(folder_dataset), out=str(tmp_path / "run"),
                         model="simple_cnn_small", epochs=1, batch_size=16, threads=1,
                         teachers=[str(scores)], distill_flip=True, distill_cache=True)
    result = run_training(config, progress=False)
    assert np.isfinite(result.history[-1]["train_loss"])
    with pytest.raises(TrainError, match="only with distill_cache"):
        run_training(config.updated(out=str(tmp_path / "live"), distill_cache=False),
                     progress=False)
    wrong = runner.invoke(cli, ["teacher-scores", str(teachers[0][0]), "--data",
                                str(folder_dataset), "--out", str(tmp_path / "scores.txt")])
    assert wrong.exit_code == 1 and "written to a .npz file" in wrong.output
    nowhere = runner.invoke(cli, ["teacher-scores", str(teachers[0][0]), "--data",
                                  str(folder_dataset), "--out", str(tmp_path / "no" / "s.npz")])
    assert nowhere.exit_code == 1 and "the folder" in nowhere.output and "not exist" in (
        nowhere.output)
    again = runner.invoke(cli, ["teacher-scores", str(scores), "--data", str(folder_dataset),
                                "--out", str(tmp_path / "again.npz")])
    assert again.exit_code == 1 and "a checkpoint (.pt) or an ONNX file" in again.output
    assert not (tmp_path / "scores.txt").exists()
