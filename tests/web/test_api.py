"""The JSON API through Flask's test client, on SQLite and MariaDB: every route, every
error path, and the database going away and coming back."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import select
from sqlalchemy.engine import make_url

from moodreel.labels import EMOTIONS
from moodreel.movies.db import init_db
from moodreel.movies.models import Feedback
from moodreel.vision.boxes import iou
from moodreel.web import create_app
from moodreel.web.snapshots import SnapshotStore
from tests.tcp_proxy import TcpProxy, free_port
from tests.vision.conftest import ASTRONAUT_FACE
from tests.web.conftest import upload


def analyze(client: FlaskClient, data: bytes, **fields: str):
    return client.post("/api/analyze", data=upload(data, **fields),
                       content_type="multipart/form-data")


def astronaut_face(faces: list[dict]) -> dict:
    """The face found on the astronaut (the one whose box best overlaps hers)."""
    boxes = np.array([face["box"] for face in faces])
    return faces[int(np.argmax(iou(boxes, np.array([ASTRONAUT_FACE]))[:, 0]))]


def assert_error(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "detail"} and body["detail"]
    if error is not None:
        assert body["error"] == error
    return body


# --- health and the contract ---------------------------------------------------------------

def test_health_reports_the_model_and_the_database(client: FlaskClient) -> None:
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok"
    assert body["model"]["loaded"] and body["model"]["labels"] == list(EMOTIONS)
    assert body["database"]["reachable"] is True


def test_the_openapi_document_is_valid_and_lists_every_api_route(app: Flask,
                                                                 client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    validate(document)
    documented = {(path, method.upper()) for path, item in document["paths"].items()
                  for method in item}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            served |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served


# --- analyze -------------------------------------------------------------------------------

def test_analyze_a_real_face_gives_emotions_and_movies(client: FlaskClient, face_jpeg: bytes,
                                                       app: Flask) -> None:
    response = analyze(client, face_jpeg, strategy="lift", count="6")
    assert response.status_code == 200
    body = response.get_json()
    face = astronaut_face(body["faces"])
    assert list(face["emotions"]) == list(EMOTIONS)
    assert sum(face["emotions"].values()) == pytest.approx(1.0, abs=1e-4)
    assert face["top"] == "happy"
    assert body["group"]["faces"] == len(body["faces"])
    assert body["strategy"] == "lift"
    films = body["recommendations"]
    assert len(films) == 6 and all(f["title"] and f["reason"] for f in films)
    assert "snapshot_id" not in body
    assert not list(Path(app.config["SNAPSHOT_DIR"]).glob("*")), "nothing kept without opt-in"
    assert response.headers["Cache-Control"] == "no-store"


def test_analyze_takes_base64_json_and_data_urls(client: FlaskClient, face_jpeg: bytes) -> None:
    encoded = base64.b64encode(face_jpeg).decode()
    for image in (encoded, "data:image/jpeg;base64," + encoded):
        response = client.post("/api/analyze", json={"image": image, "recommend": False})
        assert response.status_code == 200
        body = response.get_json()
        assert astronaut_face(body["faces"])["top"] == "happy"
        assert "recommendations" not in body


def test_several_faces_give_each_result_and_a_group_mood(client: FlaskClient,
                                                         face_jpeg: bytes) -> None:
    photo = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)
    x, y, w, h = ASTRONAUT_FACE
    face = photo[y - 40:y + h + 40, x - 40:x + w + 40]
    row = np.hstack([cv2.resize(face, (240, 240))] * 3)
    response = analyze(client, cv2.imencode(".jpg", row)[1].tobytes(), recommend="false")
    body = response.get_json()
    assert len(body["faces"]) == 3
    mean = np.mean([list(f["emotions"].values()) for f in body["faces"]], axis=0)
    assert list(body["group"]["emotions"].values()) == pytest.approx(mean.tolist())
    assert body["group"]["faces"] == 3


def test_no_face_is_422_with_advice_unless_a_face_is_optional(client: FlaskClient,
                                                              blank_jpeg: bytes) -> None:
    body = assert_error(analyze(client, blank_jpeg), 422, "no face found")
    assert "light" in body["detail"]
    optional = analyze(client, blank_jpeg, require_face="false").get_json()
    assert optional["faces"] == [] and optional["group"] is None and optional["advice"]


def test_keeping_a_snapshot_is_opt_in_and_deletable(client: FlaskClient, face_jpeg: bytes,
                                                    app: Flask) -> None:
    body = analyze(client, face_jpeg, keep="true", session_id="tab-1").get_json()
    snapshot_id = body["snapshot_id"]
    folder = Path(app.config["SNAPSHOT_DIR"])
    assert (folder / f"{snapshot_id}.jpg").read_bytes() == face_jpeg
    record = json.loads((folder / f"{snapshot_id}.json").read_text())
    assert record["faces"] == body["faces"] and record["session_id"] == "tab-1"
    assert record["recommended"] == [f["movie_id"] for f in body["recommendations"]]

    assert client.delete(f"/api/snapshots/{snapshot_id}").status_code == 204
    assert not list(folder.glob(f"{snapshot_id}*"))
    assert_error(client.delete(f"/api/snapshots/{snapshot_id}"), 404)
    assert_error(client.delete("/api/snapshots/..%2F..%2Fetc"), 404)


def test_a_snapshot_the_server_cannot_store_is_said_and_nothing_is_kept(
        web_database_url: str, tmp_path: Path, face_jpeg: bytes) -> None:
    not_a_folder = tmp_path / "snapshots"
    not_a_folder.write_text("a file where the folder should be")
    app = create_app({"DATABASE_URL": web_database_url, "TESTING": True,
                      "SNAPSHOT_DIR": str(not_a_folder)})
    try:
        response = analyze(app.test_client(), face_jpeg, keep="true", recommend="false")
    finally:
        app.extensions["moodreel"].close()
    assert response.status_code == 200
    body = response.get_json()
    assert body["faces"] and "snapshot_id" not in body
    assert body["snapshot_error"]["error"] == "snapshot not kept"
    assert "nothing was kept" in body["snapshot_error"]["detail"]


def test_a_photo_is_not_kept_without_its_record(tmp_path: Path, face_jpeg: bytes,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A photo whose record failed to be written could be neither listed nor deleted."""
    store = SnapshotStore(tmp_path / "kept")

    def disk_full(record: dict) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_record", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.save(face_jpeg, {"faces": []})
    assert list((tmp_path / "kept").iterdir()) == []


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)))


