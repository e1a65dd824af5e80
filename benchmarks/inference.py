"""Inference speed, memory and start-up on one core, against baselines in the same run and
against the `fer` package when it is installed in a side environment.

    .venv/bin/python benchmarks/inference.py [--data ../shared/data/fer2013] [--frames 120]
        [--fer-python /work/fer-venv/bin/python] [--no-fer]

The process pins itself to one CPU (children inherit it), OpenCV uses one thread and ONNX
Runtime one intra-op thread. Prints, all measured in this run:
  (a) classifier only, ms per face: ``EmotionClassifier.predict_logits`` on preprocessed input
      at batch 1 (goal <= 0.2 ms) against batch 8 and 32, and ``predict_proba`` including the
      preprocessing;
  (b) whole 640x480 frames, ms per frame for ``Recognizer.analyze`` (goal <= 10 ms): the
      astronaut photo placed in a frame and seeded frames from ``frames.py`` (FER-2013 ``val``
      faces on face-free backgrounds), against the same pipeline with the Haar detector (the
      default until session 14);
  (c) in fresh subprocesses: ``import moodreel`` + ``Recognizer()`` time (goal <= 0.5 s) and
      process RSS after ``Recognizer()`` and after analysing frames (goal <= 150 MB);
  (d) the same frames through ``fer.FER(mtcnn=False).detect_emotions`` in the side
      environment (``$FER_PYTHON``, default /work/fer-venv/bin/python): ms per frame, its
      classifier per face, import time, RSS, face recall; and our/fer ratios (goal: >= 4x
      faster per frame with equal or better recall). Skipped, saying so, when fer is absent.

Micro-benchmarks report the best of 5 rounds; frame timings the best of 2 passes over all
frames, each pass averaged per frame. Memory is measured while analysing the frames three
times over, one decoded frame in memory at a time (as in a video loop). Recall here is on
few frames; ``detection.py`` compares recall on a larger set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from frames import DEFAULT_DATA, Frame, astronaut_bgr, make_frames, score

from moodreel.vision.classifier import EmotionClassifier
from moodreel.vision.detector import HaarFaceDetector
from moodreel.vision.image import to_gray
from moodreel.vision.recognizer import Recognizer

FER_PYTHON = os.environ.get("FER_PYTHON", "/work/fer-venv/bin/python")
FER_INSTALL = ("python3 -m venv /work/fer-venv && /work/fer-venv/bin/pip install --no-deps "
               "fer==25.10.3 && /work/fer-venv/bin/pip install tensorflow-cpu "
               "'opencv-python-headless<5' requests pillow 'setuptools<81'")
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
                  "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                  "CUDA_VISIBLE_DEVICES": ""}

# Resident and peak memory in MB, read from /proc: pasted into both subprocess scripts.
RSS_FUNCTION = r"""
def rss():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}
"""

# Runs in a fresh interpreter: start-up time and memory of moodreel.
OURS_SCRIPT = r"""
import json, sys, time
started = time.perf_counter()
import moodreel
recognizer = moodreel.Recognizer()
ready = time.perf_counter() - started

RSS

after_init = rss()
import cv2
for _ in range(3):
    for path in sys.argv[1:]:  # one frame in memory at a time, as a video loop holds it
        recognizer.analyze(cv2.imread(path, cv2.IMREAD_UNCHANGED))
print(json.dumps({"ready_s": ready, "rss_init": after_init, "rss_frames": rss(),
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] == "torch")}))
"""

# Runs in the fer side environment, on the same PNG frames.
FER_SCRIPT = r"""
import json, sys, time
started = time.perf_counter()
from fer.fer import FER
imported = time.perf_counter() - started
import cv2
import numpy as np
cv2.setNumThreads(1)
detector = FER(mtcnn=False)
ready = time.perf_counter() - started

RSS

after_init = rss()
for _ in range(3):
    for path in sys.argv[1:]:  # one frame in memory at a time, as a video loop holds it
        detector.detect_emotions(cv2.imread(path, cv2.IMREAD_COLOR))
after_frames = rss()
astronaut, *images = [cv2.imread(path, cv2.IMREAD_COLOR) for path in sys.argv[1:]]

def per_frame(function):
    best = None
    for _ in range(2):
        start = time.perf_counter()
        results = [function(image) for image in images]
        elapsed = (time.perf_counter() - start) * 1000 / len(images)
        best = elapsed if best is None else min(best, elapsed)
    return best, results

