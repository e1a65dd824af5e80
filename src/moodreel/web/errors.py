"""Errors as the API promises them: JSON ``{"error": ..., "detail": ...}`` with the right
status, for bad input and for anything Flask itself refuses (404, 405, 413) under ``/api``.
Pages get a short HTML page instead."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the API refuses: ``status`` (4xx, or 503), a short ``error`` and a
    ``detail`` sentence that tells the caller what to do."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


def error_response(status: int, error: str, detail: str) -> tuple[Response, int]:
    return jsonify({"error": error, "detail": detail}), status


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Any:
        return error_response(error.status, error.error, error.detail)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        status = error.code or 500
        name = (error.name or "error").lower()
        if _wants_json():
            return error_response(status, name, error.description or name)
        return render_template("error.html", status=status, title=error.name,
                               detail=error.description), status

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        detail = "the server failed on this request; it is logged"
        if _wants_json():
            return error_response(500, "internal error", detail)
        return render_template("error.html", status=500, title="Internal error",
                               detail=detail), 500
