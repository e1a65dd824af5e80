"""A teacher's scores of every training face, kept in a small file that can teach anywhere.

Why: a large teacher trains in minutes on a GPU and in hours on a CPU, and its weights are too
large to commit (11 MB for the 2.7M-parameter one) or, for a wider one, to bring back from the
lent GPU (16 MB a file). Cached distillation needs only its logits for each training face:
28,709 faces x 2 views (the mirror) x 7 classes in float16, 692 KiB compressed. ``moodreel
teacher-scores`` writes them where the teacher is; a ``teachers:`` entry ending in ``.npz``
then teaches a cached run (``distill_cache``) on any machine, checked against the training
set it was scored on, so the file can be committed beside the student's recipe.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from moodreel.data.preprocess import Preprocessing
from moodreel.files import replaced_on_success
from moodreel.labels import EMOTIONS

SCORES_SUFFIX = ".npz"
FORMAT = 1


class ScoresError(ValueError):
    """A scores file that cannot be read or used; the message says why."""


def training_set_fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the training faces (uint8, in order) and their labels: scores are rows of
    this exact set, so anything else (another folder, skipped entries) must not use them."""
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(images), np.ascontiguousarray(labels, dtype=np.int64)):
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class TeacherScores:
    """Logits ``(N, V, K)`` float16 of V views per training face: each teacher's, followed by
    its mirrored view's when ``flip``, in the class order of ``moodreel.labels.EMOTIONS``."""

    logits: np.ndarray
    fingerprint: str
    preprocessing: Preprocessing
    flip: bool
    teachers: tuple[str, ...]   # the files that scored, for the record
    #: those files as ``moodreel.train.lineage`` describes them (val figures, training record)
    described: tuple[dict[str, Any], ...] = ()

    def probabilities(self, temperature: float) -> torch.Tensor:
        """``softmax(logits / temperature)`` per view, ``(N, V, K)`` float32."""
        return torch.softmax(torch.from_numpy(self.logits.astype(np.float32)) / temperature,
                             dim=2)

    def check_scored_on(self, fingerprint: str | None, path: str | Path) -> None:
        """``ScoresError`` unless these scores (read from ``path``) are rows of the training
        set whose ``training_set_fingerprint`` is ``fingerprint``."""
        if self.fingerprint != fingerprint:
            raise ScoresError(f"teacher scores {path} were scored on another training set "
                              f"({len(self.logits)} faces, not this one): score this one "
                              "with moodreel teacher-scores")

    def save(self, path: str | Path) -> Path:
        """Write (compressed, all or nothing) to ``path``, which must end in ``.npz``."""
        path = writable_scores_path(path)
        meta = {"format": FORMAT, "fingerprint": self.fingerprint, "flip": self.flip,
                "teachers": list(self.teachers), "labels": list(EMOTIONS),
                "preprocessing": self.preprocessing.to_dict(), "described": list(self.described)}
        with replaced_on_success(path) as temporary, temporary.open("wb") as out:
            np.savez_compressed(out, logits=self.logits.astype(np.float16),
                                meta=np.array(json.dumps(meta)))
        return path


def writable_scores_path(path: str | Path) -> Path:
    """``path`` if scores can be saved there (checked before the costly scoring)."""
    path = Path(path)
    if path.suffix != SCORES_SUFFIX:
        raise ScoresError(f"{path}: teacher scores are written to a {SCORES_SUFFIX} file")
    if not path.parent.is_dir():
        raise ScoresError(f"cannot write {path}: the folder {path.parent} does not exist")
    return path


def load_scores(path: str | Path) -> TeacherScores:
    """Read a file ``TeacherScores.save`` wrote; ``ScoresError`` names what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ScoresError(f"teacher scores not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ScoresError(f"{path}: not a teacher scores file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            logits, meta = data["logits"], json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ScoresError(f"{path}: not a teacher scores file ({error})") from None
    if meta.get("format") != FORMAT:
        raise ScoresError(f"{path}: scores format {meta.get('format')!r}, this version reads "
                          f"{FORMAT}")
    if meta.get("labels") != list(EMOTIONS) or logits.ndim != 3 \
            or logits.shape[2] != len(EMOTIONS):
        raise ScoresError(f"{path}: scores of classes {meta.get('labels')} shaped "
                          f"{logits.shape}, expected (faces, views, {len(EMOTIONS)}) of "
                          f"{list(EMOTIONS)}")
    return TeacherScores(logits=logits, fingerprint=meta["fingerprint"],
                         preprocessing=Preprocessing.from_dict(meta["preprocessing"]),
                         flip=bool(meta["flip"]), teachers=tuple(meta["teachers"]),
                         described=tuple(meta.get("described", ())))
