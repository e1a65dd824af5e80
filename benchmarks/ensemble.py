"""Small ensembles against one network: accuracy on ``val`` and latency, in one run.

    .venv/bin/python benchmarks/ensemble.py BASELINE.onnx MEMBER.onnx MEMBER.onnx [...]
        [--data ../shared/data/fer2013] [--rounds 7]

Why: issue 4 lists "small ensembles if they stay within the budget" (<= 100k parameters and
<= 0.3 ms per face at batch 1, one core, ONNX Runtime, for the whole ensemble). Splitting
one network's parameters between two narrower ones is only worth it if the averaged pair
beats the one network by more than the spread between seeds of the same recipe.

Prints, all measured in this run: per model (the baseline, each member) its parameters,
7-class and 4-class accuracy on the split, and ms per face at batch 1; then the ensemble
(the members' probabilities averaged, each member with its own preprocessing): parameters
summed, accuracy, and ms per face as one call of each member in a row, timed in turns with
the baseline (best of ``--rounds`` rounds, pinned to one core, one ONNX Runtime thread),
and PASS/MISS against the budget.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from frames import DEFAULT_DATA
from inference import pin_one_core
from model_latency import BUDGET_MS, calls
from quantization import best_ms_in_turns

from moodreel.data.fer2013 import load_split
from moodreel.train.evaluate import in_batches
from moodreel.train.metrics import evaluate_scores
from moodreel.vision.classifier import EmotionClassifier

BUDGET_PARAMS = 100_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", type=Path, help="the one network (ONNX)")
    parser.add_argument("members", nargs="+", type=Path, help="the ensemble's members (ONNX)")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--split", default="val")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if len(args.members) < 2:
        parser.error("an ensemble needs at least two members")

    pinned = pin_one_core()
    dataset = load_split(args.data, args.split)
    names = [f"baseline {args.baseline.name}"] + [f"member {i + 1} {path.name}"
                                                  for i, path in enumerate(args.members)]
    models = {name: EmotionClassifier(path, threads=1)
              for name, path in zip(names, [args.baseline, *args.members], strict=True)}
    probabilities = {name: in_batches(model.predict_proba, dataset.images)
                     for name, model in models.items()}
    ensemble_name = f"ensemble of {len(args.members)} (mean probability)"
    probabilities[ensemble_name] = np.mean([probabilities[name] for name in names[1:]], axis=0)
    params = {name: model.info.params for name, model in models.items()}
    params[ensemble_name] = sum(params[name] or 0 for name in names[1:])

    one_face = calls(models, 1)  # each model alone, on one face of its own input size
    member_calls = [one_face[name] for name in names[1:]]
    one_face[ensemble_name] = lambda: [call() for call in member_calls]
    speed = best_ms_in_turns(one_face, 1, args.rounds)

    print(f"{args.split}: {len(dataset)} faces; one ONNX Runtime thread, {pinned}, best of "
          f"{args.rounds} rounds in turns")
    print(f"{'model':40s} {'params':>8s} {'7-class':>8s} {'4-class':>8s} {'ms b1':>6s}")
    for name, scores in probabilities.items():
        report = evaluate_scores(dataset.labels, scores)
        print(f"{name:40s} {params[name] or '?':>8} {report['accuracy_7']:8.2%} "
              f"{report['accuracy_4']:8.2%} {speed[name]:6.3f}")
    total, ms = params[ensemble_name], speed[ensemble_name]
    print(f"ensemble against the budget: params {total:,} "
          f"{'PASS' if total <= BUDGET_PARAMS else 'MISS'} (<= {BUDGET_PARAMS:,}); "
          f"{ms:.3f} ms {'PASS' if ms <= BUDGET_MS else 'MISS'} (<= {BUDGET_MS} ms); "
          f"{speed[names[0]] / ms:.2f}x the baseline's speed")


if __name__ == "__main__":
    main()