@pytest.mark.parametrize(("data", "status", "error"), [
    (b"", 415, "not an image"),
    (b"just some text, not a photo", 415, "not an image"),
    (None, 415, "not an image"),                                # truncated JPEG
    (_png_header(100_000, 100_000), 413, "image too large"),    # refused from the header
    (cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes(), 422, "no usable face"),
])
def test_bad_images_get_clear_4xx(client: FlaskClient, face_jpeg: bytes, data: bytes | None,
                                  status: int, error: str) -> None:
    data = face_jpeg[: len(face_jpeg) // 3] if data is None else data
    assert_error(analyze(client, data), status, error)


def test_bad_requests_to_analyze(client: FlaskClient, face_jpeg: bytes) -> None:
    assert_error(client.post("/api/analyze", data={"other": "x"},
                             content_type="multipart/form-data"), 400, "no image")
    assert_error(client.post("/api/analyze", data=face_jpeg, content_type="image/jpeg"), 415)
    assert_error(client.post("/api/analyze", json={"image": "%%% not base64"}), 400,
                 "bad base64")
    assert_error(client.post("/api/analyze", json={"image": "data:text/plain;base64,aGk="}),
                 415, "not an image")
    assert_error(client.post("/api/analyze", json=["not", "an", "object"]), 400)
    assert_error(client.post("/api/analyze", data="{broken", content_type="application/json"),
                 400)
    deep = '{"image": ' + "[" * 100_000 + "]" * 100_000 + "}"  # past Python's recursion limit
    for route in ("/api/analyze", "/api/feedback"):
        assert_error(client.post(route, data=deep, content_type="application/json"), 400)
    assert_error(analyze(client, face_jpeg, strategy="cheer"), 400, "bad strategy")
    assert_error(analyze(client, face_jpeg, count="0"), 400, "bad count")
    assert_error(analyze(client, face_jpeg, count="ten"), 400, "bad count")
    assert_error(analyze(client, face_jpeg, keep="maybe"), 400, "bad keep")
    assert_error(analyze(client, face_jpeg, session_id="../../x"), 400, "bad session_id")


def test_too_large_a_request_is_413_json(app: Flask, client: FlaskClient) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b"--x\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n\r\n"
    assert_error(client.post("/api/analyze", data=body + bytes(limit),
                             content_type="multipart/form-data; boundary=x"), 413)


def test_random_bytes_never_cause_a_server_error(client: FlaskClient, face_jpeg: bytes) -> None:
    rng = np.random.default_rng(0)
    for _ in range(25):
        data = np.frombuffer(face_jpeg[:2000], np.uint8).copy()
        data[rng.integers(0, len(data), 40)] = rng.integers(0, 256, 40)
        response = analyze(client, data[: rng.integers(1, len(data))].tobytes())
        assert 400 <= response.status_code < 500, response.get_data(as_text=True)


def test_unknown_routes_and_methods_answer_json(client: FlaskClient) -> None:
    assert_error(client.get("/api/nothing-here"), 404, "not found")
    assert_error(client.get("/api/analyze"), 405, "method not allowed")


# --- recommendations -----------------------------------------------------------------------

def test_recommendations_by_emotion_or_weights(client: FlaskClient) -> None:
    by_name = client.get("/api/recommendations?emotion=sad&strategy=lift&count=5").get_json()
    assert by_name["strategy"] == "lift" and len(by_name["recommendations"]) == 5
    weights = json.dumps({"happy": 0.7, "neutral": 0.3})
    by_weights = client.get(f"/api/recommendations?probs={weights}&count=7").get_json()
    assert len(by_weights["recommendations"]) == 7
    by_list = client.get("/api/recommendations?probs=0.1,0.2,0.6,0.1&count=3")
    assert by_list.status_code == 200


def test_ids_no_film_can_have_exclude_nothing(client: FlaskClient) -> None:
    plain = client.get("/api/recommendations?emotion=sad&seed=4").get_json()
    odd = client.get("/api/recommendations?emotion=sad&seed=4"
                     "&exclude=99999999999999999999,2147483648,0,-1").get_json()
    assert odd == plain and len(plain["recommendations"]) == 10


def test_recommendations_exclude_and_seed(client: FlaskClient) -> None:
    first = client.get("/api/recommendations?emotion=happy&count=10&seed=3").get_json()
    again = client.get("/api/recommendations?emotion=happy&count=10&seed=3").get_json()
    assert first == again
    shown = [f["movie_id"] for f in first["recommendations"]]
    more = client.get("/api/recommendations?emotion=happy&count=10&exclude="
                      + ",".join(map(str, shown))).get_json()
    assert len(more["recommendations"]) == 10
    assert not {f["movie_id"] for f in more["recommendations"]} & set(shown)


@pytest.mark.parametrize("query", [
    "", "emotion=sad&probs=0.5,0.5,0,0", "emotion=bored", "probs={bad", "probs=1,2",
    "probs=" + json.dumps({"happy": -1}), "emotion=sad&strategy=x", "emotion=sad&count=500",
    "emotion=sad&genre=Polka", "emotion=sad&year_min=2000&year_max=1990",
    "emotion=sad&min_rating=11", "emotion=sad&exclude=1,two", "emotion=sad&min_rating=nan",
    "emotion=sad&year_min=99999999999999999999", "emotion=sad&year_max=-1",
    "probs=" + "[" * 3000 + "]" * 3000,
])
def test_bad_recommendation_queries_are_400(client: FlaskClient, query: str) -> None:
    assert_error(client.get(f"/api/recommendations?{query}"), 400)


# --- feedback ------------------------------------------------------------------------------

def _a_film(client: FlaskClient) -> int:
    return client.get("/api/recommendations?emotion=happy&count=1").get_json()[
        "recommendations"][0]["movie_id"]


def test_feedback_is_stored_and_its_reason_added_by_the_same_session(
        client: FlaskClient, app: Flask) -> None:
    movie_id = _a_film(client)
    response = client.post("/api/feedback", json={
        "movie_id": movie_id, "liked": True, "emotions": {"happy": 0.8, "sad": 0.2},
        "strategy": "match", "session_id": "tab-7"})
    assert response.status_code == 201
    feedback_id = response.get_json()["id"]
    assert_error(client.patch(f"/api/feedback/{feedback_id}",
                              json={"comment": "hijack", "session_id": "another-tab"}), 404)
    patched = client.patch(f"/api/feedback/{feedback_id}",
                           json={"comment": "  loved it  ", "session_id": "tab-7"})
    assert patched.status_code == 200 and patched.get_json()["comment"] == "loved it"
    with app.extensions["moodreel"].database.session() as session:
        event = session.scalars(select(Feedback).where(Feedback.id == feedback_id)).one()
        assert (event.liked, event.comment, event.movie_id) == (True, "loved it", movie_id)
        assert event.emotions == pytest.approx({"happy": 0.8, "sad": 0.2})


@pytest.mark.parametrize(("body", "status"), [
    ({"liked": True, "emotion": "happy"}, 400),                       # no movie
    ({"movie_id": 10**9, "liked": True, "emotion": "happy"}, 404),    # unknown movie
    ({"movie_id": 10**22, "liked": True, "emotion": "happy"}, 400),   # no film's id
    ({"movie_id": 0, "liked": True, "emotion": "happy"}, 400),
    ({"movie_id": "MOVIE", "liked": True, "emotion": "happy"}, 400),
    ({"movie_id": 1, "liked": "yes", "emotion": "happy"}, 400),
    ({"movie_id": 1, "liked": True}, 400),                            # no mood
    ({"movie_id": 1, "liked": True, "emotion": "happy", "strategy": "x"}, 400),
    ({"movie_id": 1, "liked": True, "emotion": "happy", "comment": 5}, 400),
])
def test_bad_feedback_is_4xx(client: FlaskClient, body: dict, status: int) -> None:
    assert_error(client.post("/api/feedback", json=body), status)


def test_feedback_must_be_json(client: FlaskClient) -> None:
    assert_error(client.post("/api/feedback", data={"movie_id": "1", "liked": "true"}), 415)


# --- the database going away ---------------------------------------------------------------

@pytest.fixture
def app_without_database(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": f"mysql+pymysql://root@127.0.0.1:{free_port()}/x",
                      "TESTING": True, "SNAPSHOT_DIR": str(tmp_path / "snapshots")})
    yield app
    app.extensions["moodreel"].close()


