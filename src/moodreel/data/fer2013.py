"""FER-2013 readers: the Kaggle CSV and the per-emotion image folders.

Both forms honour the official split: ``train`` = Training, ``val`` = PublicTest,
``test`` = PrivateTest. In folders, a file name prefix (``Training_``, ``PublicTest_``,
``PrivateTest_``) decides the split; otherwise the enclosing ``train/``, ``val/`` or
``test/`` folder does. Bad entries raise ``DatasetError`` naming the file or CSV line, or,
with ``on_error="skip"``, are skipped and counted.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from moodreel.data import cache
from moodreel.labels import EMOTIONS

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FOLDER_TO_SPLIT = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "publictest": "val",
    "test": "test", "privatetest": "test",
}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}
FER_SIZE = 48

OnError = Literal["raise", "skip"]


class DatasetError(ValueError):
    """A dataset entry or layout that cannot be read; the message names the file or row."""


@dataclass
class FaceDataset:
    """Grayscale faces in memory: ``images`` (N, H, W) uint8 and ``labels`` (N,) in FER order."""

    images: np.ndarray
    labels: np.ndarray
    split: str
    source: str
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(EMOTIONS))
        return {name: int(n) for name, n in zip(EMOTIONS, counts, strict=True)}


def load_split(
    path: str | Path,
    split: str = "train",
    *,
    on_error: OnError = "raise",
    image_size: int = FER_SIZE,
    use_cache: bool = True,
) -> FaceDataset:
    """Read one split of FER-2013 from a CSV file or an image-folder tree.

    Decoded images are cached as one array file (see ``moodreel.data.cache``), so a second
    load of an unchanged dataset takes a fraction of a second.
    """
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    root = Path(path)
    if not root.exists():
        raise DatasetError(f"dataset not found: {root}")

    if root.is_file():
        fingerprint = cache.file_fingerprint(root)
        reader = _read_csv
        entries = None
    else:
        entries = _scan_folders(root, on_error)
        wanted = [entry for entry in entries.files if entry.split == split]
        if not wanted:
            found = Counter(entry.split for entry in entries.files)
            summary = ", ".join(f"{name} {found[name]}" for name in SPLITS if found[name])
            raise DatasetError(
                f"no images for split {split!r} under {root} (found: {summary or 'no images'})"
            )
        fingerprint = cache.files_fingerprint([entry.path for entry in wanted])
        reader = None

    key = cache.cache_key(root, split, image_size, fingerprint)
    if use_cache:
        cached = cache.load(key)
        if cached is not None:
            images, labels, skipped = cached
            if skipped and on_error == "raise":
                # Cached by an on_error="skip" load: raise as a fresh read would have.
                raise DatasetError(skipped[0])
            return FaceDataset(images, labels, split, str(root), skipped)

    if reader is not None:
        images, labels, skipped = reader(root, split, on_error, image_size)
    else:
        assert entries is not None
        images, labels, skipped = _read_images(wanted, on_error, image_size)
        skipped = entries.skipped + skipped
    if skipped:
        log.warning("%s [%s]: skipped %d bad entries, first: %s", root, split, len(skipped),
                    skipped[0])
    if use_cache:
        cache.save(key, images, labels, skipped)
    return FaceDataset(images, labels, split, str(root), skipped)


def _read_csv(
    path: Path, split: str, on_error: OnError, image_size: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Stream the Kaggle CSV (``emotion,pixels,Usage``), keeping the rows of one split."""
    n_pixels = image_size * image_size
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel BOMs
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{path}: empty file, expected a header 'emotion,pixels,Usage'")
        columns = [name.strip().lower() for name in header]
        missing = {"emotion", "pixels", "usage"} - set(columns)
        if missing:
            raise DatasetError(
                f"{path}: header {header} lacks column(s) {', '.join(sorted(missing))}; "
                "expected 'emotion,pixels,Usage'"
            )
        i_emotion, i_pixels, i_usage = (columns.index(c) for c in ("emotion", "pixels", "usage"))
        for row in reader:
            line = reader.line_num
            try:
                if len(row) != len(columns):
                    raise DatasetError(f"expected {len(columns)} fields, got {len(row)}")
                usage = row[i_usage].strip()
                if usage not in USAGE_TO_SPLIT:
                    raise DatasetError(
                        f"unknown Usage {usage!r}; expected {', '.join(USAGE_TO_SPLIT)}"
                    )
                if USAGE_TO_SPLIT[usage] != split:
                    continue
                label = _parse_label(row[i_emotion])
                pixels = _parse_pixels(row[i_pixels], n_pixels)
            except DatasetError as error:
                message = f"{path} line {line}: {error}"
                if on_error == "raise":
                    raise DatasetError(message) from None
                skipped.append(message)
                continue
            images.append(pixels.reshape(image_size, image_size))
            labels.append(label)
    if not images:
        raise DatasetError(f"{path}: no usable rows for split {split!r}")
    return np.stack(images), np.asarray(labels, dtype=np.int64), skipped


