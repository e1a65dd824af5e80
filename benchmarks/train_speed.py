"""Training speed of mini_xception on the FER-2013 train split, with augmentation on.

    python benchmarks/train_speed.py [--data ../shared/data/fer2013] [--baseline-steps 60]

Prints (all measured in this process, on this machine):
  * data loader throughput (images/s): uint8 batches -> augmented, normalised tensors,
    against a baseline loader without augmentation;
  * seconds per full training epoch (goal <= 40 s on a 2-core CPU) with our settings
    (channels-last memory format), against a baseline in the default NCHW layout timed on
    ``--baseline-steps`` steps and scaled to a full epoch.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from moodreel.data import Preprocessing, load_split
from moodreel.nn import create_model
from moodreel.train.config import AugmentConfig, TrainConfig
from moodreel.train.engine import BatchLoader, train_one_epoch
from moodreel.train.trainer import make_optimizer, make_scheduler

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fer2013"


def loader_images_per_second(loader: BatchLoader) -> float:
    started = time.perf_counter()
    seen = sum(len(batch.labels) for batch in loader)
    return seen / (time.perf_counter() - started)


def epoch_seconds(loader: BatchLoader, channels_last: bool, max_steps: int = 0) -> float:
    """Wall time of one epoch (or ``max_steps`` steps scaled to a full epoch)."""
    torch.manual_seed(0)
    config = TrainConfig()
    model = create_model("mini_xception")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    full_steps = len(loader)
    loader.max_steps = max_steps
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, full_steps)
    started = time.perf_counter()
    train_one_epoch(model, loader, optimizer, scheduler, num_classes=7,
                    device=torch.device("cpu"), channels_last=channels_last)
    elapsed = time.perf_counter() - started
    steps = len(loader)
    loader.max_steps = 0
    return elapsed * full_steps / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--baseline-steps", type=int, default=60)
    args = parser.parse_args()

    torch.set_num_threads(os.cpu_count() or 1)
    train = load_split(args.data, "train")
    pre = Preprocessing()
    augmented = BatchLoader(train.images, train.labels, pre, args.batch_size,
                            augment=AugmentConfig())
    plain = BatchLoader(train.images, train.labels, pre, args.batch_size)
    print(f"FER-2013 train: {len(train)} images, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")

    plain_rate = loader_images_per_second(plain)
    aug_rate = loader_images_per_second(augmented)
    print(f"loader, no augmentation (baseline): {plain_rate:12,.0f} images/s")
    print(f"loader, with augmentation:          {aug_rate:12,.0f} images/s "
          f"({aug_rate / plain_rate:.2f}x baseline)")

    baseline = epoch_seconds(augmented, channels_last=False, max_steps=args.baseline_steps)
    ours = epoch_seconds(augmented, channels_last=True)
    print(f"epoch, NCHW (baseline, {args.baseline_steps} steps scaled): {baseline:6.1f} s")
    print(f"epoch, channels-last (full epoch):        {ours:6.1f} s "
          f"({baseline / ours:.2f}x faster than baseline; goal <= 40 s: "
          f"{'met' if ours <= 40 else 'missed'})")


if __name__ == "__main__":
    main()
