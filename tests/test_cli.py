"""The ``moodreel`` command line: happy paths and clear errors (message, exit code 1)."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from moodreel.cli import cli

REPORT_KEYS = {"accuracy_7", "accuracy_4", "n", "per_class", "confusion"}


@pytest.fixture
def runner():
    return CliRunner()


def run(runner, *args):
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_models_lists_params_and_macs(runner):
    result = run(runner, "models")
    assert result.exit_code == 0
    line = next(row for row in result.output.splitlines() if row.startswith("mini_xception "))
    assert "56,951" in line


def test_profile_says_whether_the_budget_is_met(runner):
    met = run(runner, "profile", "mini_xception", "--budget-ms", "1000")
    assert met.exit_code == 0
    assert "budget 1000.0 ms per face: met" in met.output
    assert "onnxruntime" in met.output and "batch 32" in met.output
    missed = run(runner, "profile", "mini_xception", "--budget-ms", "0.000001", "--json")
    assert missed.exit_code == 1
    assert json.loads(missed.output)["budget_met"] is False


def test_profile_a_spec_file(runner, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("stages:\n  - {block: conv, width: 8, stride: 2}\n")
    result = run(runner, "profile", spec, "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["params"] > 0


def test_train_eval_export_round_trip(runner, folder_dataset, tmp_path):
    out = tmp_path / "run"
    trained = run(runner, "train", "--data", folder_dataset, "--model", "simple_cnn_small",
                  "--epochs", "2", "--batch-size", "16", "--out", out, "--no-progress",
                  "--threads", "1")
    assert trained.exit_code == 0, trained.output
    assert "best val accuracy" in trained.output

    evaluated = run(runner, "eval", "--data", folder_dataset, "--model", out / "best.pt",
                    "--json")
    assert evaluated.exit_code == 0
    report = json.loads(evaluated.output)
    assert set(report) >= REPORT_KEYS
    assert report["n"] == 28

    onnx_path = tmp_path / "model.onnx"
    exported = run(runner, "export", out / "best.pt", "-o", onnx_path)
    assert exported.exit_code == 0, exported.output
    assert "max |ONNX - PyTorch|" in exported.output

    via_onnx = json.loads(run(runner, "eval", "--data", folder_dataset, "--model", onnx_path,
                              "--json", "--tta", "flip").output)
    plain_onnx = json.loads(run(runner, "eval", "--data", folder_dataset, "--model", onnx_path,
                                "--json").output)
    assert plain_onnx["accuracy_7"] == pytest.approx(report["accuracy_7"])
    assert via_onnx["tta"] == "flip"

    table = run(runner, "eval", "--data", folder_dataset, "--model", onnx_path)
    assert "accuracy (7 classes)" in table.output and "happy" in table.output


def test_resume_from_the_command_line(runner, folder_dataset, tmp_path):
    out = tmp_path / "run"
    run(runner, "train", "--data", folder_dataset, "--model", "simple_cnn_small", "--epochs",
        "1", "--batch-size", "16", "--out", out, "--no-progress", "--threads", "1")
    more = run(runner, "train", "--out", out, "--resume", "--epochs", "2", "--no-progress")
    assert more.exit_code == 0, more.output
    from moodreel.train.checkpoint import load_checkpoint

    assert load_checkpoint(out / "last.pt")["epoch"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "--data", "/nonexistent/fer"], "dataset not found"),
        (["eval", "--data", "{data}", "--split", "test"], "no images for split 'test'"),
        (["eval", "--data", "{data}", "--model", "{tmp}/missing.pt"], "checkpoint not found"),
        (["eval", "--data", "{data}", "--model", "{tmp}/junk.onnx"], "not a loadable ONNX"),
        (["train", "--data", "{data}", "--model", "nope", "--out", "{tmp}/r"], "unknown model"),
        (["train", "--config", "{tmp}/bad.yaml"], "unknown key"),
        (["train", "--out", "{tmp}/empty", "--resume"], "nothing to resume"),
        (["export", "{tmp}/junk.onnx", "-o", "{tmp}/x.onnx"], "not a readable checkpoint"),
        (["profile", "{tmp}/missing.yaml"], "spec file not found"),
    ],
)
def test_bad_input_gives_a_message_and_exit_1(runner, folder_dataset, tmp_path, args,
                                               message):
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    (tmp_path / "bad.yaml").write_text("epochz: 3\n")
    args = [a.format(data=folder_dataset, tmp=tmp_path) for a in args]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                     SystemExit)


def test_serving_imports_never_load_torch():
    code = ("import sys, moodreel, moodreel.vision, moodreel.data, moodreel.cli, "
            "moodreel.train.metrics, moodreel.train.evaluate; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_serving_commands_never_load_torch_or_matplotlib(tmp_path):
    """``predict`` on a good and a bad file: the errors it might report are caught without
    importing the training stack (two seconds of start-up with torch installed)."""
    image, junk = tmp_path / "grey.png", tmp_path / "junk.jpg"
    cv2.imwrite(str(image), np.full((60, 80), 128, np.uint8))
    junk.write_bytes(b"junk")
    code = ("import sys; from click.testing import CliRunner; from moodreel.cli import cli; "
            f"result = CliRunner().invoke(cli, ['predict', {str(image)!r}, {str(junk)!r}]); "
            "print(result.exit_code, result.output); "
            "print(sorted({'torch', 'matplotlib'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "0 face(s)" in done.stdout and "not a readable image" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "moodreel", "--version"], capture_output=True,
                          text=True)
    assert done.returncode == 0
    assert "moodreel" in done.stdout


def test_predict_notes_a_tilted_face(tmp_path):
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the test photo")
    photo = np.ascontiguousarray(data.astronaut()[..., ::-1])
    turn = cv2.getRotationMatrix2D((222, 112), 25, 1.0)
    path = tmp_path / "tilted.png"
    cv2.imwrite(str(path), cv2.warpAffine(photo, turn, photo.shape[1::-1],
                                          borderMode=cv2.BORDER_REFLECT))
    result = CliRunner().invoke(cli, ["predict", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 face(s)" in result.output and "tilted 2" in result.output
