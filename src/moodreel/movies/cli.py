"""``moodreel db ...`` and ``moodreel recommend``: the catalog and the recommender from the
shell.

    moodreel db init [--db URL]                     migrate, seed weights and built-in films
    moodreel db import-movielens ml-latest-small/   movies.csv (+ links.csv, ratings.csv)
    moodreel db import-imdb title.basics.tsv.gz title.ratings.tsv.gz
    moodreel db import-csv my_movies.csv            title,year,genres,... (see importers)
    moodreel db stats [--json]
    moodreel recommend --emotion sad --strategy lift --count 10 [--json]
    moodreel recommend --probs '{"happy": 0.6, "sad": 0.4}'

SQLAlchemy is imported inside the commands, so ``moodreel --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from moodreel.movies.upsert import ImportReport

DB_HELP = ("Database URL (default: $MOODREEL_DATABASE_URL, else a SQLite file in the user "
           "data directory).")
PROBLEMS_SHOWN = 20


@contextlib.contextmanager
def movie_errors() -> Iterator[None]:
    """Errors a user can cause (database down, bad URL or file, bad values) become a
    message and exit 1, never a traceback."""
    from moodreel.movies.db import DatabaseError
    from moodreel.movies.mapping import MappingError

    try:
        yield
    except (DatabaseError, MappingError, OSError, LookupError, ValueError) as error:
        raise click.ClickException(str(error)) from None


def _db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--db", "db_url", metavar="URL", help=DB_HELP)(command)


@click.group("db")
def db() -> None:
    """The movie catalog: create, import, inspect."""


@db.command("init")
@_db_option
@click.option("--no-catalog", is_flag=True,
              help="Do not load the built-in films into an empty catalog.")
def init(db_url: str | None, no_catalog: bool) -> None:
    """Create or upgrade the database, add the default weights and, into an empty catalog,
    the built-in films. Safe to repeat."""
    with movie_errors():
        from moodreel.movies.db import init_db

        report = init_db(db_url, catalog=not no_catalog)
    click.echo(f"database {report['database']} at schema revision {report['revision']}: "
               f"{report['movies_added']} built-in films and {report['weights_added']} "
               "weights added")


def _run_import(db_url: str | None, files: list[Path | None], label: str,
                run: Callable[[Any, Callable[[int], None]], ImportReport],
                as_json: bool) -> None:
    """Open (and if new, create) the database, run one importer under a progress bar over
    the bytes of ``files``, print the summary and the first problems."""
    total_bytes = sum(path.stat().st_size for path in files if path and path.is_file())
    with movie_errors():
        from moodreel.movies.db import MovieDatabase

        database = MovieDatabase(db_url)
        try:
            with database.session():  # creates and seeds a fresh database
                pass
            with click.progressbar(length=max(total_bytes, 1), label=label,
                                   file=sys.stderr) as bar:
                report = run(database.engine, bar.update)
        finally:
            database.dispose()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    for file, line, reason in report.problems[:PROBLEMS_SHOWN]:
        click.echo(f"skipped {file} line {line}: {reason}", err=True)
    if len(report.problems) > PROBLEMS_SHOWN:
        click.echo(f"... and {len(report.problems) - PROBLEMS_SHOWN} more problems "
                   "(--json lists them)", err=True)
    click.echo(f"{report.source}: read {report.read}, inserted {report.inserted}, "
               f"updated {report.updated}, skipped {report.skipped}"
               + (f", ignored {report.ignored} (not movies)" if report.ignored else "")
               + f" in {report.seconds:.1f} s")


def _batch_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--batch-size", default=2000, show_default=True,
                        type=click.IntRange(1, 100_000),
                        help="Rows per transaction.")(command)


def _json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the report as JSON, every problem included.")(command)


@db.command("import-movielens")
@click.argument("directory", type=click.Path(path_type=Path))
@_db_option
@_batch_option
@_json_option
def import_movielens_command(directory: Path, db_url: str | None, batch_size: int,
                             as_json: bool) -> None:
    """Import a MovieLens folder (movies.csv, optional links.csv and ratings.csv)."""
    def run(engine: Any, progress: Callable[[int], None]) -> ImportReport:
        from moodreel.movies.importers import import_movielens

        return import_movielens(engine, directory, batch_size=batch_size, progress=progress)

    files = [directory / name for name in ("movies.csv", "links.csv", "ratings.csv")]
    _run_import(db_url, list(files), "MovieLens", run, as_json)


@db.command("import-imdb")
@click.argument("basics", type=click.Path(path_type=Path))
@click.argument("ratings", type=click.Path(path_type=Path), required=False)
@_db_option
@_batch_option
@_json_option
def import_imdb_command(basics: Path, ratings: Path | None, db_url: str | None,
                        batch_size: int, as_json: bool) -> None:
    """Import IMDb's title.basics.tsv.gz (movies only) with title.ratings.tsv.gz."""
    def run(engine: Any, progress: Callable[[int], None]) -> ImportReport:
        from moodreel.movies.importers import import_imdb

        return import_imdb(engine, basics, ratings, batch_size=batch_size, progress=progress)

    _run_import(db_url, [basics, ratings], "IMDb", run, as_json)


