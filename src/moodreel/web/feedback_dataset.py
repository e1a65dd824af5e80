"""The snapshots users chose to keep, with what they told us, as a training dataset.

    moodreel feedback export OUT_DIR      -> OUT_DIR/{train,val}/<emotion>/<id>_<face>.png
                                             OUT_DIR/faces.csv
    moodreel train --data OUT_DIR --finetune runs/x/best.pt

Each face is cut from the square box serving found, as a 48x48 grayscale crop (the FER-2013
layout the training reader takes; a model with a larger input scales it up, as it does
FER-2013's own faces). Its label is the mood the user picked by hand after the snapshot when
there is one (``label_source`` "user", single-face snapshots only), else the model's own
reading ("model"; ``labels="user"`` leaves those out). The CSV keeps the rest: the model's
probabilities, the films liked and disliked in that browser session, and the reasons given.
About one snapshot in five (chosen by a hash of its id, so the same on every export) goes to
``val``, so a fine-tune can be checked on faces it did not train on.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from sqlalchemy import select

from moodreel.data.preprocess import Preprocessing
from moodreel.labels import EMOTIONS
from moodreel.movies.db import MovieDatabase
from moodreel.movies.models import Feedback, Movie
from moodreel.vision.crop import crop_faces
from moodreel.vision.image import ImageError, read_image, to_gray
from moodreel.web.snapshots import SnapshotStore

LabelChoice = Literal["all", "user"]
VAL_EVERY = 5
COLUMNS = ("file", "split", "label", "label_source", "snapshot_id", "face", "box",
           *(f"p_{name}" for name in EMOTIONS), "session_id", "created", "liked", "disliked",
           "reasons")


@dataclass
class ExportReport:
    faces: int = 0
    snapshots: int = 0
    user_labelled: int = 0
    skipped: int = 0   # snapshots whose image can no longer be read


def export_feedback_dataset(out: str | Path, store: SnapshotStore,
                            database: MovieDatabase | None = None, *,
                            labels: LabelChoice = "all", size: int = 48) -> ExportReport:
    """Write the dataset to ``out`` (which must not hold one already)."""
    out = Path(out)
    if (out / "faces.csv").exists():
        raise FileExistsError(f"{out} already holds an exported dataset (faces.csv)")
    sessions = _session_feedback(database) if database is not None else {}
    preprocessing = Preprocessing(size)
    report = ExportReport()
    rows = []
    for record in store.records():
        try:
            gray = to_gray(read_image(store.image_path(record)))
        except ImageError:
            report.skipped += 1
            continue
        faces = record.get("faces") or []
        user_label = record.get("user_emotion") if len(faces) == 1 else None
        if not faces or (labels == "user" and user_label is None):
            continue
        boxes = np.array([face["box"] for face in faces])
        crops = crop_faces(gray, boxes, preprocessing, margin=0.0)
        split = "val" if _bucket(record["id"]) == 0 else "train"
        feedback = sessions.get(record.get("session_id"), {})
        report.snapshots += 1
        for index, (face, crop) in enumerate(zip(faces, crops, strict=True)):
            label = user_label or face["top"]
            name = f"{split}/{label}/{record['id']}_{index}.png"
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(out / name), crop):  # no faces.csv naming a missing crop
                raise OSError(f"could not write {out / name}")
            rows.append({
                "file": name, "split": split, "label": label,
                "label_source": "user" if user_label else "model",
                "snapshot_id": record["id"], "face": index, "box": json.dumps(face["box"]),
                **{f"p_{e}": round(face["emotions"][e], 6) for e in EMOTIONS},
                "session_id": record.get("session_id") or "", "created": record["created"],
                "liked": "; ".join(feedback.get("liked", [])),
                "disliked": "; ".join(feedback.get("disliked", [])),
                "reasons": " | ".join(feedback.get("reasons", [])),
            })
            report.faces += 1
            report.user_labelled += bool(user_label)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "faces.csv.partial"
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(out / "faces.csv")
    return report


def _bucket(snapshot_id: str) -> int:
    """A stable split from the id alone: the same snapshot lands in the same split on every
    export."""
    return int(hashlib.sha256(snapshot_id.encode()).hexdigest(), 16) % VAL_EVERY


def _session_feedback(database: MovieDatabase) -> dict[str, dict[str, list[str]]]:
    """Per browser session: titles liked and disliked, and the reasons given."""
    result: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    with database.session() as session:
        rows = session.execute(
            select(Feedback.session_id, Feedback.liked, Feedback.comment, Movie.title,
                   Movie.year)
            .join(Movie, Movie.id == Feedback.movie_id)
            .where(Feedback.session_id.is_not(None))
            .order_by(Feedback.created_at, Feedback.id))
        for session_id, liked, comment, title, year in rows:
            film = f"{title} ({year})" if year else title
            result[session_id]["liked" if liked else "disliked"].append(film)
            if comment:
                result[session_id]["reasons"].append(f"{film}: {comment}")
    return result

