"""FER-2013 readers (folders and Kaggle CSV), error handling, and the decoded-split cache."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from moodreel.data import cache, fer2013
from moodreel.data.fer2013 import DatasetError, FaceDataset, load_split
from moodreel.labels import EMOTIONS
from tests.synthetic import (
    SPLIT_SEED_OFFSET,
    SPLIT_USAGE,
    make_faces,
    pixels_text,
    write_csv_dataset,
    write_folder_dataset,
)

FOLDER_COUNTS = {"train": 12, "val": 4}  # per class, as in the folder_dataset fixture


def reader_order(labels: np.ndarray) -> list[int]:
    """Indices of ``make_faces`` output in the order the folder reader returns them.

    The reader walks emotion folders by name (angry, disgust, fear, happy, neutral, sad,
    surprise), then file names in sorted order.
    """
    return sorted(range(len(labels)), key=lambda i: (EMOTIONS[labels[i]], i))


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image), path
    return path


def cache_files(cache_folder: Path) -> list[Path]:
    return sorted((cache_folder / "datasets").glob("*.npz"))


def forbid(what: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"{what} was called: the load was not served from the cache")

    return fail


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty dataset folder (``tmp_path`` itself also holds the test's cache folder)."""
    path = tmp_path / "fer"
    path.mkdir()
    return path


# --- the synthetic helpers themselves -------------------------------------------------------


def test_synthetic_faces_are_deterministic_and_learnable():
    train_x, train_y = make_faces(10, seed=0)
    test_x, test_y = make_faces(10, seed=1)
    again_x, again_y = make_faces(10, seed=0)
    np.testing.assert_array_equal(train_x, again_x)
    np.testing.assert_array_equal(train_y, again_y)
    assert not np.array_equal(train_x, test_x)
    assert train_x.shape == (70, 48, 48) and train_x.dtype == np.uint8
    np.testing.assert_array_equal(train_y, np.repeat(np.arange(7), 10))

    # A nearest-centroid rule trained on one seed classifies another seed almost perfectly.
    centroids = np.stack([train_x[train_y == k].mean(axis=0) for k in range(7)])
    distances = ((test_x[:, None].astype(np.float64) - centroids[None]) ** 2).sum(axis=(2, 3))
    assert (distances.argmin(axis=1) == test_y).mean() >= 0.95


# --- folder reader ---------------------------------------------------------------------------


def test_public_api_imports():
    import moodreel.data
    from moodreel.data.preprocess import Preprocessing

    assert moodreel.data.DatasetError is DatasetError
    assert moodreel.data.FaceDataset is FaceDataset
    assert moodreel.data.load_split is load_split
    assert moodreel.data.Preprocessing is Preprocessing
    assert issubclass(DatasetError, ValueError)


@pytest.mark.parametrize("split", ["train", "val"])
def test_folder_reader_counts_labels_and_pixels(folder_dataset, split):
    data = load_split(folder_dataset, split)

    n = FOLDER_COUNTS[split]
    assert len(data) == 7 * n
    assert data.class_counts() == dict.fromkeys(EMOTIONS, n)
    assert data.images.shape == (7 * n, 48, 48) and data.images.dtype == np.uint8
    assert data.labels.dtype == np.int64
    assert data.split == split and data.source == str(folder_dataset)
    assert data.skipped == []
    images, labels = make_faces(n, seed=SPLIT_SEED_OFFSET[split])
    order = reader_order(labels)
    np.testing.assert_array_equal(data.labels, labels[order])
    np.testing.assert_array_equal(data.images, images[order])


def test_written_folder_tree_with_all_three_splits(root):
    write_folder_dataset(root, n_per_class=2, splits=("train", "val", "test"), seed=10)

    for split, usage in SPLIT_USAGE.items():
        names = {path.name.split("_")[0] for path in (root / split).rglob("*.png")}
        assert names == {usage}
        data = load_split(root, split)
        images, labels = make_faces(2, seed=10 + SPLIT_SEED_OFFSET[split])
        np.testing.assert_array_equal(data.images, images[reader_order(labels)])


