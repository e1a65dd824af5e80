"""Serving side: face detection, cropping and the ONNX emotion classifier. Never imports torch.

The names below are loaded on first use, so that importing one submodule (an exception
class, say) does not import ONNX Runtime: ``serve``'s gunicorn master must not, since
workers forked from a process that has imported it hang when they exit.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moodreel.vision.classifier import EmotionClassifier
    from moodreel.vision.detector import (
        FaceDetector,
        FaceLocator,
        HaarFaceDetector,
        HaarSettings,
    )
    from moodreel.vision.image import ImageError, decode_image, read_image, to_gray
    from moodreel.vision.model_info import ModelError
    from moodreel.vision.mtcnn import MtcnnFaceDetector, MtcnnSettings
    from moodreel.vision.recognizer import Face, Recognizer

_HOMES = {
    "EmotionClassifier": "classifier", "ModelError": "model_info",
    "FaceDetector": "detector", "FaceLocator": "detector", "HaarFaceDetector": "detector",
    "HaarSettings": "detector",
    "MtcnnFaceDetector": "mtcnn", "MtcnnSettings": "mtcnn",
    "ImageError": "image", "decode_image": "image", "read_image": "image", "to_gray": "image",
    "Face": "recognizer", "Recognizer": "recognizer",
}

__all__ = [
    "EmotionClassifier", "Face", "FaceDetector", "FaceLocator", "HaarFaceDetector",
    "HaarSettings", "ImageError", "ModelError", "MtcnnFaceDetector", "MtcnnSettings", "Recognizer",
    "decode_image", "read_image", "to_gray",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"moodreel.vision.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'moodreel.vision' has no attribute {name!r}")
