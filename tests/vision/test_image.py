from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodreel.vision.image import ImageError, decode_image, read_image, to_gray


def test_color_orders_and_depths_convert_to_the_same_gray():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(to_gray(bgr), gray)
    np.testing.assert_array_equal(to_gray(bgr[..., ::-1].copy(), "rgb"), gray)
    bgra = np.dstack([bgr, np.full((20, 30), 255, np.uint8)])
    np.testing.assert_array_equal(to_gray(bgra), gray)
    sixteen = bgr.astype(np.uint16) * 257
    np.testing.assert_array_equal(to_gray(sixteen), gray)
    floats = bgr.astype(np.float32) / 255
    assert np.abs(to_gray(floats).astype(int) - gray).max() <= 1
    np.testing.assert_array_equal(to_gray(gray), gray)
    np.testing.assert_array_equal(to_gray(gray[..., None]), gray)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((4, 4, 2), np.uint8), "expected a gray"),
        (np.zeros((0, 5), np.uint8), "empty image"),
        (np.zeros((4, 4), np.int16), "signed"),
        (np.full((4, 4), np.nan, np.float32), "NaN"),
        (np.zeros((3, 4, 4, 3), np.uint8), "expected a gray"),
    ],
)
def test_unusable_arrays_are_clear_errors(image, message):
    with pytest.raises(ImageError, match=message):
        to_gray(image)


def test_bad_files_are_clear_errors(tmp_path):
    good = cv2.imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
    cases = {
        "empty.jpg": (b"", "empty file"),
        "truncated.jpg": (good[: len(good) // 3], "not a readable image"),
        "notes.txt": (b"hello, I am text\n", "not a readable image"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageError, match=message) as caught:
            read_image(tmp_path / name)
        assert name in str(caught.value)
    with pytest.raises(ImageError, match="file not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="is a directory"):
        read_image(tmp_path)


def test_huge_dimensions_are_refused_before_decoding():
    # A valid PNG header claiming 100000 x 100000 pixels, with no pixel data behind it.
    png = cv2.imencode(".png", np.zeros((2, 2), np.uint8))[1].tobytes()
    forged = png[:16] + (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big") + png[24:]
    with pytest.raises(ImageError, match="exceeds the limit"):
        decode_image(forged)
    jpeg = cv2.imencode(".jpg", np.zeros((300, 200), np.uint8))[1].tobytes()
    with pytest.raises(ImageError, match="exceeds the limit"):
        decode_image(jpeg, max_pixels=300 * 200 - 1)
    assert decode_image(jpeg).shape == (300, 200)
