"""The tables: movies, genres (many-to-many), emotion -> genre weights, feedback.

Portable across SQLite, MariaDB/MySQL and PostgreSQL: explicit string lengths (MySQL needs
them for indexes), explicit constraint names (so migrations are stable), no server-side
defaults or JSON columns whose reflected types differ between servers.

Any change here needs a migration in ``migrations/versions``; a test compares the migrated
schema with these models on every backend.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Movie(Base):
    """One film. ``quality`` is the Bayesian-average rating (``quality.bayesian_quality``),
    written with the row and copied into ``movie_genres`` for the recommend index."""

    __tablename__ = "movies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    title_key: Mapped[str] = mapped_column(String(200))
    year: Mapped[int | None] = mapped_column(Integer)
    runtime: Mapped[int | None] = mapped_column(Integer)  # minutes
    imdb_id: Mapped[str | None] = mapped_column(String(12), unique=True)
    tmdb_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    movielens_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    rating: Mapped[float | None] = mapped_column(Double)  # average, 0-10
    votes: Mapped[int] = mapped_column(Integer, default=0)
    quality: Mapped[float] = mapped_column(Double)
    overview: Mapped[str | None] = mapped_column(Text)

    genres: Mapped[list[Genre]] = relationship(
        secondary="movie_genres", order_by="Genre.name", viewonly=True)

    __table_args__ = (Index("ix_movies_title_key_year", "title_key", "year"),)

    def __repr__(self) -> str:
        return f"Movie({self.id}, {self.title!r}, {self.year})"


class Genre(Base):
    __tablename__ = "genres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class MovieGenre(Base):
    """A film's genre, carrying copies of what the recommender reads about the film (its
    quality, year, rating and the ids of all its genres, e.g. "3,7,12"): the covering index
    ``ix_movie_genres_rank`` then answers "the best films of genre g, with everything needed
    to score them" as one index range scan, with no join, at a million films. Only
    ``upsert.MovieWriter`` writes these rows, keeping the copies in step with ``movies``."""

    __tablename__ = "movie_genres"

    movie_id: Mapped[int] = mapped_column(
        ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True)
    genre_id: Mapped[int] = mapped_column(
        ForeignKey("genres.id", ondelete="CASCADE"), primary_key=True)
    quality: Mapped[float] = mapped_column(Double)
    year: Mapped[int | None] = mapped_column(Integer)
    rating: Mapped[float | None] = mapped_column(Double)
    genre_ids: Mapped[str] = mapped_column(String(120))

    __table_args__ = (Index("ix_movie_genres_rank", "genre_id", "quality", "movie_id", "year",
                            "rating", "genre_ids"),)


class GenreWeight(Base):
    """How much a genre suits an emotion under a strategy, in [0, 1]: data, seeded from
    ``assets/mood_genres.yaml`` and editable."""

    __tablename__ = "genre_weights"

    strategy: Mapped[str] = mapped_column(String(8), primary_key=True)
    emotion: Mapped[str] = mapped_column(String(16), primary_key=True)
    genre_id: Mapped[int] = mapped_column(
        ForeignKey("genres.id", ondelete="CASCADE"), primary_key=True)
    weight: Mapped[float] = mapped_column(Double)


class FeedbackStat(Base):
    """Likes and dislikes per (strategy, emotion, genre), each event counted with the weight
    of the emotion in the mood it was given for: the Beta-Bernoulli counts of ``feedback``."""

    __tablename__ = "feedback_stats"

    strategy: Mapped[str] = mapped_column(String(8), primary_key=True)
    emotion: Mapped[str] = mapped_column(String(16), primary_key=True)
    genre_id: Mapped[int] = mapped_column(
        ForeignKey("genres.id", ondelete="CASCADE"), primary_key=True)
    likes: Mapped[float] = mapped_column(Double, default=0.0)
    dislikes: Mapped[float] = mapped_column(Double, default=0.0)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Feedback(Base):
    """One thumbs up or down, as given: the mood (probabilities, JSON text), the strategy,
    an optional comment and session id."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    movie_id: Mapped[int] = mapped_column(
        ForeignKey("movies.id", ondelete="CASCADE"), index=True)
    liked: Mapped[bool] = mapped_column(Boolean)
    strategy: Mapped[str] = mapped_column(String(8))
    emotions_json: Mapped[str] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_utc_now)  # UTC

    @property
    def emotions(self) -> dict[str, float]:
        return json.loads(self.emotions_json)