@pytest.mark.parametrize(
    ("folder", "split"),
    [("training", "train"), ("Validation", "val"), ("valid", "val"), ("PublicTest", "val"),
     ("test", "test"), ("PrivateTest", "test")],
)
def test_split_folder_names_decide_the_split_of_unprefixed_files(root, folder, split):
    images, labels = make_faces(2, seed=3)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        write_image(root / folder / EMOTIONS[label] / f"face{i:03d}.png", image)

    data = load_split(root, split)

    np.testing.assert_array_equal(data.images, images[reader_order(labels)])
    np.testing.assert_array_equal(data.labels, labels[reader_order(labels)])


def test_file_name_prefix_wins_over_the_folder(root):
    public, public_labels = make_faces(2, seed=1)
    private, private_labels = make_faces(3, seed=2)
    for i, (image, label) in enumerate(zip(public, public_labels, strict=True)):
        write_image(root / "test" / EMOTIONS[label] / f"PublicTest_{i:03d}.png", image)
    for i, (image, label) in enumerate(zip(private, private_labels, strict=True)):
        write_image(root / "test" / EMOTIONS[label] / f"PrivateTest_{i:03d}.png", image)
    # A PrivateTest file inside train/ belongs to test, not train.
    stray = np.full((48, 48), 200, dtype=np.uint8)
    write_image(root / "train" / "happy" / "PrivateTest_999.png", stray)
    write_image(root / "train" / "sad" / "Training_000.png", private[0])

    val = load_split(root, "val")
    test = load_split(root, "test")
    train = load_split(root, "train")

    np.testing.assert_array_equal(val.images, public[reader_order(public_labels)])
    np.testing.assert_array_equal(val.labels, public_labels[reader_order(public_labels)])
    assert len(test) == 3 * 7 + 1
    np.testing.assert_array_equal(test.images[:21], private[reader_order(private_labels)])
    np.testing.assert_array_equal(test.images[21], stray)
    assert test.labels[21] == EMOTIONS.index("happy")
    assert len(train) == 1 and train.labels.tolist() == [EMOTIONS.index("sad")]


def test_emotion_folders_directly_under_root_split_by_prefix(root):
    expected = {}
    for split, n in (("train", 3), ("val", 2)):
        images, labels = make_faces(n, seed=SPLIT_SEED_OFFSET[split])
        expected[split] = images[reader_order(labels)], labels[reader_order(labels)]
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            name = f"{SPLIT_USAGE[split]}_{i:05d}.png"
            write_image(root / EMOTIONS[label] / name, image)

    for split, (images, labels) in expected.items():
        data = load_split(root, split)
        np.testing.assert_array_equal(data.images, images)
        np.testing.assert_array_equal(data.labels, labels)
    with pytest.raises(DatasetError, match=r"found: train 21, val 14"):
        load_split(root, "test")


def test_unprefixed_file_outside_a_split_folder_is_an_error(root):
    images, labels = make_faces(1)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        write_image(root / EMOTIONS[label] / f"Training_{i}.png", image)
    orphan = write_image(root / "happy" / "face.png", images[0])

    with pytest.raises(DatasetError, match="cannot tell its split") as error:
        load_split(root, "train")
    assert str(orphan) in str(error.value)

    data = load_split(root, "train", on_error="skip")
    assert len(data) == 7
    assert len(data.skipped) == 1 and str(orphan) in data.skipped[0]


def test_numeric_emotion_folders(root):
    images, labels = make_faces(2, seed=4)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        write_image(root / "train" / str(label) / f"Training_{i:03d}.png", image)

    data = load_split(root, "train")

    # Folders "0".."6" sort in label order, so the class-major array order is kept.
    np.testing.assert_array_equal(data.labels, labels)
    np.testing.assert_array_equal(data.images, images)


def test_colour_and_upper_case_suffix_images_are_read_as_grayscale(root):
    gray = make_faces(1)[0][3]
    write_image(root / "train" / "happy" / "Training_0.PNG", cv2.merge([gray, gray, gray]))

    data = load_split(root, "train")

    assert data.images.shape == (1, 48, 48)
    np.testing.assert_array_equal(data.images[0], gray)


def test_non_image_files_and_subfolders_are_ignored(folder_dataset):
    happy = folder_dataset / "train" / "happy"
    (happy / "notes.txt").write_text("not a face")
    (happy / ".DS_Store").write_bytes(b"\x00\x01")
    write_image(happy / "nested" / "Training_77777.png", make_faces(1)[0][0])

    data = load_split(folder_dataset, "train")

    assert len(data) == 84 and data.skipped == []


