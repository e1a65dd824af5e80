"""The shipped model's accuracy when faces are resized to another input size at test time.

    .venv/bin/python benchmarks/test_resolution.py [MODEL.onnx] [--sizes 56 60 64 68 72]
        [--data ../shared/data/fer2013] [--bn-faces 8192] [--seed 0]

Why: training scales, shifts and erases faces, so the faces a network learns from are not
framed as the unaugmented faces it is tested on, and the mismatch can be undone at test time
by feeding a slightly different input size (Touvron et al. 2019, "Fixing the train-test
resolution discrepancy", FixRes). A larger input costs time about as its square (64 px ->
72 px: 1.29x the shipped network's MACs), a smaller one saves it, so either way the trade
is worth knowing before training anything. The network ends in a global average, so it
takes any size.

Each size is scored twice on ``val``: with the model's own BatchNorm statistics, and with the
statistics re-measured at that size on ``--bn-faces`` unaugmented ``train`` faces (FixRes's
cheap fix: activations' scale moves with the input size). The row at the trained size with
re-measured statistics is the control: it shows what measuring on unaugmented faces alone
does. Prints, measured in this run, each size's MACs and 7-class and 4-class accuracy.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from frames import DEFAULT_DATA
from torch import nn
from torch.optim.swa_utils import update_bn

from moodreel.assets import default_model_path
from moodreel.data.fer2013 import load_split
from moodreel.nn.onnx_import import model_from_onnx
from moodreel.nn.profile import count_macs
from moodreel.train.metrics import evaluate_scores

BATCH = 256


def batches(inputs: np.ndarray) -> Iterator[torch.Tensor]:
    return (torch.from_numpy(inputs[i:i + BATCH]) for i in range(0, len(inputs), BATCH))


@torch.no_grad()
def logits(model: nn.Module, inputs: np.ndarray) -> np.ndarray:
    return np.concatenate([model(batch).numpy() for batch in batches(inputs)])


def remeasured(model: nn.Module, inputs: np.ndarray) -> nn.Module:
    """A copy of ``model`` whose BatchNorms hold the statistics of ``inputs`` (a cumulative
    average over batches; the weights are untouched)."""
    model = copy.deepcopy(model)
    update_bn(batches(inputs), model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", type=Path, default=default_model_path())
    parser.add_argument("--sizes", nargs="+", type=int, default=[56, 60, 64, 68, 72])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--bn-faces", type=int, default=8192,
                        help="train faces to re-measure BatchNorm statistics on")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train = load_split(args.data, "train")
    pick = np.random.default_rng(args.seed).choice(len(train), args.bn_faces, replace=False)
    bn_faces = train.images[np.sort(pick)]
    model, info = model_from_onnx(args.model, trainable_on=bn_faces)
    val = load_split(args.data, "val")
    print(f"{args.model.name}: trained at {info.preprocessing.size} px; val {len(val)} faces; "
          f"BatchNorm statistics re-measured on {args.bn_faces} unaugmented train faces "
          f"(seed {args.seed})")
    print(f"{'size':>5} {'MACs':>8} {'7-class':>8} {'4-class':>8} "
          f"{'7 (BN re-measured)':>19} {'4 (BN re-measured)':>19}")
    for size in args.sizes:
        preprocessing = dataclasses.replace(info.preprocessing, size=size)
        inputs = preprocessing(val.images)
        plain = evaluate_scores(val.labels, logits(model, inputs))
        adapted_model = remeasured(model, preprocessing(bn_faces))
        adapted = evaluate_scores(val.labels, logits(adapted_model, inputs))
        macs = count_macs(model, size) / 1e6
        print(f"{size:5d} {macs:7.2f}M {plain['accuracy_7']:8.2%} {plain['accuracy_4']:8.2%} "
              f"{adapted['accuracy_7']:19.2%} {adapted['accuracy_4']:19.2%}")


if __name__ == "__main__":
    main()
