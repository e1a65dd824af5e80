"""The JSON API (``/api``); its contract is ``openapi.yaml``, served at /api/openapi.json."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.orm import Session

from moodreel import __version__
from moodreel.labels import EMOTIONS
from moodreel.movies.db import DatabaseError
from moodreel.movies.feedback import add_feedback_comment, record_feedback
from moodreel.movies.limits import MAX_INTEGER
from moodreel.movies.recommender import MAX_COUNT, recommend_movies
from moodreel.vision.cam import HeatMap
from moodreel.vision.image import ImageError, ImageTooLarge, decode_image
from moodreel.vision.recognizer import Face
from moodreel.web import params
from moodreel.web.analysis import NO_FACE_ADVICE, UNSURE_ADVICE, group_mood
from moodreel.web.errors import ApiError
from moodreel.web.services import services
from moodreel.web.uploads import image_bytes, request_values

OPENAPI = Path(__file__).resolve().parent / "openapi.yaml"

api = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


@contextmanager
def movie_session() -> Iterator[Session]:
    """A database session; the database being down or unusable is a 503 with the reason."""
    try:
        with services().database.session() as session:
            yield session
    except DatabaseError as error:
        raise ApiError(503, "database unavailable",
                       f"movies cannot be recommended right now: {error}") from None


def recommend_options(values: dict[str, Any]) -> dict[str, Any]:
    """The request's options for ``recommend_movies``; ``ApiError`` 400 for a bad one."""
    return {
        "strategy": params.strategy(values),
        "count": params.integer(values, "count", current_app.config["RECOMMEND_COUNT"],
                                bounds=(1, MAX_COUNT)),
        "exclude": params.id_list(values, "exclude"),
        "seed": params.integer(values, "seed", None),
        "genre": values.get("genre") or None,
        "year_min": params.integer(values, "year_min", None),
        "year_max": params.integer(values, "year_max", None),
        "min_rating": params.number(values, "min_rating"),
    }


def recommendations(mood: Any, options: dict[str, Any]) -> list[dict[str, Any]]:
    """Films for ``mood`` (``recommend_options``); ``ApiError`` 400 for bad values the
    recommender finds (an unknown genre, an empty year range)."""
    with movie_session() as session:
        try:
            found = recommend_movies(session, mood, **options)
        except ValueError as error:
            raise ApiError(400, "bad request", str(error)) from None
    return [film.to_dict() for film in found]


@api.post("/analyze")
def analyze() -> Any:
    """Faces and emotions in a photo, the group's mood, and films for it."""
    values = request_values(request)
    want_movies = params.boolean(values, "recommend", True)
    require_face = params.boolean(values, "require_face", True)
    keep = params.boolean(values, "keep", False)
    explain = params.boolean(values, "explain", False)
    session_id = params.session_id(values)
    options = recommend_options(values) if want_movies else None  # before the costly part
    if explain and not services().recognizer.classifier.explains:
        raise ApiError(501, "cannot explain", "the server's model has no class activation maps; "
                                              "export it again with `moodreel export`")
    data = image_bytes(request, values)
    faces, heat_maps = detect_faces(data, explain)
    if not faces and require_face:
        raise ApiError(422, "no face found", NO_FACE_ADVICE)

    uncertain_below = current_app.config["UNCERTAIN_BELOW"]
    group = group_mood(faces, uncertain_below)
    result: dict[str, Any] = {"faces": [face.to_dict() for face in faces], "group": group}
    if group is None:
        result["advice"] = NO_FACE_ADVICE
    elif group["uncertain"]:
        result["advice"] = UNSURE_ADVICE
    if options is not None and group is not None:
        try:
            result["recommendations"] = recommendations(group["emotions"], options)
            result["strategy"] = options["strategy"]
        except ApiError as error:
            if error.status != 503:
                raise
            result["recommendations"] = None
            result["recommendations_error"] = {"error": error.error, "detail": error.detail}
    if keep and faces:
        keep_snapshot(data, result, session_id)
    if heat_maps is not None:  # after keeping: a kept snapshot stores no heat maps
        for entry, heat in zip(result["faces"], heat_maps, strict=True):
            entry["explanation"] = heat.to_dict()
    return jsonify(result)


def keep_snapshot(data: bytes, result: dict[str, Any], session_id: str | None) -> None:
    """Keep the snapshot the user opted to give, adding its id to ``result``; when the
    server cannot store it, ``result`` says so and nothing is kept (the reading stands)."""
    try:
        result["snapshot_id"] = services().snapshots.save(data, {
            "faces": result["faces"], "group": result["group"], "session_id": session_id,
            "strategy": result.get("strategy"),
            "recommended": [film["movie_id"] for film in result.get("recommendations") or []],
            "model": services().model_name})
    except OSError as error:
        log.warning("a snapshot could not be kept: %s", error)
        result["snapshot_error"] = {
            "error": "snapshot not kept",
            "detail": "The server could not store your snapshot, so nothing was kept "
                      f"({error.strerror or error}). Your reading is below."}


