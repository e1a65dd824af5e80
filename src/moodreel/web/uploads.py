"""Getting the image bytes out of a request: a multipart file or base64 in JSON."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from flask import Request

from moodreel.web.errors import ApiError

DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(;[\w=.+-]+)*;base64,", re.ASCII)
IMAGE_FIELD = "image"


def request_values(request: Request) -> dict[str, Any]:
    """Options of a request, from the query string, form fields and a JSON body alike."""
    values: dict[str, Any] = dict(request.args.items())
    if request.mimetype == "application/json":
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # nested deeper than Python's decoder goes: not ours either
            body = None
        if not isinstance(body, dict):
            raise ApiError(400, "bad request", "the body is not a JSON object")
        values.update(body)
    else:
        values.update(request.form.items())
    return values


def image_bytes(request: Request, values: dict[str, Any]) -> bytes:
    """The uploaded image's bytes; ``ApiError`` 400 when there is none or it is malformed,
    415 for a body type that cannot carry one."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get(IMAGE_FIELD)
        if upload is None:
            raise ApiError(400, "no image", f"send the photo as the multipart file field "
                                            f"{IMAGE_FIELD!r}")
        return upload.read()
    if request.mimetype == "application/json":
        text = values.get(IMAGE_FIELD)
        if not isinstance(text, str) or not text:
            raise ApiError(400, "no image", f"send the photo as base64 text in the JSON field "
                                            f"{IMAGE_FIELD!r} (a data: URL is fine)")
        return decode_base64(text)
    raise ApiError(415, "unsupported media type",
                   "send multipart/form-data with an image file, or application/json with "
                   "base64 image data")


def decode_base64(text: str) -> bytes:
    match = DATA_URL.match(text)
    if match:
        if match["type"] and not match["type"].startswith("image/"):
            raise ApiError(415, "not an image", f"the data URL holds {match['type']}, "
                                                "not an image")
        text = text[match.end():]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad base64", "the image field is not valid base64") from None
