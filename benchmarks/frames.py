"""Seeded benchmark frames: FER-2013 faces (``val`` unless asked) pasted onto face-free
640x480 backgrounds.

Shared by the benchmarks and ``tools/quantize_mtcnn.py``; not a script of its own::

    from frames import make_frames
    frames = make_frames("../shared/data/fer2013", single=300, multi=20, empty=20, seed=0)

Each face is a 48x48 FER-2013 ``val`` image upscaled with bicubic interpolation to a random
side of 72-240 pixels (1.5x-5x) and pasted, as a hard-edged square, at a random position on
a random crop of one of scikit-image's bundled photos that show no human face (coffee, a cat,
a rocket, coins, textures, text, a clock, ...; never the astronaut or the cameraman). The
pasted square is the ground-truth box. Frames with 2-4 non-overlapping faces and frames with
no face at all are mixed in. The same arguments always give the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from moodreel.labels import EMOTIONS
from moodreel.vision.boxes import iou

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fer2013"
FRAME_W, FRAME_H = 640, 480
#: The astronaut's face in scikit-image's photo (x, y, w, h), as in tests/vision/conftest.py.
ASTRONAUT_FACE = (170, 60, 105, 105)
#: scikit-image's bundled images without a human face (no download needed).
BACKGROUNDS = ("coffee", "chelsea", "rocket", "coins", "brick", "grass", "gravel",
               "hubble_deep_field", "moon", "horse", "text", "page", "clock", "cell",
               "colorwheel", "immunohistochemistry", "retina", "checkerboard")
FACE_SIDES = (72, 240)          # single-face frames: 1.5x-5x the 48-pixel FER face
MULTI_FACE_SIDES = (72, 160)    # 2-4 faces must fit side by side
IOU_MATCH = 0.3


@dataclass(frozen=True)
class Frame:
    """One benchmark frame and its ground truth."""

    image: np.ndarray      # (480, 640, 3) uint8, BGR
    boxes: np.ndarray      # (N, 4) int x, y, w, h of the pasted faces
    labels: np.ndarray     # (N,) FER class indices
    faces: np.ndarray      # (N, 48, 48) uint8, the original FER images
    background: str


def load_backgrounds() -> dict[str, np.ndarray]:
    """The background photos as BGR uint8, keyed by their scikit-image name."""
    from skimage import data

    images = {}
    for name in BACKGROUNDS:
        image = np.asarray(getattr(data, name)())
        if image.dtype == np.bool_:
            image = image.astype(np.uint8) * 255
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        else:
            image = cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)
        images[name] = np.ascontiguousarray(image)
    return images


def load_faces(data_dir: str | Path, count: int, rng: np.random.Generator,
               split: str = "val") -> tuple[np.ndarray, np.ndarray]:
    """``count`` distinct FER-2013 faces ``(count, 48, 48)`` of ``split`` and their labels."""
    root = Path(data_dir) / split
    if not root.is_dir():
        raise FileNotFoundError(f"FER-2013 {split} folder not found: {root} (pass --data)")
    paths, labels = [], []
    for index, name in enumerate(EMOTIONS):
        found = sorted((root / name).glob("*.jpg")) + sorted((root / name).glob("*.png"))
        paths += found
        labels += [index] * len(found)
    if count > len(paths):
        raise ValueError(f"asked for {count} faces but {root} holds only {len(paths)}")
    chosen = rng.choice(len(paths), size=count, replace=False)
    faces = []
    for i in chosen:
        face = cv2.imread(str(paths[i]), cv2.IMREAD_GRAYSCALE)
        if face is None:
            raise ValueError(f"unreadable FER image {paths[i]}")
        faces.append(cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA)
                     if face.shape != (48, 48) else face)
    return np.stack(faces), np.asarray(labels)[chosen]


def random_background(images: dict[str, np.ndarray],
                      rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A random 4:3 crop (50-100% of the largest one) of a random photo, resized to 640x480."""
    name = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    image = images[name]
    height, width = image.shape[:2]
    full_w = min(width, height * 4 / 3)
    crop_w = max(8, int(full_w * rng.uniform(0.5, 1.0)))
    crop_h = max(6, int(crop_w * 3 / 4))
    x0 = int(rng.integers(0, width - crop_w + 1))
    y0 = int(rng.integers(0, height - crop_h + 1))
    crop = image[y0:y0 + crop_h, x0:x0 + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    shrinking = crop_w > FRAME_W
    frame = cv2.resize(crop, (FRAME_W, FRAME_H),
                       interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return np.ascontiguousarray(frame), name


def _place(sides: list[int], rng: np.random.Generator, gap: int = 8) -> list[tuple[int, int]]:
    """Top-left corners for squares of ``sides`` that do not overlap (rejection sampling)."""
    for _ in range(1000):
        corners: list[tuple[int, int]] = []
        for side in sides:
            x = int(rng.integers(0, FRAME_W - side + 1))
            y = int(rng.integers(0, FRAME_H - side + 1))
            clear = all(x + side + gap <= cx or cx + cs + gap <= x
                        or y + side + gap <= cy or cy + cs + gap <= y
                        for (cx, cy), cs in zip(corners, sides, strict=False))
            if not clear:
                break
            corners.append((x, y))
        if len(corners) == len(sides):
            return corners
    raise RuntimeError(f"could not place faces of sides {sides} without overlap")


def make_frames(data_dir: str | Path = DEFAULT_DATA, *, single: int = 300, multi: int = 20,
                empty: int = 20, seed: int = 0, split: str = "val") -> list[Frame]:
    """``single`` one-face frames, ``multi`` frames with 2-4 faces, ``empty`` face-free ones;
    faces from ``split`` (``train`` for calibrating what ``val`` frames then measure)."""
    rng = np.random.default_rng(seed)
    counts = [1] * single + [int(n) for n in rng.integers(2, 5, size=multi)] + [0] * empty
    faces, labels = load_faces(data_dir, sum(counts), rng, split)
    backgrounds = load_backgrounds()
    frames, used = [], 0
    for count in counts:
        image, name = random_background(backgrounds, rng)
        low, high = FACE_SIDES if count == 1 else MULTI_FACE_SIDES
        sides = [int(s) for s in rng.integers(low, high + 1, size=count)]
        boxes = []
        for side, (x, y) in zip(sides, _place(sides, rng), strict=True):
            face = cv2.resize(faces[used + len(boxes)], (side, side),
                              interpolation=cv2.INTER_CUBIC)
            image[y:y + side, x:x + side] = face[..., None]
            boxes.append((x, y, side, side))
        frames.append(Frame(image, np.asarray(boxes, dtype=np.int64).reshape(-1, 4),
                            labels[used:used + count], faces[used:used + count], name))
        used += count
    return frames


def astronaut_bgr() -> np.ndarray:
    """scikit-image's astronaut photo (512x512, one real face), BGR."""
    from skimage import data

    return np.ascontiguousarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))


