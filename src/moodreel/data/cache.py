"""One compact array file per decoded dataset split, so reloads skip decoding.

The key covers the source path, split, image size and a fingerprint of the files (names,
sizes, modification times), so an edited dataset is decoded again. Writes go to a temporary
file that is renamed into place: an interrupted run never leaves a half-written cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path

import numpy as np

from moodreel.files import replaced_on_success
from moodreel.settings import cache_dir

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def file_fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def files_fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha1()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_key(root: Path, split: str, image_size: int, fingerprint: str) -> str:
    text = json.dumps([FORMAT_VERSION, str(root.resolve()), split, image_size, fingerprint])
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _path(key: str) -> Path:
    return cache_dir() / "datasets" / f"{key}.npz"


def load(key: str) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    path = _path(key)
    if not path.exists():
        return None
    try:
        # Open the file here: np.load leaks its own handle when a damaged .npz fails to open.
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
            skipped = json.loads(str(archive["skipped"]))
            return archive["images"], archive["labels"], skipped
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        log.warning("ignoring unreadable dataset cache %s: %s", path, error)
        return None


def save(key: str, images: np.ndarray, labels: np.ndarray, skipped: list[str]) -> None:
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replaced_on_success(path, private=True) as tmp, tmp.open("wb") as handle:
            np.savez(handle, images=images, labels=labels, skipped=np.array(json.dumps(skipped)))
    except OSError as error:
        log.warning("could not write dataset cache %s: %s", path, error)
