"""Training on tiny synthetic data: learning, checkpoints, resume, early stopping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from moodreel.data.preprocess import Preprocessing
from moodreel.nn import create_model
from moodreel.nn.profile import count_params
from moodreel.train import trainer
from moodreel.train.checkpoint import load_checkpoint, model_from_checkpoint
from moodreel.train.config import AugmentConfig, TrainConfig, load_config
from moodreel.train.engine import BatchLoader, cpu_has_native_bf16, predict_logits, train_one_epoch
from moodreel.train.selection import selection_score
from moodreel.train.trainer import TrainError, run_training
from tests.bad_files import assert_refuses_bad_yaml
from tests.synthetic import make_faces

ROOT = Path(__file__).resolve().parents[2]


def tiny_config(data, out, **overrides) -> TrainConfig:
    values = dict(data=str(data), out=str(out), model="simple_cnn_small", epochs=2,
                  batch_size=16, lr=3e-3, warmup_epochs=0.5, threads=1)
    values.update(overrides)
    return TrainConfig(**values)


def train_epochs(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray, epochs: int,
                 augment: AugmentConfig | None = None, **options) -> list[float]:
    """``epochs`` epochs of ``train_one_epoch`` at a constant learning rate; their losses."""
    loader = BatchLoader(images, labels, Preprocessing(), batch_size=16, augment=augment)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    losses = []
    for epoch in range(epochs):
        loader.epoch = epoch
        losses.append(train_one_epoch(model, loader, optimizer, scheduler, num_classes=7,
                                      device=torch.device("cpu"), **options).loss)
    return losses


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    images, labels = make_faces(16, seed=1)
    model = create_model("simple_cnn_small")
    inputs = Preprocessing()(images)
    before = torch.nn.functional.cross_entropy(
        torch.from_numpy(predict_logits(model, inputs)), torch.from_numpy(labels)).item()
    train_epochs(model, images, labels, 8, augment=AugmentConfig())
    after = torch.nn.functional.cross_entropy(
        torch.from_numpy(predict_logits(model, inputs)), torch.from_numpy(labels)).item()
    assert after < before * 0.8


def test_run_writes_a_self_describing_checkpoint_and_artifacts(folder_dataset, tmp_path):
    result = run_training(tiny_config(folder_dataset, tmp_path / "run", epochs=3),
                          progress=False)
    out = tmp_path / "run"
    for name in ("best.pt", "last.pt", "metrics.csv", "learning_curves.png", "confusion.png",
                 "summary.json"):
        assert (out / name).is_file(), name
    state = load_checkpoint(out / "last.pt")
    for key in ("model_config", "state_dict", "labels", "preprocessing", "train_config",
                "epoch", "optimizer", "scheduler", "best_accuracy", "history"):
        assert key in state, key
    assert state["model_config"]["name"] == "simple_cnn_small"
    assert state["preprocessing"] == {"size": 48, "mean": 0.5, "std": 0.5}
    assert state["epoch"] == 3
    assert len(result.history) == 3
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.best_accuracy > 1 / 7 + 0.1  # the synthetic classes are learnable
    model, pre, best = model_from_checkpoint(out / "best.pt")
    assert best["best_accuracy"] == pytest.approx(result.best_accuracy)
    assert pre == Preprocessing()
    assert model.training is False


@pytest.mark.parametrize("extra", [{}, {"ema_decay": 0.9}], ids=["plain", "weight-average"])
def test_resume_continues_the_same_run(folder_dataset, tmp_path, monkeypatch, extra):
    straight = run_training(tiny_config(folder_dataset, tmp_path / "a", epochs=3, **extra),
                            progress=False)

    real_epoch = trainer.train_one_epoch
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_training(tiny_config(folder_dataset, tmp_path / "b", epochs=3, **extra),
                     progress=False)
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 2
    monkeypatch.setattr(trainer, "train_one_epoch", real_epoch)

    resumed = run_training(tiny_config(folder_dataset, tmp_path / "b", epochs=3, **extra),
                           resume=True, progress=False)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3]
    a = load_checkpoint(tmp_path / "a" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "last.pt")
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=1e-5, atol=1e-6)
    for key, value in a.get("weight_average", {}).items():
        torch.testing.assert_close(b["weight_average"][key], value, rtol=1e-5, atol=1e-6)
    assert b["scheduler"]["last_epoch"] == a["scheduler"]["last_epoch"]
    assert resumed.history[-1]["val_acc"] == pytest.approx(straight.history[-1]["val_acc"])


def test_batches_say_which_faces_they_hold():
    images, labels = make_faces(3, seed=2)
    loader = BatchLoader(images, labels, Preprocessing(), batch_size=8)
    clean = torch.from_numpy(Preprocessing()(images))
    batches = list(loader)
    assert len(batches) == len(labels) // 8
    for batch in batches:
        assert torch.equal(batch.labels, torch.from_numpy(labels)[batch.index])
        torch.testing.assert_close(batch.inputs, clean[batch.index])
    seen = torch.cat([batch.index for batch in batches])
    assert len(set(seen.tolist())) == len(batches) * 8  # no face twice in an epoch


def test_resume_without_a_run_is_a_clear_error(tmp_path, folder_dataset):
    with pytest.raises(TrainError, match="nothing to resume"):
        run_training(tiny_config(folder_dataset, tmp_path / "none"), resume=True)


def test_early_stopping_stops_when_val_accuracy_stalls(folder_dataset, tmp_path):
    config = tiny_config(folder_dataset, tmp_path / "run", epochs=6, lr=0.0,
                         schedule="constant", warmup_epochs=0, patience=2)
    result = run_training(config, progress=False)
    assert result.epochs_run == 3  # best at epoch 1, then two epochs without gain


def test_mixup_cutmix_erasing_and_class_weights_train(folder_dataset, tmp_path):
    config = tiny_config(folder_dataset, tmp_path / "run", epochs=1, class_weights="balanced",
                         label_smoothing=0.1, optimizer="sgd", schedule="onecycle",
                         augment=AugmentConfig(erasing=0.5, mixup=0.4, cutmix=1.0))
    result = run_training(config, progress=False)
    assert np.isfinite(result.history[0]["train_loss"])


def test_late_augment_takes_the_last_epochs_and_best_is_chosen_among_them(
        folder_dataset, tmp_path, monkeypatch):
    seen = []

    def spying(model, loader, *args, **kwargs):
        seen.append((loader.augment.occlude, loader.augment.blur, loader.augment.erasing))
        return train_one_epoch(model, loader, *args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", spying)
    # lr 0: every epoch scores the same, so only the restriction can make epoch 3 the best
    config = tiny_config(folder_dataset, tmp_path / "run", epochs=3, lr=0.0,
                         schedule="constant", warmup_epochs=0,
                         augment=AugmentConfig(erasing=0.25),
                         late_augment={"occlude": 0.3, "blur": 0.2}, late_augment_epoch=3)
    result = run_training(config, progress=False)
    assert seen == [(0.0, 0.0, 0.25), (0.0, 0.0, 0.25), (0.3, 0.2, 0.25)]
    assert result.best_epoch == 3  # the only epoch that saw the occluders
    assert load_checkpoint(tmp_path / "run" / "best.pt")["epoch"] == 3


@pytest.mark.parametrize(("late", "match"), [
    ({"late_augment": {"oclude": 0.3}, "late_augment_epoch": 2}, "late_augment: unknown.*oclude"),
    ({"late_augment": {"occlude": 0.3}}, "late_augment_epoch must be in 2..4"),
    ({"late_augment": {"occlude": 0.3}, "late_augment_epoch": 5}, "late_augment_epoch"),
])
def test_late_augment_refuses_unknown_keys_and_epochs_outside_the_run(late, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_dict({"epochs": 4, **late})


def test_select_on_occluded_keeps_the_epoch_best_on_clean_and_occluded_val_together(
        folder_dataset, tmp_path):
    config = tiny_config(folder_dataset, tmp_path / "run", epochs=4, select_on="occluded")
    result = run_training(config, progress=False)
    assert result.select_on == "occluded"  # the CLI's last line says how the epoch was kept
    scores = [selection_score(row["val_acc"], row["occluded_val_acc"])
              for row in result.history]
    assert all(0 <= row["occluded_val_acc"] <= 1 for row in result.history)
    assert result.best_epoch == int(np.argmax(scores)) + 1
    assert result.best_accuracy == pytest.approx(result.history[result.best_epoch - 1]["val_acc"],
                                                 abs=1e-5)  # still the clean accuracy
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["epoch"] == result.best_epoch
    assert best["best_score"] == pytest.approx(max(scores), abs=1e-5)
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]
    assert "occluded_val_acc" in header.split(",")


def test_select_on_refuses_an_unknown_criterion():
    with pytest.raises(ValueError, match="select_on must be one of clean, occluded, not 'robust'"):
        TrainConfig.from_dict({"select_on": "robust"})


def test_an_empty_late_augment_is_off():
    config = TrainConfig.from_dict({"epochs": 4, "late_augment": None})
    assert config.augment_at(3) == config.augment and config.selects_from(0)


def test_config_files_reject_unknown_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("epochs: 3\nlearning_rate: 0.1\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_config(path)
    assert_refuses_bad_yaml(load_config, path, ValueError)


def test_a_preset_extends_its_base(tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "base.yaml").write_text(
        "epochs: 100\nlr: 0.002\naugment:\n  erasing: 0.25\n  rotate: 10\n"
        "late_augment:\n  occlude: 0.3\n  blur: 0.2\nlate_augment_epoch: 76\n")
    (tmp_path / "variant.yaml").write_text(
        "base: recipes/base.yaml\nlr: 0.001\naugment:\n  erasing: 0.5\n"
        "late_augment:\n  blur: 0.4\n")
    variant = load_config(tmp_path / "variant.yaml")
    assert variant.preset == str(tmp_path / "variant.yaml")  # the one named, for the record
    assert (variant.epochs, variant.lr) == (100, 0.001)
    assert (variant.augment.erasing, variant.augment.rotate) == (0.5, 10)
    assert variant.late_augment == {"occlude": 0.3, "blur": 0.4}
    (tmp_path / "loop.yaml").write_text("base: loop2.yaml\n")
    (tmp_path / "loop2.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ValueError, match="cycle"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(ValueError, match="not found: .*missing.yaml"):
        load_config(tmp_path / "orphan.yaml")
    (tmp_path / "typo.yaml").write_text("base: recipes/base.yaml\nlearning_rate: 0.1\n")
    with pytest.raises(ValueError, match="learning_rate"):
        load_config(tmp_path / "typo.yaml")


def test_shipped_preset_loads():
    config = load_config(ROOT / "configs" / "mini_xception.yaml")
    assert config.model == "mini_xception"
    assert config.epochs >= 20


def test_every_preset_loads_and_its_steps_chain():
    """A preset's spec file exists, a checkpoint (.pt) it starts from or learns from is
    the best.pt of another preset's run, so each step's command follows the one before, and
    a teacher's scores file (.npz), or an ONNX model outside runs/, is in the repository."""
    presets = {path.name: load_config(path) for path in sorted((ROOT / "configs").glob("*.yaml"))}
    runs = {f"{config.out}/best.pt" for config in presets.values()}
    for name, config in presets.items():
        if str(config.model).endswith(".yaml"):
            assert (ROOT / config.model).is_file(), name
        for start in [config.finetune, config.init_from, *config.teachers]:
            if start.endswith(".pt"):
                assert start in runs, f"{name}: {start} is no preset's run"
            generated = start.startswith("runs/")  # made by the commands in the header
            if start.endswith(".npz") or (start.endswith(".onnx") and not generated):
                assert (ROOT / start).is_file(), f"{name}: {start} is not committed"


