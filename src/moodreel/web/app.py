"""The application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from moodreel import __version__
from moodreel.labels import BASIC_EMOTIONS, EMOTIONS
from moodreel.movies.mapping import STRATEGIES
from moodreel.web.config import build_config
from moodreel.web.errors import register_error_handlers
from moodreel.web.security import csrf, install_security
from moodreel.web.services import EXTENSION_KEY, Services


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A moodreel web app. ``config`` overrides ``moodreel.web.config.build_config``'s
    settings (e.g. ``{"DATABASE_URL": ..., "ADMIN_TOKEN": ...}``). Loads the model now, so a
    broken model fails here; the database is opened, created and seeded on first use."""
    from moodreel.web.admin import admin
    from moodreel.web.api import api
    from moodreel.web.pages import pages

    app = Flask(__name__)
    app.config.update(build_config(config))
    app.json.sort_keys = False  # emotions keep their FER order
    if not app.debug:
        logging.getLogger("moodreel").setLevel(logging.INFO)
    app.extensions[EXTENSION_KEY] = Services(app.config)

    install_security(app)
    register_error_handlers(app)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    csrf.exempt(api)
    app.register_blueprint(admin)

    @app.context_processor
    def globals_for_templates() -> dict[str, Any]:
        return {"version": __version__, "emotions": EMOTIONS, "basic_emotions": BASIC_EMOTIONS,
                "strategies": STRATEGIES}

    return app
