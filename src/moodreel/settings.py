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


def snapshot_dir() -> Path:
    """Where snapshots that users chose to keep are stored, apart from everything else:
    ``$MOODREEL_SNAPSHOT_DIR``, else ``data_dir()/snapshots``."""
    if os.environ.get("MOODREEL_SNAPSHOT_DIR"):
        return Path(os.environ["MOODREEL_SNAPSHOT_DIR"])
    return data_dir() / "snapshots"


def secret_key() -> str | None:
    """``$MOODREEL_SECRET_KEY`` (signs the web app's session cookies), if set."""
    return os.environ.get("MOODREEL_SECRET_KEY") or None


def secret_key_file() -> Path:
    """Where ``moodreel serve`` keeps the secret key it generates when none is configured."""
    return data_dir() / "secret_key"


def admin_token() -> str | None:
    """``$MOODREEL_ADMIN_TOKEN``: the web app's admin pages are off unless it is set."""
    return os.environ.get("MOODREEL_ADMIN_TOKEN") or None
