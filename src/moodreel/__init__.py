"""moodreel: recognise emotions from faces with a small real-time CNN and recommend movies.

Importing the package is cheap and never imports torch. ``Recognizer`` is loaded on first
use, so ``import moodreel`` does not pay for OpenCV or ONNX Runtime until needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moodreel.labels import BASIC_EMOTIONS, EMOTIONS

if TYPE_CHECKING:
    from moodreel.vision.recognizer import Face, Recognizer

__version__ = "0.1.0"
__all__ = ["BASIC_EMOTIONS", "EMOTIONS", "Face", "Recognizer", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Recognizer", "Face"):
        from moodreel.vision import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'moodreel' has no attribute {name!r}")
