"""Recommend latency and import speed of ``moodreel.movies`` on synthetic catalogs.

    python benchmarks/recommend.py                         # 10k, 100k, 1M on SQLite + MariaDB
    python benchmarks/recommend.py --sizes 10000,100000 --backends sqlite --queries 100
    python benchmarks/recommend.py --backends sqlite,mariadb,postgresql --sizes 100000

Prints, per backend and catalog size, all measured in this process on this machine:
  * ``recommend_movies`` latency p50/p95 in ms (a session from the pool, 10 films, random
    moods and strategies, "Another list" sessions of 5 calls whose shown films are
    excluded), plain and with filters (years 1990-2009, rating >= 6); goal p95 <= 20 ms
    at 1M films. Against a baseline that scores every film in SQL and sorts (the naive
    query, timed on ``--baseline-queries`` calls);
  * import rows/s of the generic-CSV importer (batched upserts: first run inserts, second
    run updates) against a baseline that adds films one ORM object at a time.

Server databases are created under a unique name and dropped at the end. The synthetic
catalogs are bulk-inserted (not timed); ratings and votes are random, a fifth of the films
unrated.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Engine, case, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from moodreel.labels import EMOTIONS
from moodreel.movies.catalog import seed_weights
from moodreel.movies.db import create_db_engine, session_scope, upgrade_schema
from moodreel.movies.feedback import current_weights
from moodreel.movies.importers import import_csv
from moodreel.movies.mapping import STRATEGIES, load_mapping
from moodreel.movies.models import Genre, Movie, MovieGenre
from moodreel.movies.mood import mood_probabilities
from moodreel.movies.quality import bayesian_quality
from moodreel.movies.recommender import recommend_movies
from moodreel.movies.titles import title_key
from moodreel.movies.upsert import ensure_genres

ADMIN_URLS = {
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
}
CHUNK = 20_000
#: Relative frequency of each genre in the synthetic catalogs (roughly IMDb's).
GENRE_SHARE = {"Drama": 30, "Comedy": 18, "Action": 8, "Thriller": 8, "Romance": 7,
               "Crime": 6, "Horror": 6, "Documentary": 6, "Adventure": 5, "Family": 3,
               "Mystery": 3, "Fantasy": 3, "Sci-Fi": 3, "Biography": 3, "History": 2,
               "Animation": 2, "Music": 2, "War": 2, "Western": 1, "Musical": 1, "Sport": 1,
               "Film-Noir": 0.3}


@contextlib.contextmanager
def database(backend: str, folder: Path, admin_urls: dict[str, str]) -> Iterator[str]:
    """URL of a new, empty database on ``backend``; dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'bench-{secrets.token_hex(3)}.db'}"
        return
    name = f"moodreel_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_urls[backend], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(admin_urls[backend]).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            force = " WITH (FORCE)" if backend == "postgresql" else ""
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


def new_engine(url: str) -> Engine:
    engine = create_db_engine(url)
    upgrade_schema(engine)
    with session_scope(engine) as session:
        seed_weights(session)
    return engine


def synthetic_rows(n: int, rng: random.Random) -> Iterator[tuple[str, int, list[str],
                                                                float | None, int]]:
    genres, shares = zip(*GENRE_SHARE.items(), strict=True)
    for i in range(n):
        votes = 0 if rng.random() < 0.2 else int(rng.lognormvariate(5, 2))
        rating = round(min(10.0, max(1.0, rng.gauss(6.4, 1.2))), 1) if votes else None
        picked = set(rng.choices(genres, shares, k=rng.choice((1, 2, 2, 3))))
        yield f"Synthetic film {i}", rng.randint(1920, 2024), sorted(picked), rating, votes


