"""``moodreel db ...`` and ``moodreel recommend`` on every backend: happy paths, summaries,
and bad input answered with a message and a non-zero exit, never a traceback."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from moodreel.cli import cli
from tests.tcp_proxy import free_port


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_user_error(result: Result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert message in result.output


def test_init_stats_recommend(engine: Engine, database_url: str) -> None:
    init = run("db", "init", "--db", database_url)
    assert init.exit_code == 0, init.output
    assert "built-in films" in init.stdout

    stats = run("db", "stats", "--json", "--db", database_url)
    assert stats.exit_code == 0, stats.output
    numbers = json.loads(stats.stdout)
    assert numbers["movies"] >= 400 and numbers["genres"]["Comedy"] > 0
    assert "Drama" in run("db", "stats", "--db", database_url).stdout

    lifted = run("recommend", "--emotion", "sad", "--strategy", "lift", "--json", "--seed", 1,
                 "--db", database_url)
    assert lifted.exit_code == 0, lifted.output
    data = json.loads(lifted.stdout)
    assert data["mood"] == {"sad": 1.0} and len(data["movies"]) == 10
    assert all(film["reason"].endswith("a sad mood") for film in data["movies"])
    assert not {"Horror", "War"} & {g for film in data["movies"] for g in film["genres"]}

    exclude = ",".join(str(film["movie_id"]) for film in data["movies"])
    mixed = run("recommend", "--probs", '{"happy": 0.6, "sad": 0.4}', "--count", 3,
                "--exclude", exclude, "--years", "1980-1999", "--db", database_url)
    assert mixed.exit_code == 0, mixed.output
    lines = mixed.stdout.strip().splitlines()
    assert len(lines) == 3 and all("mood]" in line for line in lines)
    assert not {line.split()[0] for line in lines} & set(exclude.split(","))


def test_import_commands_report_and_stay_idempotent(engine: Engine, database_url: str,
                                                    write, tmp_path) -> None:
    csv_path = write("mine.csv", 'title,year,genres\n"Me, Myself",2001,Comedy\n'
                                 "Broken,20x1,Drama\nOther,2002,Drama\n")
    first = run("db", "import-csv", csv_path, "--db", database_url)
    assert first.exit_code == 0, first.output
    assert "skipped mine.csv line 3: year '20x1' is not a whole number" in first.stderr
    assert "read 3, inserted 2, updated 0, skipped 1" in first.stdout
    second = run("db", "import-csv", csv_path, "--db", database_url, "--json")
    assert json.loads(second.stdout)["updated"] == 2

    write("ml/movies.csv", 'movieId,title,genres\n1,"Matrix, The (1999)",Action|Sci-Fi\n')
    movielens = run("db", "import-movielens", tmp_path / "ml", "--db", database_url)
    assert "read 1, inserted 1" in movielens.stdout, movielens.output

    basics = tmp_path / "basics.tsv.gz"
    with gzip.open(basics, "wt", encoding="utf-8") as handle:
        handle.write("tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\t"
                     "endYear\truntimeMinutes\tgenres\n"
                     "tt0133093\tmovie\tThe Matrix\tThe Matrix\t0\t1999\t\\N\t136\tAction\n"
                     "tt0200001\ttvSeries\tA Show\tA Show\t0\t1999\t\\N\t30\tDrama\n")
    imdb = run("db", "import-imdb", basics, "--db", database_url)
    assert "read 2, inserted 0, updated 1, skipped 0, ignored 1" in imdb.stdout, imdb.output


@pytest.mark.parametrize("args, code, message", [
    (["recommend"], 2, "give --emotion NAME or --probs JSON"),
    (["recommend", "--emotion", "sad", "--probs", "{}"], 2, "one of them"),
    (["recommend", "--emotion", "scared"], 1, "unknown emotion 'scared'"),
    (["recommend", "--probs", "{happy"], 2, "not JSON"),
    (["recommend", "--probs", '"sad"'], 2, "expected a JSON object"),
    (["recommend", "--probs", '{"happy": -1}'], 1, "must be a finite number >= 0"),
    (["recommend", "--emotion", "sad", "--years", "the nineties"], 2, "--years"),
    (["recommend", "--emotion", "sad", "--exclude", "1,two"], 2, "--exclude"),
    (["recommend", "--emotion", "sad", "--count", "0"], 2, "--count"),
    (["recommend", "--emotion", "sad", "--genre", "Cartoons"], 1, "unknown genre"),
    (["db", "import-csv", "/nonexistent.csv"], 1, "CSV file not found"),
    (["db", "import-movielens", "/nonexistent"], 1, "MovieLens folder not found"),
])
def test_bad_input_is_a_message_not_a_traceback(engine: Engine, database_url: str,
                                                args: list[str], code: int,
                                                message: str) -> None:
    assert_user_error(run(*args, "--db", database_url), code, message)


def test_unknown_csv_columns_and_unreachable_servers(write) -> None:
    sqlite_url = f"sqlite:///{write('x.txt', '').parent / 'cli.db'}"
    bad_csv = write("bad.csv", "name,year\nHeat,1995\n")
    assert_user_error(run("db", "import-csv", bad_csv, "--db", sqlite_url), 1,
                      "unknown column(s) name")
    for url in ("mysql+pymysql://root@127.0.0.1:1/nothing",
                "postgresql+psycopg://postgres@127.0.0.1:1/nothing"):
        assert_user_error(run("recommend", "--emotion", "sad", "--db", url), 1,
                          "cannot reach the database")
    assert_user_error(run("db", "stats", "--db", "mysql://x@127.0.0.1/y"), 1,
                      "moodreel[mysql]")


def test_importing_the_cli_stays_cheap() -> None:
    """``moodreel --help`` must not pay for SQLAlchemy, Flask or torch."""
    code = ("import sys, moodreel, moodreel.cli; print(sorted(m for m in "
            "('sqlalchemy', 'alembic', 'torch', 'flask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_default_database_is_a_sqlite_file_created_on_first_use(tmp_path) -> None:
    first = run("recommend", "--emotion", "happy", "--count", 2, "--seed", 5)
    assert first.exit_code == 0, first.output
    assert len(first.stdout.strip().splitlines()) == 2
    assert (tmp_path / "moodreel-data" / "moodreel.db").is_file()
    assert run("recommend", "--emotion", "happy", "--count", 2, "--seed", 5).stdout == \
        first.stdout


def test_commands_say_nothing_of_alembic_internals_unless_verbose() -> None:
    """``serve`` imports the database layer (and so Alembic, which announces its plugins on
    import from 1.16) before it checks its arguments."""
    command = [sys.executable, "-m", "moodreel", "serve", "--port", str(free_port()),
               "--db", "nonsense://"]
    quiet = subprocess.run(command, capture_output=True, text=True)
    assert quiet.returncode == 1 and "nonsense" in quiet.stderr
    assert "alembic" not in quiet.stderr
    verbose = subprocess.run(command[:3] + ["-v"] + command[3:], capture_output=True, text=True)
    assert "setup plugin alembic" in verbose.stderr
