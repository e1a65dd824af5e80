"""Helpers for tests that run ``moodreel serve`` in a subprocess."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SERVER_START_TIMEOUT_S = 60


def wait_for_health(url: str, process: subprocess.Popen, log: Path) -> None:
    """Wait until ``url`` answers 200; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moodreel serve exited with {process.returncode}:\n"
                        f"{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    pytest.fail(f"moodreel serve did not answer {url} in {SERVER_START_TIMEOUT_S} s:\n"
                f"{log.read_text(errors='replace')[-4000:]}")
