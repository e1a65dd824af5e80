"""A model's card says what it came from, run by run, even when the earlier runs are gone."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
import torch

from moodreel.nn.onnx_export import write_metadata
from moodreel.train.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from moodreel.train.engine import device_description
from moodreel.train.export import export_onnx
from moodreel.train.lineage import describe_model, describe_start, describe_teachers
from moodreel.train.trainer import run_training, score_teachers
from moodreel.vision.classifier import EmotionClassifier
from tests.train.test_training import tiny_config


@pytest.fixture
def chain(folder_dataset, tmp_path):
    """Run ``a`` from scratch (2 epochs), ``b`` fine-tuning a's best.pt, exported as b.onnx."""
    a = run_training(tiny_config(folder_dataset, tmp_path / "a"), progress=False)
    b = run_training(tiny_config(folder_dataset, tmp_path / "b", epochs=1,
                                 finetune=str(a.out / "best.pt")), progress=False)
    onnx_path = export_onnx(b.out / "best.pt", tmp_path / "b.onnx").path
    return a, b, onnx_path


def card_of(onnx_path):
    return json.loads(onnx_path.with_suffix(".json").read_text())


def test_the_card_follows_a_finetune_to_the_checkpoint_it_started_from(chain):
    a, b, onnx_path = chain
    training = card_of(onnx_path)["training"]
    assert training["checkpoint_epoch"] == b.best_epoch
    assert training["config"]["finetune"] == str(a.out / "best.pt")
    start = training["started_from"]
    assert start["file"] == str(a.out / "best.pt") and start["as"] == "finetune"
    assert start["val"]["accuracy_7"] == pytest.approx(a.best_accuracy)
    assert start["training"]["checkpoint_epoch"] == a.best_epoch
    assert start["training"]["epochs_run"] == 2  # the whole run, from its summary.json
    assert start["training"]["config"]["finetune"] == ""
    assert "started_from" not in start["training"]  # a's run started from scratch
    # the ONNX file carries the same record, for a run that starts from it
    assert EmotionClassifier(onnx_path).info.extra["training"] == training


def test_the_start_is_recorded_when_the_run_reads_it(chain):
    a, b, onnx_path = chain
    recorded = card_of(onnx_path)["training"]["started_from"]
    shutil.rmtree(a.out)  # the next session's machine has no runs/
    assert load_checkpoint(b.out / "best.pt")["started_from"] == recorded
    again = export_onnx(b.out / "best.pt", onnx_path.with_name("again.onnx")).path
    assert card_of(again)["training"]["started_from"] == recorded


def test_an_onnx_start_passes_its_own_history_on(chain, folder_dataset, tmp_path):
    a, b, onnx_path = chain
    shutil.rmtree(a.out)
    shutil.rmtree(b.out)
    onnx_path.with_suffix(".json").unlink()  # the metadata alone must tell
    c = run_training(tiny_config(folder_dataset, tmp_path / "c", epochs=1,
                                 finetune=str(onnx_path)), progress=False)
    start = card_of(export_onnx(c.out / "best.pt", tmp_path / "c.onnx").path)[
        "training"]["started_from"]
    assert start["file"] == str(onnx_path)
    assert start["val"]["accuracy_7"] == pytest.approx(b.best_accuracy)
    assert start["training"]["started_from"]["file"] == str(a.out / "best.pt")
    assert start["training"]["started_from"]["training"]["epochs_run"] == 2


def test_an_older_onnx_start_is_described_by_the_card_beside_it(chain, tmp_path):
    _, b, onnx_path = chain
    card = card_of(onnx_path)
    older = tmp_path / "older.onnx"  # as exported before the metadata kept the history
    shutil.copy(onnx_path, older)
    info = EmotionClassifier(older).info
    info.extra.pop("training")
    write_metadata(older, info)
    assert describe_start({"finetune": str(older)})["val"] == {
        "accuracy_7": card["val"]["accuracy_7"], "accuracy_4": card["val"]["accuracy_4"],
        "macro_f1_7": card["val"]["macro_f1_7"]}
    assert "training" not in describe_start({"finetune": str(older)})
    older.with_suffix(".json").write_text(json.dumps(card))
    assert describe_start({"init_from": str(older)})["training"] == card["training"]


