"""``moodreel serve`` and ``moodreel feedback export``."""

from __future__ import annotations

import dataclasses
import json
import os

import click

#: Worker processes (one model copy each): 4 on 2 cores or more, as measured best on 2 cores
#: with benchmarks/web_load.py; one request at a time each (gunicorn's sync worker), which
#: serves requests in the order they came (see ``server.gunicorn_options``).
DEFAULT_WORKERS = max(1, min(4, 2 * (os.cpu_count() or 1)))
DEFAULT_THREADS = 1


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=DEFAULT_WORKERS, show_default=True,
              type=click.IntRange(1, 64), help="Worker processes (one model copy each).")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True, type=click.IntRange(1, 64),
              help="Request threads per worker; 1 runs gunicorn's sync worker (requests "
                   "served in arrival order), more its threaded worker (keeps connections "
                   "alive).")
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
    from moodreel.vision.model_info import ModelError
    from moodreel.web.server import ServeError
    from moodreel.web.server import serve as run_server

    try:
        run_server(host=host, port=port, workers=workers, threads=threads, db_url=db_url,
                   model=model, dev=dev, access_log=access_log)
    except (ServeError, ModelError, DatabaseError) as error:
        raise click.ClickException(str(error)) from None


@click.group("feedback")
def feedback() -> None:
    """What users told the web app: kept snapshots, their moods, likes and reasons."""


@feedback.command("export")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--db", "db_url", metavar="URL", help="Database URL (as for serve).")
@click.option("--snapshots", type=click.Path(file_okay=False),
              help="Kept snapshots folder (default: $MOODREEL_SNAPSHOT_DIR or the data dir).")
@click.option("--labels", type=click.Choice(["all", "user"]), default="all", show_default=True,
              help="user: only faces whose mood the user picked by hand.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def export_feedback(out_dir: str, db_url: str | None, snapshots: str | None, labels: str,
                    as_json: bool) -> None:
    """Write the kept snapshots as a dataset (face crops + faces.csv) to fine-tune on:
    moodreel train --data OUT_DIR --finetune CKPT."""
    from moodreel import settings
    from moodreel.movies.db import DatabaseError, MovieDatabase
    from moodreel.web.feedback_dataset import export_feedback_dataset
    from moodreel.web.snapshots import SnapshotStore

    store = SnapshotStore(snapshots or settings.snapshot_dir())
    try:
        database = MovieDatabase(db_url)
        try:
            report = export_feedback_dataset(out_dir, store, database, labels=labels)
        finally:
            database.dispose()
    except (DatabaseError, FileExistsError, OSError) as error:
        raise click.ClickException(str(error)) from None
    counts = dataclasses.asdict(report)
    if as_json:
        click.echo(json.dumps(counts))
    else:
        click.echo(f"{counts['faces']} faces from {counts['snapshots']} snapshots "
                   f"({counts['user_labelled']} labelled by their user) in {out_dir}"
                   + (f"; {counts['skipped']} unreadable snapshots skipped"
                      if counts["skipped"] else ""))
