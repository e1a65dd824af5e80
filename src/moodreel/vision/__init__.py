"""Serving side: face detection and the ONNX emotion classifier. Never imports torch."""

from moodreel.vision.classifier import EmotionClassifier, ModelError

__all__ = ["EmotionClassifier", "ModelError"]