def build_catalog(engine: Engine, n: int, seed: int = 0) -> float:
    """Bulk-insert ``n`` synthetic films (ids 1..n); returns seconds taken."""
    started = time.perf_counter()
    rng = random.Random(seed)
    with Session(engine) as session, session.begin():
        genre_ids = ensure_genres(session, list(GENRE_SHARE))
    movies, links = [], []
    with engine.connect() as connection:
        for movie_id, (title, year, genres, rating, votes) in enumerate(
                synthetic_rows(n, rng), start=1):
            quality = bayesian_quality(rating, votes)
            movies.append({"id": movie_id, "title": title, "title_key": title_key(title),
                           "year": year, "rating": rating, "votes": votes,
                           "quality": quality})
            ids = sorted(genre_ids[g] for g in genres)
            links += [{"movie_id": movie_id, "genre_id": genre_id, "quality": quality,
                       "year": year, "rating": rating, "genre_ids": ",".join(map(str, ids))}
                      for genre_id in ids]
            if len(movies) == CHUNK or movie_id == n:
                with connection.begin():
                    connection.execute(insert(Movie), movies)
                    connection.execute(insert(MovieGenre), links)
                movies, links = [], []
        if connection.dialect.name == "postgresql":  # ids were given: move the sequence on
            with connection.begin():
                connection.execute(text("SELECT setval('movies_id_seq', :n)"), {"n": n})
    return time.perf_counter() - started


def random_mood(rng: random.Random) -> dict[str, float]:
    if rng.random() < 0.5:
        return {rng.choice(EMOTIONS): 1.0}
    return mood_probabilities([rng.gammavariate(0.5, 1.0) + 1e-9 for _ in EMOTIONS])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def time_recommend(engine: Engine, queries: int, filters: dict, seed: int) -> list[float]:
    """Milliseconds per call, in "Another list" sessions of 5 calls."""
    rng = random.Random(seed)
    timings: list[float] = []
    while len(timings) < queries:
        mood, strategy, shown = random_mood(rng), rng.choice(STRATEGIES), []
        for _ in range(5):
            started = time.perf_counter()
            with session_scope(engine) as session:
                films = recommend_movies(session, mood, strategy=strategy, exclude=shown,
                                         seed=rng.randrange(2**31), **filters)
            timings.append((time.perf_counter() - started) * 1000)
            shown += [film.movie_id for film in films]
    return timings


def naive_recommend(session: Session, mood: dict[str, float], strategy: str,
                    count: int = 10) -> list[int]:
    """The baseline: score every film in SQL (mean genre fit squared times quality cubed,
    as ``recommend_movies`` does), sort, take the top."""
    weights = current_weights(session, strategy, mood)
    names = dict(session.execute(select(Genre.id, Genre.name)).all())
    fit = {g: sum(p * weights[e].get(g, 0.0) for e, p in mood.items()) for g in names}
    genre_fit = case(fit, value=MovieGenre.genre_id, else_=0.0)
    movie_fit = func.avg(genre_fit)
    quality = func.max(MovieGenre.quality) / 10.0
    score = movie_fit * movie_fit * quality * quality * quality
    rows = session.execute(select(MovieGenre.movie_id).group_by(MovieGenre.movie_id)
                           .order_by(score.desc()).limit(count))
    return [row[0] for row in rows]


def time_naive(engine: Engine, queries: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    timings = []
    for _ in range(queries):
        mood, strategy = random_mood(rng), rng.choice(STRATEGIES)
        started = time.perf_counter()
        with session_scope(engine) as session:
            naive_recommend(session, mood, strategy)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def write_import_csv(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "year", "genres", "rating", "votes", "imdb_id"])
        for i, (title, year, genres, rating, votes) in enumerate(synthetic_rows(n, rng)):
            writer.writerow([title, year, "|".join(genres), "" if rating is None else rating,
                             votes, f"tt{9_000_000 + i:07d}"])


def naive_import(engine: Engine, path: Path, batch: int = 2000) -> int:
    """The baseline importer: one ORM object per film, looked up by IMDb id first."""
    mapping = load_mapping()
    with Session(engine) as session, path.open(encoding="utf-8") as handle:
        genres = {g.name: g for g in session.scalars(select(Genre))}
        rows = 0
        for row in csv.DictReader(handle):
            movie = session.scalar(select(Movie).where(Movie.imdb_id == row["imdb_id"]))
            if movie is None:
                movie = Movie(imdb_id=row["imdb_id"])
                session.add(movie)
            rating = float(row["rating"]) if row["rating"] else None
            movie.title, movie.title_key = row["title"], title_key(row["title"])
            movie.year, movie.rating, movie.votes = int(row["year"]), rating, int(row["votes"])
            movie.quality = bayesian_quality(rating, movie.votes)
            session.flush()
            ids = sorted(genres[mapping.canonical_genre(name)].id
                         for name in row["genres"].split("|"))
            for genre_id in ids:
                session.add(MovieGenre(movie_id=movie.id, genre_id=genre_id,
                                       quality=movie.quality, year=movie.year,
                                       rating=rating, genre_ids=",".join(map(str, ids))))
            rows += 1
            if rows % batch == 0:
                session.commit()
        session.commit()
    return rows


