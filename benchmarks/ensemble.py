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
from collections.abc import Callable
from pathlib import Path

import numpy as np
from frames import DEFAULT_DATA
from inference import pin_one_core
from model_latency import BUDGET_MS
from quantization import best_ms_in_turns

from moodreel.data.fer2013 import load_split
from moodreel.train.evaluate import in_batches
from moodreel.train.metrics import evaluate_scores
from moodreel.vision.classifier import EmotionClassifier

BUDGET_PARAMS = 100_000


def one_face_call(classifiers: list[EmotionClassifier]) -> Callable[[], None]:
    """One face through every classifier in a row, each on input of its own size (warmed up)."""
    inputs = [np.random.default_rng(0).standard_normal(
        (1, 1, c.info.preprocessing.size, c.info.preprocessing.size), dtype=np.float32)
        for c in classifiers]

    def call() -> None:
        for classifier, x in zip(classifiers, inputs, strict=True):
            classifier.predict_logits(x)

    call()
    return call


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

    dataset = load_split(args.data, args.split)
    baseline = EmotionClassifier(args.baseline, threads=0)
    members = [EmotionClassifier(path, threads=0) for path in args.members]
    probabilities = {path.name: in_batches(model.predict_proba, dataset.images)
                     for path, model in zip([args.baseline, *args.members],
                                            [baseline, *members], strict=True)}
    ensemble = np.mean([probabilities[path.name] for path in args.members], axis=0)

    pinned = pin_one_core()
    timed = {"baseline": one_face_call([EmotionClassifier(args.baseline, threads=1)]),
             **{path.name: one_face_call([EmotionClassifier(path, threads=1)])
                for path in args.members},
             "ensemble": one_face_call([EmotionClassifier(p, threads=1) for p in args.members])}
    speed = best_ms_in_turns(timed, 1, args.rounds)

    print(f"{args.split}: {len(dataset)} faces; one ONNX Runtime thread, {pinned}, best of "
          f"{args.rounds} rounds in turns")
    print(f"{'model':40s} {'params':>8s} {'7-class':>8s} {'4-class':>8s} {'ms b1':>6s}")
    rows = [(f"baseline {args.baseline.name}", baseline.info.params,
             probabilities[args.baseline.name], speed["baseline"])]
    rows += [(f"member {path.name}", model.info.params, probabilities[path.name],
              speed[path.name]) for path, model in zip(args.members, members, strict=True)]
    total = sum(model.info.params or 0 for model in members)
    rows.append((f"ensemble of {len(members)} (mean probability)", total, ensemble,
                 speed["ensemble"]))
    for name, params, scores, ms in rows:
        report = evaluate_scores(dataset.labels, scores)
        print(f"{name:40s} {params or '?':>8} {report['accuracy_7']:8.2%} "
              f"{report['accuracy_4']:8.2%} {ms:6.3f}")
    print(f"ensemble against the budget: params {total:,} "
          f"{'PASS' if total <= BUDGET_PARAMS else 'MISS'} (<= {BUDGET_PARAMS:,}); "
          f"{speed['ensemble']:.3f} ms {'PASS' if speed['ensemble'] <= BUDGET_MS else 'MISS'}"
          f" (<= {BUDGET_MS} ms); {speed['baseline'] / speed['ensemble']:.2f}x the baseline's "
          f"speed")


if __name__ == "__main__":
    main()