def detect_faces(data: bytes, explain: bool) -> tuple[list[Face], list[HeatMap] | None]:
    """The faces in encoded image bytes, and with ``explain`` their heat maps (one model run
    for both): 413 over the pixel limit, 415 if not an image, 422 if too small to hold a
    face."""
    try:
        gray = decode_image(data, max_pixels=current_app.config["MAX_IMAGE_PIXELS"], gray=True)
    except ImageTooLarge as error:
        raise ApiError(413, "image too large", str(error)) from None
    except ImageError as error:
        raise ApiError(415, "not an image", f"{error}; send a JPEG, PNG or WebP photo") from None
    recognizer = services().recognizer
    try:
        if explain:
            return recognizer.analyze_explained(gray)
        return recognizer.analyze(gray), None
    except ImageError as error:
        raise ApiError(422, "no usable face", str(error)) from None


@api.get("/recommendations")
def get_recommendations() -> Any:
    """A new random list of films for a mood given by name or by weights."""
    values = request_values(request)
    mood = params.mood(values)
    options = recommend_options(values)
    return jsonify({"strategy": options["strategy"],
                    "recommendations": recommendations(mood, options)})


@api.post("/feedback")
def feedback() -> Any:
    """A thumbs up or down for a film shown for a mood, with an optional reason."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported media type", "send feedback as application/json")
    values = request_values(request)
    movie_id = params.integer(values, "movie_id", None, bounds=(1, MAX_INTEGER))
    if movie_id is None:
        raise ApiError(400, "bad movie_id", "movie_id is required")
    liked = values.get("liked")
    if not isinstance(liked, bool):
        raise ApiError(400, "bad liked", "liked must be true (thumbs up) or false (down)")
    comment = values.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ApiError(400, "bad comment", "comment must be text")
    mood = params.mood(values)
    strategy = params.strategy(values)
    session_id = params.session_id(values)
    with movie_session() as session:
        try:
            event = record_feedback(session, movie_id, liked, mood, strategy=strategy,
                                    comment=comment, session_id=session_id)
        except LookupError as error:
            raise ApiError(404, "unknown movie", str(error)) from None
        except ValueError as error:
            raise ApiError(400, "bad request", str(error)) from None
        session.flush()
        event_id = event.id
    return jsonify({"id": event_id, "movie_id": movie_id, "liked": liked}), 201


@api.patch("/feedback/<int:feedback_id>")
def feedback_comment(feedback_id: int) -> Any:
    """Add the optional "why" to a thumb given earlier from the same browser session."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported media type", "send the comment as application/json")
    values = request_values(request)
    comment = values.get("comment")
    if not isinstance(comment, str):
        raise ApiError(400, "bad comment", "comment must be text")
    session_id = params.session_id(values)
    if session_id is None:
        raise ApiError(400, "bad session_id", "session_id of the session that gave the "
                                              "thumb is required")
    with movie_session() as session:
        try:
            event = add_feedback_comment(session, feedback_id, session_id, comment)
        except LookupError as error:
            raise ApiError(404, "unknown feedback", str(error)) from None
        result = {"id": event.id, "movie_id": event.movie_id, "comment": event.comment}
    return jsonify(result)


@api.delete("/snapshots/<snapshot_id>")
def delete_snapshot(snapshot_id: str) -> Any:
    """Delete a kept snapshot; its id is the key (only its owner was given it)."""
    if not services().snapshots.delete(snapshot_id):
        raise ApiError(404, "unknown snapshot", "no kept snapshot has this id (already "
                                                "deleted?)")
    return "", 204


@api.patch("/snapshots/<snapshot_id>")
def label_snapshot(snapshot_id: str) -> Any:
    """The user's own mood for a snapshot they kept (from the manual picker)."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported media type", "send the emotion as application/json")
    emotion = request_values(request).get("emotion")
    if emotion not in EMOTIONS:
        raise ApiError(400, "bad emotion", f"emotion must be one of {', '.join(EMOTIONS)}")
    if not services().snapshots.label(snapshot_id, emotion):
        raise ApiError(404, "unknown snapshot", "no kept snapshot has this id (deleted?)")
    return jsonify({"id": snapshot_id, "user_emotion": emotion})


@api.get("/health")
def health() -> Any:
    """Whether the model is loaded and the database answers (emotions work without it)."""
    state = services()
    reachable = state.database.is_available()
    info = state.model_info
    return jsonify({
        "status": "ok" if reachable else "degraded",
        "version": __version__,
        "model": {"loaded": True, "name": state.model_name, "labels": list(info.labels),
                  "input_size": info.preprocessing.size},
        "database": {"reachable": reachable, "url": state.database.url},
    })


@api.get("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    document = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    document["info"]["version"] = __version__
    return document
