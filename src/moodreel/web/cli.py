"""``moodreel serve``."""

from __future__ import annotations

import os

import click

DEFAULT_WORKERS = max(1, min(4, os.cpu_count() or 1))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=DEFAULT_WORKERS, show_default=True,
              type=click.IntRange(1, 64), help="Worker processes (one model copy each).")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Request threads per worker.")
@click.option("--db", "db_url", metavar="URL",
              help="Database URL (default: $MOODREEL_DATABASE_URL, else a SQLite file in the "
                   "user data directory).")
@click.option("--model", type=click.Path(dir_okay=False), help="ONNX model (default: shipped).")
@click.option("--dev", is_flag=True, help="Flask's debug server; allows the development key.")
@click.option("--access-log", is_flag=True, help="Log every request (with client addresses).")
def serve(host: str, port: int, workers: int, threads: int, db_url: str | None,
          model: str | None, dev: bool, access_log: bool) -> None:
    """Run the web app: http://HOST:PORT/ (pages), /api (JSON API), /admin.

    Works with no set-up: the built-in catalog in SQLite and the shipped model. Set
    MOODREEL_ADMIN_TOKEN to enable the admin pages, MOODREEL_SECRET_KEY to choose the key
    that signs cookies (else one is generated and kept in the data directory).
    """
    from moodreel.movies.db import DatabaseError
    from moodreel.vision.classifier import ModelError
    from moodreel.web.server import ServeError
    from moodreel.web.server import serve as run_server

    try:
        run_server(host=host, port=port, workers=workers, threads=threads, db_url=db_url,
                   model=model, dev=dev, access_log=access_log)
    except (ServeError, ModelError, DatabaseError) as error:
        raise click.ClickException(str(error)) from None
