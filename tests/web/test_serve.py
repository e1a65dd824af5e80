"""``moodreel serve``: the secret key rules, and the checks it makes before starting."""

from __future__ import annotations

import io
import json
import socket
import stat
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from moodreel.cli import cli
from moodreel.web.config import DEV_SECRET_KEY, secret_key_problem
from moodreel.web.server import (
    ServeError,
    choose_secret_key,
    gunicorn_options,
    stored_secret_key,
)
from tests.tcp_proxy import free_port
from tests.web.conftest import ASTRONAUT
from tests.web.serving import serving


def test_weak_or_default_keys_are_named() -> None:
    assert "development key" in secret_key_problem(DEV_SECRET_KEY)
    assert "shorter" in secret_key_problem("short")
    assert "no secret key" in secret_key_problem(None)
    assert secret_key_problem("x" * 40) is None


def test_a_generated_key_is_kept_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret_key"
    first = stored_secret_key(path)
    assert secret_key_problem(first) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored_secret_key(path) == first


def test_a_tampered_key_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("weak\n")
    key = stored_secret_key(path)
    assert key != "weak" and path.read_text().strip() == key


def test_serve_refuses_the_development_key_unless_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODREEL_SECRET_KEY", DEV_SECRET_KEY)
    with pytest.raises(ServeError, match="development key"):
        choose_secret_key(dev=False)
    assert choose_secret_key(dev=True) == DEV_SECRET_KEY


def test_serve_without_configuration_generates_a_key(tmp_path: Path) -> None:
    key = choose_secret_key(dev=False)
    assert (tmp_path / "moodreel-data" / "secret_key").read_text().strip() == key
    assert choose_secret_key(dev=True) is None  # dev mode: the development key


def test_the_serve_command_explains_what_stops_it(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("MOODREEL_SECRET_KEY", "too-short")
    port = ["--port", str(free_port())]  # serve checks its address first: 5000 may be taken
    result = CliRunner().invoke(cli, ["serve", *port])
    assert result.exit_code == 1 and "shorter than 32" in result.output
    monkeypatch.delenv("MOODREEL_SECRET_KEY")
    result = CliRunner().invoke(cli, ["serve", *port, "--model", str(tmp_path / "none.onnx")])
    assert result.exit_code == 1 and "model file not found" in result.output
    result = CliRunner().invoke(cli, ["serve", *port, "--db", "nonsense://"])
    assert result.exit_code == 1 and "cannot use nonsense://" in result.output


def test_serve_says_at_once_when_it_cannot_listen() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "choose another --port" in result.output
    result = CliRunner().invoke(cli, ["serve", "--host", "192.0.2.1"])  # TEST-NET-1
    assert result.exit_code == 1 and "not an address of this machine" in result.output
    result = CliRunner().invoke(cli, ["serve", "--host", "no-such-host.invalid"])
    assert result.exit_code == 1 and "unknown host" in result.output


def test_one_thread_per_worker_runs_the_sync_worker() -> None:
    options = gunicorn_options(host="::1", port=5000, workers=4, threads=1, access_log=False)
    assert options["worker_class"] == "sync" and options["workers"] == 4
    assert options["bind"] == "[::1]:5000" and options["accesslog"] is None
    threaded = gunicorn_options(host="127.0.0.1", port=8080, workers=2, threads=2,
                                access_log=True)
    assert threaded["worker_class"] == "gthread" and threaded["threads"] == 2
    assert threaded["bind"] == "127.0.0.1:8080" and threaded["accesslog"] == "-"


def test_the_serve_master_never_imports_onnx_runtime(tmp_path: Path) -> None:
    """gunicorn forks the workers from the master; a worker forked from a process that has
    imported ONNX Runtime hangs when it exits (``moodreel serve`` then took the whole
    10 s graceful timeout to stop, and a threaded worker aborted)."""
    script = textwrap.dedent(f"""
        import sys
        from moodreel.cli import cli
        from moodreel.web.server import GunicornServer

        def report(self):
            print("onnxruntime imported:", "onnxruntime" in sys.modules)

        GunicornServer.run = report
        cli(["serve", "--port", "{free_port()}", "--db", "sqlite:///{tmp_path / 'movies.db'}"])
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert "onnxruntime imported: False" in result.stdout, result.stdout + result.stderr


@pytest.mark.slow
def test_serve_stops_promptly_after_analysing_a_face(tmp_path: Path) -> None:
    image = FileStorage(io.BytesIO(ASTRONAUT.read_bytes()), "face.jpg", content_type="image/jpeg")
    boundary, body = encode_multipart({"image": image})
    with serving(tmp_path) as server:
        request = urllib.request.Request(
            f"{server.base_url}/api/analyze", data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        stopped_in = server.stop(timeout=30)
    text = server.log.read_text(errors="replace")
    # gunicorn's graceful timeout is 10 s: a worker that hangs at exit is killed only then.
    assert stopped_in < 5, f"took {stopped_in:.1f} s to stop:\n{text[-3000:]}"
    assert "terminate called" not in text and "SIGABRT" not in text, text[-3000:]


def raw_http(base_url: str, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` as it is; the status line, headers and body of the answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in
               (line.partition(":") for line in lines)}
    return status, headers, body


@pytest.mark.slow
def test_requests_gunicorn_refuses_are_answered_in_json(tmp_path: Path) -> None:
    long_query = "/api/recommendations?emotion=sad&exclude=" + "%2C".join(["1234567"] * 500)
    with serving(tmp_path) as server:
        status, _, body = raw_http(server.base_url, f"GET {long_query} HTTP/1.1\r\n"
                                   "Host: x\r\nConnection: close\r\n\r\n".encode())
        assert status.startswith("HTTP/1.1 200"), body  # the page's longest "another list"
        for request, code in (
                (f"GET /api/health?{'x' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n", "414"),
                (f"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: {'y' * 9000}\r\n\r\n",
                 "431"),
                ("NOT HTTP AT ALL\r\n\r\n", "400")):
            status, headers, body = raw_http(server.base_url, request.encode())
            assert status.split()[1] == code, status
            assert headers["content-type"] == "application/json"
            answer = json.loads(body)
            assert set(answer) == {"error", "detail"} and answer["detail"], answer