@db.command("import-csv")
@click.argument("file", type=click.Path(path_type=Path))
@_db_option
@_batch_option
@_json_option
def import_csv_command(file: Path, db_url: str | None, batch_size: int,
                       as_json: bool) -> None:
    """Import a CSV with a header: title (required), year, genres (a|b), runtime, imdb_id,
    tmdb_id, movielens_id, rating (0-10), votes, overview."""
    def run(engine: Any, progress: Callable[[int], None]) -> ImportReport:
        from moodreel.movies.importers import import_csv

        return import_csv(engine, file, batch_size=batch_size, progress=progress)

    _run_import(db_url, [file], "CSV", run, as_json)


@db.command("stats")
@_db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(db_url: str | None, as_json: bool) -> None:
    """Films, ratings, genres and feedback in the catalog."""
    with movie_errors():
        from moodreel.movies.catalog import catalog_stats
        from moodreel.movies.db import MovieDatabase

        database = MovieDatabase(db_url)
        try:
            with database.session() as session:
                numbers = catalog_stats(session)
        finally:
            database.dispose()
    numbers = {"database": database.url, **numbers}
    if as_json:
        click.echo(json.dumps(numbers, indent=2))
        return
    first, last = numbers["years"]
    click.echo(f"{numbers['database']}: {numbers['movies']} films ({numbers['rated']} rated, "
               f"{numbers['with_imdb_id']} with an IMDb id), years {first}-{last}")
    click.echo("genres: " + ", ".join(f"{name} {n}" for name, n in numbers["genres"].items()))
    click.echo(f"feedback: {numbers['feedback']['likes']} likes, "
               f"{numbers['feedback']['dislikes']} dislikes")


def _parse_years(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    first, sep, last = text.partition("-")
    try:
        low = int(first) if first.strip() else None
        high = (int(last) if last.strip() else None) if sep else low
    except ValueError:
        raise click.BadParameter("expected YEAR, FROM-TO, FROM- or -TO, e.g. 1990-1999",
                                 param_hint="--years") from None
    return low, high


def _parse_mood(emotion: str | None, probs: str | None) -> dict[str, float]:
    if (emotion is None) == (probs is None):
        raise click.UsageError("give --emotion NAME or --probs JSON (one of them)")
    if emotion is not None:
        return {emotion: 1.0}
    try:
        value = json.loads(probs or "")
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON ({error.msg}); e.g. '{{\"happy\": 0.6, "
                                 f"\"sad\": 0.4}}'", param_hint="--probs") from None
    if not isinstance(value, dict | list):
        raise click.BadParameter("expected a JSON object {emotion: probability} or a list of "
                                 "7 or 4 numbers", param_hint="--probs")
    return value


@click.command("recommend")
@click.option("--emotion", help="One emotion: angry, disgust, fear, happy, sad, surprise, "
                                "neutral.")
@click.option("--probs", help='Probabilities as JSON, e.g. \'{"happy": 0.6, "sad": 0.4}\' '
                              "or a list of 7 (FER order) or 4 (happy, sad, neutral, angry).")
@click.option("--strategy", type=click.Choice(["match", "lift"]), default="match",
              show_default=True, help="Fit the mood, or move it towards better.")
@click.option("--count", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--genre", help="Only films of this genre.")
@click.option("--years", help="Year or range: 1995, 1990-1999, 2000-, -1970.")
@click.option("--min-rating", type=click.FloatRange(0, 10), help="Minimum rating (0-10).")
@click.option("--exclude", help="Comma-separated film ids already seen.")
@click.option("--seed", type=int, help="Same seed, same list (default: a new list each time).")
@click.option("--no-learning", is_flag=True, help="Ignore what feedback has taught.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_db_option
def recommend(emotion: str | None, probs: str | None, strategy: str, count: int,
              genre: str | None, years: str | None, min_rating: float | None,
              exclude: str | None, seed: int | None, no_learning: bool, as_json: bool,
              db_url: str | None) -> None:
    """Films for a mood, each with the reason it was picked."""
    raw_mood = _parse_mood(emotion, probs)
    year_min, year_max = _parse_years(years)
    try:
        excluded = {int(part) for part in (exclude or "").split(",") if part.strip()}
    except ValueError:
        raise click.BadParameter("expected film ids separated by commas",
                                 param_hint="--exclude") from None
    with movie_errors():
        from moodreel.movies.db import MovieDatabase
        from moodreel.movies.mood import mood_probabilities
        from moodreel.movies.recommender import recommend_movies

        mood = mood_probabilities(raw_mood)
        database = MovieDatabase(db_url)
        try:
            with database.session() as session:
                films = recommend_movies(
                    session, mood, strategy=strategy, count=count, exclude=excluded,
                    genre=genre, year_min=year_min, year_max=year_max, min_rating=min_rating,
                    seed=seed, learning=not no_learning)
        finally:
            database.dispose()
    if as_json:
        click.echo(json.dumps({"mood": mood, "strategy": strategy,
                               "movies": [film.to_dict() for film in films]}, indent=2))
        return
    if not films:
        click.echo("no films match; try fewer filters or import a larger catalog")
        return
    for film in films:
        year = f" ({film.year})" if film.year else ""
        rating = f"  {film.rating:.1f}/10" if film.rating is not None else ""
        click.echo(f"{film.movie_id:>8}  {film.title}{year}{rating}  [{film.reason}]")
