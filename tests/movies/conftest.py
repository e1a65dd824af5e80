"""Backends for the movie tests: every test that takes ``engine`` runs on SQLite, MariaDB
and PostgreSQL.

Each server gets a database of its own for this test session (``make_database`` in the
top-level conftest); a server that does not answer skips its tests with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from moodreel.movies.catalog import seed_weights
from moodreel.movies.db import create_db_engine, upgrade_schema
from moodreel.movies.models import (
    Feedback,
    FeedbackStat,
    Genre,
    GenreWeight,
    Movie,
    MovieGenre,
)
from moodreel.movies.upsert import MovieRecord, MovieWriter
from tests.conftest import SERVERS

BACKENDS = ("sqlite", *SERVERS)
#: Children first, so deleting never trips a foreign key.
TABLES = (Feedback, FeedbackStat, GenreWeight, MovieGenre, Movie, Genre)


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the user's own movie database: the default URL points into the
    test's folder."""
    monkeypatch.setenv("MOODREEL_DATA_DIR", str(tmp_path / "moodreel-data"))
    monkeypatch.delenv("MOODREEL_DATABASE_URL", raising=False)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, make_database: Callable[[str], str]) -> str:
    """One migrated-on-demand database per backend for the whole session."""
    return make_database(request.param)


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The backend's engine with empty tables and the default weights, for each test."""
    with Session(migrated_engine) as session, session.begin():
        for table in TABLES:
            session.execute(delete(table))
        seed_weights(session)
    return migrated_engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture
def write(tmp_path: Path):
    """``write(name, text)`` -> a UTF-8 file in the test's folder."""
    def write_file(name: str, content: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return path

    return write_file


@pytest.fixture
def add_movies(engine: Engine) -> Callable[..., dict[str, int]]:
    """``add_movies(("Title", year, "A|B", rating, votes), ...)`` -> {title: id}, written
    through the importers' writer."""
    def add(*films: tuple) -> dict[str, int]:
        records = [MovieRecord(title=title, year=year, genres=tuple(genres.split("|")),
                               rating=rating, votes=votes)
                   for title, year, genres, rating, votes in films]
        MovieWriter(engine).write(records)
        with Session(engine) as session:
            rows = session.execute(
                select(Movie.title, Movie.id).where(Movie.title.in_([f[0] for f in films])))
            return dict(rows.all())

    return add
