"""From a mood to a list of films: ``recommend_movies``.

For probabilities p over emotions and a strategy s, a genre g fits the mood by

    fit(g) = sum_e p(e) * weight(e, g, s)          (weights: database, refined by feedback)

a film by the mean fit of its genres, and its score is ``fit ** 2 * (quality / 10) ** 3`` with
``quality`` the Bayesian-average rating (so one vote at the top of the scale does not beat
ten thousand just below it). A list is a weighted random sample by score (seedable), at most
``MAX_GENRE_SHARE`` of it from one genre, never a film in ``exclude`` (the films already
shown in the session), and never, under "lift" for a sad or fearful mood, a film of the
guarded genres (horror, war).

Fast at a million films: instead of scoring every row, one query takes the best-fitting
genres (at most ``MAX_GENRES``) and, for each, its best films by quality plus a window at a
random depth of that ranking, through the covering index ``ix_movie_genres_rank`` (which
carries each film's quality, year, rating and genre list, so there is no join); only those
few hundred candidates are scored and sampled. Deeper films are reached as the session
excludes the ones already shown.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Select, bindparam, select, union_all
from sqlalchemy.orm import Session

from moodreel.movies.feedback import current_weights
from moodreel.movies.limits import FILTER_YEARS, is_row_id
from moodreel.movies.mapping import MoodMapping, check_strategy, load_mapping
from moodreel.movies.models import Genre, Movie, MovieGenre
from moodreel.movies.mood import mood_probabilities
from moodreel.movies.quality import RATING_SCALE

MAX_COUNT = 100
MAX_GENRES = 8
#: Candidates per genre: its best ``max(POOL_TOP, count)`` films by quality, and as many
#: as ``max(POOL_WINDOW, count)`` from a random depth of up to WINDOW_DEPTH windows below.
POOL_TOP, POOL_WINDOW, WINDOW_DEPTH = 12, 12, 10
MAX_GENRE_SHARE = 0.4
FIT_POWER = 2.0  # sharpens the mood: a film that half fits is picked a quarter as often
QUALITY_POWER = 3.0
FIT_FLOOR = 0.02  # a film of an asked-for genre that fits the mood badly can still appear

# Statements built once (building a SQLAlchemy expression costs more than running it here).
GENRE_NAMES = select(Genre.id, Genre.name)
FILM_DETAILS = select(Movie.id, Movie.title, Movie.year, Movie.rating, Movie.votes,
                      Movie.imdb_id).where(Movie.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class Recommendation:
    """One film with why it was picked; ``to_dict()`` is the JSON the web API returns."""

    movie_id: int
    title: str
    year: int | None
    genres: tuple[str, ...]
    rating: float | None
    votes: int
    imdb_id: str | None
    score: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        # Shallow: every field is a plain value (``asdict`` deep-copies, 10% of a call).
        data = {field.name: getattr(self, field.name) for field in fields(self)}
        data["genres"] = list(self.genres)
        data["score"] = round(self.score, 4)
        return data


def _check(strategy: str, count: int, years: tuple[int | None, int | None],
           min_rating: float | None) -> None:
    check_strategy(strategy)
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_COUNT}, got {count}")
    for name, year in zip(("year_min", "year_max"), years, strict=True):
        if year is not None and not FILTER_YEARS[0] <= year <= FILTER_YEARS[1]:
            raise ValueError(f"{name} must be a year from {FILTER_YEARS[0]} to "
                             f"{FILTER_YEARS[1]}, got {year}")
    if years[0] is not None and years[1] is not None and years[0] > years[1]:
        raise ValueError(f"empty year range {years[0]}-{years[1]}")
    if min_rating is not None and not 0 <= min_rating <= RATING_SCALE:
        raise ValueError(f"min rating must be between 0 and {RATING_SCALE:g}, got {min_rating}")


def recommend_movies(session: Session, mood: Mapping[str, float] | Sequence[float], *,
                     strategy: str = "match", count: int = 10,
                     exclude: Collection[int] = (), genre: str | None = None,
                     year_min: int | None = None, year_max: int | None = None,
                     min_rating: float | None = None, seed: int | None = None,
                     learning: bool = True,
                     mapping: MoodMapping | None = None) -> list[Recommendation]:
    """Up to ``count`` films for ``mood`` (see the module docstring), best score first.

    ``exclude``: ids already shown (no repeats in a session). ``genre``, ``year_min``,
    ``year_max``, ``min_rating`` (0-10): filters. ``seed``: the same seed on the same data
    gives the same list; ``None`` gives a new list each call. ``learning``: use feedback.
    Fewer than ``count`` films come back only when the catalog has no more that qualify.
    Raises ``ValueError`` for bad arguments.
    """
    mapping = mapping or load_mapping()
    probabilities = mood_probabilities(mood)
    _check(strategy, count, (year_min, year_max), min_rating)
    # Core statements on the session's connection: the ORM layer adds nothing to plain rows
    connection = session.connection()
    names = dict(connection.execute(GENRE_NAMES).all())
    ids = {name: genre_id for genre_id, name in names.items()}
    weights = current_weights(session, strategy, probabilities, learning=learning)
    fit = {genre_id: sum(p * weights[e].get(genre_id, 0.0) for e, p in probabilities.items())
           for genre_id in names}
    blocked = {ids[g] for g in mapping.guard.genres if g in ids} \
        if mapping.guard.applies(strategy, probabilities) else set()

    if genre is not None:
        wanted = mapping.canonical_genre(genre)
        if wanted not in ids:
            raise ValueError(f"unknown genre {genre!r}; known: {', '.join(sorted(ids))}")
        if ids[wanted] in blocked:
            moods = " or ".join(mapping.guard.emotions)
            raise ValueError(f"{wanted} is never recommended by {strategy!r} for a {moods} "
                             "mood; use the match strategy")
        searched = [ids[wanted]]
    else:
        ranked = sorted((g for g in fit if fit[g] > 0 and g not in blocked),
                        key=lambda g: (-fit[g], names[g]))
        searched = ranked[:MAX_GENRES]
    if not searched:
        return []

    rng = random.Random(seed)
    # An id no row can have excludes nothing, and the database would refuse it
    excluded = {movie_id for movie_id in exclude if is_row_id(movie_id)}
    candidates = _candidates(connection, searched, count, excluded, year_min, year_max,
                             min_rating, rng)
    # A film's primary genre is its best-fitting one (ties by name): rank the genres once
    rank = {g: i for i, g in enumerate(sorted(names, key=lambda g: (-fit[g], names[g])))}
    unknown = len(rank)  # a genre added since the names were read ranks last
    scored: list[tuple[float, int, int]] = []  # (score, movie id, primary genre)
    for movie_id in sorted(candidates):
        quality, genre_ids = candidates[movie_id]
        if not blocked.isdisjoint(genre_ids):
            continue
        movie_fit = max(sum([fit.get(g, 0.0) for g in genre_ids]) / len(genre_ids), FIT_FLOOR)
        primary = min(genre_ids, key=lambda g: rank.get(g, unknown))
        score = movie_fit ** FIT_POWER * (quality / RATING_SCALE) ** QUALITY_POWER
        scored.append((score, movie_id, primary))

    chosen = _sample(scored, count, rng)
    details = {row.id: row for row in connection.execute(
        FILM_DETAILS, {"ids": [movie_id for _, movie_id, _ in chosen]})}
    results = []
    for score, movie_id, primary in sorted(chosen, key=lambda c: (-c[0], c[1])):
        row = details[movie_id]
        emotion = max(probabilities, key=lambda e: (probabilities[e]
                                                    * weights[e].get(primary, 0.0), e))
        results.append(Recommendation(
            movie_id=movie_id, title=row.title, year=row.year,
            genres=tuple(sorted(names[g] for g in candidates[movie_id][1] if g in names)),
            rating=row.rating, votes=row.votes, imdb_id=row.imdb_id, score=score,
            reason=mapping.reason(names[primary], emotion, strategy)))
    return results


@lru_cache(maxsize=256)
def _pool_statement(genres: int, exclude: bool, year_min: bool, year_max: bool,
                    min_rating: bool) -> CompoundSelect:
    """The candidate query for ``genres`` genres and the given filters, with every value a
    bound parameter: built once per shape, so a call only binds values (building the SQL
    expression is the costliest part of a call otherwise)."""
    parts: list[Select[Any]] = []
    for i in range(genres):
        part = select(MovieGenre.movie_id, MovieGenre.quality, MovieGenre.genre_ids).where(
            MovieGenre.genre_id == bindparam(f"genre_{i}"))
        if exclude:
            part = part.where(MovieGenre.movie_id.not_in(bindparam("exclude", expanding=True)))
        if year_min:
            part = part.where(MovieGenre.year >= bindparam("year_min"))
        if year_max:
            part = part.where(MovieGenre.year <= bindparam("year_max"))
        if min_rating:
            part = part.where(MovieGenre.rating >= bindparam("min_rating"))
        part = part.order_by(MovieGenre.quality.desc(), MovieGenre.movie_id.desc())
        for dialect in ("mysql", "mariadb"):  # else it weighs the primary key against every
            # gap between excluded ids, a cost that grows with the session's exclusions
            part = part.with_hint(MovieGenre, "FORCE INDEX (ix_movie_genres_rank)", dialect)
        for limited in (part.limit(bindparam("top")),
                        part.limit(bindparam("window")).offset(bindparam(f"depth_{i}"))):
            sub = limited.subquery()
            parts.append(select(sub.c.movie_id, sub.c.quality, sub.c.genre_ids))
    return union_all(*parts)


def _candidates(connection: Connection, genres: list[int], count: int, exclude: set[int],
                year_min: int | None, year_max: int | None, min_rating: float | None,
                rng: random.Random) -> dict[int, tuple[float, tuple[int, ...]]]:
    """``{movie id: (quality, genre ids)}`` for each candidate genre's best films by quality
    and a window at a random depth of its ranking (so fresh sessions see more than the same
    top films): one round trip of index range scans on ``ix_movie_genres_rank``, no join."""
    top, window = max(POOL_TOP, count), max(POOL_WINDOW, count)
    params: dict[str, Any] = {"top": top, "window": window, "exclude": sorted(exclude),
                              "year_min": year_min, "year_max": year_max,
                              "min_rating": min_rating}
    for i, genre_id in enumerate(genres):
        params[f"genre_{i}"] = genre_id
        params[f"depth_{i}"] = top + int(rng.random() * WINDOW_DEPTH * window)
    statement = _pool_statement(len(genres), bool(exclude), year_min is not None,
                                year_max is not None, min_rating is not None)
    found: dict[int, tuple[float, tuple[int, ...]]] = {}
    parsed: dict[str, tuple[int, ...]] = {}  # films share genre lists: parse each once
    for movie_id, quality, genre_ids in connection.execute(statement, params).all():
        genres = parsed.get(genre_ids)
        if genres is None:
            genres = parsed[genre_ids] = tuple(map(int, genre_ids.split(",")))
        found[movie_id] = (quality, genres)
    return found


def _sample(scored: list[tuple[float, int, int]], count: int,
            rng: random.Random) -> list[tuple[float, int, int]]:
    """Weighted sampling without replacement (Efraimidis-Spirakis keys u ** (1 / score)),
    taking at most ``MAX_GENRE_SHARE`` of the list from one primary genre while others are
    left, then filling up from the rest in key order."""
    keyed = sorted(scored, key=lambda s: math.log(1.0 - rng.random()) / s[0], reverse=True)
    cap = max(1, math.ceil(count * MAX_GENRE_SHARE))
    chosen: list[tuple[float, int, int]] = []
    per_genre: dict[int, int] = {}
    rest = []
    for item in keyed:
        if len(chosen) == count:
            break
        if per_genre.get(item[2], 0) < cap:
            chosen.append(item)
            per_genre[item[2]] = per_genre.get(item[2], 0) + 1
        else:
            rest.append(item)
    chosen += rest[:count - len(chosen)]
    return chosen
