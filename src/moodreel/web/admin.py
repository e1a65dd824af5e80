"""The admin pages: sign in with the token from the configuration, then manage the catalog
and the emotion -> genre weights and read the feedback. Off unless a token is configured.

One blueprint; the pages live in ``admin_movies``, ``admin_weights`` and ``admin_feedback``
as plain views, and the route table below puts every one of them behind the sign-in."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select

from moodreel.movies.catalog import catalog_stats
from moodreel.movies.db import DatabaseError
from moodreel.movies.limits import MAX_INTEGER
from moodreel.movies.models import Genre
from moodreel.web import admin_feedback, admin_movies, admin_weights
from moodreel.web.services import services

log = logging.getLogger(__name__)

admin = Blueprint("admin", __name__, url_prefix="/admin")

SESSION_KEY = "admin"


def admin_token() -> str | None:
    return current_app.config.get("ADMIN_TOKEN") or None


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Admin pages need a signed-in session; without a configured token they do not exist."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if admin_token() is None:
            abort(404)
        if not session.get(SESSION_KEY):
            return redirect(url_for("admin.login", next=request.path))
        return view(*args, **kwargs)

    return guarded


@admin.errorhandler(DatabaseError)
def database_unavailable(error: DatabaseError) -> Any:
    """Any admin page with the database down or unusable: say so (503), no traceback."""
    log.warning("admin page %s without a database: %s", request.path, error)
    return render_template(
        "error.html", status=503, title="Database unavailable",
        detail=f"The movie database cannot be used right now ({error}). Nothing was changed; "
               "try again when it is back."), 503


@admin.route("/login", methods=["GET", "POST"])
def login() -> Any:
    token = admin_token()
    if token is None:
        return render_template("admin/off.html"), 404
    if request.method == "POST":
        given = request.form.get("token", "")
        if hmac.compare_digest(given.encode(), token.encode()):
            session.clear()
            session[SESSION_KEY] = True
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/admin") else url_for("admin.index"))
        flash("Wrong token.", "error")
        return render_template("admin/login.html"), 401
    return render_template("admin/login.html")


@admin.post("/logout")
def logout() -> Any:
    session.pop(SESSION_KEY, None)
    return redirect(url_for("pages.index"))


def index() -> Any:
    """Counts at a glance; with the database down, the snapshot count and a 503 notice."""
    snapshots = len(services().snapshots.records())
    try:
        with services().database.session() as db:
            stats = catalog_stats(db)
            genres = db.scalar(select(func.count(Genre.id)))
    except DatabaseError as error:
        log.warning("admin dashboard without a database: %s", error)
        return render_template("admin/index.html", stats=None, problem=str(error),
                               snapshots=snapshots), 503
    return render_template("admin/index.html", stats=stats, genres=genres, snapshots=snapshots)


#: A film's id in a URL; any other number is not found (rather than sent to the database).
MOVIE_ID = f"<int(min=1, max={MAX_INTEGER}):movie_id>"

ROUTES: list[tuple[str, str, Callable[..., Any], tuple[str, ...]]] = [
    ("/", "index", index, ("GET",)),
    ("/movies", "movies", admin_movies.movie_list, ("GET",)),
    ("/movies/new", "movie_new", admin_movies.movie_new, ("GET", "POST")),
    (f"/movies/{MOVIE_ID}", "movie_edit", admin_movies.movie_edit, ("GET", "POST")),
    (f"/movies/{MOVIE_ID}/delete", "movie_delete", admin_movies.movie_delete, ("GET", "POST")),
    ("/weights", "weights", admin_weights.weights, ("GET", "POST")),
    ("/feedback", "feedback", admin_feedback.feedback, ("GET",)),
]
for rule, endpoint, view, methods in ROUTES:
    admin.add_url_rule(rule, endpoint, admin_required(view), methods=list(methods))
