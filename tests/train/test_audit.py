"""The bias and robustness audit, end to end on synthetic faces (torch-free)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from moodreel.cli import cli
from moodreel.labels import EMOTIONS
from moodreel.train.audit import audit_faces, write_card_section
from moodreel.train.perturbations import CONDITIONS, dark_glasses, mirror, mouth_mask, rotate
from moodreel.vision.classifier import EmotionClassifier
from tests.synthetic import make_faces


def test_occlusions_cover_the_eyes_or_the_mouth_only() -> None:
    faces = np.full((1, 48, 48), 128, np.uint8)
    glasses = dark_glasses(faces)[0] != 128
    mask = mouth_mask(faces)[0] != 128
    assert glasses[14:22].any() and not glasses[:10].any() and not glasses[30:].any()
    assert mask[34:].any() and not mask[:28].any()
    assert np.array_equal(mirror(mirror(faces)), faces)
    assert rotate(0)(faces).shape == faces.shape


def test_the_audit_reports_every_condition() -> None:
    faces, labels = make_faces(6, seed=3)
    report = audit_faces(EmotionClassifier(), faces, labels)
    assert report["n"] == len(labels) and set(report["conditions"]) == set(CONDITIONS)
    for row in report["conditions"].values():
        assert 0 <= row["accuracy_7"] <= 1 and 0 <= row["agreement_with_clean"] <= 1
        assert sum(row["predicted_share"].values()) == pytest.approx(1)
        assert sum(row["share_shift"].values()) == pytest.approx(0, abs=1e-9)
        assert set(row["share_shift"]) == set(EMOTIONS)
    assert report["conditions"]["mouth mask"]["agreement_with_clean"] < 1


def test_audit_writes_its_section_into_the_card_and_replaces_it(tmp_path, csv_dataset) -> None:
    card = tmp_path / "card.md"
    card.write_text("# Card\n\nintro\n")
    for _ in range(2):
        result = CliRunner().invoke(cli, ["audit", "--data", str(csv_dataset), "--split", "val",
                                          "--card", str(card)])
        assert result.exit_code == 0, result.output
    text = card.read_text()
    assert text.startswith("# Card\n\nintro\n") and text.count("<!-- audit:start -->") == 1
    assert "| dark glasses |" in text and "| mirrored |" in text
    write_card_section(card, "new body")
    assert "new body" in card.read_text() and "| dark glasses |" not in card.read_text()