def measure_import(backend: str, folder: Path, admin_urls: dict[str, str],
                   rows: int) -> dict[str, float]:
    path = folder / f"import-{rows}.csv"
    write_import_csv(path, rows, seed=1)
    result = {}
    with database(backend, folder, admin_urls) as url:
        engine = new_engine(url)
        try:
            first = import_csv(engine, path)
            second = import_csv(engine, path)
            assert first.inserted == rows and second.updated == rows, (first, second)
            result["insert"] = rows / first.seconds
            result["update"] = rows / second.seconds
        finally:
            engine.dispose()
    baseline_rows = max(1000, rows // 4)
    baseline_path = folder / f"import-{baseline_rows}.csv"
    write_import_csv(baseline_path, baseline_rows, seed=1)
    with database(backend, folder, admin_urls) as url:
        engine = new_engine(url)
        try:
            started = time.perf_counter()
            naive_import(engine, baseline_path)
            result["baseline"] = baseline_rows / (time.perf_counter() - started)
        finally:
            engine.dispose()
    return result


def report(label: str, timings: list[float]) -> str:
    return (f"{label}: p50 {statistics.median(timings):7.2f} ms  "
            f"p95 {percentile(timings, 0.95):7.2f} ms  ({len(timings)} calls)")


def run(args: argparse.Namespace, say: Callable[[str], None]) -> None:
    admin_urls = {"mariadb": args.mariadb_url, "postgresql": args.postgres_url}
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory(prefix="moodreel-bench-") as tmp:
        folder = Path(tmp)
        for backend in backends:
            if args.import_rows:
                speed = measure_import(backend, folder, admin_urls, args.import_rows)
                say(f"[{backend}] import {args.import_rows} CSV rows: "
                    f"{speed['insert']:,.0f} rows/s inserting, {speed['update']:,.0f} rows/s "
                    f"updating; baseline (one ORM object per row) {speed['baseline']:,.0f} "
                    f"rows/s -> {speed['insert'] / speed['baseline']:.1f}x")
            for size in sizes:
                with database(backend, folder, admin_urls) as url:
                    engine = new_engine(url)
                    try:
                        seconds = build_catalog(engine, size)
                        say(f"[{backend}] {size:,} films built in {seconds:.0f} s")
                        time_recommend(engine, 10, {}, seed=99)  # warm caches and the pool
                        plain = time_recommend(engine, args.queries, {}, seed=1)
                        filtered = time_recommend(
                            engine, args.queries // 2,
                            {"year_min": 1990, "year_max": 2009, "min_rating": 6.0}, seed=2)
                        calls = args.baseline_queries or (5 if size <= 100_000 else 3)
                        naive = time_naive(engine, calls, seed=3)
                    finally:
                        engine.dispose()
                goal = " (goal <= 20 ms)" if size >= 1_000_000 else ""
                say(f"[{backend}] {size:,} films  " + report("recommend", plain) + goal)
                say(f"[{backend}] {size:,} films  " + report("filtered ", filtered))
                speedup = statistics.median(naive) / statistics.median(plain)
                say(f"[{backend}] {size:,} films  " + report("baseline ", naive)
                    + f"  -> recommend is {speedup:,.1f}x faster at p50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="Comma-separated catalog sizes.")
    parser.add_argument("--backends", default="sqlite,mariadb",
                        help="Comma-separated: sqlite, mariadb, postgresql.")
    parser.add_argument("--queries", type=int, default=200, help="Recommend calls per size.")
    parser.add_argument("--baseline-queries", type=int, default=0,
                        help="Naive calls per size (default 5, or 3 from 1M films).")
    parser.add_argument("--import-rows", type=int, default=20_000,
                        help="Rows of the import benchmark (0 skips it).")
    parser.add_argument("--mariadb-url", default=ADMIN_URLS["mariadb"],
                        help="Server URL with rights to create and drop databases.")
    parser.add_argument("--postgres-url", default=ADMIN_URLS["postgresql"])
    args = parser.parse_args()
    run(args, lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
