"""Helpers for tests that run ``moodreel serve`` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.tcp_proxy import free_port

SERVER_START_TIMEOUT_S = 60


@dataclass
class RunningServer:
    process: subprocess.Popen
    base_url: str
    database: Path
    log: Path

    def stop(self, timeout: float = 15) -> float:
        """SIGTERM, as Ctrl+C or a service manager would; SIGKILL after ``timeout``. Returns
        the seconds it took to exit."""
        started = time.monotonic()
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - started


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[RunningServer]:
    """``moodreel serve`` (gunicorn, one worker) on a free port with its own SQLite file and
    data folder in ``folder``, once ``/api/health`` answers; stopped on leaving if still up."""
    database = folder / "moodreel.db"
    port = free_port()
    env = {**os.environ, "MOODREEL_DATA_DIR": str(folder / "data")}
    for name in ("MOODREEL_DATABASE_URL", "MOODREEL_SECRET_KEY", "MOODREEL_ADMIN_TOKEN"):
        env.pop(name, None)
    log = folder / "server.log"
    command = [sys.executable, "-m", "moodreel", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--db", f"sqlite:///{database}", "--workers", "1"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    server = RunningServer(process, f"http://127.0.0.1:{port}", database, log)
    try:
        wait_for_health(f"{server.base_url}/api/health", process, log)
        yield server
    finally:
        if process.poll() is None:
            server.stop()


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
