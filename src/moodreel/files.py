"""Our own files: written whole or not at all, and YAML read with errors that name the file.

Checkpoints, exported models, metrics, video CSVs, kept snapshots and the dataset cache are
all written aside, then renamed over the target, so that a crash, a full disk or Ctrl+C
never leaves a half-written file under the real name, nor the temporary one beside it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


@contextlib.contextmanager
def replaced_on_success(path: str | Path, *, private: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block
    ends without an error, and is removed when it raises. ``private``: the file is created
    readable by its owner only (others get the usual permissions from the writer)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        if private:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_yaml(path: Path, error: type[Exception] = ValueError) -> Any:
    """The YAML document in ``path``; ``error`` naming the file when it is not UTF-8 text or
    not valid YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise error(f"{path}: not a YAML text file (not UTF-8)") from None
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML: {problem}") from None
