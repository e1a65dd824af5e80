"""``POST /api/analyze`` with ``explain=true``: a heat map per face, as the contract says."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from moodreel.assets import default_model_path
from moodreel.vision.boxes import iou
from moodreel.vision.classifier import EmotionClassifier
from moodreel.web import create_app
from tests.web.test_api import analyze, assert_error, astronaut_face


@pytest.fixture(scope="module")
def face_schema(app: Flask) -> Draft202012Validator:
    """The documented ``Face`` schema, references resolved within the document."""
    document = app.test_client().get("/api/openapi.json").get_json()
    return Draft202012Validator({**document["components"]["schemas"]["Face"],
                                 "components": document["components"]})


def test_explain_gives_each_face_a_heat_map_over_its_box(client: FlaskClient, face_jpeg: bytes,
                                                         face_schema) -> None:
    body = analyze(client, face_jpeg, explain="true", recommend="false").get_json()
    face = astronaut_face(body["faces"])
    face_schema.validate(face)
    explanation = face["explanation"]
    assert explanation["emotion"] == face["top"] == "happy"
    assert iou(np.array([explanation["box"]]), np.array([face["box"]]))[0, 0] > 0.9
    heat = np.array(explanation["heatmap"])
    size = EmotionClassifier().info.preprocessing.size
    assert heat.shape == (size, size)
    assert heat.min() >= 0 and heat.max() == 1 and heat.std() > 0.05


def test_the_heat_map_follows_the_photo(client: FlaskClient, face_jpeg: bytes) -> None:
    image = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)
    x, y, w, h = astronaut_face(analyze(client, face_jpeg, recommend="false")
                                .get_json()["faces"])["box"]
    image[y + h * 2 // 3:y + h * 9 // 10, x + w // 4:x + w * 3 // 4] = 128  # hide the smile
    covered = cv2.imencode(".png", image)[1].tobytes()
    maps = [np.array(astronaut_face(analyze(client, data, explain="true", recommend="false")
                                    .get_json()["faces"])["explanation"]["heatmap"])
            for data in (face_jpeg, covered)]
    assert np.abs(maps[0] - maps[1]).max() > 0.1


def test_no_heat_maps_unless_asked_and_none_kept(client: FlaskClient, face_jpeg: bytes,
                                                  app: Flask) -> None:
    plain = analyze(client, face_jpeg, recommend="false").get_json()
    assert all("explanation" not in face for face in plain["faces"])
    kept = analyze(client, face_jpeg, explain="true", keep="true", recommend="false").get_json()
    assert all("explanation" in face for face in kept["faces"])
    record = Path(app.config["SNAPSHOT_DIR"]) / f"{kept['snapshot_id']}.json"
    assert "heatmap" not in record.read_text()
    client.delete(f"/api/snapshots/{kept['snapshot_id']}")


def test_explain_in_a_json_request_and_a_bad_value(client: FlaskClient, face_jpeg: bytes,
                                                   blank_jpeg: bytes) -> None:
    response = client.post("/api/analyze", data=json.dumps({
        "image": base64.b64encode(face_jpeg).decode(), "explain": True, "recommend": False}),
        content_type="application/json")
    assert all(face["explanation"]["heatmap"] for face in response.get_json()["faces"])
    none = analyze(client, blank_jpeg, explain="true", require_face="false").get_json()
    assert none["faces"] == []
    assert_error(analyze(client, face_jpeg, explain="perhaps"), 400, "bad explain")


def test_a_model_that_cannot_explain_is_a_501(tmp_path: Path, face_jpeg: bytes) -> None:
    onnx = pytest.importorskip("onnx")
    proto = onnx.load_model(default_model_path())
    del proto.graph.output[1:]  # logits only, as exported before explanations existed
    model = tmp_path / "logits_only.onnx"
    onnx.save_model(proto, model)
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "TESTING": True,
                      "MODEL_PATH": str(model), "SNAPSHOT_DIR": str(tmp_path / "snapshots")})
    try:
        client = app.test_client()
        assert analyze(client, face_jpeg, recommend="false").status_code == 200
        assert_error(analyze(client, face_jpeg, explain="true"), 501, "cannot explain")
    finally:
        app.extensions["moodreel"].close()
