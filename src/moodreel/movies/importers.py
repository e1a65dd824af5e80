"""Catalog importers: MovieLens, IMDb datasets and a generic CSV.

Every importer streams its files (never a whole file in memory), skips malformed rows with
their file and line in the report, writes in batches of one transaction each through
``upsert.MovieWriter`` (a second run updates, never duplicates) and reports progress as
bytes read, so a caller can draw a bar.

MovieLens (a folder from grouplens.org: ml-latest-small, ml-25m, ...)
    ``movies.csv`` (movieId,title,genres; "Matrix, The (1999)", genres separated by ``|``),
    optional ``links.csv`` (movieId,imdbId,tmdbId) and ``ratings.csv``
    (userId,movieId,rating,timestamp; 0.5-5 stars, stored doubled on the 0-10 scale).

IMDb (datasets.imdbws.com)
    ``title.basics.tsv.gz`` and ``title.ratings.tsv.gz``; only ``titleType`` "movie" and
    not adult. Both files are sorted by ``tconst``, as IMDb publishes them, which lets the
    ratings be joined while streaming (a file out of order is refused).

Generic CSV (UTF-8, comma-separated, a header row; column names in any case)
    ``title`` (required), ``year``, ``genres`` (separated by ``|``), ``runtime`` (minutes),
    ``imdb_id`` (tt0133093), ``tmdb_id``, ``movielens_id``, ``rating`` (0-10), ``votes``,
    ``overview``. Any other column is an error, so a typo is not silently ignored.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from moodreel.movies.limits import MAX_INTEGER, has_control_characters
from moodreel.movies.mapping import MoodMapping
from moodreel.movies.titles import split_title_year
from moodreel.movies.upsert import ImportReport, MovieRecord, MovieWriter

BATCH_SIZE = 2000
CSV_COLUMNS = ("title", "year", "genres", "runtime", "imdb_id", "tmdb_id", "movielens_id",
               "rating", "votes", "overview")
IMDB_BASICS_COLUMNS = ("tconst", "titleType", "primaryTitle", "originalTitle", "isAdult",
                       "startYear", "endYear", "runtimeMinutes", "genres")
IMDB_NULL = "\\N"
YEARS = (1870, 2100)

Progress = Callable[[int], None]
#: One data row: (line number, record) or (line number, reason it is malformed) or
#: (line number, None) for a well-formed row that is not for this catalog.
Row = tuple[int, MovieRecord | str | None]

_IMDB_ID = re.compile(r"^tt\d{7,10}$")


class ImportFormatError(ValueError):
    """A file is not in the expected format at all (wrong header, not sorted): nothing
    row-by-row skipping could fix."""


class _Malformed(ValueError):
    pass


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from a file: the progress of a streamed import."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer) or 0  # type: ignore[attr-defined]
        self.count += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Files:
    """The files an import opens, with their combined read position for progress."""

    def __init__(self) -> None:
        self.counters: list[_CountingReader] = []
        self.handles: list[IO[str]] = []

    def open(self, path: Path) -> IO[str]:
        """Text lines of ``path``, gunzipped when it starts with the gzip magic; bytes that
        are not UTF-8 become U+FFFD, which the row checks report."""
        counter = _CountingReader(path.open("rb", buffering=0))
        self.counters.append(counter)
        buffered = io.BufferedReader(counter, buffer_size=1 << 16)
        binary: IO[bytes] = gzip.GzipFile(fileobj=buffered) \
            if buffered.peek(2)[:2] == b"\x1f\x8b" else buffered
        handle = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")
        self.handles.append(handle)
        return handle

    @property
    def position(self) -> int:
        return sum(counter.count for counter in self.counters)

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
        for counter in self.counters:  # GzipFile leaves the file it reads open
            counter.close()


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def _text(value: str, name: str) -> str:
    value = value.strip()
    if "\ufffd" in value:
        raise _Malformed(f"{name} is not valid UTF-8")
    if has_control_characters(value):
        raise _Malformed(f"{name} holds control characters")
    return value


def _number(value: str, name: str, low: float, high: float,
            kind: type[int] | type[float]) -> int | float | None:
    """``value`` parsed as ``kind`` and checked to lie in ``low..high``; None when empty."""
    value = value.strip()
    if value in ("", IMDB_NULL):
        return None
    try:
        number = kind(value)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise _Malformed(f"{name} {value!r} is not {what}") from None
    if not low <= number <= high:
        raise _Malformed(f"{name} {number:g} outside {low:g}..{high:g}")
    return number


def _int(value: str, name: str, low: int, high: int) -> int | None:
    return _number(value, name, low, high, int)  # type: ignore[return-value]


def _float(value: str, name: str, low: float, high: float) -> float | None:
    return _number(value, name, low, high, float)  # type: ignore[return-value]


def _genres(value: str, separator: str) -> tuple[str, ...] | None:
    value = _text(value, "genres")
    if value in ("", IMDB_NULL):
        return None
    return tuple(g.strip() for g in value.split(separator) if g.strip())


def _csv_lines(handle: IO[str]) -> Iterator[tuple[int, list[str] | str]]:
    """(line, fields) per non-blank CSV row, or (line, reason) where the CSV itself is broken
    (an oversized field, say); the row after it is read normally."""
    reader = csv.reader(handle)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield reader.line_num, f"unreadable CSV: {error}"
            continue
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _fields(row: list[str] | str, width: int) -> list[str]:
    """The row's fields, or ``_Malformed`` when the CSV reader failed or the width is wrong."""
    if isinstance(row, str):
        raise _Malformed(row)
    if len(row) != width:
        raise _Malformed(f"expected {width} fields, got {len(row)}")
    return row


