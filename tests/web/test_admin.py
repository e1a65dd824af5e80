"""The admin pages: sign-in, CSRF, films written through the writer (the recommender's index
follows), weights saved all or nothing, the feedback page, and the database being down.

The apps are shared per backend (see conftest), so each test works on films and weights it
adds or changes itself, and puts changed weights back."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from moodreel.movies.models import Feedback, Genre, GenreWeight, Movie, MovieGenre
from moodreel.movies.quality import bayesian_quality
from moodreel.web import create_app
from moodreel.web.admin_feedback import counts_by_mood, top_films
from tests.web.conftest import ADMIN_TOKEN, csrf_token

UNREACHABLE_DATABASE = "mysql+pymysql://root@127.0.0.1:1/test"


def sign_in(client: FlaskClient) -> None:
    page = client.get("/admin/login")
    response = client.post("/admin/login", data={"token": ADMIN_TOKEN,
                                                 "csrf_token": csrf_token(page.data)})
    assert response.status_code == 302


def submit(client: FlaskClient, url: str, data: dict, *, form_page: str | None = None):
    """POST ``data`` to ``url`` with the CSRF token of the page at ``form_page`` (or
    ``url``), as a browser submitting the form would."""
    page = client.get(form_page or url)
    return client.post(url, data={**data, "csrf_token": csrf_token(page.data)})


@pytest.fixture
def admin_client(client: FlaskClient) -> FlaskClient:
    sign_in(client)
    return client


@pytest.fixture
def db(client: FlaskClient) -> Iterator[Session]:
    """A session on the app's own database, to check what the pages wrote; ``fresh(db)``
    before each look (on MariaDB a transaction keeps seeing what it saw first)."""
    with client.application.extensions["moodreel"].database.session() as session:
        yield session


def unique_title() -> str:
    return f"Admin Test Film {secrets.token_hex(4)}"


def unique_imdb_id() -> str:
    return f"tt{secrets.randbelow(10**9):09d}"


def fresh(db: Session) -> Session:
    db.rollback()
    return db


def film(db: Session, title: str) -> Movie | None:
    fresh(db)
    return db.scalar(select(Movie).where(Movie.title == title))


def index_rows(db: Session, movie_id: int) -> dict[str, MovieGenre]:
    """The recommender's index rows of a film, by genre name."""
    rows = fresh(db).execute(select(Genre.name, MovieGenre)
                             .join(Genre, Genre.id == MovieGenre.genre_id)
                             .where(MovieGenre.movie_id == movie_id))
    return {name: row for name, row in rows}


def make_app(tmp_path: Path, **config: str) -> Flask:
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "TESTING": True,
                       "SNAPSHOT_DIR": str(tmp_path / "s"), **config})


# --- signing in ------------------------------------------------------------------------------