def _parse_label(text: str) -> int:
    try:
        label = int(text)
    except ValueError:
        raise DatasetError(f"emotion {text!r} is not an integer 0-6") from None
    if not 0 <= label < len(EMOTIONS):
        raise DatasetError(f"emotion {label} out of range 0-{len(EMOTIONS) - 1}")
    return label


def _parse_pixels(text: str, n_pixels: int) -> np.ndarray:
    try:
        values = np.array(text.split(), dtype=np.int64)
    except (ValueError, OverflowError):
        raise DatasetError("pixels must be space-separated integers") from None
    if values.size != n_pixels:
        raise DatasetError(f"expected {n_pixels} pixel values, got {values.size}")
    if values.min() < 0 or values.max() > 255:
        raise DatasetError("pixel values must lie in 0-255")
    return values.astype(np.uint8)


@dataclass
class _ImageEntry:
    path: Path
    label: int
    split: str


@dataclass
class _FolderScan:
    files: list[_ImageEntry]
    skipped: list[str]


def _scan_folders(root: Path, on_error: OnError) -> _FolderScan:
    """Find ``<split>/<emotion>/<file>`` or ``<emotion>/<file>`` images under ``root``."""
    scan = _FolderScan([], [])
    split_dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and d.name.lower() in
                  FOLDER_TO_SPLIT]
    if split_dirs:
        for split_dir in split_dirs:
            _scan_emotion_folders(split_dir, FOLDER_TO_SPLIT[split_dir.name.lower()], scan,
                                  on_error)
    else:
        _scan_emotion_folders(root, None, scan, on_error)
    if not scan.files:
        raise DatasetError(
            f"no images found under {root}; expected <split>/<emotion>/*.jpg with splits "
            f"train/val/test and emotions {', '.join(EMOTIONS)}"
        )
    return scan


def _scan_emotion_folders(
    parent: Path, folder_split: str | None, scan: _FolderScan, on_error: OnError
) -> None:
    for emotion_dir in sorted(parent.iterdir()):
        if not emotion_dir.is_dir() or emotion_dir.name.startswith((".", "__")):
            continue  # not data: .ipynb_checkpoints, __MACOSX and the like
        label = _folder_label(emotion_dir.name)
        if label is None:
            message = (
                f"{emotion_dir}: unknown emotion folder {emotion_dir.name!r}; expected one of "
                f"{', '.join(EMOTIONS)} (or 0-6)"
            )
            if on_error == "raise":
                raise DatasetError(message)
            scan.skipped.append(message)
            continue
        for file in sorted(emotion_dir.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES or not file.is_file():
                continue
            split = _prefix_split(file.name) or folder_split
            if split is None:
                message = (
                    f"{file}: cannot tell its split; put it under train/, val/ or test/, or "
                    "name it Training_*, PublicTest_* or PrivateTest_*"
                )
                if on_error == "raise":
                    raise DatasetError(message)
                scan.skipped.append(message)
                continue
            scan.files.append(_ImageEntry(file, label, split))


def _folder_label(name: str) -> int | None:
    key = name.strip().lower()
    if key in EMOTIONS:
        return EMOTIONS.index(key)
    if key.isdigit() and int(key) < len(EMOTIONS):
        return int(key)
    return None


def _prefix_split(file_name: str) -> str | None:
    for usage, split in USAGE_TO_SPLIT.items():
        if file_name.startswith(usage + "_"):
            return split
    return None


def _read_images(
    entries: list[_ImageEntry], on_error: OnError, image_size: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    images = np.empty((len(entries), image_size, image_size), dtype=np.uint8)
    labels = np.empty(len(entries), dtype=np.int64)
    skipped: list[str] = []
    count = 0
    for entry in entries:
        image = cv2.imread(str(entry.path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            problem = "empty file" if entry.path.stat().st_size == 0 else "not a readable image"
            message = f"{entry.path}: {problem}"
        elif image.shape != (image_size, image_size):
            message = (
                f"{entry.path}: image is {image.shape[1]}x{image.shape[0]}, expected "
                f"{image_size}x{image_size}"
            )
        else:
            images[count] = image
            labels[count] = entry.label
            count += 1
            continue
        if on_error == "raise":
            raise DatasetError(message)
        skipped.append(message)
    if count == 0:
        raise DatasetError(f"none of the {len(entries)} images could be read")
    return images[:count], labels[:count], skipped