def _corrupt_file(root: Path) -> tuple[Path, str]:
    path = root / "train" / "happy" / "Training_corrupt.jpg"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8).tobytes())
    return path, "not a readable image"


def _zero_byte_file(root: Path) -> tuple[Path, str]:
    path = root / "train" / "sad" / "Training_empty.png"
    path.write_bytes(b"")
    return path, "empty file"


def _wrong_size(root: Path) -> tuple[Path, str]:
    path = write_image(root / "train" / "fear" / "Training_big.png",
                       np.zeros((40, 64), dtype=np.uint8))
    return path, "image is 64x40, expected 48x48"


def _unknown_emotion_folder(root: Path) -> tuple[Path, str]:
    folder = root / "train" / "contempt"
    write_image(folder / "Training_00000.png", make_faces(1)[0][0])
    return folder, "unknown emotion folder 'contempt'"


def _emotion_number_out_of_range(root: Path) -> tuple[Path, str]:
    folder = root / "train" / "7"
    write_image(folder / "Training_00000.png", make_faces(1)[0][0])
    return folder, "unknown emotion folder '7'"


BAD_ENTRIES = [_corrupt_file, _zero_byte_file, _wrong_size, _unknown_emotion_folder,
               _emotion_number_out_of_range]


@pytest.mark.parametrize("plant", BAD_ENTRIES, ids=lambda f: f.__name__.strip("_"))
def test_bad_entry_raises_naming_it(folder_dataset, plant):
    bad, problem = plant(folder_dataset)

    with pytest.raises(DatasetError) as error:
        load_split(folder_dataset, "train")

    assert str(bad) in str(error.value)
    assert problem in str(error.value)


@pytest.mark.parametrize("plant", BAD_ENTRIES, ids=lambda f: f.__name__.strip("_"))
def test_bad_entry_is_skipped_and_counted(folder_dataset, plant, caplog):
    bad, problem = plant(folder_dataset)

    with caplog.at_level(logging.WARNING, logger="moodreel.data.fer2013"):
        data = load_split(folder_dataset, "train", on_error="skip")

    assert len(data) == 84
    assert data.class_counts() == dict.fromkeys(EMOTIONS, 12)
    assert len(data.skipped) == 1
    assert str(bad) in data.skipped[0] and problem in data.skipped[0]
    assert "skipped 1 bad entries" in caplog.text


def test_all_images_bad_is_an_error_even_when_skipping(root):
    (root / "train" / "happy").mkdir(parents=True)
    (root / "train" / "happy" / "Training_0.jpg").write_bytes(b"")

    with pytest.raises(DatasetError, match="none of the 1 images could be read"):
        load_split(root, "train", on_error="skip")


def test_missing_path_is_named(root):
    missing = root / "nowhere"
    with pytest.raises(DatasetError, match="dataset not found") as error:
        load_split(missing)
    assert str(missing) in str(error.value)


def test_folder_without_images_is_an_error(root):
    (root / "train" / "happy").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images found under"):
        load_split(root)


def test_absent_split_names_what_was_found(folder_dataset):
    with pytest.raises(DatasetError) as error:
        load_split(folder_dataset, "test")
    message = str(error.value)
    assert "'test'" in message and str(folder_dataset) in message
    assert "found: train 84, val 28" in message


def test_unknown_split_and_on_error_values_are_rejected(folder_dataset):
    with pytest.raises(DatasetError, match="expected one of train, val, test"):
        load_split(folder_dataset, "training")
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip'"):
        load_split(folder_dataset, "train", on_error="ignore")


# --- CSV reader ------------------------------------------------------------------------------

HEADER = "emotion,pixels,Usage"


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_csv_reader_reads_each_usage(csv_dataset, split):
    data = load_split(csv_dataset, split)

    images, labels = make_faces(4, seed=SPLIT_SEED_OFFSET[split])
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.images.dtype == np.uint8 and data.labels.dtype == np.int64
    assert data.class_counts() == dict.fromkeys(EMOTIONS, 4)
    assert data.split == split and data.source == str(csv_dataset) and data.skipped == []


