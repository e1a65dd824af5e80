"""How much committed teachers' soft targets differ: whether averaging them teaches anything new.

    .venv/bin/python benchmarks/teacher_agreement.py SCORES.npz SCORES.npz [...]
        [--data ../shared/data/fer2013] [--temperature 4]

Why: a student distilled from several teachers learns their probabilities averaged per face.
Two teachers that give nearly the same targets teach what either does alone (two seeds of one
VGG recipe: the same top class on 87.3% of the training faces view by view, session 25, and on
90.2% of their mirror-averaged targets); a teacher of another family is worth its hours only
if it disagrees more. This reads ``moodreel teacher-scores`` files
(checked against the training set they were scored on) and prints, per file, its top class's
agreement with the training labels; per pair, how often their top classes agree and the mean
total-variation distance between their targets at ``--temperature``; and how far each file
lies from the average of all. Each file's targets are the mean over its views (the mirror
too), as ``distill_flip`` uses them. Training faces were the teachers' own, so label agreement
here is fitted, not generalised: it is no measure of accuracy, only of the targets.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from frames import DEFAULT_DATA

from moodreel.data.fer2013 import DatasetError, load_split
from moodreel.train.teacher_scores import ScoresError, load_scores, training_set_fingerprint


def targets(path: Path, temperature: float, fingerprint: str) -> np.ndarray:
    """The file's soft targets ``(N, K)``: ``softmax(logits / T)`` averaged over its views."""
    scores = load_scores(path)
    scores.check_scored_on(fingerprint, path)
    return scores.probabilities(temperature).mean(1).numpy()


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Mean over faces of half the L1 distance between two rows of probabilities."""
    return float(0.5 * np.abs(p - q).sum(1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scores", nargs="+", type=Path, help="teacher scores .npz files")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--temperature", type=float, default=4.0)
    args = parser.parse_args()
    if len(args.scores) < 2:
        parser.error("give at least two scores files to compare")

    try:
        train = load_split(args.data, "train")
        fingerprint = training_set_fingerprint(train.images, train.labels)
        files = {path.stem: targets(path, args.temperature, fingerprint) for path in args.scores}
    except (DatasetError, ScoresError) as error:
        parser.exit(1, f"error: {error}\n")
    average = np.mean(list(files.values()), axis=0)
    print(f"{len(train.labels):,} training faces, targets at temperature {args.temperature:g}")
    for name, p in files.items():
        print(f"{name}: top class = label on {(p.argmax(1) == train.labels).mean():.1%} of the "
              f"faces; {total_variation(p, average):.3f} from the average")
    print(f"average of all: top class = label on {(average.argmax(1) == train.labels).mean():.1%}"
          " of the faces")
    for (a, p), (b, q) in itertools.combinations(files.items(), 2):
        print(f"{a} vs {b}: same top class on {(p.argmax(1) == q.argmax(1)).mean():.1%}, "
              f"total variation {total_variation(p, q):.3f}")


if __name__ == "__main__":
    main()