def test_admin_is_off_without_a_token(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        client = app.test_client()
        assert client.get("/admin/").status_code == 404
        assert client.get("/admin/movies").status_code == 404
        login = client.get("/admin/login")
        assert login.status_code == 404
        assert b"Admin is off" in login.data
    finally:
        app.extensions["moodreel"].close()


def test_signed_out_admin_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/admin/movies")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/movies"


def test_wrong_token_is_refused(client: FlaskClient) -> None:
    response = submit(client, "/admin/login", {"token": "not-the-token"})
    assert response.status_code == 401
    assert b"Wrong token" in response.data
    assert client.get("/admin/").status_code == 302


def test_sign_in_opens_the_dashboard_and_sign_out_closes_it(client: FlaskClient) -> None:
    response = submit(client, "/admin/login?next=/admin/feedback", {"token": ADMIN_TOKEN})
    assert response.headers["Location"] == "/admin/feedback"
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200
    for text in (b"Films", b"Genres", b"Feedback", b"Likes", b"Dislikes", b"Kept snapshots"):
        assert text in dashboard.data
    out = client.post("/admin/logout", data={"csrf_token": csrf_token(dashboard.data)})
    assert out.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_a_form_post_without_its_csrf_token_is_refused(admin_client: FlaskClient,
                                                       db: Session) -> None:
    title = unique_title()
    response = admin_client.post("/admin/movies/new", data={"title": title})
    assert response.status_code == 400
    assert film(db, title) is None
    assert admin_client.post("/admin/logout").status_code == 400


def test_admin_pages_allow_no_inline_script_or_style(admin_client: FlaskClient) -> None:
    for url in ("/admin/", "/admin/movies", "/admin/movies/new", "/admin/weights",
                "/admin/feedback"):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        assert b"<script>" not in page.data and b"style=" not in page.data, url


# --- films -----------------------------------------------------------------------------------

def test_add_edit_and_delete_a_film_keep_the_recommender_index_in_step(
        admin_client: FlaskClient, db: Session) -> None:
    title, imdb_id = unique_title(), unique_imdb_id()
    added = submit(admin_client, "/admin/movies/new", {
        "title": title, "year": "1999", "genres": ["Comedy", "Drama"], "rating": "7.5",
        "votes": "1000", "runtime": "101", "imdb_id": imdb_id})
    assert added.status_code == 302
    movie = film(db, title)
    assert movie is not None
    movie_id = movie.id
    edit_url = f"/admin/movies/{movie_id}"
    assert added.headers["Location"] == edit_url
    assert (movie.year, movie.runtime, movie.imdb_id, movie.votes) == (1999, 101, imdb_id, 1000)
    rows = index_rows(db, movie_id)
    assert set(rows) == {"Comedy", "Drama"}
    assert all(row.quality == pytest.approx(bayesian_quality(7.5, 1000)) and row.year == 1999
               for row in rows.values())

    listed = admin_client.get("/admin/movies", query_string={"q": title.upper()})
    assert title.encode() in listed.data and b"Comedy, Drama" in listed.data

    assert title.encode() in admin_client.get(edit_url).data
    edited = submit(admin_client, edit_url, {
        "title": title, "year": "2001", "genres": ["Horror"], "rating": "4", "votes": "1000",
        "runtime": "", "imdb_id": imdb_id})
    assert edited.status_code == 302
    movie = film(db, title)
    assert (movie.year, movie.rating, movie.runtime) == (2001, 4.0, 101)  # empty keeps
    rows = index_rows(db, movie_id)
    assert set(rows) == {"Horror"}
    assert rows["Horror"].quality == pytest.approx(bayesian_quality(4.0, 1000))
    assert rows["Horror"].year == 2001
    assert rows["Horror"].genre_ids == str(rows["Horror"].genre_id)

    feedback = admin_client.post("/api/feedback", json={
        "movie_id": movie_id, "liked": True, "emotion": "happy", "strategy": "match"})
    assert feedback.status_code == 201

    confirm = admin_client.get(f"{edit_url}/delete")
    assert confirm.status_code == 200 and b"1 feedback event" in confirm.data
    deleted = admin_client.post(f"{edit_url}/delete",
                                data={"csrf_token": csrf_token(confirm.data)})
    assert deleted.status_code == 302
    assert film(db, title) is None
    assert index_rows(db, movie_id) == {}
    assert fresh(db).scalars(select(Feedback).where(Feedback.movie_id == movie_id)).all() == []
    assert admin_client.get(edit_url).status_code == 404


def test_the_film_list_pages_through_the_catalog(admin_client: FlaskClient) -> None:
    first = admin_client.get("/admin/movies", query_string={"page": "not a number"})
    assert first.status_code == 200 and b"Page 1 of" in first.data
    last = admin_client.get("/admin/movies", query_string={"page": 10**6})
    assert last.status_code == 200
    pages = int(last.data.split(b"Page ")[1].split(b" of ")[1].split(b"<")[0])
    assert f"Page {pages} of {pages}".encode() in last.data
    nothing = admin_client.get("/admin/movies", query_string={"q": "no such title 100%"})
    assert b"No film found" in nothing.data


def test_unticking_every_genre_clears_them(admin_client: FlaskClient, db: Session) -> None:
    title = unique_title()
    submit(admin_client, "/admin/movies/new", {"title": title, "genres": ["Western"]})
    movie = film(db, title)
    assert set(index_rows(db, movie.id)) == {"Western"}
    response = submit(admin_client, f"/admin/movies/{movie.id}", {"title": title})
    assert response.status_code == 302
    assert index_rows(db, movie.id) == {}


def test_a_bad_film_form_comes_back_with_reasons_and_writes_nothing(
        admin_client: FlaskClient, db: Session) -> None:
    title = unique_title()
    response = submit(admin_client, "/admin/movies/new", {
        "title": title, "year": "next year", "rating": "11", "votes": "-3",
        "imdb_id": "0133093", "genres": ["Comedy", "Telenovela"]})
    assert response.status_code == 400
    for reason in (b"The year must be a whole number", b"The rating must be from 0 to 10",
                   b"The votes must be from 0 to", b"An IMDb id looks like",
                   b"Unknown genre: Telenovela"):
        assert reason in response.data
    assert b"next year" in response.data  # kept as typed
    assert film(db, title) is None
    untitled = submit(admin_client, "/admin/movies/new", {"title": "  "})
    assert untitled.status_code == 400 and b"A film needs a title" in untitled.data
    control = submit(admin_client, "/admin/movies/new", {"title": title + "\x00"})
    assert control.status_code == 400 and b"The title holds control characters" in control.data
    assert film(db, title) is None


def test_ids_no_film_can_have_are_not_found(admin_client: FlaskClient) -> None:
    for path in ("/admin/movies/2147483648", "/admin/movies/99999999999999999999/delete",
                 "/admin/movies/0"):
        assert admin_client.get(path).status_code == 404
    found = admin_client.get("/admin/movies", query_string={"q": "the\x00"})
    assert found.status_code == 200 and b"No film found" not in found.data


def test_a_film_cannot_take_another_films_place_or_imdb_id(admin_client: FlaskClient,
                                                           db: Session) -> None:
    title, imdb_id = unique_title(), unique_imdb_id()
    submit(admin_client, "/admin/movies/new", {"title": title, "year": "1990",
                                               "imdb_id": imdb_id})
    first = film(db, title)
    again = submit(admin_client, "/admin/movies/new", {"title": title, "year": "1990"})
    assert again.status_code == 400 and b"already in the catalog" in again.data

    other = unique_title()
    submit(admin_client, "/admin/movies/new", {"title": other})
    second = film(db, other)
    taken = submit(admin_client, f"/admin/movies/{second.id}",
                   {"title": other, "imdb_id": imdb_id})
    assert taken.status_code == 400 and b"already the IMDb id of" in taken.data
    assert film(db, other).imdb_id is None
    assert film(db, title).id == first.id


# --- weights ---------------------------------------------------------------------------------

def genre_id(db: Session, name: str) -> int:
    return db.scalar(select(Genre.id).where(Genre.name == name))


def stored_weight(db: Session, strategy: str, emotion: str, genre: str) -> float | None:
    return fresh(db).scalar(select(GenreWeight.weight).where(
        GenreWeight.strategy == strategy, GenreWeight.emotion == emotion,
        GenreWeight.genre_id == genre_id(db, genre)))


def test_weights_save_and_show_again(admin_client: FlaskClient, db: Session) -> None:
    url = "/admin/weights?strategy=lift"
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Sci-Fi" in page.data
    western, comedy = genre_id(db, "Western"), genre_id(db, "Comedy")
    before = stored_weight(db, "lift", "sad", "Comedy")
    assert stored_weight(db, "lift", "angry", "Western") is None
    try:
        saved = submit(admin_client, url, {f"w-angry-{western}": "0.35",
                                           f"w-sad-{comedy}": "0.85"})
        assert saved.status_code == 302
        assert stored_weight(db, "lift", "angry", "Western") == pytest.approx(0.35)
        assert stored_weight(db, "lift", "sad", "Comedy") == pytest.approx(0.85)
        assert b'value="0.35"' in admin_client.get(url).data
        assert stored_weight(db, "match", "angry", "Western") == pytest.approx(0.6)  # untouched
        cleared = submit(admin_client, url, {f"w-angry-{western}": "0"})
        assert cleared.status_code == 302
        assert stored_weight(db, "lift", "angry", "Western") is None  # absent means 0
    finally:
        submit(admin_client, url, {f"w-angry-{western}": "0", f"w-sad-{comedy}": str(before)})
    assert stored_weight(db, "lift", "sad", "Comedy") == before


def test_a_bad_weight_is_refused_and_nothing_is_written(admin_client: FlaskClient,
                                                        db: Session) -> None:
    url = "/admin/weights?strategy=match"
    drama, comedy, war = (genre_id(db, name) for name in ("Drama", "Comedy", "War"))
    before = stored_weight(db, "match", "happy", "Drama")
    response = submit(admin_client, url, {f"w-happy-{drama}": "0.45",
                                          f"w-sad-{comedy}": "1.5", f"w-fear-{war}": "abc"})
    assert response.status_code == 400
    assert b"&#39;1.5&#39; is not a number from 0 to 1" in response.data
    assert b"&#39;abc&#39; is not a number" in response.data
    assert b'value="abc"' in response.data  # shown as typed
    assert stored_weight(db, "match", "happy", "Drama") == before
    assert stored_weight(db, "match", "fear", "War") is None
    assert admin_client.get("/admin/weights?strategy=sideways").status_code == 400


# --- feedback --------------------------------------------------------------------------------

def test_feedback_page_shows_a_comment_and_counts_it(admin_client: FlaskClient,
                                                     db: Session) -> None:
    title = unique_title()
    submit(admin_client, "/admin/movies/new", {"title": title, "genres": ["Drama"]})
    movie = film(db, title)
    comment = f"too slow for a rainy day {secrets.token_hex(3)}"
    before = counts_by_mood(fresh(db))["sad"]["lift"]
    response = admin_client.post("/api/feedback", json={
        "movie_id": movie.id, "liked": False, "emotion": "sad", "strategy": "lift",
        "comment": comment, "session_id": "admin-test"})
    assert response.status_code == 201

    page = admin_client.get("/admin/feedback")
    assert page.status_code == 200
    assert comment.encode() in page.data and title.encode() in page.data
    assert counts_by_mood(fresh(db))["sad"]["lift"] == [before[0], before[1] + 1]
    disliked = {row.id: row for row in top_films(db, liked=False)}
    if movie.id in disliked:  # the top ten may be full of films with more dislikes
        assert (disliked[movie.id].likes, disliked[movie.id].dislikes) == (0, 1)


# --- the database down -----------------------------------------------------------------------

def test_admin_pages_say_503_when_the_database_is_down(tmp_path: Path) -> None:
    app = make_app(tmp_path, DATABASE_URL=UNREACHABLE_DATABASE, ADMIN_TOKEN=ADMIN_TOKEN)
    try:
        client = app.test_client()
        sign_in(client)
        for url in ("/admin/movies", "/admin/movies/1", "/admin/weights", "/admin/feedback"):
            response = client.get(url)
            assert response.status_code == 503, url
            assert response.mimetype == "text/html"
            assert b"Database unavailable" in response.data
            assert b"Traceback" not in response.data
        dashboard = client.get("/admin/")
        assert dashboard.status_code == 503 and b"Kept snapshots" in dashboard.data
        saved = client.post("/admin/movies/new", data={
            "title": "Anything", "csrf_token": csrf_token(dashboard.data)})
        assert saved.status_code == 503
    finally:
        app.extensions["moodreel"].close()
