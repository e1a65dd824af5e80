"""Shared fixtures: an isolated dataset cache, small synthetic datasets, the real FER-2013."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.synthetic import write_csv_dataset, write_folder_dataset

SHARED_FER2013 = (Path(__file__).resolve().parents[1] / ".." / "shared/data/fer2013").resolve()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the dataset cache at a fresh folder, so no test reads or writes ``~/.cache``."""
    folder = tmp_path / "moodreel-cache"
    monkeypatch.setenv("MOODREEL_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def folder_dataset(tmp_path: Path) -> Path:
    """``train/`` (12 per class) and ``val/`` (4 per class) PNG folders, seed 0."""
    return write_folder_dataset(tmp_path / "fer_folders", n_per_class={"train": 12, "val": 4},
                                splits=("train", "val"))


@pytest.fixture
def csv_dataset(tmp_path: Path) -> Path:
    """A Kaggle-format CSV with 4 faces per class in each of Training/PublicTest/PrivateTest."""
    return write_csv_dataset(tmp_path / "fer2013.csv", n_per_class=4)


@pytest.fixture(scope="session")
def shared_fer2013() -> Path:
    """The real FER-2013 folders in ``../shared/data/fer2013``; skips the test when absent."""
    if not SHARED_FER2013.is_dir():
        pytest.skip(f"FER-2013 not found at {SHARED_FER2013}; see ../shared/data/README.md")
    return SHARED_FER2013
