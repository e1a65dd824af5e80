"""Idempotent, batched writes of movies: what every importer shares.

A record is matched to an existing film by an external id (IMDb, then TMDb, then MovieLens),
else by title key and year among films that do not carry a different id of the same kind
(so "The Matrix" from the built-in catalog gains its IMDb id on an IMDb import, while two
IMDb films with one title and year stay two films). A match is updated (values the record
leaves empty are kept), anything else is inserted: a second run of the same import adds no
duplicate. Each batch is one transaction.

The writer also keeps the copies that ``movie_genres`` carries for the recommender (quality,
year, rating, genre list) in step with ``movies``: add or edit films through it (an admin's
edit is a ``MovieRecord`` with ``movie_id``), not by writing those rows directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Integer, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from moodreel.movies.db import DatabaseUnavailable, connect, safe_url
from moodreel.movies.mapping import MoodMapping, load_mapping
from moodreel.movies.models import Genre, Movie, MovieGenre
from moodreel.movies.quality import PRIOR_RATING, bayesian_quality
from moodreel.movies.titles import title_key

ID_FIELDS = ("imdb_id", "tmdb_id", "movielens_id")
#: Problems kept for the report; more are counted in ``skipped`` but not listed.
MAX_PROBLEMS = 1000
#: Genres kept per film (their ids must fit ``MovieGenre.genre_ids``).
MAX_GENRES = 20

movies = Movie.__table__
movie_genres = MovieGenre.__table__


@dataclass
class MovieRecord:
    """One film as a source describes it. ``None`` means "not given": an update keeps the
    stored value (``genres=None`` keeps the stored genres, ``()`` clears them).
    ``movie_id`` names the film to update (an admin's edit) instead of matching one."""

    title: str
    year: int | None = None
    genres: tuple[str, ...] | None = None
    runtime: int | None = None
    imdb_id: str | None = None
    tmdb_id: int | None = None
    movielens_id: int | None = None
    rating: float | None = None  # 0-10
    votes: int | None = None
    overview: str | None = None
    movie_id: int | None = None


@dataclass
class ImportReport:
    """What an import did. ``read`` rows = ``inserted`` + ``updated`` (films) + ``skipped``
    (malformed, reported in ``problems`` with file and line, the first ``MAX_PROBLEMS``) +
    ``ignored`` (well-formed but not for this catalog: TV episodes, adult titles)."""

    source: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    ignored: int = 0
    problems: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0

    def note(self, file: str, line: int, reason: str) -> None:
        """Record a problem (a bad rating row, say) that skips no film row."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((file, line, reason))

    def skip(self, file: str, line: int, reason: str) -> None:
        """Record a malformed film row, left out of the import."""
        self.skipped += 1
        self.note(file, line, reason)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = [{"file": file, "line": line, "reason": reason}
                            for file, line, reason in self.problems]
        return data


@dataclass
class _Target:
    """Where a record goes: an existing film (``movie_id``) or a new one; ``values`` holds
    what the batch writes, ``quality``, ``year`` and ``rating`` the film's values after it
    (copied into its ``movie_genres`` rows)."""

    movie_id: int | None
    ids: dict[str, Any]
    quality: float
    year: int | None = None
    rating: float | None = None
    values: dict[str, Any] = field(default_factory=dict)
    genres: tuple[str, ...] | None = None


def ensure_genres(executor: Connection | Session, names: Sequence[str]) -> dict[str, int]:
    """Ids of the genres called ``names``, creating the missing ones."""
    if not names:
        return {}
    known = dict(executor.execute(select(Genre.name, Genre.id).where(Genre.name.in_(names))).all())
    missing = [name for name in names if name not in known]
    if missing:
        executor.execute(insert(Genre), [{"name": name} for name in missing])
        known.update(executor.execute(
            select(Genre.name, Genre.id).where(Genre.name.in_(missing))).all())
    return known


class MovieWriter:
    """Writes batches of ``MovieRecord`` into the database at ``engine``."""

    def __init__(self, engine: Engine, mapping: MoodMapping | None = None) -> None:
        self.engine = engine
        self.mapping = mapping or load_mapping()
        self._genre_ids: dict[str, int] = {}

    def write(self, records: Sequence[MovieRecord]) -> tuple[int, int]:
        """Insert or update ``records`` in one transaction; returns (inserted, updated)."""
        if not records:
            return 0, 0
        try:
            with connect(self.engine) as connection, connection.begin():
                return self._write(connection, records)
        except DBAPIError as error:
            if error.connection_invalidated:
                raise DatabaseUnavailable(
                    f"lost the database {safe_url(self.engine.url)} during an import; "
                    "batches written so far are kept, run the import again") from error
            raise

    def genre_ids(self, connection: Connection, names: set[str]) -> dict[str, int]:
        """Ids of the genres called ``names`` (created when missing), cached per writer."""
        missing = names - self._genre_ids.keys()
        if missing:
            self._genre_ids.update(ensure_genres(connection, sorted(missing)))
        return {name: self._genre_ids[name] for name in names}

    def _canonical_genres(self, genres: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if genres is None:
            return None
        names = (self.mapping.canonical_genre(name) for name in genres)
        return tuple(dict.fromkeys(name[:40] for name in names if name))[:MAX_GENRES]

    def _write(self, connection: Connection, records: Sequence[MovieRecord]) -> tuple[int, int]:
        owners: dict[tuple[str, Any], _Target] = {}
        by_title: dict[tuple[str, int | None], list[_Target]] = {}
        for target, key in self._lookup(connection, records):
            for name in ID_FIELDS:
                if target.ids[name] is not None:
                    owners[(name, target.ids[name])] = target
            by_title.setdefault(key, []).append(target)
        touched: dict[int, _Target] = {}  # id(target) -> target, in first-touch order
        updated = 0
        by_id = {target.movie_id: target for targets in by_title.values() for target in targets}
        for record in records:
            key = (title_key(record.title), record.year)
            ids = {name: getattr(record, name) for name in ID_FIELDS}
            if record.movie_id is not None:
                target = by_id.get(record.movie_id)
                if target is None:
                    raise LookupError(f"no movie with id {record.movie_id}")
            else:
                target = next((owners[(name, value)] for name, value in ids.items()
                               if value is not None and (name, value) in owners), None)
            if target is None:
                target = next((t for t in by_title.get(key, ())
                               if all(t.ids[n] is None for n, v in ids.items() if v is not None)),
                              None)
            if target is None:
                target = _Target(None, dict.fromkeys(ID_FIELDS), PRIOR_RATING)
                by_title.setdefault(key, []).append(target)
            elif id(target) in touched or target.movie_id is not None:
                updated += 1
            touched.setdefault(id(target), target)
            for name, value in ids.items():  # an id owned by another film is left out
                if value is not None and owners.setdefault((name, value), target) is target:
                    target.ids[name] = value
            self._merge(target, record, key)
        targets = list(touched.values())
        inserted = sum(1 for t in targets if t.movie_id is None)
        self._apply(connection, targets)
        return inserted, updated

    @staticmethod
    def _merge(target: _Target, record: MovieRecord, key: tuple[str, int | None]) -> None:
        values = target.values
        values["title"], values["title_key"] = record.title[:300], key[0]
        for name in ("year", "runtime", "rating", "votes", "overview"):
            value = getattr(record, name)
            if value is not None:
                values[name] = value
        target.year = values.get("year", target.year)
        target.rating = values.get("rating", target.rating)
        if record.rating is not None:
            target.quality = bayesian_quality(record.rating, record.votes)
            values["quality"] = target.quality
        if record.genres is not None:
            target.genres = record.genres

    @staticmethod
    def _lookup(connection: Connection, records: Sequence[MovieRecord]
                ) -> list[tuple[_Target, tuple[str, int | None]]]:
        """Existing films that share an id, or a title key, with the batch; with the
        (title key, year) of each."""
        columns = (Movie.id, Movie.imdb_id, Movie.tmdb_id, Movie.movielens_id, Movie.quality,
                   Movie.title_key, Movie.year, Movie.rating)
        found: dict[int, tuple[_Target, tuple[str, int | None]]] = {}
        conditions = []
        for name in ID_FIELDS:
            values = {getattr(r, name) for r in records} - {None}
            if values:
                conditions.append(getattr(Movie, name).in_(values))
        conditions.append(Movie.title_key.in_({title_key(r.title) for r in records}))
        named = {r.movie_id for r in records} - {None}
        if named:
            conditions.append(Movie.id.in_(named))
        for condition in conditions:
            for row in connection.execute(select(*columns).where(condition)):
                if row.id not in found:
                    target = _Target(row.id, {n: getattr(row, n) for n in ID_FIELDS},
                                     row.quality, row.year, row.rating)
                    found[row.id] = (target, (row.title_key, row.year))
        return [found[movie_id] for movie_id in sorted(found)]

    def _apply(self, connection: Connection, targets: list[_Target]) -> None:
        for target in targets:
            target.genres = self._canonical_genres(target.genres)
        old = [t for t in targets if t.movie_id is not None]
        new = [t for t in targets if t.movie_id is None]
        if old:
            connection.execute(_UPDATE, [_update_params(t) for t in old])
        if new:
            rows = [{"title": t.values["title"], "title_key": t.values["title_key"],
                     "year": t.values.get("year"), "runtime": t.values.get("runtime"),
                     "rating": t.values.get("rating"), "votes": t.values.get("votes") or 0,
                     "overview": t.values.get("overview"), "quality": t.quality, **t.ids}
                    for t in new]
            for target, movie_id in zip(new, self._insert_movies(connection, rows), strict=True):
                target.movie_id = movie_id
        regenre = [t for t in targets if t.genres is not None]
        stale = [t.movie_id for t in old if t.genres is not None]
        if stale:
            connection.execute(delete(MovieGenre).where(MovieGenre.movie_id.in_(stale)))
        genre_ids = self.genre_ids(connection, {g for t in regenre for g in t.genres or ()})
        links = []
        for target in regenre:
            ids = sorted(genre_ids[g] for g in target.genres or ())
            listed = ",".join(map(str, ids))
            links += [{"movie_id": target.movie_id, "genre_id": genre_id,
                       "quality": target.quality, "year": target.year,
                       "rating": target.rating, "genre_ids": listed} for genre_id in ids]
        if links:
            connection.execute(insert(MovieGenre), links)
        refresh = [{"_id": t.movie_id, "_quality": t.quality, "_year": t.year,
                    "_rating": t.rating} for t in old if t.genres is None]
        if refresh:
            connection.execute(_REFRESH_LINKS, refresh)

    @staticmethod
    def _insert_movies(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
        """Ids of the inserted rows, in order: one round trip where the backend can return
        them (SQLite, PostgreSQL, MariaDB), one statement per row elsewhere (MySQL)."""
        if connection.dialect.insert_executemany_returning_sort_by_parameter_order:
            statement = insert(Movie).returning(Movie.id, sort_by_parameter_order=True)
            return list(connection.execute(statement, rows).scalars())
        return [connection.execute(insert(Movie), row).inserted_primary_key[0] for row in rows]


def _keep(name: str, type_: Any = None) -> Any:
    """``COALESCE(:_name, name)``: a value the record leaves empty keeps the stored one."""
    return func.coalesce(bindparam(f"_{name}", type_=type_), movies.c[name])


_UPDATE = (
    update(movies).where(movies.c.id == bindparam("_id")).values(
        title=bindparam("_title"), title_key=bindparam("_title_key"),
        year=_keep("year", Integer()), runtime=_keep("runtime", Integer()),
        imdb_id=_keep("imdb_id", movies.c.imdb_id.type),
        tmdb_id=_keep("tmdb_id", Integer()), movielens_id=_keep("movielens_id", Integer()),
        rating=_keep("rating", movies.c.rating.type), votes=_keep("votes", Integer()),
        quality=_keep("quality", movies.c.quality.type),
        overview=_keep("overview", movies.c.overview.type)))

_REFRESH_LINKS = (
    update(movie_genres).where(movie_genres.c.movie_id == bindparam("_id"))
    .values(quality=bindparam("_quality"), year=bindparam("_year"),
            rating=bindparam("_rating")))


def _update_params(target: _Target) -> dict[str, Any]:
    values = target.values
    params = {f"_{name}": values.get(name) for name in
              ("title", "title_key", "year", "runtime", "rating", "votes", "quality", "overview")}
    params.update({f"_{name}": value for name, value in target.ids.items()})
    params["_id"] = target.movie_id
    return params
