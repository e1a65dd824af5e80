"""Latency of emotion models against each other, measured in the same process.

    .venv/bin/python benchmarks/model_latency.py BASELINE.onnx MODEL.onnx [MORE.onnx ...]
        [--rounds 7]

Why: a model is judged against issue 4's budget (<= 0.3 ms per face at batch 1, one core,
ONNX Runtime), and a figure taken on another day or by another process is not comparable:
this machine's speed varies by tens of percent between sessions. So every model here is
timed in turns with the baseline (the first file), in one process pinned to one core, with
one ONNX Runtime thread.

Prints, all measured in this run: per model its parameters (from its metadata, when known),
ms per face at batch 1 and batch 8 (best of ``--rounds`` rounds taken in turns),
the ratio baseline / model (above 1: the model is faster) and PASS/MISS against the budget.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from quantization import best_ms_in_turns, timers

from moodreel.vision.classifier import EmotionClassifier

BUDGET_MS = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path,
                        help="ONNX files; the first is the baseline")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})

    paths = {f"{i}: {path.name}": path for i, path in enumerate(args.models)}
    infos = {name: EmotionClassifier(path).info for name, path in paths.items()}
    sizes = {info.preprocessing.size for info in infos.values()}
    if len(sizes) != 1:
        raise SystemExit(f"the models take different input sizes ({sorted(sizes)}); compare "
                         "models of one input size")
    side = sizes.pop()
    inputs = np.random.default_rng(0).standard_normal((8, 1, side, side), dtype=np.float32)
    speed = {batch: best_ms_in_turns(timers(paths, inputs, batch), batch, args.rounds)
             for batch in (1, 8)}

    baseline = next(iter(paths))
    print(f"one ONNX Runtime thread on one pinned core, best of {args.rounds} rounds in turns; "
          f"baseline {baseline}\n")
    print(f"{'model':36s} {'params':>8s} {'ms b1':>6s} {'x':>5s} {'ms b8':>6s} {'x':>5s}  "
          f"budget {BUDGET_MS} ms")
    for name in paths:
        b1, b8 = speed[1][name], speed[8][name]
        params = infos[name].params
        print(f"{name:36s} {params if params else '?':>8} {b1:6.3f} "
              f"{speed[1][baseline] / b1:5.2f} {b8:6.3f} {speed[8][baseline] / b8:5.2f}  "
              f"{'PASS' if b1 <= BUDGET_MS else 'MISS'}")


if __name__ == "__main__":
    main()
