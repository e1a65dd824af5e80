"""Where moodreel keeps its files and which database it uses: the one place for defaults.

Every setting can be overridden by an environment variable, and commands that take a
``--db`` option pass it down explicitly; nothing here reads files or opens connections.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """``$MOODREEL_DATA_DIR``, else ``$XDG_DATA_HOME/moodreel``, else
    ``~/.local/share/moodreel``."""
    if os.environ.get("MOODREEL_DATA_DIR"):
        return Path(os.environ["MOODREEL_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "moodreel"


def cache_dir() -> Path:
    """``$MOODREEL_CACHE_DIR``, else ``$XDG_CACHE_HOME/moodreel``, else ``~/.cache/moodreel``."""
    if os.environ.get("MOODREEL_CACHE_DIR"):
        return Path(os.environ["MOODREEL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "moodreel"


def database_url(explicit: str | None = None) -> str:
    """``explicit`` (``--db``), else ``$MOODREEL_DATABASE_URL``, else a SQLite file in
    ``data_dir()`` (embedded: works on any laptop with no server)."""
    if explicit:
        return explicit
    if os.environ.get("MOODREEL_DATABASE_URL"):
        return os.environ["MOODREEL_DATABASE_URL"]
    return f"sqlite:///{data_dir() / 'moodreel.db'}"
