"""``replaced_on_success``: the target changes whole or not at all; ``read_yaml``: errors
that name the file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from moodreel.files import read_yaml, replaced_on_success
from tests.bad_files import assert_refuses_bad_yaml


def test_the_target_is_replaced_only_when_the_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "metrics.csv"
    target.write_text("old")
    with replaced_on_success(target) as temporary:
        temporary.write_text("new")
        assert target.read_text() == "old" and temporary.parent == tmp_path
    assert target.read_text() == "new"
    with pytest.raises(KeyboardInterrupt), replaced_on_success(target) as temporary:
        temporary.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]


def test_a_private_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    with replaced_on_success(tmp_path / "face.jpg", private=True) as temporary:
        temporary.write_bytes(b"\xff\xd8\xff")
    assert stat.S_IMODE((tmp_path / "face.jpg").stat().st_mode) == 0o600


def test_yaml_that_is_not_text_or_not_yaml_is_named_in_the_error(tmp_path: Path) -> None:
    class SettingsError(ValueError):
        pass

    assert_refuses_bad_yaml(lambda path: read_yaml(path, SettingsError),
                            tmp_path / "settings.yaml", SettingsError)
    (tmp_path / "settings.yaml").write_text("a: 1\n")
    assert read_yaml(tmp_path / "settings.yaml") == {"a": 1}
