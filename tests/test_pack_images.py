"""tools/pack_images.py: JPEG trees packed for a lent GPU come back byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

TOOL = Path(__file__).resolve().parents[1] / "tools" / "pack_images.py"


def run_tool(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True,
                          text=True, timeout=60)


def write_tree(root: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    files = {}
    for i, name in enumerate(["train/happy/a.jpg", "train/sad/b.jpg", "val/happy/c.jpeg",
                              "val/angry/d.jpg"]):
        quality = 90 if i < 3 else 60  # a second encoder setting: a second header
        ok, data = cv2.imencode(".jpg", rng.integers(0, 256, (48, 48), dtype=np.uint8),
                                [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.tobytes())
        files[name] = data.tobytes()
    (root / "train" / "notes.txt").write_text("not an image")
    return files


def test_a_tree_comes_back_byte_for_byte_with_shared_headers_stored_once(tmp_path):
    files = write_tree(tmp_path / "src")
    packed = run_tool("pack", tmp_path / "src", tmp_path / "pack.npz")
    assert packed.returncode == 0, packed.stderr
    assert "4 files, 2 distinct header(s)" in packed.stdout
    with np.load(tmp_path / "pack.npz") as archive:
        assert archive["bodies"].size < sum(len(data) for data in files.values()) - 2 * 300
    unpacked = run_tool("unpack", tmp_path / "pack.npz", tmp_path / "out")
    assert unpacked.returncode == 0, unpacked.stderr
    found = {p.relative_to(tmp_path / "out").as_posix(): p.read_bytes()
             for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert found == files


def test_a_damaged_pack_is_refused(tmp_path):
    write_tree(tmp_path / "src")
    assert run_tool("pack", tmp_path / "src", tmp_path / "pack.npz").returncode == 0
    with np.load(tmp_path / "pack.npz") as archive:
        parts = dict(archive)
    parts["bodies"] = parts["bodies"].copy()
    parts["bodies"][100] ^= 0xFF
    np.savez(tmp_path / "damaged.npz", **parts)
    result = run_tool("unpack", tmp_path / "damaged.npz", tmp_path / "out")
    assert result.returncode != 0
    assert "does not unpack to the bytes packed" in result.stderr


def test_a_folder_without_jpeg_files_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_tool("pack", tmp_path / "empty", tmp_path / "pack.npz")
    assert result.returncode != 0
    assert "no JPEG files" in result.stderr
    assert not (tmp_path / "pack.npz").exists()