frame_ms, results = per_frame(detector.detect_emotions)
start = time.perf_counter()
for _ in range(10):
    detector.detect_emotions(astronaut)
astronaut_ms = (time.perf_counter() - start) * 100
haar_ms, _ = per_frame(lambda image: detector.find_faces(image))
boxes = [[list(map(int, face["box"])) for face in faces] for faces in results]
faces = np.random.default_rng(0).uniform(-1, 1, size=(32, 64, 64)).astype(np.float32)
def per_face(batch, number=50):
    best = None
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            detector._classify_emotions(faces[:batch])
        elapsed = (time.perf_counter() - start) * 1000 / (number * batch)
        best = elapsed if best is None else min(best, elapsed)
    return best
print(json.dumps({"import_s": imported, "ready_s": ready, "frame_ms": frame_ms,
                  "haar_ms": haar_ms, "astronaut_ms": astronaut_ms,
                  "face_ms_1": per_face(1), "face_ms_8": per_face(8, 10),
                  "rss_init": after_init, "rss_frames": after_frames, "boxes": boxes}))
"""
OURS_SCRIPT, FER_SCRIPT = (script.replace("\nRSS\n", RSS_FUNCTION, 1)
                           for script in (OURS_SCRIPT, FER_SCRIPT))


def pin_one_core() -> str:
    """Run on one CPU from here on (child processes inherit it); say which."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def best_ms(function: Callable[[], object], number: int, rounds: int = 5) -> float:
    """Best-of-``rounds`` milliseconds per call of ``function``."""
    function()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - started) * 1000 / number)
    return best


def per_frame_ms(function: Callable[[np.ndarray], object], images: list[np.ndarray],
                 passes: int = 2) -> tuple[float, list]:
    """Best-of-``passes`` mean milliseconds per image, and the last pass's results."""
    function(images[0])
    best, results = float("inf"), []
    for _ in range(passes):
        started = time.perf_counter()
        results = [function(image) for image in images]
        best = min(best, (time.perf_counter() - started) * 1000 / len(images))
    return best, results


def astronaut_frame() -> np.ndarray:
    """scikit-image's astronaut (512x512) resized to 480x480, centred in a gray 640x480 frame."""
    photo = cv2.resize(astronaut_bgr(), (480, 480), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 128, dtype=np.uint8)
    frame[:, 80:560] = photo
    return frame


