"""Latency of emotion models against each other, measured in the same process.

    .venv/bin/python benchmarks/model_latency.py BASELINE.onnx MODEL.onnx [MORE.onnx ...]
        [--rounds 7]

Why: a model is judged against issue 4's budget (<= 0.3 ms per face at batch 1, one core,
ONNX Runtime), and a figure taken on another day or by another process is not comparable:
this machine's speed varies by tens of percent between sessions. So every model here is
timed in turns with the baseline (the first file), in one process pinned to one core, with
one ONNX Runtime thread.

Prints, all measured in this run: per model its parameters (from its metadata, when known),
its input side, ms per face at batch 1 and batch 8 (best of ``--rounds`` rounds taken in turns),
the ratio baseline / model (above 1: the model is faster) and PASS/MISS against the budget.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from inference import pin_one_core
from quantization import best_ms_in_turns, timers

from moodreel.vision.classifier import EmotionClassifier
from moodreel.vision.model_info import ModelError

BUDGET_MS = 0.3


def calls(classifiers: dict[str, EmotionClassifier], batch: int) -> dict[str, Callable[[], None]]:
    """A warmed-up batch-``batch`` call per classifier, each on random input of its own size."""
    made = {}
    for name, classifier in classifiers.items():
        side = classifier.info.preprocessing.size
        inputs = np.random.default_rng(0).standard_normal((8, 1, side, side), dtype=np.float32)
        made.update(timers({name: classifier}, inputs, batch))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path,
                        help="ONNX files; the first is the baseline")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pinned = pin_one_core()

    try:
        classifiers = {f"{i}: {path.name}": EmotionClassifier(path, threads=1)
                       for i, path in enumerate(args.models)}
    except ModelError as error:
        parser.error(str(error))
    speed = {batch: best_ms_in_turns(calls(classifiers, batch), batch, args.rounds)
             for batch in (1, 8)}

    baseline = next(iter(classifiers))
    print(f"one ONNX Runtime thread, {pinned}, best of {args.rounds} rounds in turns; "
          f"baseline {baseline}\n")
    print(f"{'model':36s} {'params':>8s} {'input':>5s} {'ms b1':>6s} {'x':>5s} {'ms b8':>6s} "
          f"{'x':>5s}  budget {BUDGET_MS} ms")
    for name, classifier in classifiers.items():
        b1, b8 = speed[1][name], speed[8][name]
        params = classifier.info.params
        side = classifier.info.preprocessing.size
        print(f"{name:36s} {params if params else '?':>8} {side:>5d} {b1:6.3f} "
              f"{speed[1][baseline] / b1:5.2f} {b8:6.3f} {speed[8][baseline] / b8:5.2f}  "
              f"{'PASS' if b1 <= BUDGET_MS else 'MISS'}")


if __name__ == "__main__":
    main()
