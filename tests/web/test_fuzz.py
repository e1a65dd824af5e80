"""Odd values in every option of the JSON API, on every database: a 2xx, or a JSON 4xx that
says why; never a 500 (nor in the admin's forms). The values include what once broke the
API (ids past 32 bits, NUL in text, JSON nested past Python's recursion limit) and their
neighbours."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from moodreel.web import create_app
from tests.web.conftest import ADMIN_TOKEN, upload

NASTY_TEXT = [
    "", " ", "0", "-1", "1", "7", "2147483647", "2147483648", "99999999999999999999", "1.5",
    "1e400", "nan", "inf", "-inf", "true", "null", "[]", "{}", "\x00", "sad\x00", "é", "💥",
    "x" * 3000, "1,2,3", ",,,", "1,,2", "[" * 50, "[" * 2000 + "]" * 2000, "' OR 1=1 --",
    "%s", "sad", "happy", "lift", "Drama", '{"happy": 1}', '{"happy": -1}', "0,0,0,1,0,0,0",
]
NASTY_JSON = [*NASTY_TEXT, 0, -1, 1, 2**31 - 1, 2**31, 10**22, 1.5, float("inf"), True,
              False, None, [], {}, [1, "a"], [2**40], {"happy": 1}, {"happy": "x"},
              {"sad": 10**400}, [[[[]]]]]

RECOMMEND_OPTIONS = ["emotion", "probs", "strategy", "count", "exclude", "seed", "genre",
                     "year_min", "year_max", "min_rating"]
FEEDBACK_FIELDS = ["movie_id", "liked", "emotion", "emotions", "probs", "strategy", "comment",
                   "session_id"]
ANALYZE_FIELDS = ["recommend", "require_face", "keep", "explain", "session_id",
                  *RECOMMEND_OPTIONS]
REQUESTS = 300


@pytest.fixture(scope="module", params=("sqlite", "mariadb", "postgresql"))
def fuzzed_app(request: pytest.FixtureRequest, make_database: Callable[[str], str],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": make_database(request.param), "TESTING": True,
                      "SNAPSHOT_DIR": str(tmp_path_factory.mktemp("snapshots")),
                      "ADMIN_TOKEN": ADMIN_TOKEN,
                      "WTF_CSRF_ENABLED": False})  # the forms' CSRF is tested in test_admin
    yield app
    app.extensions["moodreel"].close()


@pytest.fixture
def fuzz_client(fuzzed_app: Flask) -> FlaskClient:
    return fuzzed_app.test_client()


def assert_answered(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.get_data(as_text=True)[:500]}"
    if response.status_code >= 400:
        body = response.get_json()
        assert set(body) == {"error", "detail"} and body["detail"], what


def some(rng: random.Random, names: list[str], values: list[Any],
         valid: dict[str, Any]) -> dict[str, Any]:
    """``valid`` with one to three of ``names`` set to odd values (and, half the time, only
    those), so that most requests get past the first check and reach the database."""
    odd = {name: rng.choice(values) for name in rng.sample(names, rng.randint(1, 3))}
    return {**valid, **odd} if rng.random() < 0.8 else odd


def test_odd_recommendation_queries(fuzz_client: FlaskClient) -> None:
    rng = random.Random(1)
    for _ in range(REQUESTS):
        query = some(rng, RECOMMEND_OPTIONS, NASTY_TEXT, {"emotion": "sad"})
        assert_answered(fuzz_client.get("/api/recommendations", query_string=query), str(query))


def test_odd_feedback(fuzz_client: FlaskClient) -> None:
    rng = random.Random(2)
    for _ in range(REQUESTS):
        body = some(rng, FEEDBACK_FIELDS, NASTY_JSON,
                    {"movie_id": 1, "liked": True, "emotion": "sad", "session_id": "tab"})
        text = json.dumps(body)
        response = fuzz_client.post("/api/feedback", data=text, content_type="application/json")
        assert_answered(response, text[:300])
        if response.status_code == 201:
            comment = {"session_id": "tab", "comment": rng.choice(NASTY_TEXT)}
            assert_answered(fuzz_client.patch(f"/api/feedback/{response.get_json()['id']}",
                                              json=comment), str(comment)[:300])


def test_odd_analyze_options(fuzz_client: FlaskClient, face_jpeg: bytes) -> None:
    rng = random.Random(3)
    for _ in range(REQUESTS // 3):
        fields = some(rng, ANALYZE_FIELDS, NASTY_TEXT, {})
        response = fuzz_client.post("/api/analyze", data=upload(face_jpeg, **fields),
                                    content_type="multipart/form-data")
        assert_answered(response, str(fields)[:300])


def test_odd_paths(fuzz_client: FlaskClient) -> None:
    for path in ("/api/feedback/0", "/api/feedback/2147483648", "/api/feedback/-1",
                 "/api/feedback/99999999999999999999", "/api/snapshots/%00",
                 "/api/snapshots/" + "a" * 500):
        for method in ("patch", "delete", "get"):
            response = getattr(fuzz_client, method)(path, json={"session_id": "t",
                                                                "comment": "x"})
            assert_answered(response, f"{method} {path}")


FILM_FIELDS = ["title", "year", "rating", "votes", "runtime", "imdb_id", "genres"]


def test_odd_admin_forms_and_queries(fuzz_client: FlaskClient) -> None:
    fuzz_client.post("/admin/login", data={"token": ADMIN_TOKEN})
    rng = random.Random(4)
    for n in range(REQUESTS // 3):
        film = some(rng, FILM_FIELDS, NASTY_TEXT,
                    {"title": f"Fuzzed film {n}", "year": "2000", "genres": "Drama"})
        for path in ("/admin/movies/new", f"/admin/movies/{rng.choice([1, 5, 2**31 - 1])}"):
            response = fuzz_client.post(path, data=film)
            assert response.status_code < 500, f"{path} {film}"
        weight = {f"w-{rng.choice(['sad', 'x'])}-{rng.choice(['1', '2147483648', 'x'])}":
                  rng.choice(NASTY_TEXT)}
        for method, path, values in (
                ("post", "/admin/weights", weight),
                ("get", "/admin/movies", {"q": rng.choice(NASTY_TEXT),
                                          "page": rng.choice(NASTY_TEXT)}),
                ("get", "/admin/feedback", {"page": rng.choice(NASTY_TEXT)}),
                ("get", "/admin/weights", {"strategy": rng.choice(NASTY_TEXT)})):
            if method == "post":
                response = fuzz_client.post(path, data=values,
                                            query_string={"strategy": rng.choice(["lift",
                                                                                  "x"])})
            else:
                response = fuzz_client.get(path, query_string=values)
            assert response.status_code < 500, f"{method} {path} {values}"

