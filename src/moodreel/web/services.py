"""What an app instance holds for its requests: the recognizer, the movie database and the
snapshot store, built once per process."""

from __future__ import annotations

from typing import Any

from flask import current_app

from moodreel.movies.db import MovieDatabase
from moodreel.vision.recognizer import Recognizer
from moodreel.web.snapshots import SnapshotStore

EXTENSION_KEY = "moodreel"


class Services:
    """Built by ``create_app``. The models are loaded at once (a broken model fails at start,
    not on the first request) into ONNX Runtime sessions that every request thread shares
    (their ``run`` is thread-safe; one copy of each model per process), so one
    ``Recognizer`` serves them all."""

    def __init__(self, config: dict[str, Any]) -> None:
        threads = int(config["RECOGNIZER_THREADS"])
        self.recognizer = Recognizer(config["MODEL_PATH"], threads=threads,
                                     uncertain_below=float(config["UNCERTAIN_BELOW"]))
        self.model_info = self.recognizer.classifier.info
        self.model_name = self.recognizer.classifier.path.name
        self.database = MovieDatabase(config["DATABASE_URL"])
        self.snapshots = SnapshotStore(config["SNAPSHOT_DIR"])

    def close(self) -> None:
        self.database.dispose()


def services() -> Services:
    """The current app's services."""
    return current_app.extensions[EXTENSION_KEY]