def test_a_run_can_fine_tune_an_exported_onnx_model(folder_dataset, tmp_path):
    from moodreel.train.export import export_onnx

    first = run_training(tiny_config(folder_dataset, tmp_path / "first", epochs=1),
                         progress=False)
    onnx_path = export_onnx(first.out / "best.pt", tmp_path / "model.onnx").path
    tuned = run_training(tiny_config(folder_dataset, tmp_path / "tuned", epochs=1,
                                     finetune=str(onnx_path)), progress=False)
    assert tuned.epochs_run == 1 and np.isfinite(tuned.history[0]["train_loss"])
    assert load_checkpoint(tuned.out / "best.pt")["model_config"]["name"] == "simple_cnn_small"
    with pytest.raises(TrainError, match="set input_size"):
        run_training(tiny_config(folder_dataset, tmp_path / "bad", epochs=1, input_size=40,
                                 finetune=str(onnx_path)), progress=False)


def test_a_branched_model_trains_and_says_what_it_deploys_as(folder_dataset, tmp_path, caplog):
    config = tiny_config(folder_dataset, tmp_path / "run", epochs=1, model="mini_xception",
                         model_kwargs={"branches": 1})
    with caplog.at_level("INFO", logger="moodreel"):
        result = run_training(config, progress=False)
    assert np.isfinite(result.history[0]["train_loss"])
    plain = count_params(create_model("mini_xception"))
    assert f", {plain} once its branches are folded" in caplog.text


