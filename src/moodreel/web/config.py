"""The web app's settings: defaults, overridden by the environment (``moodreel.settings``),
overridden by the ``config`` mapping given to ``create_app``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moodreel import settings

#: Used when no secret key is configured: fine for tests and ``--dev``, refused by ``serve``.
DEV_SECRET_KEY = "moodreel-dev-insecure-key"
#: Shortest secret key ``serve`` accepts.
MIN_SECRET_KEY_LENGTH = 32


def build_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Flask config of one app."""
    config: dict[str, Any] = {
        "SECRET_KEY": settings.secret_key() or DEV_SECRET_KEY,
        "DATABASE_URL": settings.database_url(),
        "MODEL_PATH": None,                  # None: the shipped model
        "ADMIN_TOKEN": settings.admin_token(),  # None: admin pages are off
        "SNAPSHOT_DIR": str(settings.snapshot_dir()),
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,  # bytes per request: larger gets 413
        "MAX_IMAGE_PIXELS": 25_000_000,      # checked from the header, before decoding
        "RECOMMEND_COUNT": 10,               # films per list unless the request says
        "UNCERTAIN_BELOW": 0.4,              # a face under this top probability is "not sure"
        "RECOGNIZER_THREADS": 1,             # ONNX Runtime threads per request thread
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "JSON_SORT_KEYS": False,
    }
    config.update(overrides or {})
    return config


def secret_key_problem(key: str | None) -> str | None:
    """Why ``key`` must not sign a production server's cookies, or ``None`` if it may."""
    if not key:
        return "no secret key is configured"
    if key == DEV_SECRET_KEY:
        return "the secret key is the built-in development key"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"the secret key is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    return None