def classifier_section(classifier: EmotionClassifier, faces: np.ndarray) -> dict[str, float]:
    print("\n(a) classifier only, ms per face (ONNX Runtime, 1 intra-op thread)")
    inputs = classifier.info.preprocessing(faces)   # (32, 1, 48, 48) float32
    out = {}
    for batch in (1, 8, 32):
        x = np.ascontiguousarray(inputs[:batch])
        out[f"logits_{batch}"] = best_ms(lambda x=x: classifier.predict_logits(x),
                                         max(20, 400 // batch)) / batch
    for batch in (1, 32):
        crops = faces[:batch]
        out[f"proba_{batch}"] = best_ms(lambda c=crops: classifier.predict_proba(c),
                                        max(20, 400 // batch)) / batch
    base = out["logits_1"]
    print(f"  predict_logits, batch 1 (baseline)    {base:7.3f}   goal <= 0.2 ms: "
          f"{'met' if base <= 0.2 else 'missed'}")
    for batch in (8, 32):
        value = out[f"logits_{batch}"]
        print(f"  predict_logits, batch {batch:<2} per face     {value:7.3f}   "
              f"speed {base / value:5.2f}x batch 1's")
    for batch in (1, 32):
        value = out[f"proba_{batch}"]
        print(f"  predict_proba with preprocessing, batch {batch:<2} {value:7.3f}   "
              f"{value / out[f'logits_{batch}']:5.2f}x the logits-only time")
    return out


def frame_section(frames: list[Frame], astronaut: np.ndarray) -> dict[str, float]:
    print("\n(b) whole 640x480 frames, ms per frame (Recognizer.analyze, 1 thread)")
    ours = Recognizer(threads=1)
    haar = Recognizer(threads=1, detector=HaarFaceDetector())
    images = [frame.image for frame in frames]
    out: dict[str, float] = {}
    out["astronaut"] = best_ms(lambda: ours.analyze(astronaut), 50)
    out["astronaut_haar"] = best_ms(lambda: haar.analyze(astronaut), 10)
    found = ours.analyze(astronaut)
    out["frames"], results = per_frame_ms(ours.analyze, images)
    out["frames_haar"], results_haar = per_frame_ms(haar.analyze, images)
    out["recall"] = score(frames, [np.array([f.box for f in r]).reshape(-1, 4)
                                   for r in results]).recall
    recall_haar = score(frames, [np.array([f.box for f in r]).reshape(-1, 4)
                                 for r in results_haar]).recall
    # Where the time goes, per frame: colour conversion, detection, crops + CNN.
    grays = [to_gray(image) for image in images]
    boxes = [ours.detector.detect(gray) for gray in grays]
    gray_ms, _ = per_frame_ms(to_gray, images)
    detect_ms, _ = per_frame_ms(ours.detector.detect, grays)
    classify_ms = best_ms(lambda: [ours.classify(g, b) for g, b in zip(grays, boxes, strict=True)],
                          3) / len(grays)
    one_by_one_ms = best_ms(lambda: [[ours.classify(g, b[i:i + 1]) for i in range(len(b))]
                                     for g, b in zip(grays, boxes, strict=True)], 3) / len(grays)
    faces_per_frame = sum(len(b) for b in boxes) / len(boxes)
    settings = ours.detector.settings
    print(f"  detector: {settings}")
    print(f"  astronaut frame ({len(found)} face{'s' if len(found) != 1 else ''} found): "
          f"{out['astronaut']:6.2f} ms = {1000 / out['astronaut']:5.0f} FPS; Haar detector "
          f"(baseline) {out['astronaut_haar']:6.2f} ms, "
          f"{out['astronaut_haar'] / out['astronaut']:4.1f}x the time")
    print(f"  {len(frames)} benchmark frames: {out['frames']:6.2f} ms = "
          f"{1000 / out['frames']:5.0f} FPS, recall {out['recall']:.3f}; Haar detector "
          f"(baseline) {out['frames_haar']:6.2f} ms, recall {recall_haar:.3f}, "
          f"{out['frames_haar'] / out['frames']:4.1f}x the time")
    goal = max(out["astronaut"], out["frames"])
    print(f"  goal <= 10 ms per frame: {'met' if goal <= 10 else 'missed'}")
    print(f"  per frame: to_gray {gray_ms:5.2f} ms, detect {detect_ms:5.2f} ms, crop+classify "
          f"{classify_ms:5.2f} ms ({faces_per_frame:.2f} faces/frame, one batch); faces one by "
          f"one (baseline) {one_by_one_ms:5.2f} ms")
    return out


def fresh_process_section(paths: list[str], runs: int) -> dict:
    print(f"\n(c) fresh subprocesses ({runs} runs; interpreter start-up not included)")
    env = {**os.environ, **ONE_THREAD_ENV}
    reports = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", OURS_SCRIPT, *paths], env=env,
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"moodreel subprocess failed:\n{done.stderr[-2000:]}")
        reports.append({**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": wall})
    ready = statistics.median(r["ready_s"] for r in reports)
    last = reports[-1]
    print(f"  import moodreel + Recognizer(): median {ready:5.3f} s (runs: "
          f"{', '.join(format(r['ready_s'], '.3f') for r in reports)}); whole subprocess "
          f"{statistics.median(r['wall_s'] for r in reports):5.2f} s; goal <= 0.5 s: "
          f"{'met' if ready <= 0.5 else 'missed'}")
    print(f"  RSS after Recognizer(): {last['rss_init']['VmRSS']:6.1f} MB; after analysing "
          f"{len(paths)} frames x3: {last['rss_frames']['VmRSS']:6.1f} MB (peak "
          f"{last['rss_frames']['VmHWM']:6.1f} MB); goal <= 150 MB: "
          f"{'met' if last['rss_frames']['VmHWM'] <= 150 else 'missed'}; torch modules "
          f"loaded: {len(last['modules'])}")
    return {"ready_s": ready, "rss": last["rss_frames"]["VmHWM"],
            "rss_init": last["rss_init"]["VmRSS"]}


def fer_section(fer_python: str, paths: list[str], frames: list[Frame], ours: dict,
                classifier: dict, start_up: dict) -> None:
    print(f"\n(d) the fer package (FER(mtcnn=False).detect_emotions) via {fer_python}")
    if not Path(fer_python).exists():
        print(f"  fer skipped: no python at {fer_python} (set FER_PYTHON). Install it with:\n"
              f"    {FER_INSTALL}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "fer_bench.py"
        script.write_text(FER_SCRIPT)
        done = subprocess.run([fer_python, str(script), *paths], capture_output=True,
                              text=True, env={**os.environ, **ONE_THREAD_ENV}, check=False)
    if done.returncode != 0:
        print(f"  fer skipped: its benchmark failed (exit {done.returncode}):\n"
              + "\n".join("    " + line for line in done.stderr.strip().splitlines()[-8:]))
        print(f"  (to reinstall: {FER_INSTALL})")
        return
    fer = json.loads(done.stdout.strip().splitlines()[-1])
    fer_recall = score(frames, [np.array(b).reshape(-1, 4) for b in fer["boxes"]]).recall
    speedup = fer["frame_ms"] / ours["frames"]
    print(f"  {'':<34} {'ours':>9} {'fer':>9} {'fer/ours':>9}")
    rows = (
        ("ms per frame, astronaut", ours["astronaut"], fer["astronaut_ms"]),
        ("ms per benchmark frame", ours["frames"], fer["frame_ms"]),
        ("  of which face detection", ours["detect_frames"], fer["haar_ms"]),
        ("ms per face, classifier batch 1", classifier["logits_1"], fer["face_ms_1"]),
        ("ms per face, classifier batch 8", classifier["logits_8"], fer["face_ms_8"]),
        ("import + construct, s", start_up["ready_s"], fer["ready_s"]),
        ("peak RSS after frames, MB", start_up["rss"], fer["rss_frames"]["VmHWM"]),
    )
    for name, mine, theirs in rows:
        print(f"  {name:<34} {mine:9.3f} {theirs:9.3f} {theirs / mine:8.2f}x")
    print(f"  {f'face recall, {len(frames)} frames':<34} {ours['recall']:9.3f} {fer_recall:9.3f}"
          f" {ours['recall'] - fer_recall:+8.3f} (ours - fer; detection.py has a larger set)")
    print(f"  fer: import {fer['import_s']:.2f} s, RSS after FER() "
          f"{fer['rss_init']['VmRSS']:.0f} MB; its classifier (TFLite, 64x64 input) loops over "
          f"faces one by one")
    met = speedup >= 4 and ours["recall"] >= fer_recall
    print(f"  goal >= 4x faster per frame with equal or better recall: "
          f"{'met' if met else 'missed'} ({speedup:.2f}x, recall "
          f"{ours['recall'] - fer_recall:+.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--frames", type=int, default=120,
                        help="seeded benchmark frames (5/6 one face, 1/12 2-4 faces, 1/12 none)")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--fer-python", default=FER_PYTHON)
    parser.add_argument("--no-fer", action="store_true", help="skip the fer comparison")
    args = parser.parse_args()

    pinned = pin_one_core()
    cv2.setNumThreads(1)
    extra = max(1, args.frames // 12)
    frames = make_frames(args.data, single=args.frames - 2 * extra, multi=extra, empty=extra,
                         seed=args.seed)
    astronaut = astronaut_frame()
    classifier = EmotionClassifier(threads=1)
    print(f"{pinned}; OpenCV {cv2.__version__} ({cv2.getNumThreads()} thread), model "
          f"{classifier.path.name} ({classifier.info.name}, {classifier.info.params:,} params)")
    faces = np.concatenate([f.faces for f in frames])[:32]
    classifier_result = classifier_section(classifier, faces)
    frame_result = frame_section(frames, astronaut)

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, image in enumerate([astronaut] + [f.image for f in frames]):
            paths.append(str(Path(tmp) / f"frame{i:03d}.png"))
            cv2.imwrite(paths[-1], image)
        start_up = fresh_process_section(paths, args.startup_runs)
        # Detection only, on the benchmark frames, for the fer table.
        recognizer = Recognizer(threads=1)
        grays = [to_gray(f.image) for f in frames]
        frame_result["detect_frames"], _ = per_frame_ms(recognizer.detector.detect, grays)
        if args.no_fer:
            print("\n(d) fer skipped (--no-fer)")
        else:
            fer_section(args.fer_python, paths, frames, frame_result, classifier_result,
                        start_up)


if __name__ == "__main__":
    main()
