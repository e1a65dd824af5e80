"""Turning tilted faces upright before reading them: what it keeps of the emotion accuracy.

    .venv/bin/python benchmarks/alignment.py [--data ../shared/data/fer2013] [--seeds 3 4]
        [--rolls 0 10 20 30]

Why: FER-2013's faces are mostly upright, so a head tilted in front of a webcam is a face
unlike the ones the model learnt from. MTCNN finds the eyes (``MtcnnFaceDetector.locate``),
and ``Recognizer`` (``align=True``, the default) turns each face back by the angle of its eye
line before cropping it.

The frames of ``frames.py`` (FER-2013 ``val`` faces, one per frame, on face-free
backgrounds) are turned about their centre by each roll, both ways, and the faces that
MTCNN finds (IoU >= 0.3 with the turned ground-truth box) are read twice with the shipped
model: cropped as found (the baseline) and turned upright first. Prints, per roll: MTCNN's
recall, the accuracy both ways on the same faces with the paired difference and its
standard error, and the median eye-line angle measured against the one applied (the faces'
own tilt).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from frames import DEFAULT_DATA, make_frames, match_boxes

from moodreel.labels import EMOTIONS
from moodreel.vision.image import to_gray
from moodreel.vision.recognizer import Recognizer


def turned(image: np.ndarray, boxes: np.ndarray, roll: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned counter-clockwise by ``roll`` degrees about its centre, and the
    boxes' centres moved with it (same sizes)."""
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), roll, 1.0)
    image = cv2.warpAffine(image, turn, (width, height), borderMode=cv2.BORDER_REFLECT)
    centres = np.column_stack([boxes[:, :2] + boxes[:, 2:] / 2, np.ones(len(boxes))]) @ turn.T
    return image, np.column_stack([centres - boxes[:, 2:] / 2, boxes[:, 2:]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--rolls", type=float, nargs="+", default=[0, 10, 20, 30])
    args = parser.parse_args()
    cv2.setNumThreads(1)
    recognizer = Recognizer(threads=1)
    frames = [f for seed in args.seeds
              for f in make_frames(args.data, seed=seed, multi=0, empty=0)]
    print(f"{len(frames)} one-face frames of seeds {args.seeds}, each turned both ways\n")
    print(f"{'roll':>6} {'recall':>7} {'faces':>6} {'as found':>9} {'upright':>8} "
          f"{'difference':>16} {'own tilt':>9}")
    for roll in args.rolls:
        plain, upright, own_tilt, found, total = [], [], [], 0, 0
        for frame in frames:
            for angle in {roll, -roll}:
                image, truth = turned(frame.image, np.asarray(frame.boxes, np.float64), angle)
                gray = to_gray(image)
                boxes, rolls = recognizer.detector.locate(gray)
                pairs = match_boxes(boxes, truth)
                total += len(truth)
                found += len(pairs)
                if not pairs:
                    continue
                picked = [d for d, _ in pairs]
                names = [EMOTIONS[int(frame.labels[t])] for _, t in pairs]
                as_found = recognizer.classify(gray, boxes[picked])
                turned_back = recognizer.classify(gray, boxes[picked], rolls[picked])
                plain += [f.top == n for f, n in zip(as_found, names, strict=True)]
                upright += [f.top == n for f, n in zip(turned_back, names, strict=True)]
                own_tilt += list(np.abs(rolls[picked] + angle))
        a, b = np.asarray(plain, np.float64), np.asarray(upright, np.float64)
        diff = b - a
        print(f"{roll:5.0f}° {found / total:7.3f} {len(a):6d} {a.mean():9.3f} {b.mean():8.3f} "
              f"{diff.mean():+8.3f} +- {diff.std(ddof=1) / np.sqrt(len(a)):.3f} "
              f"{np.median(own_tilt):8.1f}°", flush=True)


if __name__ == "__main__":
    main()