def astronaut_frames(*, pans: int = 20, placed: int = 20, seed: int = 0) -> list[Frame]:
    """A real photo of a person, to count false faces on a body and a room: ``pans`` 400x400
    crops panning right by 3 px (as in tests/vision/test_video.py) and ``placed`` copies
    scaled 0.6-1.25x at random positions in a gray 640x480 frame (the face fully inside)."""
    rng = np.random.default_rng(seed)
    photo = astronaut_bgr()
    face = np.asarray(ASTRONAUT_FACE)
    x, y, w, h = ASTRONAUT_FACE
    label = np.array([EMOTIONS.index("happy")])
    crop = cv2.resize(cv2.cvtColor(photo[y:y + h, x:x + w], cv2.COLOR_BGR2GRAY), (48, 48),
                      interpolation=cv2.INTER_AREA)[None]
    frames = []
    for i in range(pans):
        image = np.ascontiguousarray(photo[20:420, 20 + 3 * i:420 + 3 * i])
        frames.append(Frame(image, (face - [20 + 3 * i, 20, 0, 0])[None], label, crop,
                            "astronaut"))
    while len(frames) < pans + placed:
        scale = rng.uniform(0.6, 1.25)
        side = round(512 * scale)
        box = np.round(face * scale).astype(np.int64)
        x0 = int(rng.integers(-box[0], FRAME_W - box[0] - box[2] + 1))
        y0 = int(rng.integers(-box[1], FRAME_H - box[1] - box[3] + 1))
        image = np.full((FRAME_H, FRAME_W, 3), 128, dtype=np.uint8)
        fx0, fy0 = max(0, x0), max(0, y0)
        fx1, fy1 = min(FRAME_W, x0 + side), min(FRAME_H, y0 + side)
        scaled = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        image[fy0:fy1, fx0:fx1] = scaled[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
        frames.append(Frame(image, (box + [x0, y0, 0, 0])[None], label, crop, "astronaut"))
    return frames


def match_boxes(detected: np.ndarray, truth: np.ndarray,
                threshold: float = IOU_MATCH) -> list[tuple[int, int]]:
    """One-to-one ``(detected index, truth index)`` pairs with IoU >= ``threshold``,
    greedily by decreasing IoU."""
    detected = np.asarray(detected).reshape(-1, 4)
    truth = np.asarray(truth).reshape(-1, 4)
    if len(detected) == 0 or len(truth) == 0:
        return []
    overlaps = iou(detected, truth)
    pairs, used_d, used_t = [], set(), set()
    for flat in np.argsort(-overlaps, axis=None):
        d, t = np.unravel_index(flat, overlaps.shape)
        if overlaps[d, t] < threshold:
            break
        if d in used_d or t in used_t:
            continue
        pairs.append((int(d), int(t)))
        used_d.add(d)
        used_t.add(t)
    return pairs


@dataclass(frozen=True)
class Score:
    faces: int
    found: int
    false_positives: int
    frames: int

    @property
    def recall(self) -> float:
        return self.found / max(1, self.faces)

    @property
    def fp_per_frame(self) -> float:
        return self.false_positives / max(1, self.frames)


def score(frames: list[Frame], detections: list[np.ndarray]) -> Score:
    """Recall and false positives of per-frame detections against the frames' ground truth."""
    faces = found = false_positives = 0
    for frame, boxes in zip(frames, detections, strict=True):
        pairs = match_boxes(boxes, frame.boxes)
        faces += len(frame.boxes)
        found += len(pairs)
        false_positives += len(np.asarray(boxes).reshape(-1, 4)) - len(pairs)
    return Score(faces, found, false_positives, len(frames))
