"""Synthetic FER-2013 look-alikes for tests: learnable faces, folder trees and Kaggle CSVs.

Import from any test module::

    from tests.synthetic import make_faces, write_csv_dataset, write_folder_dataset

Each class gets a bright horizontal band at its own rows on a noisy background, so a tiny
model (or a nearest-centroid rule) separates the 7 classes almost perfectly.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from moodreel.labels import EMOTIONS

SIZE = 48
#: Split name -> FER ``Usage`` value and file-name prefix.
SPLIT_USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
#: Split name -> offset added to ``seed``, so the splits hold different images.
SPLIT_SEED_OFFSET = {"train": 0, "val": 1, "test": 2}

_BAND_HEIGHT = 4
_BAND_STEP = 6


def band_rows(label: int) -> slice:
    """Rows of the bright band that marks class ``label``."""
    top = 3 + _BAND_STEP * label
    return slice(top, top + _BAND_HEIGHT)


def make_faces(n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_class`` faces per emotion: images ``(7 * n, 48, 48)`` uint8, labels ``(7 * n,)``.

    Class-major order: labels are ``[0] * n + [1] * n + ... + [6] * n`` (FER order, see
    ``moodreel.labels.EMOTIONS``). The same ``seed`` always gives the same arrays.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(EMOTIONS), dtype=np.int64), n_per_class)
    noise = rng.normal(0.0, 12.0, size=(len(labels), SIZE, SIZE))
    images = 70.0 + noise
    for i, label in enumerate(labels):
        images[i, band_rows(int(label))] += 140.0
    return np.clip(np.rint(images), 0, 255).astype(np.uint8), labels


def _count_for(n_per_class: int | Mapping[str, int], split: str) -> int:
    return n_per_class[split] if isinstance(n_per_class, Mapping) else n_per_class


def write_folder_dataset(
    root: str | Path,
    n_per_class: int | Mapping[str, int] = 4,
    splits: Sequence[str] = ("train", "val"),
    seed: int = 0,
) -> Path:
    """Write ``<root>/<split>/<emotion>/<Prefix>_<i>.png`` and return ``root``.

    ``n_per_class`` is a count, or a ``{split: count}`` mapping. Split ``s`` holds
    ``make_faces(n, seed + SPLIT_SEED_OFFSET[s])``; ``i`` (5 digits) is the image's index in
    that array, so sorted file names keep the array order within each emotion folder.
    PNG is lossless: the reader must give back exactly these pixels.
    """
    root = Path(root)
    for split in splits:
        prefix = SPLIT_USAGE[split]
        images, labels = make_faces(_count_for(n_per_class, split),
                                    seed + SPLIT_SEED_OFFSET[split])
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            folder = root / split / EMOTIONS[label]
            folder.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(folder / f"{prefix}_{i:05d}.png"), image):
                raise OSError(f"could not write {folder / f'{prefix}_{i:05d}.png'}")
    return root


def pixels_text(image: np.ndarray) -> str:
    """A face as the Kaggle CSV writes it: space-separated pixel values, row by row."""
    return " ".join(str(int(v)) for v in np.asarray(image).ravel())


def write_csv_dataset(
    path: str | Path,
    n_per_class: int | Mapping[str, int] = 4,
    seed: int = 0,
    splits: Sequence[str] = ("train", "val", "test"),
) -> Path:
    """Write a Kaggle-format ``emotion,pixels,Usage`` CSV and return its path.

    Rows come in Kaggle order (all Training, then PublicTest, then PrivateTest); split ``s``
    holds ``make_faces(n, seed + SPLIT_SEED_OFFSET[s])`` in array order.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["emotion", "pixels", "Usage"])
        for split in splits:
            images, labels = make_faces(_count_for(n_per_class, split),
                                        seed + SPLIT_SEED_OFFSET[split])
            for image, label in zip(images, labels, strict=True):
                writer.writerow([int(label), pixels_text(image), SPLIT_USAGE[split]])
    return path
