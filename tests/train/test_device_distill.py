"""tools/device_distill.sh, the one call planned for a lent GPU, run end to end on the CPU
with one step per epoch: every stage runs and everything it brings back fits the device
tool's limits (at most 8 files of at most 16 MB)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from moodreel.train.teacher_scores import load_scores
from moodreel.vision.classifier import EmotionClassifier

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "device_distill.sh"
TEACHER_FILES = {"teacher.onnx", "teacher.json", "teacher_metrics.csv",
                 "teacher_scores.npz"}
STUDENT_FILES = {"student.tar", "robust.tar"}
BACK = {"log.txt"} | TEACHER_FILES | STUDENT_FILES


# The teachers' presets train in bf16, which a CPU without it emulates: one step of 128 faces
# of the wider teacher took 53 s on a 2-core AMD EPYC. Most tests train in float32 on 16 faces.
SMALL_FLOAT32 = "--precision fp32 --batch-size 16"


def script_env(data: Path, tmp_path: Path, out: str, **extra: str) -> dict[str, str]:
    """The script's environment for a run on the CPU, one step per epoch, one epoch a stage."""
    return {**os.environ, "OUT": str(tmp_path / out), "DATA": str(data),
            "RUNS": str(tmp_path / "runs"), "DEVICE": "cpu", "STEPS": "1",
            "TEACHER_EPOCHS": "1", "STUDENT_EPOCHS": "1", "ROBUST_EPOCHS": "1",
            "TRAIN_ARGS": SMALL_FLOAT32, "PYTHON": sys.executable, **extra}


def run_script(data: Path, tmp_path: Path, out: str, **extra: str) -> dict[str, int]:
    """Run the script on the CPU, one step per epoch; the sizes of the files it brings back."""
    result = subprocess.run(["bash", str(SCRIPT)], env=script_env(data, tmp_path, out, **extra),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {p.name: p.stat().st_size for p in (tmp_path / out).iterdir()}


@pytest.mark.slow
def test_the_device_script_runs_every_stage_and_brings_back_what_fits(folder_dataset,
                                                                      tmp_path):
    back = run_script(folder_dataset, tmp_path, "out", TRAIN_ARGS="")  # the presets as they are
    assert set(back) == BACK
    assert len(back) <= 8 and max(back.values()) <= 16 * 2 ** 20
    log = (tmp_path / "out" / "log.txt").read_text()
    assert log.index("== ") < log.index("teacher") < log.index("distilled") < log.index("done")
    teacher = EmotionClassifier(tmp_path / "out" / "teacher.onnx")
    assert teacher.info.preprocessing.size == 64
    scores = load_scores(tmp_path / "out" / "teacher_scores.npz")
    assert scores.logits.shape == (84, 2, 7) and scores.flip  # each face and its mirror
    for run in ("student", "robust"):
        with tarfile.open(tmp_path / "out" / f"{run}.tar") as tar:
            assert sorted(tar.getnames()) == ["best.pt", "last.pt", "metrics.csv"]


@pytest.mark.slow
def test_the_teacher_alone_then_the_student_from_the_teacher_that_came_back(folder_dataset,
                                                                            tmp_path):
    """The wider teacher's preset, then students from its ONNX file and from its scores."""
    first = run_script(folder_dataset, tmp_path, "first", STAGES="teacher",
                       TEACHER_CONFIG="configs/vgg_teacher64_wide.yaml", TEACHER_EPOCHS="3",
                       TEACHER_SECONDS="0.01")  # a limit that one epoch already passes
    assert set(first) == {"log.txt"} | TEACHER_FILES
    log = (tmp_path / "first" / "log.txt").read_text()
    assert "training vgg_teacher (4952391 params" in log
    assert "the schedule fitted to 1 of the 3 epochs" in log
    training = json.loads((tmp_path / "first" / "teacher.json").read_text())["training"]
    assert training["config"]["batch_size"] == 16  # TRAIN_ARGS came after the preset's
    assert training["devices"][0]["device"].endswith("fp32")
    second = run_script(folder_dataset, tmp_path, "second", STAGES="student robust",
                        TEACHER=str(tmp_path / "first" / "teacher.onnx"))
    assert set(second) == {"log.txt"} | STUDENT_FILES
    assert "distilled from " + str(tmp_path / "first" / "teacher.onnx") in (
        tmp_path / "second" / "log.txt").read_text()
    # and from its scores alone, as on a machine without the teacher
    third = run_script(folder_dataset, tmp_path, "third", STAGES="student",
                       TEACHER=str(tmp_path / "first" / "teacher_scores.npz"))
    assert set(third) == {"log.txt", "student.tar"}


def test_the_device_script_needs_somewhere_to_put_its_results(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "set OUT" in result.stderr


@pytest.mark.slow
def test_a_call_cut_during_the_student_leaves_a_checkpoint_that_resumes_here(folder_dataset,
                                                                            tmp_path):
    out = tmp_path / "out"
    env = script_env(folder_dataset, tmp_path, "out", STUDENT_EPOCHS="10000", KEEP_EVERY="1",
                     STAGES="teacher student")
    call = subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not (out / "student.tar").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:  # the device tool's time limit, as it ends a call: the whole process group
        os.killpg(call.pid, signal.SIGKILL)
        call.wait()
    here = tmp_path / "here"
    with tarfile.open(out / "student.tar") as tar:
        assert "last.pt" in tar.getnames()
        tar.extractall(here, filter="data")
    done = len((here / "metrics.csv").read_text().splitlines()) - 1
    resumed = subprocess.run(
        [sys.executable, "-m", "moodreel", "train", "--resume", "--out", str(here),
         "--data", str(folder_dataset), "--device", "cpu", "--no-progress",
         "--teacher", str(out / "teacher.onnx"), "--epochs", str(done + 2),
         "--max-steps-per-epoch", "1"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    epochs = [line.split(",")[0] for line in (here / "metrics.csv").read_text().splitlines()]
    assert epochs[-1] == str(done + 2)
