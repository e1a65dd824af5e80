"""Snapshots that a user explicitly chose to keep, to help improve the model.

Nothing is stored unless the user opts in (the web page's checkbox is off by default). Kept
snapshots live in their own folder, apart from the movie database: one image file and one
JSON file (the detected faces and emotions, the time, the browser session) per snapshot,
named by an unguessable id that is also the key to delete it.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from moodreel.files import replaced_on_success

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")
IMAGE_TYPES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png", b"RIFF": ".webp"}


class SnapshotStore:
    """Save, list and delete kept snapshots under ``root`` (created on first save)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def save(self, image: bytes, record: dict[str, Any]) -> str:
        """Store the image bytes as uploaded and ``record`` beside them; returns the id.
        Both appear whole or not at all (each written aside, then renamed; the image is
        removed again if its record cannot be written, since a photo without its record
        could not be listed or deleted). ``OSError`` when the folder cannot take them."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        snapshot_id = secrets.token_urlsafe(16)
        suffix = next((ext for magic, ext in IMAGE_TYPES.items() if image.startswith(magic)),
                      ".img")
        meta = {"id": snapshot_id, "image": snapshot_id + suffix,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **record}
        image_path = self.root / (snapshot_id + suffix)
        _write_atomic(image_path, image)
        try:
            self._write_record(meta)
        except BaseException:
            image_path.unlink(missing_ok=True)
            raise
        return snapshot_id

    def get(self, snapshot_id: str) -> dict[str, Any] | None:
        """The record of a kept snapshot, ``None`` if there is none with that id."""
        if not ID_PATTERN.match(snapshot_id):
            return None
        try:
            return json.loads((self.root / f"{snapshot_id}.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def label(self, snapshot_id: str, emotion: str) -> bool:
        """Record the mood the user says they were in (the manual picker after a kept
        snapshot): the label a dataset made from feedback trusts over the model's reading.
        ``False`` if there is no snapshot with that id."""
        record = self.get(snapshot_id)
        if record is None:
            return False
        record["user_emotion"] = emotion
        self._write_record(record)
        return True

    def delete(self, snapshot_id: str) -> bool:
        """Delete a snapshot and its record; ``False`` if there was none with that id."""
        record = self.get(snapshot_id)
        if record is None:
            return False
        (self.root / record["image"]).unlink(missing_ok=True)
        (self.root / f"{snapshot_id}.json").unlink(missing_ok=True)
        return True

    def records(self) -> list[dict[str, Any]]:
        """Every kept snapshot's record, oldest first."""
        if not self.root.is_dir():
            return []
        found = (self.get(path.stem) for path in self.root.glob("*.json"))
        return sorted((r for r in found if r is not None), key=lambda r: (r["created"], r["id"]))

    def image_path(self, record: dict[str, Any]) -> Path:
        return self.root / record["image"]

    def _write_record(self, record: dict[str, Any]) -> None:
        _write_atomic(self.root / f"{record['id']}.json",
                      json.dumps(record, indent=2, sort_keys=True).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    with replaced_on_success(path, private=True) as temporary:
        temporary.write_bytes(data)