def test_bf16_autocast_lowers_the_loss_and_keeps_float32_weights():
    torch.manual_seed(0)
    images, labels = make_faces(4, seed=1)
    model = create_model("simple_cnn_small")
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    seen = set()
    conv.register_forward_hook(lambda module, inputs, output: seen.add(output.dtype))
    losses = train_epochs(model, images, labels, 8, precision="bf16")
    assert seen == {torch.bfloat16}
    assert losses[-1] < losses[0] * 0.8
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.parametrize(("flags", "native"), [
    ("flags\t\t: fpu avx512f avx512bw avx512_vnni", False),
    ("flags\t\t: fpu avx512f avx512_bf16 amx_tile", True),
    ("Features\t: fp asimd bf16 i8mm", True),
    ("processor\t: 0", None),
])
def test_native_bf16_is_read_off_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\n{flags}\n")
    assert cpu_has_native_bf16(cpuinfo) is native
    assert cpu_has_native_bf16(tmp_path / "missing") is None


def test_bf16_on_a_cpu_without_it_warns_that_it_is_slower(folder_dataset, tmp_path,
                                                          monkeypatch, caplog):
    monkeypatch.setattr("moodreel.train.trainer.cpu_has_native_bf16", lambda: False)
    config = tiny_config(folder_dataset, tmp_path / "run", precision="bf16", epochs=1)
    with caplog.at_level("WARNING", logger="moodreel"):
        run_training(config, progress=False)
    assert "without native bfloat16" in caplog.text


