"""End to end: ``moodreel serve`` in a subprocess, driven by a real Chromium with a fake camera.

The camera plays a Y4M video of the astronaut photo (a smiling face), so the whole stack is
checked: getUserMedia, the page's JavaScript, the JSON API under gunicorn, the ONNX model (it
must read "happy") and the SQLite database (feedback is looked up there). Uses Debian's
``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it) and never
downloads a browser. Screenshots go to ``$MOODREEL_TEST_ARTIFACTS``, else
``test-artifacts/e2e/``.

    .venv/bin/python -m pytest tests/web/test_e2e.py
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from moodreel.labels import EMOTIONS
from tests.web.conftest import ASTRONAUT
from tests.web.serving import serving

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 20_000  # for each wait in the browser (a loaded CI machine is slow)
FRAME_SIZE = (640, 480)
MIN_MOVIES = 5
# Report CSP violations as console errors, whatever the browser logs by itself.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (Debian's; browsers are "
                "never downloaded)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")
expect = sync_api.expect


def face_frame() -> np.ndarray:
    """The astronaut photo as a 640x480 BGR camera frame, her face ~190 px wide, centred."""
    photo = cv2.imread(str(ASTRONAUT))
    assert photo is not None, f"cannot read {ASTRONAUT}"
    scale = 2.0  # the face is ~100 px wide in the 512x512 photo
    big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    width, height = FRAME_SIZE
    centre_x, centre_y = int(225 * scale), int(115 * scale)  # the face's centre in the photo
    left = min(max(centre_x - width // 2, 0), big.shape[1] - width)
    top = min(max(centre_y - height // 2, 0), big.shape[0] - height)
    return big[top:top + height, left:left + width]


def write_y4m(path: Path, frame: np.ndarray, count: int = 30, fps: int = 15) -> None:
    """A Y4M video (4:2:0) of ``count`` copies of a BGR frame: Chromium's fake camera input."""
    height, width = frame.shape[:2]
    planes = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()  # Y, then U, then V
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(count):
            out.write(b"FRAME\n")
            out.write(planes)


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("MOODREEL_TEST_ARTIFACTS") or REPO / "test-artifacts" / "e2e")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class Server:
    base_url: str
    database: Path  # its SQLite file


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``moodreel serve`` (gunicorn, one worker) on a free port with its own SQLite file."""
    with serving(tmp_path_factory.mktemp("e2e-server")) as running:
        try:
            yield Server(running.base_url, running.database)
        finally:
            running.stop()
            shutil.copy(running.log, artifacts_dir() / "server.log")


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e-camera") / "astronaut.y4m"
    write_y4m(path, face_frame())
    return path


@pytest.fixture(scope="module")
def browser(camera_video: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-video-capture={camera_video}", "--no-sandbox",
                  "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"])
        yield browser
        browser.close()


class Page:
    """A browser page on the server, with the console errors it logged."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def screenshot(self, name: str) -> None:
        self.page.screenshot(path=str(artifacts_dir() / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["camera"], origin=server.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(CSP_LISTENER)
    wrapped = Page(context.new_page())
    try:
        yield wrapped
    finally:
        wrapped.screenshot(f"{request.node.name}-last")  # the state it ended in, pass or fail
        context.close()


def movie_ids(page: Any) -> list[str]:
    return page.locator("#movies li.movie").evaluate_all(
        "items => items.map((item) => item.dataset.movieId)")


def snapshot_redness(page: Any) -> float:
    """Mean of red minus blue over the snapshot canvas: the heat map is red to yellow."""
    return page.evaluate("""() => {
        const canvas = document.getElementById("snapshot");
        const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        let sum = 0;
        for (let i = 0; i < data.length; i += 4) sum += data[i] - data[i + 2];
        return sum / (data.length / 4);
    }""")


def wait_for_new_list(page: Any, old_item: Any) -> None:
    """Until the list that held ``old_item`` is replaced (the answer alone comes first)."""
    page.wait_for_function("(item) => !item.isConnected", arg=old_item)
    expect(page.locator("#movies li.movie").nth(MIN_MOVIES - 1)).to_be_visible()


def test_snapshot_movies_feedback_and_mood_picker(page: Page, server: Server) -> None:
    p = page.page
    p.goto(f"{server.base_url}/")
    p.click("#start-camera")
    p.wait_for_function("""() => {
        const video = document.getElementById("camera");
        return video.readyState >= 2 && video.videoWidth > 0 && !video.paused;
    }""")
    expect(p.locator("#take-snapshot")).to_be_enabled()
    page.screenshot("snapshot-1-camera")

    p.click("#take-snapshot")
    label = p.locator("#mood-label")
    expect(label).not_to_be_empty()
    assert label.text_content() in EMOTIONS
    expect(label).to_have_text("happy")  # the model, through browser, JPEG and API
    expect(p.locator("#faces .emotion-row")).to_have_count(len(EMOTIONS))
    movies = p.locator("#movies li.movie")
    expect(movies.nth(MIN_MOVIES - 1)).to_be_visible()
    first = movie_ids(p)
    assert len(first) >= MIN_MOVIES and len(set(first)) == len(first)
    page.screenshot("snapshot-2-result")

    # "Why?" paints the face's heat map over the snapshot, and a second click takes it off.
    why_toggle = p.locator("#faces .why-toggle")
    expect(why_toggle).to_have_count(1)
    before = snapshot_redness(p)
    why_toggle.click()
    expect(why_toggle).to_have_attribute("aria-pressed", "true")
    shown_map = snapshot_redness(p)
    # Averaged over the whole canvas: the map covers only the face box (about 5% of it), so
    # +2 is a rise of about 40 within the box; an overlay that paints nothing stays at +0.
    assert shown_map > before + 2, (before, shown_map)
    page.screenshot("snapshot-2-why")
    why_toggle.click()
    expect(why_toggle).to_have_attribute("aria-pressed", "false")
    assert snapshot_redness(p) == before

    shown = movies.first.element_handle()
    with p.expect_response(lambda r: "/api/recommendations" in r.url) as answer:
        p.click("#another-list")
    assert answer.value.ok
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.value.request.url).query)
    assert set(first) <= set(",".join(query.get("exclude", [])).split(",")), \
        "the shown films were not sent as exclude"
    wait_for_new_list(p, shown)
    second = movie_ids(p)
    assert len(second) >= MIN_MOVIES
    assert not set(first) & set(second), "another list repeated films"

    item = movies.first
    movie_id = item.get_attribute("data-movie-id")
    item.locator(".feedback-up").click()
    expect(item).to_have_class(re.compile(r"\bliked\b"))
    why = item.locator(".feedback-why")
    expect(why).to_be_visible()
    reason = "end-to-end test: a good pick"
    why.locator("input").fill(reason)
    why.locator("button[type=submit]").click()
    expect(item.locator(".feedback-thanks")).to_be_visible()
    page.screenshot("snapshot-3-feedback")
    with sqlite3.connect(server.database) as db:
        stored = db.execute("SELECT movie_id, liked FROM feedback WHERE comment = ?",
                            (reason,)).fetchall()
    assert stored == [(int(movie_id), 1)]

    shown = movies.first.element_handle()
    with p.expect_response(lambda r: "/api/recommendations" in r.url) as answer:
        p.click("#mood-picker button[data-emotion=sad]")
    assert answer.value.ok
    expect(label).to_have_text("sad")
    wait_for_new_list(p, shown)
    page.screenshot("snapshot-4-picked-sad")
    assert page.errors == []


