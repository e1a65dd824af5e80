"""Int8 convolutions for MTCNN's O-Net, calibrated on the cascade's own crops.

Used by ``convert_mtcnn.py --int8``; not a script of its own, and not what the package
ships. On a CPU with int8 dot products (AVX-512 VNNI) ONNX Runtime runs O-Net's crops 1.3x
as fast with int8 convolutions, for the same faces found (``docs/experiments.md``, "O-Net in
int8"); on one without them (AVX2 alone) they ran 0.9x as fast, and the first such file read
faces wrongly there: its 16-bit sums of uint8 x int8 products saturate. Weights are therefore
quantized to 7 bits (``reduce_range``), the form ONNX Runtime's documentation gives for such
CPUs ("O-Net back to float"). The other two stay float: P-Net, whose convolutions have 10-32
channels, ran 1.4x slower in int8, and R-Net gained 1.1x but lost about a point of recall on
faces tilted by 20-30 degrees. Only the convolutions are quantized (per output channel, ONNX
Runtime's ``quantize_static``, QDQ): quantizing every operator was slower.

The calibration inputs are what O-Net sees in use: the float cascade is run on
frames of FER-2013 *train* faces pasted on photos (``benchmarks/frames.py``), never the
``val`` faces that ``benchmarks/detector_alternatives.py`` measures recall on, and its
crops are recorded.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from frames import make_frames  # noqa: E402  (a sibling folder of scripts, not a package)

from moodreel.vision.image import to_gray  # noqa: E402
from moodreel.vision.mtcnn import MtcnnFaceDetector, MtcnnSettings  # noqa: E402
from moodreel.vision.onnx_session import open_session  # noqa: E402

QUANTIZED = ("onet",)
CALIBRATION_SEED, CHECK_SEED = 1000, 1001
#: Face probability thresholds the detector applies to each network's output.
THRESHOLDS = dict(zip(("pnet", "rnet", "onet"), MtcnnSettings().thresholds, strict=True))


class _Recorder:
    """An ONNX Runtime session that keeps a copy of every input it runs on."""

    def __init__(self, session: Any) -> None:
        self.session, self.inputs = session, []

    def run(self, outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.inputs.append(feeds["image"].copy())
        return self.session.run(outputs, feeds)


class _Batches(CalibrationDataReader):
    def __init__(self, inputs: list[np.ndarray]) -> None:
        self._feeds = iter([{"image": batch} for batch in inputs])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def cascade_inputs(model_dir: Path, data_dir: Path, seed: int) -> dict[str, list[np.ndarray]]:
    """The input batches of the networks in ``QUANTIZED`` while the float cascade in
    ``model_dir`` runs on the frames of ``seed`` (train faces)."""
    detector = MtcnnFaceDetector(model_dir=model_dir)
    recorders = {name: _Recorder(getattr(detector, name)) for name in QUANTIZED}
    for name, recorder in recorders.items():
        setattr(detector, name, recorder)
    for frame in make_frames(data_dir, single=150, multi=20, empty=20, seed=seed,
                             split="train"):
        detector.detect(to_gray(frame.image))
    return {name: recorder.inputs for name, recorder in recorders.items()}


def quantize(source: Path, target: Path, inputs: list[np.ndarray]) -> None:
    """``source``'s convolutions in int8 to ``target``, calibrated on ``inputs``."""
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        quantize_static(str(prepared), str(target), _Batches(inputs),
                        quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                        per_channel=True, reduce_range=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def compare(source: Path, quantized: Path, inputs: list[np.ndarray],
            threshold: float) -> tuple[float, float]:
    """The largest face-probability difference between the float and int8 networks on
    ``inputs``, and the fraction of crops on which they disagree about ``threshold``."""
    runs = [open_session(path, threads=0) for path in (source, quantized)]
    expected, got = ([np.concatenate([session.run(["face_probability"], {"image": batch})[0]
                                      for batch in inputs]) for session in runs])
    flipped = np.mean((expected > threshold) != (got > threshold))
    return float(np.abs(expected - got).max()), float(flipped)


def quantize_cascade(float_dir: Path, out: Path, data_dir: Path) -> None:
    """Write the networks in ``QUANTIZED`` from ``float_dir`` to ``out`` in int8; print how
    far they move from the float ones on crops of other frames (another seed)."""
    calibration = cascade_inputs(float_dir, data_dir, CALIBRATION_SEED)
    check = cascade_inputs(float_dir, data_dir, CHECK_SEED)
    for name in QUANTIZED:
        source, target = float_dir / f"mtcnn_{name}.onnx", out / f"mtcnn_{name}.onnx"
        quantize(source, target, calibration[name])
        difference, flipped = compare(source, target, check[name], THRESHOLDS[name])
        crops = sum(len(batch) for batch in check[name])
        print(f"{target}: int8 convolutions, {target.stat().st_size:,} bytes; on {crops:,} "
              f"crops of other frames the face probability moves by at most {difference:.3f} "
              f"and {100 * flipped:.2f}% change side of the {THRESHOLDS[name]} threshold")
