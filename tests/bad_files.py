"""Broken files that our readers must refuse with an error naming the file.

    from tests.bad_files import assert_refuses_bad_yaml
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

#: YAML file contents and the error each must give (``moodreel.files.read_yaml``).
BAD_YAML = [(b"stages: [3\n", "not valid YAML"), (b"stages: \xff\n", "not a YAML text file")]


def assert_refuses_bad_yaml(load: Callable[[Path], Any], path: Path,
                            error: type[Exception]) -> None:
    """``load(path)`` raises ``error`` naming ``path`` for each of ``BAD_YAML``."""
    for content, message in BAD_YAML:
        path.write_bytes(content)
        with pytest.raises(error, match=f"{path.name}: {message}"):
            load(path)