def test_live_mode(page: Page, server: Server) -> None:
    p = page.page
    p.goto(f"{server.base_url}/live")
    p.click("#live-start")
    expect(p.locator("#live-faces .live-face").first).to_be_visible()
    expect(p.locator("#live-fps")).not_to_be_empty()
    page.screenshot("live-1-running")
    p.evaluate("window.liveTracks = document.getElementById('live-video').srcObject.getTracks()")

    p.click("#live-stop")
    assert p.evaluate("document.getElementById('live-video').srcObject === null")
    assert p.evaluate("window.liveTracks.every((track) => track.readyState === 'ended')")
    expect(p.locator("#live-start")).to_be_enabled()
    expect(p.locator("#live-fps")).to_be_empty()
    page.screenshot("live-2-stopped")
    assert page.errors == []


def test_upload_photo(page: Page, server: Server, tmp_path: Path) -> None:
    p = page.page
    p.goto(f"{server.base_url}/")
    p.set_input_files("#upload", str(ASTRONAUT))
    expect(p.locator("#mood-label")).to_have_text("happy")
    expect(p.locator("#movies li.movie").nth(MIN_MOVIES - 1)).to_be_visible()
    page.screenshot("upload-1-face")

    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 180, np.uint8))
    p.set_input_files("#upload", str(blank))
    status = p.locator("#status")
    expect(status).to_contain_text("No face found")
    expect(status).to_have_class(re.compile(r"\balert-warning\b"))
    expect(p.locator("#result")).to_be_hidden()
    page.screenshot("upload-2-no-face")
    # The 422 answer is logged by the browser; nothing else may be.
    assert [e for e in page.errors if "status of 422" not in e] == []
