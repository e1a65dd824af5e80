"""Engines, sessions and the schema: one place that knows how to reach the database.

The URL comes from ``moodreel.settings.database_url`` (``--db``, ``$MOODREEL_DATABASE_URL``,
else a SQLite file in the user's data directory). The schema is owned by Alembic: a fresh
database is migrated to head (and seeded) on first use, an older one must be upgraded with
``moodreel db init``; nothing ever creates tables behind the migrations' back.

Errors a caller can act on: ``DatabaseUnavailable`` (server down, file not openable: the web
app answers 503 and recovers when it returns), ``SchemaOutOfDate`` and ``DatabaseError``
(bad URL, missing driver).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from moodreel import settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT_S = 5
DRIVER_HINTS = {
    "mysql": "pip install 'moodreel[mysql]' and use a mysql+pymysql:// URL",
    "mariadb": "pip install 'moodreel[mysql]' and use a mariadb+pymysql:// URL",
    "postgresql": "pip install 'moodreel[postgres]' and use a postgresql+psycopg:// URL",
}


class DatabaseError(Exception):
    """The database cannot be used as configured (bad URL, missing driver)."""


class DatabaseUnavailable(DatabaseError):
    """The database does not answer (server down, file not openable): retry later."""


class SchemaOutOfDate(DatabaseError):
    """The database's schema is not the one this code expects: run ``moodreel db init``."""


def safe_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def create_db_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: ``settings.database_url()``); connects lazily.

    SQLite: the file's folder is created, foreign keys are enforced, WAL lets readers work
    during a write. Servers: a short connect timeout and a ping before reuse, so a restarted
    server is picked up without restarting the app.
    """
    text = settings.database_url(url)
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {text!r} (e.g. sqlite:///movies.db, "
                            "mysql+pymysql://user@host/db, postgresql+psycopg://host/db)"
                            ) from None
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseError(f"cannot create the folder {folder} for the database: "
                                    f"{error.strerror or error}") from None
    elif backend in ("mysql", "mariadb"):
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    elif backend == "postgresql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except (ImportError, ArgumentError) as error:
        hint = DRIVER_HINTS.get(backend, "install its SQLAlchemy driver")
        raise DatabaseError(f"cannot use {safe_url(parsed)}: {error}; {hint}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _unavailable(engine: Engine, error: Exception) -> DatabaseUnavailable:
    reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
    return DatabaseUnavailable(f"cannot reach the database {safe_url(engine.url)}: {reason}")


def connect(engine: Engine) -> Connection:
    """A connection, or ``DatabaseUnavailable`` naming the database and the reason."""
    try:
        return engine.connect()
    except (OperationalError, InterfaceError) as error:
        raise _unavailable(engine, error) from error


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error; a connection that cannot
    be made, or is lost midway, raises ``DatabaseUnavailable``."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            session.connection()
        except (OperationalError, InterfaceError) as error:
            raise _unavailable(engine, error) from error
        try:
            yield session
            session.commit()
        except DBAPIError as error:
            if error.connection_invalidated:
                raise _unavailable(engine, error) from error
            raise


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the package's migrations (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision the models correspond to."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise DatabaseError(f"no migration scripts in {MIGRATIONS_DIR}: broken installation")
    return head


def current_revision(connection: Connection) -> str | None:
    """The database's revision; ``None`` when it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(engine: Engine) -> str:
    """Migrate the database to head (a no-op when it is there); returns the revision."""
    with connect(engine) as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
        return current_revision(connection) or ""


def check_schema(engine: Engine) -> bool:
    """``True`` when the schema is at head, ``False`` for an empty database (nothing to
    lose: the caller may create it); ``SchemaOutOfDate`` otherwise."""
    with connect(engine) as connection:
        revision = current_revision(connection)
        if revision == head_revision():
            return True
        if revision is None and not inspect(connection).has_table("movies"):
            return False
    where = safe_url(engine.url)
    if revision is None:
        raise SchemaOutOfDate(f"{where} has movie tables but no migration history; "
                              "it was not created by moodreel")
    raise SchemaOutOfDate(f"{where} is at schema revision {revision}, this moodreel needs "
                          f"{head_revision()}: run `moodreel db init --db URL` to upgrade")


def prepare(engine: Engine, *, catalog: bool = True) -> dict[str, Any]:
    """Upgrade to head, add missing default weights and, into an empty catalog, the built-in
    films: what ``moodreel db init`` does. Safe to repeat."""
    # Imported here: the catalog uses the importers, which use this module.
    from moodreel.movies.catalog import load_builtin_catalog, seed_weights

    revision = upgrade_schema(engine)
    with session_scope(engine) as session:
        weights_added = seed_weights(session)
    report = load_builtin_catalog(engine) if catalog else None
    return {"database": safe_url(engine.url), "revision": revision,
            "weights_added": weights_added,
            "movies_added": report.inserted if report is not None else 0}


def init_db(url: str | None = None, *, catalog: bool = True) -> dict[str, Any]:
    """``prepare`` the database at ``url`` (created if it is a new SQLite file)."""
    engine = create_db_engine(url)
    try:
        return prepare(engine, catalog=catalog)
    finally:
        engine.dispose()


class MovieDatabase:
    """One engine per process and a once-only schema check: what a long-running app keeps.

    ``session()`` raises ``DatabaseUnavailable`` while the database is down and works again
    when it is back, with no restart. A fresh database is created and seeded on first use.
    """

    def __init__(self, url: str | None = None) -> None:
        self.engine = create_db_engine(url)
        self._ready = False

    @property
    def url(self) -> str:
        return safe_url(self.engine.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        if not self._ready:
            if not check_schema(self.engine):
                log.info("creating the movie database %s", self.url)
                prepare(self.engine)
            self._ready = True
        with session_scope(self.engine) as session:
            yield session

    def is_available(self) -> bool:
        """Whether the database answers now (a health check), without raising."""
        try:
            with connect(self.engine) as connection:
                connection.exec_driver_sql("SELECT 1")
        except DatabaseUnavailable:
            return False
        return True

    def dispose(self) -> None:
        """Close pooled connections (tests, shutdown)."""
        self.engine.dispose()


def new_revision(message: str, url: str) -> None:
    """Write a migration script for the difference between ``models.py`` and the database
    at ``url`` (which must be at head): the developer's way to change the schema."""
    engine = create_db_engine(url)
    try:
        with connect(engine) as connection:
            command.revision(alembic_config(connection), message=message, autogenerate=True)
    finally:
        engine.dispose()
