"""torchrun with 2 CPU processes (gloo) trains an epoch with DistributedDataParallel."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from moodreel.train.checkpoint import load_checkpoint
from tests.synthetic import write_folder_dataset


@pytest.mark.slow
def test_torchrun_two_processes_train_an_epoch(tmp_path):
    data = write_folder_dataset(tmp_path / "data", n_per_class={"train": 16, "val": 4})
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "moodreel.train", "--data", str(data), "--model", "simple_cnn_small",
        "--epochs", "1", "--batch-size", "8", "--out", str(out), "--no-progress",
        "--threads", "1", "--time-limit", "1h",  # the ranks agree on the epoch's time
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 process(es)" in done.stderr
    # 112 training images, each of the 2 ranks takes 56: 7 batches of 8 per process.
    assert "(56 per process)" in done.stderr
    state = load_checkpoint(out / "last.pt")
    assert state["epoch"] == 1
    assert not any(key.startswith("module.") for key in state["state_dict"])
    assert state["val_report"]["n"] == 28  # the val shards were summed over both ranks