def test_csv_rows_of_mixed_usage_go_to_their_split(tmp_path):
    images, labels = make_faces(1, seed=5)
    usages = ["Training", "PublicTest", "PrivateTest", "Training", "PublicTest", "Training",
              "PrivateTest"]
    rows = [f"{label},{pixels_text(image)},{usage}"
            for image, label, usage in zip(images, labels, usages, strict=True)]
    path = write_lines(tmp_path / "mixed.csv", [HEADER, *rows])

    for split, usage in SPLIT_USAGE.items():
        rows_of_split = [i for i, u in enumerate(usages) if u == usage]
        data = load_split(path, split)
        np.testing.assert_array_equal(data.labels, labels[rows_of_split])
        np.testing.assert_array_equal(data.images, images[rows_of_split])


def test_csv_pixels_are_read_row_by_row(tmp_path):
    rows, cols = np.indices((48, 48))
    face = ((rows * 5 + cols) % 256).astype(np.uint8)
    path = write_lines(tmp_path / "one.csv", [HEADER, f"3,{pixels_text(face)},Training"])

    image = load_split(path, "train").images[0]

    assert image[0, 1] == 1 and image[1, 0] == 5  # a transposed read would swap these
    np.testing.assert_array_equal(image, face)


def test_csv_columns_are_found_by_name(tmp_path):
    face = make_faces(1)[0][2]
    path = write_lines(tmp_path / "reordered.csv",
                       ["Usage,Pixels,Emotion", f"PublicTest,{pixels_text(face)},5"])

    data = load_split(path, "val")

    assert data.labels.tolist() == [5]
    np.testing.assert_array_equal(data.images[0], face)


def test_csv_quoted_fields_and_crlf_line_ends(tmp_path, csv_dataset):
    with csv_dataset.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    quoted = tmp_path / "quoted.csv"
    with quoted.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    assert quoted.read_bytes().startswith(b'"emotion","pixels","Usage"\r\n')

    expected = load_split(csv_dataset, "train", use_cache=False)
    data = load_split(quoted, "train")

    np.testing.assert_array_equal(data.images, expected.images)
    np.testing.assert_array_equal(data.labels, expected.labels)


FACE_PIXELS = pixels_text(make_faces(1)[0][0]).split()


def _pixels_with(first: str) -> str:
    return " ".join([first, *FACE_PIXELS[1:]])


BAD_ROWS = {
    "too few pixels": (f"3,{' '.join(FACE_PIXELS[:-1])},Training",
                       "expected 2304 pixel values, got 2303"),
    "too many pixels": (f"3,{' '.join(FACE_PIXELS)} 7,Training",
                        "expected 2304 pixel values, got 2305"),
    "no pixels": ("3,,Training", "expected 2304 pixel values, got 0"),
    "non-integer pixel": (f"3,{_pixels_with('1.5')},Training", "space-separated integers"),
    "pixel 300": (f"3,{_pixels_with('300')},Training", "pixel values must lie in 0-255"),
    "negative pixel": (f"3,{_pixels_with('-1')},Training", "pixel values must lie in 0-255"),
    "pixel beyond int64": (f"3,{_pixels_with('9' * 25)},Training", "integers"),
    "label 9": (f"9,{' '.join(FACE_PIXELS)},Training", "emotion 9 out of range 0-6"),
    "label -1": (f"-1,{' '.join(FACE_PIXELS)},Training", "emotion -1 out of range 0-6"),
    "label not a number": (f"happy,{' '.join(FACE_PIXELS)},Training",
                           "emotion 'happy' is not an integer"),
    "unknown Usage": (f"3,{' '.join(FACE_PIXELS)},Validation", "unknown Usage 'Validation'"),
    "missing field": (f"3,{' '.join(FACE_PIXELS)}", "expected 3 fields, got 2"),
    "extra field": (f"3,{' '.join(FACE_PIXELS)},Training,x", "expected 3 fields, got 4"),
}


