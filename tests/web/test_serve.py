"""``moodreel serve``: the secret key rules, and the checks it makes before starting."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from moodreel.cli import cli
from moodreel.web.config import DEV_SECRET_KEY, secret_key_problem
from moodreel.web.server import ServeError, choose_secret_key, stored_secret_key


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
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1 and "shorter than 32" in result.output
    monkeypatch.delenv("MOODREEL_SECRET_KEY")
    result = CliRunner().invoke(cli, ["serve", "--model", str(tmp_path / "none.onnx")])
    assert result.exit_code == 1 and "model file not found" in result.output
    result = CliRunner().invoke(cli, ["serve", "--db", "nonsense://"])
    assert result.exit_code == 1 and "cannot use nonsense://" in result.output