def test_database_down_still_gives_emotions_and_503_for_movies(
        app_without_database: Flask, face_jpeg: bytes) -> None:
    client = app_without_database.test_client()
    body = analyze(client, face_jpeg).get_json()
    assert astronaut_face(body["faces"])["top"] == "happy"
    assert body["recommendations"] is None
    assert body["recommendations_error"]["error"] == "database unavailable"
    assert_error(client.get("/api/recommendations?emotion=sad"), 503, "database unavailable")
    assert_error(client.post("/api/feedback", json={"movie_id": 1, "liked": True,
                                                    "emotion": "sad"}), 503)
    health = client.get("/api/health").get_json()
    assert health["status"] == "degraded" and health["database"]["reachable"] is False


def test_the_app_recovers_when_the_database_returns(make_database, tmp_path: Path) -> None:
    url = make_url(make_database("mariadb"))
    init_db(url.render_as_string(hide_password=False))
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 3306))
    proxy.start()
    app = create_app({"DATABASE_URL": url.set(port=proxy.port).render_as_string(
        hide_password=False), "TESTING": True, "SNAPSHOT_DIR": str(tmp_path)})
    client = app.test_client()
    try:
        assert client.get("/api/recommendations?emotion=sad").status_code == 200
        proxy.stop()
        assert_error(client.get("/api/recommendations?emotion=sad"), 503)
        proxy.start()
        assert client.get("/api/recommendations?emotion=sad").status_code == 200
    finally:
        proxy.stop()
        app.extensions["moodreel"].close()