def test_an_unknown_precision_is_a_clear_error(folder_dataset, tmp_path):
    with pytest.raises(TrainError, match="unknown precision 'fp8'"):
        run_training(tiny_config(folder_dataset, tmp_path / "run", precision="fp8"),
                     progress=False)


def test_init_from_warm_starts_another_network_where_names_and_shapes_match(
        folder_dataset, tmp_path, caplog):
    """The shipped network's weights start its faster variant (no gates in its first two
    modules) at another input size: every tensor the variant has is copied, BatchNorm
    statistics included, and the run trains from there."""
    late = ROOT / "configs" / "specs" / "mini_xception_late.yaml"
    variant = ROOT / "configs" / "specs" / "mini_xception_late_g3.yaml"
    source = run_training(tiny_config(folder_dataset, tmp_path / "late", model=str(late),
                                      input_size=64, epochs=1, max_steps_per_epoch=2),
                          progress=False)
    trained = model_from_checkpoint(source.out / "best.pt")[0].state_dict()
    config = tiny_config(folder_dataset, tmp_path / "g3", model=str(variant), input_size=52,
                         epochs=1, max_steps_per_epoch=2, init_from=str(source.out / "best.pt"))
    with caplog.at_level("INFO", logger="moodreel"):
        warm = trainer._initial_model(config, Preprocessing(52), np.zeros((1, 48, 48)))
    assert all(torch.equal(tensor, trained[key]) for key, tensor in warm.state_dict().items())
    fresh = create_model(str(variant), num_classes=7, in_chans=1).state_dict()
    key = "stages.4.main.0.0.0.weight"
    assert not torch.equal(fresh[key], trained[key])  # so the copy is not a coincidence
    assert f"{len(fresh)} of {len(fresh)} tensors copied" in caplog.text
    assert "trained with" in caplog.text  # another input size: said, not refused
    result = run_training(config, progress=False)
    assert result.epochs_run == 1 and np.isfinite(result.history[0]["train_loss"])


def test_init_from_refuses_another_network_or_a_finetune(folder_dataset, tmp_path):
    source = run_training(tiny_config(folder_dataset, tmp_path / "small", epochs=1,
                                      max_steps_per_epoch=2), progress=False)
    checkpoint = str(source.out / "best.pt")
    with pytest.raises(TrainError, match="not a variant of this network"):
        run_training(tiny_config(folder_dataset, tmp_path / "a", model="mini_xception",
                                 init_from=checkpoint), progress=False)
    with pytest.raises(TrainError, match="exclude each other"):
        run_training(tiny_config(folder_dataset, tmp_path / "b", init_from=checkpoint,
                                 finetune=checkpoint), progress=False)
