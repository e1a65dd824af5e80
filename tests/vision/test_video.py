from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from moodreel.cli import cli
from moodreel.labels import EMOTIONS
from moodreel.vision.image import ImageError
from moodreel.vision.video import open_capture


@pytest.fixture
def moving_face_video(tmp_path, astronaut_bgr):
    """20 frames of the astronaut photo panning right by 3 pixels a frame."""
    path = tmp_path / "pan.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (400, 400))
    for i in range(20):
        writer.write(np.ascontiguousarray(astronaut_bgr[20:420, 20 + 3 * i:420 + 3 * i]))
    writer.release()
    return path


def test_video_csv_keeps_one_id_per_face(moving_face_video, tmp_path):
    out = tmp_path / "faces.csv"
    result = CliRunner().invoke(cli, ["video", str(moving_face_video), "--csv", str(out),
                                      "--every", "2"])
    assert result.exit_code == 0, result.output
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["frame", "time_s", "face_id", "x", "y", "w", "h", "top",
                             *EMOTIONS]
    frames = sorted({int(r["frame"]) for r in rows})
    assert frames[:3] == [0, 2, 4]
    assert float(rows[1]["time_s"]) == pytest.approx(0.2, abs=1e-3)  # frame 2 at 10 FPS
    # The astronaut's face (the largest box) keeps one id through the whole clip.
    largest = {}
    for r in rows:
        area = int(r["w"]) * int(r["h"])
        if area > largest.get(r["frame"], (0, None))[0]:
            largest[r["frame"]] = (area, r["face_id"])
    assert len({face_id for _, face_id in largest.values()}) == 1
    assert len(largest) == 10
    for r in rows:
        assert sum(float(r[name]) for name in EMOTIONS) == pytest.approx(1, abs=1e-3)


def test_live_records_an_annotated_video_without_a_display(moving_face_video, tmp_path):
    out = tmp_path / "live.mp4"
    result = CliRunner().invoke(cli, ["live", "--video", str(moving_face_video), "--no-display",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "20 frames" in result.output
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 20
    capture.release()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["video", "{tmp}/missing.mp4", "--csv", "{tmp}/o.csv"], "video file not found"),
        (["video", "{tmp}/notes.mp4", "--csv", "{tmp}/o.csv"], "not a readable video"),
        (["video", "{tmp}/notes.mp4", "--csv", "{tmp}/o.csv", "--every", "0"], "at least 1"),
        (["live", "--no-display"], "--no-display needs --out"),
        (["live", "--camera", "0", "--video", "{tmp}/x.mp4"], "not both"),
    ],
)
def test_bad_video_input_is_a_clear_error(tmp_path, args, message):
    (tmp_path / "notes.mp4").write_text("not a video")
    result = CliRunner().invoke(cli, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_failed_run_leaves_no_csv_behind(moving_face_video, tmp_path):
    from moodreel.vision.recognizer import Recognizer
    from moodreel.vision.video import analyze_stream, open_capture, write_csv

    def stopped_midway(results):
        for n, result in enumerate(results):
            if n == 3:
                raise KeyboardInterrupt
            yield result

    out = tmp_path / "new" / "faces.csv"
    capture = open_capture(str(moving_face_video))
    with pytest.raises(KeyboardInterrupt):
        write_csv(stopped_midway(analyze_stream(capture, Recognizer())), out)
    capture.release()
    assert list(out.parent.iterdir()) == []


def test_a_camera_that_is_not_there_is_one_clear_line(capfd):
    """OpenCV's backends warn on stderr as they give up; our error already says it all."""
    with pytest.raises(ImageError, match="cannot open camera 99"):
        open_capture(99)
    assert "WARN" not in capfd.readouterr().err
