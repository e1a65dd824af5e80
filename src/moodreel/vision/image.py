"""Turning whatever image a caller has into the 8-bit grayscale that detection and the CNN use.

Accepts gray, BGR, RGB, BGRA/RGBA, 8- or 16-bit integer and float images of any size, and
encoded bytes or files. Untrusted input is checked before full decoding: the pixel count is
read from the header first, so a small file that claims a huge image is refused cheaply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np

ColorOrder = Literal["bgr", "rgb"]

#: Largest image accepted, in pixels (about 40 megapixels, e.g. 8000 x 5000).
MAX_PIXELS = 40_000_000
#: The largest last step of ``shrink`` done bilinearly (see there).
BILINEAR_UP_TO = 1.25


class ImageError(ValueError):
    """An image that cannot be used; the message says why."""


class ImageTooLarge(ImageError):
    """An image over the pixel limit (refused before decoding when its header says so)."""


def to_gray(image: np.ndarray, color_order: ColorOrder = "bgr") -> np.ndarray:
    """8-bit grayscale ``(H, W)`` from gray, 3-channel or 4-channel images of any bit depth."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ImageError(f"expected a gray (H, W) or color (H, W, 3|4) image, got shape "
                         f"{image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageError(f"empty image of shape {image.shape}")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ImageTooLarge(f"image of {image.shape[1]}x{image.shape[0]} pixels exceeds the "
                            f"limit of {MAX_PIXELS:,} pixels")
    image = _to_uint8(image)
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.shape[2] == 4:
        code = cv2.COLOR_BGRA2GRAY if color_order == "bgr" else cv2.COLOR_RGBA2GRAY
    else:
        code = cv2.COLOR_BGR2GRAY if color_order == "bgr" else cv2.COLOR_RGB2GRAY
    return cv2.cvtColor(np.ascontiguousarray(image), code)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        if info.min < 0:
            raise ImageError(f"signed integer images ({image.dtype}) are not supported")
        shift = info.bits - 8
        return (image >> shift).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ImageError("image contains NaN or infinite values")
        peak = 255.0 if image.max(initial=0) > 1.0 else 1.0  # 0-1 floats, or 0-255 floats
        return np.clip(image * (255.0 / peak), 0, 255).round().astype(np.uint8)
    raise ImageError(f"unsupported image dtype {image.dtype}")


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS, gray: bool = False) -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, ...) to BGR or gray, checking the size first.

    ``gray=True`` decodes straight to 8-bit grayscale, upright by the EXIF orientation (as a
    browser shows the photo): what a server that only detects and classifies needs, and
    faster than decoding colour and converting.
    """
    if not data:
        raise ImageError("empty file: 0 bytes")
    buffer = np.frombuffer(data, dtype=np.uint8)
    header_size = _header_pixels(buffer)
    if header_size is not None and header_size > max_pixels:
        raise ImageTooLarge(f"image of {header_size:,} pixels exceeds the limit of "
                            f"{max_pixels:,} pixels")
    image = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageError("not a readable image (unknown format or truncated data)")
    if image.shape[0] * image.shape[1] > max_pixels:  # formats whose header we do not read
        raise ImageTooLarge(f"image of {image.shape[1]}x{image.shape[0]} pixels exceeds the "
                            f"limit of {max_pixels:,} pixels")
    if image.ndim == 2 or image.shape[2] in (1, 3, 4):
        return image
    raise ImageError(f"unsupported image layout {image.shape}")


def read_image(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file; errors name the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except OSError as error:
        raise ImageError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return decode_image(data, max_pixels=max_pixels)
    except ImageError as error:
        raise ImageError(f"{path}: {error}") from None


def _header_pixels(buffer: np.ndarray) -> int | None:
    """Width x height from a PNG or JPEG header without decoding pixels, if recognisable."""
    data = buffer.tobytes()[:65536]
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big") * int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                          0xCE, 0xCF):
                height = int.from_bytes(data[i + 5:i + 7], "big")
                width = int.from_bytes(data[i + 7:i + 9], "big")
                return height * width
            i += 2 + length
    return None


def shrink(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``gray`` scaled down to ``size`` (width, height), cheaply: OpenCV's area filter is
    fast only for whole ratios, so an even-sided image at least twice the size is halved
    with it first; a last step of at most ``BILINEAR_UP_TO`` (640x480 to 280x210: 1.14)
    is bilinear, which then leaves about as much fine detail to alias as one area resize
    (on noise: 0.8x-1.06x its standard deviation), a larger one an area resize. 640x480
    to 280x210 costs 0.08 ms against 0.63 ms for one area resize."""
    width, height = size
    while (gray.shape[1] >= 2 * width and gray.shape[0] >= 2 * height
           and gray.shape[1] % 2 == 0 and gray.shape[0] % 2 == 0):
        gray = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2),
                          interpolation=cv2.INTER_AREA)
    if gray.shape[:2] == (height, width):
        return gray
    ratio = max(gray.shape[1] / width, gray.shape[0] / height)
    return cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR if ratio <= BILINEAR_UP_TO
                      else cv2.INTER_AREA)
