"""Serving side: face detection, cropping and the ONNX emotion classifier. Never imports torch."""

from moodreel.vision.classifier import EmotionClassifier, ModelError
from moodreel.vision.detector import FaceDetector, HaarFaceDetector, HaarSettings
from moodreel.vision.image import ImageError, decode_image, read_image, to_gray
from moodreel.vision.recognizer import Face, Recognizer

__all__ = [
    "EmotionClassifier", "Face", "FaceDetector", "HaarFaceDetector", "HaarSettings",
    "ImageError", "ModelError", "Recognizer", "decode_image", "read_image", "to_gray",
]
