"""The admin pages: sign in with the token from the configuration, then manage the catalog
and the emotion -> genre weights and read the feedback. Off unless a token is configured."""

from __future__ import annotations

import hmac
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


@admin.get("/")
@admin_required
def index() -> Any:
    return render_template("admin/index.html")
