"""Training-step time under bfloat16 autocast against float32, per network, on this CPU.

    python benchmarks/precision_speed.py [SPEC:SIZE ...] [--batch-size 128] [--repeats 5]

bf16 halves a teacher's training time on a CPU with native bfloat16 (AVX-512 BF16 or AMX)
and multiplies it on one without, where oneDNN emulates it; this says which, before a
session spends its hours on a teacher. Each network takes the trainer's own steps
(``train_one_epoch``, SGD, channels-last) on random faces (the data does not change the
arithmetic), float32 first as the baseline, and prints the best
step time after two warm-up steps and bf16's ratio to float32, measured in this process.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from moodreel.data import Preprocessing
from moodreel.nn import create_model
from moodreel.nn.profile import count_macs, count_params
from moodreel.train.engine import PRECISIONS, BatchLoader, cpu_has_native_bf16, train_one_epoch

DEFAULT_NETWORKS = ("configs/specs/mini_xception_late_s1.yaml:64",
                    "configs/specs/vgg_teacher.yaml:64",
                    "configs/specs/resnet_teacher.yaml:48")
WARMUP_STEPS = 2


def step_seconds(model: torch.nn.Module, size: int, precision: str, batch_size: int,
                 repeats: int) -> float:
    """Best wall time of one training step (``train_one_epoch`` cut to one batch) over
    ``repeats`` steps, after ``WARMUP_STEPS``."""
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (batch_size, size, size), dtype=np.uint8)
    labels = rng.integers(0, 7, batch_size)
    loader = BatchLoader(faces, labels, Preprocessing(size=size), batch_size,
                         max_steps=WARMUP_STEPS)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)

    def one_call() -> float:
        started = time.perf_counter()
        train_one_epoch(model, loader, optimizer, scheduler, num_classes=7,
                        device=torch.device("cpu"), channels_last=True, precision=precision)
        return time.perf_counter() - started

    one_call()  # warm-up: WARMUP_STEPS steps
    loader.max_steps = 1
    return min(one_call() for _ in range(repeats))


def parse_network(entry: str) -> tuple[str, int]:
    name, _, size = entry.rpartition(":")
    if not name or not size.isdigit():
        raise argparse.ArgumentTypeError(f"expected SPEC:SIZE such as "
                                         f"{DEFAULT_NETWORKS[0]}, got {entry!r}")
    return name, int(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="*", type=parse_network,
                        default=[parse_network(entry) for entry in DEFAULT_NETWORKS],
                        help="spec file or registered name, a colon, the input size")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    torch.set_num_threads(os.cpu_count() or 1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch "
          f"{args.batch_size}, native bfloat16: {cpu_has_native_bf16()}")
    for name, size in args.networks:
        torch.manual_seed(0)
        model = create_model(name).to(memory_format=torch.channels_last)
        seconds = {precision: step_seconds(model, size, precision, args.batch_size,
                                           args.repeats) for precision in PRECISIONS}
        print(f"{name} at {size} px ({count_params(model):,} params, "
              f"{count_macs(model, size) / 1e6:.0f} M MACs): fp32 {seconds['fp32']:.3f} s a "
              f"step (baseline), bf16 {seconds['bf16']:.3f} s "
              f"({seconds['fp32'] / seconds['bf16']:.2f}x the speed)")


if __name__ == "__main__":
    main()
