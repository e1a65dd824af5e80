"""Files shipped inside the package: the default emotion model and its model card."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "emotion_mini_xception.onnx"


def default_model_path() -> Path:
    """The shipped ONNX model that ``EmotionClassifier()`` and ``moodreel eval`` use."""
    return ASSETS_DIR / DEFAULT_MODEL