def test_a_start_that_is_gone_or_unreadable_is_said_so(chain, tmp_path):
    a, b, _ = chain
    assert describe_start({}) is None
    assert describe_start({"finetune": str(tmp_path / "gone.pt")}) == {
        "file": str(tmp_path / "gone.pt"), "as": "finetune", "found": False}
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert "unreadable" in describe_start({"init_from": str(tmp_path / "junk.pt")})
    # a checkpoint written before runs recorded their start is described at export
    model, preprocessing, state = model_from_checkpoint(b.out / "best.pt")
    del state["started_from"]
    saved_by_save_checkpoint = {"format", "model_config", "state_dict", "labels",
                                "preprocessing"}
    save_checkpoint(tmp_path / "legacy.pt", model=model, preprocessing=preprocessing,
                    **{k: v for k, v in state.items() if k not in saved_by_save_checkpoint})
    card = card_of(export_onnx(tmp_path / "legacy.pt", tmp_path / "legacy.onnx").path)
    assert card["training"]["started_from"]["training"]["checkpoint_epoch"] == a.best_epoch


def test_each_start_and_resume_records_the_machine_it_ran_on(folder_dataset, tmp_path,
                                                             monkeypatch):
    first = run_training(tiny_config(folder_dataset, tmp_path / "run", epochs=1),
                         progress=False)
    monkeypatch.setattr("moodreel.train.trainer.device_description",
                        lambda device, precision, processes: f"another machine, {precision}")
    run_training(tiny_config(folder_dataset, tmp_path / "run"), resume=True,
                 resume_overrides={"epochs": 2}, progress=False)
    devices = load_checkpoint(first.out / "last.pt")["devices"]
    assert devices[1] == {"from_epoch": 2, "device": "another machine, fp32"}
    assert devices[0]["from_epoch"] == 1
    assert devices[0]["device"].endswith(", 1 thread, fp32")  # tiny_config: threads 1


def test_a_cpu_is_named_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel\t\t: 1\nmodel name\t: Test CPU 9000\n")
    threads = torch.get_num_threads()
    assert device_description(torch.device("cpu"), "bf16", cpuinfo=cpuinfo).startswith(
        f"Test CPU 9000, {threads} thread")
    assert device_description(torch.device("cpu"), "fp32", cpuinfo=tmp_path / "none"
                              ).startswith("a CPU, ")


def test_a_run_records_its_teachers_and_a_scores_file_the_models_that_scored_it(
        chain, folder_dataset, tmp_path):
    a, _, _ = chain
    teacher = str(a.out / "best.pt")
    live = run_training(tiny_config(folder_dataset, tmp_path / "live", epochs=1,
                                    teachers=[teacher]), progress=False)
    scores = score_teachers([teacher], str(folder_dataset), tmp_path / "scores.npz", flip=True)
    shutil.rmtree(a.out)  # a teacher's weights are seldom kept: the records must tell
    cached = run_training(tiny_config(folder_dataset, tmp_path / "cached", epochs=1,
                                      teachers=[str(tmp_path / "scores.npz")],
                                      distill_flip=True, distill_cache=True), progress=False)

    described = card_of(export_onnx(live.out / "best.pt", tmp_path / "live.onnx").path)[
        "training"]["teachers"]
    assert [t["file"] for t in described] == [teacher]
    assert described[0]["val"]["accuracy_7"] == pytest.approx(a.best_accuracy)
    assert described[0]["training"]["epochs_run"] == 2
    assert [dict(t) for t in scores.described] == described  # kept in the file as well
    by_file = card_of(export_onnx(cached.out / "best.pt", tmp_path / "cached.onnx").path)[
        "training"]["teachers"]
    assert by_file == [{"file": str(tmp_path / "scores.npz"), "faces": len(scores.logits),
                        "flip": True, "teachers": described}]


def test_an_older_scores_file_is_described_by_the_json_beside_it(chain, folder_dataset,
                                                                  tmp_path):
    a, _, _ = chain
    scores = score_teachers([str(a.out / "best.pt")], str(folder_dataset),
                            tmp_path / "new.npz")
    older = replace(scores, described=())  # as scored before the files kept descriptions
    path = older.save(tmp_path / "older.npz")
    assert describe_model(path)["teachers"] == [{"file": "best.pt"}]
    beside = [{"file": "runs/teacher/best.pt", "val": {"accuracy_7": 0.68}}]
    path.with_suffix(".json").write_text(json.dumps({"teachers": beside}))
    assert describe_model(path)["teachers"] == beside
    (tmp_path / "junk.npz").write_bytes(b"not scores")
    assert "unreadable" in describe_model(tmp_path / "junk.npz")
    assert describe_teachers({"teachers": [str(tmp_path / "gone.npz")]}) == [
        {"file": str(tmp_path / "gone.npz"), "found": False}]
    assert describe_teachers({"teachers": []}) is None
