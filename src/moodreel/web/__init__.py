"""The web app: webcam snapshot -> emotions -> movies, a live mode, feedback, an admin, and
a JSON API. ``create_app()`` builds it; ``moodreel serve`` runs it under gunicorn.

``create_app`` is imported on first use, so ``moodreel --help`` does not load Flask.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from moodreel.web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