def _header(lines: Iterator[tuple[int, list[str] | str]], path: Path,
            required: tuple[str, ...]) -> list[str]:
    first = next(lines, None)
    if first is None or isinstance(first[1], str):
        raise ImportFormatError(f"{path.name} has no readable header row"
                                + (f" with {', '.join(required)}" if required else ""))
    header = [name.strip().lstrip("\ufeff") for name in first[1]]
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFormatError(f"{path.name}: header has no {', '.join(missing)} column "
                                f"(got {', '.join(header)})")
    return header


def run_import(engine: Engine, source: str, rows: Iterator[Row], files: _Files, *,
               batch_size: int = BATCH_SIZE, progress: Progress | None = None,
               mapping: MoodMapping | None = None,
               report: ImportReport | None = None) -> ImportReport:
    """Write ``rows`` in batches, counting and reporting; the loop all importers share."""
    report = report or ImportReport(source)
    writer = MovieWriter(engine, mapping)
    started = time.perf_counter()
    reported = 0
    batch: list[MovieRecord] = []

    def flush() -> None:
        nonlocal reported
        inserted, updated = writer.write(batch)
        report.inserted += inserted
        report.updated += updated
        batch.clear()
        if progress is not None:
            position = files.position
            progress(position - reported)
            reported = position

    try:
        for line, row in rows:
            report.read += 1
            if row is None:
                report.ignored += 1
            elif isinstance(row, str):
                report.skip(source, line, row)
            else:
                batch.append(row)
                if len(batch) >= batch_size:
                    flush()
        flush()
    finally:
        files.close()
    report.seconds = time.perf_counter() - started
    return report


# -- generic CSV -----------------------------------------------------------------------------

def _csv_rows(handle: IO[str], path: Path) -> Iterator[Row]:
    lines = _csv_lines(handle)
    header = [name.lower() for name in _header(lines, path, ())]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown or "title" not in header:
        raise ImportFormatError(
            f"{path.name}: " + (f"unknown column(s) {', '.join(unknown)}; " if unknown else
                                "no title column; ")
            + f"the columns are {', '.join(CSV_COLUMNS)} (title required)")
    for line, row in lines:
        if isinstance(row, str):
            yield line, row
            continue
        if len(row) != len(header):
            yield line, f"expected {len(header)} fields, got {len(row)}"
            continue
        cells = dict(zip(header, row, strict=True))
        try:
            yield line, _csv_record(cells)
        except _Malformed as error:
            yield line, str(error)


def _csv_record(cells: dict[str, str]) -> MovieRecord:
    title = _text(cells["title"], "title")
    if not title:
        raise _Malformed("empty title")
    imdb_id = _text(cells.get("imdb_id", ""), "imdb_id") or None
    if imdb_id is not None and not _IMDB_ID.match(imdb_id):
        raise _Malformed(f"imdb_id {imdb_id!r} is not like tt0133093")
    return MovieRecord(
        title=title,
        year=_int(cells.get("year", ""), "year", *YEARS),
        genres=_genres(cells.get("genres", ""), "|"),
        runtime=_int(cells.get("runtime", ""), "runtime", 1, 100_000),
        imdb_id=imdb_id,
        tmdb_id=_int(cells.get("tmdb_id", ""), "tmdb_id", 1, MAX_INTEGER),
        movielens_id=_int(cells.get("movielens_id", ""), "movielens_id", 1, MAX_INTEGER),
        rating=_float(cells.get("rating", ""), "rating", 0.0, 10.0),
        votes=_int(cells.get("votes", ""), "votes", 0, MAX_INTEGER),
        overview=_text(cells.get("overview", ""), "overview") or None,
    )


