"""What an app instance holds for its requests: the recognizer, the movie database and the
snapshot store, built once per process."""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app

from moodreel.movies.db import MovieDatabase
from moodreel.vision.classifier import EmotionClassifier
from moodreel.vision.recognizer import Recognizer
from moodreel.web.snapshots import SnapshotStore

EXTENSION_KEY = "moodreel"


class Services:
    """Built by ``create_app``. The model is loaded at once (a broken model fails at start,
    not on the first request) into one ONNX Runtime session that every request thread
    shares (its ``run`` is thread-safe; one copy of the model per process); each thread gets
    its own ``Recognizer`` around it, since OpenCV's cascade classifier is not safe to share
    between threads."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._uncertain_below = float(config["UNCERTAIN_BELOW"])
        self._classifier = EmotionClassifier(config["MODEL_PATH"],
                                             threads=int(config["RECOGNIZER_THREADS"]))
        self._local = threading.local()
        self.model_info = self._classifier.info
        self.model_name = self._classifier.path.name
        self.database = MovieDatabase(config["DATABASE_URL"])
        self.snapshots = SnapshotStore(config["SNAPSHOT_DIR"])

    def recognizer(self) -> Recognizer:
        recognizer = getattr(self._local, "recognizer", None)
        if recognizer is None:
            recognizer = Recognizer(classifier=self._classifier,
                                    uncertain_below=self._uncertain_below)
            self._local.recognizer = recognizer
        return recognizer

    def close(self) -> None:
        self.database.dispose()


def services() -> Services:
    """The current app's services."""
    return current_app.extensions[EXTENSION_KEY]