def _csv_with_bad_row(path: Path, bad_row: str) -> Path:
    images, labels = make_faces(1, seed=7)
    good = [f"{label},{pixels_text(image)},Training" for image, label in zip(images, labels,
                                                                              strict=True)]
    # line 1 header, line 2 good, line 3 bad, lines 4-9 good, line 10 a PublicTest row
    return write_lines(path, [HEADER, good[0], bad_row, *good[1:],
                              f"6,{pixels_text(images[6])},PublicTest"])


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_malformed_csv_row_raises_naming_the_line(tmp_path, case):
    bad_row, problem = BAD_ROWS[case]
    path = _csv_with_bad_row(tmp_path / "bad.csv", bad_row)

    with pytest.raises(DatasetError) as error:
        load_split(path, "train")

    message = str(error.value)
    assert message.startswith(f"{path} line 3: ")
    assert problem in message


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_malformed_csv_row_is_skipped_and_counted(tmp_path, case):
    bad_row, problem = BAD_ROWS[case]
    path = _csv_with_bad_row(tmp_path / "bad.csv", bad_row)

    data = load_split(path, "train", on_error="skip")

    images, labels = make_faces(1, seed=7)
    np.testing.assert_array_equal(data.labels, labels)
    np.testing.assert_array_equal(data.images, images)
    assert len(data.skipped) == 1
    assert data.skipped[0].startswith(f"{path} line 3: ") and problem in data.skipped[0]


@pytest.mark.parametrize("missing", ["emotion", "pixels", "Usage"])
def test_csv_header_missing_a_column(tmp_path, missing):
    columns = [c for c in ("emotion", "pixels", "Usage") if c != missing]
    path = write_lines(tmp_path / "header.csv", [",".join(columns), "3,1 2 3"])

    with pytest.raises(DatasetError, match=f"lacks column\\(s\\) {missing.lower()}") as error:
        load_split(path, "train")
    assert str(path) in str(error.value)


def test_empty_csv_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match="empty file"):
        load_split(path, "train")


def test_csv_without_rows_for_the_split_is_an_error(csv_dataset, tmp_path):
    header_only = write_lines(tmp_path / "header_only.csv", [HEADER])
    with pytest.raises(DatasetError, match="no usable rows for split 'train'"):
        load_split(header_only, "train")
    training_only = write_csv_dataset(tmp_path / "training_only.csv", 1, splits=("train",))
    with pytest.raises(DatasetError, match="no usable rows for split 'test'"):
        load_split(training_only, "test")


# --- cache -----------------------------------------------------------------------------------


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path, isolated_cache):
    assert cache.cache_dir() == isolated_cache
    monkeypatch.delenv("MOODREEL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "moodreel"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "moodreel"


def test_second_folder_load_is_served_from_cache(folder_dataset, isolated_cache, monkeypatch):
    first = load_split(folder_dataset, "train")
    assert len(cache_files(isolated_cache)) == 1
    assert not list((isolated_cache / "datasets").glob("*.tmp"))

    monkeypatch.setattr(fer2013.cv2, "imread", forbid("cv2.imread"))
    second = load_split(folder_dataset, "train")

    np.testing.assert_array_equal(second.images, first.images)
    np.testing.assert_array_equal(second.labels, first.labels)
    assert (second.split, second.source, second.skipped) == ("train", str(folder_dataset), [])
    with pytest.raises(AssertionError, match="cv2.imread was called"):
        load_split(folder_dataset, "train", use_cache=False)
    with pytest.raises(AssertionError, match="cv2.imread was called"):
        load_split(folder_dataset, "val")  # each split has its own entry


def test_second_csv_load_is_served_from_cache(csv_dataset, monkeypatch):
    first = load_split(csv_dataset, "val")

    monkeypatch.setattr(fer2013, "_read_csv", forbid("the CSV reader"))
    second = load_split(csv_dataset, "val")

    np.testing.assert_array_equal(second.images, first.images)
    np.testing.assert_array_equal(second.labels, first.labels)
    with pytest.raises(AssertionError, match="the CSV reader was called"):
        load_split(csv_dataset, "test")


def _bump_mtime(path: Path, old: os.stat_result) -> None:
    later = old.st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))


def test_changed_image_invalidates_the_cache(folder_dataset):
    path = folder_dataset / "train" / "happy" / "Training_00036.png"
    old_stat = path.stat()
    first = load_split(folder_dataset, "train")
    new_face = 255 - cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert not any(np.array_equal(image, new_face) for image in first.images)

    write_image(path, new_face)
    _bump_mtime(path, old_stat)
    second = load_split(folder_dataset, "train")

    assert len(second) == len(first)
    assert sum(np.array_equal(image, new_face) for image in second.images) == 1


