"""Reading and checking request options; a bad one is an ``ApiError`` 400 naming it."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from moodreel.labels import EMOTIONS
from moodreel.movies.mapping import STRATEGIES
from moodreel.web.errors import ApiError

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_EXCLUDE = 1000


def bad(name: str, detail: str) -> ApiError:
    return ApiError(400, f"bad {name}", detail)


def boolean(values: dict[str, Any], name: str, default: bool) -> bool:
    value = values.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE | FALSE:
        return text in TRUE
    raise bad(name, f"{name} must be true or false, got {value!r}")


def integer(values: dict[str, Any], name: str, default: int | None, *,
            bounds: tuple[int, int] | None = None) -> int | None:
    value = values.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        number = None
    if number is None or (isinstance(value, float) and not value.is_integer()):
        raise bad(name, f"{name} must be a whole number, got {value!r}")
    if bounds is not None and not bounds[0] <= number <= bounds[1]:
        raise bad(name, f"{name} must be between {bounds[0]} and {bounds[1]}, got {number}")
    return number


def number(values: dict[str, Any], name: str) -> float | None:
    value = values.get(name)
    if value is None or value == "":
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise bad(name, f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(result):
        raise bad(name, f"{name} must be a finite number")
    return result


def strategy(values: dict[str, Any]) -> str:
    value = values.get("strategy") or "match"
    if value not in STRATEGIES:
        raise bad("strategy", f"strategy must be one of {', '.join(STRATEGIES)}, "
                              f"got {value!r}")
    return str(value)


def id_list(values: dict[str, Any], name: str) -> list[int]:
    """Ids as a JSON list or comma-separated text."""
    value = values.get(name)
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    if len(items) > MAX_EXCLUDE:
        raise bad(name, f"{name} takes at most {MAX_EXCLUDE} ids")
    try:
        return [int(item) for item in items if str(item).strip()]
    except (TypeError, ValueError):
        raise bad(name, f"{name} must be movie ids separated by commas") from None


def session_id(values: dict[str, Any]) -> str | None:
    value = values.get("session_id")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not SESSION_ID.match(value):
        raise bad("session_id", "session_id must be 1-64 letters, digits, - or _")
    return value


def mood(values: dict[str, Any]) -> dict[str, float] | list[float]:
    """The mood to recommend for: ``emotion`` (one name) or ``probs`` / ``emotions``
    (a JSON object of emotion -> weight, or 7 or 4 numbers). Checked by the recommender."""
    emotion = values.get("emotion")
    probs = values.get("emotions", values.get("probs"))
    if (emotion is None) == (probs is None):
        raise ApiError(400, "no mood", "give either emotion=<name> (one of "
                                       f"{', '.join(EMOTIONS)}) or probs=<weights>")
    if emotion is not None:
        return {str(emotion).strip().lower(): 1.0}
    if isinstance(probs, str):
        text = probs.strip()
        try:
            probs = json.loads(text) if text[:1] in "{[" else \
                [float(v) for v in text.split(",")]
        except (ValueError, RecursionError):
            raise bad("probs", "probs must be a JSON object like {\"happy\": 0.7, "
                               "\"sad\": 0.3} or 7 (or 4) numbers separated by commas") from None
    if isinstance(probs, dict):
        return {str(k).lower(): v for k, v in probs.items()}
    if isinstance(probs, list):
        return probs
    raise bad("probs", "probs must be an object of emotion weights or a list of numbers")
