"""Shared fixtures: an isolated dataset cache, small synthetic datasets, the real FER-2013."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.synthetic import write_csv_dataset, write_folder_dataset

SHARED_FER2013 = (Path(__file__).resolve().parents[1] / ".." / "shared/data/fer2013").resolve()
#: Database servers the SQL tests also run on; the admin URLs can be moved with
#: ``MOODREEL_TEST_MARIADB_URL`` and ``MOODREEL_TEST_POSTGRES_URL``.
SERVERS = {
    "mariadb": ("MariaDB", os.environ.get("MOODREEL_TEST_MARIADB_URL",
                                          "mysql+pymysql://root@127.0.0.1:3306/test")),
    "postgresql": ("PostgreSQL", os.environ.get("MOODREEL_TEST_POSTGRES_URL",
                                                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")),
}


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the dataset cache at a fresh folder, so no test reads or writes ``~/.cache``."""
    folder = tmp_path / "moodreel-cache"
    monkeypatch.setenv("MOODREEL_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def folder_dataset(tmp_path: Path) -> Path:
    """``train/`` (12 per class) and ``val/`` (4 per class) PNG folders, seed 0."""
    return write_folder_dataset(tmp_path / "fer_folders", n_per_class={"train": 12, "val": 4},
                                splits=("train", "val"))


@pytest.fixture
def csv_dataset(tmp_path: Path) -> Path:
    """A Kaggle-format CSV with 4 faces per class in each of Training/PublicTest/PrivateTest."""
    return write_csv_dataset(tmp_path / "fer2013.csv", n_per_class=4)


@pytest.fixture(scope="session")
def shared_fer2013() -> Path:
    """The real FER-2013 folders in ``../shared/data/fer2013``; skips the test when absent."""
    if not SHARED_FER2013.is_dir():
        pytest.skip(f"FER-2013 not found at {SHARED_FER2013}; see ../shared/data/README.md")
    return SHARED_FER2013


@pytest.fixture(scope="session")
def make_database(tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Callable[[str], str]]:
    """A factory: ``make(backend)`` -> URL of a fresh database: a new SQLite file, or a
    uniquely named database on a server (skips when the server does not answer); server
    databases are dropped at the end."""
    created: list[tuple[str, str]] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'moodreel.db'}"
        label, admin_url = SERVERS[backend]
        name = f"moodreel_test_{secrets.token_hex(4)}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        try:
            with admin.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {name}"))
        except OperationalError as error:
            pytest.skip(f"no {label} server answers at {admin_url}: "
                        f"{str(error.orig).splitlines()[0]}")
        finally:
            admin.dispose()
        created.append((backend, name))
        return make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    yield make
    for backend, name in created:
        admin = create_engine(SERVERS[backend][1], isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            if backend == "postgresql":
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()
