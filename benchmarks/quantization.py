"""Int8 quantization of the shipped emotion model: accuracy on ``val`` and speed against the
float model, measured in the same process.

    .venv/bin/python benchmarks/quantization.py [--data ../shared/data/fer2013]
        [--calibration 1000] [--rounds 7] [--keep DIR]

Issue 4's rule: ship an int8 model only if it is faster with at most 0.5 points of accuracy
lost. Each variant is made with ONNX Runtime's own tools (``quant_pre_process``, then
``quantize_static`` calibrated on ``--calibration`` faces drawn with a fixed seed from the
*train* split, never from ``val``, or ``quantize_dynamic``); the shipped model's metadata
(labels, normalisation, temperature) is copied over so that ``EmotionClassifier`` loads it.

Prints, all measured in this run on this machine:
  * per variant: 7-class and 4-class accuracy on ``val`` and their change from the float
    model, file size;
  * ms per face at batch 1 and batch 8 (one ONNX Runtime thread, the process pinned to one
    core), best of ``--rounds`` rounds taken in turns with the float model, and the ratio
    float / variant (above 1: the variant is faster);
  * PASS/MISS per variant against the rule.
Needs the training extras (``onnx``) and the data; run on a quiet machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from inference import pin_one_core
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from moodreel.assets import default_model_path
from moodreel.data.fer2013 import load_split
from moodreel.nn.onnx_export import write_metadata
from moodreel.train.evaluate import evaluate_model
from moodreel.vision.classifier import EmotionClassifier

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fer2013"
MAX_LOSS_POINTS = 0.5


class FaceReader(CalibrationDataReader):
    """Preprocessed faces, one batch of 1 at a time, as ``quantize_static`` asks for them."""

    def __init__(self, input_name: str, inputs: np.ndarray) -> None:
        self._batches = iter([{input_name: inputs[i:i + 1]} for i in range(len(inputs))])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def make_variants(source: Path, calibration: np.ndarray, out: Path) -> dict[str, Path]:
    """Int8 variants of ``source`` in ``out``: static QDQ and QOperator (per-channel weights,
    uint8 activations), static QDQ of the convolutions only, and dynamic (weights only)."""
    prepared = out / "prepared.onnx"
    quant_pre_process(str(source), str(prepared))
    input_name = EmotionClassifier(source).session.get_inputs()[0].name
    variants = {}
    # "conv": only the convolutions, which made MTCNN's O-Net faster (docs/experiments.md)
    for name, fmt, ops in (("static QDQ", QuantFormat.QDQ, None),
                           ("static QOperator", QuantFormat.QOperator, None),
                           ("static QDQ, conv", QuantFormat.QDQ, ["Conv"])):
        path = out / (name.replace(" ", "_").replace(",", "") + ".onnx")
        quantize_static(str(prepared), str(path), FaceReader(input_name, calibration),
                        quant_format=fmt, op_types_to_quantize=ops, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        variants[name] = path
    path = out / "dynamic.onnx"
    quantize_dynamic(str(prepared), str(path), weight_type=QuantType.QUInt8)
    variants["dynamic"] = path
    info = EmotionClassifier(source).info  # labels, preprocessing, temperature
    for path in variants.values():
        write_metadata(path, info)
    return variants


def accuracy(data: str, path: Path) -> tuple[float, float]:
    report = evaluate_model(data, path)
    return report["accuracy_7"], report["accuracy_4"]


def timers(classifiers: dict[str, EmotionClassifier], inputs: np.ndarray,
           batch: int) -> dict[str, Callable[[], None]]:
    """A warmed-up batch-``batch`` call per classifier (one ONNX Runtime thread each)."""
    x = np.ascontiguousarray(inputs[:batch])
    calls = {name: partial(classifier.predict_logits, x)
             for name, classifier in classifiers.items()}
    for call in calls.values():
        call()
    return calls


def best_ms_in_turns(calls: dict[str, Callable[[], None]], per_face: int, rounds: int,
                     repeats: int = 300) -> dict[str, float]:
    """Best of ``rounds`` rounds per call, the calls taking turns round by round."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(repeats):
                call()
            best[name] = min(best[name], (time.perf_counter() - start) / repeats * 1000)
    return {name: ms / per_face for name, ms in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--calibration", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--keep", help="write the variants here instead of a temporary folder")
    args = parser.parse_args()
    pin_one_core()

    source = default_model_path()
    float_model = EmotionClassifier(source)
    train = load_split(args.data, "train")
    pick = np.random.default_rng(0).choice(len(train.images), args.calibration, replace=False)
    calibration = float_model.info.preprocessing(train.images[pick])
    val = load_split(args.data, "val")

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"float (shipped)": source, **make_variants(source, calibration, out)}
        scores = {name: accuracy(args.data, path) for name, path in paths.items()}
        inputs = float_model.info.preprocessing(val.images[:8])
        classifiers = {name: EmotionClassifier(path, threads=1) for name, path in paths.items()}
        speed = {batch: best_ms_in_turns(timers(classifiers, inputs, batch), batch, args.rounds)
                 for batch in (1, 8)}
        sizes = {name: path.stat().st_size for name, path in paths.items()}

    base7, base4 = scores["float (shipped)"]
    print(f"{len(val.images)} val faces; calibration: {args.calibration} train faces (seed 0); "
          f"one thread on one core, best of {args.rounds} rounds in turns\n")
    print(f"{'variant':18s} {'val 7':>7s} {'change':>7s} {'val 4':>7s} {'change':>7s} "
          f"{'KB':>6s} {'ms b1':>6s} {'x':>5s} {'ms b8':>6s} {'x':>5s}  rule")
    for name in paths:
        acc7, acc4 = scores[name]
        b1, b8 = speed[1][name], speed[8][name]
        ratio1 = speed[1]["float (shipped)"] / b1
        ratio8 = speed[8]["float (shipped)"] / b8
        loss = max(base7 - acc7, base4 - acc4) * 100
        verdict = ("" if name.startswith("float") else
                   "PASS" if ratio1 > 1 and loss <= MAX_LOSS_POINTS else "MISS")
        print(f"{name:18s} {acc7:7.2%} {(acc7 - base7) * 100:+7.2f} {acc4:7.2%} "
              f"{(acc4 - base4) * 100:+7.2f} {sizes[name] / 1024:6.0f} {b1:6.3f} {ratio1:5.2f} "
              f"{b8:6.3f} {ratio8:5.2f}  {verdict}")


if __name__ == "__main__":
    main()