def test_changed_csv_of_the_same_size_invalidates_the_cache(csv_dataset):
    first = load_split(csv_dataset, "train")
    old_stat = csv_dataset.stat()
    header, row, rest = csv_dataset.read_text(encoding="utf-8").split("\n", 2)
    label, pixels, usage = row.split(",")
    first_pixel, others = pixels.split(" ", 1)
    new_pixel = first_pixel[:-1] + ("1" if first_pixel[-1] == "0" else "0")
    csv_dataset.write_text("\n".join([header, f"{label},{new_pixel} {others},{usage}", rest]),
                           encoding="utf-8")
    _bump_mtime(csv_dataset, old_stat)
    assert csv_dataset.stat().st_size == old_stat.st_size  # only the modification time tells

    second = load_split(csv_dataset, "train")

    assert second.images[0, 0, 0] == int(new_pixel) != first.images[0, 0, 0]
    np.testing.assert_array_equal(second.images[1:], first.images[1:])


def _random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8).tobytes())


def _zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [_random_bytes, _zero_bytes, _truncated],
                         ids=lambda f: f.__name__.strip("_"))
def test_unreadable_cache_file_is_ignored_and_rewritten(csv_dataset, isolated_cache, damage,
                                                        monkeypatch, caplog):
    first = load_split(csv_dataset, "val")
    (cache_file,) = cache_files(isolated_cache)
    damage(cache_file)

    with caplog.at_level(logging.WARNING, logger="moodreel.data.cache"):
        second = load_split(csv_dataset, "val")

    assert "ignoring unreadable dataset cache" in caplog.text
    np.testing.assert_array_equal(second.images, first.images)
    np.testing.assert_array_equal(second.labels, first.labels)
    monkeypatch.setattr(fer2013, "_read_csv", forbid("the CSV reader"))
    third = load_split(csv_dataset, "val")  # the fresh decode was cached again
    np.testing.assert_array_equal(third.images, first.images)


def test_cached_skip_load_does_not_hide_errors_from_a_raise_load(folder_dataset):
    bad, _ = _corrupt_file(folder_dataset)
    skipping = load_split(folder_dataset, "train", on_error="skip")
    assert len(skipping.skipped) == 1

    with pytest.raises(DatasetError) as error:
        load_split(folder_dataset, "train", on_error="raise")
    assert str(bad) in str(error.value)

    again = load_split(folder_dataset, "train", on_error="skip")
    assert again.skipped == skipping.skipped


def test_cached_skip_load_does_not_hide_csv_errors_from_a_raise_load(tmp_path):
    path = _csv_with_bad_row(tmp_path / "bad.csv", BAD_ROWS["label 9"][0])
    assert len(load_split(path, "train", on_error="skip").skipped) == 1

    with pytest.raises(DatasetError, match="line 3: emotion 9 out of range"):
        load_split(path, "train")


# --- the real data ---------------------------------------------------------------------------

REAL_VAL_COUNTS = {"angry": 467, "disgust": 56, "fear": 496, "happy": 895, "sad": 653,
                   "surprise": 415, "neutral": 607}


@pytest.mark.slow
def test_real_fer2013_val_split(shared_fer2013, monkeypatch):
    val = load_split(shared_fer2013, "val")

    assert len(val) == 3589
    assert val.images.shape == (3589, 48, 48) and val.images.dtype == np.uint8
    assert val.class_counts() == REAL_VAL_COUNTS
    assert val.skipped == []
    assert 60 < val.images.mean() < 200 and val.images.std() > 20  # real faces, not blanks

    monkeypatch.setattr(fer2013.cv2, "imread", forbid("cv2.imread"))
    again = load_split(shared_fer2013, "val")
    np.testing.assert_array_equal(again.images, val.images)
    np.testing.assert_array_equal(again.labels, val.labels)


def test_hidden_and_system_folders_are_ignored(tmp_path):
    root = write_folder_dataset(tmp_path / "flat", n_per_class=2, splits=("train",))
    for folder in list((root / "train").iterdir()):
        folder.rename(root / folder.name)
    (root / "train").rmdir()
    (root / ".ipynb_checkpoints").mkdir()
    (root / "__MACOSX").mkdir()
    dataset = load_split(root, "train")
    assert len(dataset) == 14


def test_csv_saved_with_a_byte_order_mark_reads(tmp_path):
    path = write_csv_dataset(tmp_path / "plain.csv", n_per_class=1)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(load_split(bom, "train")) == 7
