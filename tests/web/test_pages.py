"""The pages: they render, work offline (everything served from the package) and carry the
security headers; no inline script, so the Content-Security-Policy can forbid it."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

PAGES = ("/", "/live", "/privacy")


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_with_security_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", PAGES)
def test_pages_use_no_inline_script_and_nothing_from_elsewhere(client: FlaskClient,
                                                               path: str) -> None:
    html = client.get(path).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r"\sstyle=", html), "inline style attribute"
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not url.startswith(("http:", "https:", "//")), f"{url} is not served here"


def test_every_linked_asset_is_served(client: FlaskClient) -> None:
    html = "".join(client.get(path).get_data(as_text=True) for path in PAGES)
    assets = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))
    assert any("bootstrap.min.css" in a for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        response.close()


def test_main_page_offers_camera_upload_picker_and_an_off_by_default_opt_in(
        client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    for element in ('id="camera"', 'id="take-snapshot"', 'id="upload"', 'id="mood-picker"',
                    'id="another-list"', 'name="strategy"', 'value="lift"'):
        assert element in html
    keep = re.search(r'<input[^>]*id="keep-snapshot"[^>]*>', html).group(0)
    assert "checked" not in keep
    for emotion in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"):
        assert f'data-emotion="{emotion}"' in html


def test_unknown_pages_get_an_html_404(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Not Found" in response.get_data(as_text=True)


def test_the_session_cookie_is_http_only(app: Flask) -> None:
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