def import_csv(engine: Engine, path: str | Path, *, batch_size: int = BATCH_SIZE,
               progress: Progress | None = None,
               mapping: MoodMapping | None = None) -> ImportReport:
    """Import a generic CSV (columns in the module docstring)."""
    path = _existing(path, "CSV file")
    files = _Files()
    rows = _csv_rows(files.open(path), path)
    return run_import(engine, path.name, rows, files, batch_size=batch_size,
                      progress=progress, mapping=mapping)


# -- MovieLens -------------------------------------------------------------------------------

def _movielens_links(handle: IO[str], path: Path, report: ImportReport
                     ) -> dict[int, tuple[str | None, int | None]]:
    lines = _csv_lines(handle)
    header = _header(lines, path, ("movieId", "imdbId", "tmdbId"))
    at = {name: header.index(name) for name in ("movieId", "imdbId", "tmdbId")}
    links: dict[int, tuple[str | None, int | None]] = {}
    for line, row in lines:
        try:
            row = _fields(row, len(header))
            movie_id = _int(row[at["movieId"]], "movieId", 1, MAX_INTEGER)
            imdb_number = _int(row[at["imdbId"]], "imdbId", 1, 10**10 - 1)
            tmdb_id = _int(row[at["tmdbId"]], "tmdbId", 1, MAX_INTEGER)
        except _Malformed as error:
            report.note(path.name, line, str(error))
            continue
        if movie_id is not None:
            links[movie_id] = (None if imdb_number is None else f"tt{imdb_number:07d}", tmdb_id)
    return links


def _movielens_ratings(handle: IO[str], path: Path, report: ImportReport
                       ) -> dict[int, tuple[float, int]]:
    """Average (0-10) and count per movieId, aggregated while streaming (memory grows with
    the number of films, not of ratings)."""
    lines = _csv_lines(handle)
    header = _header(lines, path, ("movieId", "rating"))
    movie_at, rating_at = header.index("movieId"), header.index("rating")
    sums: dict[int, list[float]] = {}
    for line, row in lines:
        try:
            row = _fields(row, len(header))
            movie_id = _int(row[movie_at], "movieId", 1, MAX_INTEGER)
            stars = _float(row[rating_at], "rating", 0.0, 5.0)
        except _Malformed as error:
            report.note(path.name, line, str(error))
            continue
        if movie_id is not None and stars is not None:
            total = sums.setdefault(movie_id, [0.0, 0])
            total[0] += stars
            total[1] += 1
    return {movie_id: (2.0 * total / count, int(count)) for movie_id, (total, count) in
            sums.items()}


def _movielens_rows(handle: IO[str], path: Path,
                    links: dict[int, tuple[str | None, int | None]],
                    ratings: dict[int, tuple[float, int]]) -> Iterator[Row]:
    lines = _csv_lines(handle)
    header = _header(lines, path, ("movieId", "title", "genres"))
    at = {name: header.index(name) for name in ("movieId", "title", "genres")}
    for line, row in lines:
        try:
            row = _fields(row, len(header))
            movie_id = _int(row[at["movieId"]], "movieId", 1, MAX_INTEGER)
            if movie_id is None:
                raise _Malformed("empty movieId")
            title, year = split_title_year(_text(row[at["title"]], "title"))
            if not title:
                raise _Malformed("empty title")
            if year is not None and not YEARS[0] <= year <= YEARS[1]:
                raise _Malformed(f"year {year} outside {YEARS[0]}..{YEARS[1]}")
            genres = _genres(row[at["genres"]], "|")
        except _Malformed as error:
            yield line, str(error)
            continue
        imdb_id, tmdb_id = links.get(movie_id, (None, None))
        rating, votes = ratings.get(movie_id, (None, None))
        yield line, MovieRecord(title=title, year=year, genres=genres, imdb_id=imdb_id,
                                tmdb_id=tmdb_id, movielens_id=movie_id, rating=rating,
                                votes=votes)


