"""Models of one network averaged in weight space (a "model soup") against each member.

    .venv/bin/python benchmarks/weight_average.py MEMBER.onnx MEMBER.onnx [...]
        [--data ../shared/data/fer2013] [--split val]

Why: two runs that share a start (e.g. session 34's and 35's second cycle, both from
``configs/starts/emotion_mini_xception_s20.onnx``) may lie in one basin; then their weights'
mean is one network of the same size and speed that can beat both (Wortsman et al. 2022,
"Model soups"), unlike the output ensemble, which costs a call per member
(``benchmarks/ensemble.py``). The files hold BatchNorms folded into the convs; every layer is
then affine in its own parameters, so the mean of the files' initializers is a network of the
same graph (the mean of the eval-mode functions' parameters, with no BatchNorm to re-estimate).

Prints, measured in this run: each member's 7-class and 4-class accuracy and macro F1, the
output ensemble's (probabilities averaged), and the weight average's.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
from frames import DEFAULT_DATA
from onnx import numpy_helper

from moodreel.data.fer2013 import load_split
from moodreel.train.evaluate import in_batches
from moodreel.train.metrics import evaluate_scores
from moodreel.vision.classifier import EmotionClassifier


def averaged(paths: list[Path], out: Path) -> None:
    """Write to ``out`` the first file's graph with every float initializer averaged over the
    files; raises ``SystemExit`` when they are not the same network."""
    protos = [onnx.load_model(path) for path in paths]
    merged = protos[0]
    others = [{init.name: init for init in proto.graph.initializer} for proto in protos[1:]]
    for init in merged.graph.initializer:
        arrays = [numpy_helper.to_array(init)]
        for path, initializers in zip(paths[1:], others, strict=True):
            other = initializers.get(init.name)
            if other is None or tuple(other.dims) != tuple(init.dims):
                raise SystemExit(f"{path} is not the network of {paths[0]}: {init.name} differs")
            arrays.append(numpy_helper.to_array(other))
        if arrays[0].dtype.kind == "f":
            mean = np.mean([array.astype(np.float64) for array in arrays], axis=0)
            init.CopyFrom(numpy_helper.from_array(mean.astype(arrays[0].dtype), init.name))
    onnx.save_model(merged, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("members", nargs="+", type=Path, help="ONNX files of one network")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--split", default="val")
    args = parser.parse_args()
    if len(args.members) < 2:
        parser.error("an average needs at least two members")

    dataset = load_split(args.data, args.split)
    probabilities = {f"member {i + 1} {path.name}":
                     in_batches(EmotionClassifier(path).predict_proba, dataset.images)
                     for i, path in enumerate(args.members)}
    members = list(probabilities.values())
    probabilities["output ensemble (mean probability)"] = np.mean(members, axis=0)
    with tempfile.TemporaryDirectory() as folder:
        soup = Path(folder) / "average.onnx"
        averaged(args.members, soup)
        probabilities["weight average (one network)"] = in_batches(
            EmotionClassifier(soup).predict_proba, dataset.images)

    print(f"{args.split}: {len(dataset)} faces")
    print(f"{'model':44s} {'7-class':>8s} {'4-class':>8s} {'macro F1':>8s}")
    for name, scores in probabilities.items():
        report = evaluate_scores(dataset.labels, scores)
        print(f"{name:44s} {report['accuracy_7']:8.2%} {report['accuracy_4']:8.2%} "
              f"{report['macro_f1_7']:8.3f}")


if __name__ == "__main__":
    main()
