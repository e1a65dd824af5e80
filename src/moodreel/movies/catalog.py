"""The built-in catalog and default weights that make a fresh database useful, and the
numbers ``moodreel db stats`` shows.

``assets/movies.csv`` lists well-known films with facts only (title, year, genres) in the
generic CSV format of ``importers``; ``assets/mood_genres.yaml`` holds the weights.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from moodreel.assets import ASSETS_DIR
from moodreel.movies.db import session_scope
from moodreel.movies.importers import import_csv
from moodreel.movies.mapping import MoodMapping, load_mapping
from moodreel.movies.models import Feedback, Genre, GenreWeight, Movie, MovieGenre
from moodreel.movies.upsert import ImportReport, ensure_genres

BUILTIN_CATALOG = ASSETS_DIR / "movies.csv"


def seed_weights(session: Session, mapping: MoodMapping | None = None) -> int:
    """Add the mapping's non-zero emotion -> genre weights that the database lacks; rows
    already there (perhaps edited by an admin) are kept. Returns the number added."""
    mapping = mapping or load_mapping()
    genre_ids = ensure_genres(session, mapping.genres)
    present = set(session.execute(
        select(GenreWeight.strategy, GenreWeight.emotion, GenreWeight.genre_id)).all())
    rows = [{"strategy": strategy, "emotion": emotion, "genre_id": genre_ids[genre],
             "weight": weight}
            for strategy, per_emotion in mapping.weights.items()
            for emotion, row in per_emotion.items()
            for genre, weight in row.items()
            if weight > 0 and (strategy, emotion, genre_ids[genre]) not in present]
    if rows:
        session.execute(insert(GenreWeight), rows)
    return len(rows)


def load_builtin_catalog(engine: Engine) -> ImportReport | None:
    """Import the shipped catalog into an empty movie table; ``None`` when the table
    already has films (the built-in list never overwrites an imported catalog)."""
    with session_scope(engine) as session:
        if session.execute(select(Movie.id).limit(1)).first() is not None:
            return None
    return import_csv(engine, BUILTIN_CATALOG)


def catalog_stats(session: Session) -> dict[str, Any]:
    """Counts for ``moodreel db stats`` and the admin page: films, rated films, ids, years,
    films per genre, feedback."""
    movie_row = session.execute(select(
        func.count(Movie.id), func.count(Movie.rating), func.count(Movie.imdb_id),
        func.count(Movie.movielens_id), func.min(Movie.year), func.max(Movie.year))).one()
    per_genre = session.execute(
        select(Genre.name, func.count(MovieGenre.movie_id))
        .join(MovieGenre, MovieGenre.genre_id == Genre.id)
        .group_by(Genre.name).order_by(func.count(MovieGenre.movie_id).desc(), Genre.name)).all()
    feedback = dict(session.execute(
        select(Feedback.liked, func.count(Feedback.id)).group_by(Feedback.liked)).all())
    return {
        "movies": movie_row[0], "rated": movie_row[1], "with_imdb_id": movie_row[2],
        "with_movielens_id": movie_row[3], "years": [movie_row[4], movie_row[5]],
        "genres": {name: count for name, count in per_genre},
        "feedback": {"likes": feedback.get(True, 0), "dislikes": feedback.get(False, 0)},
    }
