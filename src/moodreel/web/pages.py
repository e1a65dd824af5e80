"""The pages people use: the snapshot page, live mode, and what happens to their data."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

pages = Blueprint("pages", __name__)


@pages.get("/")
def index() -> Any:
    return render_template("index.html", count=current_app.config["RECOMMEND_COUNT"])


@pages.get("/live")
def live() -> Any:
    return render_template("live.html")


@pages.get("/privacy")
def privacy() -> Any:
    return render_template("privacy.html")
