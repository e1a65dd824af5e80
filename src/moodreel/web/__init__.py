"""The web app: webcam snapshot -> emotions -> movies, a live mode, feedback, an admin, and
a JSON API. ``create_app()`` builds it; ``moodreel serve`` runs it under gunicorn."""

from moodreel.web.app import create_app

__all__ = ["create_app"]
