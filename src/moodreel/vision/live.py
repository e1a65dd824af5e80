"""The live loop: capture, recognise, track, draw, show and/or record."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2

from moodreel.vision.display import Window, open_window
from moodreel.vision.draw import draw_faces
from moodreel.vision.image import ImageError
from moodreel.vision.recognizer import Recognizer
from moodreel.vision.tracker import FaceTracker
from moodreel.vision.video import analyze_stream, open_capture


@dataclass
class LiveStats:
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run_live(source: str | int, *, display: bool = True, out: str | Path | None = None,
             smoothing: float = 0.6, model: str | Path | None = None,
             threads: int = 1) -> LiveStats:
    recognizer = Recognizer(model, threads=threads)
    capture = open_capture(source)
    window: Window | None = open_window() if display else None
    writer: cv2.VideoWriter | None = None
    frames = 0
    fps = 0.0
    started = last = time.perf_counter()
    try:
        for result in analyze_stream(capture, recognizer, tracker=FaceTracker(
                smoothing=smoothing)):
            now = time.perf_counter()
            rate = 1 / max(now - last, 1e-6)
            fps = rate if frames == 0 else 0.9 * fps + 0.1 * rate  # smoothed for display
            last = now
            canvas = draw_faces(result.frame, [t.face for t in result.tracks],
                                labels=[f"#{t.id}" for t in result.tracks], fps=fps)
            if out is not None:
                if writer is None:
                    writer = _open_writer(out, canvas.shape[1], canvas.shape[0],
                                          capture.get(cv2.CAP_PROP_FPS) or 25.0)
                writer.write(canvas)
            frames += 1
            if window is not None and not window.show(canvas):
                break
    except KeyboardInterrupt:
        pass
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        if window is not None:
            window.close()
    return LiveStats(frames, time.perf_counter() - started)


def _open_writer(path: str | Path, width: int, height: int, fps: float) -> cv2.VideoWriter:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise ImageError(f"cannot write video to {path}")
    return writer
