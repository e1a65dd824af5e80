"""Schema and connections: migrations match the models on every backend, a fresh database is
created on first use, an outdated one is refused, an unreachable one raises
``DatabaseUnavailable`` and the app recovers when the server returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from moodreel.movies.db import (
    DatabaseError,
    DatabaseUnavailable,
    MovieDatabase,
    SchemaOutOfDate,
    check_schema,
    create_db_engine,
    head_revision,
    init_db,
    prepare,
)
from moodreel.movies.models import Base, GenreWeight, Movie
from tests.tcp_proxy import TcpProxy, free_port


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == head_revision()


def test_a_model_change_without_migration_is_detected(engine: Engine) -> None:
    """The drift check above can fail: a column the migrations lack shows up."""
    from sqlalchemy import Column, Integer, MetaData

    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["movies"].append_column(Column("budget", Integer))
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), drifted)
    assert any(op[0] == "add_column" and op[3].name == "budget" for op in diff)


def test_init_creates_seeds_and_is_idempotent(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'movies.db'}"
    first = init_db(url)
    assert first["revision"] == head_revision()
    assert first["movies_added"] >= 400 and first["weights_added"] > 0
    second = init_db(url)
    assert second["movies_added"] == 0 and second["weights_added"] == 0


def test_prepare_keeps_edited_weights(engine: Engine) -> None:
    from sqlalchemy.orm import Session

    with Session(engine) as session, session.begin():
        row = session.scalars(select(GenreWeight).limit(1)).one()
        row.weight, key = 0.123, (row.strategy, row.emotion, row.genre_id)
    report = prepare(engine, catalog=False)
    assert report["weights_added"] == 0
    with Session(engine) as session:
        assert session.get(GenreWeight, key).weight == pytest.approx(0.123)


def test_movie_database_creates_a_fresh_database_on_first_use(tmp_path) -> None:
    database = MovieDatabase(f"sqlite:///{tmp_path / 'first-use.db'}")
    try:
        with database.session() as session:
            assert session.scalar(select(func.count(Movie.id))) >= 400
    finally:
        database.dispose()


def test_an_outdated_schema_is_refused_not_silently_used(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    init_db(url, catalog=False)
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
        with pytest.raises(SchemaOutOfDate, match="moodreel db init"):
            check_schema(engine)
    finally:
        engine.dispose()


def test_tables_without_migration_history_are_refused(tmp_path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'foreign.db'}")
    try:
        Base.metadata.create_all(engine)
        with pytest.raises(SchemaOutOfDate, match="no migration history"):
            check_schema(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("url, message", [
    ("not a url", "not a database URL"),
    ("mysql://root@127.0.0.1/x", "moodreel\\[mysql\\]"),
    ("nosuchdb://", "cannot use"),
])
def test_bad_urls_say_what_to_do(url: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message):
        create_db_engine(url)


def test_a_sqlite_path_that_cannot_be_created_is_a_database_error(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatabaseError, match="cannot create"):
        create_db_engine(f"sqlite:///{tmp_path / 'file' / 'sub' / 'movies.db'}")


def test_no_server_raises_database_unavailable() -> None:
    database = MovieDatabase(f"mysql+pymysql://root@127.0.0.1:{free_port()}/x")
    try:
        with pytest.raises(DatabaseUnavailable, match="cannot reach the database"), \
                database.session():
            pass
    finally:
        database.dispose()


@pytest.fixture(params=("mariadb", "postgresql"))
def proxied_url(request: pytest.FixtureRequest,
                make_database: Callable[[str], str]) -> Iterator[tuple[str, TcpProxy]]:
    """A fresh, initialised server database reached through a ``TcpProxy``."""
    url = make_url(make_database(request.param))
    init_db(url.render_as_string(hide_password=False), catalog=False)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 0))
    proxy.start()
    try:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.stop()


def test_the_app_recovers_when_the_server_returns(proxied_url) -> None:
    url, proxy = proxied_url
    database = MovieDatabase(url)
    try:
        with database.session() as session:
            assert session.scalar(select(func.count(GenreWeight.genre_id))) > 0
        proxy.stop()
        assert not database.is_available()
        with pytest.raises(DatabaseUnavailable), database.session() as session:
            session.scalar(select(func.count(GenreWeight.genre_id)))
        proxy.start()
        assert database.is_available()
        with database.session() as session:
            assert session.scalar(select(func.count(GenreWeight.genre_id))) > 0
    finally:
        database.dispose()
