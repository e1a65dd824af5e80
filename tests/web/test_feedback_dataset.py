"""Kept snapshots -> a dataset (crops + CSV) -> a fine-tuning run: the round trip."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from moodreel.cli import cli
from moodreel.web import create_app
from moodreel.web.feedback_dataset import _bucket
from tests.vision.conftest import ASTRONAUT_FACE
from tests.web.conftest import ASTRONAUT, upload


def ids_in(bucket_is_val: bool, count: int) -> list[str]:
    """Snapshot ids that land in val (or train), to make the split of a test certain."""
    names = (f"{n:022d}" for n in itertools.count())
    return list(itertools.islice((n for n in names if (_bucket(n) == 0) == bucket_is_val),
                                 count))


@pytest.fixture
def one_face_jpeg() -> bytes:
    photo = cv2.imread(str(ASTRONAUT))
    x, y, w, h = ASTRONAUT_FACE
    face = cv2.resize(photo[y - 40:y + h + 40, x - 40:x + w + 40], (300, 300))
    return cv2.imencode(".jpg", face)[1].tobytes()


@pytest.fixture
def kept(tmp_path: Path, one_face_jpeg: bytes, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Three kept snapshots through the API (two train, one val); the first labelled "sad"
    by its user, who also liked a film with a reason."""
    ids = iter(ids_in(False, 2) + ids_in(True, 1))
    monkeypatch.setattr("moodreel.web.snapshots.secrets.token_urlsafe", lambda _: next(ids))
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    app = create_app({"DATABASE_URL": db_url, "SNAPSHOT_DIR": str(tmp_path / "kept"),
                      "TESTING": True})
    client = app.test_client()
    made = []
    for session_id in ("tab-a", "tab-b", "tab-c"):
        body = client.post("/api/analyze", data=upload(one_face_jpeg, keep="true",
                                                      session_id=session_id),
                           content_type="multipart/form-data").get_json()
        assert len(body["faces"]) == 1
        made.append(body)
    assert client.patch(f"/api/snapshots/{made[0]['snapshot_id']}",
                        json={"emotion": "sad"}).status_code == 200
    film = made[0]["recommendations"][0]
    feedback = client.post("/api/feedback", json={
        "movie_id": film["movie_id"], "liked": True, "emotion": "sad", "session_id": "tab-a",
        "comment": "just right"}).get_json()
    assert feedback["id"]
    app.extensions["moodreel"].close()
    return {"db": db_url, "snapshots": tmp_path / "kept", "made": made, "film": film}


def read_rows(out: Path) -> list[dict[str, str]]:
    with (out / "faces.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def export(kept: dict, out: Path, *extra: str):
    return CliRunner().invoke(cli, ["feedback", "export", str(out), "--db", kept["db"],
                                    "--snapshots", str(kept["snapshots"]), *extra])


def test_export_writes_crops_and_a_csv_with_what_users_said(kept: dict, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    result = export(kept, out)
    assert result.exit_code == 0, result.output
    assert "3 faces from 3 snapshots (1 labelled by their user)" in result.output
    rows = read_rows(out)
    assert len(rows) == 3
    by_id = {row["snapshot_id"]: row for row in rows}
    first = by_id[kept["made"][0]["snapshot_id"]]
    assert (first["label"], first["label_source"], first["split"]) == ("sad", "user", "train")
    assert kept["film"]["title"] in first["liked"] and "just right" in first["reasons"]
    others = [by_id[m["snapshot_id"]] for m in kept["made"][1:]]
    assert [r["label_source"] for r in others] == ["model", "model"]
    assert sorted(r["split"] for r in others) == ["train", "val"]
    for row in rows:
        crop = cv2.imread(str(out / row["file"]), cv2.IMREAD_UNCHANGED)
        assert crop.shape == (48, 48) and crop.std() > 10
        assert row["file"].startswith(f"{row['split']}/{row['label']}/")
        assert sum(float(row[f"p_{e}"]) for e in ("angry", "disgust", "fear", "happy", "sad",
                                                  "surprise", "neutral")) == pytest.approx(1,
                                                                                          abs=1e-4)


def test_export_can_keep_only_user_labels_and_never_overwrites(kept: dict,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    assert export(kept, out, "--labels", "user").exit_code == 0
    rows = read_rows(out)
    assert [row["label_source"] for row in rows] == ["user"]
    again = export(kept, out)
    assert again.exit_code == 1 and "already holds" in again.output


def test_a_crop_that_cannot_be_written_stops_the_export_before_the_csv(kept: dict,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    blocker = out / "train" / "sad" / f"{kept['made'][0]['snapshot_id']}_0.png"
    blocker.mkdir(parents=True)  # a folder where the crop should go
    result = export(kept, out)
    assert result.exit_code == 1 and f"could not write {blocker}" in result.output
    assert not (out / "faces.csv").exists()


def test_deleted_snapshots_are_not_exported(kept: dict, tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": kept["db"], "SNAPSHOT_DIR": str(kept["snapshots"]),
                      "TESTING": True})
    app.test_client().delete(f"/api/snapshots/{kept['made'][1]['snapshot_id']}")
    result = export(kept, tmp_path / "dataset", "--json")
    assert '"faces": 2' in result.output


@pytest.mark.slow
def test_the_exported_dataset_fine_tunes_a_checkpoint(kept: dict, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from moodreel.data.preprocess import Preprocessing
    from moodreel.nn import create_model
    from moodreel.train.checkpoint import load_checkpoint, save_checkpoint

    out = tmp_path / "dataset"
    assert export(kept, out).exit_code == 0
    torch.manual_seed(0)
    checkpoint = tmp_path / "base.pt"
    base = create_model("simple_cnn_small")
    save_checkpoint(checkpoint, model=base.eval(), preprocessing=Preprocessing(48, 0.5, 0.5),
                    epoch=1, val_report={})
    result = CliRunner().invoke(cli, [
        "train", "--data", str(out), "--finetune", str(checkpoint), "--out",
        str(tmp_path / "run"), "--epochs", "1", "--batch-size", "2", "--no-progress",
        "--threads", "1"])
    assert result.exit_code == 0, result.output
    tuned = load_checkpoint(tmp_path / "run" / "last.pt")
    assert tuned["model_config"]["name"] == "simple_cnn_small"
    changed = [not torch.equal(tuned["state_dict"][k], v)
               for k, v in base.state_dict().items() if v.is_floating_point()]
    assert any(changed)
    np.testing.assert_equal(len(changed), len(tuned["state_dict"]) - sum(
        not v.is_floating_point() for v in tuned["state_dict"].values()))
