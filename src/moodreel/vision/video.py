"""Emotions over a video: frames from a file or camera, tracked faces, CSV rows, live view."""

from __future__ import annotations

import contextlib
import csv
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from moodreel.files import replaced_on_success
from moodreel.labels import EMOTIONS
from moodreel.vision.image import ImageError
from moodreel.vision.recognizer import Recognizer
from moodreel.vision.tracker import FaceTracker, Track

log = logging.getLogger(__name__)

CSV_FIELDS = ("frame", "time_s", "face_id", "x", "y", "w", "h", "top", *EMOTIONS)


@dataclass
class FrameResult:
    index: int
    time_s: float
    frame: np.ndarray
    tracks: list[Track]


@contextlib.contextmanager
def _opencv_quiet() -> Iterator[None]:
    """OpenCV's own log at errors only, unless moodreel logs debug detail (``moodreel -v``)."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def open_capture(source: str | int) -> cv2.VideoCapture:
    """A capture for a file path or a camera index; a clear error if it cannot be opened."""
    if isinstance(source, str) and not Path(source).is_file():
        raise ImageError(f"{source}: video file not found")
    with _opencv_quiet():  # its backends' warnings; the error below says what failed
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        what = f"camera {source}" if isinstance(source, int) else f"{source}: not a readable video"
        raise ImageError(f"cannot open {what}")
    return capture


def analyze_stream(capture: cv2.VideoCapture, recognizer: Recognizer, *, every: int = 1,
                   tracker: FaceTracker | None = None) -> Iterator[FrameResult]:
    """Analyse every ``every``-th frame; timestamps come from the stream's frame rate."""
    if every < 1:
        raise ValueError(f"--every must be at least 1, got {every}")
    tracker = tracker or FaceTracker()
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    started = time.perf_counter()
    index = -1
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        index += 1
        if index % every:
            continue
        stamp = index / fps if fps > 0 else time.perf_counter() - started
        tracks = tracker.update(recognizer.analyze(frame))
        yield FrameResult(index, stamp, frame, tracks)


def write_csv(results: Iterator[FrameResult], path: str | Path) -> int:
    """Write one row per face per analysed frame (raw probabilities); return the row count.

    A run that fails or is interrupted leaves no half-written CSV (``replaced_on_success``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with replaced_on_success(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for result in results:
            for track in result.tracks:
                face = track.raw
                writer.writerow([result.index, f"{result.time_s:.3f}", track.id, *face.box,
                                 face.top, *(f"{p:.5f}" for p in face.probabilities)])
                rows += 1
    return rows
