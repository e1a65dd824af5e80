"""Training-step time under bfloat16 autocast against float32, per network, on this CPU.

    python benchmarks/precision_speed.py [SPEC:SIZE ...] [--batch-size 128] [--repeats 5]

bf16 halves a teacher's training time on a CPU with native bfloat16 (AVX-512 BF16 or AMX)
and multiplies it on one without, where oneDNN emulates it; this says which, before a
session spends its hours on a teacher. Each network takes SGD steps on random faces (the
data does not change the arithmetic), float32 first as the baseline, and prints the best
step time after two warm-up steps and bf16's ratio to float32, measured in this process.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from moodreel.nn import create_model
from moodreel.nn.profile import count_macs, count_params
from moodreel.train.engine import PRECISIONS, autocast, cpu_has_native_bf16

DEFAULT_NETWORKS = ("configs/specs/mini_xception_late_s1.yaml:64",
                    "configs/specs/vgg_teacher.yaml:64",
                    "configs/specs/resnet_teacher.yaml:48")
WARMUP_STEPS = 2


def step_seconds(model: torch.nn.Module, size: int, precision: str, batch_size: int,
                 repeats: int) -> float:
    """Best wall time of one forward, backward and SGD step over ``repeats`` steps."""
    device = torch.device("cpu")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    faces = torch.randn(batch_size, 1, size, size).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 7, (batch_size,))
    times = []
    for _ in range(WARMUP_STEPS + repeats):
        started = time.perf_counter()
        with autocast(device, precision):
            logits = model(faces)
        loss = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return min(times[WARMUP_STEPS:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="*", default=list(DEFAULT_NETWORKS),
                        help="spec file or registered name, a colon, the input size")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    torch.set_num_threads(os.cpu_count() or 1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch "
          f"{args.batch_size}, native bfloat16: {cpu_has_native_bf16()}")
    for entry in args.networks:
        name, _, size_text = entry.rpartition(":")
        size = int(size_text)
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
