"""Importers on small files in the real formats: malformed rows are reported with their line
and skipped, quoted titles with commas, missing years and unicode survive, and a second
import updates without adding duplicates."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from moodreel.movies.importers import (
    ImportFormatError,
    import_csv,
    import_imdb,
    import_movielens,
)
from moodreel.movies.models import Genre, Movie, MovieGenre
from moodreel.movies.quality import bayesian_quality
from moodreel.movies.titles import restore_article, split_title_year, title_key

GENERIC_CSV = """\
title,year,genres,rating,votes,imdb_id
"Good, the Bad and the Ugly, The",1966,Western,8.8,800000,tt0060196
Amélie,2001,Comedy|Romance,8.3,780000,
Untitled Project,,Drama,,,
Broken Year,19x9,Drama,,,
Too Many,2000,Drama,1,2,tt1,extra
Bad Rating,2000,Drama,11,5,
"Crouching Tiger, Hidden Dragon",2000,Action|Adventure|Science Fiction,7.9,270000,
"""

MOVIELENS_MOVIES = """\
movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,"Matrix, The (1999)",Action|Sci-Fi|Thriller
3,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Adventure|Drama|Fantasy
4,Hyena Road,(no genres listed)
x,Broken Id (2001),Drama
5,Babylon 5 (1994-1998),Sci-Fi
6,Too Old (1700),Drama
"""
MOVIELENS_LINKS = """\
movieId,imdbId,tmdbId
1,0114709,862
2,0133093,603
3,0112682,
"""
MOVIELENS_RATINGS = """\
userId,movieId,rating,timestamp
1,1,4.0,964982703
2,1,5.0,964982703
1,2,5.0,964982224
1,3,bad,964982224
1,3,3.0
"""

IMDB_BASICS = [
    "tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\tendYear\t"
    "runtimeMinutes\tgenres",
    "tt0000009\tmovie\tMiss Jerry\tMiss Jerry\t0\t1894\t\\N\t45\tRomance",
    "tt0060196\tmovie\tThe Good, the Bad and the Ugly\tIl buono\t0\t1966\t\\N\t178\tWestern",
    "tt0100000\ttvEpisode\tSome Episode\tSome Episode\t0\t1990\t\\N\t30\tDrama",
    "tt0111111\tmovie\tAdults Only\tAdults Only\t1\t1999\t\\N\t90\tAdult",
    "tt0133093\tmovie\tThe Matrix\tThe Matrix\t0\t1999\t\\N\t136\tAction,Sci-Fi",
    "tt0200000\tmovie\tNo Year Yet\tNo Year Yet\t0\t\\N\t\\N\t\\N\t\\N",
    "tt0300000\tmovie\tShort Row",
    "tt0400000\tmovie\tBad Year\tBad Year\t0\tsoon\t\\N\t90\tDrama",
]
IMDB_RATINGS = [
    "tconst\taverageRating\tnumVotes",
    "tt0000009\t5.3\t210",
    "tt0060196\t8.8\t812000",
    "tt0100000\t7.0\t10",
    "tt0133093\t8.7\t2100000",
    "tt0150000\tbad\t5",
]


def write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def movies_by_title(engine: Engine) -> dict[str, Movie]:
    with Session(engine) as session:
        return {movie.title: movie for movie in session.scalars(select(Movie))}


def genres_of(engine: Engine, title: str) -> list[str]:
    with Session(engine) as session:
        return sorted(session.scalars(
            select(Genre.name).join(MovieGenre, MovieGenre.genre_id == Genre.id)
            .join(Movie, Movie.id == MovieGenre.movie_id).where(Movie.title == title)))


def count(engine: Engine, model=Movie) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("text, expected", [
    ("Matrix, The (1999)", ("The Matrix", 1999)),
    ("Toy Story (1995)", ("Toy Story", 1995)),
    ("Hyena Road", ("Hyena Road", None)),
    ("Babylon 5 (1994-1998)", ("Babylon 5", 1994)),
    ("Grand Budapest Hotel, The (2014) ", ("The Grand Budapest Hotel", 2014)),
    ("Avventura, L' (1960)", ("L'Avventura", 1960)),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)",
     ("The City of Lost Children (Cité des enfants perdus, La)", 1995)),
    ("(500) Days of Summer (2009)", ("(500) Days of Summer", 2009)),
])
def test_movielens_title_convention(text: str, expected: tuple[str, int | None]) -> None:
    assert split_title_year(text) == expected


def test_title_key_matches_spellings_of_one_film() -> None:
    assert title_key("Matrix, The") == title_key("The Matrix") == "matrix"
    assert title_key("Amélie") == title_key("Amelie")
    assert title_key("Léon: The Professional") == "leon the professional"
    assert title_key("Die Hard") == "die hard"  # only English articles are dropped
    assert restore_article("Sherlock Jr.") == "Sherlock Jr."


def test_generic_csv_import_and_second_run(engine: Engine, write) -> None:
    path = write("movies.csv", GENERIC_CSV)
    report = import_csv(engine, path)
    assert (report.read, report.inserted, report.updated, report.skipped) == (7, 4, 0, 3)
    assert [line for _, line, _ in report.problems] == [5, 6, 7]
    reasons = " ".join(reason for _, _, reason in report.problems)
    assert "year '19x9'" in reasons and "expected 6 fields, got 7" in reasons
    assert "rating 11 outside 0..10" in reasons
    films = movies_by_title(engine)
    assert set(films) == {"Good, the Bad and the Ugly, The", "Amélie", "Untitled Project",
                          "Crouching Tiger, Hidden Dragon"}
    assert films["Untitled Project"].year is None
    good = films["Good, the Bad and the Ugly, The"]
    assert (good.imdb_id, good.rating, good.votes) == ("tt0060196", 8.8, 800000)
    assert good.quality == pytest.approx(bayesian_quality(8.8, 800000))
    assert genres_of(engine, "Crouching Tiger, Hidden Dragon") == \
        ["Action", "Adventure", "Sci-Fi"]  # alias mapped onto the vocabulary

    again = import_csv(engine, path, batch_size=2)  # several batches this time
    assert (again.inserted, again.updated, again.skipped) == (0, 4, 3)
    assert count(engine) == 4
    assert count(engine, MovieGenre) == 1 + 2 + 1 + 3


def test_generic_csv_updates_keep_what_the_file_leaves_empty(engine: Engine, write) -> None:
    import_csv(engine, write("a.csv", "title,year,genres,rating,votes\n"
                                      "Heat,1995,Crime,8.3,700000\n"))
    import_csv(engine, write("b.csv", "title,year,runtime\nHeat,1995,170\n"))
    heat = movies_by_title(engine)["Heat"]
    assert (heat.runtime, heat.rating, heat.votes) == (170, 8.3, 700000)
    assert genres_of(engine, "Heat") == ["Crime"]


def test_generic_csv_rejects_unknown_columns_and_empty_files(engine: Engine, write) -> None:
    with pytest.raises(ImportFormatError, match="unknown column.*genre\\b"):
        import_csv(engine, write("typo.csv", "title,genre\nHeat,Crime\n"))
    with pytest.raises(ImportFormatError, match="no readable header"):
        import_csv(engine, write("empty.csv", ""))
    with pytest.raises(FileNotFoundError, match="CSV file not found"):
        import_csv(engine, "/nonexistent/movies.csv")


def test_generic_csv_with_bom_and_invalid_utf8(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftitle,year\nGood,2001\n".encode() + b"Bad \xff title,2002\n")
    report = import_csv(engine, path)
    assert (report.inserted, report.skipped) == (1, 1)
    assert report.problems[0][1:] == (3, "title is not valid UTF-8")


def test_generic_csv_skips_titles_with_control_characters(engine: Engine, write) -> None:
    """A NUL would fail the whole batch on PostgreSQL; the row is reported instead."""
    report = import_csv(engine, write("nul.csv", "title,year\nGood,2001\nBad\x00 title,2002\n"))
    assert (report.inserted, report.skipped) == (1, 1)
    assert report.problems[0][1:] == (3, "title holds control characters")


def test_movielens_folder(engine: Engine, write, tmp_path: Path) -> None:
    write("ml/movies.csv", MOVIELENS_MOVIES)
    write("ml/links.csv", MOVIELENS_LINKS)
    write("ml/ratings.csv", MOVIELENS_RATINGS)
    progress: list[int] = []
    report = import_movielens(engine, tmp_path / "ml", progress=progress.append)
    assert (report.read, report.inserted, report.skipped) == (7, 5, 2)
    problems = {(file, line) for file, line, _ in report.problems}
    assert {("movies.csv", 6), ("movies.csv", 8), ("ratings.csv", 5),
            ("ratings.csv", 6)} == problems
    assert sum(progress) == sum(p.stat().st_size for p in (tmp_path / "ml").iterdir())

    films = movies_by_title(engine)
    matrix = films["The Matrix"]
    assert (matrix.year, matrix.imdb_id, matrix.tmdb_id, matrix.movielens_id) == \
        (1999, "tt0133093", 603, 2)
    toy = films["Toy Story"]
    assert (toy.rating, toy.votes) == (9.0, 2)  # mean of 4 and 5 stars, doubled
    assert "The City of Lost Children (Cité des enfants perdus, La)" in films
    assert films["Hyena Road"].year is None
    assert genres_of(engine, "Hyena Road") == []
    assert genres_of(engine, "Toy Story") == ["Adventure", "Animation", "Comedy", "Family",
                                              "Fantasy"]

    again = import_movielens(engine, tmp_path / "ml")
    assert (again.inserted, again.updated) == (0, 5)
    assert count(engine) == 5


def test_movielens_without_optional_files(engine: Engine, write, tmp_path: Path) -> None:
    write("ml/movies.csv", MOVIELENS_MOVIES)
    report = import_movielens(engine, tmp_path / "ml")
    assert report.inserted == 5
    assert movies_by_title(engine)["The Matrix"].rating is None
    with pytest.raises(FileNotFoundError, match="MovieLens folder"):
        import_movielens(engine, tmp_path / "nowhere")


def test_imdb_datasets(engine: Engine, tmp_path: Path) -> None:
    basics = write_gz(tmp_path / "title.basics.tsv.gz", IMDB_BASICS)
    ratings = write_gz(tmp_path / "title.ratings.tsv.gz", IMDB_RATINGS)
    report = import_imdb(engine, basics, ratings)
    assert (report.read, report.inserted, report.ignored, report.skipped) == (8, 4, 2, 2)
    assert {(file, line) for file, line, _ in report.problems} == {
        ("title.basics.tsv.gz", 8), ("title.basics.tsv.gz", 9), ("title.ratings.tsv.gz", 6)}
    films = movies_by_title(engine)
    assert "Some Episode" not in films and "Adults Only" not in films
    matrix = films["The Matrix"]
    assert (matrix.imdb_id, matrix.year, matrix.runtime, matrix.rating, matrix.votes) == \
        ("tt0133093", 1999, 136, 8.7, 2100000)
    assert genres_of(engine, "The Matrix") == ["Action", "Sci-Fi"]
    assert films["No Year Yet"].year is None and films["No Year Yet"].rating is None

    again = import_imdb(engine, basics, ratings)
    assert (again.inserted, again.updated) == (0, 4)


def test_imdb_files_out_of_order_are_refused(engine: Engine, tmp_path: Path) -> None:
    basics = write_gz(tmp_path / "b.tsv.gz", IMDB_BASICS[:1] + IMDB_BASICS[5:6] + IMDB_BASICS[1:2])
    with pytest.raises(ImportFormatError, match="not sorted by tconst"):
        import_imdb(engine, basics)
    with pytest.raises(ImportFormatError, match="expected the header"):
        import_imdb(engine, write_gz(tmp_path / "c.tsv.gz", ["a\tb", "x\ty"]))


def test_sources_merge_into_one_film(engine: Engine, write, tmp_path: Path) -> None:
    """Built-in style row, then MovieLens, then IMDb: one Matrix carrying every id."""
    import_csv(engine, write("builtin.csv", "title,year,genres\nThe Matrix,1999,Action|Sci-Fi\n"
                                            "The Matrix,2099,Drama\n"))
    write("ml/movies.csv", MOVIELENS_MOVIES)
    import_movielens(engine, tmp_path / "ml")
    import_imdb(engine, write_gz(tmp_path / "b.tsv.gz", IMDB_BASICS))
    with Session(engine) as session:
        matrices = session.scalars(select(Movie).where(Movie.title_key == "matrix")
                                   .order_by(Movie.year)).all()
        assert [(m.year, m.imdb_id, m.movielens_id) for m in matrices] == \
            [(1999, "tt0133093", 2), (2099, None, None)]


def test_two_imdb_films_with_one_title_and_year_stay_two(engine: Engine, tmp_path: Path) -> None:
    head = IMDB_BASICS[0]
    basics = write_gz(tmp_path / "b.tsv.gz", [
        head, "tt0000001\tmovie\tHamlet\tHamlet\t0\t1990\t\\N\t100\tDrama",
        "tt0000002\tmovie\tHamlet\tHamlet\t0\t1990\t\\N\t90\tDrama"])
    assert import_imdb(engine, basics).inserted == 2
    assert import_imdb(engine, basics).inserted == 0
    assert count(engine) == 2


def test_imdb_import_streams(engine: Engine, tmp_path: Path) -> None:
    """40,000 rows (6 MB uncompressed) go through in far less memory than the file."""
    rows = [IMDB_BASICS[0]] + [
        f"tt{n:07d}\ttvEpisode\tEpisode {n} of a long-running show with a long title\t"
        f"Episode {n} of a long-running show with a long title\t0\t2000\t\\N\t30\tDrama"
        for n in range(1, 40_001)]
    basics = write_gz(tmp_path / "big.tsv.gz", rows)
    uncompressed = sum(len(row) + 1 for row in rows)
    tracemalloc.start()
    try:
        report = import_imdb(engine, basics)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ignored == 40_000
    assert peak < uncompressed / 4, (peak, uncompressed)


def test_index_copies_follow_every_update(engine: Engine, write) -> None:
    """``movie_genres`` carries copies of quality, year, rating and the genre list: they
    must follow a re-import and an admin's edit by id."""
    from moodreel.movies.upsert import MovieRecord, MovieWriter

    import_csv(engine, write("a.csv", "title,year,genres,rating,votes\n"
                                      "Heat,1995,Crime|Drama,8.0,1000\n"))
    import_csv(engine, write("b.csv", "title,year,rating,votes\nHeat,1995,8.6,90000\n"))
    with Session(engine) as session:
        heat_id = session.scalar(select(Movie.id).where(Movie.title == "Heat"))
    MovieWriter(engine).write([MovieRecord(title="Heat (director's cut)", year=1996,
                                           genres=("Crime", "Thriller"), movie_id=heat_id)])
    with Session(engine) as session:
        movie = session.get(Movie, heat_id)
        links = session.scalars(select(MovieGenre).where(MovieGenre.movie_id == heat_id)).all()
        ids = {name: id_ for name, id_ in session.execute(select(Genre.name, Genre.id))}
    assert (movie.title, movie.year, movie.rating) == ("Heat (director's cut)", 1996, 8.6)
    assert movie.quality == pytest.approx(bayesian_quality(8.6, 90000))
    expected = ",".join(str(i) for i in sorted((ids["Crime"], ids["Thriller"])))
    assert sorted(link.genre_id for link in links) == sorted((ids["Crime"], ids["Thriller"]))
    assert {(link.quality, link.year, link.rating, link.genre_ids) for link in links} == \
        {(movie.quality, 1996, 8.6, expected)}
    with pytest.raises(LookupError, match="no movie with id"):
        MovieWriter(engine).write([MovieRecord(title="Ghost", movie_id=heat_id + 1000)])


def test_each_batch_is_one_transaction(engine: Engine, write,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure in the second batch keeps the first batch and nothing of the second."""
    from moodreel.movies.upsert import MovieWriter

    path = write("four.csv", "title,year,genres\nA,2001,Drama\nB,2002,Drama\n"
                             "C,2003,Drama\nD,2004,Drama\n")
    real_apply, calls = MovieWriter._apply, []

    def failing_apply(self, connection, targets):
        calls.append(len(targets))
        real_apply(self, connection, targets)  # the rows are written, then the batch fails
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(MovieWriter, "_apply", failing_apply)
    with pytest.raises(RuntimeError, match="disk full"):
        import_csv(engine, path, batch_size=2)
    assert sorted(movies_by_title(engine)) == ["A", "B"]
    assert count(engine, MovieGenre) == 2
