"""Keeping a face's identity across video frames, and smoothing its emotions over time.

Faces are matched to tracks greedily by box overlap (IoU). Each track's probabilities are an
exponential moving average, so labels do not flicker from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from moodreel.vision.boxes import iou
from moodreel.vision.recognizer import Face


@dataclass
class Track:
    id: int
    face: Face                    # latest face, with smoothed probabilities
    raw: Face                     # latest face as the model saw it
    missed: int = 0
    age: int = 1
    history: list[int] = field(default_factory=list)


class FaceTracker:
    """Assign stable ids to faces and smooth their probabilities.

    ``smoothing`` is the weight of the past in the moving average (0 = none); a track is
    dropped after ``max_missed`` consecutive updates without a matching face.
    """

    def __init__(self, iou_threshold: float = 0.3, smoothing: float = 0.6,
                 max_missed: int = 10) -> None:
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.iou_threshold = iou_threshold
        self.smoothing = smoothing
        self.max_missed = max_missed
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, faces: list[Face]) -> list[Track]:
        """Match ``faces`` to tracks; return the tracks seen in this update, in face order."""
        overlaps = iou(np.array([f.box for f in faces]), np.array([t.face.box for t in
                                                                   self.tracks]))
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        if overlaps.size:
            for flat in np.argsort(-overlaps, axis=None):
                i, j = divmod(int(flat), overlaps.shape[1])
                if overlaps[i, j] < self.iou_threshold:
                    break
                if i in assigned or j in used:
                    continue
                assigned[i] = self.tracks[j]
                used.add(j)
        seen: list[Track] = []
        for i, face in enumerate(faces):
            track = assigned.get(i)
            if track is None:
                track = Track(self._next_id, face, face)
                self._next_id += 1
                self.tracks.append(track)
            else:
                past = np.asarray(track.face.probabilities)
                now = np.asarray(face.probabilities)
                smoothed = self.smoothing * past + (1 - self.smoothing) * now
                track.face = replace(face, probabilities=tuple(float(p) for p in smoothed))
                track.raw = face
                track.missed = 0
                track.age += 1
            seen.append(track)
        seen_ids = {t.id for t in seen}
        for track in self.tracks:
            if track.id not in seen_ids:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return seen