def import_movielens(engine: Engine, directory: str | Path, *, batch_size: int = BATCH_SIZE,
                     progress: Progress | None = None,
                     mapping: MoodMapping | None = None) -> ImportReport:
    """Import a MovieLens folder: ``movies.csv``, with ``links.csv`` and ``ratings.csv``
    when present."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MovieLens folder not found: {directory}")
    movies_path = _existing(directory / "movies.csv", "MovieLens movies.csv")
    report = ImportReport(movies_path.name)
    files = _Files()
    try:
        links_path, ratings_path = directory / "links.csv", directory / "ratings.csv"
        links = _movielens_links(files.open(links_path), links_path, report) \
            if links_path.is_file() else {}
        ratings = _movielens_ratings(files.open(ratings_path), ratings_path, report) \
            if ratings_path.is_file() else {}
        rows = _movielens_rows(files.open(movies_path), movies_path, links, ratings)
    except BaseException:
        files.close()
        raise
    return run_import(engine, movies_path.name, rows, files, batch_size=batch_size,
                      progress=progress, mapping=mapping, report=report)


# -- IMDb ------------------------------------------------------------------------------------

def _tsv_lines(handle: IO[str]) -> Iterator[tuple[int, list[str]]]:
    for line_number, line in enumerate(handle, start=1):
        line = line.rstrip("\r\n")
        if line:
            yield line_number, line.split("\t")


def _tconst_number(tconst: str) -> int:
    if not tconst.startswith("tt") or not tconst[2:].isdigit():
        raise _Malformed(f"tconst {tconst!r} is not like tt0133093")
    return int(tconst[2:])


def _imdb_ratings(handle: IO[str], path: Path, report: ImportReport
                  ) -> Iterator[tuple[int, float, int]]:
    """(tconst number, rating, votes) in file order, checked to ascend."""
    lines = _tsv_lines(handle)
    header = next(lines, (0, []))[1]
    if header[:3] != ["tconst", "averageRating", "numVotes"]:
        raise ImportFormatError(f"{path.name}: expected the header "
                                f"tconst, averageRating, numVotes; got {', '.join(header)}")
    previous = -1
    for line, fields in lines:
        try:
            if len(fields) != 3:
                raise _Malformed(f"expected 3 fields, got {len(fields)}")
            number = _tconst_number(fields[0])
            rating = _float(fields[1], "averageRating", 0.0, 10.0)
            votes = _int(fields[2], "numVotes", 0, MAX_INTEGER)
        except _Malformed as error:
            report.note(path.name, line, str(error))
            continue
        if number <= previous:
            raise ImportFormatError(f"{path.name} line {line}: not sorted by tconst; IMDb "
                                    "publishes it sorted and the import relies on that")
        previous = number
        if rating is not None:
            yield number, rating, votes or 0


def _imdb_rows(handle: IO[str], path: Path,
               ratings: Iterator[tuple[int, float, int]]) -> Iterator[Row]:
    lines = _tsv_lines(handle)
    header = next(lines, (0, []))[1]
    if tuple(header) != IMDB_BASICS_COLUMNS:
        raise ImportFormatError(f"{path.name}: expected the header "
                                f"{', '.join(IMDB_BASICS_COLUMNS)}; got {', '.join(header)}")
    pending = next(ratings, None)
    previous = -1
    for line, fields in lines:
        try:
            if len(fields) != len(IMDB_BASICS_COLUMNS):
                raise _Malformed(f"expected {len(IMDB_BASICS_COLUMNS)} fields, "
                                 f"got {len(fields)}")
            number = _tconst_number(fields[0])
        except _Malformed as error:
            yield line, str(error)
            continue
        if number <= previous:
            raise ImportFormatError(f"{path.name} line {line}: not sorted by tconst; IMDb "
                                    "publishes it sorted and the import relies on that")
        previous = number
        while pending is not None and pending[0] < number:
            pending = next(ratings, None)
        if fields[1] != "movie" or fields[4] == "1":
            yield line, None
            continue
        try:
            title = _text(fields[2], "primaryTitle")
            if not title or title == IMDB_NULL:
                raise _Malformed("empty primaryTitle")
            record = MovieRecord(
                title=title, imdb_id=fields[0],
                year=_int(fields[5], "startYear", *YEARS),
                runtime=_int(fields[7], "runtimeMinutes", 1, 100_000),
                genres=_genres(fields[8], ","))
        except _Malformed as error:
            yield line, str(error)
            continue
        if pending is not None and pending[0] == number:
            record.rating, record.votes = pending[1], pending[2]
        yield line, record


def import_imdb(engine: Engine, basics: str | Path, ratings: str | Path | None = None, *,
                batch_size: int = BATCH_SIZE, progress: Progress | None = None,
                mapping: MoodMapping | None = None) -> ImportReport:
    """Import IMDb's ``title.basics.tsv.gz`` (movies only), with the ratings of
    ``title.ratings.tsv.gz`` when given; both streamed side by side."""
    basics = _existing(basics, "IMDb title.basics file")
    ratings_path = _existing(ratings, "IMDb title.ratings file") if ratings else None
    report = ImportReport(basics.name)
    files = _Files()
    try:
        rating_rows = _imdb_ratings(files.open(ratings_path), ratings_path, report) \
            if ratings_path else iter(())
        rows = _imdb_rows(files.open(basics), basics, rating_rows)
    except BaseException:
        files.close()
        raise
    return run_import(engine, basics.name, rows, files, batch_size=batch_size,
                      progress=progress, mapping=mapping, report=report)
