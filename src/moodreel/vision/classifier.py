"""The emotion CNN under ONNX Runtime: one session, batched faces, no torch.

Input size, label names and normalisation come from the model's own metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from moodreel.assets import default_model_path
from moodreel.vision.cam import CAM_OUTPUTS, class_maps, heat_maps
from moodreel.vision.model_info import METADATA_KEY, ModelError, ModelInfo
from moodreel.vision.onnx_session import open_session


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    shifted = logits / temperature
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


class EmotionClassifier:
    """Classify grayscale face crops; build once and reuse (the session is the costly part)."""

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1) -> None:
        path = Path(model_path) if model_path is not None else default_model_path()
        self.session = open_session(path, threads=threads)  # threads 0: every core
        metadata = self.session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in metadata:
            raise ModelError(f"{path}: ONNX model lacks moodreel metadata (labels, input size)")
        self.info = ModelInfo.from_dict(json.loads(metadata[METADATA_KEY]))
        self.path = path
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [output.name for output in self.session.get_outputs()]

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    @property
    def explains(self) -> bool:
        """Whether the model outputs what class activation maps need (``moodreel.vision.cam``)."""
        return set(CAM_OUTPUTS) <= set(self.output_names)

    def predict_logits(self, inputs: np.ndarray) -> np.ndarray:
        """Normalised inputs ``(N, 1, S, S)`` float32 -> logits ``(N, K)``, one batched run."""
        if len(inputs) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        # Only the logits: fetching the features for explanations would cost a copy.
        return self.session.run(self.output_names[:1],
                                {self.input_name: np.ascontiguousarray(inputs)})[0]

    def predict_proba(self, faces: np.ndarray, *, tta_flip: bool = False) -> np.ndarray:
        """Grayscale uint8 crops ``(N, H, W)`` -> probabilities ``(N, K)``, calibrated by the
        model's temperature (``moodreel calibrate``)."""
        inputs = self.info.preprocessing(faces)
        logits = self.predict_logits(inputs)
        if tta_flip:
            logits = (logits + self.predict_logits(inputs[..., ::-1].copy())) / 2
        return softmax(logits, self.info.temperature)

    def explain(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grayscale uint8 crops ``(N, H, W)`` -> probabilities ``(N, K)`` and heat maps
        ``(N, S, S)`` in [0, 1] of each face's top class, from one run."""
        if not self.explains:
            raise ModelError(f"{self.path}: the model lacks the outputs that explanations need "
                             f"({', '.join(CAM_OUTPUTS)}); export it again with `moodreel export`")
        inputs = self.info.preprocessing(faces)
        if len(inputs) == 0:
            size = self.info.preprocessing.size
            return (np.zeros((0, len(self.labels)), dtype=np.float32),
                    np.zeros((0, size, size), dtype=np.float32))
        logits, *cam = self.session.run([self.output_names[0], *CAM_OUTPUTS],
                                        {self.input_name: np.ascontiguousarray(inputs)})
        probabilities = softmax(logits, self.info.temperature)
        return probabilities, heat_maps(class_maps(*cam), probabilities.argmax(axis=1),
                                        self.info.preprocessing.size)
