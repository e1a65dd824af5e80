"""Apps for the web tests: every test that takes ``client`` runs on SQLite and MariaDB.

One app per backend for the whole session (the model loads once; the database is created and
seeded with the built-in catalog by the app itself, as in production). Tests share its data,
so they assert on what they add, not on totals.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from moodreel.web import create_app

WEB_BACKENDS = ("sqlite", "mariadb")
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
ASTRONAUT = Path(__file__).resolve().parents[2] / "docs" / "images" / "astronaut.jpg"


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the user's own data (database, snapshots, secret key)."""
    monkeypatch.setenv("MOODREEL_DATA_DIR", str(tmp_path / "moodreel-data"))
    monkeypatch.delenv("MOODREEL_DATABASE_URL", raising=False)
    monkeypatch.delenv("MOODREEL_SECRET_KEY", raising=False)
    monkeypatch.delenv("MOODREEL_ADMIN_TOKEN", raising=False)


@pytest.fixture(scope="session", params=WEB_BACKENDS)
def web_database_url(request: pytest.FixtureRequest,
                     make_database: Callable[[str], str]) -> str:
    return make_database(request.param)


@pytest.fixture(scope="session")
def app(web_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": web_database_url, "TESTING": True,
                      "ADMIN_TOKEN": ADMIN_TOKEN,
                      "SNAPSHOT_DIR": str(tmp_path_factory.mktemp("snapshots"))})
    yield app
    app.extensions["moodreel"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    """A real face: the astronaut photo (Eileen Collins, smiling), as JPEG bytes."""
    return ASTRONAUT.read_bytes()


@pytest.fixture(scope="session")
def blank_jpeg() -> bytes:
    """A 640x480 photo with no face in it."""
    image = np.full((480, 640, 3), 180, np.uint8)
    cv2.rectangle(image, (100, 100), (300, 200), (40, 90, 200), -1)
    return cv2.imencode(".jpg", image)[1].tobytes()


def upload(data: bytes, name: str = "snapshot.jpg", **fields: str) -> dict:
    """Multipart form data for ``client.post(..., data=upload(...))``."""
    return {"image": (io.BytesIO(data), name), **fields}


def csrf_token(html: bytes) -> str:
    """The CSRF token of the first form in a page."""
    match = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1).decode()
