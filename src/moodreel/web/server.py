"""``moodreel serve``: the app under gunicorn, with zero set-up.

Before any worker starts, the master checks that it can listen on the address, prepares the
database once (migrate, seed the built-in catalog: workers must not race to create it), checks
the model, and finds a secret key: the configured one (``$MOODREEL_SECRET_KEY``), else one
generated at the first start and kept in the user data directory (readable by the user only).
The development key is refused unless ``--dev``.
"""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing
import os
import secrets
import socket
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication

from moodreel import settings
from moodreel.web.config import secret_key_problem

log = logging.getLogger(__name__)


class ServeError(Exception):
    """The server cannot start as asked; the message says why."""


def stored_secret_key(path: Path | None = None) -> str:
    """The key kept in ``path`` (default ``settings.secret_key_file()``), created at first use
    with owner-only permissions."""
    path = path or settings.secret_key_file()
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = ""
    if secret_key_problem(key) is None:
        return key
    key = secrets.token_urlsafe(48)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(key + "\n")
    except OSError as error:
        raise ServeError(f"cannot store a secret key in {path}: {error.strerror or error}; "
                         "set MOODREEL_SECRET_KEY instead") from None
    log.info("generated a secret key in %s", path)
    return key


def choose_secret_key(dev: bool) -> str | None:
    """The key to run with; ``None`` means the development key (``--dev`` only)."""
    configured = settings.secret_key()
    if configured is None:
        return None if dev else stored_secret_key()
    problem = secret_key_problem(configured)
    if problem is not None and not dev:
        raise ServeError(f"refusing to serve: {problem} (MOODREEL_SECRET_KEY). Use a long "
                         "random value, e.g. python -c 'import secrets; "
                         "print(secrets.token_urlsafe(48))', or --dev for local development")
    return configured


#: What to do about the usual reasons an address cannot be listened on.
BIND_ADVICE = {
    errno.EADDRINUSE: "another server (perhaps moodreel) is using it; stop it or choose "
                      "another --port",
    errno.EADDRNOTAVAIL: "not an address of this machine; use 127.0.0.1, or 0.0.0.0 for "
                         "every interface",
    errno.EACCES: "ports below 1024 need administrator rights; use e.g. --port 5000",
}


def check_address(host: str, port: int) -> None:
    """Fail at once, with the reason, when ``host:port`` cannot be listened on: gunicorn
    would load everything first, then retry for five seconds with a log line each time.
    The probe binds as gunicorn will: IPv6 for an IPv6 address, else IPv4."""
    family = socket.AF_INET6 if gunicorn_util.is_ipv6(host) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            probe.bind((host, port))
        except socket.gaierror as error:
            raise ServeError(f"cannot listen on {host}:{port}: unknown host "
                             f"({error.strerror})") from None
        except OSError as error:
            advice = BIND_ADVICE.get(error.errno, "")
            raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}"
                             + (f" ({advice})" if advice else "")) from None


def prepare_database(url: str) -> None:
    """Migrate and seed once, in the master. A database that is down is only a warning:
    emotions work without it and movies come back when it does."""
    from moodreel.movies.db import DatabaseUnavailable, init_db

    try:
        report = init_db(url)
    except DatabaseUnavailable as error:
        log.warning("%s; serving emotions only until it answers", error)
        return
    log.info("database %s ready (%s films added)", report["database"], report["movies_added"])


def check_model(path: str | None) -> None:
    """Load the model once, in a short-lived process: a broken model stops ``serve`` with
    its reason before any worker starts. Not in the master itself: workers forked from a
    process that has imported ONNX Runtime (a session is not even needed) hang or abort when
    they exit, so the master never imports it."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pool.submit(_load_model, path).result()  # re-raises ModelError here


def _load_model(path: str | None) -> None:
    from moodreel.vision.classifier import EmotionClassifier

    EmotionClassifier(path)


class GunicornServer(BaseApplication):
    """gunicorn configured in code; each worker builds its own app (and model session)."""

    def __init__(self, app_config: dict[str, Any], options: dict[str, Any]) -> None:
        self.app_config = app_config
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the oldest supported gunicorn
                self.cfg.set(key, value)

    def load(self) -> Any:
        from moodreel.web import create_app

        return create_app(self.app_config)


def serve(*, host: str, port: int, workers: int, threads: int, db_url: str | None,
          model: str | None, dev: bool, access_log: bool) -> None:
    """Run the web app until interrupted."""
    check_address(host, port)
    url = settings.database_url(db_url)
    key = choose_secret_key(dev)
    check_model(model)
    prepare_database(url)
    app_config: dict[str, Any] = {"DATABASE_URL": url, "MODEL_PATH": model}
    if key is not None:
        app_config["SECRET_KEY"] = key
    if dev:
        from moodreel.web import create_app

        create_app(app_config).run(host=host, port=port, debug=True, use_reloader=False)
        return
    GunicornServer(app_config, gunicorn_options(host=host, port=port, workers=workers,
                                                threads=threads, access_log=access_log)).run()


def gunicorn_options(*, host: str, port: int, workers: int, threads: int,
                     access_log: bool) -> dict[str, Any]:
    """gunicorn's settings for ``serve``. One thread per worker runs gunicorn's sync worker,
    as gunicorn itself does: an idle worker takes the next connection from the listening
    socket, so requests are served in the order they came, whereas a threaded worker keeps
    each kept-alive connection and queues behind it: the same requests/s, a shorter tail
    (docs/experiments.md, "Server worker models")."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers, "threads": threads,
        "worker_class": "sync" if threads == 1 else "gthread",
        "timeout": 60, "graceful_timeout": 10, "keepalive": 5,
        "accesslog": "-" if access_log else None, "errorlog": "-", "loglevel": "info",
        "proc_name": "moodreel",
        "control_socket_disable": True,  # no ~/.gunicorn socket: nothing here uses it
        # The page asks for "another list" with up to 500 ids already shown in the query:
        # 5,000 characters and more with a large catalog's 7-digit ids (gunicorn's default
        # is 4,094; 8,190 is its most)
        "limit_request_line": 8190,
        "post_worker_init": answer_unparsable_requests_in_json,
    }


def answer_unparsable_requests_in_json(worker: Any) -> None:
    """In each worker: requests that gunicorn itself refuses before the app sees them (a
    request line or header over its limits, a malformed one) are answered like the app's
    own errors, ``{"error", "detail"}`` in JSON, instead of gunicorn's HTML page. gunicorn
    has no setting for that page; its one writer is ``gunicorn.util.write_error``."""
    gunicorn_util.write_error = write_json_error


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error``'s signature and framing, with a JSON body."""
    body = json.dumps({"error": reason.lower(), "detail": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)
